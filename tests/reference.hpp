// Independent references for the tests: naive loops in long double over plain arrays,
// written without any steepest code, and a least-squares solver (normal equations in long
// double, Gaussian elimination with partial pivoting).  Slow and obvious on purpose.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace ref {

/// A dense problem stored row-major in float64, with helpers to lay it out other ways.
struct Problem {
  std::int64_t n = 0, d = 0;
  std::vector<double> X;  // row-major n x d
  std::vector<double> y;
  std::vector<double> w_true;
  double b_true = 0.0;

  double x(std::int64_t i, std::int64_t k) const { return X[static_cast<std::size_t>(i * d + k)]; }

  std::vector<double> col_major() const {
    std::vector<double> out(X.size());
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t k = 0; k < d; ++k) out[static_cast<std::size_t>(k * n + i)] = x(i, k);
    return out;
  }
};

/// Random features in [-1, 1) (optionally scaled per column), a planted (w, b), Gaussian noise.
inline Problem planted(std::int64_t n, std::int64_t d, unsigned seed, double noise = 0.05) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::normal_distribution<double> e(0.0, 1.0);
  Problem p;
  p.n = n;
  p.d = d;
  p.w_true.resize(static_cast<std::size_t>(d));
  for (auto& w : p.w_true) w = 2.0 * u(gen);
  p.b_true = u(gen);
  p.X.resize(static_cast<std::size_t>(n * d));
  p.y.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    double yi = p.b_true;
    for (std::int64_t k = 0; k < d; ++k) {
      const double v = u(gen);
      p.X[static_cast<std::size_t>(i * d + k)] = v;
      yi += v * p.w_true[static_cast<std::size_t>(k)];
    }
    p.y[static_cast<std::size_t>(i)] = yi + noise * e(gen);
  }
  return p;
}

struct LossGrad {
  long double mse = 0;
  std::vector<long double> gw;
  long double gb = 0;
};

/// MSE and gradient over the rows listed in \p rows (all rows when empty).
inline LossGrad loss_grad(const Problem& p, const std::vector<double>& w, double b,
                          const std::vector<std::int64_t>& rows = {}) {
  LossGrad out;
  out.gw.assign(static_cast<std::size_t>(p.d), 0.0L);
  const std::int64_t m = rows.empty() ? p.n : static_cast<std::int64_t>(rows.size());
  for (std::int64_t t = 0; t < m; ++t) {
    const std::int64_t i = rows.empty() ? t : rows[static_cast<std::size_t>(t)];
    long double r = b;
    for (std::int64_t k = 0; k < p.d; ++k) r += static_cast<long double>(p.x(i, k)) * w[static_cast<std::size_t>(k)];
    r -= p.y[static_cast<std::size_t>(i)];
    out.mse += r * r;
    for (std::int64_t k = 0; k < p.d; ++k) out.gw[static_cast<std::size_t>(k)] += r * p.x(i, k);
    out.gb += r;
  }
  out.mse /= m;
  for (auto& g : out.gw) g *= 2.0L / m;
  out.gb *= 2.0L / m;
  return out;
}

/// The weighted loss over a batch, with its two sums (what a backend's running sums add).
struct WeightedLossGrad {
  LossGrad lg;
  long double sse = 0;    ///< sum w_i r_i^2
  long double total = 0;  ///< W = sum w_i
};

/// Weighted MSE and gradient over the rows listed in \p rows (all rows when empty), with
/// \p weights[i] the weight of row i: loss = sum w r^2 / W, grad = (2/W) sum w r (x, 1);
/// all zero when W = 0.
inline WeightedLossGrad weighted_loss_grad(const Problem& p, const std::vector<double>& w, double b,
                                           const std::vector<double>& weights,
                                           const std::vector<std::int64_t>& rows = {}) {
  WeightedLossGrad out;
  out.lg.gw.assign(static_cast<std::size_t>(p.d), 0.0L);
  const std::int64_t m = rows.empty() ? p.n : static_cast<std::int64_t>(rows.size());
  for (std::int64_t t = 0; t < m; ++t) {
    const std::int64_t i = rows.empty() ? t : rows[static_cast<std::size_t>(t)];
    const long double wi = weights[static_cast<std::size_t>(i)];
    long double r = b;
    for (std::int64_t k = 0; k < p.d; ++k) r += static_cast<long double>(p.x(i, k)) * w[static_cast<std::size_t>(k)];
    r -= p.y[static_cast<std::size_t>(i)];
    out.sse += wi * r * r;
    out.total += wi;
    for (std::int64_t k = 0; k < p.d; ++k) out.lg.gw[static_cast<std::size_t>(k)] += wi * r * p.x(i, k);
    out.lg.gb += wi * r;
  }
  if (out.total == 0) {
    for (auto& g : out.lg.gw) g = 0;
    out.lg.gb = 0;
    return out;
  }
  out.lg.mse = out.sse / out.total;
  for (auto& g : out.lg.gw) g *= 2.0L / out.total;
  out.lg.gb *= 2.0L / out.total;
  return out;
}

