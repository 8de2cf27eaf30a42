// Internal: a process's part of the row order of a fit across processes.  One process holds
// the whole order of its n rows (Trainer::split_rows, Trainer::set_epoch_order); across
// processes that would be 8 bytes per row of the whole fit on every process, more than its
// share of the data itself when the features are few.  Here each process lists only its own
// rows in the order the whole order has them (permutation.hpp's shuffle_part, run on its
// rows' positions), keyed by the start of the batch they fall in (backend.hpp's RowOrder):
// O(its rows) memory.  From kShareShuffleFrom processes on they share the shuffle's work
// (shuffle_part across a Team, shuffle_across.cpp): O(n / P) time a process an epoch.  The entries of a batch
// come in the whole order's order of that batch, so every pass sums the rows in the same
// order as on one process: the same bits.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "backend/index_vector.hpp"

namespace steepest::detail {

class Team;

/// The two buffers of shuffle_part across processes (each about 8 bytes per entry of the
/// process's share, each serving several steps in turn), kept from one epoch to the next
/// so that an epoch's order touches no fresh pages.
struct ShuffleScratch {
  WordVector a, b;
  bool wide_records = false;  // two-word records whatever the sizes (tests)
};

/// The process count from which shuffle_part across processes shares the shuffle's work.
/// Below it each process replays the shuffle (O(n) each): with the work shared a process
/// does about 35 ns an entry of its share plus the messages, against about 11 ns an entry
/// of its share and 11 an entry of the others' when replaying (2-core VM, one thread a
/// process; bench_mpi's order_shared_s and order_replayed_s, bench/results).
inline constexpr int kShareShuffleFrom = 4;

/// shuffle_part (permutation.hpp) with the work divided between the processes of \p team:
/// each asks for its own range [lo, hi) of the n entries and gets the same pos and at as
/// shuffle_part gives it, in O(n / P + buckets) time and memory.  Collective.  The ranges
/// may be empty and may overlap, but lo and hi must not decrease from one process to the
/// next.  With fewer than kShareShuffleFrom processes, or n <= kShuffleBucketRows, it is
/// shuffle_part itself on each process (the same lists).
void shuffle_part(const Team& team, std::uint64_t seed, std::int64_t epoch, std::int64_t n, std::int64_t lo,
                  std::int64_t hi, std::int64_t* pos, std::int64_t* at, std::int32_t threads, ShuffleScratch& scratch);
/// The same with the work shared whatever the process count (bench_mpi compares the two).
void shared_shuffle_part(const Team& team, std::uint64_t seed, std::int64_t epoch, std::int64_t n, std::int64_t lo,
                         std::int64_t hi, std::int64_t* pos, std::int64_t* at, std::int32_t threads,
                         ShuffleScratch& scratch);

/// This process's part of an order: rows (of the fit) and keys, RowOrder's part form.
struct LocalOrder {
  IndexVector rows, keys;
  ShuffleScratch scratch;  // local_epoch_order's, between epochs
  RowOrder view() const noexcept { return {rows.data(), keys.data(), static_cast<std::int64_t>(rows.size()), true}; }
};

/// This process's \p count training rows and its held-out rows (rows of the fit, each
/// ascending) and how many training rows of the fit come before its first: the training
/// rows' order is the split's training part, at positions first_input.. on this process.
/// Without rows held out \p train stays empty: training position k is row k.
struct LocalRows {
  IndexVector train, heldout;
  std::int64_t first_input = 0, count = 0;
  /// The row at training position \p k (first_input <= k < first_input + count).
  std::int64_t row(std::int64_t k) const noexcept {
    return train.empty() ? k : train[static_cast<std::size_t>(k - first_input)];
  }
};

/// The shape of a fit's order: n_train training rows of n, batches of \p batch positions
/// (>= n_train: one batch), FitOptions::shuffle_block, and the data plan's rows_per_shard
/// (the one-process order groups each batch's rows by shard).
struct OrderShape {
  std::int64_t n_train = 0, n = 0, batch = 0, block = 1, rows_per_shard = 1;
};

/// The split's order (no shuffling) on this process: train[k] at position first_input + k,
/// keyed by its batch's start, then the held-out rows, keyed n_train.
void local_split_order(const LocalRows& rows, const OrderShape& shape, LocalOrder& out);

/// This process's part of epoch \p epoch's order (0-based; Trainer::set_epoch_order): each
/// training row placed by the epoch's shuffle of the training part (epoch_block_shuffle of
/// shape.block), keyed by its batch's start; within a batch in the whole order's order after
/// its grouping (by shard, each shard's rows in shuffled order; with whole runs per batch,
/// ascending); then the held-out rows, keyed n_train.
/// Collective over \p team (its processes' rows ascending with the rank, as the trainer's).
void local_epoch_order(const Team& team, std::uint64_t seed, std::int64_t epoch, const LocalRows& rows,
                       const OrderShape& shape, std::int32_t threads, LocalOrder& out);

}  // namespace steepest::detail
