// --standardize: the fit runs on z = (x - mean) / sd and reports the model in original
// units.  Shown on the NIST StRD Longley problem, whose raw design has condition number
// ~2e19 (GD from zero gets no digit) and standardised ~1.2e4.
#include <gtest/gtest.h>

#include <cmath>

#include "gpu_test_support.hpp"
#include "io/csv.hpp"
#include "reference.hpp"
#include "train/standardize.hpp"
#include "steepest/steepest.hpp"

namespace {

using steepest::Device;
using steepest::FitOptions;

double lre(double fit, double cert) {
  const double rel = std::fabs(fit - cert) / std::fabs(cert);
  return rel == 0.0 ? 16.0 : -std::log10(rel);
}

TEST(Standardize, MomentsArePopulationMeanAndSd) {
  const double x[] = {1, 10, 2, 10, 3, 10, 6, 10};  // column 1 is constant
  std::vector<double> mean, scale;
  steepest::detail::column_moments(steepest::make_matrix_view(x, 4, 2), mean, scale);
  EXPECT_DOUBLE_EQ(mean[0], 3.0);
  EXPECT_DOUBLE_EQ(scale[0], std::sqrt((4.0 + 1.0 + 0.0 + 9.0) / 4.0));
  EXPECT_DOUBLE_EQ(mean[1], 10.0);
  EXPECT_EQ(scale[1], 1.0) << "a constant column is left unscaled";
}

TEST(Standardize, ModelIsReportedInOriginalUnits) {
  // Features on scales 1e3 and 1e-3: plain GD at a stable rate barely moves the small one.
  ref::Problem p = ref::planted(3000, 2, 21, 0.01);
  for (std::int64_t i = 0; i < p.n; ++i) {
    p.X[static_cast<std::size_t>(2 * i)] *= 1e3;
    p.X[static_cast<std::size_t>(2 * i + 1)] *= 1e-3;
  }
  const auto [w_ls, b_ls] = ref::least_squares(p);
  FitOptions o;
  o.device = Device::cpu;
  o.standardize = true;
  o.auto_learning_rate = true;
  o.epochs = 300;
  const auto X = steepest::make_matrix_view(p.X.data(), p.n, 2);
  const auto y = steepest::make_vector_view(p.y.data(), p.n);
  const auto r = steepest::fit(X, y, o);
  EXPECT_NEAR(r.weights[0], w_ls[0], 1e-9 * std::fabs(w_ls[0]));
  EXPECT_NEAR(r.weights[1], w_ls[1], 1e-7 * std::fabs(w_ls[1]));
  EXPECT_NEAR(r.bias, b_ls, 1e-9);
  // The reported model predicts what the fit measured.
  EXPECT_NEAR(steepest::evaluate(X, y, r.weights, r.bias, {Device::cpu}).mse, r.final_mse, 1e-12 * r.final_mse);
  // A warm start at the optimum, given in original units, stays there.
  o.init_weights = w_ls;
  o.init_bias = b_ls;
  o.epochs = 5;
  const auto warm = steepest::fit(X, y, o);
  EXPECT_NEAR(warm.loss_history.front(), warm.loss_history.back(), 1e-12 * warm.loss_history.front());
}

void expect_longley(Device device) {
  const auto ds = steepest::io::read_csv(std::string(STEEPEST_TEST_DATA_DIR) + "/nist-strd/Longley.csv");
  const double cert[] = {-3482258.63459582, 15.0618722713733, -0.358191792925910E-01, -2.02022980381683,
                         -1.03322686717359, -0.511041056535807E-01, 1829.15146461355};
  FitOptions o;
  o.device = device;
  o.standardize = true;
  o.auto_learning_rate = true;
  o.epochs = 1000000;
  const auto r = steepest::fit(ds.x_view(), ds.y_view(), o);
  // Measured 2026-11-27 (CPU): 12.5, 11.5, 11.9, 12.5, 12.8, 11.4, 12.5 digits for B0..B6.
  EXPECT_GE(lre(r.bias, cert[0]), 11.0) << r.bias;
  for (std::size_t k = 0; k < 6; ++k) EXPECT_GE(lre(r.weights[k], cert[k + 1]), 11.0) << "B" << k + 1 << " " << r.weights[k];

  // The same budget on the raw data: condition number ~2e19, not one correct digit.
  o.standardize = false;
  const auto raw = steepest::fit(ds.x_view(), ds.y_view(), o);
  EXPECT_LT(lre(raw.weights[0], cert[1]), 2.0) << raw.weights[0];
}

TEST(Standardize, LongleyReachesElevenDigitsOnTheCpu) { expect_longley(Device::cpu); }

TEST(Standardize, LongleyReachesElevenDigitsOnTheGpu) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_longley(Device::cuda);
}

}  // namespace
