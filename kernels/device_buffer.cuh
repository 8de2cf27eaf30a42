// Internal: RAII owners of device memory (DeviceBuffer) and of a stream (CudaStream).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "cuda_check.cuh"
#include "steepest/error.hpp"

namespace steepest::detail {

/// Bytes as GiB with two decimals, for messages about device memory.
inline std::string gib(std::int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  /// Allocates \p count elements (uninitialised).  Running out of device memory is the
  /// caller's problem to explain, so it becomes DeviceUnavailable, not CudaError.
  explicit DeviceBuffer(std::int64_t count, const char* what) : count_(count) {
    if (count <= 0) return;
    const std::int64_t bytes = count * static_cast<std::int64_t>(sizeof(T));
    const cudaError_t err = cudaMalloc(reinterpret_cast<void**>(&ptr_), static_cast<std::size_t>(bytes));
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear it: running out of memory is not a sticky error
      throw DeviceUnavailable(std::string("CUDA device out of memory allocating ") + what + " (" +
                              gib(bytes) + ")");
    }
    STEEPEST_CUDA_CHECK(err);
  }
  ~DeviceBuffer() { release(); }

  DeviceBuffer(DeviceBuffer&& other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      ptr_ = std::exchange(other.ptr_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const noexcept { return ptr_; }
  std::int64_t size() const noexcept { return count_; }
  std::int64_t bytes() const noexcept { return count_ * static_cast<std::int64_t>(sizeof(T)); }

 private:
  void release() noexcept {
    if (ptr_ != nullptr) STEEPEST_CUDA_CHECK_NOTHROW(cudaFree(ptr_));
    ptr_ = nullptr;
  }

  T* ptr_ = nullptr;
  std::int64_t count_ = 0;
};

/// A non-blocking stream, destroyed after its pending work has finished.
class CudaStream {
 public:
  CudaStream() { STEEPEST_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~CudaStream() {
    STEEPEST_CUDA_CHECK_NOTHROW(cudaStreamSynchronize(stream_));
    STEEPEST_CUDA_CHECK_NOTHROW(cudaStreamDestroy(stream_));
  }
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;

  cudaStream_t get() const noexcept { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

}  // namespace steepest::detail
