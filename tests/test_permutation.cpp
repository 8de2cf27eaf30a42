#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "backend/chunk_plan.hpp"
#include "backend/team.hpp"
#include "thread_team.hpp"
#include "train/local_order.hpp"
#include "train/permutation.hpp"
#include "train/run_state.hpp"

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

// FitOptions::shuffle_block: the whole runs of a given order permuted as epoch_shuffle
// permutes their indices, each run whole and in order, the partial tail last; block 1 is
// epoch_shuffle's bits.
TEST(EpochBlockShuffle, PermutesRunsAsTheEpochShufflePermutesTheirIndices) {
  for (const std::int64_t n : {std::int64_t{1}, std::int64_t{7}, std::int64_t{1000}, std::int64_t{70001},
                               std::int64_t{300000}}) {
    for (const std::int64_t block : {std::int64_t{1}, std::int64_t{3}, std::int64_t{64}, std::int64_t{1000}}) {
      SCOPED_TRACE("n " + std::to_string(n) + ", block " + std::to_string(block));
      std::vector<std::int64_t> given(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) given[static_cast<std::size_t>(i)] = 5 * i + 2;  // any values
      std::vector<std::int64_t> got = given;
      IndexVector scratch, runs;
      epoch_block_shuffle(11, 4, got.data(), n, block, 1, scratch, runs);
      // The expected order, built one run at a time from the shuffled run indices.
      const std::int64_t count = block == 1 ? n : n / block;
      std::vector<std::int64_t> index(static_cast<std::size_t>(count)), want;
      std::iota(index.begin(), index.end(), 0);
      epoch_shuffle(11, 4, index.data(), count, 1);
      for (const std::int64_t r : index)
        for (std::int64_t i = r * block; i < (r + 1) * block; ++i) want.push_back(given[static_cast<std::size_t>(i)]);
      for (std::int64_t i = count * block; i < n; ++i) want.push_back(given[static_cast<std::size_t>(i)]);
      EXPECT_EQ(got, want);
      if (block == 1) {
        std::vector<std::int64_t> rows = given;
        epoch_shuffle(11, 4, rows.data(), n, 1);
        EXPECT_EQ(got, rows) << "block 1 is epoch_shuffle";
      }
      std::vector<std::int64_t> two = given;
      epoch_block_shuffle(11, 4, two.data(), n, block, 2, scratch, runs);
      EXPECT_EQ(two, got) << "2 threads";
      if (count >= 20) {  // (20! orders: two epochs do not meet by chance)
        std::vector<std::int64_t> other = given;
        epoch_block_shuffle(11, 5, other.data(), n, block, 1, scratch, runs);
        EXPECT_NE(other, got) << "another epoch";
      }
    }
  }
}

TEST(EpochBlockShuffle, GoldenValuesPinTheOrder) {
  // From the independent Python implementation EpochPermutation's golden values come from:
  // 10 rows in runs of 3 (0-2, 3-5, 6-8 shuffled; 9 last); and the batches of 4 rows in runs
  // of 2, each batch's runs ascending.
  std::vector<std::int64_t> rows(10);
  std::iota(rows.begin(), rows.end(), 0);
  IndexVector scratch, runs;
  epoch_block_shuffle(42, 0, rows.data(), 10, 3, 1, scratch, runs);
  EXPECT_EQ(rows, (std::vector<std::int64_t>{0, 1, 2, 6, 7, 8, 3, 4, 5, 9}));
  epoch_block_batches(42, 0, nullptr, rows.data(), 10, 2, 4, 1, scratch, runs);
  EXPECT_EQ(rows, (std::vector<std::int64_t>{4, 5, 8, 9, 0, 1, 6, 7, 2, 3}));
}

