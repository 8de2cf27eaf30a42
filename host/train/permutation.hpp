// Internal: steepest's own seeded row permutation.  std::shuffle and the standard
// distributions differ between standard libraries, so mini-batch order is defined here,
// bit for bit, once for every platform and backend.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/index_vector.hpp"

namespace steepest::detail {

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny generator with a 64-bit state that passes
/// BigCrush; ample for shuffling rows.
class SplitMix64 {
 public:
  explicit constexpr SplitMix64(std::uint64_t seed) noexcept : state_(seed) {}
  constexpr std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

/// Uniform integer in [0, bound) without modulo bias (Lemire 2019, "Fast random integer
/// generation in an interval"), bound >= 1.  Inline: it is the inner step of every shuffle
/// (permutation.cpp's and shuffle_across.cpp's).
inline std::uint64_t uniform_below(SplitMix64& rng, std::uint64_t bound) noexcept {
  __extension__ typedef unsigned __int128 u128;  // GCC/Clang builtin; __extension__ keeps -Wpedantic quiet
  // 64x64 -> 128-bit multiply; reject the few low products that would bias the result.
  u128 m = static_cast<u128>(rng.next()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<u128>(rng.next()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

/// Seed of the permutation of \p epoch (0-based): a pure function of (seed, epoch), so an
/// epoch's order never depends on what ran before it (resume needs no RNG state).
std::uint64_t epoch_seed(std::uint64_t seed, std::int64_t epoch) noexcept;

/// Rows up to which an epoch's permutation is one Fisher-Yates shuffle; beyond, the rows are
/// first dealt into ceil(n / kShuffleBucketRows) buckets (each in a core's cache).
inline constexpr std::int64_t kShuffleBucketRows = std::int64_t{1} << 16;

/// Fill order[0..n) with the permutation of epoch \p epoch (the identity given to
/// epoch_shuffle).  Every order is equally likely; a pure function of (seed, epoch, n),
/// whatever the thread count.
void epoch_permutation(std::uint64_t seed, std::int64_t epoch, std::int64_t* order,
                       std::int64_t n, std::int32_t threads = 0);

/// Shuffle rows[0..n) as given: afterwards rows[k] = before[perm[k]], with perm =
/// epoch_permutation(seed, epoch).  Shuffles a subset of rows in place.
///  - n <= kShuffleBucketRows: Fisher-Yates, i from n-1 down to 1 swapping with
///    uniform_below(i + 1), from one SplitMix64 seeded with epoch_seed(seed, epoch).
///  - larger n (Rao 1961, Sandelius 1962: random buckets, each shuffled, concatenated, give
///    a uniform permutation): row k goes to bucket uniform_below(K) of a generator seeded
///    with a draw of its own (counter-based: the k-th output of one SplitMix64 stream), so
///    the deal runs in parallel; the buckets are concatenated in bucket order, each keeping
///    its rows in their given order, then each bucket is shuffled by Fisher-Yates from a
///    stream of its own.  Threads only split fixed blocks of work.  \p scratch holds n
///    values (resized as needed, reused across epochs); the deal also keeps each row's
///    bucket, 2 bytes a row, while it runs.
void epoch_shuffle(std::uint64_t seed, std::int64_t epoch, std::int64_t* rows, std::int64_t n,
                   std::int32_t threads = 0);
void epoch_shuffle(std::uint64_t seed, std::int64_t epoch, std::int64_t* rows, std::int64_t n,
                   std::int32_t threads, IndexVector& scratch);

/// The entries [lo, hi) of those epoch_shuffle(seed, epoch, rows, n) is given, in the order
/// it puts them: for j < hi - lo, the entry that was at at[j] lands at position pos[j], pos
/// ascending.  The permutation is never held: the deal is counted over all n entries and
/// each bucket's Fisher-Yates replayed on a bucket of indices, so it takes O(hi - lo +
/// buckets) memory (and a bucket's indices per thread) and O(n) time.  A process lists its
/// own rows of an order it does not hold so (train/local_order.hpp).
void shuffle_part(std::uint64_t seed, std::int64_t epoch, std::int64_t n, std::int64_t lo, std::int64_t hi,
                  std::int64_t* pos, std::int64_t* at, std::int32_t threads);

/// FitOptions::shuffle_block: rows[0..n) cut into runs of \p block consecutive entries, the
/// n / block whole runs permuted by epoch_shuffle of their indices (seed, epoch), each run
/// keeping its entries in their given order; the n % block entries after the last whole run
/// stay last.  block = 1 is epoch_shuffle itself (the same bits).  \p scratch and \p runs
/// are reused across epochs.
void epoch_block_shuffle(std::uint64_t seed, std::int64_t epoch, std::int64_t* rows, std::int64_t n,
                         std::int64_t block, std::int32_t threads, IndexVector& scratch, IndexVector& runs);

/// The epoch's batches when each is whole runs (\p batch a multiple of \p block > 1): the
/// order of epoch_block_shuffle of base[0..n) (null \p base: 0, 1, ..., n - 1), then each
/// batch's runs in ascending order, so that its rows ascend (grouped by shard, as the
/// backends' ordered passes need, without group_epoch_batches: base must ascend).  Written
/// straight into rows[0..n) in parallel.
void epoch_block_batches(std::uint64_t seed, std::int64_t epoch, const std::int64_t* base, std::int64_t* rows,
                         std::int64_t n, std::int64_t block, std::int64_t batch, std::int32_t threads,
                         IndexVector& scratch, IndexVector& runs);

/// The same order as its runs, not written out: runs[0..count) the run numbers q (rows
/// q block .. q block + block - 1 of base = null), each batch's ascending, then the tail of
/// n - count block rows in order.  Returns count = n / block.  A backend that takes_runs()
/// reads this form (RowOrder::run): 8 bytes a run instead of 8 bytes a row.
std::int64_t epoch_block_batch_runs(std::uint64_t seed, std::int64_t epoch, std::int64_t n, std::int64_t block,
                                    std::int64_t batch, std::int32_t threads, IndexVector& scratch,
                                    IndexVector& runs);

/// The threads of a parallel region asked for \p threads (0: OpenMP's default; 1 without
/// OpenMP).
int thread_count(std::int32_t threads) noexcept;

/// rows[i] = from[i], or i when \p from is null, for i < n, on \p threads threads (an
/// epoch's starting order: a fresh IndexVector's pages are first touched here, in parallel).
void fill_rows(std::int64_t* rows, const std::int64_t* from, std::int64_t n, std::int32_t threads);

/// The epoch's batches made ready for the backends: group_batches_by_shard
/// (backend/chunk_plan.hpp) over each slice of \p batch of rows[0..count), each slice alone,
/// so on several threads from kShuffleBucketRows rows on (the result does not depend on it).
/// \p scratch and \p counts serve the one-thread case.
void group_epoch_batches(std::int64_t* rows, std::int64_t count, std::int64_t batch, std::int64_t n,
                         std::int64_t rows_per_shard, std::int32_t threads, std::vector<std::int64_t>& scratch,
                         std::vector<std::int64_t>& counts);

}  // namespace steepest::detail
