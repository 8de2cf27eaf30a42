#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <vector>

#include "train/permutation.hpp"

namespace {

using namespace steepest::detail;

TEST(SplitMix64, MatchesThePublishedReferenceSequence) {
  // First outputs of the reference splitmix64.c for seed 1234567.
  SplitMix64 rng(1234567);
  EXPECT_EQ(rng.next(), 6457827717110365317ull);
  EXPECT_EQ(rng.next(), 3203168211198807973ull);
  EXPECT_EQ(rng.next(), 9817491932198370423ull);
  EXPECT_EQ(rng.next(), 4593380528125082431ull);
  EXPECT_EQ(rng.next(), 16408922859458223821ull);
}

TEST(UniformBelow, StaysInRangeAndCoversIt) {
  SplitMix64 rng(7);
  for (std::uint64_t bound : {1ull, 2ull, 3ull, 7ull, 1000ull, (1ull << 63) + 5}) {
    for (int t = 0; t < 2000; ++t) ASSERT_LT(uniform_below(rng, bound), bound);
  }
  std::vector<int> counts(6, 0);
  for (int t = 0; t < 60000; ++t) ++counts[uniform_below(rng, 6)];
  // Each count ~ Binomial(60000, 1/6): mean 10000, sd 91; 6 sd is a loose, safe band.
  for (int c : counts) EXPECT_NEAR(c, 10000, 550);
}

TEST(EpochPermutation, IsAPermutationAndDeterministic) {
  for (std::int64_t n : {1, 2, 31, 1000}) {
    std::vector<std::int64_t> a(static_cast<std::size_t>(n)), b(a.size());
    epoch_permutation(42, 3, a.data(), n);
    epoch_permutation(42, 3, b.data(), n);
    EXPECT_EQ(a, b);
    std::vector<std::int64_t> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int64_t> iota(a.size());
    std::iota(iota.begin(), iota.end(), 0);
    EXPECT_EQ(sorted, iota);
  }
}

TEST(EpochPermutation, DiffersBetweenEpochsAndSeeds) {
  const std::int64_t n = 100;
  std::vector<std::int64_t> a(n), b(n), c(n);
  epoch_permutation(1, 0, a.data(), n);
  epoch_permutation(1, 1, b.data(), n);
  epoch_permutation(2, 0, c.data(), n);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
}

TEST(EpochPermutation, GoldenValuesPinTheOrderAcrossPlatforms) {
  // Expected orders computed by an independent Python implementation of the algorithm
  // documented in permutation.hpp (SplitMix64, Lemire's bounded integer, Fisher-Yates).
  // If this changes, every mini-batch result changes.
  std::vector<std::int64_t> p(10);
  epoch_permutation(0, 0, p.data(), 10);
  EXPECT_EQ(p, (std::vector<std::int64_t>{4, 7, 0, 5, 9, 3, 6, 2, 8, 1}));
  std::vector<std::int64_t> q(12);
  epoch_permutation(42, 7, q.data(), 12);
  EXPECT_EQ(q, (std::vector<std::int64_t>{0, 3, 1, 6, 2, 9, 7, 10, 8, 5, 11, 4}));
}

TEST(EpochPermutation, ShufflesUniformlyOverAllOrders) {
  // n = 3 has 6 orders; over 60000 seeds each should appear ~10000 times.
  std::map<std::vector<std::int64_t>, int> seen;
  for (std::uint64_t s = 0; s < 60000; ++s) {
    std::vector<std::int64_t> p(3);
    epoch_permutation(s, 0, p.data(), 3);
    ++seen[p];
  }
  EXPECT_EQ(seen.size(), 6u);
  for (const auto& [order, count] : seen) EXPECT_NEAR(count, 10000, 550);
}

TEST(EpochShuffle, PermutesAGivenArrayAsTheEpochPermutationPermutesIndices) {
  const std::int64_t n = 1001;
  std::vector<std::int64_t> perm(n), rows(n);
  epoch_permutation(9, 4, perm.data(), n);
  for (std::int64_t k = 0; k < n; ++k) rows[k] = 7 * k + 3;  // any distinct values
  const auto before = rows;
  epoch_shuffle(9, 4, rows.data(), n);
  for (std::int64_t k = 0; k < n; ++k) EXPECT_EQ(rows[k], before[perm[k]]) << k;
}


// ---- the bucketed shuffle (n > kShuffleBucketRows) ----------------------------------------

TEST(EpochPermutation, LargeOrdersArePermutationsWhateverTheThreadCount) {
  const std::int64_t n = 3 * kShuffleBucketRows + 17;
  std::vector<std::int64_t> one(n), two(n), three(n);
  epoch_permutation(5, 2, one.data(), n, 1);
  epoch_permutation(5, 2, two.data(), n, 2);
  epoch_permutation(5, 2, three.data(), n, 3);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, three);
  std::vector<std::int64_t> sorted = one, iota(static_cast<std::size_t>(n));
  std::sort(sorted.begin(), sorted.end());
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  std::vector<std::int64_t> other(n);
  epoch_permutation(5, 3, other.data(), n);
  EXPECT_NE(one, other);
}

