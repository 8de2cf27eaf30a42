// Internal: what the trainer says when the curvature is unusable or a fit diverges — the
// optimizer's stable step on a quadratic of curvature L, and why a rate crossed it.
#pragma once

#include <string>

#include "steepest/options.hpp"

namespace steepest::detail {

/// A loss 1e8 times the initial one is runaway growth, not progress: gradient descent on
/// the MSE never climbs that far when stable, so the trainer stops before numbers overflow.
inline constexpr double kExplodingFactor = 1e8;

/// \p v with 6 significant digits, for messages.
std::string format_loss(double v);

/// Why lr auto cannot use the curvature \p L (0: flat, inf: overflowed), or "" when it can.
std::string unusable_curvature(const FitOptions& o, double L);

/// The stable full-batch step of the optimizer on a quadratic of curvature L, as
/// "formula = value", or none (value 0).  Heavy ball (v = m v + g, w -= lr v) is stable
/// iff lr L < 2 (1 + m); this project's Nesterov (v = m v + g, w -= lr (g + m v)) iff
/// lr L < 2 (1 + m) / (1 + 2 m) (the Jury conditions of its 2 x 2 iteration matrix, whose
/// trace is (1 + m)(1 - lr L) and determinant m (1 - lr L)); plain GD iff lr L < 2; Adam
/// scales its steps by its own moments, so no bound applies.
struct StableBound {
  double value = 0.0;   // 0: none applies
  std::string formula;  // "2/L", ...
};
StableBound stable_bound(const FitOptions& o, double L);

/// The second half of a divergence message: what the curvature \p L says about \p rate.
std::string divergence_advice(const FitOptions& o, double rate, double L, bool mini_batch);

}  // namespace steepest::detail
