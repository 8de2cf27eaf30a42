#include "api/validate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <thread>

#include "steepest/error.hpp"
#include "backend/view_access.hpp"
#include "train/run_state.hpp"

namespace steepest::detail {
namespace {

[[noreturn]] void fail(const std::string& what) { throw InvalidArgument(what); }

std::string str(std::int64_t v) { return std::to_string(v); }

/// A double in messages: 6 significant digits, never the 309 digits of std::to_string(1e308).
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

bool known(DType t) { return t == DType::float32 || t == DType::float64; }

}  // namespace

void validate_matrix(const MatrixView& X, const char* name) {
  const std::string n = name;
  if (X.data == nullptr) fail(n + ": null data pointer");
  if (X.rows < 1) fail(n + ": needs at least one row, got " + str(X.rows));
  if (X.cols < 1) fail(n + ": needs at least one feature column, got " + str(X.cols));
  if (!known(X.dtype)) fail(n + ": unknown dtype " + str(static_cast<std::int64_t>(X.dtype)));
  const bool row_major = X.layout == Layout::row_major;
  if (!row_major && X.layout != Layout::col_major)
    fail(n + ": unknown layout " + str(static_cast<std::int64_t>(X.layout)));
  const std::int64_t inner = row_major ? X.cols : X.rows;
  const std::int64_t outer = row_major ? X.rows : X.cols;
  if (X.stride < inner)
    fail(n + ": stride " + str(X.stride) + " is smaller than the " + (row_major ? "row length " : "column length ") +
         str(inner));
  if (outer - 1 > (std::numeric_limits<std::int64_t>::max() - inner) / X.stride)
    fail(n + ": rows x stride overflows a 64-bit index");
}

void validate_vector(const VectorView& v, std::int64_t size, const char* name, const char* of) {
  const std::string n = name;
  if (v.data == nullptr) fail(n + ": null data pointer");
  if (!known(v.dtype)) fail(n + ": unknown dtype " + str(static_cast<std::int64_t>(v.dtype)));
  if (v.size != size) fail(n + " has " + str(v.size) + " entries but " + of + " has " + str(size) + " rows");
  if (v.stride < 1) fail(n + ": stride must be >= 1, got " + str(v.stride));
  if (v.size - 1 > std::numeric_limits<std::int64_t>::max() / v.stride)
    fail(n + ": size x stride overflows a 64-bit index");
}

void validate_data(const MatrixView& X, const VectorView& y) {
  validate_matrix(X, "X");
  validate_vector(y, X.rows, "y", "X");
}

void validate_threads(std::int32_t threads, const char* what) {
  const std::int32_t most = max_threads();
  if (threads < 0 || threads > most)
    fail(std::string(what) + ": threads must be in [0, " + std::to_string(most) + "] (0 = the default; at most " +
         "4 x the " + std::to_string(std::thread::hardware_concurrency()) + " hardware threads, and never more than " +
         std::to_string(kThreadCap) + "), got " + std::to_string(threads));
}

std::int32_t max_threads() {
  const auto hw = static_cast<std::int64_t>(std::thread::hardware_concurrency());
  return static_cast<std::int32_t>(std::min<std::int64_t>(kThreadCap, std::max<std::int64_t>(kThreadFloor, 4 * hw)));
}

void validate_sample_weight(const VectorView& w, std::int64_t rows, std::int64_t first, bool check_total) {
  if (w.data == nullptr) return;
  validate_vector(w, rows, "sample weights", "X");
  double total = 0.0;
  for (std::int64_t i = 0; i < rows; ++i) {
    const double v = value_at(w, i);
    if (!std::isfinite(v) || v < 0.0)
      fail("sample weights: weight " + str(first + i + 1) + " is " + num(v) +
           "; weights must be finite and >= 0");
    total += v;
  }
  if (!check_total) return;
  if (!(total > 0.0)) fail("sample weights: all weights are zero");
  if (!std::isfinite(total)) fail("sample weights: their sum overflows float64");
}

void validate_on_team(const MatrixView& X, const VectorView& y, const VectorView& w, const FitOptions* options,
                      const Team& team) {
  if (team.alone()) {
    validate_data(X, y);
    validate_sample_weight(w, X.rows);
    if (options != nullptr) validate_options(*options, X.cols);
    return;
  }
  const std::vector<std::int64_t> rows = team.gather(X.rows);
  std::int64_t first = 0, n = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (static_cast<int>(r) < team.rank()) first += rows[r];
    n += rows[r];
  }
  std::string error;
  try {
    if (X.rows != 0) {
      validate_data(X, y);
    } else if (X.cols < 1 || y.size != 0 || (w.data != nullptr && w.size != 0)) {
      fail("X: no rows here, but " + str(X.cols) + " feature columns, " + str(y.size) + " targets" +
           (w.data != nullptr ? " and " + str(w.size) + " sample weights" : std::string()));
    }
    if (X.rows != 0) validate_sample_weight(w, X.rows, first, /*check_total=*/false);
    if (options != nullptr) validate_options(*options, X.cols);
  } catch (const InvalidArgument& e) {
    error = e.what();
  }
  team.agree(error);

