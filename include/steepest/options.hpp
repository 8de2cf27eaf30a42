/// \file
/// \brief Options of a fit, with every default in one place.
#pragma once
#include "steepest/export.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "steepest/communicator.hpp"
#include "steepest/state.hpp"

namespace steepest {

/// Where the arithmetic runs.
enum class Device : std::int32_t {
  automatic = 0,  ///< the CUDA backend when compiled in and a device is usable, else the CPU
  cpu = 1,        ///< the CPU reference backend (OpenMP + SIMD, float64 accumulation)
  cuda = 2,       ///< the CUDA backend; an error if it is not compiled or no device is usable
};

/// What loss_history records in mini-batch mode (full batch is always exact and free: the
/// MSE of a residual pass, or with the gram solver the MSE from the Gram sums, equal up to
/// rounding while the MSE is not tiny against the variance of y).
enum class HistoryMode : std::int32_t {
  /// loss_history[k] is the MSE over all rows after k epochs.  Mini-batch mode pays one
  /// extra loss-and-gradient pass over the data per epoch for it.
  exact = 0,
  /// loss_history[k] (k >= 1) is the row-weighted mean of the batch MSEs seen during epoch
  /// k, each taken before that batch's step.  Costs nothing; it lags the exact value.
  running_average = 1,
};

/// How the learning rate changes over a fit.  t is the 1-based epoch number; the rate is
/// constant within an epoch (every mini-batch step of epoch t uses the rate of epoch t).
enum class Schedule : std::int32_t {
  constant = 0,         ///< lr_t = lr
  inverse_scaling = 1,  ///< lr_t = lr / t^power_t
  exponential = 2,      ///< lr_t = lr * decay^(t-1)
  step = 3,             ///< lr_t = lr * decay^floor((t-1) / step_epochs)
  /// As scikit-learn's "adaptive": the rate is divided by 5 each time n_iter_no_change
  /// consecutive epochs fail to lower the best loss so far by more than tol x best; the
  /// fit stops (converged) when the rate falls below 1e-6 x its initial value.
  adaptive = 4,
};

/// The update rule of a step (g: gradient of the objective for that step's rows).
enum class Optimizer : std::int32_t {
  gd = 0,        ///< w -= lr g
  momentum = 1,  ///< v = momentum v + g;  w -= lr v
  nesterov = 2,  ///< v = momentum v + g;  w -= lr (g + momentum v)
  adam = 3,      ///< Adam (Kingma & Ba) with bias correction; t counts steps from 1
  /// Chosen from the Hessian's spectrum (FitResult::condition_number): full batch, the
  /// heavy ball (momentum) with the rate and momentum of FitOptions::auto_momentum; in
  /// mini-batch mode, momentum with lr auto's 1/L_B and momentum 0.5.  The choice is
  /// FitResult::optimizer.
  automatic = 4,
};

/// \brief Lower-case name of \p o ("gd", "momentum", "nesterov", "adam", "auto").
STEEPEST_API const char* to_string(Optimizer o) noexcept;

/// How a fit gets its losses and gradients.
enum class Solver : std::int32_t {
  /// gram when d <= 512 and epochs > d (one Gram pass then costs less than the epochs'
  /// residual passes) and the fit is full batch, or on the CPU backend has fixed batches
  /// (shuffle off) or batches of whole shuffle_block runs without held-out rows (their sums
  /// kept); else residual (shuffled single rows, and batches on the GPU).
  automatic = 0,
  /// One fused pass over the rows per epoch: r = X w + b - y, X^T r, sum r^2.
  residual = 1,
  /// One pass forms the shifted Gram sums of [X y] (sum w z z^T, sum w z, sum w: everything
  /// the MSE and its gradient need); every epoch then costs O(d^2) and no pass over the data.
  /// The same iterates as residual up to rounding.  d <= 512 (InvalidArgument otherwise).
  /// final_mse is still one exact residual pass at the end: the loss from the sums cancels
  /// when the MSE is tiny against the variance of y.  With batches (mini-batch Gram mode)
  /// each epoch first sums every batch's Gram sums, in parallel, and then steps through the
  /// batches in O(d^2) each; batches of whole shuffle_block runs (no held-out rows) are
  /// formed from the kept sums of every run; when the batches stay the same (no shuffling)
  /// the sums are kept and, for gd, momentum and nesterov without l1 at a constant or adaptive rate with exact
  /// history and no on_step, each epoch is one affine map composed once.
  gram = 2,
};

/// What a fit decided before its first epoch, passed to FitOptions::on_start.
struct StartReport {
  Optimizer optimizer = Optimizer::gd;  ///< the update rule (never automatic)
  double learning_rate = 0.0;           ///< the initial rate
  double momentum = 0.0;                ///< momentum and nesterov; 0 otherwise
  /// The Hessian's extreme eigenvalues and their ratio, when estimated (0 otherwise; see
  /// FitResult::condition_number).
  double curvature = 0.0, min_curvature = 0.0, condition_number = 0.0;
  /// FitResult::expected_epochs; 0 when unknown.
  std::int64_t expected_epochs = 0;
  std::int64_t max_epochs = 0;  ///< FitOptions::epochs
};

/// Progress of a fit, passed to FitOptions::on_epoch after every epoch.
struct EpochReport {
  std::int64_t epoch = 0;       ///< epochs completed so far (1-based)
  std::int64_t max_epochs = 0;  ///< FitOptions::epochs
  double loss = 0.0;            ///< loss_history[epoch]
  const std::vector<double>* weights = nullptr;  ///< parameters after this epoch
  double bias = 0.0;
  double learning_rate = 0.0;   ///< the rate this epoch used
  /// MSE on the held-out rows (FitOptions::validation_fraction); NaN when none are held out.
  double heldout_loss = 0.0;
};

/// Progress within an epoch, passed to FitOptions::on_step after every optimizer step.
struct StepReport {
  std::int64_t epoch = 0;       ///< the epoch in progress (1-based)
  std::int64_t step = 0;        ///< steps taken in this epoch (1-based)
  /// MSE of the step's rows at the parameters before the step (full batch: all training
  /// rows, i.e. loss_history[epoch - 1] without penalties).
  double batch_loss = 0.0;
  const std::vector<double>* weights = nullptr;  ///< parameters after the step
  double bias = 0.0;
  double learning_rate = 0.0;   ///< the rate of the step
};

/// \brief Options of fit().  The defaults are the ones the CLI uses.
///
/// The objective is MSE(w, b) = (1/n) sum_i (x_i . w + b - y_i)^2; one step is
/// w -= learning_rate * dMSE/dw, b -= learning_rate * dMSE/db, with the gradient over the
/// rows of the current batch (all rows in full-batch mode).
struct FitOptions {
  double learning_rate = 0.01;  ///< step size, > 0 (ignored when auto_learning_rate)
  /// Estimate the curvature L (largest eigenvalue of the objective's Hessian
  /// 2/n [X 1]^T [X 1] + 2 l2 I on the weights: the L2 penalty counts, the bias is not
  /// penalised) by power iteration and use lr = 1/L for full batch, 1/L_B for batches of
  /// B rows, where L_B = (n(B-1) L + (n-B) L_max) / (B(n-1)) interpolates between L and the
  /// largest per-row curvature L_max = 2 max_i (|x_i|^2 + 1) + 2 l2 (the "expected
  /// smoothness" of sampling B rows without replacement).  Reported in
  /// FitResult::curvature.  InvalidArgument when L is 0 (all-zero features without an
  /// intercept or penalty) or overflows float64 (|x| beyond ~1e154).
  bool auto_learning_rate = false;
  /// Fit on standardised features z = (x - mean) / sd (passes for the moments, one to
  /// write a standardised copy of X in its storage type; a full-batch Gram fit makes no
  /// copy and takes the moments from its Gram pass, or with sample weights from one more
  /// pass) and report the model in original units.  The moments are unweighted, also
  /// with sample weights.  Predictions, the MSE and the history are the same in both; the
  /// problem's conditioning is not.  Penalties then apply to the standardised weights.  Without an
  /// intercept (fit_intercept false) the columns are scaled, not centred: z = x / rms with
  /// rms = sqrt(mean x^2), so a constant column stays a column (it acts as an intercept).
  /// With one, a column whose spread is within rounding of its mean (sd <= 4 eps |mean|)
  /// is constant: the intercept carries it and its weight is exactly 0.  The moments are
  /// taken of each column scaled by a power of two, so |x| ~ 1e200 or 1e-300 is fine.
  bool standardize = false;
  Optimizer optimizer = Optimizer::gd;
  double momentum = 0.9;                  ///< momentum and nesterov, in [0, 1)
  /// momentum and nesterov: the rate and the momentum from the Hessian's extreme
  /// eigenvalues L and mu (kappa = L / mu; learning_rate, momentum and auto_learning_rate
  /// are then ignored).  Full batch, the parameters that minimise the worst contraction on a
  /// quadratic: heavy ball alpha = 4 / (sqrt L + sqrt mu)^2, beta = ((sqrt kappa - 1) /
  /// (sqrt kappa + 1))^2 (B. T. Polyak, "Some methods of speeding up the convergence of
  /// iteration methods", USSR Comput. Math. Math. Phys. 4(5), 1964); Nesterov alpha = 1/L,
  /// beta = (sqrt kappa - 1) / (sqrt kappa + 1) (Y. Nesterov, Introductory Lectures on
  /// Convex Optimization, 2004, constant step scheme III).  A full-batch fit whose kappa
  /// leaves no certain digit (kappa eps64 > 0.01: near the rounding of the Hessian's
  /// products mu is not resolved; or mu <= 0: H singular) runs no epoch and stops with
  /// StopReason::ill_conditioned.  Mini-batch: lr auto's 1/L_B and
  /// momentum 0.5 (conservative: batch noise grows with lr / (1 - momentum), and every
  /// batch's step stays a third of the heavy ball's stability bound 2 (1 + beta) / L_B).
  bool auto_momentum = false;
  /// Estimate the Hessian's extreme eigenvalues (FitResult::condition_number) even when
  /// nothing automatic needs them: Lanczos, at most d + 1 extra passes with the residual
  /// solver (none with gram, which always estimates them).
  bool estimate_condition = false;
  double beta1 = 0.9, beta2 = 0.999;      ///< adam, in [0, 1)
  double epsilon = 1e-8;                  ///< adam, > 0
  /// Penalties: the objective becomes MSE + l2 ||w||_2^2 + l1 ||w||_1 (the bias is never
  /// penalised; both > 0 is the elastic net).  l1 is applied by its proximal step
  /// (soft-thresholding by lr l1 after each step), so coefficients reach exact zeros.
  double l2 = 0.0;
  double l1 = 0.0;
  Schedule schedule = Schedule::constant;
  double power_t = 0.25;            ///< inverse_scaling exponent, >= 0
  double decay = 0.5;               ///< exponential and step factor, in (0, 1]
  std::int64_t step_epochs = 10;    ///< step: epochs between decays, >= 1
  std::int64_t n_iter_no_change = 5;  ///< early stopping and adaptive: epochs without improvement, >= 1
  std::int64_t epochs = 1000;   ///< maximum number of epochs, >= 0
  /// Rows per mini-batch; 0 (or >= n) means full batch: one step per epoch over all rows.
  /// In mini-batch mode the last batch of an epoch holds the n % batch_size leftover rows
  /// (when non-zero) and its gradient is the mean over those rows only.
  std::int64_t batch_size = 0;
  std::uint64_t seed = 0;  ///< seeds the row permutation of every epoch
  bool shuffle = true;     ///< mini-batch only: permute rows each epoch (else natural order)
  /// Shuffling permutes runs of this many consecutive training rows rather than single rows
  /// (>= 1; 1: rows).  A batch then gathers whole runs, which the memory reads in streams
  /// instead of a cache and TLB miss a row; each run keeps its rows in order, so data in a
  /// meaningful order (sorted, grouped) mixes less.  A pure function of (seed, epoch).
  std::int64_t shuffle_block = 1;
  /// Early stopping: stop with StopReason::converged when n_iter_no_change consecutive
  /// epochs each fail to lower the best loss so far by more than tol x best (the rule is
  /// against the best loss, as scikit-learn's); 0 disables it.  With the adaptive schedule
  /// tol is its improvement threshold instead, not a stopping rule.  The loss watched is
  /// the training objective, or the held-out MSE when validation_fraction > 0.
  double tol = 0.0;
  /// Hold out this fraction of the rows, in [0, 1): round(fraction n) rows (at least 1)
  /// chosen by a seeded permutation of its own (a pure function of seed and n), never
  /// trained on; their MSE after every epoch is FitResult::heldout_loss_history and is
  /// what early stopping and the adaptive schedule watch.  The parameters returned are
  /// those of the last epoch, not of the best held-out epoch.  0 = off.  With sample
  /// weights, a split whose training or held-out weights sum to zero is refused
  /// (InvalidArgument naming the fraction and the side).
  double validation_fraction = 0.0;
  std::vector<double> init_weights;  ///< warm start; empty means all zeros
  double init_bias = 0.0;            ///< warm start of the intercept
  /// Learn the intercept b.  When false, b stays at init_bias (normally 0).
  bool fit_intercept = true;
  Device device = Device::automatic;
  Solver solver = Solver::automatic;
  HistoryMode history = HistoryMode::exact;
  /// CPU threads; 0 means the OpenMP default.  Never changes a result bit.  At most 4 x the
  /// hardware threads (but 64 is always allowed) and never more than 1024: more is refused
  /// with InvalidArgument (OpenMP aborts the process when it cannot start them).
  std::int32_t threads = 0;
  /// The CUDA device of the fit (device cuda, or automatic when it takes the GPU): -1 (the
  /// default) is the current device, or across processes (communicator) the node-local
  /// rank's, node_rank modulo the devices; a device the machine lacks is InvalidArgument.
  std::int32_t cuda_device = -1;
  /// Cross-check a non-CPU backend against the CPU reference on the same parameters at
  /// the start and every validate_every epochs (0 = off); see FitResult::validation.
  std::int64_t validate_every = 0;
  /// Largest deviation accepted by the cross-check (see ValidationReport for the measure).
  double validate_tolerance = 1e-8;
  /// Called once before the first epoch (also when resuming), with the parameters chosen.
  std::function<void(const StartReport&)> on_start;
  /// Called after every epoch; return false to stop the fit with StopReason::cancelled.
  std::function<bool(const EpochReport&)> on_epoch;
  /// Called after every optimizer step, to draw the path of (stochastic) gradient descent
  /// step by step.  Reads the parameters back after each step (on a GPU a synchronisation
  /// per step): meant for small runs.  Changes no result bit.
  std::function<void(const StepReport&)> on_step;

