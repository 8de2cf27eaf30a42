// Wrong results, crashes and silent acceptance of bad input found by attacking the library
// as a skeptical user would (issue 11): each test failed before its fix.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "train/run_state.hpp"
#include "train/standardize.hpp"
#include "steepest/steepest.hpp"
#include "test_support.hpp"

namespace {

using steepest::Device;
using steepest::FitOptions;
using steepest::FitResult;
using steepest::StopReason;
using steepest::TrainingState;
using test_support::error_of;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string g6(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

double rel(double a, double b) { return std::fabs(a - b) / std::fabs(b); }

FitOptions cpu_options() {
  FitOptions o;
  o.device = Device::cpu;
  return o;
}

// ---- item 1: --standardize without an intercept scales, never centres -------------------

// NIST StRD NoInt1 and NoInt2 (y = B1 x, no intercept), certified B1.
TEST(StandardizeNoIntercept, ReachesTheCertifiedNistValues) {
  struct Case {
    std::vector<double> x, y;
    double b1;
  };
  const Case cases[] = {
      {{60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70},
       {130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140},
       2.07438016528926},
      {{4, 5, 6}, {3, 4, 4}, 0.727272727272727},
  };
  for (const Case& c : cases) {
    const auto n = static_cast<std::int64_t>(c.x.size());
    FitOptions o = cpu_options();
    o.standardize = true;
    o.fit_intercept = false;
    o.auto_learning_rate = true;
    o.epochs = 200;
    const FitResult r = steepest::fit(steepest::make_matrix_view(c.x.data(), n, 1),
                                      steepest::make_vector_view(c.y.data(), n), o);
    EXPECT_LE(rel(r.weights[0], c.b1), 1e-13) << r.weights[0] << " (certified " << c.b1 << ")";
    EXPECT_EQ(r.bias, 0.0) << "no intercept was asked for";
  }
}

TEST(StandardizeNoIntercept, ScalesByTheRootMeanSquareAndKeepsAConstantColumn) {
  const double x[] = {3, 0.5, -4, 0.5, 5, 0.5};  // column 1 is constant: it acts as an intercept
  std::vector<double> mean, scale;
  std::vector<char> constant;
  steepest::detail::column_moments(steepest::make_matrix_view(x, 3, 2), false, mean, scale, &constant);
  EXPECT_EQ(mean[0], 0.0);
  EXPECT_EQ(mean[1], 0.0);
  EXPECT_DOUBLE_EQ(scale[0], std::sqrt((9.0 + 16.0 + 25.0) / 3.0));
  EXPECT_DOUBLE_EQ(scale[1], 0.5);
  EXPECT_EQ(constant[1], 0) << "without centring a constant column is a valid column";
  // y = 2 x + 3: the constant column carries the intercept (weight 3 / 0.5 = 6).
  const double y[] = {9, -5, 13};
  FitOptions o = cpu_options();
  o.standardize = true;
  o.fit_intercept = false;
  o.auto_learning_rate = true;
  o.epochs = 2000;
  const FitResult r = steepest::fit(steepest::make_matrix_view(x, 3, 2), steepest::make_vector_view(y, 3), o);
  EXPECT_NEAR(r.weights[0], 2.0, 1e-12);
  EXPECT_NEAR(r.weights[1], 6.0, 1e-12);
  EXPECT_EQ(r.bias, 0.0);
}

// ---- item 2: constant columns, and moments that must not overflow or underflow ------------

TEST(StandardizeConstantColumn, TenCellsOfOneTenthGetWeightZero) {
  // Column 0: ten cells of 0.1 (its rounded mean leaves deviations of 1e-17); column 1 real.
  std::vector<double> X, y;
  for (int i = 0; i < 10; ++i) {
    const double v = i - 4.5;
    X.push_back(0.1);
    X.push_back(v);
    y.push_back(1.5 * v - 2.0);
  }
  std::vector<double> mean, scale;
  std::vector<char> constant;
  steepest::detail::column_moments(steepest::make_matrix_view(X.data(), 10, 2), true, mean, scale, &constant);
  EXPECT_EQ(constant[0], 1);
  EXPECT_EQ(constant[1], 0);
  FitOptions o = cpu_options();
  o.standardize = true;
  o.auto_learning_rate = true;
  o.epochs = 200;
  const FitResult r = steepest::fit(steepest::make_matrix_view(X.data(), 10, 2),
                                    steepest::make_vector_view(y.data(), 10), o);
  EXPECT_EQ(r.weights[0], 0.0) << "a constant column is absorbed by the intercept";
  EXPECT_NEAR(r.weights[1], 1.5, 1e-12);
  EXPECT_NEAR(r.bias, -2.0, 1e-12);
  // A warm start on the constant column moves into the intercept.
  o.init_weights = {10.0, 1.5};
  o.init_bias = -3.0;
  const FitResult warm = steepest::fit(steepest::make_matrix_view(X.data(), 10, 2),
                                       steepest::make_vector_view(y.data(), 10), o);
  EXPECT_EQ(warm.weights[0], 0.0);
  EXPECT_NEAR(warm.bias, -2.0, 1e-12);
}

TEST(StandardizeConstantColumn, NearlyEqualValuesWithinRoundingAreConstant) {
  // Values one ulp apart: a spread of rounding, not of data.
  const double v = 1234.5678;
  const double X[] = {v, 1, std::nextafter(v, 2e3), 2, v, 3, std::nextafter(v, 0.0), 4};
  std::vector<double> mean, scale;
  std::vector<char> constant;
  steepest::detail::column_moments(steepest::make_matrix_view(X, 4, 2), true, mean, scale, &constant);
  EXPECT_EQ(constant[0], 1);
  EXPECT_EQ(constant[1], 0);
  // A spread of 1e-9 relative is data: not constant, and its sd is the exact one.
  const double Y[] = {1.0, 1.0 + 1e-9, 1.0, 1.0 - 1e-9};
  steepest::detail::column_moments(steepest::make_matrix_view(Y, 4, 1), true, mean, scale, &constant);
  EXPECT_EQ(constant[0], 0);
  long double m = 0, ss = 0;
  for (double e : Y) m += e;
  m /= 4;
  for (double e : Y) ss += (e - m) * (e - m);
  const auto sd = static_cast<double>(std::sqrt(ss / 4));
  EXPECT_NEAR(scale[0], sd, 1e-12 * sd);
}

TEST(StandardizeExtremeScales, MomentsOfHugeAndTinyColumnsAreFinite) {
  const double X[] = {1e200, 3e-300, -1e200, -3e-300, 3e200, 1e-300, -3e200, -1e-300};
  std::vector<double> mean, scale;
  steepest::detail::column_moments(steepest::make_matrix_view(X, 4, 2), mean, scale);
  EXPECT_EQ(mean[0], 0.0);
  EXPECT_LE(rel(scale[0], std::sqrt(5.0) * 1e200), 1e-15) << scale[0];
  EXPECT_LE(rel(scale[1], std::sqrt(5.0) * 1e-300), 1e-15) << scale[1];
  std::vector<double> m2, s2;
  steepest::detail::column_moments(steepest::make_matrix_view(X, 4, 2), false, m2, s2);
  EXPECT_LE(rel(s2[0], std::sqrt(5.0) * 1e200), 1e-15) << s2[0];
  EXPECT_LE(rel(s2[1], std::sqrt(5.0) * 1e-300), 1e-15) << s2[1];
  // Values near the largest double: deviations of opposite sign must not overflow.
  const double big[] = {1.5e308, -1.5e308, 1.5e308, -1.5e308};
  steepest::detail::column_moments(steepest::make_matrix_view(big, 4, 1), mean, scale);
  EXPECT_EQ(mean[0], 0.0);
  EXPECT_EQ(scale[0], 1.5e308);
}

TEST(StandardizeExtremeScales, HugeAndTinyColumnsFitCorrectly) {
  // y = 3 a - 2 c + 0.5 with x1 = 1e200 a and x2 = 1e-300 c: w = (3e-200, -2e300).
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  const std::int64_t n = 200;
  std::vector<double> X, y;
  for (std::int64_t i = 0; i < n; ++i) {
    const double a = u(gen), c = u(gen);
    X.push_back(1e200 * a);
    X.push_back(1e-300 * c);
    y.push_back(3.0 * a - 2.0 * c + 0.5);
  }
  FitOptions o = cpu_options();
  o.standardize = true;
  o.auto_learning_rate = true;
  o.epochs = 3000;
  const auto Xv = steepest::make_matrix_view(X.data(), n, 2);
  const auto yv = steepest::make_vector_view(y.data(), n);
  const FitResult r = steepest::fit(Xv, yv, o);
  ASSERT_NE(r.stop_reason, StopReason::diverged) << r.message;
  EXPECT_LE(rel(r.weights[0], 3e-200), 1e-9) << r.weights[0];
  EXPECT_LE(rel(r.weights[1], -2e300), 1e-9) << r.weights[1];
  EXPECT_NEAR(r.bias, 0.5, 1e-9);
  EXPECT_GT(steepest::score(Xv, yv, r.weights, r.bias).r2, 1.0 - 1e-12);
}

// The constant-column rule must not hide non-finite data: a NaN or inf is still refused.
TEST(StandardizeConstantColumn, NonFiniteValuesAreStillRefused) {
  for (const double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()})
    for (const bool intercept : {true, false}) {
      std::vector<double> X{1, 2, 3, 4, 5, 6}, y{1, 2, 3};
      X[2] = bad;
      FitOptions o = cpu_options();
      o.standardize = true;
      o.fit_intercept = intercept;
      o.epochs = 3;
      const std::string m = error_of(
          [&] { steepest::fit(steepest::make_matrix_view(X.data(), 3, 2), steepest::make_vector_view(y.data(), 3), o); });
      EXPECT_TRUE(has(m, "non-finite")) << bad << (intercept ? " with" : " without") << " intercept: " << m;
    }
}

// ---- item 4: the resume fingerprint covers every row -------------------------------------

struct Table {
  std::int64_t n, d;
  std::vector<double> X, y, w;
  Table(std::int64_t rows, std::int64_t cols, unsigned seed) : n(rows), d(cols) {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (std::int64_t i = 0; i < n * d; ++i) X.push_back(u(gen));
    for (std::int64_t i = 0; i < n; ++i) {
      y.push_back(u(gen));
      w.push_back(1.0 + u(gen));
    }
  }
  steepest::MatrixView Xv() const { return steepest::make_matrix_view(X.data(), n, d); }
  steepest::VectorView yv() const { return steepest::make_vector_view(y.data(), n); }
  steepest::VectorView wv() const { return steepest::make_vector_view(w.data(), n); }
};

TEST(Fingerprint, EveryValueOfEveryRowCounts) {
  Table t(10000, 3, 3);
  const std::uint64_t base = steepest::detail::data_fingerprint(t.Xv(), t.yv(), t.wv());
  // Row 5000 is none of the 1024 rows the old fingerprint sampled; nor are the others.
  for (std::int64_t row : {5000, 5001, 7777}) {
    Table x = t, y = t, w = t;
    x.X[static_cast<std::size_t>(row * 3 + 1)] += 1e-12;
    y.y[static_cast<std::size_t>(row)] = -y.y[static_cast<std::size_t>(row)];
    w.w[static_cast<std::size_t>(row)] *= 2.0;
    EXPECT_NE(steepest::detail::data_fingerprint(x.Xv(), x.yv(), x.wv()), base) << "X, row " << row;
    EXPECT_NE(steepest::detail::data_fingerprint(y.Xv(), y.yv(), y.wv()), base) << "y, row " << row;
    EXPECT_NE(steepest::detail::data_fingerprint(w.Xv(), w.yv(), w.wv()), base) << "weights, row " << row;
  }
  // Two rows swapped: the same multiset of values, other data.
  Table s = t;
  std::swap(s.y[100], s.y[9000]);
  EXPECT_NE(steepest::detail::data_fingerprint(s.Xv(), s.yv(), s.wv()), base);
  // No weights differs from unit weights.
  EXPECT_NE(steepest::detail::data_fingerprint(t.Xv(), t.yv(), {}), base);
}

TEST(Fingerprint, IsTheValuesNotTheLayoutAndNotTheThreadCount) {
  Table t(3001, 4, 4);
  const std::uint64_t base = steepest::detail::data_fingerprint(t.Xv(), t.yv(), {});
  // The same values column-major, and row-major with padding: the same data.
  std::vector<double> cm(t.X.size()), padded(static_cast<std::size_t>(t.n * 6));
  for (std::int64_t i = 0; i < t.n; ++i)
    for (std::int64_t k = 0; k < t.d; ++k) {
      cm[static_cast<std::size_t>(k * t.n + i)] = t.X[static_cast<std::size_t>(i * t.d + k)];
      padded[static_cast<std::size_t>(i * 6 + k)] = t.X[static_cast<std::size_t>(i * t.d + k)];
    }
  EXPECT_EQ(steepest::detail::data_fingerprint(
                steepest::make_matrix_view(cm.data(), t.n, t.d, steepest::Layout::col_major), t.yv(), {}),
            base);
  EXPECT_EQ(steepest::detail::data_fingerprint(
                steepest::make_matrix_view(padded.data(), t.n, t.d, steepest::Layout::row_major, 6), t.yv(), {}),
            base);
  // A float32 copy is other data.
  std::vector<float> f(t.X.begin(), t.X.end());
  EXPECT_NE(steepest::detail::data_fingerprint(steepest::make_matrix_view(f.data(), t.n, t.d), t.yv(), {}), base);
#ifdef _OPENMP
  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    EXPECT_EQ(steepest::detail::data_fingerprint(t.Xv(), t.yv(), {}), base) << threads << " threads";
  }
  omp_set_num_threads(omp_get_num_procs());
#endif
}

