#include "train/local_order.hpp"

#include <algorithm>

#include "train/permutation.hpp"

namespace steepest::detail {
namespace {

/// The start of the batch that position \p p (a training position) falls in.
std::int64_t batch_start(std::int64_t p, const OrderShape& shape) noexcept {
  return shape.batch >= shape.n_train ? 0 : p / shape.batch * shape.batch;
}

/// out = rows.train (keyed by \p key of each k) followed by rows.heldout (keyed n_train); the
/// training entries in the order of \p index (null: as given).
template <class Key>
void write_order(const LocalRows& rows, const std::int64_t* index, const OrderShape& shape, Key key, LocalOrder& out) {
  const auto count = static_cast<std::int64_t>(rows.train.size());
  const std::size_t total = rows.train.size() + rows.heldout.size();
  out.rows.resize(total);
  out.keys.resize(total);
  for (std::int64_t j = 0; j < count; ++j) {
    const std::int64_t k = index != nullptr ? index[j] : j;
    out.rows[static_cast<std::size_t>(j)] = rows.train[static_cast<std::size_t>(k)];
    out.keys[static_cast<std::size_t>(j)] = key(k);
  }
  std::copy(rows.heldout.begin(), rows.heldout.end(), out.rows.begin() + count);
  std::fill(out.keys.begin() + count, out.keys.end(), shape.n_train);
}

/// pos[k - lo]: where the epoch's shuffle of the n_train training positions puts training
/// position k, for k in [lo, hi) (epoch_block_shuffle: whole runs move, the tail stays).
void shuffled_positions(std::uint64_t seed, std::int64_t epoch, std::int64_t lo, std::int64_t hi,
                        const OrderShape& shape, std::int32_t threads, IndexVector& pos) {
  const std::int64_t n = shape.n_train, block = shape.block;
  pos.resize(static_cast<std::size_t>(hi - lo));
  if (block <= 1 || n <= 1) {
    shuffle_positions(seed, epoch, n, lo, hi, pos.data(), threads);
    return;
  }
  const std::int64_t runs = n / block, tail = runs * block;
  const std::int64_t q_lo = std::min(lo, tail) / block, q_hi = (std::min(hi, tail) + block - 1) / block;
  IndexVector run_pos(static_cast<std::size_t>(std::max<std::int64_t>(0, q_hi - q_lo)));
  shuffle_positions(seed, epoch, runs, q_lo, q_hi, run_pos.data(), threads);
  for (std::int64_t k = lo; k < hi; ++k)
    pos[static_cast<std::size_t>(k - lo)] =
        k < tail ? run_pos[static_cast<std::size_t>(k / block - q_lo)] * block + k % block : k;
}

}  // namespace

void local_split_order(const LocalRows& rows, const OrderShape& shape, LocalOrder& out) {
  write_order(rows, nullptr, shape, [&](std::int64_t k) { return batch_start(rows.first_input + k, shape); }, out);
}

void local_epoch_order(std::uint64_t seed, std::int64_t epoch, const LocalRows& rows, const OrderShape& shape,
                       std::int32_t threads, LocalOrder& out) {
  const auto count = static_cast<std::int64_t>(rows.train.size());
  IndexVector pos;
  shuffled_positions(seed, epoch, rows.first_input, rows.first_input + count, shape, threads, pos);
  // The entries by batch (a counting sort), then each batch's as the whole order has them.
  const std::int64_t batch = shape.batch, batches = (shape.n_train + batch - 1) / batch;
  std::vector<std::int64_t> start(static_cast<std::size_t>(batches) + 1, 0);
  for (std::int64_t k = 0; k < count; ++k) ++start[static_cast<std::size_t>(pos[static_cast<std::size_t>(k)] / batch) + 1];
  for (std::size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
  IndexVector index(static_cast<std::size_t>(count));
  {
    std::vector<std::int64_t> next(start.begin(), start.end() - 1);
    for (std::int64_t k = 0; k < count; ++k)
      index[static_cast<std::size_t>(next[static_cast<std::size_t>(pos[static_cast<std::size_t>(k)] / batch)]++)] = k;
  }
  // Whole runs per batch (epoch_block_batches): the batch's rows ascending, i.e. k ascending.
  // Otherwise (group_epoch_batches): by shard, each shard's in shuffled order.
  const bool ascending = shape.block > 1 && batch % shape.block == 0;
  auto before = [&](std::int64_t a, std::int64_t c) {
    if (ascending) return a < c;
    const std::int64_t sa = rows.train[static_cast<std::size_t>(a)] / shape.rows_per_shard;
    const std::int64_t sc = rows.train[static_cast<std::size_t>(c)] / shape.rows_per_shard;
    return sa != sc ? sa < sc : pos[static_cast<std::size_t>(a)] < pos[static_cast<std::size_t>(c)];
  };
  [[maybe_unused]] const int teams = count < kShuffleBucketRows ? 1 : thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic, 64) num_threads(teams)
#endif
  for (std::int64_t b = 0; b < batches; ++b)
    std::sort(index.begin() + start[static_cast<std::size_t>(b)], index.begin() + start[static_cast<std::size_t>(b) + 1],
              before);
  write_order(rows, index.data(), shape,
              [&](std::int64_t k) { return batch_start(pos[static_cast<std::size_t>(k)], shape); }, out);
}

}  // namespace steepest::detail
