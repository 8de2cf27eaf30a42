// The driver: the only place that knows what an epoch is.  It owns the algorithm
// (epochs, batches, row order, the step, stopping rules, history); backends only run the
// named steps of host/backend.hpp.
//
//   r = X w + b - y,  MSE = (1/m) sum r^2,  grad_w = (2/m) X^T r,  grad_b = (2/m) sum r
//   step:  w <- w - lr * grad_w,  b <- b - lr * grad_b      (m = rows of the batch)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "backend.hpp"
#include "permutation.hpp"
#include "standardize.hpp"
#include "step_size.hpp"
#include "steepest/device.hpp"
#include "steepest/error.hpp"
#include "steepest/fit.hpp"
#include "validate.hpp"
#include "validator.hpp"

namespace steepest {
namespace {

using detail::Backend;

struct Selected {
  std::unique_ptr<Backend> backend;
  std::string note;  // why auto did not pick the GPU, when it could have
};

/// The backend for \p device, with the row-order buffer reserved when \p ordered, so that
/// running out of device memory happens here (where auto can still fall back) or not at all.
Selected select_backend(Device device, const MatrixView& X, const VectorView& y,
                        std::int32_t threads, bool ordered) {
  auto cuda = [&] {
    auto be = detail::make_cuda_backend(X, y);
    if (ordered) be->reserve_row_order();
    return be;
  };
  switch (device) {
    case Device::cpu: return {detail::make_cpu_backend(X, y, threads), {}};
    case Device::cuda: return {cuda(), {}};
    case Device::automatic: break;
  }
  if (detail::cuda_usable()) {
    try {
      return {cuda(), {}};
    } catch (const DeviceUnavailable& e) {
      return {detail::make_cpu_backend(X, y, threads),
              std::string("auto: CUDA device not used (") + e.what() + "); ran on the CPU"};
    }
  }
  return {detail::make_cpu_backend(X, y, threads), {}};
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

/// Full-data MSE at the backend's current parameters (also leaves its gradient there).
double full_loss(Backend& be) {
  be.compute(0, be.rows(), /*ordered=*/false);
  return be.loss();
}

}  // namespace

namespace detail {

FitResult fit_unscaled(const MatrixView& X, const VectorView& y, const FitOptions& opt) {
  const auto start = std::chrono::steady_clock::now();

  // batch_size >= n is full batch: one batch of all rows gives the same gradient, and the
  // natural order keeps the bits identical to batch_size == 0.
  const std::int64_t n = X.rows;
  const bool full_batch = opt.batch_size == 0 || opt.batch_size >= n;
  const bool ordered = !full_batch && opt.shuffle;
  auto [backend, note] = select_backend(opt.device, X, y, opt.threads, ordered);
  Backend& be = *backend;
  const auto d = static_cast<std::size_t>(X.cols);

  FitResult res;
  res.backend = be.name();
  res.device_name = be.device_name();
  res.message = note;
  res.weights = opt.init_weights.empty() ? std::vector<double>(d, 0.0) : opt.init_weights;
  res.bias = opt.init_bias;

  // lr auto: 1/L for the full batch, 1/L_B for batches (see FitOptions::auto_learning_rate).
  double lr0 = opt.learning_rate;
  if (opt.auto_learning_rate) {
    res.curvature = detail::estimate_curvature(be, opt.fit_intercept);
    if (!(res.curvature > 0.0) || !std::isfinite(res.curvature))
      throw InvalidArgument("lr auto: the curvature of this problem is " + format_loss(res.curvature) +
                            " (all-zero features?); give a learning rate");
    const double L_batch = full_batch ? res.curvature
                                      : detail::batch_curvature(res.curvature,
                                                                detail::max_row_curvature(X, opt.fit_intercept),
                                                                n, opt.batch_size);
    lr0 = 1.0 / L_batch;
  }
  res.learning_rate = lr0;
  res.final_learning_rate = lr0;
  be.set_parameters(res.weights.data(), res.bias);

  // loss_history[0]: MSE at the initial parameters; its gradient drives the first
  // full-batch step.  Non-finite input (NaN/inf in X or y, or squares that overflow)
  // shows up here, before any step, as a non-finite loss.
  double loss = full_loss(be);
  if (!std::isfinite(loss))
    throw InvalidArgument("the MSE at the initial parameters is " + format_loss(loss) +
                          ": X or y holds non-finite values, or values so large that their "
                          "squares overflow float64");
  detail::Validator validator(X, y, opt, be);
  if (validator.due(0)) validator.check(be);
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
  double data_loss = loss;
  loss += penalty(res.weights);
  res.loss_history.reserve(static_cast<std::size_t>(std::min<std::int64_t>(opt.epochs, 1 << 20)) + 1);
  res.loss_history.push_back(loss);

  std::vector<std::int64_t> order(ordered ? static_cast<std::size_t>(n) : 0);
  std::vector<double> w(d);
  double b = 0.0;

  // The adaptive schedule's state: best loss so far and epochs without improving it.
  double rate = lr0, best = loss;
  std::int64_t stalled = 0;

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
  std::int64_t steps = 0;
  auto step = [&] {
    ++steps;
    rule.lr = rate;
    if (opt.optimizer == Optimizer::adam) {
      rule.bias_correction1 = 1.0 - std::pow(opt.beta1, static_cast<double>(steps));
      rule.bias_correction2 = 1.0 - std::pow(opt.beta2, static_cast<double>(steps));
    }
    be.step(rule);
  };

  for (std::int64_t epoch = 1; epoch <= opt.epochs; ++epoch) {
    if (opt.schedule != Schedule::adaptive) rate = detail::scheduled_rate(opt, lr0, epoch);
    res.final_learning_rate = rate;
    if (full_batch) {
      step();  // with the gradient of the previous pass
      loss = full_loss(be);                           // MSE after this epoch, and the next gradient
    } else {
      if (ordered) {
        detail::epoch_permutation(opt.seed, epoch - 1, order.data(), n);
        be.set_row_order(order.data());
      }
      be.reset_running_loss();
      for (std::int64_t lo = 0; lo < n; lo += opt.batch_size) {
        be.compute(lo, std::min(n, lo + opt.batch_size), ordered);
        step();
      }
      loss = opt.history == HistoryMode::running_average ? be.running_loss() : full_loss(be);
    }

    be.get_parameters(w.data(), &b);
    data_loss = loss;
    if (std::isfinite(loss)) loss += penalty(w);
    // A loss 1e8 times the initial one is runaway growth, not progress: stop before the
    // numbers overflow (gradient descent on the MSE never climbs that far when stable).
    const bool exploding = loss > kExplodingFactor * res.loss_history.front() && res.loss_history.front() > 0.0;
    if (exploding || !std::isfinite(loss) || !std::isfinite(b) || !all_finite(w)) {
      res.stop_reason = StopReason::diverged;
      // State the bound the user crossed: full-batch GD on the MSE is stable for lr < 2/L.
      res.curvature = detail::estimate_curvature(be, opt.fit_intercept);
      const std::string what = exploding && std::isfinite(loss)
                                   ? "loss grew past 1e8 times its initial value"
                                   : std::string(std::isfinite(loss) ? "parameters" : "loss") + " became non-finite";
      res.message = "diverged in epoch " + std::to_string(epoch) + ": the " + what +
                    " (last MSE before " + format_loss(res.loss_history.back()) +
                    "); the learning rate " + format_loss(rate) + " is too large for this data: " +
                    "the largest stable full-batch step is 2/L = " + format_loss(2.0 / res.curvature) +
                    " (L = " + format_loss(res.curvature) + ", estimated). Returned the parameters of epoch " +
                    std::to_string(epoch - 1) + ".";
      break;
    }
    res.weights = w;
    res.bias = b;
    res.epochs_run = epoch;
    res.loss_history.push_back(loss);

    if (validator.due(epoch)) validator.check(be);  // a full pass: same gradient, same params

    if (opt.on_epoch && !opt.on_epoch(EpochReport{epoch, opt.epochs, loss, &res.weights, res.bias, rate})) {
      res.stop_reason = StopReason::cancelled;
      break;
    }
    // scikit-learn's rule, relative: an epoch that does not beat the best loss by more
    // than tol x best counts as stalled.  n_iter_no_change stalled epochs in a row divide
    // the adaptive rate by 5, or end the fit when tol > 0 (early stopping).
    stalled = loss < best - opt.tol * best ? 0 : stalled + 1;
    best = std::min(best, loss);
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
  }

  // final_mse is always the exact full-data MSE at the returned parameters.
  const bool exact_last = full_batch || opt.history == HistoryMode::exact;
  if (res.stop_reason == StopReason::diverged || !exact_last) {
    be.set_parameters(res.weights.data(), res.bias);
    res.final_mse = full_loss(be);
  } else {
    res.final_mse = data_loss;
  }
  res.validation = validator.report();
  res.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return res;
}

}  // namespace detail

FitResult fit(const MatrixView& X, const VectorView& y, const FitOptions& opt) {
  detail::validate_data(X, y);
  detail::validate_options(opt, X.cols);
  return opt.standardize ? detail::fit_standardized(X, y, opt) : detail::fit_unscaled(X, y, opt);
}

Evaluation evaluate(const MatrixView& X, const VectorView& y, const std::vector<double>& weights,
                    double bias, const EvaluateOptions& options) {
  detail::validate_data(X, y);
  if (static_cast<std::int64_t>(weights.size()) != X.cols)
    throw InvalidArgument("evaluate: " + std::to_string(weights.size()) + " weights given for " +
                          std::to_string(X.cols) + " feature columns");
  auto selected = select_backend(options.device, X, y, options.threads, /*ordered=*/false);
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
