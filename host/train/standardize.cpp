// Standardisation: z_ik = (x_ik - mu_k) / s_k.  Predictions are the same in both
// parametrisations (x . w + b = z . w' + b'), so the MSE, the loss history and the stopping
// rules are unchanged; only the geometry of the problem improves (the Hessian of the
// standardised problem has unit diagonal, which is what lets ill-conditioned data converge).
// Penalties, when set, apply to the standardised weights w', as with scikit-learn's
// StandardScaler in front of a penalised model.
//
// Without an intercept the columns are scaled, never centred (mu_k = 0, s_k the root mean
// square): centring would need the intercept that the fit is told not to have, and so
// would solve another problem.
#include "train/standardize.hpp"
#include "train/run_state.hpp"
#include "train/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/chunk_plan.hpp"
#include "backend/view_access.hpp"

namespace steepest::detail {
namespace {

/// Where the rows are: this process's rows among the fit's, and the processes.
struct Rows {
  const RowShare& share;
  const Team& team;
  std::int64_t total(const MatrixView& X) const { return share.total < 0 ? X.rows : share.total; }
};

/// Per-chunk column folds of f(i, k) over the rows with \p op (from 0), combined with \p op
/// in chunk order: the chunks of the data plan, so the same bits for any thread count and
/// any number of processes holding whole chunks.
template <class F, class Op>
std::vector<double> column_fold(const MatrixView& X, const Rows& where, F f, Op op) {
  const auto d = static_cast<std::size_t>(X.cols);
  const ChunkPlan plan = plan_chunks(where.total(X), X.cols);
  std::vector<RowGroup> groups;
  cut_into_chunks(0, X.rows, where.share.first, plan.rows_per_chunk, groups);
  std::vector<double> partial(groups.size() * d, 0.0);
#pragma omp parallel for schedule(static)
  for (std::size_t g = 0; g < groups.size(); ++g) {
    double* out = partial.data() + g * d;
    for (std::int64_t i = groups[g].lo; i < groups[g].hi; ++i)
      for (std::size_t k = 0; k < d; ++k) out[k] = op(out[k], f(i, k));
  }
  const std::vector<double> all = where.team.gather_rows(partial.data(), static_cast<std::int64_t>(groups.size()), d);
  std::vector<double> total(d, 0.0);
  for (std::size_t at = 0; at < all.size(); at += d)
    for (std::size_t k = 0; k < d; ++k) total[k] = op(total[k], all[at + k]);
  return total;
}

template <class F>
std::vector<double> column_sums(const MatrixView& X, const Rows& where, F f) {
  return column_fold(X, where, f, [](double a, double b) { return a + b; });
}

/// The binary exponent e_k of each column with max |x_ik| < 2^e_k (0 for an all-zero
/// column): the moments are taken of u = x 2^-e, |u| < 1, so that squares neither overflow
/// (|x| ~ 1e200) nor underflow (|x| ~ 1e-300).  A power of two scales exactly.
std::vector<int> column_exponents(const MatrixView& X, const Rows& where) {
  const std::vector<double> largest = column_fold(
      X, where, [&](std::int64_t i, std::size_t k) { return std::fabs(value_at(X, i, static_cast<std::int64_t>(k))); },
      [](double a, double b) { return std::max(a, b); });
  const auto d = static_cast<std::size_t>(X.cols);
  std::vector<int> e(d, 0);
  for (std::size_t k = 0; k < d; ++k) {
    const double m = largest[k];
    if (m > 0.0 && std::isfinite(m)) std::frexp(m, &e[k]);  // m = f 2^e, f in [0.5, 1)
  }
  return e;
}

/// S1 = sum z and S2 = sum z^2 over rows [lo, hi) of X, z = x_ik - shift_k, into \p s1 and
/// \p s2 (d values each, 0 on entry): each column summed in row order from 0, whatever the
/// layout, so the same bits.  (Compute-bound at ~1.5 cycles an element in the baseline
/// build; blocking the row-major columns by 8 to keep the sums in registers measured the
/// same, bench/results/gram-standardize-weighted-cpu-vm-2026-12-02.md.)
template <class T>
void add_shifted_sums(const MatrixView& X, std::int64_t lo, std::int64_t hi, const double* shift, double* __restrict s1,
                      double* __restrict s2) {
  const T* x = static_cast<const T*>(X.data);
  const std::int64_t d = X.cols;
  if (X.layout == Layout::row_major) {
    for (std::int64_t i = lo; i < hi; ++i) {
      const T* row = x + i * X.stride;
      for (std::int64_t k = 0; k < d; ++k) {
        const double z = static_cast<double>(row[k]) - shift[k];
        s1[k] += z;
        s2[k] += z * z;
      }
    }
    return;
  }
  for (std::int64_t k = 0; k < d; ++k) {
    const T* col = x + k * X.stride;
    double a = 0.0, b = 0.0;
    for (std::int64_t i = lo; i < hi; ++i) {
      const double z = static_cast<double>(col[i]) - shift[k];
      a += z;
      b += z * z;
    }
    s1[k] = a;
    s2[k] = b;
  }
}

/// The same for y, one value each.
void add_shifted_sums(const VectorView& y, std::int64_t lo, std::int64_t hi, double shift, double* s1, double* s2) {
  for (std::int64_t i = lo; i < hi; ++i) {
    const double z = value_at(y, i) - shift;
    *s1 += z;
    *s2 += z * z;
  }
}

// A column whose spread is within this many float64 ulps of its mean is constant: each value
// carries up to half an ulp of representation error and the mean about one more, so a
// smaller spread is rounding, not data, and standardising it would blow that rounding up by
// 1 / (kConstantUlps eps) ~ 1e15 into a unit-variance feature with a meaningless weight.
constexpr double kConstantUlps = 4.0;

template <class T>
std::vector<T> standardized_copy(const MatrixView& X, const ColumnScaling& cs) {
  const auto d = static_cast<std::size_t>(X.cols);
  // (x - mu) / s computed as (x 2^-e - mu 2^-e) / (s 2^-e): the same value, without the
  // overflow of x - mu for values near the largest double.
  std::vector<double> mean_u(d), scale_u(d);
  for (std::size_t k = 0; k < d; ++k) {
    mean_u[k] = std::ldexp(cs.mean[k], -cs.exponent[k]);
    scale_u[k] = std::ldexp(cs.scale[k], -cs.exponent[k]);
  }
  std::vector<T> out(static_cast<std::size_t>(X.rows) * d);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < X.rows; ++i)
    for (std::size_t k = 0; k < d; ++k) {
      const double u = std::ldexp(value_at(X, i, static_cast<std::int64_t>(k)), -cs.exponent[k]);
      out[static_cast<std::size_t>(i) * d + k] = cs.constant[k] ? T(0) : static_cast<T>((u - mean_u[k]) / scale_u[k]);
    }
  return out;
}

}  // namespace

