#include <cstdlib>
#include <cstring>

#include "cpu/cpu_chunk.hpp"

namespace steepest::detail {
namespace {

/// Whether the AVX2 kernels run: compiled, supported by this CPU and not turned off by
/// STEEPEST_CPU_KERNELS=baseline (so that both kernels' bits can be checked on one machine).
bool has_avx2() noexcept {
#if defined(STEEPEST_HAVE_AVX2_KERNELS) && (defined(__x86_64__) || defined(__i386__))
  const char* forced = std::getenv("STEEPEST_CPU_KERNELS");
  if (forced != nullptr && std::strcmp(forced, "baseline") == 0) return false;
  return __builtin_cpu_supports("avx2") != 0;
#else
  return false;
#endif
}

}  // namespace

#if !defined(STEEPEST_HAVE_AVX2_KERNELS)
namespace avx2 {
// Not compiled on this target: never selected (has_avx2() is false).
void fused_chunk(const MatrixView& X, const VectorView& y, Params p, const std::int64_t* rows,
                 std::int64_t lo, std::int64_t hi, double* out) {
  baseline::fused_chunk(X, y, p, rows, lo, hi, out);
}
void weighted_chunk(const MatrixView& X, const VectorView& y, const VectorView& weights,
                    Params p, const std::int64_t* rows, std::int64_t lo, std::int64_t hi,
                    double* out) {
  baseline::weighted_chunk(X, y, weights, p, rows, lo, hi, out);
}
void gram_chunk(const MatrixView& X, const VectorView& y, const VectorView& weights, const double* shift,
                const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  baseline::gram_chunk(X, y, weights, shift, rows, lo, hi, out);
}
}  // namespace avx2
#endif

FusedChunkFn best_fused_chunk() noexcept {
  static const FusedChunkFn fn = has_avx2() ? &avx2::fused_chunk : &baseline::fused_chunk;
  return fn;
}

WeightedChunkFn best_weighted_chunk() noexcept {
  static const WeightedChunkFn fn =
      has_avx2() ? &avx2::weighted_chunk : &baseline::weighted_chunk;
  return fn;
}

GramChunkFn best_gram_chunk() noexcept {
  static const GramChunkFn fn = has_avx2() ? &avx2::gram_chunk : &baseline::gram_chunk;
  return fn;
}

const char* best_fused_chunk_name() noexcept { return has_avx2() ? "avx2" : "baseline"; }

}  // namespace steepest::detail