TEST(EpochBlockBatches, AreTheBlockShufflesBatchesEachInAscendingOrder) {
  for (const std::int64_t n : {std::int64_t{999}, std::int64_t{70001}, std::int64_t{300007}}) {
    for (const std::int64_t block : {std::int64_t{4}, std::int64_t{64}}) {
      const std::int64_t batch = 16 * block;
      SCOPED_TRACE("n " + std::to_string(n) + ", block " + std::to_string(block));
      std::vector<std::int64_t> base(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) base[static_cast<std::size_t>(i)] = 3 * i + 1;  // ascending
      std::vector<std::int64_t> shuffled = base, got(base.size()), two(base.size());
      IndexVector scratch, runs;
      epoch_block_shuffle(7, 2, shuffled.data(), n, block, 1, scratch, runs);
      epoch_block_batches(7, 2, base.data(), got.data(), n, block, batch, 1, scratch, runs);
      epoch_block_batches(7, 2, base.data(), two.data(), n, block, batch, 2, scratch, runs);
      EXPECT_EQ(two, got) << "2 threads";
      for (std::int64_t lo = 0; lo < n; lo += batch) {
        const auto a = static_cast<std::ptrdiff_t>(lo), b = static_cast<std::ptrdiff_t>(std::min(n, lo + batch));
        std::vector<std::int64_t> want(shuffled.begin() + a, shuffled.begin() + b);
        std::sort(want.begin(), want.end());
        ASSERT_EQ(std::vector<std::int64_t>(got.begin() + a, got.begin() + b), want) << "batch at " << lo;
      }
      std::vector<std::int64_t> identity(static_cast<std::size_t>(n)), from_null(identity.size());
      std::iota(identity.begin(), identity.end(), 0);
      epoch_block_batches(7, 2, identity.data(), got.data(), n, block, batch, 1, scratch, runs);
      epoch_block_batches(7, 2, nullptr, from_null.data(), n, block, batch, 1, scratch, runs);
      EXPECT_EQ(from_null, got) << "a null base is the identity";
    }
  }
}

// A process's rows of an order it never holds: shuffle_part lists a range of entries as the
// shuffle orders them, for any range, size (one Fisher-Yates or buckets) and thread count.
TEST(ShufflePart, ListsEntriesInTheOrderTheShufflePutsThem) {
  for (const std::int64_t n : {std::int64_t{1}, std::int64_t{2}, std::int64_t{999}, kShuffleBucketRows,
                               kShuffleBucketRows + 1, std::int64_t{300007}}) {
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    epoch_permutation(5, 3, order.data(), n, 1);
    const std::int64_t cuts[][2] = {{0, n}, {0, 0}, {n / 3, n / 3 + 1}, {n / 5, n - n / 7}, {n - 1, n}};
    for (const auto& cut : cuts)
      for (const int threads : {1, 2}) {
        SCOPED_TRACE("n " + std::to_string(n) + ", [" + std::to_string(cut[0]) + ", " + std::to_string(cut[1]) +
                     "), " + std::to_string(threads) + " threads");
        std::vector<std::int64_t> want_pos, want_at;
        for (std::int64_t p = 0; p < n; ++p) {
          const std::int64_t k = order[static_cast<std::size_t>(p)];
          if (k < cut[0] || k >= cut[1]) continue;
          want_pos.push_back(p);
          want_at.push_back(k);
        }
        std::vector<std::int64_t> pos(want_pos.size(), -1), at(want_at.size(), -1);
        shuffle_part(5, 3, n, cut[0], cut[1], pos.data(), at.data(), threads);
        ASSERT_EQ(pos, want_pos);
        ASSERT_EQ(at, want_at);
      }
  }
}

// The split of one process: training rows ascending, then the held-out rows.
std::vector<std::int64_t> whole_split(std::int64_t n, std::int64_t held) {
  std::vector<std::int64_t> split(static_cast<std::size_t>(n));
  if (held > 0)
    heldout_split(9, n, held, split.data());
  else
    std::iota(split.begin(), split.end(), 0);
  return split;
}

