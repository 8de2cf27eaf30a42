/// \file
/// \brief Fit a linear model by gradient descent on the mean squared error.
#pragma once

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
FitResult fit(const MatrixView& X, const VectorView& y, const FitOptions& options = {});

/// \brief MSE and its gradient (dMSE/dw = (2/n) X^T r, dMSE/db = (2/n) sum r) at (w, b).
///
/// One fused pass over the data, float64 accumulation.
/// \throws InvalidArgument  when weights.size() != X.cols or the shapes disagree.
Evaluation evaluate(const MatrixView& X, const VectorView& y, const std::vector<double>& weights,
                    double bias, const EvaluateOptions& options = {});

/// \brief Predictions y_hat_i = x_i . w + b for every row of \p X, into \p out (X.rows
/// entries).  float64 arithmetic on the CPU, OpenMP-parallel.
/// \throws InvalidArgument  when weights.size() != X.cols or the view is malformed.
void predict(const MatrixView& X, const std::vector<double>& weights, double bias, double* out);

/// \brief MSE, RMSE, MAE and R^2 of the model (w, b) on (X, y), on the CPU in float64.
/// Deterministic: the same bits for any thread count.
Metrics score(const MatrixView& X, const VectorView& y, const std::vector<double>& weights,
              double bias);

}  // namespace steepest
