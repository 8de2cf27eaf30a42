#include "train/spectrum.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "train/permutation.hpp"
#include "train/step_size.hpp"

namespace steepest::detail {

namespace {

double dot(const double* a, const double* b, std::size_t m) {
  double s = 0.0;
  for (std::size_t k = 0; k < m; ++k) s += a[k] * b[k];
  return s;
}

/// A unit vector of m components uniform in [-1, 1) before scaling, from a fixed seed: a
/// start with a component along every eigenvector (an all-ones start is orthogonal to
/// some of them for symmetric designs), the same on every platform and process.
std::vector<double> lanczos_start(std::size_t m) {
  SplitMix64 rng(0x6c616e637a6f7321ull);  // "lanczos!"
  std::vector<double> q(m);
  for (double& v : q) v = static_cast<double>(rng.next() >> 11) * 0x1p-52 - 1.0;
  const double norm = norm2(q);
  for (double& v : q) v /= norm;
  return q;
}

}  // namespace

TridiagonalEigen tridiagonal_eigen(std::vector<double> d, std::vector<double> off) {
  const std::size_t n = d.size();
  std::vector<double> e(n, 0.0), z(n, 0.0);
  std::copy(off.begin(), off.end(), e.begin());
  if (n > 0) z[n - 1] = 1.0;  // the last row of the identity; rotations turn it into the eigenvectors'
  const double eps = std::numeric_limits<double>::epsilon();
  for (std::size_t l = 0; l < n; ++l) {
    for (int iteration = 0; iteration < 60; ++iteration) {
      std::size_t m = l;  // the block [l, m] that has not split off yet
      while (m + 1 < n && std::fabs(e[m]) > eps * (std::fabs(d[m]) + std::fabs(d[m + 1]))) ++m;
      if (m == l) break;
      // Wilkinson's shift from the leading 2x2 of the block, then a QL sweep from the
      // bottom of the block up, chasing the bulge with plane rotations.
      double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
      double r = std::hypot(g, 1.0);
      g = d[m] - d[l] + e[l] / (g + std::copysign(r, g));
      double s = 1.0, c = 1.0, p = 0.0;
      bool split = false;
      for (std::size_t i = m; i-- > l;) {
        double f = s * e[i];
        const double b = c * e[i];
        r = std::hypot(f, g);
        e[i + 1] = r;
        if (r == 0.0) {  // an exact split inside the block: deflate there and sweep again
          d[i + 1] -= p;
          e[m] = 0.0;
          split = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2.0 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        f = z[i + 1];
        z[i + 1] = s * z[i] + c * f;
        z[i] = c * z[i] - s * f;
      }
      if (split) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0.0;
    }
  }
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return d[a] < d[b]; });
  TridiagonalEigen out;
  out.values.resize(n);
  out.last.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    out.values[k] = d[idx[k]];
    out.last[k] = z[idx[k]];
  }
  return out;
}

Spectrum estimate_spectrum(Backend& be, bool intercept, double l2) {
  HessianProduct H(be, intercept, l2);
  const std::size_t m = H.size();
  const double inf = std::numeric_limits<double>::infinity();
  Spectrum sp;
  sp.products = 1;  // g(0)
  const double g0_norm = H.gradient_norm();
  if (m == 0) return sp;
  if (!std::isfinite(g0_norm)) {
    sp.L = sp.kappa = inf;
    return sp;
  }

  // H q with s |H q| at least 1e2 |g(0)|: a product that came out smaller is taken again
  // with s = 1e3 |g(0)| / |H q| (the scale only grows, the small directions come late); a
  // scale that overflows falls back to 1.  False: H q is not finite even at s = 1.
  double scale = 1.0;
  std::vector<double> hv(m);
  auto product = [&](const std::vector<double>& q) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      H.apply(q, scale, hv);
      ++sp.products;
      const double norm = norm2(hv);
      if (!std::isfinite(norm)) {
        if (scale == 1.0) return false;
        scale = 1.0;
        continue;
      }
      if (scale * norm >= 1e2 * g0_norm || norm == 0.0) return true;
      scale = 1e3 * g0_norm / norm;
    }
    return true;
  };

  std::vector<double> Q;  // the Lanczos vectors, m values each
  Q.reserve(m * std::min<std::size_t>(m, 64));
  std::vector<double> q = lanczos_start(m), w(m), diag, off;
  double beta = 0.0;
  for (std::size_t k = 0; k < m; ++k) {
    Q.insert(Q.end(), q.begin(), q.end());
    if (!product(q)) {
      sp.L = sp.kappa = inf;
      return sp;
    }
    const double alpha = dot(q.data(), hv.data(), m);
    diag.push_back(alpha);
    // Full reorthogonalisation, twice (classical Gram-Schmidt: "twice is enough"): the
    // three-term recurrence alone loses orthogonality once a Ritz value converges.
    w = hv;
    for (int round = 0; round < 2; ++round)
      for (std::size_t j = 0; j <= k; ++j) {
        const double* qj = Q.data() + j * m;
        const double c = dot(qj, w.data(), m);
        for (std::size_t i = 0; i < m; ++i) w[i] -= c * qj[i];
      }
    beta = norm2(w);
    const TridiagonalEigen T = tridiagonal_eigen(diag, off);
    sp.mu = T.values.front();
    sp.L = T.values.back();
    // |theta - lambda| <= beta |s_last| for each Ritz pair (theta, s).  mu at or below 0:
    // certain once its bound is below 1e-6 L (H is singular to the products' precision).
    const double L_bound = beta * std::fabs(T.last.back());
    const double mu_bound = beta * std::fabs(T.last.front());
    const bool L_done = L_bound <= 1e-9 * std::fabs(sp.L);
    const bool mu_done = mu_bound <= 1e-6 * (sp.mu > 0.0 ? sp.mu : std::fabs(sp.L));
    const bool invariant = beta <= 1e-13 * std::fabs(sp.L);  // the Krylov space is invariant under H
    if ((L_done && mu_done) || invariant || k + 1 == m) break;
    off.push_back(beta);
    for (std::size_t i = 0; i < m; ++i) q[i] = w[i] / beta;
  }
  sp.kappa = sp.mu > 0.0 ? sp.L / sp.mu : inf;
  return sp;
}

