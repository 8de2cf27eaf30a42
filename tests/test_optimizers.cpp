// Optimisers (momentum, Nesterov, Adam) and penalties (L2, L1 by its proximal step, elastic
// net), against independent references: the update formulas written out here, a ridge
// solve in long double, and the lasso optimality (KKT) conditions.
#include <gtest/gtest.h>

#include <cmath>

#include "gpu_test_support.hpp"
#include "reference.hpp"
#include "test_support.hpp"
#include "steepest/steepest.hpp"

namespace {

using steepest::Device;
using steepest::FitOptions;
using steepest::Optimizer;

using Data = test_support::ProblemViews;

/// Three full-batch steps of \p opt from zero, recomputed here in long double.
std::pair<std::vector<long double>, long double> reference_steps(const ref::Problem& p, Optimizer opt,
                                                                 double lr, int steps) {
  const auto d = static_cast<std::size_t>(p.d);
  std::vector<long double> w(d, 0), v(d + 1, 0), m(d + 1, 0), s(d + 1, 0);
  long double b = 0;
  const long double mu = 0.9L, b1 = 0.9L, b2 = 0.999L, eps = 1e-8L;
  for (int t = 1; t <= steps; ++t) {
    std::vector<double> wd(w.begin(), w.end());
    const auto g = ref::loss_grad(p, wd, static_cast<double>(b));
    for (std::size_t k = 0; k <= d; ++k) {
      const long double gk = k < d ? g.gw[k] : g.gb;
      long double& x = k < d ? w[k] : b;
      switch (opt) {
        case Optimizer::momentum:
          v[k] = mu * v[k] + gk;
          x -= lr * v[k];
          break;
        case Optimizer::nesterov:
          v[k] = mu * v[k] + gk;
          x -= lr * (gk + mu * v[k]);
          break;
        case Optimizer::adam:
          m[k] = b1 * m[k] + (1 - b1) * gk;
          s[k] = b2 * s[k] + (1 - b2) * gk * gk;
          x -= lr * (m[k] / (1 - std::pow(b1, t))) / (std::sqrt(s[k] / (1 - std::pow(b2, t))) + eps);
          break;
        default:
          x -= lr * gk;
      }
    }
  }
  return {w, b};
}

void expect_optimizers_match_reference(Device device) {
  Data d(ref::planted(203, 3, 11));
  for (Optimizer opt : {Optimizer::gd, Optimizer::momentum, Optimizer::nesterov, Optimizer::adam}) {
    FitOptions o;
    o.device = device;
    o.optimizer = opt;
    o.learning_rate = 0.05;
    o.epochs = 3;
    const auto r = steepest::fit(d.X, d.y, o);
    const auto [w, b] = reference_steps(d.p, opt, 0.05, 3);
    for (std::size_t k = 0; k < w.size(); ++k)
      EXPECT_NEAR(r.weights[k], static_cast<double>(w[k]), 1e-12) << "optimizer " << static_cast<int>(opt);
    EXPECT_NEAR(r.bias, static_cast<double>(b), 1e-12) << "optimizer " << static_cast<int>(opt);
  }
}

TEST(Optimizers, FirstStepsMatchTheFormulasOnTheCpu) { expect_optimizers_match_reference(Device::cpu); }

TEST(Optimizers, FirstStepsMatchTheFormulasOnTheGpu) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_optimizers_match_reference(Device::cuda);
}

TEST(Optimizers, AllReachTheLeastSquaresSolution) {
  Data d(ref::planted(1000, 4, 12));
  const auto [w_ls, b_ls] = ref::least_squares(d.p);
  for (Optimizer opt : {Optimizer::momentum, Optimizer::nesterov, Optimizer::adam}) {
    FitOptions o;
    o.device = Device::cpu;
    o.optimizer = opt;
    o.learning_rate = opt == Optimizer::adam ? 0.05 : 0.1;
    o.epochs = opt == Optimizer::adam ? 5000 : 1500;
    if (opt == Optimizer::adam) {
      // Full-batch Adam with a constant rate circles the optimum at a distance ~ lr; a
      // decaying rate (sum of rates ~25, far more than the distance to travel) settles it.
      o.schedule = steepest::Schedule::exponential;
      o.decay = 0.998;
    }
    const auto r = steepest::fit(d.X, d.y, o);
    for (std::size_t k = 0; k < w_ls.size(); ++k)
      EXPECT_NEAR(r.weights[k], w_ls[k], 1e-5) << "optimizer " << static_cast<int>(opt) << " k " << k;
  }
}