/// Least-squares (w, b) minimising the MSE; with_intercept=false fixes b = 0; with
/// \p sample_weight the weighted MSE sum s_i r_i^2 / sum s_i.  Normal equations in long
/// double, Gauss-Jordan with partial pivoting.
inline std::pair<std::vector<double>, double> least_squares(const Problem& p, bool with_intercept = true,
                                                            const std::vector<double>* sample_weight = nullptr) {
  const std::int64_t m = p.d + (with_intercept ? 1 : 0);
  std::vector<std::vector<long double>> A(static_cast<std::size_t>(m), std::vector<long double>(static_cast<std::size_t>(m + 1), 0.0L));
  auto feat = [&](std::int64_t i, std::int64_t k) -> long double { return k < p.d ? p.x(i, k) : 1.0L; };
  for (std::int64_t i = 0; i < p.n; ++i) {
    const long double s = sample_weight ? (*sample_weight)[static_cast<std::size_t>(i)] : 1.0L;
    for (std::int64_t a = 0; a < m; ++a) {
      for (std::int64_t c = 0; c < m; ++c) A[a][c] += s * feat(i, a) * feat(i, c);
      A[a][m] += s * feat(i, a) * p.y[static_cast<std::size_t>(i)];
    }
  }
  for (std::int64_t c = 0; c < m; ++c) {
    std::int64_t piv = c;
    for (std::int64_t r = c + 1; r < m; ++r)
      if (std::fabs(A[r][c]) > std::fabs(A[piv][c])) piv = r;
    std::swap(A[c], A[piv]);
    for (std::int64_t r = 0; r < m; ++r) {
      if (r == c) continue;
      const long double f = A[r][c] / A[c][c];
      for (std::int64_t k = c; k <= m; ++k) A[r][k] -= f * A[c][k];
    }
  }
  std::vector<double> w(static_cast<std::size_t>(p.d));
  for (std::int64_t k = 0; k < p.d; ++k) w[k] = static_cast<double>(A[k][m] / A[k][k]);
  const double b = with_intercept ? static_cast<double>(A[p.d][m] / A[p.d][p.d]) : 0.0;
  return {w, b};
}

/// Eigen-decomposition of the symmetric n x n matrix \p A (row-major) by cyclic Jacobi
/// rotations in long double: the eigenvalues ascending, and in \p vectors (when given) the
/// unit eigenvectors as its columns in the same order (row-major n x n).
inline std::vector<long double> symmetric_eigen(std::vector<long double> A, std::size_t n,
                                                std::vector<long double>* vectors = nullptr) {
  std::vector<long double> V(n * n, 0.0L);
  for (std::size_t i = 0; i < n; ++i) V[i * n + i] = 1.0L;
  auto a = [&](std::size_t i, std::size_t j) -> long double& { return A[i * n + j]; };
  for (int sweep = 0; sweep < 100; ++sweep) {
    long double off = 0.0L, diag = 0.0L;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) (i == j ? diag : off) += a(i, j) * a(i, j);
    if (off <= 1e-40L * diag || off == 0.0L) break;
    for (std::size_t p = 0; p + 1 < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) {
        if (a(p, q) == 0.0L) continue;
        const long double theta = (a(q, q) - a(p, p)) / (2.0L * a(p, q));
        const long double t = (theta >= 0 ? 1.0L : -1.0L) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0L));
        const long double c = 1.0L / std::sqrt(t * t + 1.0L), s = t * c;
        for (std::size_t k = 0; k < n; ++k) {  // A <- A J (columns p, q)
          const long double akp = a(k, p), akq = a(k, q);
          a(k, p) = c * akp - s * akq;
          a(k, q) = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {  // A <- J^T A (rows p, q)
          const long double apk = a(p, k), aqk = a(q, k);
          a(p, k) = c * apk - s * aqk;
          a(q, k) = s * apk + c * aqk;
        }
        for (std::size_t k = 0; k < n; ++k) {
          const long double vkp = V[k * n + p], vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  std::vector<std::size_t> idx(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](std::size_t x, std::size_t y) { return a(x, x) < a(y, y); });
  std::vector<long double> values(n);
  for (std::size_t k = 0; k < n; ++k) values[k] = a(idx[k], idx[k]);
  if (vectors) {
    vectors->assign(n * n, 0.0L);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t k = 0; k < n; ++k) (*vectors)[r * n + k] = V[r * n + idx[k]];
  }
  return values;
}

/// The objective's Hessian 2/n [Z 1]^T [Z 1] + 2 l2 (on the weights) in long double, of the
/// row-major n x d features \p X as given, or standardised as steepest does (population
/// mean and sd; without an intercept scaled by the root mean square, not centred).
inline std::vector<long double> hessian(const std::vector<double>& X, std::size_t n, std::size_t d, bool standardize,
                                        bool intercept, long double l2 = 0.0L) {
  std::vector<long double> Z(X.begin(), X.end());
  if (standardize)
    for (std::size_t k = 0; k < d; ++k) {
      long double mean = 0.0L, ss = 0.0L;
      for (std::size_t i = 0; i < n; ++i) mean += Z[i * d + k];
      mean = intercept ? mean / static_cast<long double>(n) : 0.0L;
      for (std::size_t i = 0; i < n; ++i) ss += (Z[i * d + k] - mean) * (Z[i * d + k] - mean);
      const long double sd = std::sqrt(ss / static_cast<long double>(n));
      for (std::size_t i = 0; i < n; ++i) Z[i * d + k] = (Z[i * d + k] - mean) / sd;
    }
  const std::size_t m = d + (intercept ? 1 : 0);
  std::vector<long double> H(m * m, 0.0L);
  auto z = [&](std::size_t i, std::size_t k) { return k < d ? Z[i * d + k] : 1.0L; };
  for (std::size_t a = 0; a < m; ++a)
    for (std::size_t b = 0; b < m; ++b) {
      long double s = 0.0L;
      for (std::size_t i = 0; i < n; ++i) s += z(i, a) * z(i, b);
      H[a * m + b] = 2.0L * s / static_cast<long double>(n) + (a == b && a < d ? 2.0L * l2 : 0.0L);
    }
  return H;
}

}  // namespace ref
