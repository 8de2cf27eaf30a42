// Internal: the one way CUDA runtime calls are checked.  Every call goes through
// STEEPEST_CUDA_CHECK (throws steepest::CudaError naming the call, the error, the file and
// the line); destructors use STEEPEST_CUDA_CHECK_NOTHROW (they must not throw); every
// launch is followed by STEEPEST_CUDA_CHECK_LAUNCH(name, stream) so a bad configuration is
// reported at the launch that caused it, not at the next synchronisation.
//
// Debugging: with STEEPEST_CUDA_SYNC=1 in the environment (read once per process) every
// checked launch also synchronises its stream, so a fault inside a kernel (an illegal
// address, a trap) is reported under that kernel's name instead of at some later call.
// Off by default: it serialises host and device.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "steepest/error.hpp"

namespace steepest::detail {

inline std::string cuda_error_message(cudaError_t err, const char* call, const char* file,
                                      int line) {
  return std::string(call) + " failed: " + cudaGetErrorName(err) + " (" +
         cudaGetErrorString(err) + ") at " + file + ":" + std::to_string(line);
}

inline void cuda_check(cudaError_t err, const char* call, const char* file, int line) {
  if (err != cudaSuccess) throw CudaError(cuda_error_message(err, call, file, line));
}

// Cleanup that fails has nobody to report to: say it once on stderr and carry on (the
// error is sticky, so the next checked call throws anyway).
inline void cuda_check_nothrow(cudaError_t err, const char* call, const char* file,
                               int line) noexcept {
  if (err != cudaSuccess) {
    std::fprintf(stderr, "steepest: %s failed: %s (%s) at %s:%d\n", call, cudaGetErrorName(err),
                 cudaGetErrorString(err), file, line);
  }
}

/// Whether STEEPEST_CUDA_SYNC=1 was set when first asked (the answer is then fixed).
inline bool sync_after_each_launch() noexcept {
  static const bool on = [] {
    const char* v = std::getenv("STEEPEST_CUDA_SYNC");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  return on;
}

/// After a launch of \p kernel on \p stream: the launch error, and under
/// STEEPEST_CUDA_SYNC=1 also the kernel's own completion.
inline void cuda_check_launch(const char* kernel, cudaStream_t stream, const char* file,
                              int line) {
  const std::string launch = std::string("launch of ") + kernel;
  cuda_check(cudaGetLastError(), launch.c_str(), file, line);
  if (sync_after_each_launch()) {
    const std::string run = std::string(kernel) + " (synchronised, STEEPEST_CUDA_SYNC=1)";
    cuda_check(cudaStreamSynchronize(stream), run.c_str(), file, line);
  }
}

}  // namespace steepest::detail

#define STEEPEST_CUDA_CHECK(call) \
  ::steepest::detail::cuda_check((call), #call, __FILE__, __LINE__)
#define STEEPEST_CUDA_CHECK_NOTHROW(call) \
  ::steepest::detail::cuda_check_nothrow((call), #call, __FILE__, __LINE__)
#define STEEPEST_CUDA_CHECK_LAUNCH(kernel_name, stream) \
  ::steepest::detail::cuda_check_launch((kernel_name), (stream), __FILE__, __LINE__)