TEST(Fingerprint, ResumeRefusesDataChangedInTheMiddle) {
  Table t(10000, 2, 5);
  FitOptions o = cpu_options();
  o.learning_rate = 0.2;
  o.epochs = 3;
  std::shared_ptr<TrainingState> last;
  o.on_checkpoint = [&](const TrainingState& s) { last = std::make_shared<TrainingState>(s); };
  steepest::fit(t.Xv(), t.yv(), o);
  ASSERT_TRUE(last);
  Table changed = t;
  changed.X[5000 * 2] += 0.5;
  FitOptions r = cpu_options();
  r.learning_rate = 0.2;
  r.epochs = 6;
  r.resume = last;
  EXPECT_TRUE(has(error_of([&] { steepest::fit(changed.Xv(), changed.yv(), r); }), "the data differ"));
  EXPECT_NO_THROW(steepest::fit(t.Xv(), t.yv(), r));
}

// ---- item 5: lr auto and the divergence bound include L2; momentum, Nesterov, Adam ---------

// One standardised feature: the data's curvature is about 2, so with l2 = 10 the objective's
// is about 22 (the reported case: lr auto 0.4997 diverged).
struct OneFeature {
  std::int64_t n = 500;
  std::vector<double> x, y;
  OneFeature() {
    std::mt19937_64 gen(11);
    std::normal_distribution<double> e(0.0, 1.0);
    for (std::int64_t i = 0; i < n; ++i) {
      x.push_back(e(gen));
      y.push_back(3.0 * x.back() + 1.0 + 0.1 * e(gen));
    }
  }
  steepest::MatrixView X() const { return steepest::make_matrix_view(x.data(), n, 1); }
  steepest::VectorView Y() const { return steepest::make_vector_view(y.data(), n); }
  // The minimiser of MSE + l2 w^2 with an intercept.
  std::pair<double, double> ridge(double l2) const {
    double mx = 0, my = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      mx += x[static_cast<std::size_t>(i)];
      my += y[static_cast<std::size_t>(i)];
    }
    mx /= static_cast<double>(n);
    my /= static_cast<double>(n);
    double sxx = 0, sxy = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      sxx += (x[static_cast<std::size_t>(i)] - mx) * (x[static_cast<std::size_t>(i)] - mx);
      sxy += (x[static_cast<std::size_t>(i)] - mx) * (y[static_cast<std::size_t>(i)] - my);
    }
    sxx /= static_cast<double>(n);
    sxy /= static_cast<double>(n);
    const double w = sxy / (sxx + l2);
    return {w, my - w * mx};
  }
};

