// Learning-rate schedules, `lr auto` (power-iteration curvature) and the stable-step bound
// in divergence reports.  Driver-level features, so each runs on the CPU and, where a GPU
// is usable, on the CUDA backend too (skipped otherwise).
#include <gtest/gtest.h>

#include <cmath>

#include "gpu_test_support.hpp"
#include "reference.hpp"
#include "train/step_size.hpp"
#include "steepest/steepest.hpp"

namespace {

using steepest::Device;
using steepest::FitOptions;
using steepest::Schedule;
using steepest::StopReason;

const double kX[] = {1.0, 2.0};
const double kY[] = {3.0, 5.0};
// Tutorial data: Hessian 2/n [x 1]^T [x 1] = [[5, 3], [3, 2]], L = (7 + sqrt(45)) / 2.
const double kTutorialL = (7.0 + std::sqrt(45.0)) / 2.0;

steepest::FitResult tutorial_fit(FitOptions o) {
  return steepest::fit(steepest::make_matrix_view(kX, 2, 1), steepest::make_vector_view(kY, 2), o);
}

TEST(Schedules, RatesFollowTheirFormulas) {
  FitOptions o;
  o.schedule = Schedule::constant;
  EXPECT_EQ(steepest::detail::scheduled_rate(o, 0.1, 7), 0.1);
  o.schedule = Schedule::inverse_scaling;
  o.power_t = 0.5;
  EXPECT_DOUBLE_EQ(steepest::detail::scheduled_rate(o, 0.1, 4), 0.05);
  o.schedule = Schedule::exponential;
  o.decay = 0.5;
  EXPECT_DOUBLE_EQ(steepest::detail::scheduled_rate(o, 0.1, 1), 0.1);
  EXPECT_DOUBLE_EQ(steepest::detail::scheduled_rate(o, 0.1, 3), 0.025);
  o.schedule = Schedule::step;
  o.step_epochs = 10;
  EXPECT_DOUBLE_EQ(steepest::detail::scheduled_rate(o, 0.1, 10), 0.1);
  EXPECT_DOUBLE_EQ(steepest::detail::scheduled_rate(o, 0.1, 11), 0.05);
  EXPECT_DOUBLE_EQ(steepest::detail::scheduled_rate(o, 0.1, 21), 0.025);
}

TEST(Schedules, BatchCurvatureInterpolatesBetweenLAndTheRowMaximum) {
  EXPECT_EQ(steepest::detail::batch_curvature(2.0, 30.0, 100, 1), 30.0);
  EXPECT_EQ(steepest::detail::batch_curvature(2.0, 30.0, 100, 100), 2.0);
  EXPECT_EQ(steepest::detail::batch_curvature(2.0, 30.0, 100, 0), 2.0);
  const double mid = steepest::detail::batch_curvature(2.0, 30.0, 100, 10);
  EXPECT_GT(mid, 2.0);
  EXPECT_LT(mid, 30.0);
}

void expect_tutorial_auto(Device device) {
  FitOptions o;
  o.device = device;
  o.auto_learning_rate = true;
  // lr = 1/L contracts the slow direction by 1 - mu/L = 0.979 per epoch: 2000 epochs ~ 1e-19.
  o.epochs = 2000;
  const auto r = tutorial_fit(o);
  EXPECT_NEAR(r.curvature, kTutorialL, 1e-6 * kTutorialL);
  EXPECT_NEAR(r.learning_rate, 1.0 / kTutorialL, 1e-6);
  EXPECT_EQ(r.stop_reason, StopReason::max_epochs);
  EXPECT_NEAR(r.weights[0], 2.0, 1e-8);
  EXPECT_NEAR(r.bias, 1.0, 1e-8);
}

TEST(AutoRate, TutorialCurvatureAndConvergenceOnTheCpu) { expect_tutorial_auto(Device::cpu); }

TEST(AutoRate, TutorialCurvatureAndConvergenceOnTheGpu) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_tutorial_auto(Device::cuda);
}

TEST(AutoRate, MatchesTheLargestEigenvalueOnARandomProblem) {
  // Features scaled differently so the Hessian is far from a multiple of the identity.
  ref::Problem p = ref::planted(3001, 4, 3);
  for (std::int64_t i = 0; i < p.n; ++i) p.X[static_cast<std::size_t>(i * 4 + 2)] *= 10.0;
  // Reference: power iteration on the explicit Hessian in long double.
  std::vector<std::vector<long double>> H(5, std::vector<long double>(5, 0.0L));
  for (std::int64_t i = 0; i < p.n; ++i)
    for (int a = 0; a < 5; ++a)
      for (int b = 0; b < 5; ++b) H[a][b] += (a < 4 ? p.x(i, a) : 1.0L) * (b < 4 ? p.x(i, b) : 1.0L);
  std::vector<long double> v(5, 1.0L);
  long double lambda = 0;
  for (int it = 0; it < 2000; ++it) {
    std::vector<long double> hv(5, 0.0L);
    long double norm = 0;
    for (int a = 0; a < 5; ++a) {
      for (int b = 0; b < 5; ++b) hv[a] += 2.0L / p.n * H[a][b] * v[b];
      norm += hv[a] * hv[a];
    }
    norm = std::sqrt(norm);
    lambda = norm;  // v is normalised after the first step
    for (int a = 0; a < 5; ++a) v[a] = hv[a] / norm;
  }
  FitOptions o;
  o.device = Device::cpu;
  o.auto_learning_rate = true;
  o.epochs = 1;
  const auto r = steepest::fit(steepest::make_matrix_view(p.X.data(), p.n, 4),
                               steepest::make_vector_view(p.y.data(), p.n), o);
  EXPECT_NEAR(r.curvature, static_cast<double>(lambda), 1e-5 * static_cast<double>(lambda));
}

