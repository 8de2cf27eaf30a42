/// \file
/// \brief What this build can run on.
#pragma once
#include "steepest/export.h"

#include <cstdint>
#include <string>
#include <vector>

namespace steepest {

/// One CUDA device as the runtime reports it.
struct DeviceInfo {
  std::int32_t index = 0;
  std::string name;
  std::int64_t total_memory = 0;  ///< bytes
  std::int64_t free_memory = 0;   ///< bytes, at the time of the query
  std::int32_t multiprocessors = 0;
  std::int32_t compute_major = 0;
  std::int32_t compute_minor = 0;
};

/// Features compiled into this build.
struct BuildInfo {
  std::string version;
  bool cuda_compiled = false;
  std::string cuda_architectures;  ///< e.g. "80-real;90"; empty without CUDA
  bool openmp = false;
  std::int32_t cpu_threads = 1;  ///< threads the CPU backend uses by default
  /// The CPU backend's kernels on this machine: "avx512", "avx2" or "baseline" (results are
  /// deterministic for each; STEEPEST_CPU_KERNELS=avx2 or =baseline caps the choice).
  std::string cpu_kernels;
  /// Bytes ahead that the CPU kernels ask for on rows read in order; 0: none, the hardware
  /// prefetcher alone (the default off Intel CPUs; STEEPEST_CPU_PREFETCH=bytes sets it).  A
  /// hint only: it changes no bit of any result.
  std::int64_t cpu_prefetch_bytes = 0;
};

/// \brief Features of this build.
STEEPEST_API BuildInfo build_info();

/// \brief Usable CUDA devices; empty when CUDA is not compiled, no driver is loaded or no
/// device is present (any error from the runtime counts as "no device").
STEEPEST_API std::vector<DeviceInfo> cuda_devices();

/// \brief Why cuda_devices() is empty, e.g. "CUDA support not compiled" or the runtime's
/// error text; empty when a device is usable.
STEEPEST_API std::string cuda_unavailable_reason();

}  // namespace steepest
