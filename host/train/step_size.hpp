// Internal: the learning rate — curvature estimates for `lr auto` and for divergence
// reports, and the schedules.  Backend-agnostic: Hessian-vector products are gradient
// differences, H v = g(v) - g(0), each one fused pass on whatever backend runs the fit.
#pragma once

#include <cstdint>

#include "backend/backend.hpp"
#include "steepest/options.hpp"

namespace steepest::detail {

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
