/// \file
/// \brief The state of a fit in progress: what a checkpoint holds and a resume restores.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace steepest {

/// \brief Everything fit() needs to continue a run exactly where it stopped.
///
/// fit() hands one to FitOptions::on_checkpoint; given back as FitOptions::resume, with the
/// same data and the same options (only FitOptions::epochs may differ), the continued fit
/// returns the same bits as a fit that was never interrupted, when it runs on the same
/// backend (another backend continues correctly but rounds differently).
///
/// The row order of every epoch is a pure function of (FitOptions::seed, epoch), so the
/// random generator's position is (epoch, batch): no generator state is stored.  With
/// FitOptions::standardize the parameters and optimizer state are those of the
/// standardised problem, which a resume recomputes from the same data.
struct TrainingState {
  std::int64_t epoch = 0;  ///< epochs completed
  /// Mini-batch steps already taken in epoch `epoch + 1`; 0 at an epoch boundary.
  std::int64_t batch = 0;
  std::int64_t steps = 0;  ///< optimizer steps taken so far (Adam's t)
  /// The run had converged (early stopping or the adaptive rate's floor): a resume returns
  /// at once with StopReason::converged, as the run would have.
  bool converged = false;
  std::vector<double> weights;  ///< the parameters now (after `steps` steps)
  double bias = 0.0;
  /// The parameters after the last completed epoch (what a fit returns when the next epoch
  /// diverges); equal to weights and bias when batch == 0.
  std::vector<double> epoch_weights;
  double epoch_bias = 0.0;
  /// 2 (d + 1) values: s1 of w_1..w_d and b, then s2 likewise (velocity, Adam's moments).
  std::vector<double> optimizer_state;
  /// The running loss of the epoch in progress: sum of r_i^2 and rows so far.
  double running_sse = 0.0;
  double running_rows = 0.0;
  double learning_rate = 0.0;       ///< the initial rate (the estimate under lr auto)
  double rate = 0.0;                ///< the rate the next epoch starts from (adaptive)
  double last_epoch_rate = 0.0;     ///< the rate of the last completed epoch
  double best_loss = 0.0;           ///< best monitored loss so far (early stopping)
  std::int64_t stalled = 0;         ///< epochs in a row without improving it
  double curvature = 0.0;           ///< FitResult::curvature so far
  std::vector<double> loss_history;          ///< FitResult::loss_history so far
  std::vector<double> heldout_loss_history;  ///< FitResult::heldout_loss_history so far
  std::uint64_t seed = 0;           ///< FitOptions::seed (the generator of every row order)
  std::string backend;              ///< backend that produced the state ("cpu", "cuda")
  /// FitResult::solver of the run that produced the state ("residual", "gram"): another
  /// solver continues correctly but rounds differently.  A Gram fit's sums are not stored:
  /// the resumed fit forms them again (the same bits, from the same data).
  std::string solver = "residual";
  /// Checks that a resume gets the same problem: the rows, columns and a hash of every
  /// value of X, y (and the sample weights) read as float64 (the values, not their layout;
  /// a float32 copy of float64 data is other data), and the options that shape the path,
  /// as "name=value;" pairs.  fit() checks every field of a resumed state (ranges, lengths,
  /// consistency with the options and data) and names the first bad one.
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::uint64_t data_fingerprint = 0;
  std::string options_signature;
};

}  // namespace steepest
