// shuffle_part across processes (local_order.hpp): the bucketed shuffle's work divided
// between the processes instead of repeated on each.
//
//   1. The deal: process r deals the entries of its fixed share of [0, n) into the buckets
//      (deal.hpp, the same draws as the whole shuffle) and sends each bucket's entries, in
//      their order, to the bucket's owner (process o owns a fixed share of the buckets).
//   2. The owner lays each of its buckets out as the whole shuffle does (the entries of
//      process 0's share first, then 1's, ...: their given order) and shuffles it by the
//      bucket's own Fisher-Yates.  Its buckets are then the positions [first, first + m)
//      of the epoch's order: it holds that slice of the order.
//   3. Each entry of the slice goes, with its position, to every process that asked for it
//      (asked ranges never decrease with the rank; neighbours may share an entry: a run of
//      FitOptions::shuffle_block that spans them).  A process gets its entries from owner
//      0 first, then 1, ...: in position order, as shuffle_part lists them.
//
// Five exchanges (Communicator::alltoallv) and one gather an epoch, about 40 bytes an entry
// moved; O(n / P + buckets) time and memory a process.
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "backend/team.hpp"
#include "train/deal.hpp"
#include "train/local_order.hpp"

namespace steepest::detail {
namespace {

/// Part \p r of \p n items cut into \p p nearly equal parts (the first n % p one longer).
std::int64_t part_start(std::int64_t n, std::int64_t p, std::int64_t r) noexcept {
  return r * (n / p) + std::min(r, n % p);
}

/// An entry of the order and its position, as an owner sends it.
struct Placed {
  std::int64_t pos, at;
};

/// Step 1 and 2 for this process: the entries of its buckets, laid out and shuffled: the
/// order at positions [first, first + size()); \p first is set.
IndexVector owned_slice(const Team& team, std::uint64_t deal_key, std::uint64_t bucket_key, std::int64_t n,
                        std::int64_t buckets, std::int32_t threads, std::int64_t& first) {
  const std::int64_t p = team.size(), me = team.rank();
  std::vector<std::int64_t> offset;
  std::vector<std::int64_t> dealt(static_cast<std::size_t>(part_start(n, p, me + 1) - part_start(n, p, me)));
  std::int64_t* into = dealt.data();
  deal(deal_key, part_start(n, p, me), part_start(n, p, me + 1), buckets, threads, offset,
       [into](std::int64_t place, std::int64_t k) { into[place] = k; });
  // Counts first: to each owner, this share's count in every bucket it owns.
  std::vector<std::int64_t> counts(static_cast<std::size_t>(buckets));
  std::vector<std::size_t> send(static_cast<std::size_t>(p)), recv(static_cast<std::size_t>(p));
  const std::int64_t b0 = part_start(buckets, p, me), mine = part_start(buckets, p, me + 1) - b0;
  for (std::int64_t b = 0; b < buckets; ++b) counts[static_cast<std::size_t>(b)] = offset[static_cast<std::size_t>(b) + 1] - offset[static_cast<std::size_t>(b)];
  for (std::int64_t o = 0; o < p; ++o) {
    send[static_cast<std::size_t>(o)] = static_cast<std::size_t>(part_start(buckets, p, o + 1) - part_start(buckets, p, o));
    recv[static_cast<std::size_t>(o)] = static_cast<std::size_t>(mine);
  }
  const std::vector<std::int64_t> from = team.exchange(counts, send, recv);  // [source][bucket - b0]
  // Then the entries, each owner's buckets being a run of the dealt list.
  for (std::int64_t o = 0; o < p; ++o)
    send[static_cast<std::size_t>(o)] = static_cast<std::size_t>(offset[static_cast<std::size_t>(part_start(buckets, p, o + 1))] -
                                                                  offset[static_cast<std::size_t>(part_start(buckets, p, o))]);
  std::vector<std::int64_t> size(static_cast<std::size_t>(mine) + 1, 0);  // then each bucket's start in the slice
  for (std::int64_t s = 0; s < p; ++s) {
    std::size_t total = 0;
    for (std::int64_t t = 0; t < mine; ++t) {
      const auto c = from[static_cast<std::size_t>(s * mine + t)];
      total += static_cast<std::size_t>(c);
      size[static_cast<std::size_t>(t) + 1] += c;
    }
    recv[static_cast<std::size_t>(s)] = total;
  }
  const std::vector<std::int64_t> got = team.exchange(dealt, send, recv);
  std::vector<std::int64_t>().swap(dealt);
  for (std::size_t t = 1; t < size.size(); ++t) size[t] += size[t - 1];
  const std::vector<std::int64_t> totals = team.gather(size.back());
  first = 0;
  for (std::int64_t o = 0; o < me; ++o) first += totals[static_cast<std::size_t>(o)];
  // Lay out: bucket t takes each source's entries for it in source order.
  IndexVector slice(static_cast<std::size_t>(size.back()));
  std::vector<std::int64_t> fill(size.begin(), size.end() - 1);
  std::size_t at = 0;
  for (std::int64_t s = 0; s < p; ++s)
    for (std::int64_t t = 0; t < mine; ++t) {
      const auto c = static_cast<std::size_t>(from[static_cast<std::size_t>(s * mine + t)]);
      std::copy(got.begin() + static_cast<std::ptrdiff_t>(at), got.begin() + static_cast<std::ptrdiff_t>(at + c),
                slice.begin() + fill[static_cast<std::size_t>(t)]);
      fill[static_cast<std::size_t>(t)] += static_cast<std::int64_t>(c);
      at += c;
    }
  [[maybe_unused]] const int teams = thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic) num_threads(teams)
#endif
  for (std::int64_t t = 0; t < mine; ++t) {
    SplitMix64 rng(draw(bucket_key, static_cast<std::uint64_t>(b0 + t)));
    fisher_yates(rng, slice.data() + size[static_cast<std::size_t>(t)], size[static_cast<std::size_t>(t) + 1] - size[static_cast<std::size_t>(t)]);
  }
  return slice;
}

/// The processes that asked for entry \p k: [s0, s1) (lo and hi never decrease).
std::pair<std::size_t, std::size_t> askers(const std::vector<std::int64_t>& lo, const std::vector<std::int64_t>& hi,
                                          std::int64_t k) noexcept {
  const auto s0 = static_cast<std::size_t>(std::upper_bound(hi.begin(), hi.end(), k) - hi.begin());
  std::size_t s1 = s0;
  while (s1 < lo.size() && lo[s1] <= k) ++s1;
  return {s0, s1};
}

/// Step 3's message: each entry of the slice (positions first..) for every process that
/// asked for it, in asker order, each asker's in position order; send[s] of them for s.
/// Fixed blocks of the slice counted and then written on threads.
std::vector<Placed> route(const IndexVector& slice, std::int64_t first, const std::vector<std::int64_t>& los,
                          const std::vector<std::int64_t>& his, std::int32_t threads, std::vector<std::size_t>& send) {
  const std::size_t p = los.size();
  const auto m = static_cast<std::int64_t>(slice.size());
  const std::int64_t blocks = std::clamp<std::int64_t>(m / kShuffleBucketRows, 1, 64);
  std::vector<std::size_t> place(static_cast<std::size_t>(blocks) * p, 0);  // [block][asker]
  [[maybe_unused]] const int teams = blocks == 1 ? 1 : thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(static) num_threads(teams)
#endif
  for (std::int64_t j = 0; j < blocks; ++j) {
    std::size_t* c = place.data() + static_cast<std::size_t>(j) * p;
    for (std::int64_t x = m * j / blocks; x < m * (j + 1) / blocks; ++x) {
      const auto [s0, s1] = askers(los, his, slice[static_cast<std::size_t>(x)]);
      for (std::size_t s = s0; s < s1; ++s) ++c[s];
    }
  }
  send.assign(p, 0);
  std::size_t total = 0;
  for (std::size_t s = 0; s < p; ++s)
    for (std::int64_t j = 0; j < blocks; ++j) {
      std::size_t& c = place[static_cast<std::size_t>(j) * p + s];
      send[s] += c;
      total += std::exchange(c, total);
    }
  std::vector<Placed> out(total);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(static) num_threads(teams)
#endif
  for (std::int64_t j = 0; j < blocks; ++j) {
    std::size_t* c = place.data() + static_cast<std::size_t>(j) * p;
    for (std::int64_t x = m * j / blocks; x < m * (j + 1) / blocks; ++x) {
      const std::int64_t k = slice[static_cast<std::size_t>(x)];
      const auto [s0, s1] = askers(los, his, k);
      for (std::size_t s = s0; s < s1; ++s) out[c[s]++] = {first + x, k};
    }
  }
  return out;
}

}  // namespace

