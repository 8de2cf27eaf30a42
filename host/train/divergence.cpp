#include "train/divergence.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

namespace steepest::detail {
namespace {

/// Why the curvature overflowed float64: the L2 term 2 l2 when it alone is that large, else
/// the features.
std::string curvature_overflow(const FitOptions& o) {
  if (!(2.0 * o.l2 < 0.25 * std::numeric_limits<double>::max()))
    return "the curvature of this problem overflows float64 (the l2 penalty's term 2 l2 = " + format_loss(2.0 * o.l2) +
           " leaves no room for the data's): give a smaller l2";
  return "the curvature of this problem overflows float64 (features with |x| beyond ~1e154, whose squares do not "
         "fit in a double): rescale the features (or use standardize)";
}

}  // namespace

std::string format_loss(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string unusable_curvature(const FitOptions& o, double L) {
  if (std::isinf(L)) return curvature_overflow(o);
  if (!(L > 0.0) || !std::isfinite(L))
    return "the curvature of this problem is " + format_loss(L) +
           " (all-zero features, without an intercept or penalty?); give a learning rate";
  return {};
}

StableBound stable_bound(const FitOptions& o, double L) {
  const double m = o.momentum;
  switch (o.optimizer) {
    case Optimizer::gd: return {2.0 / L, "2/L"};
    case Optimizer::momentum: return {2.0 * (1.0 + m) / L, "2(1 + m)/L"};
    case Optimizer::nesterov: return {2.0 * (1.0 + m) / ((1.0 + 2.0 * m) * L), "2(1 + m)/((1 + 2m) L)"};
    case Optimizer::adam:
    case Optimizer::automatic:  // the trainer resolves it before any step
      break;
  }
  return {};
}

std::string divergence_advice(const FitOptions& o, double rate, double L, bool mini_batch) {
  if (o.optimizer == Optimizer::adam)
    return "adam scales each step by its own moment estimates, so no curvature bound on the learning "
           "rate applies; the learning rate " + format_loss(rate) + " is too large for this data: lower it";
  if (std::isinf(L)) return curvature_overflow(o) + "; no learning rate is stable";
  if (!(L > 0.0) || !std::isfinite(L))
    return "the curvature could not be estimated (" + format_loss(L) + "); lower the learning rate " +
           format_loss(rate);
  const StableBound b = stable_bound(o, L);
  std::string curv = "L = " + format_loss(L) + ", estimated";
  if (o.l2 > 0.0) curv += ", including the l2 penalty's 2 l2 = " + format_loss(2.0 * o.l2);
  if (o.optimizer != Optimizer::gd) curv += ", m = " + format_loss(o.momentum);
  const std::string bound = "the largest stable full-batch step is " + b.formula + " = " + format_loss(b.value) +
                            " (" + curv + ")";
  if (rate >= b.value) return "the learning rate " + format_loss(rate) + " is too large for this data: " + bound;
  return "the learning rate " + format_loss(rate) + " is below the estimated bound: " + bound +
         (mini_batch ? "; mini-batch steps are noisier than full-batch ones and need a smaller rate"
                     : "; the estimate may be off for this data: lower the learning rate");
}

}  // namespace steepest::detail
