#include "io/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include "train/permutation.hpp"
#include "steepest/error.hpp"

namespace steepest::io {
namespace {

constexpr std::int64_t kBlockRows = 1 << 14;

/// Uniform in [0, 1) from the top 53 bits.
double unit(detail::SplitMix64& rng) { return static_cast<double>(rng.next() >> 11) * 0x1.0p-53; }

/// Standard normal by Box-Muller (one of the pair; simplicity over speed).
double normal(detail::SplitMix64& rng) {
  const double u1 = 1.0 - unit(rng);  // (0, 1]
  const double u2 = unit(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

/// Below the largest double by more than the rounding of a sum of many terms.
constexpr double kLargestFinite = std::numeric_limits<double>::max() / (1.0 + 1e-6);

void check(const SyntheticSpec& spec) {
  if (spec.rows < 1 || spec.cols < 1) throw InvalidArgument("synthetic data needs rows >= 1 and features >= 1");
  if (!spec.scales.empty() && static_cast<std::int64_t>(spec.scales.size()) != spec.cols)
    throw InvalidArgument("synthetic data: " + std::to_string(spec.scales.size()) + " scales for " +
                          std::to_string(spec.cols) + " features");
  for (double s : spec.scales)
    if (!(s > 0.0) || !std::isfinite(s)) throw InvalidArgument("synthetic data: scales must be finite and > 0");
  if (!(spec.noise >= 0.0) || !std::isfinite(spec.noise))
    throw InvalidArgument("synthetic data: noise must be finite and >= 0");
  if (spec.cols > std::numeric_limits<std::int64_t>::max() / 8 - 1 ||
      spec.rows > std::numeric_limits<std::int64_t>::max() / 8 / (spec.cols + 1))
    throw InvalidArgument("synthetic data: " + std::to_string(spec.rows) + " rows x " + std::to_string(spec.cols) +
                          " features is more values than a file or the memory can hold");
  if (!(largest_value(spec) <= kLargestFinite))
    throw InvalidArgument("synthetic data: scales and noise this large make values overflow to infinity");
}

}  // namespace

double largest_value(const SyntheticSpec& spec) {
  double sum = spec.scales.empty() ? static_cast<double>(spec.cols) : 0.0;
  for (double s : spec.scales) sum += std::abs(s);
  return 1.0 + 2.0 * sum + 8.58 * std::abs(spec.noise);
}

Planted planted_model(const SyntheticSpec& spec) {
  check(spec);
  detail::SplitMix64 rng(spec.seed);
  Planted m;
  m.weights.resize(static_cast<std::size_t>(spec.cols));
  for (double& w : m.weights) w = std::round((4.0 * unit(rng) - 2.0) * 100.0) / 100.0;
  m.bias = std::round((2.0 * unit(rng) - 1.0) * 100.0) / 100.0;
  return m;
}

void synthetic_rows(const SyntheticSpec& spec, const Planted& model, std::int64_t begin,
                    std::int64_t end, double* X, double* y) {
  const auto d = static_cast<std::size_t>(spec.cols);
  for (std::int64_t block = begin / kBlockRows; block * kBlockRows < end; ++block) {
    detail::SplitMix64 rng(detail::epoch_seed(spec.seed, block));
    const std::int64_t first = block * kBlockRows;
    const std::int64_t last = std::min(end, first + kBlockRows);
    for (std::int64_t i = first; i < last; ++i) {
      // Rows of the block before `begin` are drawn but not kept, so the stream stays put.
      const bool keep = i >= begin;
      double* xr = keep ? X + static_cast<std::size_t>(i - begin) * d : nullptr;
      double yi = model.bias;
      for (std::size_t k = 0; k < d; ++k) {
        const double s = spec.scales.empty() ? 1.0 : spec.scales[k];
        const double x = s * (2.0 * unit(rng) - 1.0);
        if (keep) xr[k] = x;
        yi += x * model.weights[k];
      }
      yi += spec.noise * normal(rng);
      if (keep) y[i - begin] = yi;
    }
  }
}

SyntheticData make_synthetic(const SyntheticSpec& spec) {
  const Planted model = planted_model(spec);
  SyntheticData data;
  data.spec = spec;
  data.weights = model.weights;
  data.bias = model.bias;
  const auto n = static_cast<std::size_t>(spec.rows);
  const auto d = static_cast<std::size_t>(spec.cols);
  std::vector<double> rows(n * d);
  data.y.resize(n);
  // Whole blocks per thread: the values do not depend on the thread count.
  const std::int64_t blocks = (spec.rows + kBlockRows - 1) / kBlockRows;
  const auto threads = static_cast<std::int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (std::int64_t t = 0; t < std::min(threads, blocks); ++t)
    pool.emplace_back([&, t] {
      for (std::int64_t b = t; b < blocks; b += threads) {
        const std::int64_t lo = b * kBlockRows, hi = std::min(spec.rows, lo + kBlockRows);
        synthetic_rows(spec, model, lo, hi, rows.data() + static_cast<std::size_t>(lo) * d,
                       data.y.data() + lo);
      }
    });
  for (auto& th : pool) th.join();
  if (spec.layout == Layout::row_major) {
    data.X = std::move(rows);
  } else {
    data.X.resize(n * d);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < d; ++k) data.X[k * n + i] = rows[i * d + k];
  }
  return data;
}

}  // namespace steepest::io
