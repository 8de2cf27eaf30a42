// Internal: bandwidth ceilings and event timing for benchmarks (bench/, `steepest bench`).
// Implemented in kernels/cuda_bench.cu, or by the stub when CUDA is not compiled.
#pragma once

#include <cstdint>
#include <functional>

#include "backend/backend.hpp"

namespace steepest::detail {

/// Device-to-device cudaMemcpy bandwidth in GB/s (1e9 bytes/s, counting bytes read + bytes
/// written, i.e. 2 x bytes per copy) over buffers of \p bytes, best of several repetitions
/// after a warm-up, timed with CUDA events.  0 when no CUDA device is usable.
double cuda_copy_bandwidth(std::int64_t bytes);

/// Read bandwidth in GB/s of cub::DeviceReduce::Sum over \p bytes of float data on the
/// device (the "read once" ceiling of a reduction), timed like cuda_copy_bandwidth.
/// 0 when no CUDA device is usable.
double cuda_reduce_bandwidth(std::int64_t bytes);

/// Milliseconds that \p work takes on \p backend's CUDA stream, measured with CUDA events
/// recorded before and after it on that stream (\p work must enqueue on the backend, e.g.
/// call compute()).  Throws DeviceUnavailable when \p backend is not the CUDA backend.
double cuda_time_ms(Backend& backend, const std::function<void()>& work);

/// Read bandwidth of the CPU in GB/s over \p bytes at \p data: a vectorised pass that
/// only reads (64-bit integer adds, \p threads OpenMP threads, 0 = default), best of
/// several repetitions after a warm-up.  The ceiling for the CPU fused pass.
double cpu_read_bandwidth(const void* data, std::int64_t bytes, int threads);
/// One such read-only pass: its seconds (bench_cpu times one beside each fused pass).
double cpu_read_seconds(const void* data, std::int64_t bytes, int threads);

}  // namespace steepest::detail
