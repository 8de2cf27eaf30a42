// The gradient step, on the device so that compute(); step(); ... never waits for the host.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_check.cuh"
#include "launch_plan.hpp"
#include "loss_gradient.cuh"
#include "steepest/error.hpp"

namespace steepest::detail {
namespace {

constexpr int kUpdateThreads = 256;

// __dmul_rn/__dsub_rn keep nvcc from contracting into an FMA, so a step rounds exactly as
// the CPU reference's `w -= lr * g` does and equal gradients give equal parameters.
__global__ void update_parameters(double* __restrict__ params, const double* __restrict__ grad,
                                  std::int64_t d, double lr, int update_bias) {
  const std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j < d || (j == d && update_bias != 0)) {
    params[j] = __dsub_rn(params[j], __dmul_rn(lr, grad[j]));
  }
}

}  // namespace

void launch_update_parameters(double* params, const double* grad, std::int64_t d, double lr,
                              bool update_bias, cudaStream_t stream) {
  if (params == nullptr || grad == nullptr || d < 1) {
    throw InvalidArgument("launch_update_parameters: no parameters");
  }
  const std::int64_t blocks = plan::ceil_div(d + 1, kUpdateThreads);
  update_parameters<<<static_cast<unsigned>(blocks), kUpdateThreads, 0, stream>>>(
      params, grad, d, lr, update_bias ? 1 : 0);
  STEEPEST_CUDA_CHECK_LAUNCH("update_parameters", stream);
}

cudaError_t probe_kernel_image() noexcept {
  cudaFuncAttributes attributes{};
  return cudaFuncGetAttributes(&attributes, update_parameters);
}

}  // namespace steepest::detail
