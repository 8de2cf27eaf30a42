// predict() and score(): the model applied to data, on the CPU, in float64.  Chunked like
// the CPU backend (the data plan depends only on the shape) so score() is bitwise the same
// for any thread count, and across processes holding whole chunks.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "api/validate.hpp"
#include "backend/chunk_plan.hpp"
#include "backend/team.hpp"
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
              const std::vector<double>& w, double b, const EvaluateOptions& options) {
  detail::Team team(options.communicator);
  if (team.alone()) {
    check_model(X, w);
    detail::validate_vector(y, X.rows, "y", "X");
    detail::validate_sample_weight(sample_weight, X.rows);
  } else {
    detail::validate_on_team(X, y, sample_weight, nullptr, team);
    team.agree(static_cast<std::int64_t>(w.size()) == X.cols
                   ? ""
                   : "the model has " + std::to_string(w.size()) + " weights but the data has " +
                         std::to_string(X.cols) + " feature columns");
  }
  const bool weighted = sample_weight.data != nullptr;
  // Unweighted rows count 1: multiplying by 1.0 is exact, so both cases share one loop and
  // the unweighted metrics keep their bits.
  auto weight = [&](std::int64_t i) { return weighted ? detail::value_at(sample_weight, i) : 1.0; };
  // The chunks of the data plan over every process's rows, summed in chunk order.
  const detail::RowShare share = team.alone() ? detail::RowShare{} : team.share(X.rows);
  const std::int64_t n = share.total < 0 ? X.rows : share.total;
  std::vector<detail::RowGroup> groups;
  detail::cut_into_chunks(0, X.rows, share.first, detail::plan_chunks(n, X.cols).rows_per_chunk, groups);
  auto in_chunk_order = [&](std::size_t width, const auto& sums) {  // sums(group, out[width])
    std::vector<double> part(groups.size() * width, 0.0);
#pragma omp parallel for schedule(static)
    for (std::size_t g = 0; g < groups.size(); ++g) sums(groups[g], part.data() + g * width);
    const std::vector<double> all = team.gather_rows(part.data(), static_cast<std::int64_t>(groups.size()), width);
    std::vector<double> total(width, 0.0);
    for (std::size_t at = 0; at < all.size(); at += width)
      for (std::size_t k = 0; k < width; ++k) total[k] += all[at + k];
    return total;
  };
  // Pass 1: sum w r^2, sum w |r|, sum w y, sum w per chunk; pass 2: sum w (y - mean)^2.
  const std::vector<double> first = in_chunk_order(4, [&](const detail::RowGroup& g, double* out) {
    double a = 0, e = 0, t = 0, v = 0;
    for (std::int64_t i = g.lo; i < g.hi; ++i) {
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
    out[0] = a;
    out[1] = e;
    out[2] = t;
    out[3] = v;
  });
  const double total_sse = first[0], total_sae = first[1], total_y = first[2], total_w = first[3];
  const double mean = total_y / total_w;
  const double total_sst = in_chunk_order(1, [&](const detail::RowGroup& g, double* out) {
    double t = 0;
    for (std::int64_t i = g.lo; i < g.hi; ++i) {
      const double dy = detail::value_at(y, i) - mean;
      t += weight(i) * (dy * dy);
    }
    out[0] = t;
  })[0];

  Metrics m;
  m.mse = total_sse / total_w;
  m.rmse = std::sqrt(m.mse);
  m.mae = total_sae / total_w;
  m.r2 = total_sst > 0 ? 1.0 - total_sse / total_sst
                       : (total_sse == 0 ? 1.0 : -std::numeric_limits<double>::infinity());
  return m;
}

Metrics score(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
              const std::vector<double>& w, double b) {
  return score(X, y, sample_weight, w, b, EvaluateOptions{});
}

Metrics score(const MatrixView& X, const VectorView& y, const std::vector<double>& w, double b) {
  return score(X, y, VectorView{}, w, b);
}

}  // namespace steepest
