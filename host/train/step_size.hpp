// Internal: the learning rate — curvature estimates for `lr auto` and for divergence
// reports, and the schedules.  Backend-agnostic: Hessian-vector products are gradient
// differences, H v = g(v) - g(0), each one fused pass on whatever backend runs the fit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "steepest/options.hpp"

namespace steepest::detail {

/// Products of the objective's Hessian with vectors of the m = d + intercept parameters,
/// as gradient differences on the backend: H v = (g(s v) - g(0)) / s + 2 l2 v (weights
/// only), each product one pass.  The scale s keeps s H v well above |g(0)|, so that the
/// difference does not cancel away the digits of a small H v.  Leaves arbitrary parameters
/// in the backend.
class HessianProduct {
 public:
  HessianProduct(Backend& be, bool intercept, double l2);
  std::size_t size() const noexcept { return m_; }
  /// |g(0)| (+inf when not finite: the data's squares overflow).
  double gradient_norm() const noexcept { return g0_norm_; }
  /// hv = H v computed with scale s.
  void apply(const std::vector<double>& v, double scale, std::vector<double>& hv);

 private:
  Backend& be_;
  bool intercept_;
  double l2_;
  std::size_t d_, m_;
  std::vector<double> g0_, g_, w_;
  double g0b_ = 0.0, g0_norm_ = 0.0;
};

/// sqrt(sum v_k^2), scaled when the plain sum of squares overflows or nears underflow
/// (the plain sum keeps the bits of ordinary data); +inf when a component is not finite.
double norm2(const std::vector<double>& v);

/// The largest eigenvalue L of the objective's Hessian 2/n [X 1]^T [X 1] + 2 l2 diag(1..1, 0)
/// (without the column of ones when !intercept; the L2 penalty l2 |w|^2 on the weights,
/// not on the bias), by power iteration from a fixed start.  Leaves arbitrary parameters
/// in \p be.  Returns 0 when the Hessian is zero and +inf when it overflows float64 (the
/// Hessian-vector product is not finite: |x|^2 beyond ~1e308).
double estimate_curvature(Backend& be, bool intercept, double l2 = 0.0);

/// 2 max_i (|x_i|^2 + intercept): the largest curvature of a one-row batch (a pass over X
/// on the host); +inf when it overflows float64.
double max_row_curvature(const MatrixView& X, bool intercept);

/// Expected smoothness of batches of \p batch rows drawn without replacement from \p n:
/// (n (B-1) L + (n-B) L_max) / (B (n-1)); L when B >= n.
double batch_curvature(double L, double L_max, std::int64_t n, std::int64_t batch);

/// The rate of epoch \p t (1-based) for the non-adaptive schedules.
double scheduled_rate(const FitOptions& o, double lr0, std::int64_t t);

}  // namespace steepest::detail
