#include "cpu/cpu_chunk.hpp"
#include "steepest/device.hpp"
#include "steepest/options.hpp"
#include "steepest/result.hpp"

#if defined(STEEPEST_HAVE_OPENMP)
#include <omp.h>
#endif

namespace steepest {

const char* to_string(StopReason r) noexcept {
  switch (r) {
    case StopReason::max_epochs: return "max_epochs";
    case StopReason::converged: return "converged";
    case StopReason::diverged: return "diverged";
    case StopReason::cancelled: return "cancelled";
    case StopReason::interrupted: return "interrupted";
    case StopReason::ill_conditioned: return "ill_conditioned";
  }
  return "unknown";
}

const char* to_string(Optimizer o) noexcept {
  switch (o) {
    case Optimizer::gd: return "gd";
    case Optimizer::momentum: return "momentum";
    case Optimizer::nesterov: return "nesterov";
    case Optimizer::adam: return "adam";
    case Optimizer::automatic: return "auto";
  }
  return "unknown";
}

BuildInfo build_info() {
  BuildInfo info;
  info.version = STEEPEST_VERSION;
#if defined(STEEPEST_HAVE_CUDA)
  info.cuda_compiled = true;
  info.cuda_architectures = STEEPEST_CUDA_ARCHITECTURES;
#endif
#if defined(STEEPEST_HAVE_OPENMP)
  info.openmp = true;
  info.cpu_threads = omp_get_max_threads();
#endif
  info.cpu_kernels = detail::best_fused_chunk_name();
  info.cpu_prefetch_bytes = detail::stream_ahead_bytes();
  return info;
}

}  // namespace steepest
