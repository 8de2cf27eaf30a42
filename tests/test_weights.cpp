// Sample weights through the public API: fit, evaluate, score, resume (the backends'
// weighted passes are tested against a long-double reference in test_cpu_backend.cpp and
// test_cuda_backend.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "gpu_test_support.hpp"
#include "train/permutation.hpp"
#include "reference.hpp"
#include "test_support.hpp"
#include "steepest/steepest.hpp"

namespace {

using steepest::Device;
using steepest::FitOptions;
using steepest::FitResult;
using Data = test_support::ProblemViews;

std::vector<double> integer_weights(std::int64_t n, unsigned seed, int max_weight) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> u(0, max_weight);
  std::vector<double> w(static_cast<std::size_t>(n));
  for (auto& v : w) v = u(gen);
  return w;
}

/// The data with row i repeated w_i times (w_i = 0: dropped).
ref::Problem repeated(const ref::Problem& p, const std::vector<double>& w) {
  ref::Problem r;
  r.d = p.d;
  for (std::int64_t i = 0; i < p.n; ++i)
    for (int k = 0; k < static_cast<int>(w[static_cast<std::size_t>(i)]); ++k) {
      for (std::int64_t j = 0; j < p.d; ++j) r.X.push_back(p.X[static_cast<std::size_t>(i * p.d + j)]);
      r.y.push_back(p.y[static_cast<std::size_t>(i)]);
      ++r.n;
    }
  return r;
}

FitOptions options(Device device, double lr, std::int64_t epochs, std::int64_t batch = 0) {
  FitOptions o;
  o.device = device;
  o.learning_rate = lr;
  o.epochs = epochs;
  o.batch_size = batch;
  return o;
}

void expect_weighted_fit_is_the_fit_of_repeated_rows(Device device) {
  Data d(ref::planted(701, 3, 61, 0.3));
  const auto w = integer_weights(d.p.n, 62, 3);  // 0..3: dropped, once, twice, three times
  Data rep(repeated(d.p, w));
  const auto sw = steepest::make_vector_view(w.data(), d.p.n);
  const FitResult a = steepest::fit(d.X, d.y, sw, options(device, 0.3, 200));
  const FitResult b = steepest::fit(rep.X, rep.y, options(device, 0.3, 200));
  ASSERT_EQ(a.loss_history.size(), b.loss_history.size());
  for (std::size_t k = 0; k < a.loss_history.size(); ++k)
    EXPECT_NEAR(a.loss_history[k], b.loss_history[k], 1e-13 * b.loss_history[k]) << k;
  for (std::size_t k = 0; k < a.weights.size(); ++k) EXPECT_NEAR(a.weights[k], b.weights[k], 1e-12) << k;
  EXPECT_NEAR(a.bias, b.bias, 1e-12);
  EXPECT_NEAR(a.final_mse, b.final_mse, 1e-13 * b.final_mse);
}

TEST(SampleWeights, IntegerWeightsFitTheRepeatedRowsCpu) {
  expect_weighted_fit_is_the_fit_of_repeated_rows(Device::cpu);
}

TEST(SampleWeights, IntegerWeightsFitTheRepeatedRowsCuda) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_weighted_fit_is_the_fit_of_repeated_rows(Device::cuda);
}

void expect_weighted_fit_reaches_weighted_least_squares(Device device) {
  // A misspecified model (y has an x_1^2 term) weighted by the sign of x_1: the weighted
  // optimum is far from the unweighted one, so reaching it shows the weights at work.
  ref::Problem p = ref::planted(3001, 4, 63, 0.1);
  std::vector<double> s(static_cast<std::size_t>(p.n));
  for (std::int64_t i = 0; i < p.n; ++i) {
    const double x1 = p.X[static_cast<std::size_t>(i * p.d)];
    p.y[static_cast<std::size_t>(i)] += 2.0 * x1 * x1;
    s[static_cast<std::size_t>(i)] = x1 > 0.0 ? 4.0 : 0.25;
  }
  Data d(p);
  const auto [w_wls, b_wls] = ref::least_squares(d.p, true, &s);
  const FitResult r =
      steepest::fit(d.X, d.y, steepest::make_vector_view(s.data(), d.p.n), options(device, 0.5, 3000));
  for (std::size_t k = 0; k < r.weights.size(); ++k) EXPECT_NEAR(r.weights[k], w_wls[k], 1e-10) << k;
  EXPECT_NEAR(r.bias, b_wls, 1e-10);
  // The unweighted optimum is far away: the weights mattered.
  const auto [w_ls, b_ls] = ref::least_squares(d.p);
  double apart = std::fabs(b_ls - b_wls);
  for (std::size_t k = 0; k < w_ls.size(); ++k) apart = std::max(apart, std::fabs(w_ls[k] - w_wls[k]));
  EXPECT_GT(apart, 0.1);
}