  const std::vector<std::int64_t> cols = team.gather(X.cols);
  for (std::size_t r = 1; r < cols.size(); ++r)
    if (cols[r] != cols[0])
      fail("X: rank " + std::to_string(r) + " has " + str(cols[r]) + " feature columns, rank 0 has " + str(cols[0]));
  const std::vector<std::int64_t> weighted = team.gather(w.data != nullptr ? 1 : 0);
  if (std::count(weighted.begin(), weighted.end(), weighted[0]) != static_cast<std::ptrdiff_t>(weighted.size()))
    fail("sample weights: given on some ranks and not on others");
  if (n < 1) fail("X: needs at least one row, got none on any of the " + std::to_string(team.size()) + " ranks");
  if (w.data != nullptr) {
    double local = 0.0;
    for (std::int64_t i = 0; i < X.rows; ++i) local += value_at(w, i);
    const double total = team.sum(std::vector<double>{local})[0];
    if (!(total > 0.0)) fail("sample weights: all weights are zero");
    if (!std::isfinite(total)) fail("sample weights: their sum overflows float64");
  }
  if (options != nullptr) {
    // The same options everywhere: the checkpoint's signature of them, plus what else
    // decides which collective passes run (the epochs, the solver, the spectrum's Lanczos,
    // the device: a GPU rank's --validate runs reference passes a CPU rank does not).  Not
    // cuda_device: which GPU a rank takes is its own.
    const std::string signature = options_signature(*options) + "epochs=" + std::to_string(options->epochs) +
                                  ";solver=" + std::to_string(static_cast<int>(options->solver)) +
                                  ";condition=" + std::to_string(static_cast<int>(options->estimate_condition)) +
                                  ";device=" + std::to_string(static_cast<int>(options->device));
    const std::vector<std::int64_t> hashes =
        team.gather(static_cast<std::int64_t>(std::hash<std::string>{}(signature)));
    for (std::size_t r = 1; r < hashes.size(); ++r)
      if (hashes[r] != hashes[0]) fail("options: rank " + std::to_string(r) + "'s fit options differ from rank 0's");
  }
}

