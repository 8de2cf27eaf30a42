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
//      0 first, then 1, ...: in position order, as shuffle_part lists them.  An entry
//      travels as one word (its offset in the owner's slice and in the asker's range, 32
//      bits each) while both fit, else as two (position and entry).
//
// Four exchanges (Communicator::alltoallv) and three gathers an epoch, 16 bytes an entry sent
// (24 with two-word records); O(n / P + buckets) time and memory a process: two buffers of
// about 8 bytes an entry of its share (ShuffleScratch), each holding several steps' data.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "backend/team.hpp"
#include "train/deal.hpp"
#include "train/local_order.hpp"

namespace steepest::detail {
namespace {

using Sizes = std::vector<std::size_t>;

/// Part \p r of \p n items cut into \p p nearly equal parts (the first n % p one longer).
std::int64_t part_start(std::int64_t n, std::int64_t p, std::int64_t r) noexcept {
  return r * (n / p) + std::min(r, n % p);
}

/// Steps 1 and 2 for this process: the entries of its buckets, laid out and shuffled, into
/// scratch.a: the order at positions [firsts[me], firsts[me + 1]).  Returns every
/// process's first position (p + 1 values, the last n).  scratch.a first holds the dealt
/// share, scratch.b then what came from the other processes.
std::vector<std::int64_t> owned_slice(const Team& team, std::uint64_t deal_key, std::uint64_t bucket_key,
                                      std::int64_t n, std::int64_t buckets, std::int32_t threads, ShuffleScratch& scratch) {
  const std::int64_t p = team.size(), me = team.rank();
  const std::int64_t b0 = part_start(buckets, p, me), mine = part_start(buckets, p, me + 1) - b0;
  std::vector<std::int64_t> offset;
  scratch.a.resize(static_cast<std::size_t>(part_start(n, p, me + 1) - part_start(n, p, me)));
  std::uint64_t* into = scratch.a.data();
  deal(deal_key, part_start(n, p, me), part_start(n, p, me + 1), buckets, threads, offset,
       [into](std::int64_t place, std::int64_t k) { into[place] = static_cast<std::uint64_t>(k); });
  // Counts first: to each owner, this share's count in every bucket it owns (offset's
  // differences, owners' buckets in order); from each source, its counts in mine.
  std::vector<std::int64_t> counts(static_cast<std::size_t>(buckets));
  std::adjacent_difference(offset.begin() + 1, offset.end(), counts.begin());  // offset[0] = 0
  Sizes send(static_cast<std::size_t>(p)), recv(static_cast<std::size_t>(p), static_cast<std::size_t>(mine));
  auto owner = [&](std::int64_t o) { return static_cast<std::size_t>(part_start(buckets, p, o)); };
  for (std::int64_t o = 0; o < p; ++o) send[static_cast<std::size_t>(o)] = owner(o + 1) - owner(o);
  std::vector<std::int64_t> from;  // [source][bucket - b0]
  team.exchange(counts.data(), send, from, recv);
  // Then the entries: each owner's buckets are a run of the dealt list.
  for (std::int64_t o = 0; o < p; ++o)
    send[static_cast<std::size_t>(o)] = static_cast<std::size_t>(offset[owner(o + 1)] - offset[owner(o)]);
  std::vector<std::int64_t> start(static_cast<std::size_t>(mine) + 1, 0);  // each bucket's start in the slice
  for (std::int64_t s = 0; s < p; ++s) {
    recv[static_cast<std::size_t>(s)] = 0;
    for (std::int64_t t = 0; t < mine; ++t) {
      const std::int64_t c = from[static_cast<std::size_t>(s * mine + t)];
      recv[static_cast<std::size_t>(s)] += static_cast<std::size_t>(c);
      start[static_cast<std::size_t>(t) + 1] += c;
    }
  }
  team.exchange(scratch.a.data(), send, scratch.b, recv);
  std::partial_sum(start.begin(), start.end(), start.begin());
  const std::vector<std::int64_t> totals = team.gather(start.back());
  std::vector<std::int64_t> firsts(static_cast<std::size_t>(p) + 1, 0);
  std::partial_sum(totals.begin(), totals.end(), firsts.begin() + 1);
  // Lay out: bucket t takes each source's entries for it in source order.
  scratch.a.resize(static_cast<std::size_t>(start.back()));
  std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
  const std::uint64_t* got = scratch.b.data();
  for (std::int64_t s = 0; s < p; ++s)
    for (std::int64_t t = 0; t < mine; ++t) {
      const std::int64_t c = from[static_cast<std::size_t>(s * mine + t)];
      std::copy(got, got + c, scratch.a.begin() + fill[static_cast<std::size_t>(t)]);
      fill[static_cast<std::size_t>(t)] += c;
      got += c;
    }
  [[maybe_unused]] const int teams = thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic) num_threads(teams)
#endif
  for (std::int64_t t = 0; t < mine; ++t) {
    SplitMix64 rng(draw(bucket_key, static_cast<std::uint64_t>(b0 + t)));
    const auto u = static_cast<std::size_t>(t);
    fisher_yates(rng, scratch.a.data() + start[u], start[u + 1] - start[u]);
  }
  return firsts;
}

/// The processes that asked for an entry: [s0, s1) (lo and hi never decrease).  Without
/// branches on the entry for a few processes (where the entry goes is random: a branch on
/// it would be mispredicted every other time), by bisection for many.
class Askers {
 public:
  Askers(const std::vector<std::int64_t>& lo, const std::vector<std::int64_t>& hi) : lo_(lo), hi_(hi) {}
  std::pair<std::size_t, std::size_t> operator()(std::int64_t k) const noexcept {
    if (lo_.size() <= 16) {
      std::size_t s0 = 0, s1 = 0;
      for (std::size_t s = 0; s < lo_.size(); ++s) {
        s0 += static_cast<std::size_t>(hi_[s] <= k);
        s1 += static_cast<std::size_t>(lo_[s] <= k);
      }
      return {s0, s1};
    }
    return {static_cast<std::size_t>(std::upper_bound(hi_.begin(), hi_.end(), k) - hi_.begin()),
            static_cast<std::size_t>(std::upper_bound(lo_.begin(), lo_.end(), k) - lo_.begin())};
  }
  const std::vector<std::int64_t>& lo() const noexcept { return lo_; }

