// Standardisation: z_ik = (x_ik - mu_k) / s_k.  Predictions are the same in both
// parametrisations (x . w + b = z . w' + b'), so the MSE, the loss history and the stopping
// rules are unchanged; only the geometry of the problem improves (the Hessian of the
// standardised problem has unit diagonal, which is what lets ill-conditioned data converge).
// Penalties, when set, apply to the standardised weights w', as with scikit-learn's
// StandardScaler in front of a penalised model.
#include "standardize.hpp"

#include <algorithm>
#include <cmath>

#include "chunk_plan.hpp"
#include "view_access.hpp"

namespace steepest::detail {
namespace {

/// Per-chunk column sums of f(x_ik), combined in chunk order.
template <class F>
std::vector<double> column_sums(const MatrixView& X, F f) {
  const auto d = static_cast<std::size_t>(X.cols);
  const ChunkPlan plan = plan_chunks(X.rows, X.cols);
  std::vector<double> partial(static_cast<std::size_t>(plan.chunks) * d, 0.0);
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < plan.chunks; ++c) {
    double* out = partial.data() + static_cast<std::size_t>(c) * d;
    const std::int64_t hi = std::min(X.rows, (c + 1) * plan.rows_per_chunk);
    for (std::int64_t i = c * plan.rows_per_chunk; i < hi; ++i)
      for (std::size_t k = 0; k < d; ++k) out[k] += f(value_at(X, i, static_cast<std::int64_t>(k)), k);
  }
  std::vector<double> total(d, 0.0);
  for (std::int64_t c = 0; c < plan.chunks; ++c)
    for (std::size_t k = 0; k < d; ++k) total[k] += partial[static_cast<std::size_t>(c) * d + k];
  return total;
}

template <class T>
std::vector<T> standardized_copy(const MatrixView& X, const std::vector<double>& mean,
                                 const std::vector<double>& scale) {
  const auto d = static_cast<std::size_t>(X.cols);
  std::vector<T> out(static_cast<std::size_t>(X.rows) * d);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < X.rows; ++i)
    for (std::size_t k = 0; k < d; ++k)
      out[static_cast<std::size_t>(i) * d + k] =
          static_cast<T>((value_at(X, i, static_cast<std::int64_t>(k)) - mean[k]) / scale[k]);
  return out;
}

}  // namespace

void column_moments(const MatrixView& X, std::vector<double>& mean, std::vector<double>& scale) {
  const auto n = static_cast<double>(X.rows);
  mean = column_sums(X, [](double x, std::size_t) { return x; });
  for (double& m : mean) m /= n;
  // Two passes (sum of squared deviations), not E[x^2] - E[x]^2, which cancels badly.
  scale = column_sums(X, [&mean](double x, std::size_t k) { return (x - mean[k]) * (x - mean[k]); });
  for (double& s : scale) {
    s = std::sqrt(s / n);
    if (!(s > 0.0)) s = 1.0;  // a constant column: centred to zero, left unscaled
  }
}

FitResult fit_standardized(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                           const FitOptions& options) {
  std::vector<double> mean, scale;
  column_moments(X, mean, scale);
  const auto d = static_cast<std::size_t>(X.cols);

  std::vector<float> z32;
  std::vector<double> z64;
  MatrixView Z;
  if (X.dtype == DType::float32) {
    z32 = standardized_copy<float>(X, mean, scale);
    Z = make_matrix_view(z32.data(), X.rows, X.cols);
  } else {
    z64 = standardized_copy<double>(X, mean, scale);
    Z = make_matrix_view(z64.data(), X.rows, X.cols);
  }

  auto to_original = [&](const std::vector<double>& ws, double bs, std::vector<double>& w, double& b) {
    w.resize(d);
    b = bs;
    for (std::size_t k = 0; k < d; ++k) {
      w[k] = ws[k] / scale[k];
      b -= w[k] * mean[k];
    }
  };

  // o.standardize stays set: fit_unscaled ignores it, and a checkpoint's option signature
  // must tell a standardised run from a raw one.
  FitOptions o = options;
  if (!options.init_weights.empty()) {  // warm start given in original units
    o.init_bias = options.init_bias;
    for (std::size_t k = 0; k < d; ++k) {
      o.init_weights[k] = options.init_weights[k] * scale[k];
      o.init_bias += options.init_weights[k] * mean[k];
    }
  }
  if (options.on_epoch) {
    std::vector<double> w_orig;
    o.on_epoch = [&](const EpochReport& r) {
      EpochReport mapped = r;
      to_original(*r.weights, r.bias, w_orig, mapped.bias);
      mapped.weights = &w_orig;
      return options.on_epoch(mapped);
    };
  }
  std::vector<double> w_step;
  if (options.on_step) {
    o.on_step = [&](const StepReport& r) {
      StepReport mapped = r;
      to_original(*r.weights, r.bias, w_step, mapped.bias);
      mapped.weights = &w_step;
      options.on_step(mapped);
    };
  }
  FitResult res = fit_unscaled(Z, y, sample_weight, o);
  std::vector<double> w;
  double b = 0.0;
  to_original(res.weights, res.bias, w, b);
  res.weights = std::move(w);
  res.bias = b;
  res.message += std::string(res.message.empty() ? "" : " ") +
                 "Fitted on standardised features; the model is in original units.";
  return res;
}

}  // namespace steepest::detail
