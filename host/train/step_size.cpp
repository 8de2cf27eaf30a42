#include "train/step_size.hpp"
#include "backend/view_access.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace steepest::detail {

namespace {

/// sqrt(sum v_k^2); when the plain sum of squares overflows or comes near underflow, again
/// with the components scaled by max |v_k| (the plain sum keeps the bits of ordinary data).
/// +inf when a component is not finite.
double norm2(const std::vector<double>& v) {
  double plain = 0.0;
  for (double x : v) plain += x * x;
  if (std::isfinite(plain) && plain > 1e-280) return std::sqrt(plain);
  double big = 0.0;
  for (double x : v) {
    if (!std::isfinite(x)) return std::numeric_limits<double>::infinity();
    big = std::max(big, std::fabs(x));
  }
  if (big == 0.0) return 0.0;
  double s = 0.0;
  for (double x : v) s += (x / big) * (x / big);
  return big * std::sqrt(s);
}

}  // namespace

double estimate_curvature(Backend& be, bool intercept, double l2) {
  const auto d = static_cast<std::size_t>(be.cols());
  const std::size_t m = d + (intercept ? 1 : 0);
  std::vector<double> g0(d), g(d), v(m, 1.0 / std::sqrt(static_cast<double>(m))), w(d);
  double g0b = 0.0, gb = 0.0;
  auto gradient_at = [&](const std::vector<double>& at, double scale, std::vector<double>& out, double& out_b) {
    for (std::size_t k = 0; k < d; ++k) w[k] = scale * at[k];
    be.set_parameters(w.data(), intercept ? scale * at[d] : 0.0);
    be.compute(0, be.rows(), false);
    be.gradient(out.data(), &out_b);
  };
  std::fill(w.begin(), w.end(), 0.0);
  be.set_parameters(w.data(), 0.0);
  be.compute(0, be.rows(), false);
  be.gradient(g0.data(), &g0b);
  std::vector<double> g0_all(g0);
  if (intercept) g0_all.push_back(g0b);
  const double g0_norm = norm2(g0_all);
  const double inf = std::numeric_limits<double>::infinity();
  if (!std::isfinite(g0_norm)) return inf;

  // H v = (g(s v) - g(0)) / s; s keeps s H v well above |g(0)| so the difference does not
  // cancel away the digits (H is unknown at first: start at s = 1).  The penalty l2 |w|^2
  // adds 2 l2 v on the weights (not on the bias).  A non-finite H v means that the
  // curvature itself exceeds what float64 holds.
  double lambda = 0.0, scale = 1.0;
  std::vector<double> hv(m);
  for (int it = 0; it < 200; ++it) {
    gradient_at(v, scale, g, gb);
    for (std::size_t k = 0; k < d; ++k) hv[k] = (g[k] - g0[k]) / scale + 2.0 * l2 * v[k];
    if (intercept) hv[d] = (gb - g0b) / scale;
    const double norm = norm2(hv);
    if (!std::isfinite(norm)) return inf;
    if (!(norm > 0.0)) return 0.0;
    // The Rayleigh quotient v . H v (|v| = 1); when that sum overflows, as
    // |H v| (v . H v / |H v|).
    double rayleigh = 0.0;
    for (std::size_t k = 0; k < m; ++k) rayleigh += v[k] * hv[k];
    if (!std::isfinite(rayleigh)) {
      double cosine = 0.0;
      for (std::size_t k = 0; k < m; ++k) cosine += v[k] * (hv[k] / norm);
      rayleigh = norm * cosine;
    }
    for (std::size_t k = 0; k < m; ++k) v[k] = hv[k] / norm;
    const bool settled = it > 3 && std::fabs(rayleigh - lambda) <= 1e-6 * rayleigh;
    lambda = rayleigh;
    if (settled) break;
    scale = std::max(1.0, 1e3 * (g0_norm / norm));
  }
  return lambda;
}

double max_row_curvature(const MatrixView& X, bool intercept) {
  double best = 0.0;
  for (std::int64_t i = 0; i < X.rows; ++i) {
    double s = intercept ? 1.0 : 0.0;
    for (std::int64_t k = 0; k < X.cols; ++k) {
      const double x = value_at(X, i, k);
      s += x * x;
    }
    best = std::max(best, s);
  }
  return 2.0 * best;
}

double batch_curvature(double L, double L_max, std::int64_t n, std::int64_t batch) {
  if (batch <= 0 || batch >= n) return L;
  const auto nd = static_cast<double>(n), b = static_cast<double>(batch);
  return (nd * (b - 1.0) * L + (nd - b) * L_max) / (b * (nd - 1.0));
}

double scheduled_rate(const FitOptions& o, double lr0, std::int64_t t) {
  const auto td = static_cast<double>(t);
  switch (o.schedule) {
    case Schedule::inverse_scaling: return lr0 / std::pow(td, o.power_t);
    case Schedule::exponential: return lr0 * std::pow(o.decay, td - 1.0);
    case Schedule::step: return lr0 * std::pow(o.decay, static_cast<double>((t - 1) / o.step_epochs));
    case Schedule::constant:
    case Schedule::adaptive: break;
  }
  return lr0;
}

}  // namespace steepest::detail