 private:
  const std::vector<std::int64_t>& lo_;
  const std::vector<std::int64_t>& hi_;
};

/// Step 3's message: each entry k of the slice (positions first..) for every process s that
/// asked for it, in asker order, each asker's in position order: one word (offset in the
/// slice << 32 | k - lo[s]) or, \p wide, two (position, k); send[s] words for s.  Fixed
/// blocks of the slice counted and then written on threads.  \p out must not be \p slice.
void route(const WordVector& slice, std::int64_t first, const Askers& askers, bool wide, std::int32_t threads,
           WordVector& out, Sizes& send) {
  const std::size_t p = askers.lo().size(), words = wide ? 2 : 1;
  const auto m = static_cast<std::int64_t>(slice.size());
  const std::int64_t blocks = std::clamp<std::int64_t>(m / kShuffleBucketRows, 1, 64);
  Sizes place(static_cast<std::size_t>(blocks) * p, 0);  // [block][asker]
  [[maybe_unused]] const int teams = blocks == 1 ? 1 : thread_count(threads);
  // body(block's counts, x, k) for every entry of the slice, fixed blocks on threads.
  auto each_entry = [&](auto body) {
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(static) num_threads(teams)
#endif
    for (std::int64_t j = 0; j < blocks; ++j) {
      std::size_t* c = place.data() + static_cast<std::size_t>(j) * p;
      for (std::int64_t x = m * j / blocks; x < m * (j + 1) / blocks; ++x)
        body(c, x, static_cast<std::int64_t>(slice[static_cast<std::size_t>(x)]));
    }
  };
  each_entry([&](std::size_t* c, std::int64_t, std::int64_t k) {
    const auto [s0, s1] = askers(k);
    for (std::size_t s = s0; s < s1; ++s) c[s] += words;
  });
  send.assign(p, 0);
  std::size_t total = 0;
  for (std::size_t s = 0; s < p; ++s)
    for (std::int64_t j = 0; j < blocks; ++j) {
      std::size_t& c = place[static_cast<std::size_t>(j) * p + s];
      send[s] += c;
      total += std::exchange(c, total);
    }
  out.resize(total);
  std::uint64_t* o = out.data();
  each_entry([&](std::size_t* c, std::int64_t x, std::int64_t k) {
    const auto [s0, s1] = askers(k);
    for (std::size_t s = s0; s < s1; ++s) {
      if (wide) {
        o[c[s]] = static_cast<std::uint64_t>(first + x);
        o[c[s] + 1] = static_cast<std::uint64_t>(k);
      } else {
        o[c[s]] = static_cast<std::uint64_t>(x) << 32 | static_cast<std::uint64_t>(k - askers.lo()[s]);
      }
      c[s] += words;
    }
  });
}

}  // namespace