ColumnScaling column_scaling(const MatrixView& X, bool center, const RowShare& share, const Team& team) {
  const Rows where{share, team};
  const auto n = static_cast<double>(where.total(X));
  const auto d = static_cast<std::size_t>(X.cols);
  ColumnScaling cs;
  cs.exponent = column_exponents(X, where);
  const std::vector<int>& e = cs.exponent;
  auto u = [&](std::int64_t i, std::size_t k) { return std::ldexp(value_at(X, i, static_cast<std::int64_t>(k)), -e[k]); };
  cs.mean.assign(d, 0.0);
  cs.scale.assign(d, 1.0);
  cs.constant.assign(d, 0);
  if (!center) {
    // Root mean square: zero only for an all-zero column, which gets scale 1 and weight 0.
    const std::vector<double> sq = column_sums(X, where, [&](std::int64_t i, std::size_t k) { return u(i, k) * u(i, k); });
    for (std::size_t k = 0; k < d; ++k) {
      const double rms = std::sqrt(sq[k] / n);
      if (rms == 0.0)  // not for NaN: non-finite data must reach the fit, which refuses it
        cs.constant[k] = 1;
      else
        cs.scale[k] = std::ldexp(rms, e[k]);
    }
    return cs;
  }
  // The mean as first value + mean of the differences from it: a constant column gets its
  // value back exactly (a plain sum / n of ten cells of 0.1 does not).
  std::vector<double> first(d);
  if (X.rows > 0)
    for (std::size_t k = 0; k < d; ++k) first[k] = u(0, k);
  // Across processes: the first row of the fit, that of the first process with rows.
  const std::vector<double> firsts = team.gather_rows(first.data(), X.rows > 0 ? 1 : 0, d);
  std::copy(firsts.begin(), firsts.begin() + static_cast<std::ptrdiff_t>(d), first.begin());
  std::vector<double> mean_u = column_sums(X, where, [&](std::int64_t i, std::size_t k) { return u(i, k) - first[k]; });
  for (std::size_t k = 0; k < d; ++k) mean_u[k] = first[k] + mean_u[k] / n;
  // Two passes (sum of squared deviations), not E[x^2] - E[x]^2, which cancels badly.
  const std::vector<double> ss = column_sums(X, where, [&](std::int64_t i, std::size_t k) {
    const double dev = u(i, k) - mean_u[k];
    return dev * dev;
  });
  const double eps = std::numeric_limits<double>::epsilon();
  for (std::size_t k = 0; k < d; ++k) {
    const double sd_u = std::sqrt(ss[k] / n);
    cs.mean[k] = std::ldexp(mean_u[k], e[k]);
    if (sd_u <= kConstantUlps * eps * std::fabs(mean_u[k]))  // false for NaN: refused later
      cs.constant[k] = 1;  // carried by the intercept: left unscaled, z = 0, weight 0
    else
      cs.scale[k] = std::ldexp(sd_u, e[k]);
  }
  return cs;
}