// The trainer's whole order of an epoch (Trainer::split_rows, Trainer::set_epoch_order),
// as one process makes it: training positions [0, n_train), then the held-out rows.
std::vector<std::int64_t> whole_epoch_order(std::int64_t epoch, std::int64_t n, std::int64_t held,
                                            const OrderShape& s) {
  const std::vector<std::int64_t> split = whole_split(n, held);
  std::vector<std::int64_t> order = split;
  IndexVector scratch, runs;
  if (s.block > 1 && s.batch % s.block == 0) {
    epoch_block_batches(9, epoch, split.data(), order.data(), s.n_train, s.block, s.batch, 1, scratch, runs);
  } else {
    epoch_block_shuffle(9, epoch, order.data(), s.n_train, s.block, 1, scratch, runs);
    std::vector<std::int64_t> a, b;
    group_epoch_batches(order.data(), s.n_train, s.batch, n, s.rows_per_shard, 1, a, b);
  }
  return order;
}

// Across processes each holds its part of that order alone (train/local_order.hpp): exactly
// its rows of the whole order, in the same order, each keyed by its batch's start (the
// held-out rows by n_train); for splits on and off shard boundaries, with a process
// without rows, shuffled rows, runs (FitOptions::shuffle_block) and a held-out part.
TEST(LocalEpochOrder, EachProcesssPartIsItsRowsOfTheWholeOrder) {
  struct Case {
    std::int64_t n, held, batch, block;
  };
  // The last two: more than kShuffleBucketRows runs, so the runs' shuffle is shared too, with
  // runs that span two processes (asked for by both) and a process without rows asking for one.
  const Case cases[] = {{5000, 0, 70, 1},       {5000, 400, 64, 16},      {5000, 300, 100, 7},
                        {200000, 0, 1000, 1},   {200000, 20000, 2500, 1}, {200000, 0, 1024, 256},
                        {200000, 999, 1024, 64}, {200000, 0, 1000, 96},   {200000, 0, 1000, 2},
                        {200000, 999, 1001, 3}};
  for (const Case& c : cases) {
    const OrderShape shape{c.n - c.held, c.n, c.batch, c.block, plan_data(c.n, 3).rows_per_shard};
    const std::vector<std::int64_t> cuts = {0, c.n / 7, c.n / 7, c.n / 2 + 13, c.n};
    for (const std::int64_t epoch : {0, 4}) {
      SCOPED_TRACE("n " + std::to_string(c.n) + ", held " + std::to_string(c.held) + ", batch " +
                   std::to_string(c.batch) + ", block " + std::to_string(c.block) + ", epoch " + std::to_string(epoch));
      const std::vector<std::int64_t> whole = whole_epoch_order(epoch, c.n, c.held, shape);
      const std::vector<std::int64_t> split_whole = whole_split(c.n, c.held);
      std::vector<std::int64_t> counts(cuts.size() - 1);
      steepest::testing::run_ranks(static_cast<int>(cuts.size() - 1), [&](int r, std::shared_ptr<const steepest::Communicator> comm) {
        const Team team(std::move(comm));
        const std::int64_t first = cuts[static_cast<std::size_t>(r)], m = cuts[static_cast<std::size_t>(r) + 1] - first;
        LocalRows mine;
        mine.count = m;  // without rows held out, as the trainer has it: no list
        if (c.held > 0) {
          local_heldout_split(team, 9, c.n, c.held, first, m, 2, mine.train, mine.heldout);
          mine.count = static_cast<std::int64_t>(mine.train.size());
        }
        const std::vector<std::int64_t> before = team.gather(mine.count);
        for (int q = 0; q < r; ++q) mine.first_input += before[static_cast<std::size_t>(q)];
        counts[static_cast<std::size_t>(r)] = mine.count;
        LocalOrder got, split;
        local_epoch_order(team, 9, epoch, mine, shape, 2, got);
        local_split_order(mine, shape, split);
        std::vector<std::int64_t> rows, keys;
        for (std::int64_t p = 0; p < c.n; ++p) {
          const std::int64_t row = whole[static_cast<std::size_t>(p)];
          if (row < first || row >= first + m) continue;
          rows.push_back(row);
          keys.push_back(p < shape.n_train ? p / c.batch * c.batch : shape.n_train);
        }
        // EXPECT, not ASSERT: a process that returned early would leave the others waiting.
        EXPECT_EQ(std::vector<std::int64_t>(got.rows.begin(), got.rows.end()), rows) << "process " << r;
        EXPECT_EQ(std::vector<std::int64_t>(got.keys.begin(), got.keys.end()), keys) << "process " << r;
        // The split's order: the training rows ascending (this process's training positions
        // of the split), then the held-out rows.
        std::vector<std::int64_t> split_rows, split_keys;
        for (std::int64_t k = 0; k < mine.count; ++k) {
          split_rows.push_back(split_whole[static_cast<std::size_t>(mine.first_input + k)]);
          split_keys.push_back((mine.first_input + k) / c.batch * c.batch);
        }
        split_rows.insert(split_rows.end(), mine.heldout.begin(), mine.heldout.end());
        EXPECT_EQ(std::vector<std::int64_t>(split.rows.begin(), split.rows.end()), split_rows) << "process " << r;
        EXPECT_EQ(std::vector<std::int64_t>(split.keys.begin(), split.keys.begin() + mine.count), split_keys);
      });
      EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), std::int64_t{0}), shape.n_train);
    }
  }
}

