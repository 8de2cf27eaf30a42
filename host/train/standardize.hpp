// Internal: fit() with FitOptions::standardize — fit on standardised features, report the
// model in original units.
#pragma once

#include <vector>

#include "backend/team.hpp"
#include "steepest/data.hpp"
#include "steepest/options.hpp"
#include "steepest/result.hpp"
#include "train/gram_backend.hpp"

namespace steepest::detail {


/// How fit_standardized maps each column: z = (x - mean) / scale, or z = 0 for a constant one.
struct ColumnScaling {
  std::vector<double> mean;   ///< 0 when not centred
  std::vector<double> scale;  ///< 1 for a constant column
  /// Centred: the spread is within rounding of the mean (sd <= 4 eps |mean|, see the .cpp);
  /// not centred: an all-zero column.  Its z is 0 and its weight 0.
  std::vector<char> constant;
  /// max_i |x_ik| < 2^exponent: the moments are taken of x 2^-exponent.  Empty when the
  /// scaling comes from the Gram sums (gram_column_scaling), where no copy is made.
  std::vector<int> exponent;
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

/// Gram mode (FitOptions::solver): column_scaling's scaling from the moments of the Gram sums
/// of ALL the fit's rows, unweighted (\p all.weight = n): the same population mean and sd, or
/// root mean square without centring, and the same constant rule, up to the rounding of the
/// shifted sums.  False, leaving \p cs unusable, when the sums cannot give it safely: a
/// non-finite moment, or a column (or y) whose sd is below 2^-450 while |mean| is below
/// 2^-400 — its squares may have underflowed in the pass, so neither its spread nor whether
/// it is constant can be told (an all-zero column is one); fit_standardized then takes the
/// copy's path, whose moments are taken of columns scaled by a power of two.
bool gram_column_scaling(const GramMoments& all, bool center, ColumnScaling& cs);

/// A weighted Gram fit's moments for gram_column_scaling: the Gram sums are weighted, the
/// scaling is not, so one pass of unweighted shifted sums per column of X and of y (their
/// diagonal only, with \p shift, d + 1 values), over ALL the fit's rows (across processes,
/// as column_scaling): weight n, mean = shift + S1 / n, C_kk = S2 - S1 S1 / n and the rest of
/// C zero.  The same bits for any thread count and any processes holding whole chunks of
/// the data plan.  One read of X, against column_scaling's three (and no copy).
GramMoments unweighted_column_moments(const MatrixView& X, const VectorView& y, const double* shift,
                                      const RowShare& share, const Team& team);

/// The moments \p g of (x, y) turned into those of (z, y), z = (x - mean) / scale (a constant
/// column's z = 0): means (mean_x - mu) / s, co-moments C_jk / (s_j s_k), C_jy / s_j, C_yy.
/// The co-moments are already centred, so no new cancellation: each entry is divided, no
/// more.  This is G_z = T^T G_x T for [z 1] = [x 1] T, in the moments' coordinates.
void standardize_moments(GramMoments& g, const ColumnScaling& cs);

/// A warm start in original units (\p given) as the standardised fit's: o.init_weights and
/// o.init_bias (unchanged when \p given has no init_weights).
void standardized_start(const FitOptions& given, const ColumnScaling& cs, FitOptions& o);

/// The standardised parameters (\p ws, \p bs) in original units: w_k = w'_k / s_k (0 for a
/// constant column), b = b' - sum_k w_k mu_k.
void to_original(const ColumnScaling& cs, const std::vector<double>& ws, double bs, std::vector<double>& w, double& b);

/// Thrown by the trainer when gram_column_scaling refuses the sums: fit_standardized catches
/// it and fits the standardised copy instead.  Every process sees the same sums, so every
/// process throws it at the same point.
struct GramScalingUnusable {};

/// Fits that run the Gram solver (runs_gram): the Gram pass over X gives the sums of the
/// original columns; the scaling comes from their moments (gram_column_scaling): for an
/// unweighted fit from the Gram sums themselves, for a weighted one (whose sums are weighted)
/// from one more pass, unweighted_column_moments.  Transformed (standardize_moments), the
/// sums are the standardised problem; the epochs run on those, and the exact passes
/// (final_mse, --validate) on X at the parameters mapped back.  No copy.  Otherwise
/// (another solver, or sums gram_column_scaling refuses): fit_standardized_copy.
FitResult fit_standardized(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                           const FitOptions& options, Team& team);

/// Three passes for the moments (column_scaling: scale, mean, spread), one to write a
/// standardised row-major copy of X (same storage type), then fit_unscaled on it; weights,
/// bias, warm start and the per-epoch reports are mapped between the two parametrisations:
/// w_k = w'_k / s_k, b = b' - sum_k w'_k mu_k / s_k.  Any solver, any data.
FitResult fit_standardized_copy(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                                const FitOptions& options, Team& team);

}  // namespace steepest::detail
