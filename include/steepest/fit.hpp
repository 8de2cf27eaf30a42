/// \file
/// \brief Fit a linear model by gradient descent on the mean squared error.
#pragma once
#include "steepest/export.h"

#include <cstdint>
#include <vector>

#include "steepest/data.hpp"
#include "steepest/options.hpp"
#include "steepest/result.hpp"

namespace steepest {

/// \brief Fit y ~ X w + b by gradient descent on MSE = (1/n) sum_i (x_i . w + b - y_i)^2.
///
/// \param X  n x d features, n >= 1, d >= 1, finite values.
/// \param y  n targets, finite values.
/// \param options  see FitOptions; the defaults fit by full-batch gradient descent.
/// \return weights, bias, loss history and how the fit ended.  Divergence is a result
///         (StopReason::diverged), not an exception.
/// \throws InvalidArgument  on inconsistent shapes or options (before any work).
/// \throws DeviceUnavailable  when Device::cuda is asked for and cannot run.
///
/// Determinism: the same inputs, options and backend give the same bits on every run and
/// for every CPU thread count.  Mini-batch order comes from steepest's own seeded
/// permutation, identical on every platform and backend.
///
/// \code
///   steepest::FitOptions opt;
///   opt.learning_rate = 0.1;
///   opt.epochs = 500;
///   auto res = steepest::fit(steepest::make_matrix_view(x.data(), n, d),
///                            steepest::make_vector_view(y.data(), n), opt);
/// \endcode
STEEPEST_API FitResult fit(const MatrixView& X, const VectorView& y, const FitOptions& options = {});

/// \brief fit() with sample weights: minimises the weighted MSE
/// sum_i s_i (x_i . w + b - y_i)^2 / sum_i s_i (each mini-batch by the same formula over its
/// rows; a batch whose weights are all zero takes no step).  \p sample_weight has one
/// finite value >= 0 per row (float32 or float64, any stride), not all zero.  The loss
/// history, final_mse, the held-out MSE and the CPU cross-check are all weighted alike;
/// integer weights give the fit of the data with each row repeated that many times.
STEEPEST_API FitResult fit(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
              const FitOptions& options = {});

/// \brief MSE and its gradient (dMSE/dw = (2/n) X^T r, dMSE/db = (2/n) sum r) at (w, b).
///
/// One fused pass over the data, float64 accumulation.
/// \throws InvalidArgument  when weights.size() != X.cols, the shapes disagree, a view is
/// malformed (as for fit()) or EvaluateOptions::threads is out of range.
STEEPEST_API Evaluation evaluate(const MatrixView& X, const VectorView& y, const std::vector<double>& weights,
                    double bias, const EvaluateOptions& options = {});
/// \brief evaluate() of the weighted MSE (see the weighted fit()).
STEEPEST_API Evaluation evaluate(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                    const std::vector<double>& weights, double bias, const EvaluateOptions& options = {});

/// \brief Predictions y_hat_i = x_i . w + b for every row of \p X, into \p out (X.rows
/// entries).  float64 arithmetic on the CPU, OpenMP-parallel.
/// \throws InvalidArgument  when weights.size() != X.cols, \p out is null or the view is
/// malformed (null data, rows or cols < 1, an unknown dtype or layout, a stride shorter than
/// a row or column, an extent beyond a 64-bit index): the checks fit() makes.
STEEPEST_API void predict(const MatrixView& X, const std::vector<double>& weights, double bias, double* out);
/// \brief predict() into \p out of \p out_size entries: InvalidArgument when out_size < X.rows.
STEEPEST_API void predict(const MatrixView& X, const std::vector<double>& weights, double bias, double* out,
             std::int64_t out_size);

/// \brief MSE, RMSE, MAE and R^2 of the model (w, b) on (X, y), on the CPU in float64.
/// Deterministic: the same bits for any thread count.
/// \throws InvalidArgument  on malformed views (as fit() and predict()) or a model length
/// other than X.cols.
STEEPEST_API Metrics score(const MatrixView& X, const VectorView& y, const std::vector<double>& weights,
              double bias);
/// \brief score() with sample weights s_i: MSE = sum s r^2 / sum s, MAE = sum s |r| / sum s,
/// R^2 = 1 - sum s r^2 / sum s (y - ybar_s)^2 with the weighted mean ybar_s (scikit-learn's
/// definitions).  Unit weights give the unweighted bits.
STEEPEST_API Metrics score(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
              const std::vector<double>& weights, double bias);
/// \brief score() of rows spread over processes (options.communicator, as for fit();
/// device and threads are not used): every process gets the metrics of all the rows.
STEEPEST_API Metrics score(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
              const std::vector<double>& weights, double bias, const EvaluateOptions& options);

}  // namespace steepest
