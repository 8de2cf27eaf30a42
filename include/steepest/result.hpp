/// \file
/// \brief What fit() and evaluate() return.
#pragma once
#include "steepest/export.h"

#include <cstdint>
#include <string>
#include <vector>

namespace steepest {

/// Why a fit stopped.
enum class StopReason : std::int32_t {
  max_epochs = 0,  ///< ran FitOptions::epochs epochs
  converged = 1,   ///< the relative decrease of the loss fell to FitOptions::tol or below
  diverged = 2,    ///< the loss or a parameter became non-finite; see FitResult::message
  cancelled = 3,   ///< FitOptions::on_epoch returned false
  /// FitOptions::stop_requested was set: the fit stopped after a step (possibly within
  /// an epoch) and handed its state to FitOptions::on_checkpoint
  interrupted = 4,
  /// The Hessian's condition number kappa leaves no certain digit in float64 (kappa eps64
  /// > 0.01, where its estimate nears the rounding of the Hessian's products, or the
  /// Hessian is singular to that precision):
  /// either FitOptions::auto_momentum (or optimizer automatic) could not choose its
  /// parameters and no epoch ran, or the fit stopped improving (what would have been
  /// converged) without certifying any digit of the parameters.  message says which.
  ill_conditioned = 5,
};

/// \brief Lower-case name of \p r ("max_epochs", "converged", "diverged", "cancelled",
/// "interrupted", "ill_conditioned").
STEEPEST_API const char* to_string(StopReason r) noexcept;

/// \brief The CPU reference run beside another backend (FitOptions::validate_every).
///
/// At each check both backends evaluate the full-data MSE and gradient at the same
/// parameters.  The loss deviation is |l - l_ref| / l_ref.  The gradient deviation of
/// feature k is |g_k - g_ref_k| / s_k with s_k = (2/n) sqrt(n MSE) ||x_k||_2, a bound on
/// (2/n) sum_i |r_i x_ik| by Cauchy-Schwarz: summation-order rounding is a small multiple
/// of eps64 times that sum, whatever the cancellation in g_k itself (the bias uses x = 1).
/// With sample weights w_i (total W) the same bound reads s_k = (2/W) sqrt(W MSE)
/// sqrt(sum_i w_i x_ik^2).
struct ValidationReport {
  std::int64_t checks = 0;              ///< 0 when validation was off or not applicable
  double max_loss_deviation = 0.0;
  double max_gradient_deviation = 0.0;
  double tolerance = 0.0;
  bool passed = true;                   ///< every deviation <= tolerance
  std::string note;                     ///< e.g. why no check ran
};

/// \brief The outcome of fit().
///
/// When stop_reason is diverged, weights and bias are the last finite parameters (those
/// at the start of the epoch that failed), never NaN, and message says what happened.
struct FitResult {
  std::vector<double> weights;  ///< one per feature
  double bias = 0.0;
  std::int64_t epochs_run = 0;
  /// Steps of epoch epochs_run + 1 taken when the fit was interrupted within it (the
  /// checkpoint handed to FitOptions::on_checkpoint holds the same position); 0 when it
  /// stopped at the end of an epoch.
  std::int64_t steps_into_epoch = 0;
  StopReason stop_reason = StopReason::max_epochs;
  /// loss_history[0]: MSE at the initial parameters; loss_history[k]: MSE after k epochs
  /// (see HistoryMode for mini-batch runs).  Size epochs_run + 1.  With penalties it holds
  /// the objective MSE + l2 |w|^2 + l1 |w|_1 instead.
  std::vector<double> loss_history;
  /// Exact MSE at (weights, bias) over the rows trained on (all rows unless
  /// FitOptions::validation_fraction holds some out), without penalties.
  double final_mse = 0.0;
  /// With FitOptions::validation_fraction: the held-out rows' MSE at the start and after
  /// every epoch (size epochs_run + 1), its last value (with the gram solver: an exact pass
  /// at the returned parameters, like final_mse), and how many rows were held out.
  std::vector<double> heldout_loss_history;
  double heldout_mse = 0.0;
  std::int64_t heldout_rows = 0;
  std::string backend;     ///< "cpu" or "cuda"
  std::string device_name; ///< e.g. "CPU (2 threads)" or "NVIDIA H100 80GB HBM3"
  /// What gave the full-batch losses and gradients: "residual" (a pass per epoch) or
  /// "gram" (one pass for the Gram sums; FitOptions::solver).
  std::string solver;
  /// Seconds of the Gram pass (the sums of the training and held-out rows; under
  /// standardize with sample weights also the pass for the unweighted moments; with
  /// batches of whole shuffle_block runs the one pass for every run's sums, whose total is
  /// the training rows'); 0 for residual.
  double gram_seconds = 0.0;
  double wall_seconds = 0.0;
  /// The part of wall_seconds spent before the first epoch: choosing the backend (a CUDA
  /// context), moving the data to it, lr auto's estimate and the initial loss pass.
  double setup_seconds = 0.0;
  std::string message;  ///< human-readable note; always set when diverged
  ValidationReport validation;
  double learning_rate = 0.0;        ///< the initial rate used (the estimate under auto)
  double final_learning_rate = 0.0; ///< the rate of the last epoch run (after the schedule)
  /// The curvature L of the objective (the MSE's Hessian plus 2 l2 on the weights): by power
  /// iteration under lr auto (the estimate that set the rate) or after a divergence (to
  /// state the optimizer's stable bound: 2/L for gd, 2(1 + m)/L for momentum,
  /// 2(1 + m)/((1 + 2m) L) for nesterov, none for adam); otherwise the Lanczos estimate
  /// when the spectrum was taken (condition_number); 0 when not estimated, +inf when it
  /// overflows float64.
  double curvature = 0.0;
  /// The update rule that ran ("gd", "momentum", "nesterov", "adam"; FitOptions::optimizer
  /// automatic resolved) and its momentum (0 for gd and adam).
  std::string optimizer;
  double momentum = 0.0;
  /// The extreme eigenvalues of the objective's Hessian H = 2/W [X 1]^T W [X 1] + 2 l2 on
  /// the weights (of the standardised problem under FitOptions::standardize; without the
  /// column of ones when fit_intercept is false), by Lanczos on the backend's passes or on
  /// the Gram sums: mu = min_curvature, condition_number = L / mu (+inf when mu <= 0, H
  /// singular to the precision of its products).  Estimated with the gram solver, for
  /// auto_momentum and optimizer automatic, or on request (estimate_condition); 0 when not.
  /// Gradient descent cannot give the parameters more than -log10(condition_number eps64)
  /// significant digits.
  double min_curvature = 0.0;
  double condition_number = 0.0;
  /// Full batch with a known condition number, a constant rate and gd, momentum or
  /// nesterov: the epochs this optimizer needs to shrink the distance to the optimum by
  /// tol (when tol > 0) or to the data's float64 limit (condition_number eps64) on every
  /// eigen-direction in [mu, L], momentum's transient growth included; -1 when some
  /// direction does not contract; 0 unknown.
  std::int64_t expected_epochs = 0;
};

/// \brief Goodness of fit of a model on data (steepest::score).
struct Metrics {
  double mse = 0.0;   ///< (1/n) sum r_i^2
  double rmse = 0.0;  ///< sqrt(mse)
  double mae = 0.0;   ///< (1/n) sum |r_i|
  double r2 = 0.0;    ///< 1 - sum r_i^2 / sum (y_i - mean y)^2; -inf if y is constant and r != 0
};

/// \brief MSE and its gradient at given parameters.
struct Evaluation {
  double mse = 0.0;
  std::vector<double> grad_weights;  ///< dMSE/dw = (2/n) X^T r
  double grad_bias = 0.0;            ///< dMSE/db = (2/n) sum_i r_i
  std::string backend;
};

}  // namespace steepest
