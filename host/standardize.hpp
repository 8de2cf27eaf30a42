// Internal: fit() with FitOptions::standardize — fit on standardised features, report the
// model in original units.
#pragma once

#include <vector>

#include "steepest/data.hpp"
#include "steepest/options.hpp"
#include "steepest/result.hpp"

namespace steepest::detail {

/// The driver itself, on the data as given (host/driver.cpp).
FitResult fit_unscaled(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                       const FitOptions& options);

/// Column means and standard deviations (population, 1/n), in a fixed chunk order so the
/// result is the same for any thread count.  A constant column gets scale 1.
void column_moments(const MatrixView& X, std::vector<double>& mean, std::vector<double>& scale);

/// One pass for the moments, one to write a standardised row-major copy of X (same storage
/// type), then fit_unscaled on it; weights, bias, warm start and the per-epoch reports are
/// mapped between the two parametrisations: w_k = w'_k / s_k, b = b' - sum_k w'_k mu_k / s_k.
FitResult fit_standardized(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                           const FitOptions& options);

}  // namespace steepest::detail
