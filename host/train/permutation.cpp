#include "train/permutation.hpp"

#include <utility>

namespace steepest::detail {
namespace {
__extension__ typedef unsigned __int128 u128;  // GCC/Clang builtin; __extension__ keeps -Wpedantic quiet
}  // namespace

std::uint64_t uniform_below(SplitMix64& rng, std::uint64_t bound) noexcept {
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

std::uint64_t epoch_seed(std::uint64_t seed, std::int64_t epoch) noexcept {
  // Two SplitMix64 outputs mixed so that nearby (seed, epoch) pairs give unrelated streams.
  SplitMix64 a(seed);
  SplitMix64 b(a.next() ^ static_cast<std::uint64_t>(epoch));
  return b.next();
}

void epoch_permutation(std::uint64_t seed, std::int64_t epoch, std::int64_t* order,
                       std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) order[i] = i;
  epoch_shuffle(seed, epoch, order, n);
}

void epoch_shuffle(std::uint64_t seed, std::int64_t epoch, std::int64_t* rows, std::int64_t n) {
  SplitMix64 rng(epoch_seed(seed, epoch));
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(uniform_below(rng, static_cast<std::uint64_t>(i) + 1));
    std::swap(rows[i], rows[j]);
  }
}

}  // namespace steepest::detail
