#include "validate.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "steepest/error.hpp"
#include "view_access.hpp"

namespace steepest::detail {
namespace {

[[noreturn]] void fail(const std::string& what) { throw InvalidArgument(what); }

std::string str(std::int64_t v) { return std::to_string(v); }

}  // namespace

void validate_data(const MatrixView& X, const VectorView& y) {
  if (X.data == nullptr) fail("X: null data pointer");
  if (y.data == nullptr) fail("y: null data pointer");
  if (X.rows < 1) fail("X: needs at least one row, got " + str(X.rows));
  if (X.cols < 1) fail("X: needs at least one feature column, got " + str(X.cols));
  if (X.dtype != DType::float32 && X.dtype != DType::float64) fail("X: unknown dtype");
  if (y.dtype != DType::float32 && y.dtype != DType::float64) fail("y: unknown dtype");
  const bool row_major = X.layout == Layout::row_major;
  if (!row_major && X.layout != Layout::col_major) fail("X: unknown layout");
  const std::int64_t inner = row_major ? X.cols : X.rows;
  const std::int64_t outer = row_major ? X.rows : X.cols;
  if (X.stride < inner)
    fail("X: stride " + str(X.stride) + " is smaller than the " +
         (row_major ? "row length " : "column length ") + str(inner));
  if (outer - 1 > (std::numeric_limits<std::int64_t>::max() - inner) / X.stride)
    fail("X: rows x stride overflows a 64-bit index");
  if (y.size != X.rows)
    fail("y has " + str(y.size) + " entries but X has " + str(X.rows) + " rows");
  if (y.stride < 1) fail("y: stride must be >= 1, got " + str(y.stride));
  if (y.size - 1 > std::numeric_limits<std::int64_t>::max() / y.stride)
    fail("y: size x stride overflows a 64-bit index");
}

void validate_sample_weight(const VectorView& w, std::int64_t rows) {
  if (w.data == nullptr) return;
  if (w.dtype != DType::float32 && w.dtype != DType::float64) fail("sample weights: unknown dtype");
  if (w.size != rows)
    fail("sample weights: " + str(w.size) + " given for " + str(rows) + " rows");
  if (w.stride < 1) fail("sample weights: stride must be >= 1, got " + str(w.stride));
  if (w.size - 1 > std::numeric_limits<std::int64_t>::max() / w.stride)
    fail("sample weights: size x stride overflows a 64-bit index");
  double total = 0.0;
  for (std::int64_t i = 0; i < rows; ++i) {
    const double v = value_at(w, i);
    if (!std::isfinite(v) || v < 0.0)
      fail("sample weights: weight " + str(i + 1) + " is " + std::to_string(v) +
           "; weights must be finite and >= 0");
    total += v;
  }
  if (!(total > 0.0)) fail("sample weights: all weights are zero");
  if (!std::isfinite(total)) fail("sample weights: their sum overflows float64");
}

void validate_options(const FitOptions& o, std::int64_t cols) {
  if (!o.auto_learning_rate && (!(o.learning_rate > 0.0) || !std::isfinite(o.learning_rate)))
    fail("learning rate must be a finite number > 0, got " + std::to_string(o.learning_rate));
  if (o.epochs < 0) fail("epochs must be >= 0, got " + str(o.epochs));
  if (o.batch_size < 0) fail("batch size must be >= 0 (0 = full batch), got " + str(o.batch_size));
  if (!(o.tol >= 0.0) || !std::isfinite(o.tol))
    fail("tol must be a finite number >= 0, got " + std::to_string(o.tol));
  if (o.threads < 0) fail("threads must be >= 0 (0 = default), got " + std::to_string(o.threads));
  if (!o.init_weights.empty() && static_cast<std::int64_t>(o.init_weights.size()) != cols)
    fail("initial weights: " + str(static_cast<std::int64_t>(o.init_weights.size())) +
         " values given for " + str(cols) + " feature columns");
  for (std::size_t k = 0; k < o.init_weights.size(); ++k)
    if (!std::isfinite(o.init_weights[k]))
      fail("initial weights: value " + std::to_string(k + 1) + " is not finite");
  if (!std::isfinite(o.init_bias)) fail("initial bias is not finite");
  if (!(o.power_t >= 0.0) || !std::isfinite(o.power_t))
    fail("power_t must be a finite number >= 0, got " + std::to_string(o.power_t));
  if (!(o.decay > 0.0 && o.decay <= 1.0)) fail("decay must be in (0, 1], got " + std::to_string(o.decay));
  if (o.step_epochs < 1) fail("step_epochs must be >= 1, got " + str(o.step_epochs));
  if (o.n_iter_no_change < 1) fail("n_iter_no_change must be >= 1, got " + str(o.n_iter_no_change));
  if (o.schedule < Schedule::constant || o.schedule > Schedule::adaptive) fail("unknown schedule");
  if (o.optimizer < Optimizer::gd || o.optimizer > Optimizer::adam) fail("unknown optimizer");
  if (!(o.momentum >= 0.0 && o.momentum < 1.0)) fail("momentum must be in [0, 1), got " + std::to_string(o.momentum));
  if (!(o.beta1 >= 0.0 && o.beta1 < 1.0) || !(o.beta2 >= 0.0 && o.beta2 < 1.0))
    fail("adam betas must be in [0, 1)");
  if (!(o.epsilon > 0.0) || !std::isfinite(o.epsilon)) fail("adam epsilon must be finite and > 0");
  if (!(o.l2 >= 0.0) || !std::isfinite(o.l2)) fail("l2 penalty must be finite and >= 0, got " + std::to_string(o.l2));
  if (!(o.l1 >= 0.0) || !std::isfinite(o.l1)) fail("l1 penalty must be finite and >= 0, got " + std::to_string(o.l1));
  if (o.validate_every < 0) fail("validate_every must be >= 0 (0 = off), got " + str(o.validate_every));
  if (!(o.validate_tolerance > 0.0))
    fail("validate_tolerance must be > 0, got " + std::to_string(o.validate_tolerance));
  if (o.device != Device::automatic && o.device != Device::cpu && o.device != Device::cuda)
    fail("unknown device");
  if (o.history != HistoryMode::exact && o.history != HistoryMode::running_average)
    fail("unknown history mode");
  if (!(o.validation_fraction >= 0.0 && o.validation_fraction < 1.0))
    fail("validation fraction must be in [0, 1), got " + std::to_string(o.validation_fraction));
  if (o.checkpoint_every < 0) fail("checkpoint_every must be >= 0 (0 = off), got " + str(o.checkpoint_every));
}

}  // namespace steepest::detail
