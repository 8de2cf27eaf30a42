#include "io/least_squares.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "steepest/error.hpp"
#include "steepest/fit.hpp"
#include "backend/view_access.hpp"

namespace steepest::io {
using detail::value_at;

LeastSquares least_squares(const MatrixView& X, const VectorView& y, bool fit_intercept) {
  const std::int64_t d = X.cols, m = d + (fit_intercept ? 1 : 0);
  const auto mm = static_cast<std::size_t>(m);
  std::vector<double> G(mm * mm, 0.0), c(mm, 0.0), row(mm, 1.0);
  for (std::int64_t i = 0; i < X.rows; ++i) {
    for (std::int64_t k = 0; k < d; ++k) row[static_cast<std::size_t>(k)] = value_at(X, i, k);
    const double yi = value_at(y, i);
    for (std::size_t a = 0; a < mm; ++a) {
      const double ra = row[a];
      for (std::size_t b = a; b < mm; ++b) G[a * mm + b] += ra * row[b];
      c[a] += ra * yi;
    }
  }
  // Solve G z = c (G symmetric: fill the lower half) by Gauss-Jordan with partial pivoting.
  std::vector<std::vector<long double>> A(mm, std::vector<long double>(mm + 1));
  for (std::size_t a = 0; a < mm; ++a) {
    for (std::size_t b = 0; b < mm; ++b) A[a][b] = a <= b ? G[a * mm + b] : G[b * mm + a];
    A[a][mm] = c[a];
  }
  long double scale = 0.0L;
  for (std::size_t a = 0; a < mm; ++a) scale = std::max(scale, std::fabs(A[a][a]));
  for (std::size_t col = 0; col < mm; ++col) {
    std::size_t piv = col;
    for (std::size_t r = col + 1; r < mm; ++r)
      if (std::fabs(A[r][col]) > std::fabs(A[piv][col])) piv = r;
    // A pivot this small relative to the Gram diagonal means dependent columns.
    if (!(std::fabs(A[piv][col]) > 1e-13L * scale))
      throw InvalidArgument("least squares: the normal equations are singular (dependent columns)");
    std::swap(A[col], A[piv]);
    for (std::size_t r = 0; r < mm; ++r) {
      if (r == col) continue;
      const long double f = A[r][col] / A[col][col];
      for (std::size_t k = col; k <= mm; ++k) A[r][k] -= f * A[col][k];
    }
  }
  LeastSquares out;
  out.weights.resize(static_cast<std::size_t>(d));
  for (std::int64_t k = 0; k < d; ++k)
    out.weights[static_cast<std::size_t>(k)] = static_cast<double>(A[static_cast<std::size_t>(k)][mm] / A[static_cast<std::size_t>(k)][static_cast<std::size_t>(k)]);
  if (fit_intercept) out.bias = static_cast<double>(A[mm - 1][mm] / A[mm - 1][mm - 1]);
  out.mse = score(X, y, out.weights, out.bias).mse;
  return out;
}

}  // namespace steepest::io