void column_moments(const MatrixView& X, bool center, std::vector<double>& mean, std::vector<double>& scale,
                    std::vector<char>* constant) {
  ColumnScaling cs = column_scaling(X, center);
  mean = std::move(cs.mean);
  scale = std::move(cs.scale);
  if (constant) *constant = std::move(cs.constant);
}

void column_moments(const MatrixView& X, std::vector<double>& mean, std::vector<double>& scale) {
  column_moments(X, true, mean, scale, nullptr);
}

GramMoments unweighted_column_moments(const MatrixView& X, const VectorView& y, const double* shift,
                                      const RowShare& share, const Team& team) {
  const Rows where{share, team};
  const auto m = static_cast<std::size_t>(X.cols + 1);
  const ChunkPlan plan = plan_chunks(where.total(X), X.cols);
  std::vector<RowGroup> groups;
  cut_into_chunks(0, X.rows, share.first, plan.rows_per_chunk, groups);
  // Per chunk: S1 of the d + 1 columns, then their S2.
  std::vector<double> partial(groups.size() * 2 * m, 0.0);
#pragma omp parallel for schedule(static)
  for (std::size_t g = 0; g < groups.size(); ++g) {
    double* s = partial.data() + g * 2 * m;
    if (X.dtype == DType::float32)
      add_shifted_sums<float>(X, groups[g].lo, groups[g].hi, shift, s, s + m);
    else
      add_shifted_sums<double>(X, groups[g].lo, groups[g].hi, shift, s, s + m);
    add_shifted_sums(y, groups[g].lo, groups[g].hi, shift[m - 1], s + m - 1, s + 2 * m - 1);
  }
  const std::vector<double> all = team.gather_rows(partial.data(), static_cast<std::int64_t>(groups.size()), 2 * m);
  std::vector<double> sums(2 * m, 0.0);
  for (std::size_t at = 0; at < all.size(); at += 2 * m)
    for (std::size_t k = 0; k < 2 * m; ++k) sums[k] += all[at + k];
  // As gram_moments: mean = shift + S1 / n, C_kk = S2 - S1 (S1 / n).
  GramMoments g;
  g.weight = static_cast<double>(where.total(X));
  g.mean.assign(m, 0.0);
  g.C.assign(m * m, 0.0);
  if (g.weight == 0.0) return g;
  for (std::size_t k = 0; k < m; ++k) {
    g.mean[k] = sums[k] / g.weight;
    g.C[k * m + k] = sums[m + k] - sums[k] * g.mean[k];
    g.mean[k] += shift[k];
  }
  return g;
}