TEST(SampleWeights, FullBatchReachesWeightedLeastSquaresCpu) {
  expect_weighted_fit_reaches_weighted_least_squares(Device::cpu);
}
TEST(SampleWeights, FullBatchReachesWeightedLeastSquaresCuda) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_weighted_fit_reaches_weighted_least_squares(Device::cuda);
}

// Mini-batch: each batch's gradient is normalised by its own weight sum,
// g = (2 / sum_B s) sum_B s_i r_i a_i, in the shuffled order of steepest's permutation;
// replayed here in long double step by step.
void expect_weighted_minibatch_steps_follow_the_formula(Device device) {
  Data d(ref::planted(503, 3, 69, 0.3));
  const auto s = integer_weights(d.p.n, 70, 3);
  const std::int64_t B = 64, epochs = 4;
  const double lr = 0.1;
  FitOptions o = options(device, lr, epochs, B);
  o.seed = 71;
  const FitResult r = steepest::fit(d.X, d.y, steepest::make_vector_view(s.data(), d.p.n), o);

  const auto dim = static_cast<std::size_t>(d.p.d);
  std::vector<long double> p(dim + 1, 0.0L);
  std::vector<std::int64_t> order(static_cast<std::size_t>(d.p.n));
  for (std::int64_t e = 0; e < epochs; ++e) {
    steepest::detail::epoch_permutation(o.seed, e, order.data(), d.p.n);
    for (std::int64_t lo = 0; lo < d.p.n; lo += B) {
      std::vector<long double> g(dim + 1, 0.0L);
      long double W = 0.0L;
      for (std::int64_t k = lo; k < std::min(d.p.n, lo + B); ++k) {
        const auto i = static_cast<std::size_t>(order[static_cast<std::size_t>(k)]);
        long double res = p[dim] - d.p.y[i];
        for (std::size_t j = 0; j < dim; ++j) res += p[j] * d.p.X[i * dim + j];
        const long double wr = s[i] * res;
        for (std::size_t j = 0; j < dim; ++j) g[j] += wr * d.p.X[i * dim + j];
        g[dim] += wr;
        W += s[i];
      }
      if (W == 0.0L) continue;  // an all-zero batch takes no step
      for (std::size_t j = 0; j <= dim; ++j) p[j] -= lr * 2.0L / W * g[j];
    }
  }
  for (std::size_t j = 0; j < dim; ++j) EXPECT_NEAR(r.weights[j], static_cast<double>(p[j]), 1e-13) << j;
  EXPECT_NEAR(r.bias, static_cast<double>(p[dim]), 1e-13);
}

TEST(SampleWeights, MiniBatchStepsFollowTheFormulaCpu) {
  expect_weighted_minibatch_steps_follow_the_formula(Device::cpu);
}
TEST(SampleWeights, MiniBatchStepsFollowTheFormulaCuda) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_weighted_minibatch_steps_follow_the_formula(Device::cuda);
}