TEST(PenaltyCurvature, LrAutoWithL2ConvergesToTheRidgeSolution) {
  const OneFeature p;
  FitOptions o = cpu_options();
  o.auto_learning_rate = true;
  o.l2 = 10.0;
  o.epochs = 800;
  const FitResult r = steepest::fit(p.X(), p.Y(), o);
  ASSERT_NE(r.stop_reason, StopReason::diverged) << r.message;
  EXPECT_GT(r.curvature, 20.0) << "the curvature of MSE + l2 |w|^2 includes 2 l2";
  EXPECT_DOUBLE_EQ(r.learning_rate, 1.0 / r.curvature);
  const auto [w, b] = p.ridge(10.0);
  EXPECT_NEAR(r.weights[0], w, 1e-12);
  EXPECT_NEAR(r.bias, b, 1e-12);
  // Mini-batches too: the batch curvature gets the penalty's 2 l2 as well.
  o.batch_size = 50;
  o.epochs = 50;
  const FitResult mb = steepest::fit(p.X(), p.Y(), o);
  EXPECT_NE(mb.stop_reason, StopReason::diverged) << mb.message;
  EXPECT_LE(mb.learning_rate, 1.0 / 20.0);
}

TEST(PenaltyCurvature, DivergenceStatesTheBoundOfThePenalisedObjective) {
  const OneFeature p;
  FitOptions o = cpu_options();
  o.learning_rate = 0.5;  // below the data's 2/L ~ 1, above the objective's 2/(L + 20) ~ 0.09
  o.l2 = 10.0;
  o.epochs = 100;
  const FitResult r = steepest::fit(p.X(), p.Y(), o);
  ASSERT_EQ(r.stop_reason, StopReason::diverged);
  EXPECT_GT(r.curvature, 20.0);
  EXPECT_TRUE(has(r.message, g6(2.0 / r.curvature))) << r.message;
  EXPECT_TRUE(has(r.message, "l2")) << r.message;
  EXPECT_LT(2.0 / r.curvature, 0.5);
}

