// Internal: the fixed chunk plan: how the rows of a fit are cut into chunks whose partial
// sums are combined in chunk order.  A function of the shape only, so every host pass that
// uses it (the CPU backend, predict, moments, the data fingerprint) gives the same bits for
// any thread count, and for any number of processes that hold whole chunks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "steepest/data.hpp"

namespace steepest::detail {

/// How a pass over m rows is cut into chunks.  A function of (m, d) only.
struct ChunkPlan {
  std::int64_t rows_per_chunk = 1;
  std::int64_t chunks = 0;
};

/// At least ~8k elements per chunk (so a chunk amortises the scheduling), at most 1024
/// chunks (so the partials stay small: 1024 x (d + 2) doubles).
constexpr ChunkPlan plan_chunks(std::int64_t m, std::int64_t d) noexcept {
  constexpr std::int64_t kMinElements = 8192;
  constexpr std::int64_t kMaxChunks = 1024;
  const std::int64_t min_rows = std::max<std::int64_t>(64, (kMinElements + d - 1) / d);
  const std::int64_t rows = std::max(min_rows, (m + kMaxChunks - 1) / kMaxChunks);
  return {rows, m > 0 ? (m + rows - 1) / rows : 0};
}

/// Shards: the chunks of the plan in at most kMaxShards runs of equal length (the last may
/// be shorter).  Passes over the row order (shuffled batches, the two sides of a held-out
/// split) group their rows by shard; processes that hold whole shards compute exactly the
/// groups one process would.
constexpr std::int64_t kMaxShards = 64;

struct DataPlan {
  ChunkPlan chunk;
  std::int64_t rows_per_shard = 1;
  std::int64_t shards = 0;
};

/// The data plan of a fit of n rows of d features: its chunks and shards.
constexpr DataPlan plan_data(std::int64_t n, std::int64_t d) noexcept {
  const ChunkPlan c = plan_chunks(n, d);
  const std::int64_t per_shard = std::max<std::int64_t>(1, (c.chunks + kMaxShards - 1) / kMaxShards);
  const std::int64_t rows = c.rows_per_chunk * per_shard;
  return {c, rows, n > 0 ? (n + rows - 1) / rows : 0};
}

/// The rows a process of \p ranks takes when it splits the n rows itself (the CLI): whole
/// shards, as evenly as they go (more processes than shards leaves some without rows).
/// Every such split gives the bits of one process.  Returns [first, end).
constexpr std::pair<std::int64_t, std::int64_t> rank_rows(std::int64_t n, std::int64_t d, int ranks,
                                                          int rank) noexcept {
  const DataPlan plan = plan_data(n, d);
  auto edge = [&](int r) { return std::min(n, plan.shards * r / ranks * plan.rows_per_shard); };
  return {edge(rank), edge(rank + 1)};
}

/// Rows summed on their own, one partial of a pass: positions [lo, hi) of \p rows (local
/// row indices), or local rows lo..hi-1 when \p rows is null.
struct RowGroup {
  const std::int64_t* rows = nullptr;
  std::int64_t lo = 0, hi = 0;
};

/// A pass in the natural order over local rows [lo, hi) (local row i is row \p first + i
/// of the fit): one group per chunk of the data plan, in chunk order, appended to \p out.
inline void cut_into_chunks(std::int64_t lo, std::int64_t hi, std::int64_t first, std::int64_t rows_per_chunk,
                            std::vector<RowGroup>& out) {
  while (lo < hi) {
    const std::int64_t end = std::min(hi, ((lo + first) / rows_per_chunk + 1) * rows_per_chunk - first);
    out.push_back({nullptr, lo, end});
    lo = end;
  }
}

/// row / per for 0 <= row < 2^52 without a divide (10-20 cycles in 64 bits; grouping a
/// shuffled batch by shard took one a row): the float64 quotient, off by at most one (its
/// relative error is below 2^-52), corrected to the exact one.
class ShardOf {
 public:
  explicit ShardOf(std::int64_t per) noexcept : per_(per), inverse_(1.0 / static_cast<double>(per)) {}
  std::int64_t operator()(std::int64_t row) const noexcept {
    std::int64_t q = static_cast<std::int64_t>(static_cast<double>(row) * inverse_);
    if (q * per_ > row) --q;
    if ((q + 1) * per_ <= row) ++q;
    return q;
  }

