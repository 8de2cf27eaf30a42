// Synthetic regression data with a planted solution, for `steepest gen`, the demo, tests
// and benchmarks.  Rows are made in blocks with their own generator, so any range of rows
// can be produced alone, in parallel, and always with the same values.
#pragma once

#include <cstdint>
#include <vector>

#include "steepest/data.hpp"

namespace steepest::io {

struct SyntheticSpec {
  std::int64_t rows = 1'000'000;
  std::int64_t cols = 8;
  double noise = 0.1;          ///< standard deviation of the Gaussian noise added to y
  std::uint64_t seed = 42;
  std::vector<double> scales;  ///< feature k is uniform in [-scales[k], scales[k]); empty = 1
  Layout layout = Layout::row_major;
};

/// The planted model: y = X w + b + noise.  Weights are multiples of 0.01 in [-2, 2],
/// the bias one in [-1, 1], drawn from the seed.
struct Planted {
  std::vector<double> weights;
  double bias = 0.0;
};

Planted planted_model(const SyntheticSpec& spec);

/// A bound on |value| of every generated feature and target: |b| <= 1, |w_k| <= 2,
/// |x_k| <= s_k and |noise| <= 8.58 sd (Box-Muller from 53-bit uniforms), so
/// 1 + 2 sum s_k + 8.58 noise (inf when that overflows).
double largest_value(const SyntheticSpec& spec);

/// Rows [begin, end) into X (row-major, (end - begin) x cols) and y.
void synthetic_rows(const SyntheticSpec& spec, const Planted& model, std::int64_t begin,
                    std::int64_t end, double* X, double* y);

/// The whole data set in memory, float64, in spec.layout.
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

SyntheticData make_synthetic(const SyntheticSpec& spec);

}  // namespace steepest::io
