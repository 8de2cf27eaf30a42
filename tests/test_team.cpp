// A fit across processes (FitOptions::communicator), with threads as the processes
// (thread_team.hpp): the data plan's groups, the Team's collectives, and the contract of
// docs/ARCHITECTURE.md ("Processes"): ranks holding whole shards give the bits of one
// process, for every mode of a fit; any other split is deterministic for that split.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/chunk_plan.hpp"
#include "backend/team.hpp"
#include "gpu_test_support.hpp"
#include "reference.hpp"
#include "steepest/steepest.hpp"
#include "test_support.hpp"
#include "thread_team.hpp"

namespace {

using steepest::detail::cut_into_chunks;
using steepest::detail::cut_into_shards;
using steepest::detail::group_batches_by_shard;
using steepest::detail::plan_data;
using steepest::detail::rank_rows;
using steepest::detail::RowGroup;
using steepest::detail::ShardOf;
using steepest::testing::run_ranks;
using test_support::error_of;

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

::testing::AssertionResult same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << "sizes " << a.size() << " and " << b.size();
  for (std::size_t k = 0; k < a.size(); ++k)
    if (!same_bits(a[k], b[k]))
      return ::testing::AssertionFailure() << "entry " << k << ": " << a[k] << " vs " << b[k];
  return ::testing::AssertionSuccess();
}

void expect_same_fit(const steepest::FitResult& a, const steepest::FitResult& b) {
  EXPECT_TRUE(same_bits(a.weights, b.weights));
  EXPECT_TRUE(same_bits(a.bias, b.bias)) << a.bias << " vs " << b.bias;
  EXPECT_TRUE(same_bits(a.loss_history, b.loss_history));
  EXPECT_TRUE(same_bits(a.heldout_loss_history, b.heldout_loss_history));
  EXPECT_TRUE(same_bits(a.final_mse, b.final_mse)) << a.final_mse << " vs " << b.final_mse;
  EXPECT_TRUE(same_bits(a.learning_rate, b.learning_rate));
  EXPECT_TRUE(same_bits(a.curvature, b.curvature));
  EXPECT_TRUE(same_bits(a.momentum, b.momentum));
  EXPECT_TRUE(same_bits(a.condition_number, b.condition_number));
  EXPECT_EQ(a.expected_epochs, b.expected_epochs);
  EXPECT_EQ(a.epochs_run, b.epochs_run);
  EXPECT_EQ(a.stop_reason, b.stop_reason);
}

// ---- the data plan ----------------------------------------------------------------------

TEST(DataPlan, ShardsAreRunsOfWholeChunksAndAtMost64) {
  for (const std::int64_t n : {1LL, 100LL, 5000LL, 200000LL, 10000000LL, 123456789LL})
    for (const std::int64_t d : {1LL, 3LL, 16LL, 300LL}) {
      const auto plan = plan_data(n, d);
      EXPECT_EQ(plan.rows_per_shard % plan.chunk.rows_per_chunk, 0) << n << " x " << d;
      EXPECT_LE(plan.shards, steepest::detail::kMaxShards);
      EXPECT_GE(plan.shards * plan.rows_per_shard, n);
      EXPECT_LT((plan.shards - 1) * plan.rows_per_shard, n);  // no empty shard
    }
}

TEST(DataPlan, RankRowsCoverEveryRowOnceOnShardBoundaries) {
  for (const std::int64_t n : {1LL, 5000LL, 200000LL})
    for (const int ranks : {1, 2, 3, 4, 7, 100}) {
      const auto plan = plan_data(n, 3);
      std::int64_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        const auto [lo, hi] = rank_rows(n, 3, ranks, r);
        EXPECT_EQ(lo, next);
        EXPECT_LE(lo, hi);
        EXPECT_TRUE(lo == n || lo % plan.rows_per_shard == 0);
        next = hi;
      }
      EXPECT_EQ(next, n);
    }
}

TEST(DataPlan, NaturalPassesAreCutAtChunkBoundariesOfTheWholeFit) {
  std::vector<RowGroup> g;
  // Local rows 0..99 are rows 250..349 of a fit with chunks of 100 rows.
  cut_into_chunks(0, 100, 250, 100, g);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].lo, 0);
  EXPECT_EQ(g[0].hi, 50);
  EXPECT_EQ(g[1].lo, 50);
  EXPECT_EQ(g[1].hi, 100);
  EXPECT_EQ(g[0].rows, nullptr);
}