TEST(SampleWeights, ScoreAndEvaluateAreWeighted) {
  // Three rows by hand: y = 1, 2, 4; the model predicts 1, 3, 3 (w = 1, b = 0 on x = 1, 3, 3).
  const std::vector<double> X{1, 3, 3}, y{1, 2, 4}, s{2, 1, 1};
  const auto Xv = steepest::make_matrix_view(X.data(), 3, 1);
  const auto yv = steepest::make_vector_view(y.data(), 3);
  const auto sv = steepest::make_vector_view(s.data(), 3);
  const auto m = steepest::score(Xv, yv, sv, {1.0}, 0.0);
  // r = 0, 1, -1: sum s r^2 = 2, sum s = 4; ybar_s = (2 + 2 + 4) / 4 = 2,
  // sum s (y - 2)^2 = 2 + 0 + 4 = 6.
  EXPECT_DOUBLE_EQ(m.mse, 0.5);
  EXPECT_DOUBLE_EQ(m.mae, 0.5);
  EXPECT_DOUBLE_EQ(m.rmse, std::sqrt(0.5));
  EXPECT_DOUBLE_EQ(m.r2, 1.0 - 2.0 / 6.0);
  steepest::EvaluateOptions eo;
  eo.device = Device::cpu;
  const auto e = steepest::evaluate(Xv, yv, sv, {1.0}, 0.0, eo);
  EXPECT_DOUBLE_EQ(e.mse, 0.5);
  // dMSE/dw = (2/4) sum s r x = 0.5 (0 + 3 - 3) = 0; dMSE/db = 0.5 (0 + 1 - 1) = 0.
  EXPECT_DOUBLE_EQ(e.grad_weights[0], 0.0);
  EXPECT_DOUBLE_EQ(e.grad_bias, 0.0);

  // Unit weights give the unweighted bits.
  Data d(ref::planted(5000, 3, 65));
  const std::vector<double> ones(5000, 1.0);
  const std::vector<double> w{0.3, -0.2, 0.1};
  const auto plain = steepest::score(d.X, d.y, w, 0.5);
  const auto unit = steepest::score(d.X, d.y, steepest::make_vector_view(ones.data(), 5000), w, 0.5);
  EXPECT_EQ(plain.mse, unit.mse);
  EXPECT_EQ(plain.mae, unit.mae);
  EXPECT_EQ(plain.r2, unit.r2);
}

TEST(SampleWeights, BadWeightsAreRefused) {
  Data d(ref::planted(10, 2, 66));
  auto refused = [&](std::vector<double> s, std::int64_t size) {
    EXPECT_THROW(steepest::fit(d.X, d.y, steepest::make_vector_view(s.data(), size), options(Device::cpu, 0.1, 2)),
                 steepest::InvalidArgument);
  };
  std::vector<double> ok(10, 1.0);
  auto with = [&](std::size_t i, double v) {
    auto s = ok;
    s[i] = v;
    return s;
  };
  refused(with(3, -1.0), 10);
  refused(with(0, std::nan("")), 10);
  refused(with(9, INFINITY), 10);
  refused(std::vector<double>(10, 0.0), 10);
  refused(ok, 9);
  EXPECT_NO_THROW(steepest::fit(d.X, d.y, steepest::make_vector_view(with(2, 0.0).data(), 10),
                                options(Device::cpu, 0.1, 2)));
}

TEST(SampleWeights, ResumeIsBitwiseAndRefusesOtherWeights) {
  Data d(ref::planted(900, 3, 67));
  std::vector<double> s = integer_weights(d.p.n, 68, 4);
  s[0] = 1.0;  // row 0 is sampled by the fingerprint; changed below
  const auto sv = steepest::make_vector_view(s.data(), d.p.n);
  FitOptions o = options(Device::cpu, 0.05, 20, 64);
  o.optimizer = steepest::Optimizer::adam;
  const FitResult straight = steepest::fit(d.X, d.y, sv, o);
  std::shared_ptr<steepest::TrainingState> at7;
  FitOptions ck = o;
  ck.checkpoint_every = 7;
  ck.on_checkpoint = [&](const steepest::TrainingState& st) {
    if (st.epoch == 7) at7 = std::make_shared<steepest::TrainingState>(st);
  };
  steepest::fit(d.X, d.y, sv, ck);
  ASSERT_TRUE(at7);
  FitOptions r = o;
  r.resume = at7;
  const FitResult resumed = steepest::fit(d.X, d.y, sv, r);
  EXPECT_EQ(resumed.weights, straight.weights);
  EXPECT_EQ(resumed.bias, straight.bias);
  EXPECT_EQ(resumed.loss_history, straight.loss_history);
  EXPECT_THROW(steepest::fit(d.X, d.y, r), steepest::InvalidArgument) << "unweighted data differ";
  s[0] = 2.0;
  EXPECT_THROW(steepest::fit(d.X, d.y, sv, r), steepest::InvalidArgument) << "other weights differ";
}

}  // namespace