TEST(AutoRate, MiniBatchRateIsStableEvenForSingleRows) {
  ref::Problem p = ref::planted(2000, 16, 4, 0.01);
  FitOptions o;
  o.device = Device::cpu;
  o.auto_learning_rate = true;
  o.batch_size = 1;
  o.epochs = 5;
  const auto r = steepest::fit(steepest::make_matrix_view(p.X.data(), p.n, 16),
                               steepest::make_vector_view(p.y.data(), p.n), o);
  EXPECT_NE(r.stop_reason, StopReason::diverged) << r.message;
  EXPECT_LT(r.learning_rate, 1.0 / r.curvature);  // the batch rule is more cautious than 1/L
  EXPECT_LT(r.final_mse, 0.05 * r.loss_history.front());
}

void expect_divergence_states_the_bound(Device device) {
  FitOptions o;
  o.device = device;
  o.learning_rate = 0.5;
  o.epochs = 100000;
  o.init_weights = {-1.0};
  o.init_bias = 5.0;
  const auto r = tutorial_fit(o);
  ASSERT_EQ(r.stop_reason, StopReason::diverged);
  EXPECT_NEAR(r.curvature, kTutorialL, 1e-6 * kTutorialL);
  EXPECT_NE(r.message.find("2/L = 0.291796"), std::string::npos) << r.message;  // 2/6.8541
}

TEST(Divergence, ReportStatesTheStableStepOnTheCpu) { expect_divergence_states_the_bound(Device::cpu); }

TEST(Divergence, ReportStatesTheStableStepOnTheGpu) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_divergence_states_the_bound(Device::cuda);
}

void expect_schedules_converge(Device device) {
  ref::Problem p = ref::planted(1500, 3, 5, 0.01);
  const auto X = steepest::make_matrix_view(p.X.data(), p.n, 3);
  const auto y = steepest::make_vector_view(p.y.data(), p.n);
  const auto [w_ls, b_ls] = ref::least_squares(p);
  for (Schedule s : {Schedule::inverse_scaling, Schedule::exponential, Schedule::step}) {
    FitOptions o;
    o.device = device;
    o.schedule = s;
    o.learning_rate = 0.9;
    o.decay = 0.97;
    o.power_t = 0.1;
    o.epochs = 300;
    const auto r = steepest::fit(X, y, o);
    EXPECT_LT(r.final_learning_rate, r.learning_rate) << static_cast<int>(s);
    for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(r.weights[k], w_ls[k], 1e-4) << static_cast<int>(s);
  }
}

TEST(Schedules, DecayingSchedulesStillReachTheOptimumOnTheCpu) { expect_schedules_converge(Device::cpu); }

TEST(Schedules, DecayingSchedulesStillReachTheOptimumOnTheGpu) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_schedules_converge(Device::cuda);
}

TEST(Schedules, AdaptiveDividesByFiveWhenStalledAndStops) {
  ref::Problem p = ref::planted(800, 2, 6, 0.1);
  FitOptions o;
  o.device = Device::cpu;
  o.schedule = Schedule::adaptive;
  o.learning_rate = 0.2;
  o.batch_size = 16;  // mini-batch SGD stalls at its noise floor, which triggers the rule
  o.n_iter_no_change = 3;
  o.tol = 1e-3;
  o.epochs = 5000;
  const auto r = steepest::fit(steepest::make_matrix_view(p.X.data(), p.n, 2),
                               steepest::make_vector_view(p.y.data(), p.n), o);
  EXPECT_EQ(r.stop_reason, StopReason::converged);
  EXPECT_LT(r.final_learning_rate, 1e-6 * 0.2 * 5.0 + 1e-18);
  EXPECT_LT(r.epochs_run, 5000);
  // Below 1e-6 x lr0 takes 9 divisions by 5 (5^9 = 1.95e6), each after 3 stalled epochs.
  EXPECT_GE(r.epochs_run, 27);
  // The rate only ever shrinks by factors of 5 from 0.2.
  const double k = std::log(0.2 / r.final_learning_rate) / std::log(5.0);
  EXPECT_NEAR(k, std::round(k), 1e-9);
}

}  // namespace