TEST(DataPlan, OrderedPassesGroupByShardAndCopyOnlyShardsHeldInPart) {
  // Shards of 10 rows; this process holds rows 10..24 (local 0..14): shard 1 whole, shard 2
  // in part.  The order (local indices) is grouped by shard: rows 3, 12, 18, 11, 25, 21, 29.
  const std::vector<std::int64_t> rows = {3, 12, 18, 11, 25, 21, 29};
  std::vector<std::int64_t> order;
  for (const std::int64_t r : rows) order.push_back(r - 10);
  std::vector<std::int64_t> scratch;
  std::vector<RowGroup> g;
  cut_into_shards(order.data(), 0, static_cast<std::int64_t>(order.size()), 10, 15, 40, 10, scratch, g);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].rows, order.data());  // shard 1, held whole: the order itself
  EXPECT_EQ(g[0].lo, 1);
  EXPECT_EQ(g[0].hi, 4);
  EXPECT_EQ(g[1].rows, scratch.data());  // shard 2, rows 20..24 of it here: row 21 only
  ASSERT_EQ(g[1].hi - g[1].lo, 1);
  EXPECT_EQ(g[1].rows[g[1].lo], 21 - 10);
}

TEST(DataPlan, BatchesAreGroupedByShardKeepingTheirOrderWithin) {
  std::vector<std::int64_t> rows = {35, 2, 17, 31, 5, 12, /* batch 2: */ 39, 0, 21};
  std::vector<std::int64_t> scratch, counts;
  group_batches_by_shard(rows.data(), 9, 6, 40, 10, scratch, counts);
  const std::vector<std::int64_t> want = {2, 5, 17, 12, 35, 31, 0, 21, 39};
  EXPECT_EQ(rows, want);
}

TEST(DataPlan, ShardOfIsTheQuotientWithoutADivide) {
  // Every shard size the plan can give is a whole number of chunks; take awkward ones too,
  // and the rows where float64 rounding would go wrong first: multiples and their neighbours,
  // up to the 2^52 the class promises.
  std::mt19937_64 rng(7);
  for (const std::int64_t per : {std::int64_t{1}, std::int64_t{3}, std::int64_t{625008}, std::int64_t{1} << 20,
                                 (std::int64_t{1} << 33) - 1, std::int64_t{999999937}}) {
    const ShardOf shard_of(per);
    auto check = [&](std::int64_t row) {
      if (row < 0 || row >= (std::int64_t{1} << 52)) return;
      ASSERT_EQ(shard_of(row), row / per) << "row " << row << " per " << per;
    };
    for (std::int64_t q : {std::int64_t{0}, std::int64_t{1}, std::int64_t{63}, std::int64_t{1} << 30,
                           ((std::int64_t{1} << 52) - 1) / per})
      for (std::int64_t e = -2; e <= 2; ++e) check(q * per + e);
    for (int k = 0; k < 20000; ++k) check(static_cast<std::int64_t>(rng() >> 12));
  }
}

// ---- the team -------------------------------------------------------------------------------

TEST(Team, CollectivesCombineInRankOrder) {
  run_ranks(3, [](int rank, std::shared_ptr<const steepest::Communicator> comm) {
    steepest::detail::Team team(comm);
    EXPECT_EQ(team.gather(10 * rank), (std::vector<std::int64_t>{0, 10, 20}));
    EXPECT_EQ(team.sum(std::int64_t{rank + 1}), 6);
    EXPECT_EQ(team.max(rank == 1 ? 5.0 : -1.0), 5.0);
    const std::vector<double> mine(static_cast<std::size_t>(rank), rank);  // rank r: r values
    EXPECT_EQ(team.gather_rows(mine.data(), rank, 1), (std::vector<double>{1, 2, 2}));
    const auto share = team.share(100 + rank);
    EXPECT_EQ(share.total, 303);
    EXPECT_EQ(share.first, rank == 0 ? 0 : rank == 1 ? 100 : 201);
    EXPECT_NE(share.reduction, nullptr);
  });
}

