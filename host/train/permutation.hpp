// Internal: steepest's own seeded row permutation.  std::shuffle and the standard
// distributions differ between standard libraries, so mini-batch order is defined here,
// bit for bit, once for every platform and backend.
#pragma once

#include <cstdint>

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
/// generation in an interval"), bound >= 1.
std::uint64_t uniform_below(SplitMix64& rng, std::uint64_t bound) noexcept;

/// Seed of the permutation of \p epoch (0-based): a pure function of (seed, epoch), so an
/// epoch's order never depends on what ran before it (resume needs no RNG state).
std::uint64_t epoch_seed(std::uint64_t seed, std::int64_t epoch) noexcept;

/// Fill order[0..n) with the permutation of epoch \p epoch: the identity shuffled by
/// Fisher-Yates (i from n-1 down to 1 swaps with uniform_below(i + 1)).
void epoch_permutation(std::uint64_t seed, std::int64_t epoch, std::int64_t* order,
                       std::int64_t n);

/// The same swaps applied to rows[0..n) as given: afterwards rows[k] = before[perm[k]],
/// with perm = epoch_permutation(seed, epoch).  Shuffles a subset of rows in place.
void epoch_shuffle(std::uint64_t seed, std::int64_t epoch, std::int64_t* rows, std::int64_t n);

}  // namespace steepest::detail
