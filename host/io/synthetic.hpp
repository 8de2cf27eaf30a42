// Synthetic regression data with a planted solution, for the demo, tests and benchmarks.
#pragma once

#include <cstdint>
#include <vector>

#include "steepest/data.hpp"

namespace steepest::io {

struct SyntheticSpec {
  std::int64_t rows = 1'000'000;
  std::int64_t cols = 8;
  double noise = 0.1;         ///< standard deviation of the Gaussian noise added to y
  std::uint64_t seed = 42;
  Layout layout = Layout::row_major;
};

/// y = X w* + b* + noise, features uniform in [-1, 1), float64.
struct SyntheticData {
  std::vector<double> X;
  std::vector<double> y;
  std::vector<double> weights;  ///< planted w*
  double bias = 0.0;            ///< planted b*
  SyntheticSpec spec;

  MatrixView x_view() const {
    return make_matrix_view(X.data(), spec.rows, spec.cols, spec.layout);
  }
  VectorView y_view() const { return make_vector_view(y.data(), spec.rows); }
};

/// Deterministic for a given spec (steepest's own generator, not <random>).
SyntheticData make_synthetic(const SyntheticSpec& spec);

}  // namespace steepest::io