// exchange (Communicator::alltoallv, here its portable default): process r sends q + 1
// values 100 r + q to process q, so q gets r's in rank order; a count that differs from
// what the sender sends is an error, not a silent short copy.
TEST(Team, ExchangeSendsEachProcessItsOwnPart) {
  run_ranks(3, [](int rank, std::shared_ptr<const steepest::Communicator> comm) {
    steepest::detail::Team team(comm);
    std::vector<std::int64_t> send;
    std::vector<std::size_t> send_counts, recv_counts(3, static_cast<std::size_t>(rank) + 1);
    for (int q = 0; q < 3; ++q) {
      send_counts.push_back(static_cast<std::size_t>(q) + 1);
      send.insert(send.end(), static_cast<std::size_t>(q) + 1, 100 * rank + q);
    }
    std::vector<std::int64_t> want;
    for (int r = 0; r < 3; ++r) want.insert(want.end(), static_cast<std::size_t>(rank) + 1, 100 * r + rank);
    std::vector<std::int64_t> got;
    team.exchange(send.data(), send_counts, got, recv_counts);
    EXPECT_EQ(got, want);
    std::vector<std::size_t> wrong = recv_counts;
    wrong[0] += 1;
    EXPECT_THROW(team.exchange(send.data(), send_counts, got, wrong), steepest::InvalidArgument);
  });
}

TEST(Team, AnErrorOnOneRankIsEveryRanksError) {
  std::mutex m;
  std::vector<std::string> seen;
  run_ranks(4, [&](int rank, std::shared_ptr<const steepest::Communicator> comm) {
    steepest::detail::Team team(comm);
    const std::string e = error_of([&] { team.agree(rank == 2 ? "row 7: not a number" : ""); });
    std::lock_guard<std::mutex> lock(m);
    seen.push_back(e);
  });
  ASSERT_EQ(seen.size(), 4u);
  for (const auto& e : seen) EXPECT_EQ(e, "rank 2: row 7: not a number");
}

// ---- fits across ranks --------------------------------------------------------------------

/// A problem and one process's fit of it; fit_on(ranks) runs the same fit with the rows
/// split over \p ranks threads by rank_rows() (or by \p split), checking that every rank
/// returns the same result, and returns rank 0's.
struct Distributed {
  ref::Problem p;
  std::vector<double> sw;  // sample weights (empty: none)

  Distributed(std::int64_t n, std::int64_t d, unsigned seed) : p(ref::planted(n, d, seed)) {}

  steepest::FitResult alone(const steepest::FitOptions& o) const {
    return steepest::fit(steepest::make_matrix_view(p.X.data(), p.n, p.d), steepest::make_vector_view(p.y.data(), p.n),
                         weights(0, p.n), o);
  }

  steepest::VectorView weights(std::int64_t lo, std::int64_t hi) const {
    if (sw.empty()) return {};
    return steepest::make_vector_view(sw.data() + lo, hi - lo);
  }

  using Split = std::function<std::pair<std::int64_t, std::int64_t>(int ranks, int rank)>;

  steepest::FitResult fit_on(int ranks, const steepest::FitOptions& o, Split split = nullptr,
                             const std::function<void(int, steepest::FitOptions&)>& adjust = nullptr) const {
    std::vector<steepest::FitResult> out(static_cast<std::size_t>(ranks));
    run_ranks(ranks, [&](int rank, std::shared_ptr<const steepest::Communicator> comm) {
      const auto [lo, hi] = split ? split(ranks, rank) : rank_rows(p.n, p.d, ranks, rank);
      steepest::FitOptions mine = o;
      mine.communicator = comm;
      if (adjust) adjust(rank, mine);
      const double* x = hi > lo ? p.X.data() + lo * p.d : p.X.data();
      out[static_cast<std::size_t>(rank)] =
          steepest::fit(steepest::make_matrix_view(x, hi - lo, p.d), steepest::make_vector_view(p.y.data() + lo, hi - lo),
                        weights(lo, hi), mine);
    });
    for (int r = 1; r < ranks; ++r) {
      SCOPED_TRACE("rank " + std::to_string(r) + " against rank 0");
      expect_same_fit(out[static_cast<std::size_t>(r)], out[0]);
    }
    return out[0];
  }

