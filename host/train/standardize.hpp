// Internal: fit() with FitOptions::standardize — fit on standardised features, report the
// model in original units.
#pragma once

#include <vector>

#include "backend/team.hpp"
#include "steepest/data.hpp"
#include "steepest/options.hpp"
#include "steepest/result.hpp"

namespace steepest::detail {


/// How fit_standardized maps each column: z = (x - mean) / scale, or z = 0 for a constant one.
struct ColumnScaling {
  std::vector<double> mean;   ///< 0 when not centred
  std::vector<double> scale;  ///< 1 for a constant column
  /// Centred: the spread is within rounding of the mean (sd <= 4 eps |mean|, see the .cpp);
  /// not centred: an all-zero column.  Its z is 0 and its weight 0.
  std::vector<char> constant;
  std::vector<int> exponent;  ///< max_i |x_ik| < 2^exponent: the moments are taken of x 2^-exponent
};

/// \p center: the population mean and standard deviation (1/n) of each column; otherwise
/// mean 0 and the root mean square sqrt(mean x^2).  Computed on the columns scaled by a
/// power of two (no overflow or underflow of the squares for any finite data), in a fixed
/// chunk order, so the result is the same for any thread count.
/// Across processes X holds rows share.first.. of the fit and the moments are those of all
/// of them (the same bits as one process when each holds whole chunks of the data plan).
ColumnScaling column_scaling(const MatrixView& X, bool center, const RowShare& share = {}, const Team& team = Team());

/// column_scaling's moments; \p constant (when given) flags the constant columns.
void column_moments(const MatrixView& X, bool center, std::vector<double>& mean, std::vector<double>& scale,
                    std::vector<char>* constant = nullptr);
/// Centred moments (mean and sd); a constant column gets scale 1.
void column_moments(const MatrixView& X, std::vector<double>& mean, std::vector<double>& scale);

/// Three passes for the moments (scale, mean, spread), one to write a standardised row-major
/// copy of X (same storage type), then fit_unscaled on it; weights, bias, warm start and the per-epoch reports are
/// mapped between the two parametrisations: w_k = w'_k / s_k, b = b' - sum_k w'_k mu_k / s_k.
FitResult fit_standardized(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                           const FitOptions& options, Team& team);

}  // namespace steepest::detail
