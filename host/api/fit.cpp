// The driver: the only place that knows what an epoch is.  It owns the algorithm
// (epochs, batches, row order, the step, stopping rules, history); backends only run the
// named steps of host/backend/backend.hpp.
//
//   r = X w + b - y,  MSE = (1/m) sum r^2,  grad_w = (2/m) X^T r,  grad_b = (2/m) sum r
//   step:  w <- w - lr * grad_w,  b <- b - lr * grad_b      (m = rows of the batch)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "train/permutation.hpp"
#include "train/run_state.hpp"
#include "train/standardize.hpp"
#include "train/step_size.hpp"
#include "steepest/device.hpp"
#include "steepest/error.hpp"
#include "steepest/fit.hpp"
#include "api/validate.hpp"
#include "train/validator.hpp"

namespace steepest {
namespace {

using detail::Backend;

struct Selected {
  std::unique_ptr<Backend> backend;
  std::string note;  // why auto did not pick the GPU, when it could have
};

/// The backend for \p device, with the row-order buffer reserved when \p ordered, so that
/// running out of device memory happens here (where auto can still fall back) or not at all.
Selected select_backend(Device device, const MatrixView& X, const VectorView& y, const VectorView& sw,
                        std::int32_t threads, bool ordered) {
  auto cuda = [&] {
    auto be = detail::make_cuda_backend(X, y, sw);
    if (ordered) be->reserve_row_order();
    return be;
  };
  switch (device) {
    case Device::cpu: return {detail::make_cpu_backend(X, y, sw, threads), {}};
    case Device::cuda: return {cuda(), {}};
    case Device::automatic: break;
  }
  if (detail::cuda_usable()) {
    try {
      return {cuda(), {}};
    } catch (const DeviceUnavailable& e) {
      return {detail::make_cpu_backend(X, y, sw, threads),
              std::string("auto: CUDA device not used (") + e.what() + "); ran on the CPU"};
    }
  }
  return {detail::make_cpu_backend(X, y, sw, threads), {}};
}

constexpr double kExplodingFactor = 1e8;

bool all_finite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

std::string format_loss(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

/// Why the curvature overflowed float64: the L2 term 2 l2 when it alone is that large, else
/// the features.
std::string curvature_overflow(const FitOptions& o) {
  if (!(2.0 * o.l2 < 0.25 * std::numeric_limits<double>::max()))
    return "the curvature of this problem overflows float64 (the l2 penalty's term 2 l2 = " + format_loss(2.0 * o.l2) +
           " leaves no room for the data's): give a smaller l2";
  return "the curvature of this problem overflows float64 (features with |x| beyond ~1e154, whose squares do not "
         "fit in a double): rescale the features (or use standardize)";
}

/// Why lr auto cannot use the curvature \p L (0: flat, inf: overflowed), or "" when it can.
std::string unusable_curvature(const FitOptions& o, double L) {
  if (std::isinf(L)) return curvature_overflow(o);
  if (!(L > 0.0) || !std::isfinite(L))
    return "the curvature of this problem is " + format_loss(L) +
           " (all-zero features, without an intercept or penalty?); give a learning rate";
  return {};
}

/// The stable full-batch step of the optimizer on a quadratic of curvature L, as
/// "formula = value", or why there is none.  Heavy ball (v = m v + g, w -= lr v) is stable
/// iff lr L < 2 (1 + m); this project's Nesterov (v = m v + g, w -= lr (g + m v)) iff
/// lr L < 2 (1 + m) / (1 + 2 m) (the Jury conditions of its 2 x 2 iteration matrix, whose
/// trace is (1 + m)(1 - lr L) and determinant m (1 - lr L)); plain GD iff lr L < 2.
struct StableBound {
  double value = 0.0;    // 0: none applies
  std::string formula;   // "2/L", ...
};

StableBound stable_bound(const FitOptions& o, double L) {
  const double m = o.momentum;
  switch (o.optimizer) {
    case Optimizer::gd: return {2.0 / L, "2/L"};
    case Optimizer::momentum: return {2.0 * (1.0 + m) / L, "2(1 + m)/L"};
    case Optimizer::nesterov: return {2.0 * (1.0 + m) / ((1.0 + 2.0 * m) * L), "2(1 + m)/((1 + 2m) L)"};
    case Optimizer::adam: break;
  }
  return {};
}

/// The second half of a divergence message: what the curvature says about \p rate.
std::string divergence_advice(const FitOptions& o, double rate, double L, bool mini_batch) {
  if (o.optimizer == Optimizer::adam)
    return "adam scales each step by its own moment estimates, so no curvature bound on the learning "
           "rate applies; the learning rate " + format_loss(rate) + " is too large for this data: lower it";
  if (std::isinf(L)) return curvature_overflow(o) + "; no learning rate is stable";
  if (!(L > 0.0) || !std::isfinite(L))
    return "the curvature could not be estimated (" + format_loss(L) + "); lower the learning rate " +
           format_loss(rate);
  const StableBound b = stable_bound(o, L);
  std::string curv = "L = " + format_loss(L) + ", estimated";
  if (o.l2 > 0.0) curv += ", including the l2 penalty's 2 l2 = " + format_loss(2.0 * o.l2);
  if (o.optimizer != Optimizer::gd) curv += ", m = " + format_loss(o.momentum);
  const std::string bound = "the largest stable full-batch step is " + b.formula + " = " + format_loss(b.value) +
                            " (" + curv + ")";
  if (rate >= b.value) return "the learning rate " + format_loss(rate) + " is too large for this data: " + bound;
  return "the learning rate " + format_loss(rate) + " is below the estimated bound: " + bound +
         (mini_batch ? "; mini-batch steps are noisier than full-batch ones and need a smaller rate"
                     : "; the estimate may be off for this data: lower the learning rate");
}

/// Full-data MSE at the backend's current parameters (also leaves its gradient there).
double full_loss(Backend& be) {
  be.compute(0, be.rows(), /*ordered=*/false);
  return be.loss();
}

}  // namespace

namespace detail {

FitResult fit_unscaled(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                       const FitOptions& opt) {
  const auto start = std::chrono::steady_clock::now();

  // Rows [0, n_train) of the row order are trained on; with a held-out fraction the rows
  // [n_train, n) are only evaluated.  batch_size >= n_train is full batch: one batch of all
  // training rows gives the same gradient, and the same order keeps the bits identical to
  // batch_size == 0.
  const std::int64_t n = X.rows;
  const std::int64_t held = detail::heldout_count(n, opt.validation_fraction);
  const std::int64_t n_train = n - held;
  const bool full_batch = opt.batch_size == 0 || opt.batch_size >= n_train;
  const bool shuffle = !full_batch && opt.shuffle;
  const bool ordered = shuffle || held > 0;  // computes read rows through the row order
  auto [backend, note] = select_backend(opt.device, X, y, sample_weight, opt.threads, ordered);
  Backend& be = *backend;
  const auto d = static_cast<std::size_t>(X.cols);

  const TrainingState* resume = opt.resume.get();
  const std::uint64_t fingerprint =
      resume || opt.on_checkpoint ? detail::data_fingerprint(X, y, sample_weight) : 0;
  if (resume) detail::check_resume(*resume, opt, n, X.cols, fingerprint);

  FitResult res;
  res.backend = be.name();
  res.device_name = be.device_name();
  res.message = note;
  res.heldout_rows = held;

  // The row order: the training rows (permuted per epoch when shuffling), then the held-out
  // rows.  Without a held-out part and without shuffling no order is used at all.  Shuffled
  // with a held-out part, each epoch permutes a fresh copy of the split's training rows.
  std::vector<std::int64_t> order(ordered ? static_cast<std::size_t>(n) : 0);
  std::vector<std::int64_t> train_rows;
  if (held > 0) {
    detail::heldout_split(opt.seed, n, held, order.data());
    detail::check_split_weights(sample_weight, order.data(), n, held, opt.validation_fraction);
    if (shuffle) train_rows.assign(order.begin(), order.begin() + n_train);
    be.set_row_order(order.data());
  }
  auto set_epoch_order = [&](std::int64_t epoch) {  // 1-based; a pure function of (seed, epoch)
    if (!shuffle) return;
    if (held == 0) {
      detail::epoch_permutation(opt.seed, epoch - 1, order.data(), n);
    } else {
      std::copy(train_rows.begin(), train_rows.end(), order.begin());
      detail::epoch_shuffle(opt.seed, epoch - 1, order.data(), n_train);
    }
    be.set_row_order(order.data());
  };
  // MSE over the training rows at the current parameters; leaves its gradient (the next
  // full-batch step's) in the backend.  The held-out pass leaves the held-out gradient, so
  // it always runs before the training pass.
  auto train_loss = [&] {
    be.compute(0, n_train, held > 0);
    return be.loss();
  };
  auto heldout_loss = [&] {
    if (held == 0) return std::numeric_limits<double>::quiet_NaN();
    be.compute(n_train, n, true);
    return be.loss();
  };
  auto stop_requested = [&] { return opt.stop_requested != nullptr && opt.stop_requested->load(); };

  double lr0 = opt.learning_rate;
  double rate = 0.0, best = 0.0;  // the adaptive schedule's and early stopping's state
  std::int64_t stalled = 0, steps = 0, first_epoch = 1, first_batch = 0;
  if (resume) {
    lr0 = resume->learning_rate;
    rate = resume->rate;
    best = resume->best_loss;
    stalled = resume->stalled;
    steps = resume->steps;
    first_epoch = resume->converged ? opt.epochs + 1 : resume->epoch + 1;
    if (resume->converged) res.stop_reason = StopReason::converged;
    first_batch = resume->batch;
    res.curvature = resume->curvature;
    res.weights = resume->epoch_weights;
    res.bias = resume->epoch_bias;
    res.epochs_run = resume->epoch;
    res.loss_history = resume->loss_history;
    res.heldout_loss_history = resume->heldout_loss_history;
    res.learning_rate = lr0;
    res.final_learning_rate = resume->last_epoch_rate;
    if (resume->backend != be.name())
      res.message += std::string(res.message.empty() ? "" : " ") + "Resumed on the " + be.name() +
                     " backend from a " + resume->backend +
                     " checkpoint: correct, but not bitwise the run that was never interrupted.";
    be.set_parameters(resume->weights.data(), resume->bias);
    be.set_optimizer_state(resume->optimizer_state.data());
    // The passes below then sum in the order the interrupted run used after that epoch.
    if (resume->epoch >= 1) set_epoch_order(resume->epoch);
  } else {
    res.weights = opt.init_weights.empty() ? std::vector<double>(d, 0.0) : opt.init_weights;
    res.bias = opt.init_bias;
    // lr auto: 1/L for the full batch, 1/L_B for batches (see FitOptions::auto_learning_rate),
    // L of the objective: the L2 penalty adds 2 l2 on the weights, to L and to every row's.
    if (opt.auto_learning_rate) {
      res.curvature = detail::estimate_curvature(be, opt.fit_intercept, opt.l2);
      const std::string why = unusable_curvature(opt, res.curvature);
      if (!why.empty()) throw InvalidArgument("lr auto: " + why);
      const double L_batch =
          full_batch ? res.curvature
                     : detail::batch_curvature(res.curvature,
                                               detail::max_row_curvature(X, opt.fit_intercept) + 2.0 * opt.l2,
                                               n_train, opt.batch_size);
      const std::string why_batch = unusable_curvature(opt, L_batch);
      if (!why_batch.empty()) throw InvalidArgument("lr auto: " + why_batch);
      lr0 = 1.0 / L_batch;
    }
    res.learning_rate = lr0;
    res.final_learning_rate = lr0;
    rate = lr0;
    be.set_parameters(res.weights.data(), res.bias);
  }

  // With penalties the history (and every rule that reads it) holds the objective
  // J = MSE + l2 |w|^2 + l1 |w|_1; final_mse stays the data term.
  auto penalty = [&](const std::vector<double>& wv) {
    if (opt.l1 == 0.0 && opt.l2 == 0.0) return 0.0;
    double sq = 0.0, ab = 0.0;
    for (double v : wv) {
      sq += v * v;
      ab += std::fabs(v);
    }
    return opt.l2 * sq + opt.l1 * ab;
  };

  // loss_history[0]: MSE at the initial parameters; its gradient drives the first
  // full-batch step.  Non-finite input (NaN/inf in X or y, or squares that overflow)
  // shows up here, before any step, as a non-finite loss.
  double heldout = heldout_loss();
  double loss = train_loss();
  if (!resume && (!std::isfinite(loss) || (held > 0 && !std::isfinite(heldout))))
    throw InvalidArgument("the MSE at the initial parameters is " + format_loss(std::isfinite(loss) ? heldout : loss) +
                          ": X or y holds non-finite values, or values so large that their "
                          "squares overflow float64");
  detail::Validator validator(X, y, opt, be, sample_weight);
  // The cross-check's full pass over all rows replaces the gradient: restore the training
  // one when a held-out part makes them differ (full batch steps with it).
  auto cross_check = [&] {
    validator.check(be);
    if (held > 0 && full_batch) train_loss();
  };
  if (validator.due(0)) cross_check();
  double data_loss = loss;
  if (!resume) {
    loss += penalty(res.weights);
    best = held > 0 ? heldout : loss;
    res.loss_history.reserve(static_cast<std::size_t>(std::min<std::int64_t>(opt.epochs, 1 << 20)) + 1);
    res.loss_history.push_back(loss);
    if (held > 0) res.heldout_loss_history.push_back(heldout);
  }

  res.setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> w(d);
  double b = 0.0;

  // The step rule; Adam's bias corrections 1 - beta^t are computed here, t = steps so far.
  detail::StepRule rule;
  rule.optimizer = opt.optimizer;
  rule.momentum = opt.momentum;
  rule.beta1 = opt.beta1;
  rule.beta2 = opt.beta2;
  rule.epsilon = opt.epsilon;
  rule.l2 = opt.l2;
  rule.l1 = opt.l1;
  rule.update_bias = opt.fit_intercept;
  auto step = [&] {
    ++steps;
    rule.lr = rate;
    if (opt.optimizer == Optimizer::adam) {
      rule.bias_correction1 = 1.0 - std::pow(opt.beta1, static_cast<double>(steps));
      rule.bias_correction2 = 1.0 - std::pow(opt.beta2, static_cast<double>(steps));
    }
    be.step(rule);
  };

  // Hands the state to on_checkpoint: \p epochs_done completed, \p batch steps into the next.
  auto checkpoint = [&](std::int64_t epochs_done, std::int64_t batch) {
    if (!opt.on_checkpoint) return;
    TrainingState s;
    s.epoch = epochs_done;
    s.batch = batch;
    s.steps = steps;
    s.converged = res.stop_reason == StopReason::converged;
    s.weights.resize(d);
    be.get_parameters(s.weights.data(), &s.bias);
    s.epoch_weights = res.weights;
    s.epoch_bias = res.bias;
    s.optimizer_state.resize(2 * (d + 1));
    be.get_optimizer_state(s.optimizer_state.data());
    if (batch > 0) be.get_running_sums(&s.running_sse, &s.running_rows);
    s.learning_rate = lr0;
    s.rate = rate;
    s.last_epoch_rate = res.final_learning_rate;
    s.best_loss = best;
    s.stalled = stalled;
    s.curvature = res.curvature;
    s.loss_history = res.loss_history;
    s.heldout_loss_history = res.heldout_loss_history;
    s.seed = opt.seed;
    s.backend = be.name();
    s.rows = n;
    s.cols = X.cols;
    s.data_fingerprint = fingerprint;
    s.options_signature = detail::options_signature(opt);
    opt.on_checkpoint(s);
  };

  // on_step: the batch's loss (of the compute before the step) and the new parameters.
  std::vector<double> step_w(opt.on_step ? d : 0);
  auto report_step = [&](std::int64_t epoch, std::int64_t step_in_epoch, double batch_loss) {
    double step_b = 0.0;
    be.get_parameters(step_w.data(), &step_b);
    opt.on_step(StepReport{epoch, step_in_epoch, batch_loss, &step_w, step_b, rate});
  };

  bool mid_epoch_stop = false;
  for (std::int64_t epoch = first_epoch; epoch <= opt.epochs; ++epoch) {
    if (opt.schedule != Schedule::adaptive) rate = detail::scheduled_rate(opt, lr0, epoch);
    res.final_learning_rate = rate;
    if (full_batch) {
      step();  // with the gradient of the previous pass
      if (opt.on_step) report_step(epoch, 1, data_loss);
      heldout = heldout_loss();
      loss = train_loss();  // MSE after this epoch, and the next gradient
    } else {
      set_epoch_order(epoch);
      const std::int64_t skip = epoch == first_epoch ? first_batch : 0;
      if (skip == 0)
        be.reset_running_loss();
      else
        be.set_running_sums(resume->running_sse, resume->running_rows);
      std::int64_t batch = skip;
      for (std::int64_t lo = skip * opt.batch_size; lo < n_train; lo += opt.batch_size) {
        be.compute(lo, std::min(n_train, lo + opt.batch_size), ordered);
        step();
        ++batch;
        if (opt.on_step) report_step(epoch, batch, be.loss());
        // A stop within the epoch (not after its last batch: the epoch's end comes first).
        if (lo + opt.batch_size < n_train && stop_requested()) {
          checkpoint(epoch - 1, batch);
          mid_epoch_stop = true;
          break;
        }
      }
      if (mid_epoch_stop) {
        res.stop_reason = StopReason::interrupted;
        break;
      }
      // The running loss first: the held-out pass adds to its sums.
      loss = opt.history == HistoryMode::running_average ? be.running_loss() : train_loss();
      heldout = heldout_loss();
    }

    be.get_parameters(w.data(), &b);
    data_loss = loss;
    if (std::isfinite(loss)) loss += penalty(w);
    // A loss 1e8 times the initial one is runaway growth, not progress: stop before the
    // numbers overflow (gradient descent on the MSE never climbs that far when stable).
    const bool exploding = loss > kExplodingFactor * res.loss_history.front() && res.loss_history.front() > 0.0;
    if (exploding || !std::isfinite(loss) || !std::isfinite(b) || !all_finite(w)) {
      res.stop_reason = StopReason::diverged;
      // State the bound of the optimizer on the objective (with its L2 penalty), or that none
      // applies, and whether the rate crossed it.
      res.curvature = detail::estimate_curvature(be, opt.fit_intercept, opt.l2);
      const std::string what = exploding && std::isfinite(loss)
                                   ? "loss grew past 1e8 times its initial value"
                                   : std::string(std::isfinite(loss) ? "parameters" : "loss") + " became non-finite";
      res.message = "diverged in epoch " + std::to_string(epoch) + ": the " + what + " (last " +
                    (opt.l1 > 0.0 || opt.l2 > 0.0 ? "objective" : "MSE") + " before " +
                    format_loss(res.loss_history.back()) + "); " +
                    divergence_advice(opt, rate, res.curvature, !full_batch) + ". Returned the parameters of epoch " +
                    std::to_string(epoch - 1) + ".";
      break;
    }
    res.weights = w;
    res.bias = b;
    res.epochs_run = epoch;
    res.loss_history.push_back(loss);
    if (held > 0) res.heldout_loss_history.push_back(heldout);

    if (validator.due(epoch)) cross_check();  // same parameters; the training gradient kept

    if (opt.on_epoch && !opt.on_epoch(EpochReport{epoch, opt.epochs, loss, &res.weights, res.bias, rate, heldout})) {
      res.stop_reason = StopReason::cancelled;
      break;
    }
    // scikit-learn's rule, relative: an epoch that does not beat the best loss by more
    // than tol x best counts as stalled.  n_iter_no_change stalled epochs in a row divide
    // the adaptive rate by 5, or end the fit when tol > 0 (early stopping).  The loss
    // watched is the held-out MSE when rows are held out.
    const double watched = held > 0 ? heldout : loss;
    stalled = watched < best - opt.tol * best ? 0 : stalled + 1;
    best = std::min(best, watched);
    if (stalled >= opt.n_iter_no_change) {
      if (opt.schedule == Schedule::adaptive) {
        stalled = 0;
        rate /= 5.0;
        if (rate < 1e-6 * lr0) {
          res.stop_reason = StopReason::converged;
          break;
        }
      } else if (opt.tol > 0.0) {
        res.stop_reason = StopReason::converged;
        break;
      }
    }
    if (stop_requested()) {
      res.stop_reason = StopReason::interrupted;
      break;  // the checkpoint below, at this epoch boundary
    }
    if (opt.checkpoint_every > 0 && epoch % opt.checkpoint_every == 0 && epoch < opt.epochs) checkpoint(epoch, 0);
  }
  if (res.stop_reason != StopReason::diverged && !mid_epoch_stop) checkpoint(res.epochs_run, 0);

  // final_mse is always the exact MSE over the training rows at the returned parameters:
  // after an interruption within an epoch those are the parameters of the last step.
  if (mid_epoch_stop) be.get_parameters(res.weights.data(), &res.bias);
  const bool exact_last = full_batch || opt.history == HistoryMode::exact;
  if (res.stop_reason == StopReason::diverged || !exact_last || mid_epoch_stop) {
    be.set_parameters(res.weights.data(), res.bias);
    heldout = heldout_loss();
    res.final_mse = train_loss();
  } else {
    res.final_mse = data_loss;
  }
  res.heldout_mse = held > 0 ? heldout : 0.0;
  res.validation = validator.report();
  res.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return res;
}

}  // namespace detail

FitResult fit(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
              const FitOptions& opt) {
  detail::validate_data(X, y);
  detail::validate_sample_weight(sample_weight, X.rows);
  detail::validate_options(opt, X.cols);
  return opt.standardize ? detail::fit_standardized(X, y, sample_weight, opt)
                         : detail::fit_unscaled(X, y, sample_weight, opt);
}

FitResult fit(const MatrixView& X, const VectorView& y, const FitOptions& opt) {
  return fit(X, y, VectorView{}, opt);
}

Evaluation evaluate(const MatrixView& X, const VectorView& y, const std::vector<double>& weights,
                    double bias, const EvaluateOptions& options) {
  return evaluate(X, y, VectorView{}, weights, bias, options);
}

Evaluation evaluate(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                    const std::vector<double>& weights, double bias, const EvaluateOptions& options) {
  detail::validate_data(X, y);
  detail::validate_sample_weight(sample_weight, X.rows);
  detail::validate_threads(options.threads, "evaluate");
  if (options.device != Device::automatic && options.device != Device::cpu && options.device != Device::cuda)
    throw InvalidArgument("evaluate: unknown device");
  if (static_cast<std::int64_t>(weights.size()) != X.cols)
    throw InvalidArgument("evaluate: " + std::to_string(weights.size()) + " weights given for " +
                          std::to_string(X.cols) + " feature columns");
  auto selected = select_backend(options.device, X, y, sample_weight, options.threads, /*ordered=*/false);
  Backend& be = *selected.backend;
  be.set_parameters(weights.data(), bias);
  Evaluation ev;
  ev.mse = full_loss(be);
  ev.grad_weights.resize(weights.size());
  be.gradient(ev.grad_weights.data(), &ev.grad_bias);
  ev.backend = be.name();
  return ev;
}

}  // namespace steepest