// The shuffle's work shared between processes (shuffle_across.cpp): every process gets the
// list shuffle_part makes for its range alone, for 1 to 5 processes, ranges that split the
// entries (one empty) and ranges that overlap their neighbours (runs across processes),
// sizes at and beyond kShuffleBucketRows and fewer buckets than processes, with one- and
// two-word records.
TEST(ShufflePart, SharedBetweenProcessesGivesEachItsOwnPart) {
  for (const std::int64_t n : {kShuffleBucketRows, kShuffleBucketRows + 1, std::int64_t{300007}, std::int64_t{1} << 20})
    for (const int p : {1, 2, 3, 5})
      for (const bool overlap : {false, true})
      for (const bool wide : {false, true}) {
        SCOPED_TRACE("n " + std::to_string(n) + ", " + std::to_string(p) + " processes" + (overlap ? ", overlapping" : "") +
                     (wide ? ", two-word records" : ""));
        std::vector<std::int64_t> lo(static_cast<std::size_t>(p)), hi(lo.size());
        for (int r = 0; r < p; ++r) {
          lo[static_cast<std::size_t>(r)] = r == 1 ? n / 3 : n * r / p;  // process 1 (of >= 3): empty
          hi[static_cast<std::size_t>(r)] = r == 1 && p >= 3 ? n / 3 : n * (r + 1) / p;
          if (overlap && r > 0) lo[static_cast<std::size_t>(r)] = std::max<std::int64_t>(0, lo[static_cast<std::size_t>(r)] - 2);
          if (overlap && r + 1 < p) hi[static_cast<std::size_t>(r)] = std::min(n, hi[static_cast<std::size_t>(r)] + 1);
        }
        for (int r = 1; r < p; ++r) {
          lo[static_cast<std::size_t>(r)] = std::max(lo[static_cast<std::size_t>(r)], lo[static_cast<std::size_t>(r) - 1]);
          hi[static_cast<std::size_t>(r)] = std::max(hi[static_cast<std::size_t>(r)], hi[static_cast<std::size_t>(r) - 1]);
        }
        steepest::testing::run_ranks(p, [&](int r, std::shared_ptr<const steepest::Communicator> comm) {
          const Team team(std::move(comm));
          const std::int64_t a = lo[static_cast<std::size_t>(r)], b = std::max(a, hi[static_cast<std::size_t>(r)]);
          const auto m = static_cast<std::size_t>(b - a);
          std::vector<std::int64_t> want_pos(m), want_at(m), pos(m, -1), at(m, -1);
          shuffle_part(3, 8, n, a, b, want_pos.data(), want_at.data(), 1);
          ShuffleScratch scratch;
          scratch.wide_records = wide;
          shared_shuffle_part(team, 3, 8, n, a, b, pos.data(), at.data(), 2, scratch);
          // Twice into the same scratch (as from one epoch to the next): the same list.
          shared_shuffle_part(team, 3, 8, n, a, b, pos.data(), at.data(), 2, scratch);
          EXPECT_EQ(pos, want_pos) << "process " << r;
          EXPECT_EQ(at, want_at) << "process " << r;
        });
      }
}

}  // namespace