// Steps at 0.97 and 1.03 times the rule's bound: the first converges, the second diverges,
// and the message states that bound.
void expect_bound(steepest::Optimizer opt, double momentum, double bound_times_L, const std::string& formula) {
  const OneFeature p;
  FitOptions o = cpu_options();
  o.optimizer = opt;
  o.momentum = momentum;
  o.fit_intercept = false;  // one parameter: the bound is exact
  o.auto_learning_rate = true;
  o.epochs = 0;
  const double L = steepest::fit(p.X(), p.Y(), o).curvature;
  o.auto_learning_rate = false;
  o.epochs = 3000;
  o.learning_rate = 0.97 * bound_times_L / L;
  const FitResult below = steepest::fit(p.X(), p.Y(), o);
  EXPECT_NE(below.stop_reason, StopReason::diverged) << below.message;
  o.learning_rate = 1.03 * bound_times_L / L;
  const FitResult above = steepest::fit(p.X(), p.Y(), o);
  ASSERT_EQ(above.stop_reason, StopReason::diverged);
  EXPECT_TRUE(has(above.message, formula)) << above.message;
  EXPECT_TRUE(has(above.message, g6(bound_times_L / above.curvature))) << above.message;
}

TEST(OptimizerBounds, GradientDescent) { expect_bound(steepest::Optimizer::gd, 0.0, 2.0, "2/L"); }

