#include "train/step_size.hpp"
#include "backend/view_access.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace steepest::detail {

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

HessianProduct::HessianProduct(Backend& be, bool intercept, double l2)
    : be_(be), intercept_(intercept), l2_(l2), d_(static_cast<std::size_t>(be.cols())),
      m_(d_ + (intercept ? 1 : 0)), g0_(d_), g_(d_), w_(d_, 0.0) {
  be_.set_parameters(w_.data(), 0.0);
  be_.compute(0, be_.rows(), false);
  be_.gradient(g0_.data(), &g0b_);
  std::vector<double> g0_all(g0_);
  if (intercept_) g0_all.push_back(g0b_);
  g0_norm_ = norm2(g0_all);
}

void HessianProduct::apply(const std::vector<double>& v, double scale, std::vector<double>& hv) {
  double gb = 0.0;
  for (std::size_t k = 0; k < d_; ++k) w_[k] = scale * v[k];
  be_.set_parameters(w_.data(), intercept_ ? scale * v[d_] : 0.0);
  be_.compute(0, be_.rows(), false);
  be_.gradient(g_.data(), &gb);
  hv.resize(m_);
  for (std::size_t k = 0; k < d_; ++k) hv[k] = (g_[k] - g0_[k]) / scale + 2.0 * l2_ * v[k];
  if (intercept_) hv[d_] = (gb - g0b_) / scale;
}

double estimate_curvature(Backend& be, bool intercept, double l2) {
  HessianProduct H(be, intercept, l2);
  const std::size_t m = H.size();
  std::vector<double> v(m, 1.0 / std::sqrt(static_cast<double>(m)));
  const double g0_norm = H.gradient_norm();
  const double inf = std::numeric_limits<double>::infinity();
  if (!std::isfinite(g0_norm)) return inf;

  // Start at s = 1 (H is unknown at first).  A non-finite H v means that the curvature
  // itself exceeds what float64 holds.
  double lambda = 0.0, scale = 1.0;
  std::vector<double> hv(m);
  for (int it = 0; it < 200; ++it) {
    H.apply(v, scale, hv);
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