void shuffle_part(const Team& team, std::uint64_t seed, std::int64_t epoch, std::int64_t n, std::int64_t lo,
                  std::int64_t hi, std::int64_t* pos, std::int64_t* at, std::int32_t threads, ShuffleScratch& scratch) {
  if (team.size() < kShareShuffleFrom || n <= kShuffleBucketRows)  // n <= ...: one Fisher-Yates, cheap anywhere
    shuffle_part(seed, epoch, n, lo, hi, pos, at, threads);
  else
    shared_shuffle_part(team, seed, epoch, n, lo, hi, pos, at, threads, scratch);
}

void shared_shuffle_part(const Team& team, std::uint64_t seed, std::int64_t epoch, std::int64_t n, std::int64_t lo,
                         std::int64_t hi, std::int64_t* pos, std::int64_t* at, std::int32_t threads,
                         ShuffleScratch& scratch) {
  if (team.alone() || n <= kShuffleBucketRows) {  // no buckets to share
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
  const std::vector<std::int64_t> firsts =
      owned_slice(team, deal_key, bucket_key, n, (n + kShuffleBucketRows - 1) / kShuffleBucketRows, threads, scratch);
  // One-word records while every slice and every range is below 2^32 entries (every
  // process decides alike from the same gathered numbers).
  constexpr std::int64_t kWord = std::int64_t{1} << 32;
  bool wide = scratch.wide_records;
  for (std::size_t s = 0; s < p; ++s) wide = wide || firsts[s + 1] - firsts[s] >= kWord || his[s] - los[s] >= kWord;
  Sizes send;
  const auto me = static_cast<std::size_t>(team.rank());
  route(scratch.a, firsts[me], Askers(los, his), wide, threads, scratch.b, send);
  const Sizes ones(p, 1);
  Sizes expect;
  team.exchange(send.data(), ones, expect, ones);
  team.exchange(scratch.b.data(), send, scratch.a, expect);
  const std::size_t words = wide ? 2 : 1;
  if (static_cast<std::int64_t>(scratch.a.size() / words) != std::max<std::int64_t>(0, hi - lo))
    throw std::logic_error("shuffle_part: " + std::to_string(scratch.a.size() / words) +
                           " entries came for a range of " + std::to_string(hi - lo));
  const std::uint64_t* w = scratch.a.data();
  std::size_t j = 0;
  for (std::size_t o = 0; o < p; ++o)  // owner o's records: positions firsts[o]..
    for (const std::size_t end = j + expect[o] / words; j < end; ++j, w += words) {
      pos[j] = wide ? static_cast<std::int64_t>(w[0]) : firsts[o] + static_cast<std::int64_t>(w[0] >> 32);
      at[j] = wide ? static_cast<std::int64_t>(w[1]) : lo + static_cast<std::int64_t>(w[0] & 0xFFFFFFFFu);
    }
}

}  // namespace steepest::detail