TEST(OptimizerBounds, HeavyBallMomentum) {
  expect_bound(steepest::Optimizer::momentum, 0.9, 2.0 * 1.9, "2(1 + m)/L");
}

TEST(OptimizerBounds, Nesterov) {
  // v = m v + g, w -= lr (g + m v) on a quadratic of curvature L: stable iff
  // lr L < 2 (1 + m) / (1 + 2 m).
  expect_bound(steepest::Optimizer::nesterov, 0.9, 2.0 * 1.9 / 2.8, "2(1 + m)/((1 + 2m) L)");
}

TEST(OptimizerBounds, AdamGetsNoCurvatureBound) {
  const OneFeature p;
  FitOptions o = cpu_options();
  o.optimizer = steepest::Optimizer::adam;
  o.learning_rate = 1e7;
  o.epochs = 50;
  const FitResult r = steepest::fit(p.X(), p.Y(), o);
  ASSERT_EQ(r.stop_reason, StopReason::diverged);
  EXPECT_FALSE(has(r.message, "2/L")) << r.message;
  EXPECT_TRUE(has(r.message, "adam")) << r.message;
}

// |x| ~ 1e150: the curvature ~ 1e300 is finite; its power iteration must not overflow.
TEST(CurvatureOverflow, HugeFeaturesGetTheirCurvature) {
  const OneFeature p;
  std::vector<double> x = p.x;
  for (double& v : x) v *= 1e150;
  FitOptions o = cpu_options();
  o.fit_intercept = false;
  o.auto_learning_rate = true;
  o.epochs = 50;
  const FitResult r = steepest::fit(steepest::make_matrix_view(x.data(), p.n, 1), p.Y(), o);
  ASSERT_NE(r.stop_reason, StopReason::diverged) << r.message;
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += p.x[i] * p.x[i];
    sxy += p.x[i] * p.y[i];
  }
  EXPECT_LE(rel(r.curvature, 2e300 * sxx / static_cast<double>(p.n)), 1e-6) << r.curvature;
  EXPECT_LE(rel(r.weights[0], 1e-150 * sxy / sxx), 1e-10) << r.weights[0];
}

// |x| ~ 1e160: the curvature overflows float64; say so, not "all-zero features", never "inf".
TEST(CurvatureOverflow, OverflowIsNamedNotCalledZero) {
  const OneFeature p;
  std::vector<double> x = p.x;
  for (double& v : x) v *= 1e160;
  FitOptions o = cpu_options();
  o.auto_learning_rate = true;
  const std::string m = error_of([&] { steepest::fit(steepest::make_matrix_view(x.data(), p.n, 1), p.Y(), o); });
  EXPECT_TRUE(has(m, "overflow")) << m;
  EXPECT_FALSE(has(m, "all-zero")) << m;
  EXPECT_FALSE(has(m, "inf")) << m;
  // A fixed rate diverges; the message names the overflow instead of "2/L = inf" or "2/L = 0".
  o.auto_learning_rate = false;
  o.learning_rate = 1e-3;
  o.epochs = 10;
  const FitResult r = steepest::fit(steepest::make_matrix_view(x.data(), p.n, 1), p.Y(), o);
  ASSERT_EQ(r.stop_reason, StopReason::diverged);
  EXPECT_TRUE(has(r.message, "overflow")) << r.message;
  EXPECT_FALSE(has(r.message, "= inf")) << r.message;
  EXPECT_FALSE(has(r.message, "2/L = 0")) << r.message;
  // All-zero features are still called that.
  std::vector<double> zeros(static_cast<std::size_t>(p.n), 0.0);
  o.auto_learning_rate = true;
  o.fit_intercept = false;
  const std::string z = error_of([&] { steepest::fit(steepest::make_matrix_view(zeros.data(), p.n, 1), p.Y(), o); });
  EXPECT_TRUE(has(z, "zero")) << z;
}

