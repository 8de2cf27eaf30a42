#include "train/local_order.hpp"

#include <algorithm>
#include <utility>

#include "backend/chunk_plan.hpp"
#include "train/permutation.hpp"

namespace steepest::detail {
namespace {

/// The start of the batch that position \p p (a training position) falls in.
std::int64_t batch_start(std::int64_t p, const OrderShape& shape) noexcept {
  return shape.batch >= shape.n_train ? 0 : p / shape.batch * shape.batch;
}

/// The training positions [lo, hi) in the order the epoch's shuffle of the n_train training
/// positions puts them: position k lands at pos[j] = ascending, for k = at[j]
/// (epoch_block_shuffle: whole runs move, keeping their entries in order; the tail stays).
void shuffled_part(const Team& team, std::uint64_t seed, std::int64_t epoch, std::int64_t lo, std::int64_t hi, const OrderShape& shape,
                   std::int32_t threads, std::int64_t* pos, std::int64_t* at, ShuffleScratch& scratch) {
  const std::int64_t n = shape.n_train, block = shape.block;
  if (block <= 1 || n <= 1) {
    shuffle_part(team, seed, epoch, n, lo, hi, pos, at, threads, scratch);
    return;
  }
  const std::int64_t runs = n / block, tail = runs * block;
  const std::int64_t q_lo = std::min(lo, tail) / block, q_hi = (std::min(hi, tail) + block - 1) / block;
  const auto count = static_cast<std::size_t>(std::max<std::int64_t>(0, q_hi - q_lo));
  IndexVector run_pos(count), run_at(count);
  shuffle_part(team, seed, epoch, runs, q_lo, q_hi, run_pos.data(), run_at.data(), threads, scratch);
  std::int64_t o = 0;
  for (std::size_t r = 0; r < count; ++r) {
    const std::int64_t q = run_at[r];
    for (std::int64_t k = std::max(lo, q * block); k < std::min(hi, (q + 1) * block); ++k, ++o) {
      pos[o] = run_pos[r] * block + k % block;
      at[o] = k;
    }
  }
  for (std::int64_t k = std::max(lo, tail); k < hi; ++k, ++o) pos[o] = at[o] = k;
}

/// One batch's entries: \p entries (len training positions, in the order the shuffle put
/// them) replaced by their rows as the whole order has them after its grouping: ascending
/// with whole runs per batch (\p ascending), else grouped by shard, each shard's in shuffled
/// order (a stable counting sort, as group_batches_by_shard's).
void batch_rows(const LocalRows& rows, std::int64_t* entries, std::int64_t len, bool ascending,
                std::int64_t rows_per_shard, std::vector<std::int64_t>& scratch, std::vector<std::int64_t>& counts) {
  for (std::int64_t j = 0; j < len; ++j) entries[j] = rows.row(entries[j]);
  if (ascending) {
    std::sort(entries, entries + len);
    return;
  }
  const auto [lo, hi] = std::minmax_element(entries, entries + len);
  const ShardOf shard_of(rows_per_shard);
  const std::int64_t s0 = shard_of(*lo), shards = shard_of(*hi) - s0 + 1;
  if (shards == 1) return;  // one shard: already in shuffled order
  sort_by_shard(entries, len, shard_of, s0, shards, scratch, counts);
}

}  // namespace

void local_split_order(const LocalRows& rows, const OrderShape& shape, LocalOrder& out) {
  const auto count = static_cast<std::size_t>(rows.count);
  out.rows.resize(count + rows.heldout.size());
  out.keys.resize(out.rows.size());
  for (std::size_t k = 0; k < count; ++k) {
    const std::int64_t position = rows.first_input + static_cast<std::int64_t>(k);
    out.rows[k] = rows.row(position);
    out.keys[k] = batch_start(position, shape);
  }
  std::copy(rows.heldout.begin(), rows.heldout.end(), out.rows.begin() + static_cast<std::ptrdiff_t>(count));
  std::fill(out.keys.begin() + static_cast<std::ptrdiff_t>(count), out.keys.end(), shape.n_train);
}

void local_epoch_order(const Team& team, std::uint64_t seed, std::int64_t epoch, const LocalRows& rows, const OrderShape& shape,
                       std::int32_t threads, LocalOrder& out) {
  const std::int64_t count = rows.count;
  const std::size_t total = static_cast<std::size_t>(count) + rows.heldout.size();
  out.rows.resize(total);
  out.keys.resize(total);
  std::int64_t *row = out.rows.data(), *pos = out.keys.data();
  shuffled_part(team, seed, epoch, rows.first_input, rows.first_input + count, shape, threads, pos, row, out.scratch);
  // Batch k's entries are a run of the list (positions ascend): each found by its edges,
  // its rows written and grouped as the whole order groups them, its keys set.
  const std::int64_t batch = shape.batch, batches = (shape.n_train + batch - 1) / batch;
  const bool ascending = shape.block > 1 && batch % shape.block == 0;
  [[maybe_unused]] const int teams = count < kShuffleBucketRows ? 1 : thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel num_threads(teams)
#endif
  {
    std::vector<std::int64_t> scratch, counts;
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp for schedule(dynamic, 64)
#endif
    for (std::int64_t k = 0; k < batches; ++k) {
      const std::int64_t lo = std::lower_bound(pos, pos + count, k * batch) - pos;
      const std::int64_t hi = std::lower_bound(pos + lo, pos + count, (k + 1) * batch) - pos;
      if (hi == lo) continue;  // none of this process's rows in batch k
      batch_rows(rows, row + lo, hi - lo, ascending, shape.rows_per_shard, scratch, counts);
      std::fill(pos + lo, pos + hi, batch_start(k * batch, shape));
    }
  }
  std::copy(rows.heldout.begin(), rows.heldout.end(), out.rows.begin() + count);
  std::fill(out.keys.begin() + count, out.keys.end(), shape.n_train);
}

}  // namespace steepest::detail