bool gram_column_scaling(const GramMoments& all, bool center, ColumnScaling& cs) {
  const std::size_t m = all.mean.size(), d = m - 1;
  const double n = all.weight, eps = std::numeric_limits<double>::epsilon();
  cs.mean.assign(d, 0.0);
  cs.scale.assign(d, 1.0);
  cs.constant.assign(d, 0);
  cs.exponent.clear();
  // sd >= 2^-450: the sums of squares of the column are >= n 2^-900, so what underflowed in
  // the pass (at most 2^-1074 a product) is 2^-174 of them.  |mean| >= 2^-400: an sd below
  // 2^-450 is then below 4 eps |mean| = 2^-450, whatever underflow hid, so the column is
  // constant by the rule below.  Anything else could be an underflowed column.
  const double tiny_sd = std::ldexp(1.0, -450), tiny_mean = std::ldexp(1.0, -400);
  for (std::size_t k = 0; k < m; ++k) {
    const double c = all.C[k * m + k];
    const double sd = std::sqrt((c < 0.0 ? 0.0 : c) / n);  // a constant column may round below 0
    const double mean = all.mean[k];
    if (!std::isfinite(sd) || !std::isfinite(mean) || !(sd >= tiny_sd || std::fabs(mean) >= tiny_mean)) return false;
    if (k == d) break;  // y: only checked
    if (!center) {
      cs.scale[k] = std::hypot(sd, mean);  // sqrt(mean x^2) = sqrt(sd^2 + mean^2), without overflow
    } else {
      cs.mean[k] = mean;
      if (sd <= kConstantUlps * eps * std::fabs(mean))
        cs.constant[k] = 1;  // as column_scaling: z = 0, weight 0, scale 1
      else
        cs.scale[k] = sd;
    }
  }
  return true;
}

void standardize_moments(GramMoments& g, const ColumnScaling& cs) {
  const std::size_t m = g.mean.size(), d = m - 1;
  if (g.weight == 0.0) return;  // no rows: zeros stay zeros
  for (std::size_t k = 0; k < d; ++k)
    g.mean[k] = cs.constant[k] ? 0.0 : (g.mean[k] - cs.mean[k]) / cs.scale[k];
  // z_k = (x_k - mu_k) / s_k (0 for a constant column); y unchanged.  C_jk / (s_j s_k) in
  // long double, rounded once to float64 (nor can s_j s_k overflow there), and written to
  // both halves, so C stays exactly symmetric.
  using Wide = long double;
  auto scale = [&](std::size_t k) { return k == d ? Wide{1} : static_cast<Wide>(cs.scale[k]); };
  auto zero = [&](std::size_t k) { return k < d && cs.constant[k] != 0; };
  for (std::size_t j = 0; j < m; ++j)
    for (std::size_t k = j; k < m; ++k) {
      const double c = zero(j) || zero(k) ? 0.0 : static_cast<double>(g.C[j * m + k] / (scale(j) * scale(k)));
      g.C[j * m + k] = g.C[k * m + j] = c;
    }
}

void standardized_start(const FitOptions& given, const ColumnScaling& cs, FitOptions& o) {
  if (given.init_weights.empty()) return;
  o.init_bias = given.init_bias;
  o.init_weights.resize(given.init_weights.size());
  for (std::size_t k = 0; k < given.init_weights.size(); ++k) {
    // A constant column's share of the warm start moves into the bias (with an intercept
    // it is w_k mu_k; an all-zero column without one contributes nothing).
    o.init_weights[k] = cs.constant[k] ? 0.0 : given.init_weights[k] * cs.scale[k];
    o.init_bias += given.init_weights[k] * cs.mean[k];
  }
}