  /// Checkpoints: on_checkpoint receives the state every checkpoint_every epochs
  /// (0 = never on a schedule), when a stop is requested, and once at the end of a fit
  /// that did not diverge.  See TrainingState.
  std::int64_t checkpoint_every = 0;
  std::function<void(const TrainingState&)> on_checkpoint;
  /// Continue from this state instead of starting afresh (init_weights and init_bias are
  /// then ignored).  The data and options must be those of the run that made it; fit()
  /// throws InvalidArgument naming what differs.
  std::shared_ptr<const TrainingState> resume;
  /// Polled after every optimizer step: when it reads true the fit finishes that step,
  /// passes the state to on_checkpoint and returns with StopReason::interrupted.  A signal
  /// handler may set it (std::atomic<bool> is lock-free on every supported platform).
  const std::atomic<bool>* stop_requested = nullptr;
  /// A fit across processes (steepest/mpi.hpp): each process passes its own rows, and the
  /// rows of the fit are process 0's, then process 1's, ...  Every process returns the same
  /// FitResult.  When every process holds whole chunks of the data plan (as the CLI splits
  /// a file) the result has the bits of one process holding all the rows; for any other
  /// split it is deterministic for that split.  Callbacks run on every process; only
  /// stop_requested needs to be set on one (it is shared after every step).  Null: this
  /// process alone.
  std::shared_ptr<const Communicator> communicator = nullptr;
};

/// \brief Options of evaluate(): only the device matters.
struct EvaluateOptions {
  Device device = Device::automatic;
  std::int32_t threads = 0;  ///< CPU threads, 0 = OpenMP default; bounded as FitOptions::threads
  /// Rows spread over processes, as FitOptions::communicator: every process gets the
  /// evaluation of all of them.
  std::shared_ptr<const Communicator> communicator = nullptr;
};

}  // namespace steepest