void shuffle_part(const Team& team, std::uint64_t seed, std::int64_t epoch, std::int64_t n, std::int64_t lo,
                  std::int64_t hi, std::int64_t* pos, std::int64_t* at, std::int32_t threads) {
  if (team.alone() || n <= kShuffleBucketRows) {  // one Fisher-Yates of n: cheap anywhere
    shuffle_part(seed, epoch, n, lo, hi, pos, at, threads);
    return;
  }
  const auto p = static_cast<std::size_t>(team.size());
  const std::vector<std::int64_t> los = team.gather(lo), his = team.gather(hi);
  for (std::size_t s = 1; s < p; ++s)
    if (los[s] < los[s - 1] || his[s] < his[s - 1])
      throw std::logic_error("shuffle_part: the ranges asked for decrease at process " + std::to_string(s));
  SplitMix64 keys(epoch_seed(seed, epoch));
  const std::uint64_t deal_key = keys.next(), bucket_key = keys.next();
  std::int64_t first = 0;
  const IndexVector slice = owned_slice(team, deal_key, bucket_key, n, (n + kShuffleBucketRows - 1) / kShuffleBucketRows,
                                        threads, first);
  std::vector<std::size_t> send;
  const std::vector<Placed> out = route(slice, first, los, his, threads, send);
  const std::vector<std::size_t> ones(p, 1);
  const std::vector<std::size_t> expect = team.exchange(send, ones, ones);
  const std::vector<Placed> mine = team.exchange(out, send, expect);
  if (static_cast<std::int64_t>(mine.size()) != std::max<std::int64_t>(0, hi - lo))
    throw std::logic_error("shuffle_part: " + std::to_string(mine.size()) + " entries came for a range of " +
                           std::to_string(hi - lo));
  for (std::size_t j = 0; j < mine.size(); ++j) {
    pos[j] = mine[j].pos;
    at[j] = mine[j].at;
  }
}

}  // namespace steepest::detail
