#include "train/permutation.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "backend/chunk_plan.hpp"
#include "train/deal.hpp"

#if defined(STEEPEST_HAVE_OPENMP)
#include <omp.h>
#endif

namespace steepest::detail {
std::uint64_t epoch_seed(std::uint64_t seed, std::int64_t epoch) noexcept {
  // Two SplitMix64 outputs mixed so that nearby (seed, epoch) pairs give unrelated streams.
  SplitMix64 a(seed);
  SplitMix64 b(a.next() ^ static_cast<std::uint64_t>(epoch));
  return b.next();
}

namespace {

/// The bucketed shuffle of epoch_shuffle (n > kShuffleBucketRows): the rows dealt into
/// \p scratch, then each bucket copied back and shuffled.
void bucketed_shuffle(std::uint64_t epoch_key, std::int64_t* rows, std::int64_t n, std::int32_t threads,
                      IndexVector& scratch) {
  SplitMix64 keys(epoch_key);
  const std::uint64_t deal_key = keys.next(), bucket_key = keys.next();
  const std::int64_t buckets = (n + kShuffleBucketRows - 1) / kShuffleBucketRows;
  std::vector<std::int64_t> start;
  scratch.resize(static_cast<std::size_t>(n));
  std::int64_t* to = scratch.data();
  deal(deal_key, 0, n, buckets, threads, start, [to, rows](std::int64_t place, std::int64_t k) { to[place] = rows[k]; });
  [[maybe_unused]] const int teams = thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(static) num_threads(teams)
#endif
  for (std::int64_t b = 0; b < buckets; ++b) {
    const std::int64_t lo = start[static_cast<std::size_t>(b)], hi = start[static_cast<std::size_t>(b) + 1];
    std::copy(scratch.begin() + lo, scratch.begin() + hi, rows + lo);
    SplitMix64 rng(draw(bucket_key, static_cast<std::uint64_t>(b)));
    fisher_yates(rng, rows + lo, hi - lo);
  }
}

/// Per bucket, how many of the entries [lo, hi) the deal of \p key puts in it.
std::vector<std::int64_t> deal_counts(std::uint64_t key, std::int64_t lo, std::int64_t hi, std::int64_t buckets,
                                      std::int32_t threads) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(buckets), 0);
  [[maybe_unused]] const int teams = hi - lo < kShuffleBucketRows ? 1 : thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel num_threads(teams)
#endif
  {
    std::vector<std::int64_t> own(static_cast<std::size_t>(buckets), 0);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp for schedule(static) nowait
#endif
    for (std::int64_t k = lo; k < hi; ++k) ++own[static_cast<std::size_t>(bucket_of(key, k, buckets))];
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp critical
#endif
    for (std::size_t b = 0; b < own.size(); ++b) counts[b] += own[b];  // integers: any order
  }
  return counts;
}

/// Replays fisher_yates(rng) on the m indices 0..m-1 of \p a and lists the indices j in
/// [c0, c0 + count) in the order they land: entry member[j - c0] at position base + p, for
/// ascending p, into pos[0..count) and at[0..count).  The swaps do not depend on the values,
/// so 32-bit indices (half the cache a bucket takes) give the same permutation.
template <class Index>
void replay_fisher_yates(SplitMix64& rng, std::int64_t m, std::int64_t c0, std::int64_t count,
                         const std::int64_t* member, std::int64_t base, std::int64_t* pos, std::int64_t* at,
                         std::vector<Index>& a) {
  a.resize(static_cast<std::size_t>(m));
  for (std::int64_t j = 0; j < m; ++j) a[static_cast<std::size_t>(j)] = static_cast<Index>(j);
  fisher_yates(rng, a.data(), m);
  std::int64_t o = 0;
  for (std::int64_t p = 0; p < m; ++p) {
    const std::uint64_t j = static_cast<std::uint64_t>(static_cast<std::int64_t>(a[static_cast<std::size_t>(p)]) - c0);
    if (j >= static_cast<std::uint64_t>(count)) continue;
    pos[o] = base + p;
    at[o++] = member[j];
  }
}

/// replay_fisher_yates with 32-bit indices when m allows (a bucket: about kShuffleBucketRows).
void replay(SplitMix64& rng, std::int64_t m, std::int64_t c0, std::int64_t count, const std::int64_t* member,
            std::int64_t base, std::int64_t* pos, std::int64_t* at, std::vector<std::uint32_t>& a32,
            std::vector<std::int64_t>& a64) {
  if (m <= std::int64_t{UINT32_MAX})
    replay_fisher_yates(rng, m, c0, count, member, base, pos, at, a32);
  else
    replay_fisher_yates(rng, m, c0, count, member, base, pos, at, a64);
}

}  // namespace

