#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cpu/cpu_chunk.hpp"

namespace steepest::detail {
namespace {

enum class SetName { baseline, avx2, avx512 };

/// The widest set compiled and supported by this CPU, capped by STEEPEST_CPU_KERNELS
/// (= baseline or avx2), so that every set's bits can be checked on one machine.
SetName chosen_set() noexcept {
  const char* forced = std::getenv("STEEPEST_CPU_KERNELS");
  if (forced != nullptr && std::strcmp(forced, "baseline") == 0) return SetName::baseline;
  if (cpu_runs_avx512_kernels() && (forced == nullptr || std::strcmp(forced, "avx2") != 0))
    return SetName::avx512;
  return cpu_runs_avx2_kernels() ? SetName::avx2 : SetName::baseline;
}

/// The chosen set.
const KernelSet& pick(const KernelSet& base, const KernelSet& avx2, const KernelSet& avx512) noexcept {
  switch (chosen_set()) {
    case SetName::avx512: return avx512;
    case SetName::avx2: return avx2;
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

// Sets not compiled on this target: never selected (cpu_runs_*_kernels() is false); tests
// that compare the sets then compare the baseline with itself.
#if !defined(STEEPEST_HAVE_AVX2_KERNELS)
const KernelSet avx2::kernel_set = baseline::kernel_set;
#endif
#if !defined(STEEPEST_HAVE_AVX512_KERNELS)
const KernelSet avx512::kernel_set = baseline::kernel_set;
#endif

std::int64_t stream_ahead_bytes() noexcept {
  static const std::int64_t bytes = [] {
    if (const char* given = std::getenv("STEEPEST_CPU_PREFETCH")) {
      char* end = nullptr;
      const long long v = std::strtoll(given, &end, 10);
      if (end != given && *end == '\0' && v >= 0) return static_cast<std::int64_t>(std::min(v, 1LL << 20));
    }
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_is("intel") ? std::int64_t{4096} : std::int64_t{0};
#else
    return std::int64_t{0};
#endif
  }();
  return bytes;
}

FusedChunkFn best_fused_chunk() noexcept {
  static const FusedChunkFn fn = pick(baseline::kernel_set, avx2::kernel_set, avx512::kernel_set).fused_chunk;
  return fn;
}

WeightedChunkFn best_weighted_chunk() noexcept {
  static const WeightedChunkFn fn =
      pick(baseline::kernel_set, avx2::kernel_set, avx512::kernel_set).weighted_chunk;
  return fn;
}

GramChunkFn best_gram_chunk() noexcept {
  static const GramChunkFn fn = pick(baseline::kernel_set, avx2::kernel_set, avx512::kernel_set).gram_chunk;
  return fn;
}

const char* best_fused_chunk_name() noexcept {
  switch (chosen_set()) {
    case SetName::avx512: return "avx512";
    case SetName::avx2: return "avx2";
    default: return "baseline";
  }
}

}  // namespace steepest::detail
