// The fit driver: convergence, reproducibility, history, stopping rules, failure paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "reference.hpp"
#include "test_support.hpp"
#include "steepest/steepest.hpp"

namespace {

using steepest::Device;
using steepest::FitOptions;
using steepest::StopReason;

using Data = test_support::ProblemViews;

FitOptions cpu(double lr, std::int64_t epochs, std::int64_t batch = 0) {
  FitOptions o;
  o.learning_rate = lr;
  o.epochs = epochs;
  o.batch_size = batch;
  o.device = Device::cpu;
  return o;
}

bool same_bits(const steepest::FitResult& a, const steepest::FitResult& b) {
  return a.weights == b.weights && a.bias == b.bias && a.loss_history == b.loss_history &&
         a.final_mse == b.final_mse && a.epochs_run == b.epochs_run;
}

TEST(Fit, FullBatchConvergesToLeastSquares) {
  Data d(ref::planted(2000, 4, 21));
  const auto [w_ls, b_ls] = ref::least_squares(d.p);
  // Features uniform in [-1, 1): Hessian ~ diag(2/3) plus the intercept's 2; lr 0.5 < 2/L.
  const auto r = steepest::fit(d.X, d.y, cpu(0.5, 3000));
  EXPECT_EQ(r.stop_reason, StopReason::max_epochs);
  EXPECT_EQ(r.backend, "cpu");
  for (std::size_t k = 0; k < w_ls.size(); ++k) EXPECT_NEAR(r.weights[k], w_ls[k], 1e-10) << k;
  EXPECT_NEAR(r.bias, b_ls, 1e-10);
}

TEST(Fit, ColumnMajorAndFloat32StorageConvergeToo) {
  Data d(ref::planted(3001, 3, 22));
  const auto cm = d.p.col_major();
  const auto [w_ls, b_ls] = ref::least_squares(d.p);
  const auto r = steepest::fit(steepest::make_matrix_view(cm.data(), 3001, 3, steepest::Layout::col_major),
                               d.y, cpu(0.5, 3000));
  for (std::size_t k = 0; k < w_ls.size(); ++k) EXPECT_NEAR(r.weights[k], w_ls[k], 1e-10);

  // float32 storage: the optimum of the rounded data differs from the float64 one by
  // ~ eps32 * |w| ~ 1e-7; the fit must reach that data's own optimum.
  std::vector<float> x32(d.p.X.begin(), d.p.X.end()), y32(d.p.y.begin(), d.p.y.end());
  ref::Problem rounded = d.p;
  rounded.X.assign(x32.begin(), x32.end());
  rounded.y.assign(y32.begin(), y32.end());
  const auto [w32, b32] = ref::least_squares(rounded);
  const auto r32 = steepest::fit(steepest::make_matrix_view(x32.data(), 3001, 3),
                                 steepest::make_vector_view(y32.data(), 3001), cpu(0.5, 3000));
  for (std::size_t k = 0; k < w32.size(); ++k) EXPECT_NEAR(r32.weights[k], w32[k], 1e-10);
  EXPECT_NEAR(r32.bias, b32, 1e-10);
}

TEST(Fit, GradientMatchesCentralDifferencesOnRandomProblems) {
  for (unsigned seed : {1u, 2u, 3u}) {
    Data d(ref::planted(501, 5, seed));
    std::vector<double> w{0.1, -0.2, 0.3, 0.0, 1.0};
    const double b = 0.4;
    const auto ev = steepest::evaluate(d.X, d.y, w, b, {Device::cpu});
    const double h = 1e-5;
    for (std::size_t k = 0; k <= w.size(); ++k) {
      auto at = [&](double delta) {
        auto wp = w;
        double bp = b;
        (k < w.size() ? wp[k] : bp) += delta;
        return steepest::evaluate(d.X, d.y, wp, bp, {Device::cpu}).mse;
      };
      const double fd = (at(h) - at(-h)) / (2 * h);
      const double g = k < w.size() ? ev.grad_weights[k] : ev.grad_bias;
      // The MSE is quadratic, so the central difference has no truncation error; what is
      // left is rounding, ~ eps * mse / h ~ 1e-11 here.
      EXPECT_NEAR(fd, g, 1e-8) << "seed " << seed << " parameter " << k;
    }
  }
}

TEST(Fit, MiniBatchIsReproducibleBitForBit) {
  Data d(ref::planted(1037, 6, 23));
  auto o = cpu(0.05, 20, 64);
  o.seed = 7;
  const auto a = steepest::fit(d.X, d.y, o);
  const auto b = steepest::fit(d.X, d.y, o);
  EXPECT_TRUE(same_bits(a, b));
  o.seed = 8;
  const auto c = steepest::fit(d.X, d.y, o);
  EXPECT_NE(a.weights, c.weights) << "the seed must change the row order";
}

TEST(Fit, MiniBatchConvergesNearTheOptimum) {
  Data d(ref::planted(4000, 3, 24, 0.01));
  const auto [w_ls, b_ls] = ref::least_squares(d.p);
  auto o = cpu(0.05, 60, 100);
  const auto r = steepest::fit(d.X, d.y, o);
  // SGD with a constant step hovers around the optimum at a distance ~ sqrt(lr) * noise.
  for (std::size_t k = 0; k < w_ls.size(); ++k) EXPECT_NEAR(r.weights[k], w_ls[k], 5e-3);
  EXPECT_NEAR(r.bias, b_ls, 5e-3);
  EXPECT_LT(r.final_mse, 1.05 * static_cast<double>(ref::loss_grad(d.p, w_ls, b_ls).mse));
}

TEST(Fit, BatchSizeAtLeastNIsFullBatchBitForBit) {
  Data d(ref::planted(777, 4, 25));
  const auto full = steepest::fit(d.X, d.y, cpu(0.3, 40));
  for (std::int64_t b : {777, 778, 100000}) {
    auto o = cpu(0.3, 40, b);
    o.seed = 99;
    EXPECT_TRUE(same_bits(full, steepest::fit(d.X, d.y, o))) << "batch " << b;
  }
}

TEST(Fit, ThreadCountNeverChangesABit) {
  Data d(ref::planted(150001, 3, 26));
  auto o = cpu(0.4, 5);
  o.threads = 1;
  const auto one = steepest::fit(d.X, d.y, o);
  for (int t : {2, 3, 5}) {
    o.threads = t;
    EXPECT_TRUE(same_bits(one, steepest::fit(d.X, d.y, o))) << t << " threads";
  }
  auto mb = cpu(0.05, 2, 50000);
  mb.threads = 1;
  const auto mb1 = steepest::fit(d.X, d.y, mb);
  mb.threads = 2;
  EXPECT_TRUE(same_bits(mb1, steepest::fit(d.X, d.y, mb)));
  // Batches of 1024 shuffled rows: gathered passes split across threads, and an epoch
  // order of more than 65536 rows (the bucketed shuffle, on every thread).
  auto small = cpu(0.05, 2, 1024);
  small.threads = 1;
  const auto small1 = steepest::fit(d.X, d.y, small);
  for (int t : {2, 3}) {
    small.threads = t;
    EXPECT_TRUE(same_bits(small1, steepest::fit(d.X, d.y, small))) << "batch 1024, " << t << " threads";
  }
}

TEST(Fit, HistoryIsTheExactMseAfterEachEpoch) {
  Data d(ref::planted(301, 2, 27));
  for (std::int64_t batch : {0, 32}) {
    auto o = cpu(0.1, 7, batch);
    o.solver = steepest::Solver::residual;  // gram's history is the Gram formula's (test_gram.cpp)
    const auto r = steepest::fit(d.X, d.y, o);
    ASSERT_EQ(r.loss_history.size(), 8u);
    EXPECT_EQ(r.loss_history[0], steepest::evaluate(d.X, d.y, {0.0, 0.0}, 0.0, {Device::cpu}).mse);
    EXPECT_EQ(r.final_mse, r.loss_history.back());
    EXPECT_EQ(r.final_mse, steepest::evaluate(d.X, d.y, r.weights, r.bias, {Device::cpu}).mse);
  }
}

TEST(Fit, RunningAverageHistoryIsCheapButFinalMseStaysExact) {
  Data d(ref::planted(301, 2, 28));
  auto o = cpu(0.1, 5, 32);
  o.history = steepest::HistoryMode::running_average;
  const auto r = steepest::fit(d.X, d.y, o);
  ASSERT_EQ(r.loss_history.size(), 6u);
  EXPECT_EQ(r.final_mse, steepest::evaluate(d.X, d.y, r.weights, r.bias, {Device::cpu}).mse);
  // The running average is taken before each step, so it lags (exceeds) the end-of-epoch MSE
  // while the loss is still falling fast.
  EXPECT_GT(r.loss_history[1], r.loss_history[2]);
  o.history = steepest::HistoryMode::exact;
  const auto exact = steepest::fit(d.X, d.y, o);
  EXPECT_EQ(exact.weights, r.weights) << "history mode must not change the path";
  EXPECT_GT(r.loss_history[1], exact.loss_history[1]);
}

TEST(Fit, ToleranceStopsAConvergedFit) {
  Data d(ref::planted(500, 2, 29));
  auto o = cpu(0.5, 100000);
  o.tol = 1e-9;
  o.n_iter_no_change = 3;
  const auto r = steepest::fit(d.X, d.y, o);
  EXPECT_EQ(r.stop_reason, StopReason::converged);
  EXPECT_LT(r.epochs_run, 100000);
  // The last 3 epochs each failed to beat the best before them by more than tol x best,
  // and the epoch before those did beat it (else the fit would have stopped earlier).
  const auto& h = r.loss_history;
  const std::size_t last = h.size() - 1;
  auto best_before = [&](std::size_t k) { return *std::min_element(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(k)); };
  for (std::size_t k = last - 2; k <= last; ++k) EXPECT_GE(h[k], best_before(k) * (1 - 1e-9)) << k;
  EXPECT_LT(h[last - 3], best_before(last - 3) * (1 - 1e-9));
}

TEST(Fit, CallbackCancels) {
  Data d(ref::planted(100, 2, 30));
  auto o = cpu(0.1, 1000);
  o.on_epoch = [](const steepest::EpochReport& rep) { return rep.epoch < 5; };
  const auto r = steepest::fit(d.X, d.y, o);
  EXPECT_EQ(r.stop_reason, StopReason::cancelled);
  EXPECT_EQ(r.epochs_run, 5);
  EXPECT_EQ(r.loss_history.size(), 6u);
}

TEST(Fit, WithoutInterceptTheBiasStaysPut) {
  Data d(ref::planted(400, 2, 31));
  auto o = cpu(0.5, 2000);
  o.fit_intercept = false;
  const auto r = steepest::fit(d.X, d.y, o);
  EXPECT_EQ(r.bias, 0.0);
  const auto [w_ls, b_ls] = ref::least_squares(d.p, false);
  for (std::size_t k = 0; k < w_ls.size(); ++k) EXPECT_NEAR(r.weights[k], w_ls[k], 1e-10);
  o.init_bias = 1.5;
  EXPECT_EQ(steepest::fit(d.X, d.y, o).bias, 1.5);
}

TEST(Fit, WarmStartAtTheOptimumStaysThere) {
  Data d(ref::planted(400, 3, 32));
  const auto [w_ls, b_ls] = ref::least_squares(d.p);
  auto o = cpu(0.5, 10);
  o.init_weights = w_ls;
  o.init_bias = b_ls;
  const auto r = steepest::fit(d.X, d.y, o);
  for (std::size_t k = 0; k < w_ls.size(); ++k) EXPECT_NEAR(r.weights[k], w_ls[k], 1e-13);
  EXPECT_NEAR(r.loss_history.front(), r.loss_history.back(), 1e-15);
}

TEST(Fit, ZeroEpochsReportsTheInitialLoss) {
  Data d(ref::planted(50, 2, 33));
  const auto r = steepest::fit(d.X, d.y, cpu(0.1, 0));
  EXPECT_EQ(r.epochs_run, 0);
  ASSERT_EQ(r.loss_history.size(), 1u);
  EXPECT_EQ(r.final_mse, r.loss_history[0]);
}

TEST(Fit, DivergenceIsAResultWithFiniteParameters) {
  Data d(ref::planted(200, 3, 34));
  for (std::int64_t batch : {0, 16}) {
    const auto r = steepest::fit(d.X, d.y, cpu(50.0, 100000, batch));
    EXPECT_EQ(r.stop_reason, StopReason::diverged) << "batch " << batch;
    for (double w : r.weights) EXPECT_TRUE(std::isfinite(w));
    EXPECT_TRUE(std::isfinite(r.bias));
    EXPECT_TRUE(std::isfinite(r.final_mse));
    EXPECT_EQ(r.loss_history.size(), static_cast<std::size_t>(r.epochs_run) + 1);
    EXPECT_NE(r.message.find("diverged in epoch"), std::string::npos) << r.message;
  }
}

TEST(FitErrors, BadOptionsAreRefusedBeforeAnyWork) {
  Data d(ref::planted(10, 2, 35));
  auto expect_invalid = [&](FitOptions o, const char* what) {
    EXPECT_THROW(steepest::fit(d.X, d.y, o), steepest::InvalidArgument) << what;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  expect_invalid(cpu(0.0, 1), "lr 0");
  expect_invalid(cpu(-1.0, 1), "lr < 0");
  expect_invalid(cpu(nan, 1), "lr NaN");
  expect_invalid(cpu(std::numeric_limits<double>::infinity(), 1), "lr inf");
  expect_invalid(cpu(0.1, -1), "epochs < 0");
  expect_invalid(cpu(0.1, 1, -5), "batch < 0");
  auto o = cpu(0.1, 1);
  o.tol = -1;
  expect_invalid(o, "tol < 0");
  o = cpu(0.1, 1);
  o.init_weights = {1.0};
  expect_invalid(o, "init weights count");
  o.init_weights = {1.0, nan};
  expect_invalid(o, "init weights NaN");
  o = cpu(0.1, 1);
  o.init_bias = nan;
  expect_invalid(o, "init bias NaN");
  o = cpu(0.1, 1);
  o.threads = -1;
  expect_invalid(o, "threads < 0");
  o = cpu(0.1, 1);
  o.cuda_device = -2;
  expect_invalid(o, "cuda_device < -1");
  o = cpu(0.1, 1, 4);
  o.shuffle_block = 0;
  expect_invalid(o, "shuffle_block < 1");
}

TEST(FitErrors, BadViewsAreRefused) {
  Data d(ref::planted(10, 2, 36));
  const auto o = cpu(0.1, 1);
  auto X = d.X;
  X.stride = 1;
  EXPECT_THROW(steepest::fit(X, d.y, o), steepest::InvalidArgument);
  X = d.X;
  X.rows = 0;
  EXPECT_THROW(steepest::fit(X, steepest::make_vector_view(d.p.y.data(), 0), o), steepest::InvalidArgument);
  X = d.X;
  X.cols = 0;
  EXPECT_THROW(steepest::fit(X, d.y, o), steepest::InvalidArgument);
  X = d.X;
  X.data = nullptr;
  EXPECT_THROW(steepest::fit(X, d.y, o), steepest::InvalidArgument);
  EXPECT_THROW(steepest::fit(d.X, steepest::make_vector_view(d.p.y.data(), 9), o), steepest::InvalidArgument);
  X = d.X;
  X.stride = std::numeric_limits<std::int64_t>::max() / 4;
  EXPECT_THROW(steepest::fit(X, d.y, o), steepest::InvalidArgument) << "index overflow";
  EXPECT_THROW(steepest::evaluate(d.X, d.y, {1.0}, 0.0), steepest::InvalidArgument);
}

TEST(FitErrors, NonFiniteDataIsRefusedNotFitted) {
  Data d(ref::planted(10, 2, 37));
  const double inf = std::numeric_limits<double>::infinity();
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), inf, -inf}) {
    auto x = d.p.X;
    x[7] = bad;
    EXPECT_THROW(steepest::fit(steepest::make_matrix_view(x.data(), 10, 2), d.y, cpu(0.1, 5)),
                 steepest::InvalidArgument) << bad;
  }
  // A finite y whose square overflows cannot give a finite MSE either.
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), inf, 1e300}) {
    auto y = d.p.y;
    y[3] = bad;
    EXPECT_THROW(steepest::fit(d.X, steepest::make_vector_view(y.data(), 10), cpu(0.1, 5)),
                 steepest::InvalidArgument) << bad;
  }
}

TEST(Devices, CudaRequestWithoutAUsableGpuIsAClearError) {
  Data d(ref::planted(10, 2, 38));
  if (!steepest::cuda_devices().empty()) GTEST_SKIP() << "a CUDA device is usable here";
  auto o = cpu(0.1, 1);
  o.device = Device::cuda;
  try {
    steepest::fit(d.X, d.y, o);
    FAIL() << "expected DeviceUnavailable";
  } catch (const steepest::DeviceUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
  }
  o.device = Device::automatic;
  EXPECT_EQ(steepest::fit(d.X, d.y, o).backend, "cpu");
}

}  // namespace
