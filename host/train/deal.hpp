// Internal: the pieces of permutation.cpp's bucketed shuffle that a shuffle made across
// processes (shuffle_across.cpp) replays too: each row's own bucket draw, the deal of rows
// into buckets, and Fisher-Yates.  One definition, so both give the same order bit for bit.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "train/permutation.hpp"

#if defined(STEEPEST_HAVE_OPENMP)
#include <omp.h>
#endif

namespace steepest::detail {

constexpr std::uint64_t kGamma = 0x9E3779B97F4A7C15ull;  // SplitMix64's increment

/// Output \p k (0-based) of the SplitMix64 stream seeded with \p key, computed alone.
inline std::uint64_t draw(std::uint64_t key, std::uint64_t k) noexcept { return SplitMix64(key + k * kGamma).next(); }

/// The bucket of row \p k: uniform in [0, buckets), from a generator of the row's own.
inline std::int64_t bucket_of(std::uint64_t key, std::int64_t k, std::int64_t buckets) noexcept {
  SplitMix64 rng(draw(key, static_cast<std::uint64_t>(k)));
  return static_cast<std::int64_t>(uniform_below(rng, static_cast<std::uint64_t>(buckets)));
}

template <class Index>
void fisher_yates(SplitMix64& rng, Index* rows, std::int64_t n) noexcept {
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(uniform_below(rng, static_cast<std::uint64_t>(i) + 1));
    std::swap(rows[i], rows[j]);
  }
}

/// The deal of entries [lo, hi) into \p buckets by \p key, in parallel: blocks of entries (a
/// function of hi - lo only), each block's count in every bucket first, which becomes where
/// its next entry for that bucket goes.  put(place, k) for every entry k: places group the
/// entries by bucket, each bucket's in their order, bucket b's from offset[b] (buckets + 1
/// values, the last hi - lo).
template <class Put>
void deal(std::uint64_t key, std::int64_t lo, std::int64_t hi, std::int64_t buckets, std::int32_t threads,
          std::vector<std::int64_t>& offset, Put put) {
  const std::int64_t n = hi - lo, blocks = std::clamp<std::int64_t>((n + kShuffleBucketRows - 1) / kShuffleBucketRows, 1, 64);
  std::vector<std::int64_t> place(static_cast<std::size_t>(blocks * buckets), 0);
  // Each entry's bucket from the first pass, for the second (2 bytes an entry, when the
  // buckets fit 16 bits), instead of drawing it twice: the draws are most of the deal.
  std::vector<std::uint16_t, DefaultInitAllocator<std::uint16_t>> kept_buckets(
      buckets <= 65536 ? static_cast<std::size_t>(n) : 0);  // every entry written before it is read
  std::uint16_t* const kept = kept_buckets.empty() ? nullptr : kept_buckets.data();
  [[maybe_unused]] const int teams = blocks == 1 ? 1 : thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(static) num_threads(teams)
#endif
  for (std::int64_t j = 0; j < blocks; ++j) {
    // The bounds in locals: read through the parallel region's shared frame, they were
    // reloaded (and divided) every row, since the stores might have changed them.
    std::int64_t* c = place.data() + j * buckets;
    const std::int64_t first = lo + n * j / blocks, last = lo + n * (j + 1) / blocks, count = buckets;
    if (kept != nullptr) {
      for (std::int64_t k = first; k < last; ++k) {
        const std::int64_t b = bucket_of(key, k, count);
        kept[k - lo] = static_cast<std::uint16_t>(b);
        ++c[b];
      }
    } else {
      for (std::int64_t k = first; k < last; ++k) ++c[bucket_of(key, k, count)];
    }
  }
  offset.assign(static_cast<std::size_t>(buckets) + 1, n);
  std::int64_t at = 0;
  for (std::int64_t b = 0; b < buckets; ++b) {
    offset[static_cast<std::size_t>(b)] = at;
    for (std::int64_t j = 0; j < blocks; ++j) {
      std::int64_t& c = place[static_cast<std::size_t>(j * buckets + b)];
      const std::int64_t size = c;
      c = at;
      at += size;
    }
  }
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(static) num_threads(teams)
#endif
  for (std::int64_t j = 0; j < blocks; ++j) {
    std::int64_t* c = place.data() + j * buckets;
    const std::int64_t first = lo + n * j / blocks, last = lo + n * (j + 1) / blocks, count = buckets;
    if (kept != nullptr) {
      for (std::int64_t k = first; k < last; ++k) put(c[kept[k - lo]]++, k);
    } else {
      for (std::int64_t k = first; k < last; ++k) put(c[bucket_of(key, k, count)]++, k);
    }
  }
}

}  // namespace steepest::detail
