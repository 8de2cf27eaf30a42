#include <cstdlib>
#include <cstring>

#include "cpu/cpu_chunk.hpp"

namespace steepest::detail {
namespace {

enum class KernelSet { baseline, avx2, avx512 };

/// The widest set compiled and supported by this CPU, capped by STEEPEST_CPU_KERNELS
/// (= baseline or avx2), so that every set's bits can be checked on one machine.
KernelSet chosen_set() noexcept {
  const char* forced = std::getenv("STEEPEST_CPU_KERNELS");
  if (forced != nullptr && std::strcmp(forced, "baseline") == 0) return KernelSet::baseline;
  if (cpu_runs_avx512_kernels() && (forced == nullptr || std::strcmp(forced, "avx2") != 0))
    return KernelSet::avx512;
  return cpu_runs_avx2_kernels() ? KernelSet::avx2 : KernelSet::baseline;
}

/// The entry point of the chosen set.
template <class Fn>
Fn pick(Fn base, Fn avx2, Fn avx512) noexcept {
  switch (chosen_set()) {
    case KernelSet::avx512: return avx512;
    case KernelSet::avx2: return avx2;
    default: return base;
  }
}

}  // namespace

bool cpu_runs_avx2_kernels() noexcept {
#if defined(STEEPEST_HAVE_AVX2_KERNELS) && (defined(__x86_64__) || defined(__i386__))
  return __builtin_cpu_supports("avx2") != 0;
#else
  return false;
#endif
}

bool cpu_runs_avx512_kernels() noexcept {
#if defined(STEEPEST_HAVE_AVX512_KERNELS) && (defined(__x86_64__) || defined(__i386__))
  // libgcc's checks include the OS saving the 512-bit state (XCR0).
  return __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512vl") != 0 &&
         __builtin_cpu_supports("avx512dq") != 0 && __builtin_cpu_supports("avx512bw") != 0;
#else
  return false;
#endif
}

// Sets not compiled on this target: never selected (cpu_runs_*_kernels() is false).
#if !defined(STEEPEST_HAVE_AVX2_KERNELS)
namespace avx2 {
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
#if !defined(STEEPEST_HAVE_AVX512_KERNELS)
namespace avx512 {
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
}  // namespace avx512
#endif

FusedChunkFn best_fused_chunk() noexcept {
  static const FusedChunkFn fn = pick<FusedChunkFn>(&baseline::fused_chunk, &avx2::fused_chunk, &avx512::fused_chunk);
  return fn;
}

WeightedChunkFn best_weighted_chunk() noexcept {
  static const WeightedChunkFn fn =
      pick<WeightedChunkFn>(&baseline::weighted_chunk, &avx2::weighted_chunk, &avx512::weighted_chunk);
  return fn;
}

GramChunkFn best_gram_chunk() noexcept {
  static const GramChunkFn fn = pick<GramChunkFn>(&baseline::gram_chunk, &avx2::gram_chunk, &avx512::gram_chunk);
  return fn;
}

const char* best_fused_chunk_name() noexcept {
  switch (chosen_set()) {
    case KernelSet::avx512: return "avx512";
    case KernelSet::avx2: return "avx2";
    default: return "baseline";
  }
}

}  // namespace steepest::detail