/// Ridge: (A + n l2 D) z = c with A = [X 1]^T [X 1], c = [X 1]^T y, D = diag(1..1, 0).
std::vector<long double> ridge(const ref::Problem& p, double l2) {
  const std::int64_t m = p.d + 1;
  std::vector<std::vector<long double>> A(m, std::vector<long double>(m + 1, 0.0L));
  for (std::int64_t i = 0; i < p.n; ++i)
    for (std::int64_t a = 0; a < m; ++a) {
      const long double xa = a < p.d ? p.x(i, a) : 1.0L;
      for (std::int64_t c = 0; c < m; ++c) A[a][c] += xa * (c < p.d ? p.x(i, c) : 1.0L);
      A[a][m] += xa * p.y[i];
    }
  for (std::int64_t a = 0; a < p.d; ++a) A[a][a] += static_cast<long double>(p.n) * l2;
  for (std::int64_t c = 0; c < m; ++c)
    for (std::int64_t r = 0; r < m; ++r) {
      if (r == c) continue;
      const long double f = A[r][c] / A[c][c];
      for (std::int64_t k = c; k <= m; ++k) A[r][k] -= f * A[c][k];
    }
  std::vector<long double> z(m);
  for (std::int64_t a = 0; a < m; ++a) z[a] = A[a][m] / A[a][a];
  return z;
}

TEST(Penalties, L2ReachesTheRidgeSolution) {
  Data d(ref::planted(800, 3, 13));
  FitOptions o;
  o.device = Device::cpu;
  o.l2 = 0.3;
  o.learning_rate = 0.3;
  o.epochs = 3000;
  const auto r = steepest::fit(d.X, d.y, o);
  const auto z = ridge(d.p, 0.3);
  for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(r.weights[k], static_cast<double>(z[k]), 1e-10);
  EXPECT_NEAR(r.bias, static_cast<double>(z[3]), 1e-10);
  // The history holds the objective: MSE + l2 |w|^2 at the returned weights.
  double sq = 0;
  for (double w : r.weights) sq += w * w;
  EXPECT_NEAR(r.loss_history.back(), r.final_mse + 0.3 * sq, 1e-12);
}

void expect_lasso_kkt(Device device, double l2) {
  // Two of five planted weights are zero; l1 = 0.05 keeps the others clearly non-zero.
  ref::Problem p = ref::planted(2000, 5, 14, 0.05);
  p.w_true = {1.5, 0.0, -1.0, 0.0, 0.7};
  for (std::int64_t i = 0; i < p.n; ++i) {
    double yi = p.b_true;
    for (std::int64_t k = 0; k < 5; ++k) yi += p.x(i, k) * p.w_true[k];
    p.y[i] = yi + 0.05 * std::sin(static_cast<double>(i));  // deterministic "noise"
  }
  Data d(p);
  FitOptions o;
  o.device = device;
  o.l1 = 0.05;
  o.l2 = l2;
  o.learning_rate = 0.5;
  o.epochs = 4000;
  const auto r = steepest::fit(d.X, d.y, o);
  EXPECT_EQ(r.weights[1], 0.0) << "the proximal step gives exact zeros";
  EXPECT_EQ(r.weights[3], 0.0);
  // KKT of min MSE + l2|w|^2 + l1|w|_1: g_k + 2 l2 w_k + l1 sign(w_k) = 0 where w_k != 0,
  // |g_k| <= l1 where w_k = 0 (g: the MSE gradient), and g_b = 0.
  const auto ev = steepest::evaluate(d.X, d.y, r.weights, r.bias, {Device::cpu});
  for (std::size_t k = 0; k < 5; ++k) {
    const double g = ev.grad_weights[k] + 2 * l2 * r.weights[k];
    if (r.weights[k] != 0.0) EXPECT_NEAR(g + 0.05 * (r.weights[k] > 0 ? 1 : -1), 0.0, 1e-9) << k;
    else EXPECT_LE(std::fabs(g), 0.05) << k;
  }
  EXPECT_NEAR(ev.grad_bias, 0.0, 1e-9);
}

TEST(Penalties, L1GivesExactZerosAndSatisfiesKktOnTheCpu) { expect_lasso_kkt(Device::cpu, 0.0); }
TEST(Penalties, ElasticNetSatisfiesKktOnTheCpu) { expect_lasso_kkt(Device::cpu, 0.1); }

TEST(Penalties, L1GivesExactZerosAndSatisfiesKktOnTheGpu) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_lasso_kkt(Device::cuda, 0.0);
}

TEST(Optimizers, BadSettingsAreRefused) {
  Data d(ref::planted(10, 2, 15));
  auto bad = [&](auto mutate) {
    FitOptions o;
    o.device = Device::cpu;
    mutate(o);
    EXPECT_THROW(steepest::fit(d.X, d.y, o), steepest::InvalidArgument);
  };
  bad([](FitOptions& o) { o.momentum = 1.0; });
  bad([](FitOptions& o) { o.beta2 = -0.1; });
  bad([](FitOptions& o) { o.epsilon = 0.0; });
  bad([](FitOptions& o) { o.l1 = -1.0; });
  bad([](FitOptions& o) { o.l2 = std::nan(""); });
}

}  // namespace