void validate_options(const FitOptions& o, std::int64_t cols) {
  if (!o.auto_learning_rate && (!(o.learning_rate > 0.0) || !std::isfinite(o.learning_rate)))
    fail("learning rate must be a finite number > 0, got " + num(o.learning_rate));
  if (o.epochs < 0) fail("epochs must be >= 0, got " + str(o.epochs));
  if (o.batch_size < 0) fail("batch size must be >= 0 (0 = full batch), got " + str(o.batch_size));
  if (!(o.tol >= 0.0) || !std::isfinite(o.tol))
    fail("tol must be a finite number >= 0, got " + num(o.tol));
  validate_threads(o.threads, "fit");
  if (o.cuda_device < -1)
    fail("cuda_device must be -1 (the current device, or the node-local rank's) or a device index, got " +
         std::to_string(o.cuda_device));
  if (!o.init_weights.empty() && static_cast<std::int64_t>(o.init_weights.size()) != cols)
    fail("initial weights: " + str(static_cast<std::int64_t>(o.init_weights.size())) +
         " values given for " + str(cols) + " feature columns");
  for (std::size_t k = 0; k < o.init_weights.size(); ++k)
    if (!std::isfinite(o.init_weights[k]))
      fail("initial weights: value " + std::to_string(k + 1) + " is not finite");
  if (!std::isfinite(o.init_bias)) fail("initial bias is not finite");
  if (!(o.power_t >= 0.0) || !std::isfinite(o.power_t))
    fail("power_t must be a finite number >= 0, got " + num(o.power_t));
  if (!(o.decay > 0.0 && o.decay <= 1.0)) fail("decay must be in (0, 1], got " + num(o.decay));
  if (o.step_epochs < 1) fail("step_epochs must be >= 1, got " + str(o.step_epochs));
  if (o.n_iter_no_change < 1) fail("n_iter_no_change must be >= 1, got " + str(o.n_iter_no_change));
  if (o.shuffle_block < 1) fail("shuffle_block must be >= 1, got " + str(o.shuffle_block));
  if (o.schedule < Schedule::constant || o.schedule > Schedule::adaptive) fail("unknown schedule");
  if (o.optimizer < Optimizer::gd || o.optimizer > Optimizer::automatic) fail("unknown optimizer");
  if (o.auto_momentum && (o.optimizer == Optimizer::gd || o.optimizer == Optimizer::adam))
    fail(std::string("auto momentum applies to the momentum and nesterov optimizers, not ") +
         (o.optimizer == Optimizer::gd ? "gd" : "adam"));
  if (o.solver < Solver::automatic || o.solver > Solver::gram) fail("unknown solver");
  if (!(o.momentum >= 0.0 && o.momentum < 1.0)) fail("momentum must be in [0, 1), got " + num(o.momentum));
  if (!(o.beta1 >= 0.0 && o.beta1 < 1.0) || !(o.beta2 >= 0.0 && o.beta2 < 1.0))
    fail("adam betas must be in [0, 1), got " + num(o.beta1) + " and " + num(o.beta2));
  if (!(o.epsilon > 0.0) || !std::isfinite(o.epsilon)) fail("adam epsilon must be finite and > 0, got " + num(o.epsilon));
  if (!(o.l2 >= 0.0) || !std::isfinite(o.l2)) fail("l2 penalty must be finite and >= 0, got " + num(o.l2));
  if (!(o.l1 >= 0.0) || !std::isfinite(o.l1)) fail("l1 penalty must be finite and >= 0, got " + num(o.l1));
  if (o.validate_every < 0) fail("validate_every must be >= 0 (0 = off), got " + str(o.validate_every));
  if (!(o.validate_tolerance > 0.0) || std::isnan(o.validate_tolerance))
    fail("validate_tolerance must be > 0, got " + num(o.validate_tolerance));
  if (o.device != Device::automatic && o.device != Device::cpu && o.device != Device::cuda)
    fail("unknown device");
  if (o.history != HistoryMode::exact && o.history != HistoryMode::running_average)
    fail("unknown history mode");
  if (!(o.validation_fraction >= 0.0 && o.validation_fraction < 1.0))
    fail("validation fraction must be in [0, 1), got " + num(o.validation_fraction));
  if (o.checkpoint_every < 0) fail("checkpoint_every must be >= 0 (0 = off), got " + str(o.checkpoint_every));
}

}  // namespace steepest::detail