  /// The same fit on \p ranks threads (rows by rank_rows(), options by \p adjust), expected to
  /// fail: each rank's error message ("" when its fit returned), in rank order.
  std::vector<std::string> errors_on(int ranks, const steepest::FitOptions& o,
                                     const std::function<void(int, steepest::FitOptions&)>& adjust = nullptr) const {
    std::vector<std::string> out(static_cast<std::size_t>(ranks));
    run_ranks(ranks, [&](int rank, std::shared_ptr<const steepest::Communicator> comm) {
      const auto [lo, hi] = rank_rows(p.n, p.d, ranks, rank);
      steepest::FitOptions mine = o;
      mine.communicator = comm;
      if (adjust) adjust(rank, mine);
      out[static_cast<std::size_t>(rank)] = error_of([&] {
        steepest::fit(steepest::make_matrix_view(p.X.data() + lo * p.d, hi - lo, p.d),
                      steepest::make_vector_view(p.y.data() + lo, hi - lo), weights(lo, hi), mine);
      });
    });
    return out;
  }
};

steepest::FitOptions base_options() {
  steepest::FitOptions o;
  o.device = steepest::Device::cpu;
  o.threads = 1;
  o.learning_rate = 0.1;
  o.epochs = 6;
  return o;
}

struct Mode {
  const char* name;
  std::function<void(steepest::FitOptions&, Distributed&)> set;
};

class AcrossRanks : public ::testing::TestWithParam<Mode> {};

