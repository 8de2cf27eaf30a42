// Internal: the parameter update of one step, written once for both backends.  The CPU
// backend calls apply_step_rule() in a loop; the CUDA backend calls it from a kernel
// (kernels/parameter_update.cu, compiled with -fmad=false so that no a*b+c is fused):
// the same operations in the same order, so equal gradients give equal parameters.
#pragma once

#include <cmath>
#include <cstdint>

#include "steepest/options.hpp"

#if defined(__CUDACC__)
#define STEEPEST_STEP_HD __host__ __device__
#else
#define STEEPEST_STEP_HD
#endif

namespace steepest::detail {

/// Everything one step needs besides the gradient; plain data, passed to kernels by value.
struct StepRule {
  Optimizer optimizer = Optimizer::gd;
  double lr = 0.0;
  double momentum = 0.0;  ///< momentum / nesterov
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  ///< adam
  double bias_correction1 = 1.0;  ///< adam: 1 - beta1^t, computed by the driver
  double bias_correction2 = 1.0;  ///< adam: 1 - beta2^t
  double l2 = 0.0;  ///< penalty l2 ||w||^2: adds 2 l2 w to the gradient of w (not of b)
  double l1 = 0.0;  ///< penalty l1 ||w||_1: soft-threshold by lr l1 after the step (not b)
  bool update_bias = true;
};

/// One coordinate: w (updated), its MSE gradient g, and its optimizer state s1 (velocity or
/// first moment) and s2 (second moment).  \p is_bias exempts the coordinate from penalties.
STEEPEST_STEP_HD inline void apply_step_rule(const StepRule& r, bool is_bias, double& w, double g,
                                             double& s1, double& s2) {
  if (!is_bias && r.l2 > 0.0) g = g + 2.0 * r.l2 * w;
  switch (r.optimizer) {
    case Optimizer::momentum:  // heavy ball, PyTorch's convention: v = mu v + g, w -= lr v
      s1 = r.momentum * s1 + g;
      w = w - r.lr * s1;
      break;
    case Optimizer::nesterov:  // PyTorch's: v = mu v + g, w -= lr (g + mu v)
      s1 = r.momentum * s1 + g;
      w = w - r.lr * (g + r.momentum * s1);
      break;
    case Optimizer::adam: {
      s1 = r.beta1 * s1 + (1.0 - r.beta1) * g;
      s2 = r.beta2 * s2 + (1.0 - r.beta2) * (g * g);
      const double m_hat = s1 / r.bias_correction1;
      const double v_hat = s2 / r.bias_correction2;
      w = w - r.lr * m_hat / (std::sqrt(v_hat) + r.epsilon);
      break;
    }
    case Optimizer::gd:
    default:
      w = w - r.lr * g;
      break;
  }
  if (!is_bias && r.l1 > 0.0) {  // proximal step of l1 ||w||_1: exact zeros
    const double t = r.lr * r.l1;
    w = w > t ? w - t : (w < -t ? w + t : 0.0);
  }
}

}  // namespace steepest::detail
