// Internal: the spectrum of the objective's Hessian and what it decides — both extreme
// eigenvalues by Lanczos on the backend's own passes (or on the Gram sums, where a
// product costs no pass), the optimizer parameters of a quadratic with that spectrum, and
// how many epochs a fit needs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "steepest/options.hpp"

namespace steepest::detail {

/// The extreme eigenvalues of H = 2/W [X 1]^T W [X 1] + 2 l2 diag(1..1, 0) (the objective's
/// Hessian; without the column of ones when !intercept).
struct Spectrum {
  double L = 0.0;      ///< largest eigenvalue; +inf when it overflows float64
  double mu = 0.0;     ///< smallest; <= 0 when H is singular to the precision of the products
  double kappa = 0.0;  ///< L / mu; +inf when mu <= 0
  std::int64_t products = 0;  ///< Hessian-vector products taken (passes on a data backend)
};

/// Lanczos with full reorthogonalisation from a fixed pseudo-random start, until both
/// extreme Ritz values are certain (residual bounds: 1e-9 relative for L, 1e-6 for mu) or
/// the Krylov space is all of R^m (at most m = d + intercept products, then exact up to
/// the products' rounding).  Leaves arbitrary parameters in \p be.
Spectrum estimate_spectrum(Backend& be, bool intercept, double l2);

/// The eigenvalues of the symmetric tridiagonal matrix with diagonal \p diag and
/// off-diagonal \p off (off[i] couples i and i + 1; off.size() == diag.size() - 1), in
/// ascending order, and the last component of each unit eigenvector (implicit QL with
/// Wilkinson shifts, only the last row of the eigenvectors accumulated).
struct TridiagonalEigen {
  std::vector<double> values;
  std::vector<double> last;
};
TridiagonalEigen tridiagonal_eigen(std::vector<double> diag, std::vector<double> off);

/// The step and momentum that minimise the worst contraction of a quadratic whose Hessian
/// has eigenvalues in [mu, L]: heavy ball alpha = 4 / (sqrt L + sqrt mu)^2,
/// beta = ((sqrt kappa - 1) / (sqrt kappa + 1))^2 (Polyak 1964); Nesterov alpha = 1 / L,
/// beta = (sqrt kappa - 1) / (sqrt kappa + 1) (Nesterov 2004, constant step scheme III).
/// \p optimizer is momentum or nesterov; mu > 0.
struct Tuning {
  double learning_rate = 0.0;
  double momentum = 0.0;
};
Tuning spectral_tuning(Optimizer optimizer, double L, double mu);

/// The worst contraction factor per step of the error on a quadratic with eigenvalues in
/// [mu, L], for gd, momentum (heavy ball) or nesterov (PyTorch's forms: the characteristic
/// polynomials z^2 - (1 + beta - alpha l) z + beta and z^2 - (1 + beta)(1 - alpha l) z +
/// beta (1 - alpha l)), over 257 log-spaced eigenvalues l including both ends.  >= 1 when
/// the iteration does not converge on every direction.
double contraction(Optimizer optimizer, double lr, double momentum, double mu, double L);

/// Epochs for a full-batch fit to shrink its error by \p factor (< 1) on every eigen-
/// direction of [mu, L]: the least k with |M(l)^k| <= factor over the grid of contraction(),
/// M(l) the step's 2x2 matrix on (error, lr x velocity), so the momentum's transient growth
/// counts, not only its asymptotic rate; -1 when some direction does not contract.
std::int64_t expected_epochs(Optimizer optimizer, double lr, double momentum, double mu, double L, double factor);

/// Significant digits the data can give the parameters in float64: -log10(kappa eps64)
/// (the conditioning of the normal equations that gradient descent solves).
double certifiable_digits(double kappa);

/// Below this many certifiable digits (kappa eps64 > 0.01) a fit certifies nothing: the
/// spectrum's parameters are refused and "converged" becomes ill_conditioned.  Two, not
/// one: Lanczos sees mu through products rounded at ~c eps64 L, so an estimate this close
/// to the rounding may be a far too small kappa (Filip: estimated 3e14, its exact kappa is
/// larger).
constexpr double kMinCertifiableDigits = 2.0;

}  // namespace steepest::detail
