#include "run_state.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <type_traits>

#include "permutation.hpp"
#include "steepest/error.hpp"
#include "view_access.hpp"

namespace steepest::detail {
namespace {

// One "name=value;" pair: doubles with 17 significant digits (they read back exactly).
template <class T>
void add(std::string& s, const char* name, T v) {
  s += name;
  s += '=';
  if constexpr (std::is_floating_point_v<T>) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    s += buf;
  } else {
    s += std::to_string(v);
  }
  s += ';';
}

std::map<std::string, std::string> pairs(const std::string& sig) {
  std::map<std::string, std::string> m;
  std::size_t at = 0;
  while (at < sig.size()) {
    const std::size_t end = sig.find(';', at);
    const std::string item = sig.substr(at, end == std::string::npos ? std::string::npos : end - at);
    const std::size_t eq = item.find('=');
    if (eq != std::string::npos) m[item.substr(0, eq)] = item.substr(eq + 1);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return m;
}

struct Fnv1a {
  std::uint64_t h = 0xcbf29ce484222325ull;
  void bytes(const void* p, std::size_t n) {
    const auto* c = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ c[i]) * 0x100000001b3ull;
  }
  void value(double v) { bytes(&v, sizeof v); }
  void value(std::int64_t v) { bytes(&v, sizeof v); }
};

// A second stream for the held-out split, so that it never coincides with an epoch's order.
constexpr std::uint64_t kHeldoutStream = 0x686f6c646f757421ull;  // "holdout!"

}  // namespace

std::string options_signature(const FitOptions& o) {
  std::string s;
  add(s, "lr_auto", static_cast<std::int64_t>(o.auto_learning_rate));
  if (!o.auto_learning_rate) add(s, "learning_rate", o.learning_rate);
  add(s, "standardize", static_cast<std::int64_t>(o.standardize));
  add(s, "optimizer", static_cast<std::int64_t>(o.optimizer));
  if (o.optimizer == Optimizer::momentum || o.optimizer == Optimizer::nesterov) add(s, "momentum", o.momentum);
  if (o.optimizer == Optimizer::adam) {
    add(s, "beta1", o.beta1);
    add(s, "beta2", o.beta2);
    add(s, "epsilon", o.epsilon);
  }
  add(s, "l2", o.l2);
  add(s, "l1", o.l1);
  add(s, "schedule", static_cast<std::int64_t>(o.schedule));
  add(s, "power_t", o.power_t);
  add(s, "decay", o.decay);
  add(s, "step_epochs", o.step_epochs);
  add(s, "n_iter_no_change", o.n_iter_no_change);
  add(s, "tol", o.tol);
  add(s, "batch_size", o.batch_size);
  add(s, "seed", o.seed);
  add(s, "shuffle", static_cast<std::int64_t>(o.shuffle));
  add(s, "fit_intercept", static_cast<std::int64_t>(o.fit_intercept));
  add(s, "history", static_cast<std::int64_t>(o.history));
  add(s, "validation_fraction", o.validation_fraction);
  return s;
}

std::uint64_t data_fingerprint(const MatrixView& X, const VectorView& y, const VectorView& weights) {
  Fnv1a f;
  f.value(X.rows);
  f.value(X.cols);
  f.value(static_cast<std::int64_t>(X.dtype));
  f.value(static_cast<std::int64_t>(weights.data != nullptr));
  const std::int64_t n = X.rows;
  const std::int64_t samples = std::min<std::int64_t>(n, 1024);
  for (std::int64_t k = 0; k < samples; ++k) {
    // Evenly spaced, first and last included; computed without overflow for any n.
    const std::int64_t i = samples == 1 ? 0 : (n - 1) / (samples - 1) * k + (n - 1) % (samples - 1) * k / (samples - 1);
    for (std::int64_t j = 0; j < X.cols; ++j) f.value(value_at(X, i, j));
    f.value(value_at(y, i));
    if (weights.data != nullptr) f.value(value_at(weights, i));
  }
  return f.h;
}

void check_resume(const TrainingState& s, const FitOptions& o, std::int64_t rows, std::int64_t cols,
                  std::uint64_t fingerprint) {
  auto fail = [](const std::string& what) { throw InvalidArgument("resume: " + what); };
  if (s.rows != rows || s.cols != cols)
    fail("the checkpoint is of " + std::to_string(s.rows) + " x " + std::to_string(s.cols) +
         " data, this fit has " + std::to_string(rows) + " x " + std::to_string(cols));
  if (s.data_fingerprint != fingerprint)
    fail("the data differ from the checkpoint's (same shape, other values: another file, "
         "column choice, dtype or sample weights?)");
  const std::string now = options_signature(o);
  if (s.options_signature != now) {
    const auto a = pairs(s.options_signature), b = pairs(now);
    std::string diff;
    for (const auto& [k, v] : b) {
      const auto it = a.find(k);
      const std::string was = it == a.end() ? "(unset)" : it->second;
      if (was != v) diff += (diff.empty() ? "" : ", ") + k + " " + v + " (checkpoint: " + was + ")";
    }
    for (const auto& [k, v] : a)
      if (b.find(k) == b.end()) diff += (diff.empty() ? "" : ", ") + k + " unset (checkpoint: " + v + ")";
    fail("the options differ from the checkpoint's: " + diff);
  }
  const auto d = static_cast<std::size_t>(cols);
  if (s.weights.size() != d || s.epoch_weights.size() != d || s.optimizer_state.size() != 2 * (d + 1) ||
      s.loss_history.size() != static_cast<std::size_t>(s.epoch) + 1 ||
      (!s.heldout_loss_history.empty() && s.heldout_loss_history.size() != s.loss_history.size()) ||
      s.epoch < 0 || s.batch < 0 || s.steps < 0 || s.stalled < 0)
    fail("the checkpoint's sizes are inconsistent (weights " + std::to_string(s.weights.size()) +
         ", optimizer state " + std::to_string(s.optimizer_state.size()) + ", loss history " +
         std::to_string(s.loss_history.size()) + " for epoch " + std::to_string(s.epoch) + ")");
  auto all_finite = [](const std::vector<double>& v) {
    return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
  };
  const bool finite = std::isfinite(s.bias) && std::isfinite(s.epoch_bias) && all_finite(s.weights) &&
                      all_finite(s.epoch_weights) &&
                      std::isfinite(s.learning_rate) && s.learning_rate > 0.0 && std::isfinite(s.rate);
  if (!finite) fail("the checkpoint holds non-finite parameters or rates");
  if (s.epoch > o.epochs || (s.epoch == o.epochs && s.batch > 0))
    fail("the checkpoint is at epoch " + std::to_string(s.epoch) + (s.batch > 0 ? " (within the next)" : "") +
         ", past the " + std::to_string(o.epochs) + " epochs asked for");
}

std::int64_t heldout_count(std::int64_t n, double fraction) {
  if (!(fraction > 0.0)) return 0;
  if (n < 2)
    throw InvalidArgument("validation fraction: holding rows out needs at least 2 rows, got " +
                          std::to_string(n));
  const auto held = static_cast<std::int64_t>(std::llround(fraction * static_cast<double>(n)));
  return std::clamp<std::int64_t>(held, 1, n - 1);
}

void heldout_split(std::uint64_t seed, std::int64_t n, std::int64_t held, std::int64_t* out) {
  epoch_permutation(seed ^ kHeldoutStream, 0, out, n);
  std::sort(out, out + (n - held));
  std::sort(out + (n - held), out + n);
}

}  // namespace steepest::detail