TEST_P(AcrossRanks, WholeShardsGiveTheBitsOfOneProcess) {
  // 200000 x 3: chunks of 2731 rows, 37 shards of two chunks.
  Distributed data(200000, 3, 7);
  steepest::FitOptions o = base_options();
  GetParam().set(o, data);
  const steepest::FitResult one = data.alone(o);
  ASSERT_GE(one.epochs_run, 2);
  for (const int ranks : {1, 2, 3, 4}) {
    SCOPED_TRACE(std::to_string(ranks) + " ranks");
    expect_same_fit(data.fit_on(ranks, o), one);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, AcrossRanks,
    ::testing::Values(
        Mode{"full_batch", [](steepest::FitOptions&, Distributed&) {}},
        Mode{"minibatch_shuffled_momentum_running",
             [](steepest::FitOptions& o, Distributed&) {
               o.batch_size = 1000;
               o.optimizer = steepest::Optimizer::momentum;
               o.learning_rate = 0.02;
               o.history = steepest::HistoryMode::running_average;
               o.seed = 3;
             }},
        Mode{"minibatch_unshuffled_exact",
             [](steepest::FitOptions& o, Distributed&) {
               o.batch_size = 4096;
               o.shuffle = false;
             }},
        Mode{"small_batches",
             [](steepest::FitOptions& o, Distributed&) {
               o.batch_size = 37;
               o.learning_rate = 0.005;
               o.epochs = 2;
             }},
        Mode{"weighted_heldout_early_stop",
             [](steepest::FitOptions& o, Distributed& d) {
               d.sw.resize(static_cast<std::size_t>(d.p.n));
               for (std::size_t i = 0; i < d.sw.size(); ++i) d.sw[i] = static_cast<double>(i % 5) * 0.5;
               o.validation_fraction = 0.2;
               o.tol = 1e-3;
               o.n_iter_no_change = 2;
               o.epochs = 30;
             }},
        Mode{"standardized_lr_auto_batches",
             [](steepest::FitOptions& o, Distributed&) {
               o.standardize = true;
               o.auto_learning_rate = true;
               o.batch_size = 5000;
             }},
        Mode{"heldout_shuffled_batches",
             [](steepest::FitOptions& o, Distributed&) {
               o.batch_size = 2500;
               o.validation_fraction = 0.1;
             }},
        Mode{"heldout_unshuffled_batches",
             [](steepest::FitOptions& o, Distributed&) {
               o.batch_size = 2500;
               o.shuffle = false;
               o.validation_fraction = 0.1;
             }},
        Mode{"optimizer_auto_standardized_gram",
             [](steepest::FitOptions& o, Distributed&) {
               o.standardize = true;
               o.optimizer = steepest::Optimizer::automatic;
             }},
        Mode{"optimizer_auto_residual_heldout",
             [](steepest::FitOptions& o, Distributed&) {
               o.optimizer = steepest::Optimizer::automatic;
               o.solver = steepest::Solver::residual;
               o.validation_fraction = 0.1;
             }},
        Mode{"optimizer_auto_batches",
             [](steepest::FitOptions& o, Distributed&) {
               o.optimizer = steepest::Optimizer::automatic;
               o.batch_size = 2500;
             }},
        Mode{"shuffle_block_whole_runs_heldout",
             [](steepest::FitOptions& o, Distributed&) {
               o.batch_size = 2048;
               o.shuffle_block = 256;
               o.validation_fraction = 0.1;
             }},
        Mode{"shuffle_block_across_batches",
             [](steepest::FitOptions& o, Distributed&) {
               o.batch_size = 1000;
               o.shuffle_block = 64;
             }},
        Mode{"minibatch_gram_shuffled_heldout",
             [](steepest::FitOptions& o, Distributed&) {
               o.solver = steepest::Solver::gram;
               o.batch_size = 2500;
               o.validation_fraction = 0.1;
             }},
        Mode{"adam_l1_heldout_shuffled",
             [](steepest::FitOptions& o, Distributed&) {
               o.optimizer = steepest::Optimizer::adam;
               o.l1 = 1e-3;
               o.learning_rate = 0.01;
               o.batch_size = 2500;
               o.validation_fraction = 0.1;
             }}),
    [](const ::testing::TestParamInfo<Mode>& param) { return std::string(param.param.name); });

TEST(AcrossRanksSplits, AnySplitIsDeterministicAndCloseToOneProcess) {
  Distributed data(50000, 4, 11);
  steepest::FitOptions o = base_options();
  o.batch_size = 700;
  // Uneven, off the shard boundaries, and rank 1 without rows.
  const std::vector<std::int64_t> edges = {0, 12345, 12345, 40001, 50000};
  auto split = [&](int, int rank) { return std::make_pair(edges[static_cast<std::size_t>(rank)], edges[static_cast<std::size_t>(rank) + 1]); };
  const steepest::FitResult a = data.fit_on(4, o, split);
  const steepest::FitResult b = data.fit_on(4, o, split);
  expect_same_fit(a, b);
  const steepest::FitResult one = data.alone(o);
  for (std::size_t k = 0; k < one.weights.size(); ++k) EXPECT_NEAR(a.weights[k], one.weights[k], 1e-12);
  EXPECT_NEAR(a.final_mse, one.final_mse, 1e-14);
}

// GPU ranks (make_cuda_backend with a RowShare): each rank's pass sums its rows on the
// device, the host adds the ranks' sums in rank order.  Not the bits of one process (the
// device sums in its own order), but deterministic for a split and within rounding of one
// process, for full batch, shuffled batches with rows held out, and Adam; and every rank
// returns the same result (fit_on checks it).
TEST(AcrossRanksGpu, CudaRanksAreDeterministicAndCloseToOneProcess) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  Distributed data(60000, 5, 21);
  for (int mode = 0; mode < 3; ++mode) {
    SCOPED_TRACE("mode " + std::to_string(mode));
    steepest::FitOptions o = base_options();
    o.device = steepest::Device::cuda;
    o.validate_every = 3;  // the CPU reference across the ranks beside the GPU ranks
    if (mode >= 1) {
      o.batch_size = 2048;
      o.validation_fraction = 0.1;
    }
    if (mode == 2) {
      o.optimizer = steepest::Optimizer::adam;
      o.learning_rate = 0.01;
    }
    const std::vector<std::int64_t> edges = {0, 20011, 41000, 60000};  // off the shard boundaries
    auto split = [&](int, int rank) {
      return std::make_pair(edges[static_cast<std::size_t>(rank)], edges[static_cast<std::size_t>(rank) + 1]);
    };
    const steepest::FitResult a = data.fit_on(3, o, split);
    const steepest::FitResult b = data.fit_on(3, o, split);
    expect_same_fit(a, b);
    EXPECT_EQ(a.backend, "cuda");
    EXPECT_GT(a.validation.checks, 0);
    EXPECT_TRUE(a.validation.passed) << a.validation.max_loss_deviation << " " << a.validation.max_gradient_deviation;
    const steepest::FitResult one = data.alone(o);
    ASSERT_EQ(a.loss_history.size(), one.loss_history.size());
    for (std::size_t k = 0; k < one.weights.size(); ++k)
      EXPECT_NEAR(a.weights[k], one.weights[k], 1e-10 * (1.0 + std::fabs(one.weights[k])));
    for (std::size_t e = 0; e < one.loss_history.size(); ++e)
      EXPECT_NEAR(a.loss_history[e], one.loss_history[e], 1e-10 * one.loss_history[e]) << "epoch " << e;
    EXPECT_NEAR(a.final_mse, one.final_mse, 1e-10 * one.final_mse);
  }
}