Tuning spectral_tuning(Optimizer optimizer, double L, double mu) {
  const double root_kappa = std::sqrt(L / mu);
  const double ratio = (root_kappa - 1.0) / (root_kappa + 1.0);
  if (optimizer == Optimizer::nesterov) return {1.0 / L, ratio};
  const double root_sum = std::sqrt(L) + std::sqrt(mu);
  return {4.0 / (root_sum * root_sum), ratio * ratio};
}

double contraction(Optimizer optimizer, double lr, double momentum, double mu, double L) {
  if (!(mu > 0.0) || !(L >= mu) || !std::isfinite(L)) return 1.0;
  const double beta = optimizer == Optimizer::gd ? 0.0 : momentum;
  double worst = 0.0;
  constexpr int kPoints = 256;
  for (int j = 0; j <= kPoints; ++j) {
    const double lambda = j == kPoints ? L : mu * std::pow(L / mu, static_cast<double>(j) / kPoints);
    const double step = 1.0 - lr * lambda;
    // z^2 - p z + q: heavy ball (gd: beta = 0) or Nesterov.
    const double p = optimizer == Optimizer::nesterov ? (1.0 + beta) * step : beta + step;
    const double q = optimizer == Optimizer::nesterov ? beta * step : beta;
    const double disc = p * p - 4.0 * q;
    const double radius =
        disc < 0.0 ? std::sqrt(q) : 0.5 * std::max(std::fabs(p + std::sqrt(disc)), std::fabs(p - std::sqrt(disc)));
    worst = std::max(worst, radius);
  }
  return worst;
}

namespace {

/// The 2x2 matrix of one step on the eigen-direction of eigenvalue l, acting on the error
/// e and the scaled velocity lr v (PyTorch's forms, v = beta v + g):
///   heavy ball: e' = e - lr (beta v + l e)           nesterov: e' = e - lr (l e + beta v')
struct Step2 {
  double a, b, c, d;
  Step2 operator*(const Step2& o) const {
    return {a * o.a + b * o.c, a * o.b + b * o.d, c * o.a + d * o.c, c * o.b + d * o.d};
  }
  /// The spectral norm: the square root of the largest eigenvalue of M^T M.
  double norm() const {
    const double p = a * a + c * c, q = b * b + d * d, r = a * b + c * d;
    return std::sqrt(0.5 * (p + q) + std::sqrt(0.25 * (p - q) * (p - q) + r * r));
  }
};

Step2 step_matrix(Optimizer optimizer, double lr, double momentum, double lambda) {
  const double beta = optimizer == Optimizer::gd ? 0.0 : momentum, h = lr * lambda;
  if (optimizer == Optimizer::nesterov) return {1.0 - h * (1.0 + beta), -beta * beta, h, beta};
  return {1.0 - h, -beta, h, beta};
}

/// max over the eigenvalue grid of |M(l)^k|.
double worst_power_norm(Optimizer optimizer, double lr, double momentum, double mu, double L, std::int64_t k) {
  constexpr int kPoints = 256;
  double worst = 0.0;
  for (int j = 0; j <= kPoints; ++j) {
    const double lambda = j == kPoints ? L : mu * std::pow(L / mu, static_cast<double>(j) / kPoints);
    Step2 base = step_matrix(optimizer, lr, momentum, lambda), power{1.0, 0.0, 0.0, 1.0};
    for (std::int64_t e = k; e > 0; e >>= 1) {
      if (e & 1) power = power * base;
      base = base * base;
    }
    worst = std::max(worst, power.norm());
  }
  return worst;
}

}  // namespace

std::int64_t expected_epochs(Optimizer optimizer, double lr, double momentum, double mu, double L, double factor) {
  if (!(contraction(optimizer, lr, momentum, mu, L) < 1.0)) return -1;
  // The first power of two that shrinks every direction enough, then bisection below it:
  // the powers' norms fall overall, though not strictly (the momentum's transient).
  std::int64_t hi = 1;
  while (worst_power_norm(optimizer, lr, momentum, mu, L, hi) > factor) {
    if (hi >= (std::int64_t{1} << 61)) return hi;
    hi *= 2;
  }
  std::int64_t lo = hi / 2;
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    (worst_power_norm(optimizer, lr, momentum, mu, L, mid) > factor ? lo : hi) = mid;
  }
  return hi;
}

double certifiable_digits(double kappa) { return -std::log10(kappa * std::numeric_limits<double>::epsilon()); }

}  // namespace steepest::detail
