// predict() and score(): the model applied to data, on the CPU, in float64.  Chunked like
// the CPU backend (plan_chunks depends only on the shape) so score() is bitwise the same
// for any thread count.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "backend/chunk_plan.hpp"
#include "api/validate.hpp"
#include "steepest/error.hpp"
#include "steepest/fit.hpp"
#include "backend/view_access.hpp"

namespace steepest {
namespace {

/// The checks fit() makes of its views, and the model's length against X.
void check_model(const MatrixView& X, const std::vector<double>& w) {
  detail::validate_matrix(X, "X");
  if (static_cast<std::int64_t>(w.size()) != X.cols)
    throw InvalidArgument("the model has " + std::to_string(w.size()) + " weights but the data has " +
                          std::to_string(X.cols) + " feature columns");
}

}  // namespace

void predict(const MatrixView& X, const std::vector<double>& w, double b, double* out, std::int64_t out_size) {
  check_model(X, w);
  if (out == nullptr) throw InvalidArgument("predict: null output pointer");
  if (out_size < X.rows)
    throw InvalidArgument("predict: the output holds " + std::to_string(out_size) + " values for the " +
                          std::to_string(X.rows) + " rows of X");
  predict(X, w, b, out);
}

void predict(const MatrixView& X, const std::vector<double>& w, double b, double* out) {
  check_model(X, w);
  if (out == nullptr) throw InvalidArgument("predict: null output pointer");
  const std::int64_t d = X.cols;
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < X.rows; ++i) {
    double s = b;
    for (std::int64_t k = 0; k < d; ++k) s += detail::value_at(X, i, k) * w[static_cast<std::size_t>(k)];
    out[i] = s;
  }
}

Metrics score(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
              const std::vector<double>& w, double b) {
  check_model(X, w);
  detail::validate_vector(y, X.rows, "y", "X");
  detail::validate_sample_weight(sample_weight, X.rows);
  const bool weighted = sample_weight.data != nullptr;
  // Unweighted rows count 1: multiplying by 1.0 is exact, so both cases share one loop and
  // the unweighted metrics keep their bits.
  auto weight = [&](std::int64_t i) { return weighted ? detail::value_at(sample_weight, i) : 1.0; };
  const std::int64_t n = X.rows;
  const auto plan = detail::plan_chunks(n, X.cols);
  const auto chunks = static_cast<std::size_t>(plan.chunks);
  // Pass 1: sum w r^2, sum w |r|, sum w y, sum w per chunk; pass 2: sum w (y - mean)^2.
  std::vector<double> sse(chunks), sae(chunks), sy(chunks), sw(chunks), sst(chunks);
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < plan.chunks; ++c) {
    const std::int64_t lo = c * plan.rows_per_chunk, hi = std::min(n, lo + plan.rows_per_chunk);
    double a = 0, e = 0, t = 0, v = 0;
    for (std::int64_t i = lo; i < hi; ++i) {
      double r = b;
      for (std::int64_t k = 0; k < X.cols; ++k) r += detail::value_at(X, i, k) * w[static_cast<std::size_t>(k)];
      const double yi = detail::value_at(y, i);
      const double wi = weight(i);
      r -= yi;
      a += wi * (r * r);
      e += wi * std::fabs(r);
      t += wi * yi;
      v += wi;
    }
    sse[static_cast<std::size_t>(c)] = a;
    sae[static_cast<std::size_t>(c)] = e;
    sy[static_cast<std::size_t>(c)] = t;
    sw[static_cast<std::size_t>(c)] = v;
  }
  double total_sse = 0, total_sae = 0, total_y = 0, total_w = 0;
  for (std::size_t c = 0; c < chunks; ++c) {
    total_sse += sse[c];
    total_sae += sae[c];
    total_y += sy[c];
    total_w += sw[c];
  }
  const double mean = total_y / total_w;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < plan.chunks; ++c) {
    const std::int64_t lo = c * plan.rows_per_chunk, hi = std::min(n, lo + plan.rows_per_chunk);
    double t = 0;
    for (std::int64_t i = lo; i < hi; ++i) {
      const double dy = detail::value_at(y, i) - mean;
      t += weight(i) * (dy * dy);
    }
    sst[static_cast<std::size_t>(c)] = t;
  }
  double total_sst = 0;
  for (double v : sst) total_sst += v;

  Metrics m;
  m.mse = total_sse / total_w;
  m.rmse = std::sqrt(m.mse);
  m.mae = total_sae / total_w;
  m.r2 = total_sst > 0 ? 1.0 - total_sse / total_sst
                       : (total_sse == 0 ? 1.0 : -std::numeric_limits<double>::infinity());
  return m;
}

Metrics score(const MatrixView& X, const VectorView& y, const std::vector<double>& w, double b) {
  return score(X, y, VectorView{}, w, b);
}

}  // namespace steepest