// Without a usable GPU, --device cuda across ranks is the device's error on every rank,
// agreed (not a hang, not a silent CPU run).
TEST(AcrossRanksGpu, WithoutAGpuCudaRanksSayWhy) {
  if (steepest::detail::cuda_usable()) GTEST_SKIP() << "a GPU is usable here";
  Distributed data(3000, 2, 3);
  steepest::FitOptions o = base_options();
  o.device = steepest::Device::cuda;
  for (const std::string& why : data.errors_on(2, o))
    EXPECT_NE(why.find("rank 0: device cuda requested"), std::string::npos) << why;
}

// An error of one rank alone when the backends are made (here: rank 1 asks for a CUDA
// device index that does not exist) is every rank's, so rank 0 does not wait for rank 1 in
// the fit's first collective.  (Without a GPU every rank fails alike: the test above.)
TEST(AcrossRanksGpu, ABackendErrorOnOneRankIsEveryRanks) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  Distributed data(3000, 2, 4);
  steepest::FitOptions o = base_options();
  o.device = steepest::Device::cuda;
  const auto errors = data.errors_on(2, o, [](int rank, steepest::FitOptions& mine) {
    if (rank == 1) mine.cuda_device = 1000;
  });
  for (const std::string& why : errors) EXPECT_NE(why.find("rank 1: "), std::string::npos) << why;
}

TEST(AcrossRanksSplits, EvaluateSeesEveryRanksRows) {
  Distributed data(30000, 2, 5);
  const std::vector<double> w = {0.3, -0.2};
  const auto one = steepest::evaluate(steepest::make_matrix_view(data.p.X.data(), data.p.n, 2),
                                      steepest::make_vector_view(data.p.y.data(), data.p.n), w, 0.1,
                                      steepest::EvaluateOptions{steepest::Device::cpu, 1});
  run_ranks(3, [&](int rank, std::shared_ptr<const steepest::Communicator> comm) {
    const auto [lo, hi] = rank_rows(data.p.n, 2, 3, rank);
    steepest::EvaluateOptions eo{steepest::Device::cpu, 1};
    eo.communicator = comm;
    const auto e = steepest::evaluate(steepest::make_matrix_view(data.p.X.data() + lo * 2, hi - lo, 2),
                                      steepest::make_vector_view(data.p.y.data() + lo, hi - lo), w, 0.1, eo);
    EXPECT_TRUE(same_bits(e.mse, one.mse));
    EXPECT_TRUE(same_bits(e.grad_weights, one.grad_weights));
    EXPECT_TRUE(same_bits(e.grad_bias, one.grad_bias));
  });
}

TEST(AcrossRanksSplits, ScoreSeesEveryRanksRows) {
  Distributed data(30000, 2, 6);
  const std::vector<double> w = {0.3, -0.2};
  const auto X = steepest::make_matrix_view(data.p.X.data(), data.p.n, 2);
  const auto one = steepest::score(X, steepest::make_vector_view(data.p.y.data(), data.p.n), w, 0.1);
  run_ranks(4, [&](int rank, std::shared_ptr<const steepest::Communicator> comm) {
    const auto [lo, hi] = rank_rows(data.p.n, 2, 4, rank);
    steepest::EvaluateOptions eo;
    eo.communicator = comm;
    const auto m = steepest::score(steepest::make_matrix_view(data.p.X.data() + lo * 2, hi - lo, 2),
                                   steepest::make_vector_view(data.p.y.data() + lo, hi - lo), {}, w, 0.1, eo);
    EXPECT_TRUE(same_bits(m.mse, one.mse));
    EXPECT_TRUE(same_bits(m.mae, one.mae));
    EXPECT_TRUE(same_bits(m.r2, one.r2));
  });
}