 private:
  std::int64_t per_;
  double inverse_;
};

/// A pass over positions [begin, end) of a row order: \p order holds local row indices
/// (row - first, so other processes' rows fall outside [0, m)), and its shard numbers
/// (row / rows_per_shard) never decrease over [begin, end) — the trainer orders each batch
/// so.  One group per shard with local rows, in shard order, appended to \p out: the run
/// of \p order itself for a shard held whole, else its local rows copied to \p scratch
/// (a split that cuts a shard: deterministic, but not the groups of one process).
inline void cut_into_shards(const std::int64_t* order, std::int64_t begin, std::int64_t end, std::int64_t first,
                            std::int64_t m, std::int64_t total, std::int64_t rows_per_shard,
                            std::vector<std::int64_t>& scratch, std::vector<RowGroup>& out) {
  scratch.clear();
  if (m == 0 || begin >= end) return;
  // Shard boundaries as local rows, so that the searches compare and never divide.
  auto below = [&](std::int64_t limit) {  // the first position in [a, end) whose row >= limit
    return [limit](std::int64_t v) { return v < limit; };
  };
  const std::int64_t s_lo = first / rows_per_shard, s_hi = (first + m - 1) / rows_per_shard;
  std::int64_t a = std::partition_point(order + begin, order + end, below(s_lo * rows_per_shard - first)) - order;
  const std::int64_t stop = std::partition_point(order + a, order + end, below((s_hi + 1) * rows_per_shard - first)) - order;
  std::vector<std::size_t> copied;  // groups whose rows live in scratch (its storage may move)
  const ShardOf shard_of(rows_per_shard);
  while (a < stop) {
    const std::int64_t s = shard_of(order[a] + first);
    const std::int64_t next = (s + 1) * rows_per_shard - first;
    // Galloping: a run of g positions costs O(log g), a row of a batch or a whole shard.
    std::int64_t step = 1;
    while (a + step < stop && order[a + step] < next) step *= 2;
    const std::int64_t b =
        std::partition_point(order + a + step / 2, order + std::min(stop, a + step), below(next)) - order;
    const bool whole = s * rows_per_shard >= first && std::min(total, (s + 1) * rows_per_shard) <= first + m;
    if (whole) {
      out.push_back({order, a, b});
    } else {
      const auto at = static_cast<std::int64_t>(scratch.size());
      for (std::int64_t k = a; k < b; ++k)
        if (order[k] >= 0 && order[k] < m) scratch.push_back(order[k]);
      if (static_cast<std::int64_t>(scratch.size()) > at) {
        copied.push_back(out.size());
        out.push_back({nullptr, at, static_cast<std::int64_t>(scratch.size())});
      }
    }
    a = b;
  }
  for (const std::size_t g : copied) out[g].rows = scratch.data();
}

/// Orders r[0..len) by shard, keeping the order within a shard: a stable counting sort over
/// shards s0 .. s0 + shards - 1, which must hold every entry's shard.  Each entry's shard is
/// taken once, beside it in scratch's second half.  \p scratch and \p counts are reused.
inline void sort_by_shard(std::int64_t* r, std::int64_t len, const ShardOf& shard_of, std::int64_t s0,
                          std::int64_t shards, std::vector<std::int64_t>& scratch, std::vector<std::int64_t>& counts) {
  counts.assign(static_cast<std::size_t>(shards) + 1, 0);
  scratch.resize(static_cast<std::size_t>(2 * len));
  std::int64_t* shard = scratch.data() + len;
  for (std::int64_t k = 0; k < len; ++k) {
    shard[k] = shard_of(r[k]) - s0;
    ++counts[static_cast<std::size_t>(shard[k]) + 1];
  }
  for (std::size_t s = 1; s < counts.size(); ++s) counts[s] += counts[s - 1];
  for (std::int64_t k = 0; k < len; ++k) scratch[static_cast<std::size_t>(counts[static_cast<std::size_t>(shard[k])]++)] = r[k];
  std::copy(scratch.begin(), scratch.begin() + len, r);
}

/// Orders each slice of \p batch entries of rows[0..count) by shard (rows / rows_per_shard),
/// keeping the order within a shard (sort_by_shard), O(batch + shards) per batch.
inline void group_batches_by_shard(std::int64_t* rows, std::int64_t count, std::int64_t batch, std::int64_t n,
                                   std::int64_t rows_per_shard, std::vector<std::int64_t>& scratch,
                                   std::vector<std::int64_t>& counts) {
  const std::int64_t shards = n > 0 ? (n + rows_per_shard - 1) / rows_per_shard : 0;
  if (shards <= 1) return;
  const ShardOf shard_of(rows_per_shard);
  for (std::int64_t lo = 0; lo < count; lo += batch)
    sort_by_shard(rows + lo, std::min(batch, count - lo), shard_of, 0, shards, scratch, counts);
}

}  // namespace steepest::detail