// w_k = w'_k / s_k, b = b' - sum_k w_k mu_k; a constant column's weight is 0 (its z is 0,
// so its w' never leaves the 0 it starts from).
void to_original(const ColumnScaling& cs, const std::vector<double>& ws, double bs, std::vector<double>& w, double& b) {
  const std::size_t d = cs.scale.size();
  w.resize(d);
  b = bs;
  for (std::size_t k = 0; k < d; ++k) {
    w[k] = cs.constant[k] ? 0.0 : ws[k] / cs.scale[k];
    b -= w[k] * cs.mean[k];
  }
}

namespace {

/// A fit in standardised coordinates, \p run, given options whose warm start and per-epoch
/// reports it maps between the parametrisations with \p cs, and its model mapped back.
/// \p cs may be filled by \p run itself (the Gram path), before any report and after the
/// warm start is read: then \p map_start is false and the trainer maps it.
template <class Run>
FitResult standardized_fit(const ColumnScaling& cs, const FitOptions& options, bool map_start, Run run) {
  // o.standardize stays set: fit_unscaled ignores it, and a checkpoint's option signature
  // must tell a standardised run from a raw one.
  FitOptions o = options;
  if (map_start) standardized_start(options, cs, o);  // warm start given in original units
  // The mapped weights live as long as the fit: the callbacks run inside it.
  std::vector<double> w_epoch, w_step;
  if (options.on_epoch) {
    o.on_epoch = [&](const EpochReport& r) {
      EpochReport mapped = r;
      to_original(cs, *r.weights, r.bias, w_epoch, mapped.bias);
      mapped.weights = &w_epoch;
      return options.on_epoch(mapped);
    };
  }
  if (options.on_step) {
    o.on_step = [&](const StepReport& r) {
      StepReport mapped = r;
      to_original(cs, *r.weights, r.bias, w_step, mapped.bias);
      mapped.weights = &w_step;
      options.on_step(mapped);
    };
  }
  FitResult res = run(o);
  std::vector<double> w;
  double b = 0.0;
  to_original(cs, res.weights, res.bias, w, b);
  res.weights = std::move(w);
  res.bias = b;
  res.message += std::string(res.message.empty() ? "" : " ") +
                 "Fitted on standardised features; the model is in original units.";
  return res;
}

}  // namespace

FitResult fit_standardized(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                           const FitOptions& options, Team& team) {
  const RowShare share = team.share(X.rows);
  bool from_gram = runs_gram(options, share.total, X.cols);
  // A resume takes the path whose data its checkpoint fingerprinted: one of the copy (a
  // residual fit's, or one written before this path) resumes on the copy.
  if (from_gram && options.resume && options.resume->data_fingerprint != data_fingerprint(X, y, sample_weight, share, team))
    from_gram = false;
  if (from_gram) {
    ColumnScaling cs;
    try {
      return standardized_fit(cs, options, false, [&](const FitOptions& o) {
        return Trainer(X, y, sample_weight, o, team, &cs).run();
      });
    } catch (const GramScalingUnusable&) {
      // Columns the sums cannot scale safely (backend/gram.hpp squares them unscaled): below.
    }
  }
  return fit_standardized_copy(X, y, sample_weight, options, team);
}

FitResult fit_standardized_copy(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                                const FitOptions& options, Team& team) {
  const ColumnScaling cs = column_scaling(X, options.fit_intercept, team.share(X.rows), team);
  std::vector<float> z32;
  std::vector<double> z64;
  MatrixView Z;
  if (X.dtype == DType::float32) {
    z32 = standardized_copy<float>(X, cs);
    Z = make_matrix_view(z32.data(), X.rows, X.cols);
  } else {
    z64 = standardized_copy<double>(X, cs);
    Z = make_matrix_view(z64.data(), X.rows, X.cols);
  }
  return standardized_fit(cs, options, true, [&](const FitOptions& o) { return fit_unscaled(Z, y, sample_weight, o, team); });
}

}  // namespace steepest::detail