void shuffle_part(std::uint64_t seed, std::int64_t epoch, std::int64_t n, std::int64_t lo, std::int64_t hi,
                  std::int64_t* pos, std::int64_t* at, std::int32_t threads) {
  if (lo >= hi) return;
  std::vector<std::uint32_t> a32;
  std::vector<std::int64_t> a64;
  if (n <= kShuffleBucketRows) {
    std::vector<std::int64_t> member(static_cast<std::size_t>(hi - lo));
    for (std::int64_t k = lo; k < hi; ++k) member[static_cast<std::size_t>(k - lo)] = k;
    SplitMix64 rng(epoch_seed(seed, epoch));
    replay(rng, n, lo, hi - lo, member.data(), 0, pos, at, a32, a64);
    return;
  }
  SplitMix64 keys(epoch_seed(seed, epoch));
  const std::uint64_t deal_key = keys.next(), bucket_key = keys.next();
  const std::int64_t buckets = (n + kShuffleBucketRows - 1) / kShuffleBucketRows;
  const std::vector<std::int64_t> before = deal_counts(deal_key, 0, lo, buckets, threads);
  const std::vector<std::int64_t> after = deal_counts(deal_key, hi, n, buckets, threads);
  std::vector<std::int64_t> offset, start(static_cast<std::size_t>(buckets), 0);
  IndexVector members(static_cast<std::size_t>(hi - lo));  // [lo, hi) grouped by bucket
  std::int64_t* into = members.data();
  deal(deal_key, lo, hi, buckets, threads, offset, [into](std::int64_t place, std::int64_t k) { into[place] = k; });
  for (std::size_t b = 1; b < start.size(); ++b)
    start[b] = start[b - 1] + before[b - 1] + (offset[b] - offset[b - 1]) + after[b - 1];
  [[maybe_unused]] const int teams = thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic) num_threads(teams) firstprivate(a32, a64)
#endif
  for (std::int64_t b = 0; b < buckets; ++b) {
    const auto u = static_cast<std::size_t>(b);
    const std::int64_t count = offset[u + 1] - offset[u];
    if (count == 0) continue;  // none of [lo, hi) in it
    SplitMix64 rng(draw(bucket_key, static_cast<std::uint64_t>(b)));
    // Buckets fill ascending ranges of positions, so the list comes out in position order.
    replay(rng, before[u] + count + after[u], before[u], count, members.data() + offset[u], start[u], pos + offset[u],
           at + offset[u], a32, a64);
  }
}

void epoch_permutation(std::uint64_t seed, std::int64_t epoch, std::int64_t* order, std::int64_t n,
                       std::int32_t threads) {
  fill_rows(order, nullptr, n, threads);
  epoch_shuffle(seed, epoch, order, n, threads);
}

void epoch_shuffle(std::uint64_t seed, std::int64_t epoch, std::int64_t* rows, std::int64_t n, std::int32_t threads) {
  IndexVector scratch;
  epoch_shuffle(seed, epoch, rows, n, threads, scratch);
}

void epoch_shuffle(std::uint64_t seed, std::int64_t epoch, std::int64_t* rows, std::int64_t n, std::int32_t threads,
                   IndexVector& scratch) {
  if (n > kShuffleBucketRows) {
    bucketed_shuffle(epoch_seed(seed, epoch), rows, n, threads, scratch);
    return;
  }
  SplitMix64 rng(epoch_seed(seed, epoch));
  fisher_yates(rng, rows, n);
}

