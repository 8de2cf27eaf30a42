// Bandwidth ceilings and event timing for the benchmarks (bench/bench_gpu.cu, `steepest
// bench`): see host/backend/device_probe.hpp for the contracts.
//
// Both ceilings run on a stream of their own, on the current device, over buffers of their
// own (the caller's data stays where it is): a warm-up, then the best of kRepetitions, each
// timed by a pair of CUDA events around the one operation.  The best, not the mean: a
// ceiling is what the hardware can do, and the benchmarks compare their mean against it, so
// the fractions they print err on the low side.
#include <cub/device/device_reduce.cuh>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "backend/backend.hpp"
#include "cuda_backend.cuh"
#include "cuda_check.cuh"
#include "device_buffer.cuh"
#include "backend/device_probe.hpp"
#include "launch_plan.hpp"
#include "steepest/error.hpp"

namespace steepest::detail {
namespace {

constexpr int kWarmups = 2;
constexpr int kRepetitions = 10;
constexpr int kFillThreads = 256;

/// A CUDA event with timing, on the current device.
class CudaEvent {
 public:
  CudaEvent() { STEEPEST_CUDA_CHECK(cudaEventCreate(&event_)); }
  ~CudaEvent() { STEEPEST_CUDA_CHECK_NOTHROW(cudaEventDestroy(event_)); }
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t get() const noexcept { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

/// Milliseconds between \p start and \p stop, once \p stop has completed.
double elapsed_ms(const CudaEvent& start, const CudaEvent& stop) {
  STEEPEST_CUDA_CHECK(cudaEventSynchronize(stop.get()));
  float ms = 0.0f;
  STEEPEST_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return static_cast<double>(ms);
}

/// Best time in ms of \p enqueue (which enqueues one operation on \p stream) over
/// kRepetitions, after kWarmups untimed runs.
double best_ms(cudaStream_t stream, const std::function<void()>& enqueue) {
  CudaEvent start, stop;
  for (int i = 0; i < kWarmups; ++i) enqueue();
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < kRepetitions; ++i) {
    STEEPEST_CUDA_CHECK(cudaEventRecord(start.get(), stream));
    enqueue();
    STEEPEST_CUDA_CHECK(cudaEventRecord(stop.get(), stream));
    best = std::min(best, elapsed_ms(start, stop));
  }
  return best;
}

/// x[i] = a pseudo-random value in [-1, 1) from i alone (SplitMix64's finaliser), so the
/// reduction reads real data, never a page of zeros.
__global__ void fill_uniform(float* __restrict__ x, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < count; i += stride) {
    std::uint64_t z = static_cast<std::uint64_t>(i) * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    x[i] = static_cast<float>(static_cast<double>(z >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  }
}

void require_bytes(std::int64_t bytes, std::int64_t at_least, const char* who) {
  if (bytes < at_least) {
    throw InvalidArgument(std::string(who) + ": needs at least " + std::to_string(at_least) +
                          " bytes, got " + std::to_string(bytes));
  }
}

/// GB/s (1e9 bytes per second) of \p bytes moved in \p ms.
double gb_per_s(double bytes, double ms) { return ms > 0.0 ? bytes / (ms * 1e6) : 0.0; }

}  // namespace

double cuda_copy_bandwidth(std::int64_t bytes) {
  if (!cuda_usable()) return 0.0;
  require_bytes(bytes, 1, "cuda_copy_bandwidth");
  CudaStream stream;  // declared first: outlives the buffers
  DeviceBuffer<unsigned char> src(bytes, "copy ceiling source");
  DeviceBuffer<unsigned char> dst(bytes, "copy ceiling destination");
  const auto size = static_cast<std::size_t>(bytes);
  STEEPEST_CUDA_CHECK(cudaMemsetAsync(src.get(), 0x5A, size, stream.get()));  // not zeros
  const double ms = best_ms(stream.get(), [&] {
    STEEPEST_CUDA_CHECK(
        cudaMemcpyAsync(dst.get(), src.get(), size, cudaMemcpyDeviceToDevice, stream.get()));
  });
  return gb_per_s(2.0 * static_cast<double>(bytes), ms);  // read + written
}

double cuda_reduce_bandwidth(std::int64_t bytes) {
  if (!cuda_usable()) return 0.0;
  require_bytes(bytes, static_cast<std::int64_t>(sizeof(float)), "cuda_reduce_bandwidth");
  const std::int64_t count = bytes / static_cast<std::int64_t>(sizeof(float));
  CudaStream stream;
  DeviceBuffer<float> in(count, "reduce ceiling input");
  DeviceBuffer<float> out(1, "reduce ceiling output");

  int device = 0, sms = 0;
  STEEPEST_CUDA_CHECK(cudaGetDevice(&device));
  STEEPEST_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const std::int64_t blocks =
      plan::max64(1, plan::min64(plan::ceil_div(count, kFillThreads), std::int64_t{sms} * 8));
  fill_uniform<<<static_cast<unsigned>(blocks), kFillThreads, 0, stream.get()>>>(in.get(), count);
  STEEPEST_CUDA_CHECK_LAUNCH("fill_uniform", stream.get());

  std::size_t temp_bytes = 0;
  STEEPEST_CUDA_CHECK(cub::DeviceReduce::Sum(nullptr, temp_bytes, in.get(), out.get(), count,
                                             stream.get()));
  DeviceBuffer<unsigned char> temp(static_cast<std::int64_t>(std::max<std::size_t>(temp_bytes, 1)),
                                   "reduce ceiling workspace");
  const double ms = best_ms(stream.get(), [&] {
    STEEPEST_CUDA_CHECK(cub::DeviceReduce::Sum(temp.get(), temp_bytes, in.get(), out.get(), count,
                                               stream.get()));
  });
  return gb_per_s(static_cast<double>(count) * sizeof(float), ms);  // read once
}

double cuda_time_ms(Backend& backend, const std::function<void()>& work) {
  if (!work) throw InvalidArgument("cuda_time_ms: no work given");
  const cudaStream_t stream = cuda_backend_stream(backend);  // device made current
  CudaEvent start, stop;
  STEEPEST_CUDA_CHECK(cudaEventRecord(start.get(), stream));
  work();
  STEEPEST_CUDA_CHECK(cudaEventRecord(stop.get(), stream));
  return elapsed_ms(start, stop);
}

}  // namespace steepest::detail