// An l2 near the float64 maximum overflows the curvature of ordinary data: the message
// names the penalty, not features the data does not have.
TEST(CurvatureOverflow, AnOverflowingL2IsNamedAsTheCause) {
  const OneFeature p;
  FitOptions o = cpu_options();
  o.l2 = 1e308;
  o.auto_learning_rate = true;
  const std::string m = error_of([&] { steepest::fit(p.X(), p.Y(), o); });
  EXPECT_TRUE(has(m, "l2")) << m;
  EXPECT_FALSE(has(m, "1e154")) << m;
  o.auto_learning_rate = false;
  o.learning_rate = 1e-3;
  o.epochs = 10;
  const FitResult r = steepest::fit(p.X(), p.Y(), o);
  ASSERT_EQ(r.stop_reason, StopReason::diverged);
  EXPECT_TRUE(has(r.message, "smaller l2")) << r.message;
  EXPECT_FALSE(has(r.message, "1e154")) << r.message;
}

// ---- item 6: a held-out split whose weights sum to zero on one side ----------------------

TEST(HeldoutWeights, ASideWithZeroTotalWeightIsRefused) {
  const Table t(20, 2, 6);
  const double fraction = 0.25;
  std::vector<std::int64_t> split(20);
  steepest::detail::heldout_split(0, 20, 5, split.data());
  for (const bool zero_heldout : {true, false}) {
    std::vector<double> w(20, 0.0);
    for (std::size_t p = 0; p < 20; ++p) {
      const bool heldout = p >= 15;
      w[static_cast<std::size_t>(split[p])] = heldout == zero_heldout ? 0.0 : 1.0;
    }
    FitOptions o = cpu_options();
    o.learning_rate = 0.1;
    o.epochs = 20;
    o.tol = 1e-3;
    o.validation_fraction = fraction;
    const std::string m = error_of(
        [&] { steepest::fit(t.Xv(), t.yv(), steepest::make_vector_view(w.data(), 20), o); });
    EXPECT_TRUE(has(m, "0.25")) << m;
    EXPECT_TRUE(has(m, zero_heldout ? "held-out" : "training")) << m;
    EXPECT_TRUE(has(m, "zero")) << m;
  }
}

// ---- item 12: --standardize with an on_epoch callback (AddressSanitizer caught a vector
// used after its scope) -------------------------------------------------------------------

TEST(StandardizeCallbacks, OnEpochAndOnStepSeeTheModelInOriginalUnits) {
  Table t(300, 2, 12);
  for (std::size_t i = 0; i < t.X.size(); i += 2) t.X[i] = 100.0 + 50.0 * t.X[i];
  FitOptions o = cpu_options();
  o.standardize = true;
  o.learning_rate = 0.3;
  o.epochs = 20;
  std::vector<double> last_epoch, last_step;
  double epoch_bias = 0, step_bias = 0;
  o.on_epoch = [&](const steepest::EpochReport& r) {
    last_epoch = *r.weights;
    epoch_bias = r.bias;
    return true;
  };
  o.on_step = [&](const steepest::StepReport& r) {
    last_step = *r.weights;
    step_bias = r.bias;
  };
  const FitResult r = steepest::fit(t.Xv(), t.yv(), o);
  EXPECT_EQ(last_epoch, r.weights);
  EXPECT_EQ(epoch_bias, r.bias);
  EXPECT_EQ(last_step, r.weights);
  EXPECT_EQ(step_bias, r.bias);
}

// ---- item 13: every field of a resumed state is checked ----------------------------------

