// The tutorial's worked example (../shared/SEED.md): points (1, 3) and (2, 5), start at
// m = -1, b = 5, learning rate 0.1.  The expected numbers are derived by hand here, not
// taken from the tutorial (whose printed numbers contain arithmetic mistakes):
//
//   y_hat = m x + b:  x=1 -> 4,  x=2 -> 3;   residuals r = y_hat - y = (1, -2)
//   MSE   = (1^2 + (-2)^2) / 2             = 2.5
//   dMSE/dm = (2/n) sum r x = (1*1 + (-2)*2) = -3
//   dMSE/db = (2/n) sum r   = (1 + (-2))     = -1
//   step:  m = -1 - 0.1 * (-3) = -0.7,   b = 5 - 0.1 * (-1) = 5.1
//   after: y_hat = (4.4, 3.7), r = (1.4, -1.3), MSE = (1.96 + 1.69) / 2 = 1.825
//   minimum: the line through both points, m = 2, b = 1, MSE = 0.
#include <gtest/gtest.h>

#include <cmath>

#include "steepest/steepest.hpp"

namespace {

const double kX[] = {1.0, 2.0};
const double kY[] = {3.0, 5.0};

steepest::MatrixView X() { return steepest::make_matrix_view(kX, 2, 1); }
steepest::VectorView Y() { return steepest::make_vector_view(kY, 2); }

steepest::FitOptions tutorial_options(std::int64_t epochs) {
  steepest::FitOptions o;
  o.learning_rate = 0.1;
  o.epochs = epochs;
  o.init_weights = {-1.0};
  o.init_bias = 5.0;
  o.device = steepest::Device::cpu;
  return o;
}

TEST(Tutorial, LossAndGradientAtTheStart) {
  const auto ev = steepest::evaluate(X(), Y(), {-1.0}, 5.0, {steepest::Device::cpu});
  // Small integers: every operation is exact in float64.
  EXPECT_EQ(ev.mse, 2.5);
  ASSERT_EQ(ev.grad_weights.size(), 1u);
  EXPECT_EQ(ev.grad_weights[0], -3.0);
  EXPECT_EQ(ev.grad_bias, -1.0);
  EXPECT_EQ(ev.backend, "cpu");
}

TEST(Tutorial, FirstStep) {
  const auto r = steepest::fit(X(), Y(), tutorial_options(1));
  ASSERT_EQ(r.epochs_run, 1);
  // -1 - 0.1 * (-3) and 5 - 0.1 * (-1) each round once in float64.
  EXPECT_DOUBLE_EQ(r.weights[0], -0.7);
  EXPECT_DOUBLE_EQ(r.bias, 5.1);
  ASSERT_EQ(r.loss_history.size(), 2u);
  EXPECT_EQ(r.loss_history[0], 2.5);
  EXPECT_NEAR(r.loss_history[1], 1.825, 1e-14);
  EXPECT_EQ(r.final_mse, r.loss_history[1]);
}

TEST(Tutorial, GradientMatchesCentralDifferences) {
  // MSE is quadratic, so central differences are exact up to rounding: error ~ eps/h.
  const double h = 1e-4;
  auto mse = [](double m, double b) {
    return steepest::evaluate(X(), Y(), {m}, b, {steepest::Device::cpu}).mse;
  };
  const double dm = (mse(-1.0 + h, 5.0) - mse(-1.0 - h, 5.0)) / (2 * h);
  const double db = (mse(-1.0, 5.0 + h) - mse(-1.0, 5.0 - h)) / (2 * h);
  EXPECT_NEAR(dm, -3.0, 1e-9);
  EXPECT_NEAR(db, -1.0, 1e-9);
}

TEST(Tutorial, ConvergesToTheLineThroughBothPoints) {
  auto o = tutorial_options(2000);
  const auto r = steepest::fit(X(), Y(), o);
  EXPECT_EQ(r.stop_reason, steepest::StopReason::max_epochs);
  EXPECT_NEAR(r.weights[0], 2.0, 1e-10);
  EXPECT_NEAR(r.bias, 1.0, 1e-10);
  EXPECT_LT(r.final_mse, 1e-20);
}

TEST(Tutorial, LossDecreasesEveryEpochAtTheTutorialRate) {
  // lr 0.1 is below 2/L = 0.2918 (L = largest eigenvalue of the Hessian [[5,3],[3,2]]).
  const auto r = steepest::fit(X(), Y(), tutorial_options(50));
  for (std::size_t k = 1; k < r.loss_history.size(); ++k)
    EXPECT_LT(r.loss_history[k], r.loss_history[k - 1]) << "epoch " << k;
}

TEST(Tutorial, TooLargeAStepDiverges) {
  // The tutorial shows lr = 0.5 flying away; 0.5 > 2/L, so the iterates grow without bound.
  auto o = tutorial_options(100000);
  o.learning_rate = 0.5;
  const auto r = steepest::fit(X(), Y(), o);
  EXPECT_EQ(r.stop_reason, steepest::StopReason::diverged);
  EXPECT_TRUE(std::isfinite(r.weights[0]));
  EXPECT_TRUE(std::isfinite(r.bias));
  EXPECT_TRUE(std::isfinite(r.final_mse));
  EXPECT_NE(r.message.find("diverged"), std::string::npos) << r.message;
  // The error grows by |1 - 0.5 L| = 2.43 per epoch (L = 6.85), the loss by ~5.9: it
  // passes 1e8 x the initial loss within ~11 epochs, long before anything overflows.
  EXPECT_LT(r.epochs_run, 20);
  EXPECT_NE(r.message.find("1e8 times"), std::string::npos) << r.message;
}

}  // namespace
