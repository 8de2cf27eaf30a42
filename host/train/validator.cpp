#include "train/validator.hpp"
#include "backend/view_access.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace steepest::detail {
namespace {

// With weights, sum w_i x_ik^2: the squared norm Cauchy-Schwarz pairs with sqrt(sum w_i r_i^2).
std::vector<double> column_squares(const MatrixView& X, const VectorView& weights) {
  std::vector<double> norms(static_cast<std::size_t>(X.cols), 0.0);
  for (std::int64_t i = 0; i < X.rows; ++i) {
    const double wi = weights.data != nullptr ? value_at(weights, i) : 1.0;
    for (std::int64_t k = 0; k < X.cols; ++k) {
      const double v = value_at(X, i, k);
      norms[static_cast<std::size_t>(k)] += wi * v * v;
    }
  }
  return norms;
}

double total_weight(std::int64_t n, const VectorView& weights) {
  if (weights.data == nullptr) return static_cast<double>(n);
  double total = 0.0;
  for (std::int64_t i = 0; i < n; ++i) total += value_at(weights, i);
  return total;
}

}  // namespace

Validator::Validator(const MatrixView& X, const VectorView& y, const FitOptions& options,
                     const Backend& primary, const VectorView& weights, const RowShare& share, const Team* team) {
  report_.tolerance = options.validate_tolerance;
  if (options.validate_every <= 0) return;
  if (std::string(primary.name()) == "cpu") {
    report_.note = "the CPU backend is the reference itself; nothing to compare";
    return;
  }
  every_ = options.validate_every;
  reference_ = make_cpu_backend(X, y, weights, options.threads, share);
  // Across processes the reference and the scales cover every process's rows.
  std::vector<double> sums = column_squares(X, weights);
  sums.push_back(total_weight(X.rows, weights));
  if (team != nullptr && !team->alone()) sums = team->sum(sums);
  total_weight_ = sums.back();
  sums.pop_back();
  column_norms_.resize(sums.size());
  std::transform(sums.begin(), sums.end(), column_norms_.begin(), [](double v) { return std::sqrt(v); });
  w_.resize(column_norms_.size());
  g_.resize(column_norms_.size());
  g_ref_.resize(column_norms_.size());
}

void Validator::check(Backend& primary) {
  const std::int64_t n = primary.rows();
  double b = 0.0, gb = 0.0, gb_ref = 0.0;
  primary.get_parameters(w_.data(), &b);
  reference_->set_parameters(w_.data(), b);
  primary.compute(0, n, false);
  reference_->compute(0, n, false);
  const double loss = primary.loss(), loss_ref = reference_->loss();
  primary.gradient(g_.data(), &gb);
  reference_->gradient(g_ref_.data(), &gb_ref);

  // Unweighted, nd = n; weighted, the scales are (2/W) sqrt(W loss) sqrt(sum w_i x_ik^2),
  // the same Cauchy-Schwarz bound on (2/W) sum_i w_i |r_i x_ik| (the bias: x = 1).
  const double nd = total_weight_;
  const double root_sse = std::sqrt(nd * loss_ref);
  auto dev = [&](double g, double ref, double norm) {
    const double scale = 2.0 / nd * root_sse * norm;
    return scale > 0.0 ? std::fabs(g - ref) / scale : std::fabs(g - ref);
  };
  double gdev = dev(gb, gb_ref, std::sqrt(nd));
  for (std::size_t k = 0; k < g_.size(); ++k)
    gdev = std::max(gdev, dev(g_[k], g_ref_[k], column_norms_[k]));
  const double ldev = loss_ref > 0.0 ? std::fabs(loss - loss_ref) / loss_ref : std::fabs(loss);

  ++report_.checks;
  // NaN deviations must fail the check, hence the negated comparisons.
  report_.max_loss_deviation = std::isnan(ldev) ? ldev : std::max(report_.max_loss_deviation, ldev);
  report_.max_gradient_deviation = std::isnan(gdev) ? gdev : std::max(report_.max_gradient_deviation, gdev);
  if (!(ldev <= report_.tolerance) || !(gdev <= report_.tolerance)) report_.passed = false;
}

}  // namespace steepest::detail