namespace {

/// The whole runs of \p n entries in runs of \p block, permuted (epoch_block_shuffle).
std::int64_t shuffled_runs(std::uint64_t seed, std::int64_t epoch, std::int64_t n, std::int64_t block,
                           std::int32_t threads, IndexVector& scratch, IndexVector& runs) {
  const std::int64_t count = n / block;
  runs.resize(static_cast<std::size_t>(count));
  fill_rows(runs.data(), nullptr, count, threads);
  epoch_shuffle(seed, epoch, runs.data(), count, threads, scratch);
  return count;
}

/// rows[q block ..] = the run order[q] of \p given (null: the identity), for q < count.
void expand_runs(const std::int64_t* order, std::int64_t count, std::int64_t block, const std::int64_t* given,
                 std::int64_t* rows, std::int32_t threads) {
  [[maybe_unused]] const int teams = count * block < kShuffleBucketRows ? 1 : thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(static) num_threads(teams)
#endif
  for (std::int64_t q = 0; q < count; ++q) {
    const std::int64_t from = order[q] * block;
    std::int64_t* out = rows + q * block;
    if (given != nullptr) {
      std::copy(given + from, given + from + block, out);
    } else {
      for (std::int64_t j = 0; j < block; ++j) out[j] = from + j;
    }
  }
}

}  // namespace

void epoch_block_shuffle(std::uint64_t seed, std::int64_t epoch, std::int64_t* rows, std::int64_t n,
                         std::int64_t block, std::int32_t threads, IndexVector& scratch, IndexVector& runs) {
  if (block <= 1 || n <= 1) {
    epoch_shuffle(seed, epoch, rows, n, threads, scratch);
    return;
  }
  const std::int64_t count = shuffled_runs(seed, epoch, n, block, threads, scratch, runs);
  scratch.resize(static_cast<std::size_t>(count * block));
  fill_rows(scratch.data(), rows, count * block, threads);  // the given order (the tail stays)
  expand_runs(runs.data(), count, block, scratch.data(), rows, threads);
}

std::int64_t epoch_block_batch_runs(std::uint64_t seed, std::int64_t epoch, std::int64_t n, std::int64_t block,
                                    std::int64_t batch, std::int32_t threads, IndexVector& scratch,
                                    IndexVector& runs) {
  const std::int64_t count = shuffled_runs(seed, epoch, n, block, threads, scratch, runs);
  const std::int64_t per_batch = batch / block;  // (batch is a multiple of block)
  const std::int64_t batches = (count + per_batch - 1) / per_batch;
  std::int64_t* order = runs.data();
  [[maybe_unused]] const int teams = n < kShuffleBucketRows ? 1 : thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(static) num_threads(teams)
#endif
  for (std::int64_t k = 0; k < batches; ++k)
    std::sort(order + k * per_batch, order + std::min(count, (k + 1) * per_batch));
  return count;
}

void epoch_block_batches(std::uint64_t seed, std::int64_t epoch, const std::int64_t* base, std::int64_t* rows,
                         std::int64_t n, std::int64_t block, std::int64_t batch, std::int32_t threads,
                         IndexVector& scratch, IndexVector& runs) {
  const std::int64_t count = epoch_block_batch_runs(seed, epoch, n, block, batch, threads, scratch, runs);
  expand_runs(runs.data(), count, block, base, rows, threads);
  for (std::int64_t i = count * block; i < n; ++i) rows[i] = base != nullptr ? base[i] : i;  // the tail
}

int thread_count(std::int32_t threads) noexcept {
#if defined(STEEPEST_HAVE_OPENMP)
  return threads > 0 ? threads : omp_get_max_threads();
#else
  (void)threads;
  return 1;
#endif
}

void fill_rows(std::int64_t* rows, const std::int64_t* from, std::int64_t n, std::int32_t threads) {
  [[maybe_unused]] const int teams = n < kShuffleBucketRows ? 1 : thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(static) num_threads(teams)
#endif
  for (std::int64_t i = 0; i < n; ++i) rows[i] = from != nullptr ? from[i] : i;
}

void group_epoch_batches(std::int64_t* rows, std::int64_t count, std::int64_t batch, std::int64_t n,
                         std::int64_t rows_per_shard, std::int32_t threads, std::vector<std::int64_t>& scratch,
                         std::vector<std::int64_t>& counts) {
  if (count < kShuffleBucketRows) {
    group_batches_by_shard(rows, count, batch, n, rows_per_shard, scratch, counts);
    return;
  }
  const std::int64_t batches = (count + batch - 1) / batch;
  [[maybe_unused]] const int teams = thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel num_threads(teams)
#endif
  {
    std::vector<std::int64_t> own_scratch, own_counts;
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp for schedule(static)
#endif
    for (std::int64_t b = 0; b < batches; ++b) {
      const std::int64_t lo = b * batch;
      group_batches_by_shard(rows + lo, std::min(batch, count - lo), batch, n, rows_per_shard, own_scratch, own_counts);
    }
  }
}

}  // namespace steepest::detail