TEST(ResumeState, EveryFieldIsCheckedAndNamed) {
  Table t(1000, 2, 13);
  FitOptions o = cpu_options();
  o.learning_rate = 0.1;
  o.batch_size = 100;
  o.epochs = 4;
  o.seed = 3;
  std::shared_ptr<TrainingState> good;
  o.on_checkpoint = [&](const TrainingState& s) { good = std::make_shared<TrainingState>(s); };
  steepest::fit(t.Xv(), t.yv(), o);
  ASSERT_TRUE(good);
  ASSERT_EQ(good->steps, 40);
  o.on_checkpoint = nullptr;
  o.epochs = 8;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::int64_t huge = std::numeric_limits<std::int64_t>::max() / 4;
  struct Edit {
    const char* field;
    std::function<void(TrainingState&)> edit;
  };
  const std::vector<Edit> edits = {
      {"batch", [&](TrainingState& s) { s.batch = huge; }},
      {"batch", [](TrainingState& s) { s.batch = 10; }},  // 10 x 100 rows: past the 1000 rows
      {"batch", [](TrainingState& s) { s.batch = -1; }},
      {"epoch", [](TrainingState& s) { s.epoch = -1; }},
      {"steps", [](TrainingState& s) { s.steps = -5; }},
      {"steps", [](TrainingState& s) { s.steps = 41; }},
      {"stalled", [](TrainingState& s) { s.stalled = -1; }},
      {"weights", [](TrainingState& s) { s.weights.pop_back(); }},
      {"weights", [&](TrainingState& s) { s.weights[0] = nan; }},
      {"bias", [&](TrainingState& s) { s.bias = inf; }},
      {"epoch_weights", [](TrainingState& s) { s.epoch_weights.push_back(1.0); }},
      {"epoch_bias", [&](TrainingState& s) { s.epoch_bias = nan; }},
      {"optimizer_state", [](TrainingState& s) { s.optimizer_state.pop_back(); }},
      {"optimizer_state", [&](TrainingState& s) { s.optimizer_state[1] = inf; }},
      {"running_sse", [](TrainingState& s) { s.running_sse = -1.0; }},
      {"running_rows", [&](TrainingState& s) { s.running_rows = nan; }},
      {"learning_rate", [](TrainingState& s) { s.learning_rate = 0.0; }},
      {"rate", [&](TrainingState& s) { s.rate = inf; }},
      {"last_epoch_rate", [](TrainingState& s) { s.last_epoch_rate = -1.0; }},
      {"best_loss", [&](TrainingState& s) { s.best_loss = nan; }},
      {"curvature", [](TrainingState& s) { s.curvature = -2.0; }},
      {"loss_history", [](TrainingState& s) { s.loss_history.pop_back(); }},
      {"loss_history", [&](TrainingState& s) { s.loss_history[2] = nan; }},
      {"heldout_loss_history", [](TrainingState& s) { s.heldout_loss_history = s.loss_history; }},
      {"seed", [](TrainingState& s) { s.seed = 4; }},
      {"backend", [](TrainingState& s) { s.backend = "tpu"; }},
  };
  for (const Edit& e : edits) {
    auto s = std::make_shared<TrainingState>(*good);
    e.edit(*s);
    FitOptions r = o;
    r.resume = s;
    const std::string m = error_of([&] { steepest::fit(t.Xv(), t.yv(), r); });
    EXPECT_TRUE(has(m, std::string("\"") + e.field + "\"")) << e.field << ": " << m;
  }
  // A mid-epoch batch in a full-batch run (one step per epoch).
  FitOptions full = o;
  full.batch_size = 0;
  full.epochs = 4;
  std::shared_ptr<TrainingState> full_state;
  full.on_checkpoint = [&](const TrainingState& s) { full_state = std::make_shared<TrainingState>(s); };
  steepest::fit(t.Xv(), t.yv(), full);
  ASSERT_TRUE(full_state);
  full.on_checkpoint = nullptr;
  full.epochs = 8;
  full.resume = full_state;
  EXPECT_NO_THROW(steepest::fit(t.Xv(), t.yv(), full));
  auto s = std::make_shared<TrainingState>(*full_state);
  s->batch = 1;
  s->steps += 1;
  full.resume = s;
  EXPECT_TRUE(has(error_of([&] { steepest::fit(t.Xv(), t.yv(), full); }), "\"batch\""));
  // The unedited state resumes.
  o.resume = good;
  EXPECT_NO_THROW(steepest::fit(t.Xv(), t.yv(), o));
}

// ---- item 14: thread counts are bounded ---------------------------------------------------

TEST(Threads, AbsurdCountsAreRefusedBeforeAnyWork) {
  const Table t(50, 2, 14);
  FitOptions o = cpu_options();
  o.threads = 100000;
  const std::string m = error_of([&] { steepest::fit(t.Xv(), t.yv(), o); });
  EXPECT_TRUE(has(m, "threads")) << m;
  EXPECT_TRUE(has(m, "100000")) << m;
  steepest::EvaluateOptions e;
  e.device = Device::cpu;
  e.threads = 100000;
  EXPECT_TRUE(has(error_of([&] { steepest::evaluate(t.Xv(), t.yv(), {0.0, 0.0}, 0.0, e); }), "threads"));
  e.threads = -2;
  EXPECT_TRUE(has(error_of([&] { steepest::evaluate(t.Xv(), t.yv(), {0.0, 0.0}, 0.0, e); }), "threads"));
  // A few times the cores is allowed.
  o.threads = static_cast<std::int32_t>(2 * std::max(1u, std::thread::hardware_concurrency()));
  o.epochs = 2;
  EXPECT_NO_THROW(steepest::fit(t.Xv(), t.yv(), o));
}

