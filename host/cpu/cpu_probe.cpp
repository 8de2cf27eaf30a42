#include <algorithm>
#include <chrono>
#include <cstring>

#include "backend/device_probe.hpp"

#if defined(STEEPEST_HAVE_OPENMP)
#include <omp.h>
#endif

namespace steepest::detail {

double cpu_read_seconds(const void* data, std::int64_t bytes, int threads) {
  const auto* p = static_cast<const unsigned char*>(data);
  const std::int64_t words = bytes / 8;
#if defined(STEEPEST_HAVE_OPENMP)
  const int t = threads > 0 ? threads : omp_get_max_threads();
#else
  const int t = 1;
  (void)threads;
#endif
  static volatile std::uint64_t sink = 0;
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t acc = 0;
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for simd reduction(+ : acc) schedule(static) num_threads(t)
#endif
  for (std::int64_t i = 0; i < words; ++i) {
    std::uint64_t w;
    std::memcpy(&w, p + i * 8, 8);  // unaligned-safe load, compiled to a plain load
    acc += w;
  }
  sink = sink + acc;
  (void)t;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double cpu_read_bandwidth(const void* data, std::int64_t bytes, int threads) {
  double best = 0.0;
  for (int rep = 0; rep < 6; ++rep) {  // rep 0 is the warm-up
    const double secs = cpu_read_seconds(data, bytes, threads);
    if (rep > 0 && secs > 0) best = std::max(best, static_cast<double>(bytes / 8 * 8) / secs / 1e9);
  }
  return best;
}

}  // namespace steepest::detail
