// The least-squares optimum of the MSE by the normal equations, for benchmarks ("time to
// solution") and sanity checks.  Gram matrix accumulated in float64, solved in long double
// with partial pivoting: fine for the well-conditioned synthetic data it is used on, not a
// substitute for a QR solver on ill-conditioned problems.
#pragma once

#include <vector>

#include "steepest/data.hpp"

namespace steepest::io {

struct LeastSquares {
  std::vector<double> weights;
  double bias = 0.0;
  double mse = 0.0;  ///< MSE at the optimum, recomputed from the data
};

/// Throws InvalidArgument when the normal equations are singular.
LeastSquares least_squares(const MatrixView& X, const VectorView& y, bool fit_intercept = true);

}  // namespace steepest::io
