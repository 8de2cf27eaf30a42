#include "train/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include "backend/chunk_plan.hpp"
#include "backend/select.hpp"
#include "backend/view_access.hpp"
#include "steepest/error.hpp"
#include "train/divergence.hpp"
#include "train/affine_epoch.hpp"
#include "train/batch_gram.hpp"
#include "train/gram_backend.hpp"
#include "train/permutation.hpp"
#include "train/run_state.hpp"
#include "train/standardize.hpp"
#include "train/step_size.hpp"

namespace steepest::detail {
namespace {

/// One of the trainer's whole orders, lent to the backend (RowOrder::lent): the trainer
/// changes it only right before it sets the next order.
RowOrder lent(const IndexVector& order) {
  return {order.data(), nullptr, static_cast<std::int64_t>(order.size()), false, true};
}

bool all_finite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

/// The step rule of the options; the rate and Adam's bias corrections are set per step.
StepRule step_rule_of(const FitOptions& o) {
  StepRule rule;
  rule.optimizer = o.optimizer;
  rule.momentum = o.momentum;
  rule.beta1 = o.beta1;
  rule.beta2 = o.beta2;
  rule.epsilon = o.epsilon;
  rule.l2 = o.l2;
  rule.l1 = o.l1;
  rule.update_bias = o.fit_intercept;
  return rule;
}

}  // namespace

// Rows [0, n_train) of the row order are trained on; with a held-out fraction the rows
// [n_train, n) are only evaluated.  batch_size >= n_train is full batch: one batch of all
// training rows gives the same gradient, and the same order keeps the bits identical to
// batch_size == 0.
Trainer::Trainer(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                 const FitOptions& options, Team& team, ColumnScaling* gram_scaling)
    : X_(X), y_(y), sample_weight_(sample_weight), given_(options), opt_(options), team_(team), share_(team.share(X.rows)),
      resume_(options.resume.get()), start_(std::chrono::steady_clock::now()), n_(share_.total),
      held_(heldout_count(n_, options.validation_fraction)),
      n_train_(n_ - held_), full_batch_(options.batch_size == 0 || options.batch_size >= n_train_),
      shuffle_(!full_batch_ && options.shuffle), ordered_(shuffle_ || held_ > 0), local_(ordered_ && !team.alone()),
      d_(static_cast<std::size_t>(X.cols)), gram_scaling_(gram_scaling), w_(d_), step_w_(options.on_step ? d_ : 0) {}

Trainer::~Trainer() = default;

/// The fit: set up (or resume), then per epoch the rate, the passes and steps, the record
/// (history, divergence), the stopping rules and the checkpoint; then the final loss.
FitResult Trainer::run() {
  set_up();
  for (std::int64_t epoch = first_epoch_; epoch <= opt_.epochs; ++epoch) {
    set_epoch_rate(epoch);
    if (!train_epoch(epoch)) break;       // a stop within the epoch (its checkpoint taken)
    if (!record_epoch(epoch)) break;      // diverged: the last finite parameters are kept
    if (stopping_rule_met(epoch)) break;  // cancelled, converged or a stop requested
    if (checkpoint_due(epoch)) checkpoint(epoch, 0);
  }
  return finish();
}

// ---- set-up ---------------------------------------------------------------------------

void Trainer::set_up() {
  // Mini-batch Gram mode over whole runs keeps the epoch's order to itself: no buffer for it
  // on the data backend (n 64-bit indices of device memory on a GPU).
  const bool order_kept = opt_.solver == Solver::gram && keeps_run_sums();
  SelectedBackend selected =
      select_backend_agreed(team_, opt_.device, X_, y_, sample_weight_, opt_.threads, ordered_ && !order_kept, share_,
                            cuda_device_for(opt_.cuda_device, opt_.device, team_));
  backend_ = std::move(selected.backend);
  gram_ = use_gram();
  fingerprint_ = resume_ || opt_.on_checkpoint ? data_fingerprint(X_, y_, sample_weight_, share_, team_) : 0;
  if (resume_) check_resume(*resume_, given_, n_, X_.cols, fingerprint_);

  res_.backend = backend_->name();
  res_.device_name = backend_->device_name();
  res_.message = selected.note;
  res_.heldout_rows = held_;
  res_.solver = gram_ ? "gram" : "residual";
  split_rows();
  if (gram_) form_gram();
  take_spectrum();
  source_ = std::make_unique<ResidualPasses>(*backend_, n_train_, held_ > 0);
  if (resume_)
    restore(*resume_);
  else
    start_fresh();
  first_passes();
  rule_ = step_rule_of(opt_);
  affine_epochs_ = gram_ && !full_batch_ && takes_affine_epochs(rule_);
  if (!refusal_.empty()) {  // no epoch runs; finish() reports the initial parameters
    res_.stop_reason = StopReason::ill_conditioned;
    res_.message += std::string(res_.message.empty() ? "" : " ") + refusal_;
    first_epoch_ = opt_.epochs + 1;
  }
  report_start();
  res_.setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

/// The row order: the training rows (permuted per epoch when shuffling), then the held-out
/// rows.  Without a held-out part and without shuffling no order is used at all.  Shuffled
/// with a held-out part, each epoch permutes a fresh copy of the split's training rows.
void Trainer::split_rows() {
  if (local_) {
    split_local_rows();
    return;
  }
  // Batches of whole runs, every row trained on, and a backend that reads runs: the epoch's
  // order is handed over as its runs (8 bytes a run), never written out (8 bytes a row).
  // (Mini-batch Gram mode takes them itself when it keeps the runs' sums.)
  runs_ = whole_run_batches() && (backend_->takes_runs() || (gram_ && keeps_run_sums()));
  order_.resize(ordered_ && !runs_ ? static_cast<std::size_t>(n_) : 0);
  if (held_ == 0) return;
  heldout_split(opt_.seed, n_, held_, order_.data());
  // Each part in row order, so grouped by shard (a backend's contract,
  // backend/chunk_plan.hpp), streaming through X rather than jumping across it.
  std::sort(order_.begin(), order_.begin() + n_train_);
  std::sort(order_.begin() + n_train_, order_.end());
  check_split_weights(sample_weight_, order_.data(), n_train_, order_.data() + n_train_, held_, n_, held_,
                      opt_.validation_fraction, share_.first, team_);
  if (shuffle_) split_ = order_;  // each epoch shuffles its training part afresh
  backend_->set_row_order(lent(order_));
}

/// split_rows() across processes: this process's rows of the split alone, its training rows
/// placed after those of the processes before it (train/local_order.hpp).
void Trainer::split_local_rows() {
  LocalRows& mine = local_rows_;
  const std::int64_t m = X_.rows;
  mine.count = m;  // without rows held out, training position k is row k: no list
  if (held_ > 0) {
    local_heldout_split(team_, opt_.seed, n_, held_, share_.first, m, opt_.threads, mine.train, mine.heldout);
    check_split_weights(sample_weight_, mine.train.data(), static_cast<std::int64_t>(mine.train.size()),
                        mine.heldout.data(), static_cast<std::int64_t>(mine.heldout.size()), n_, held_,
                        opt_.validation_fraction, share_.first, team_);
    mine.count = static_cast<std::int64_t>(mine.train.size());
  }
  const std::vector<std::int64_t> counts = team_.gather(mine.count);
  mine.first_input = 0;
  for (int r = 0; r < team_.rank(); ++r) mine.first_input += counts[static_cast<std::size_t>(r)];
  if (held_ == 0) return;
  local_split_order(mine, order_shape(), local_split_);
  backend_->set_row_order(local_split_.view());
}

/// The shape of the fit's row orders (train/local_order.hpp).
OrderShape Trainer::order_shape() const {
  return {n_train_, n_, full_batch_ ? n_train_ : opt_.batch_size, opt_.shuffle_block,
          plan_data(n_, X_.cols).rows_per_shard};
}

/// FitOptions::solver: gram needs at most kGramMaxFeatures features; automatic takes it for
/// a full batch when the epochs outnumber the features (its one pass costs a few residual
/// passes for small d, and about d / 8 of them on a CPU at its multiply-add peak).  With
/// batches gram is mini-batch Gram mode (train/batch_gram.hpp), which automatic takes for
/// fixed batches on the CPU.
bool Trainer::use_gram() const {
  const std::int64_t d = X_.cols;
  if (opt_.solver == Solver::gram) {
    if (d > kGramMaxFeatures)
      throw InvalidArgument("solver gram takes at most " + std::to_string(kGramMaxFeatures) + " features; this fit has " +
                            std::to_string(d) + " (use solver residual)");
    return true;
  }
  // Fixed batches (no shuffling) on the CPU: their sums are kept, so the data is read once
  // and every later epoch costs O(batches d^2) (2.4-20x faster an epoch than residual at
  // d = 4..64, bench/results/minibatch-cpu-vm-2026-12-02.md).  Not yet on the GPU, where
  // mini-batch Gram mode is unmeasured; shuffled batches stay residual (faster here).
  // Shuffled batches of whole runs likewise when every run's sums are kept (their epochs
  // 4-18x faster than residual's at B = K = 1024 on the 2-core VM, and 0.3-0.5 of a full-batch
  // epoch: bench/results/minibatch-gram-runs-cpu-vm-2026-12-03.md).
  const bool on_cpu = !full_batch_ && std::strcmp(backend_->name(), "cpu") == 0;
  const bool kept = on_cpu && (!shuffle_ || keeps_run_sums());
  return runs_gram(opt_, n_, d) || (kept && opt_.solver == Solver::automatic && d <= kGramMaxFeatures && opt_.epochs > d);
}

/// Batches of whole --shuffle-block runs, every row trained on, in one process: the epoch's
/// order can go to the backend as its runs alone (split_rows).
bool Trainer::whole_run_batches() const {
  return shuffle_ && held_ == 0 && !local_ && opt_.shuffle_block > 1 && opt_.batch_size % opt_.shuffle_block == 0;
}

/// Whether mini-batch Gram mode keeps the sums of every run (train/batch_gram.hpp).
bool Trainer::keeps_run_sums() const {
  return whole_run_batches() &&
         run_sums_fit(n_train_, X_.cols, opt_.shuffle_block, batch_sums_budget(X_.rows * X_.cols * dtype_size(X_.dtype)));
}

bool runs_gram(const FitOptions& o, std::int64_t n, std::int64_t d) {
  const std::int64_t n_train = n - heldout_count(n, o.validation_fraction);
  const bool full_batch = o.batch_size == 0 || o.batch_size >= n_train;
  if (!full_batch || d > kGramMaxFeatures) return false;
  return o.solver == Solver::gram || (o.solver == Solver::automatic && o.epochs > d);
}

/// Gram mode: one pass of the data backend for the sums of the training rows (and one for
/// the held-out rows), then a GramBackend over them runs the epochs (with batches, a batch
/// Gram backend, which has the data backend sum each epoch's batches); the data backend
/// stays for the final exact pass.
void Trainer::form_gram() {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<double> shift = gram_shift();
  const std::size_t width = gram_width(X_.cols);
  std::vector<double> train(width), held(width, 0.0), all(width), run_sums;
  const bool kept_runs = runs_ && keeps_run_sums();  // (runs_: shuffled batches, never a full one)
  if (kept_runs) {  // one pass: every run's sums, and the training rows' as their total
    run_sums = run_gram_sums(*backend_, n_train_, opt_.shuffle_block, shift.data());
    pairwise_total(run_sums.data(), n_train_ / opt_.shuffle_block + 1, width, train.data());
  } else {
    backend_->gram_sums(0, n_train_, held_ > 0, shift.data(), train.data());
  }
  if (held_ > 0) backend_->gram_sums(n_train_, n_, true, shift.data(), held.data());
  for (std::size_t k = 0; k < width; ++k) all[k] = train[k] + held[k];
  if (gram_scaling_ == nullptr && opt_.solver == Solver::automatic && !all_finite(all)) {
    // Squares beyond float64 (|x| or |y| past ~1e154), or non-finite data: the residual
    // path still fits the first and names the second.
    gram_ = false;
    res_.solver = "residual";
    if (runs_ && !backend_->takes_runs()) {  // split_rows counted on the Gram backend taking the runs
      runs_ = false;
      order_.resize(static_cast<std::size_t>(n_));
    }
    return;
  }
  GramMoments train_m = gram_moments(train.data(), shift.data(), X_.cols);
  GramMoments held_m = gram_moments(held.data(), shift.data(), X_.cols);
  GramMoments all_m = held_ > 0 ? gram_moments(all.data(), shift.data(), X_.cols) : GramMoments{};
  if (gram_scaling_ != nullptr) standardize_gram(all, shift, train_m, held_m, all_m);
  data_ = std::move(backend_);
  // Without held-out rows "all" is the training rows: the backend answers those first.
  backend_ = full_batch_ ? make_gram_backend(*data_, n_train_, std::move(train_m), std::move(held_m), std::move(all_m))
                         : make_batch_gram_backend(*data_, n_train_, opt_.batch_size, shift, std::move(train_m),
                                                   std::move(held_m), std::move(all_m),
                                                   batch_sums_budget(X_.rows * X_.cols * dtype_size(X_.dtype)),
                                                   kept_runs ? opt_.shuffle_block : 1, std::move(run_sums));
  res_.gram_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Whether mini-batch Gram mode runs each epoch as one affine map: the batches stay the same
/// (no shuffling), the rule is affine at a rate that changes seldom (constant or adaptive),
/// the history is exact and nothing reports each step; and the map pays: composing a batch's
/// (2 S^3 flops, S the state's length) costs about S^3 / (4 (d + 1)^2) epochs of stepping
/// through it (measured on the 2-core VM at d = 16: gd's map pays after ~5 epochs, the
/// momentum's after ~17).
bool Trainer::takes_affine_epochs(const StepRule& rule) const {
  const std::int64_t m = X_.cols + 1, S = affine_state_size(rule, X_.cols);
  const bool fixed_rate = opt_.schedule == Schedule::constant || opt_.schedule == Schedule::adaptive;
  return !shuffle_ && affine_rule(rule) && fixed_rate && opt_.history == HistoryMode::exact && !opt_.on_step &&
         opt_.epochs > S * S * S / (4 * m * m);
}

/// --standardize in Gram mode: the scaling from the moments of all rows (the sums of the
/// training and held-out rows, shifted alike, add up), the three sets of moments in
/// standardised coordinates, and the warm start in them.  Weighted, the scaling is that of
/// the unweighted moments (one more pass, unweighted_column_moments, with the same shift);
/// the weighted sums, which are what is transformed, must pass gram_column_scaling's checks
/// as well.  That second check is conservative (once the unweighted moments pass, what
/// underflowed is, for weights of order 1, ~2^-174 a row in the units of z, where each
/// scaled column has unit variance), but it keeps one refusal rule.
void Trainer::standardize_gram(const std::vector<double>& all, const std::vector<double>& shift, GramMoments& train,
                               GramMoments& held, GramMoments& whole) {
  const GramMoments& every = held_ > 0 ? whole : train;
  if (!all_finite(all) || !gram_column_scaling(every, opt_.fit_intercept, *gram_scaling_)) throw GramScalingUnusable{};
  if (sample_weight_.data != nullptr) {
    const GramMoments unweighted = unweighted_column_moments(X_, y_, shift.data(), share_, team_);
    if (!gram_column_scaling(unweighted, opt_.fit_intercept, *gram_scaling_)) throw GramScalingUnusable{};
  }
  standardize_moments(train, *gram_scaling_);
  standardize_moments(held, *gram_scaling_);
  standardize_moments(whole, *gram_scaling_);
  standardized_start(given_, *gram_scaling_, opt_);
}

/// The data backend's parameters (its exact passes): the trainer's, or under a Gram
/// standardisation the trainer's mapped back to the units of X.
void Trainer::set_data_parameters(const std::vector<double>& w, double b) {
  if (gram_scaling_ == nullptr) {
    data_->set_parameters(w.data(), b);
    return;
  }
  std::vector<double> wo;
  double bo = 0.0;
  to_original(*gram_scaling_, w, b, wo, bo);
  data_->set_parameters(wo.data(), bo);
}

/// The Gram sums' shift: the mean of the fit's first chunk of rows (x and y), from the
/// process holding row 0 — near the data's mean, so that the co-moments lose a digit or so
/// to cancellation (backend/gram.hpp), where the unshifted sums can lose them all.
std::vector<double> Trainer::gram_shift() const {
  const std::size_t m = d_ + 1;
  std::vector<double> shift(m, 0.0);
  const bool mine = share_.first == 0 && X_.rows > 0;
  if (mine) {
    const std::int64_t rows = std::min(X_.rows, plan_chunks(n_, X_.cols).rows_per_chunk);
    const auto inv = 1.0 / static_cast<double>(rows);
    for (std::int64_t i = 0; i < rows; ++i) {
      for (std::size_t k = 0; k < d_; ++k) shift[k] += value_at(X_, i, static_cast<std::int64_t>(k)) * inv;
      shift[d_] += value_at(y_, i) * inv;
    }
  }
  const std::vector<double> first = team_.gather_rows(shift.data(), mine ? 1 : 0, m);
  return std::vector<double>(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(m));
}

/// The Hessian's extreme eigenvalues (FitResult::condition_number), when something needs
/// them: the spectrum's parameters, a request, or Gram mode (where the products cost no
/// pass).  Before any parameter is set: it leaves arbitrary ones in the backend.  A resume
/// takes it again (the same bits from the same data and backend).
void Trainer::take_spectrum() {
  const bool spectral = given_.optimizer == Optimizer::automatic || given_.auto_momentum;
  if (!spectral && !given_.estimate_condition && !gram_) return;
  spectrum_ = estimate_spectrum(*backend_, opt_.fit_intercept, opt_.l2);
  res_.curvature = spectrum_.L;
  res_.min_curvature = spectrum_.mu;
  res_.condition_number = spectrum_.kappa;
  if (spectral) tune_from_spectrum();
}

/// FitOptions::auto_momentum (and optimizer automatic): the rate and momentum of a quadratic
/// with the spectrum's extremes (full batch), or lr auto's 1/L_B and a momentum of 0.5.
void Trainer::tune_from_spectrum() {
  constexpr double kBatchMomentum = 0.5;
  if (opt_.optimizer == Optimizer::automatic) opt_.optimizer = Optimizer::momentum;
  if (!full_batch_) {
    opt_.momentum = kBatchMomentum;
    opt_.auto_learning_rate = true;
    return;
  }
  if (!(certifiable_digits(spectrum_.kappa) >= kMinCertifiableDigits)) {
    refusal_ = spectrum_.mu > 0.0 && std::isfinite(spectrum_.L)
                   ? "The Hessian's condition number " + format_loss(spectrum_.kappa) + " (L " + format_loss(spectrum_.L) +
                         ", mu " + format_loss(spectrum_.mu) + ") leaves no certain digit in float64 (kappa eps64 = " +
                         format_loss(spectrum_.kappa * std::numeric_limits<double>::epsilon()) +
                         " > 0.01; so near the rounding of the Hessian's products the true kappa may be larger still)"
                   : "The Hessian is singular to the precision of its products (eigenvalues from " +
                         format_loss(spectrum_.mu) + " to " + format_loss(spectrum_.L) + ")";
    refusal_ += ": no rate and momentum can be chosen from its spectrum and no digit of the parameters could be "
                "certified, so no epoch ran. Remove collinear or redundant features, scale them (standardize), or fit "
                "with the gd optimizer and lr auto for predictions only.";
    return;
  }
  const Tuning t = spectral_tuning(opt_.optimizer, spectrum_.L, spectrum_.mu);
  opt_.learning_rate = t.learning_rate;
  opt_.momentum = t.momentum;
  opt_.auto_learning_rate = false;
}

/// The optimizer that runs and what the spectrum says of it (FitResult::expected_epochs),
/// then FitOptions::on_start.
void Trainer::report_start() {
  const bool has_momentum = opt_.optimizer == Optimizer::momentum || opt_.optimizer == Optimizer::nesterov;
  res_.optimizer = to_string(opt_.optimizer);
  res_.momentum = has_momentum ? opt_.momentum : 0.0;
  const bool rated = opt_.optimizer != Optimizer::adam && opt_.schedule == Schedule::constant && opt_.l1 == 0.0;
  if (full_batch_ && rated && refusal_.empty() && spectrum_.kappa > 0.0 && std::isfinite(spectrum_.kappa)) {
    const double eps = std::numeric_limits<double>::epsilon();
    const double factor = opt_.tol > 0.0 ? opt_.tol : std::clamp(spectrum_.kappa * eps, eps, 0.5);
    res_.expected_epochs = expected_epochs(opt_.optimizer, lr0_, res_.momentum, spectrum_.mu, spectrum_.L, factor);
  }
  if (opt_.on_start)
    opt_.on_start(StartReport{opt_.optimizer, lr0_, res_.momentum, res_.curvature, res_.min_curvature,
                              res_.condition_number, res_.expected_epochs, opt_.epochs});
}

void Trainer::start_fresh() {
  res_.weights = opt_.init_weights.empty() ? std::vector<double>(d_, 0.0) : opt_.init_weights;
  res_.bias = opt_.init_bias;
  lr0_ = opt_.auto_learning_rate ? auto_learning_rate() : opt_.learning_rate;
  res_.learning_rate = lr0_;
  res_.final_learning_rate = lr0_;
  rate_ = lr0_;
  backend_->set_parameters(res_.weights.data(), res_.bias);
}

/// lr auto: 1/L for the full batch, 1/L_B for batches (see FitOptions::auto_learning_rate),
/// L of the objective: the L2 penalty adds 2 l2 on the weights, to L and to every row's.
/// Leaves arbitrary parameters in the backend.
double Trainer::auto_learning_rate() {
  res_.curvature = estimate_curvature(*backend_, opt_.fit_intercept, opt_.l2);
  const std::string why = unusable_curvature(opt_, res_.curvature);
  if (!why.empty()) throw InvalidArgument("lr auto: " + why);
  const double L_batch =
      full_batch_ ? res_.curvature
                  : batch_curvature(res_.curvature, team_.max(max_row_curvature(X_, opt_.fit_intercept)) + 2.0 * opt_.l2,
                                    n_train_, opt_.batch_size);
  const std::string why_batch = unusable_curvature(opt_, L_batch);
  if (!why_batch.empty()) throw InvalidArgument("lr auto: " + why_batch);
  return 1.0 / L_batch;
}

/// Everything a checkpoint holds back into the trainer and the backend; the passes of
/// first_passes() then sum in the order the interrupted run used after that epoch.
void Trainer::restore(const TrainingState& s) {
  lr0_ = s.learning_rate;
  rate_ = s.rate;
  best_ = s.best_loss;
  stalled_ = s.stalled;
  steps_ = s.steps;
  first_epoch_ = s.converged ? opt_.epochs + 1 : s.epoch + 1;
  if (s.converged) res_.stop_reason = StopReason::converged;
  first_batch_ = s.batch;
  res_.curvature = s.curvature;
  res_.weights = s.epoch_weights;
  res_.bias = s.epoch_bias;
  res_.epochs_run = s.epoch;
  res_.loss_history = s.loss_history;
  res_.heldout_loss_history = s.heldout_loss_history;
  res_.learning_rate = lr0_;
  res_.final_learning_rate = s.last_epoch_rate;
  auto resumed_elsewhere = [&](const std::string& how) {
    res_.message += std::string(res_.message.empty() ? "" : " ") + "Resumed " + how +
                    " checkpoint: correct, but not bitwise the run that was never interrupted.";
  };
  if (s.backend != backend_->name())
    resumed_elsewhere(std::string("on the ") + backend_->name() + " backend from a " + s.backend);
  if (s.solver != res_.solver) resumed_elsewhere("with the " + res_.solver + " solver from a " + s.solver);
  backend_->set_parameters(s.weights.data(), s.bias);
  backend_->set_optimizer_state(s.optimizer_state.data());
}

/// loss_history[0]: the MSE at the initial parameters; its gradient drives the first
/// full-batch step.  Non-finite input (NaN/inf in X or y, or squares that overflow) shows
/// up here, before any step, as a non-finite loss.  With penalties the history (and every
/// rule that reads it) holds the objective J = MSE + l2 |w|^2 + l1 |w|_1.
void Trainer::first_passes() {
  heldout_ = source_->heldout_loss();
  loss_ = source_->training_loss();
  if (!resume_ && (!std::isfinite(loss_) || (held_ > 0 && !std::isfinite(heldout_))))
    throw InvalidArgument("the MSE at the initial parameters is " +
                          format_loss(std::isfinite(loss_) ? heldout_ : loss_) +
                          ": X or y holds non-finite values, or values so large that their "
                          "squares overflow float64");
  validator_ = std::make_unique<Validator>(X_, y_, opt_, gram_ ? *data_ : *backend_, sample_weight_, share_, &team_);
  if (validator_->due(0)) cross_check();
  data_loss_ = loss_;
  if (resume_) return;
  loss_ += penalty(res_.weights);
  best_ = held_ > 0 ? heldout_ : loss_;
  res_.loss_history.reserve(static_cast<std::size_t>(std::min<std::int64_t>(opt_.epochs, 1 << 20)) + 1);
  res_.loss_history.push_back(loss_);
  if (held_ > 0) res_.heldout_loss_history.push_back(heldout_);
}

// ---- one epoch ------------------------------------------------------------------------

void Trainer::set_epoch_rate(std::int64_t epoch) {
  if (opt_.schedule != Schedule::adaptive) rate_ = scheduled_rate(opt_, lr0_, epoch);
  res_.final_learning_rate = rate_;
}

/// The epoch's passes and steps; false when a stop was requested within it.
bool Trainer::train_epoch(std::int64_t epoch) {
  if (!full_batch_) return mini_batch_epoch(epoch);
  full_batch_epoch(epoch);
  return true;
}

/// One step with the gradient of the previous pass, then the passes that give this epoch's
/// losses and the next gradient.
void Trainer::full_batch_epoch(std::int64_t epoch) {
  step();
  if (opt_.on_step) report_step(epoch, 1, data_loss_);
  heldout_ = source_->heldout_loss();
  loss_ = source_->training_loss();
}

/// The epoch's batches in its row order (from the checkpoint's batch when resuming within
/// it), each a pass and a step; then the history's loss: the running average of the batch
/// losses, or an exact pass.  A stop requested after a batch that is not the last ends the
/// fit there, with a checkpoint of the position.
bool Trainer::mini_batch_epoch(std::int64_t epoch) {
  set_epoch_order(epoch);
  const std::int64_t skip = epoch == first_epoch_ ? first_batch_ : 0;
  if (skip == 0)
    backend_->reset_running_loss();
  else
    backend_->set_running_sums(resume_->running_sse, resume_->running_rows);
  std::int64_t batch = skip;
  const bool whole = skip == 0 && affine_epoch();
  for (std::int64_t lo = whole ? n_train_ : skip * opt_.batch_size; lo < n_train_; lo += opt_.batch_size) {
    backend_->compute(lo, std::min(n_train_, lo + opt_.batch_size), ordered_);
    step();
    ++batch;
    if (opt_.on_step) report_step(epoch, batch, backend_->loss());
    if (lo + opt_.batch_size < n_train_ && stop_requested()) {
      checkpoint(epoch - 1, batch);
      mid_epoch_stop_ = true;
      res_.steps_into_epoch = batch;
      res_.stop_reason = StopReason::interrupted;
      return false;
    }
  }
  // The running loss first: the held-out pass adds to its sums.
  if (opt_.history == HistoryMode::running_average) {
    loss_ = backend_->running_loss();
  } else {
    restore_split_order();
    loss_ = source_->training_loss();
  }
  heldout_ = source_->heldout_loss();
  return true;
}

/// Mini-batch Gram mode with batches that stay the same (no shuffling): the epoch as one
/// affine map (train/affine_epoch.hpp), when affine_epochs_ (set_up) says it pays.
bool Trainer::affine_epoch() {
  if (!affine_epochs_) return false;
  rule_.lr = rate_;
  if (!run_affine_epoch(*backend_, rule_, ordered_)) return false;
  steps_ += (n_train_ + opt_.batch_size - 1) / opt_.batch_size;
  return true;
}

/// Reads the parameters back and records the epoch; false (and the fit diverged) when the
/// loss or the parameters are not finite or the loss ran away.
bool Trainer::record_epoch(std::int64_t epoch) {
  backend_->get_parameters(w_.data(), &b_);
  data_loss_ = loss_;
  if (std::isfinite(loss_)) loss_ += penalty(w_);
  const double first = res_.loss_history.front();
  const bool exploding = loss_ > kExplodingFactor * first && first > 0.0;
  if (exploding || !std::isfinite(loss_) || !std::isfinite(b_) || !all_finite(w_)) {
    report_divergence(epoch, exploding);
    return false;
  }
  res_.weights = w_;
  res_.bias = b_;
  res_.epochs_run = epoch;
  res_.loss_history.push_back(loss_);
  if (held_ > 0) res_.heldout_loss_history.push_back(heldout_);
  if (validator_->due(epoch)) cross_check();  // same parameters; the training gradient kept
  return true;
}

/// The divergence message: what grew, and the optimizer's bound on the objective (with its
/// L2 penalty), or that none applies, and whether the rate crossed it.
void Trainer::report_divergence(std::int64_t epoch, bool exploding) {
  res_.stop_reason = StopReason::diverged;
  res_.curvature = estimate_curvature(*backend_, opt_.fit_intercept, opt_.l2);
  const bool finite = std::isfinite(loss_);
  const std::string what = exploding && finite ? "loss grew past 1e8 times its initial value"
                                               : std::string(finite ? "parameters" : "loss") + " became non-finite";
  res_.message = "diverged in epoch " + std::to_string(epoch) + ": the " + what + " (last " +
                 (opt_.l1 > 0.0 || opt_.l2 > 0.0 ? "objective" : "MSE") + " before " +
                 format_loss(res_.loss_history.back()) + "); " +
                 divergence_advice(opt_, rate_, res_.curvature, !full_batch_) + ". Returned the parameters of epoch " +
                 std::to_string(epoch - 1) + ".";
}

/// Whether the fit ends after this epoch: on_epoch cancelled it, the stopping rule met, or
/// a stop requested (its checkpoint is taken by finish()).
bool Trainer::stopping_rule_met(std::int64_t epoch) {
  if (opt_.on_epoch &&
      !opt_.on_epoch(EpochReport{epoch, opt_.epochs, loss_, &res_.weights, res_.bias, rate_, heldout_})) {
    res_.stop_reason = StopReason::cancelled;
    return true;
  }
  if (stalled_out()) {
    res_.stop_reason = StopReason::converged;
    return true;
  }
  if (stop_requested()) {
    res_.stop_reason = StopReason::interrupted;
    return true;
  }
  return false;
}

/// scikit-learn's rule, relative: an epoch that does not beat the best loss by more than
/// tol x best counts as stalled.  n_iter_no_change stalled epochs in a row divide the
/// adaptive rate by 5 (converged once it falls below 1e-6 of the initial rate), or end the
/// fit when tol > 0 (early stopping).  The loss watched is the held-out MSE when rows are
/// held out.
bool Trainer::stalled_out() {
  const double watched = held_ > 0 ? heldout_ : loss_;
  stalled_ = watched < best_ - opt_.tol * best_ ? 0 : stalled_ + 1;
  best_ = std::min(best_, watched);
  if (stalled_ < opt_.n_iter_no_change) return false;
  if (opt_.schedule == Schedule::adaptive) {
    stalled_ = 0;
    rate_ /= 5.0;
    return rate_ < 1e-6 * lr0_;
  }
  return opt_.tol > 0.0;
}

bool Trainer::checkpoint_due(std::int64_t epoch) const {
  return opt_.checkpoint_every > 0 && epoch % opt_.checkpoint_every == 0 && epoch < opt_.epochs;
}

/// The last checkpoint, then final_mse: always the exact MSE over the training rows at the
/// returned parameters (after an interruption within an epoch, those of the last step).
FitResult Trainer::finish() {
  const bool diverged = res_.stop_reason == StopReason::diverged;
  if (!diverged && !mid_epoch_stop_) checkpoint(res_.epochs_run, 0);
  if (res_.stop_reason == StopReason::converged && !(certifiable_digits(res_.condition_number) >= kMinCertifiableDigits) &&
      res_.condition_number != 0.0) {
    // "converged" would claim digits the data cannot give.
    res_.stop_reason = StopReason::ill_conditioned;
    res_.message += std::string(res_.message.empty() ? "" : " ") + "The loss stopped improving, but the Hessian's "
                    "condition number " + format_loss(res_.condition_number) +
                    " leaves no certain digit of the parameters in float64 (kappa eps64 > 0.01).";
  }
  if (mid_epoch_stop_) backend_->get_parameters(res_.weights.data(), &res_.bias);
  const bool exact_last = full_batch_ || opt_.history == HistoryMode::exact;
  if (gram_) {  // the Gram loss cancels when the MSE is tiny: one exact pass, always
    set_data_parameters(res_.weights, res_.bias);
    ResidualPasses exact(*data_, n_train_, held_ > 0);
    heldout_ = exact.heldout_loss();
    res_.final_mse = exact.training_loss();
  } else if (diverged || !exact_last || mid_epoch_stop_) {
    backend_->set_parameters(res_.weights.data(), res_.bias);
    restore_split_order();
    heldout_ = source_->heldout_loss();
    res_.final_mse = source_->training_loss();
  } else {
    res_.final_mse = data_loss_;
  }
  res_.heldout_mse = held_ > 0 ? heldout_ : 0.0;
  res_.validation = validator_->report();
  res_.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return std::move(res_);
}

// ---- pieces ---------------------------------------------------------------------------

/// The row order of \p epoch (1-based): a pure function of (seed, epoch).
void Trainer::set_epoch_order(std::int64_t epoch) {
  if (!shuffle_) return;
  if (local_) {
    local_epoch_order(team_, opt_.seed, epoch - 1, local_rows_, order_shape(), opt_.threads, local_order_);
    backend_->set_row_order(local_order_.view());
    epoch_order_set_ = held_ > 0;
    return;
  }
  const std::int64_t block = opt_.shuffle_block;
  if (block > 1 && opt_.batch_size % block == 0) {
    if (runs_) {  // the runs alone (split_rows)
      const std::int64_t count = epoch_block_batch_runs(opt_.seed, epoch - 1, n_train_, block, opt_.batch_size,
                                                        opt_.threads, shuffle_scratch_, block_scratch_);
      backend_->set_row_order(RowOrder{block_scratch_.data(), nullptr, count, false, true, block});
      return;
    }
    // Batches of whole runs: each batch's runs ascending is its rows ascending (the split's
    // training rows ascend), so no grouping by shard is needed.
    epoch_block_batches(opt_.seed, epoch - 1, held_ == 0 ? nullptr : split_.data(), order_.data(), n_train_, block,
                        opt_.batch_size, opt_.threads, shuffle_scratch_, block_scratch_);
    backend_->set_row_order(lent(order_));
    epoch_order_set_ = held_ > 0;
    return;
  }
  if (held_ == 0) {
    fill_rows(order_.data(), nullptr, n_, opt_.threads);  // epoch_permutation, its scratch kept
  } else {
    fill_rows(order_.data(), split_.data(), n_train_, opt_.threads);
  }
  epoch_block_shuffle(opt_.seed, epoch - 1, order_.data(), n_train_, opt_.shuffle_block, opt_.threads, shuffle_scratch_,
                      block_scratch_);
  // The batches are the permutation's slices; each is then ordered by shard of the data
  // plan, as the backends' passes over the row order need (backend/chunk_plan.hpp).
  group_epoch_batches(order_.data(), n_train_, opt_.batch_size, n_, plan_data(n_, X_.cols).rows_per_shard, opt_.threads,
                      sort_scratch_, sort_counts_);
  backend_->set_row_order(lent(order_));
  epoch_order_set_ = held_ > 0;
}

/// Passes over all training rows (or all held-out rows) visit them in the split's order,
/// ascending, whatever the epoch's: after a shuffled epoch with rows held out, the split's
/// order goes back to the backend first.
void Trainer::restore_split_order() {
  if (!epoch_order_set_) return;
  if (local_)
    backend_->set_row_order(local_split_.view());
  else
    backend_->set_row_order(lent(split_));
  epoch_order_set_ = false;
}

/// One update with the gradient of the last pass; Adam's bias corrections 1 - beta^t are
/// computed here, t = steps so far.
void Trainer::step() {
  ++steps_;
  rule_.lr = rate_;
  if (opt_.optimizer == Optimizer::adam) {
    rule_.bias_correction1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(steps_));
    rule_.bias_correction2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(steps_));
  }
  backend_->step(rule_);
}

/// on_step: the batch's loss (of the pass before the step) and the new parameters.
void Trainer::report_step(std::int64_t epoch, std::int64_t step_in_epoch, double batch_loss) {
  double step_b = 0.0;
  backend_->get_parameters(step_w_.data(), &step_b);
  opt_.on_step(StepReport{epoch, step_in_epoch, batch_loss, &step_w_, step_b, rate_});
}

/// Hands the state to on_checkpoint: \p epochs_done completed, \p batch steps into the next.
void Trainer::checkpoint(std::int64_t epochs_done, std::int64_t batch) {
  if (!opt_.on_checkpoint) return;
  TrainingState s;
  s.epoch = epochs_done;
  s.batch = batch;
  s.steps = steps_;
  s.converged = res_.stop_reason == StopReason::converged;
  s.weights.resize(d_);
  backend_->get_parameters(s.weights.data(), &s.bias);
  s.epoch_weights = res_.weights;
  s.epoch_bias = res_.bias;
  s.optimizer_state.resize(2 * (d_ + 1));
  backend_->get_optimizer_state(s.optimizer_state.data());
  if (batch > 0) backend_->get_running_sums(&s.running_sse, &s.running_rows);
  s.learning_rate = lr0_;
  s.rate = rate_;
  s.last_epoch_rate = res_.final_learning_rate;
  s.best_loss = best_;
  s.stalled = stalled_;
  s.curvature = res_.curvature;
  s.loss_history = res_.loss_history;
  s.heldout_loss_history = res_.heldout_loss_history;
  s.seed = opt_.seed;
  s.backend = backend_->name();
  s.solver = res_.solver;
  s.rows = n_;
  s.cols = X_.cols;
  s.data_fingerprint = fingerprint_;
  s.options_signature = options_signature(given_);
  opt_.on_checkpoint(s);
}

/// --validate: the CPU reference at the current parameters.  Its pass over all rows
/// replaces the gradient: the training one is restored when a held-out part makes them
/// differ (a full-batch step uses it next).
void Trainer::cross_check() {
  if (gram_) {  // the data backend's pass at the Gram fit's parameters
    backend_->get_parameters(w_.data(), &b_);
    set_data_parameters(w_, b_);
    validator_->check(*data_);
    return;
  }
  validator_->check(*backend_);
  if (held_ > 0 && full_batch_) source_->training_loss();
}

/// The penalty part of the objective: l2 |w|^2 + l1 |w|_1.
double Trainer::penalty(const std::vector<double>& w) const {
  if (opt_.l1 == 0.0 && opt_.l2 == 0.0) return 0.0;
  double sq = 0.0, ab = 0.0;
  for (double v : w) {
    sq += v * v;
    ab += std::fabs(v);
  }
  return opt_.l2 * sq + opt_.l1 * ab;
}

/// Across processes, whether any process's flag was set at the last pass (every process
/// gets the same answer after the same step).  A Gram fit makes no pass per epoch: its
/// processes exchange their flags every kGramStopPoll epochs instead.
bool Trainer::stop_requested() {
  constexpr std::int64_t kGramStopPoll = 64;
  if (!gram_ || team_.alone()) return team_.stop_seen();
  return ++stop_polls_ % kGramStopPoll == 0 && team_.any_stop();
}

FitResult fit_unscaled(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                       const FitOptions& options, Team& team) {
  return Trainer(X, y, sample_weight, options, team).run();
}

}  // namespace steepest::detail