TEST(EpochPermutation, LargeGoldenValuesPinTheBucketedOrder) {
  // From an independent Python implementation of the algorithm in permutation.hpp (the
  // deal by counter-based draws, the buckets in order, Fisher-Yates within each).
  const std::int64_t n = 200003;
  std::vector<std::int64_t> p(n);
  epoch_permutation(5, 2, p.data(), n);
  EXPECT_EQ(std::vector<std::int64_t>(p.begin(), p.begin() + 6),
            (std::vector<std::int64_t>{23331, 183322, 56163, 40557, 162661, 170255}));
  EXPECT_EQ(std::vector<std::int64_t>(p.begin() + n / 2, p.begin() + n / 2 + 3),
            (std::vector<std::int64_t>{177289, 89504, 129483}));
  EXPECT_EQ(std::vector<std::int64_t>(p.end() - 3, p.end()), (std::vector<std::int64_t>{137613, 180499, 154766}));
}

TEST(EpochPermutation, LargeOrdersMixEveryPartOfTheInputIntoEveryPartOfTheOutput) {
  // Quarter of the input x quarter of the output: each of the 16 cells holds ~n/16 rows
  // under a uniform permutation (hypergeometric, sd ~ sqrt(n) * 3/16 ~ 68 here); a deal
  // that kept rows near their place, or buckets that were not shuffled, would be far off.
  const std::int64_t n = 2 * kShuffleBucketRows + 1;
  for (std::uint64_t seed : {0ull, 1ull, 77ull}) {
    std::vector<std::int64_t> p(n);
    epoch_permutation(seed, 0, p.data(), n);
    std::int64_t cells[4][4] = {};
    for (std::int64_t k = 0; k < n; ++k) ++cells[4 * p[k] / n][4 * k / n];
    for (const auto& row : cells)
      for (std::int64_t c : row) EXPECT_NEAR(static_cast<double>(c), n / 16.0, 6 * 68.0) << "seed " << seed;
  }
}

TEST(EpochPermutation, LargeOrdersPlaceARowAnywhereWithEqualChance) {
  // Where row 12345 lands over 2000 epochs, in 8 bins: ~250 each (sd 15).
  const std::int64_t n = kShuffleBucketRows + 5;
  std::vector<int> bins(8, 0);
  std::vector<std::int64_t> p(n), where(n);
  for (std::int64_t e = 0; e < 2000; ++e) {
    epoch_permutation(3, e, p.data(), n, 2);
    for (std::int64_t k = 0; k < n; ++k) where[p[k]] = k;
    ++bins[static_cast<std::size_t>(8 * where[12345] / n)];
  }
  for (int c : bins) EXPECT_NEAR(c, 250, 6 * 15);
}

TEST(EpochShuffle, LargeSubsetsAreShuffledAsTheirIndicesAre) {
  const std::int64_t n = kShuffleBucketRows + 999;
  std::vector<std::int64_t> perm(n), rows(n);
  steepest::detail::IndexVector scratch;
  epoch_permutation(9, 4, perm.data(), n);
  for (std::int64_t k = 0; k < n; ++k) rows[k] = 3 * k + 1;
  const auto before = rows;
  epoch_shuffle(9, 4, rows.data(), n, 2, scratch);
  for (std::int64_t k = 0; k < n; ++k) ASSERT_EQ(rows[k], before[perm[k]]) << k;
}

}  // namespace
