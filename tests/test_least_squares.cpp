// io::least_squares (used by `steepest bench` for time to solution) against the
// independent long-double solver of reference.hpp.
#include <gtest/gtest.h>

#include "io/least_squares.hpp"
#include "reference.hpp"
#include "steepest/error.hpp"

namespace {

TEST(LeastSquares, MatchesTheReferenceSolver) {
  for (unsigned seed : {1u, 2u}) {
    const ref::Problem p = ref::planted(5003, 6, seed);
    const auto X = steepest::make_matrix_view(p.X.data(), p.n, p.d);
    const auto y = steepest::make_vector_view(p.y.data(), p.n);
    const auto got = steepest::io::least_squares(X, y);
    const auto [w, b] = ref::least_squares(p);
    for (std::size_t k = 0; k < w.size(); ++k) EXPECT_NEAR(got.weights[k], w[k], 1e-11);
    EXPECT_NEAR(got.bias, b, 1e-11);
    EXPECT_NEAR(got.mse, static_cast<double>(ref::loss_grad(p, w, b).mse), 1e-14);
    const auto no_b = steepest::io::least_squares(X, y, false);
    const auto [w0, b0] = ref::least_squares(p, false);
    for (std::size_t k = 0; k < w0.size(); ++k) EXPECT_NEAR(no_b.weights[k], w0[k], 1e-11);
    EXPECT_EQ(no_b.bias, 0.0);
  }
}

TEST(LeastSquares, SingularSystemsAreRefused) {
  const std::vector<double> x{1, 1, 2, 2, 3, 3};  // two identical columns
  const std::vector<double> y{1, 2, 3};
  EXPECT_THROW(steepest::io::least_squares(steepest::make_matrix_view(x.data(), 3, 2),
                                           steepest::make_vector_view(y.data(), 3)),
               steepest::InvalidArgument);
}

}  // namespace