TEST(AcrossRanksSplits, ABadValueOnOneRankFailsEveryRankAlike) {
  Distributed data(9000, 2, 1);
  data.sw.assign(static_cast<std::size_t>(data.p.n), 1.0);
  data.sw[7000] = -1.0;  // on rank 2 of 3
  std::mutex m;
  std::vector<std::string> seen;
  run_ranks(3, [&](int rank, std::shared_ptr<const steepest::Communicator> comm) {
    const auto [lo, hi] = std::make_pair<std::int64_t, std::int64_t>(3000 * rank, 3000 * (rank + 1));
    steepest::FitOptions o = base_options();
    o.communicator = comm;
    const std::string e = error_of([&] {
      steepest::fit(steepest::make_matrix_view(data.p.X.data() + lo * 2, hi - lo, 2),
                    steepest::make_vector_view(data.p.y.data() + lo, hi - lo), data.weights(lo, hi), o);
    });
    std::lock_guard<std::mutex> lock(m);
    seen.push_back(e);
  });
  for (const auto& e : seen)
    EXPECT_EQ(e, "rank 2: sample weights: weight 7001 is -1; weights must be finite and >= 0");
}

TEST(AcrossRanksSplits, OptionsThatDifferBetweenRanksAreRefused) {
  Distributed data(6000, 2, 2);
  std::atomic<int> refused{0};
  run_ranks(2, [&](int rank, std::shared_ptr<const steepest::Communicator> comm) {
    const auto [lo, hi] = rank_rows(data.p.n, 2, 2, rank);
    steepest::FitOptions o = base_options();
    o.communicator = comm;
    if (rank == 1) o.learning_rate = 0.2;
    const std::string e = error_of([&] {
      steepest::fit(steepest::make_matrix_view(data.p.X.data() + lo * 2, hi - lo, 2),
                    steepest::make_vector_view(data.p.y.data() + lo, hi - lo), o);
    });
    if (e.find("differ from rank 0") != std::string::npos) ++refused;
  });
  EXPECT_EQ(refused.load(), 2);
}

// A CPU rank beside a GPU rank would run different collectives (a GPU rank's --validate
// makes reference passes): the device is one of the options every rank must share.
TEST(AcrossRanksSplits, RanksOnDifferentDevicesAreRefused) {
  Distributed data(6000, 2, 2);
  const auto errors = data.errors_on(2, base_options(), [](int rank, steepest::FitOptions& o) {
    if (rank == 1) o.device = steepest::Device::cuda;
  });
  for (const std::string& e : errors) EXPECT_NE(e.find("differ from rank 0"), std::string::npos) << e;
}

TEST(AcrossRanksSplits, AStopOnOneRankStopsEveryRankAfterTheSameStep) {
  Distributed data(40000, 3, 4);
  steepest::FitOptions o = base_options();
  o.batch_size = 500;
  o.epochs = 50;
  std::atomic<bool> stop{false};
  std::atomic<int> steps_on_rank1{0};
  const steepest::FitResult r = data.fit_on(3, o, nullptr, [&](int rank, steepest::FitOptions& mine) {
    if (rank != 1) return;
    mine.stop_requested = &stop;
    mine.on_step = [&](const steepest::StepReport&) {
      if (++steps_on_rank1 == 130) stop = true;  // within epoch 2 (80 batches an epoch)
    };
  });
  EXPECT_EQ(r.stop_reason, steepest::StopReason::interrupted);
  EXPECT_EQ(r.epochs_run, 1);
}

TEST(AcrossRanksSplits, ACheckpointResumesOnAnotherRankCountWithTheSameBits) {
  Distributed data(100000, 3, 9);
  steepest::FitOptions o = base_options();
  o.batch_size = 3000;
  o.optimizer = steepest::Optimizer::nesterov;
  o.learning_rate = 0.02;
  o.epochs = 8;
  const steepest::FitResult whole = data.alone(o);
  // Interrupted within epoch 4 on 3 ranks; resumed on 2.
  std::mutex m;
  std::shared_ptr<steepest::TrainingState> saved;
  std::atomic<bool> stop{false};
  std::atomic<int> steps{0};
  steepest::FitOptions first = o;
  first.on_checkpoint = [&](const steepest::TrainingState& s) {
    std::lock_guard<std::mutex> lock(m);
    saved = std::make_shared<steepest::TrainingState>(s);
  };
  first.stop_requested = &stop;
  first.on_step = [&](const steepest::StepReport&) {
    if (++steps == 3 * 110) stop = true;  // three ranks count each step
  };
  const steepest::FitResult cut = data.fit_on(3, first);
  ASSERT_EQ(cut.stop_reason, steepest::StopReason::interrupted);
  ASSERT_TRUE(saved);
  ASSERT_GT(saved->batch, 0);
  steepest::FitOptions second = o;
  second.resume = saved;
  expect_same_fit(data.fit_on(2, second), whole);
}

}  // namespace
