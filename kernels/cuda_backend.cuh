// Internal: what other CUDA code of the library may ask of the CUDA backend.  Only
// kernels/cuda_bench.cu uses it (event timing on the backend's own stream).
#pragma once

#include <cuda_runtime.h>

#include "backend/backend.hpp"

namespace steepest::detail {

/// The stream \p backend enqueues its work on; makes the backend's device current, so that
/// events created next belong to that device.  Throws DeviceUnavailable when \p backend is
/// not the CUDA backend.
cudaStream_t cuda_backend_stream(Backend& backend);

}  // namespace steepest::detail
