#include "train/affine_epoch.hpp"

#include <algorithm>
#include <utility>

#include "train/permutation.hpp"

namespace steepest::detail {
namespace {

/// One step of \p rule from \p state into \p next on the batch \p g: with \p linear the
/// gradient's linear part only (no y terms), else all of it.
void step_state(const GramMoments& g, const double* shift, const StepRule& rule, const double* state, bool linear,
                double* next) {
  const std::size_t m = g.mean.size(), d = m - 1;
  const bool velocity = rule.optimizer != Optimizer::gd;
  const double* u = state;
  const double* v = state + m;
  double shifted = 0.0, rbar = 0.0;  // s . w, and the mean residual (u's coordinates)
  for (std::size_t k = 0; k < d; ++k) {
    shifted += shift[k] * u[k];
    rbar += (g.mean[k] - shift[k]) * u[k];
  }
  rbar += u[d] - (linear ? 0.0 : g.mean[d]);
  const bool data = g.weight != 0.0;  // a batch without weight has no gradient
  const double scale = data ? 2.0 / g.weight : 0.0;
  double* w_next = next;
  for (std::size_t k = 0; k < d; ++k) {
    const double* row = g.C.data() + k * m;
    double cw = linear ? 0.0 : -row[d];
    for (std::size_t j = 0; j < d; ++j) cw += row[j] * u[j];
    const double grad = data ? scale * cw + 2.0 * rbar * g.mean[k] : 0.0;
    double w = u[k], s1 = velocity ? v[k] : 0.0, s2 = 0.0;
    apply_step_rule(rule, false, w, grad, s1, s2);
    w_next[k] = w;
    if (velocity) next[m + k] = s1;
  }
  double b = u[d] - shifted, s1 = velocity ? v[d] : 0.0, s2 = 0.0;
  if (rule.update_bias) apply_step_rule(rule, true, b, data ? 2.0 * rbar : 0.0, s1, s2);
  double shifted_next = 0.0;
  for (std::size_t k = 0; k < d; ++k) shifted_next += shift[k] * w_next[k];
  next[d] = b + shifted_next;
  if (velocity) next[m + d] = s1;
}

}  // namespace

bool affine_rule(const StepRule& rule) noexcept {
  const bool affine_optimizer = rule.optimizer == Optimizer::gd || rule.optimizer == Optimizer::momentum ||
                                rule.optimizer == Optimizer::nesterov;
  return affine_optimizer && rule.l1 == 0.0;
}

std::int64_t affine_state_size(const StepRule& rule, std::int64_t d) noexcept {
  return rule.optimizer == Optimizer::gd ? d + 1 : 2 * (d + 1);
}

void step_map(const GramMoments& g, const double* shift, const StepRule& rule, AffineMap& out) {
  const auto d = static_cast<std::int64_t>(g.mean.size()) - 1;
  const std::int64_t n = affine_state_size(rule, d);
  const auto un = static_cast<std::size_t>(n);
  out.n = n;
  out.keeps_bias = !rule.update_bias;
  out.A.assign(un * un, 0.0);
  out.c.assign(un, 0.0);
  std::vector<double> unit(un, 0.0), column(un);
  step_state(g, shift, rule, unit.data(), false, out.c.data());  // the zero state: c
  for (std::size_t j = 0; j < un; ++j) {
    unit[j] = 1.0;
    step_state(g, shift, rule, unit.data(), true, column.data());
    unit[j] = 0.0;
    for (std::size_t i = 0; i < un; ++i) out.A[i * un + j] = column[i];
  }
}

void compose(const AffineMap& later, const AffineMap& earlier, AffineMap& out) {
  const auto n = static_cast<std::size_t>(later.n);
  out.n = later.n;
  out.keeps_bias = later.keeps_bias && earlier.keeps_bias;
  out.A.assign(n * n, 0.0);
  out.c = later.c;
  for (std::size_t i = 0; i < n; ++i) {
    double* row = out.A.data() + i * n;
    for (std::size_t k = 0; k < n; ++k) {
      const double a = later.A[i * n + k];
      const double* from = earlier.A.data() + k * n;
      for (std::size_t j = 0; j < n; ++j) row[j] += a * from[j];
      out.c[i] += a * earlier.c[k];
    }
  }
}

AffineMap epoch_map(std::int64_t batches, const std::function<void(std::int64_t, AffineMap&)>& map_of,
                    std::int32_t threads) {
  const std::int64_t blocks = (batches + kAffineBlock - 1) / kAffineBlock;
  std::vector<AffineMap> level(static_cast<std::size_t>(blocks));
  [[maybe_unused]] const int team = thread_count(threads);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel num_threads(team) if (blocks > 1)
#endif
  {
    AffineMap leaf, product;
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
    for (std::int64_t j = 0; j < blocks; ++j) {  // each block in batch order
      AffineMap& block = level[static_cast<std::size_t>(j)];
      const std::int64_t lo = j * kAffineBlock, hi = std::min(batches, lo + kAffineBlock);
      map_of(lo, block);
      for (std::int64_t k = lo + 1; k < hi; ++k) {
        map_of(k, leaf);
        compose(leaf, block, product);
        std::swap(block, product);
      }
    }
  }
  while (level.size() > 1) {  // then pairwise: (0 1) (2 3) ..., an odd last one carried up
    const std::size_t pairs = level.size() / 2;
    std::vector<AffineMap> up(pairs + level.size() % 2);
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) num_threads(team) if (pairs > 1)
#endif
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(pairs); ++i) {
      const auto p = static_cast<std::size_t>(i);
      compose(level[2 * p + 1], level[2 * p], up[p]);
    }
    if (level.size() % 2 == 1) up.back() = std::move(level.back());
    level = std::move(up);
  }
  return level.empty() ? AffineMap{} : std::move(level.front());
}

void apply_map(const AffineMap& m, const double* shift, std::vector<double>& w, double& b, std::vector<double>& s1) {
  const std::size_t d = w.size(), n = static_cast<std::size_t>(m.n);
  std::vector<double> state(n, 0.0), next(m.c);
  double shifted = 0.0;
  for (std::size_t k = 0; k < d; ++k) {
    state[k] = w[k];
    shifted += shift[k] * w[k];
  }
  state[d] = b + shifted;
  for (std::size_t k = d + 1; k < n; ++k) state[k] = s1[k - d - 1];
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) next[i] += m.A[i * n + j] * state[j];
  double shifted_next = 0.0;
  for (std::size_t k = 0; k < d; ++k) {
    w[k] = next[k];
    shifted_next += shift[k] * next[k];
  }
  if (!m.keeps_bias) b = next[d] - shifted_next;  // (b + s . w) - s . w would round it
  for (std::size_t k = d + 1; k < n; ++k) s1[k - d - 1] = next[k];
}

}  // namespace steepest::detail
