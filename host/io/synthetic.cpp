#include "io/synthetic.hpp"

#include <cmath>

#include "permutation.hpp"

namespace steepest::io {
namespace {

/// Uniform in [0, 1) from the top 53 bits.
double unit(detail::SplitMix64& rng) { return static_cast<double>(rng.next() >> 11) * 0x1.0p-53; }

/// Standard normal by Box-Muller (one of the pair; simplicity over speed).
double normal(detail::SplitMix64& rng) {
  const double u1 = 1.0 - unit(rng);  // (0, 1]
  const double u2 = unit(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace

SyntheticData make_synthetic(const SyntheticSpec& spec) {
  SyntheticData data;
  data.spec = spec;
  const auto n = static_cast<std::size_t>(spec.rows);
  const auto d = static_cast<std::size_t>(spec.cols);
  detail::SplitMix64 rng(spec.seed);
  data.weights.resize(d);
  for (std::size_t k = 0; k < d; ++k) data.weights[k] = std::round((4.0 * unit(rng) - 2.0) * 100.0) / 100.0;
  data.bias = std::round((2.0 * unit(rng) - 1.0) * 100.0) / 100.0;

  data.X.resize(n * d);
  data.y.resize(n);
  const bool row_major = spec.layout == Layout::row_major;
  for (std::size_t i = 0; i < n; ++i) {
    double yi = data.bias;
    for (std::size_t k = 0; k < d; ++k) {
      const double x = 2.0 * unit(rng) - 1.0;
      data.X[row_major ? i * d + k : k * n + i] = x;
      yi += x * data.weights[k];
    }
    data.y[i] = yi + spec.noise * normal(rng);
  }
  return data;
}

}  // namespace steepest::io
