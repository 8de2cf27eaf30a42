// Internal: the one way CUDA runtime calls are checked.  Every call goes through
// STEEPEST_CUDA_CHECK (throws steepest::CudaError naming the call, the error, the file and
// the line); destructors use STEEPEST_CUDA_CHECK_NOTHROW (they must not throw); every
// launch is followed by STEEPEST_CUDA_CHECK_LAUNCH so a bad configuration is reported at
// the launch that caused it, not at the next synchronisation.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
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

}  // namespace steepest::detail

#define STEEPEST_CUDA_CHECK(call) \
  ::steepest::detail::cuda_check((call), #call, __FILE__, __LINE__)
#define STEEPEST_CUDA_CHECK_NOTHROW(call) \
  ::steepest::detail::cuda_check_nothrow((call), #call, __FILE__, __LINE__)
#define STEEPEST_CUDA_CHECK_LAUNCH(kernel_name) \
  ::steepest::detail::cuda_check(cudaGetLastError(), "launch of " kernel_name, __FILE__, __LINE__)
