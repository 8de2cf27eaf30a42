/// \file
/// \brief Options of a fit, with every default in one place.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace steepest {

/// Where the arithmetic runs.
enum class Device : std::int32_t {
  automatic = 0,  ///< the CUDA backend when compiled in and a device is usable, else the CPU
  cpu = 1,        ///< the CPU reference backend (OpenMP + SIMD, float64 accumulation)
  cuda = 2,       ///< the CUDA backend; an error if it is not compiled or no device is usable
};

/// What loss_history records in mini-batch mode (full batch is always exact and free).
enum class HistoryMode : std::int32_t {
  /// loss_history[k] is the MSE over all rows after k epochs.  Mini-batch mode pays one
  /// extra loss-and-gradient pass over the data per epoch for it.
  exact = 0,
  /// loss_history[k] (k >= 1) is the row-weighted mean of the batch MSEs seen during epoch
  /// k, each taken before that batch's step.  Costs nothing; it lags the exact value.
  running_average = 1,
};

/// Progress of a fit, passed to FitOptions::on_epoch after every epoch.
struct EpochReport {
  std::int64_t epoch = 0;       ///< epochs completed so far (1-based)
  std::int64_t max_epochs = 0;  ///< FitOptions::epochs
  double loss = 0.0;            ///< loss_history[epoch]
};

/// \brief Options of fit().  The defaults are the ones the CLI uses.
///
/// The objective is MSE(w, b) = (1/n) sum_i (x_i . w + b - y_i)^2; one step is
/// w -= learning_rate * dMSE/dw, b -= learning_rate * dMSE/db, with the gradient over the
/// rows of the current batch (all rows in full-batch mode).
struct FitOptions {
  double learning_rate = 0.01;  ///< step size, > 0
  std::int64_t epochs = 1000;   ///< maximum number of epochs, >= 0
  /// Rows per mini-batch; 0 (or >= n) means full batch: one step per epoch over all rows.
  /// In mini-batch mode the last batch of an epoch holds the n % batch_size leftover rows
  /// (when non-zero) and its gradient is the mean over those rows only.
  std::int64_t batch_size = 0;
  std::uint64_t seed = 0;  ///< seeds the row permutation of every epoch
  bool shuffle = true;     ///< mini-batch only: permute rows each epoch (else natural order)
  /// Stop with StopReason::converged when an epoch lowers the loss by no more than
  /// tol * previous loss (and does not raise it); 0 disables the test.
  double tol = 0.0;
  std::vector<double> init_weights;  ///< warm start; empty means all zeros
  double init_bias = 0.0;            ///< warm start of the intercept
  /// Learn the intercept b.  When false, b stays at init_bias (normally 0).
  bool fit_intercept = true;
  Device device = Device::automatic;
  HistoryMode history = HistoryMode::exact;
  /// CPU threads; 0 means the OpenMP default.  Never changes a result bit.
  std::int32_t threads = 0;
  /// Cross-check a non-CPU backend against the CPU reference on the same parameters at
  /// the start and every validate_every epochs (0 = off); see FitResult::validation.
  std::int64_t validate_every = 0;
  /// Largest deviation accepted by the cross-check (see ValidationReport for the measure).
  double validate_tolerance = 1e-8;
  /// Called after every epoch; return false to stop the fit with StopReason::cancelled.
  std::function<bool(const EpochReport&)> on_epoch;
};

/// \brief Options of evaluate(): only the device matters.
struct EvaluateOptions {
  Device device = Device::automatic;
  std::int32_t threads = 0;  ///< CPU threads, 0 = OpenMP default
};

}  // namespace steepest