// ---- item 15: predict() and score() validate their views ----------------------------------

TEST(PredictScoreViews, MalformedViewsAreInvalidArguments) {
  const Table t(10, 2, 15);
  const std::vector<double> w{1.0, 2.0};
  std::vector<double> out(10);
  auto predict_error = [&](steepest::MatrixView X, double* o) {
    return error_of([&] { steepest::predict(X, w, 0.5, o); });
  };
  steepest::MatrixView X = t.Xv();
  EXPECT_TRUE(has(predict_error(X, nullptr), "output")) << "null output";
  X.data = nullptr;
  EXPECT_TRUE(has(predict_error(X, out.data()), "X"));
  X = t.Xv();
  X.stride = 0;
  EXPECT_TRUE(has(predict_error(X, out.data()), "stride"));
  X.stride = -2;
  EXPECT_TRUE(has(predict_error(X, out.data()), "stride"));
  X = t.Xv();
  X.dtype = static_cast<steepest::DType>(7);
  EXPECT_TRUE(has(predict_error(X, out.data()), "dtype"));
  X = t.Xv();
  X.layout = static_cast<steepest::Layout>(-1);
  EXPECT_TRUE(has(predict_error(X, out.data()), "layout"));
  X = t.Xv();
  X.rows = -3;
  EXPECT_TRUE(has(predict_error(X, out.data()), "row"));
  X = t.Xv();
  X.stride = std::numeric_limits<std::int64_t>::max() / 2;
  EXPECT_TRUE(has(predict_error(X, out.data()), "overflow"));
  // The checked overload: an output too short.
  EXPECT_TRUE(has(error_of([&] { steepest::predict(t.Xv(), w, 0.5, out.data(), 9); }), "9"));
  steepest::predict(t.Xv(), w, 0.5, out.data(), 10);
  EXPECT_DOUBLE_EQ(out[3], 0.5 + t.X[6] + 2.0 * t.X[7]);

  auto score_error = [&](steepest::MatrixView Xs, steepest::VectorView y, steepest::VectorView sw) {
    return error_of([&] { steepest::score(Xs, y, sw, w, 0.5); });
  };
  steepest::VectorView y = t.yv();
  y.stride = 0;
  EXPECT_TRUE(has(score_error(t.Xv(), y, {}), "stride"));
  y.stride = -1;
  EXPECT_TRUE(has(score_error(t.Xv(), y, {}), "stride"));
  y = t.yv();
  y.dtype = static_cast<steepest::DType>(3);
  EXPECT_TRUE(has(score_error(t.Xv(), y, {}), "dtype"));
  y = t.yv();
  y.data = nullptr;
  EXPECT_TRUE(has(score_error(t.Xv(), y, {}), "y"));
  X = t.Xv();
  X.layout = static_cast<steepest::Layout>(5);
  EXPECT_TRUE(has(score_error(X, t.yv(), {}), "layout"));
  steepest::VectorView sw = t.wv();
  sw.stride = 0;
  EXPECT_TRUE(has(score_error(t.Xv(), t.yv(), sw), "stride"));
  EXPECT_TRUE(has(error_of([&] { steepest::score(t.Xv(), t.yv(), std::vector<double>{1.0}, 0.0); }), "weights"));
  // evaluate() likewise.
  X = t.Xv();
  X.stride = -1;
  EXPECT_TRUE(has(error_of([&] { steepest::evaluate(X, t.yv(), w, 0.0, {Device::cpu}); }), "stride"));
}

// ---- messages: numbers as %.6g, never 309 digits ------------------------------------------

TEST(Messages, HugeValuesArePrintedShort) {
  const Table t(10, 2, 16);
  FitOptions o = cpu_options();
  o.learning_rate = -1e308;
  std::string m = error_of([&] { steepest::fit(t.Xv(), t.yv(), o); });
  EXPECT_TRUE(has(m, "-1e+308")) << m;
  EXPECT_LT(m.size(), 200u) << m;
  std::vector<double> w(10, 1.0);
  w[4] = -1e308;
  m = error_of([&] { steepest::fit(t.Xv(), t.yv(), steepest::make_vector_view(w.data(), 10), cpu_options()); });
  EXPECT_TRUE(has(m, "-1e+308")) << m;
  EXPECT_LT(m.size(), 200u) << m;
  o = cpu_options();
  o.l2 = -1e300;
  m = error_of([&] { steepest::fit(t.Xv(), t.yv(), o); });
  EXPECT_TRUE(has(m, "-1e+300")) << m;
}

}  // namespace
