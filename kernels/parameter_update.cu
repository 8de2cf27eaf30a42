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

// One thread per coordinate (w[0..d), then b at d).  This file is compiled with
// -fmad=false (kernels/sources.cmake): apply_step_rule's a*b+c stay two roundings, as on
// the CPU, so equal gradients give equal parameters on both backends.
__global__ void update_parameters(double* __restrict__ params, const double* __restrict__ grad,
                                  double* __restrict__ state, std::int64_t d, StepRule rule) {
  const std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j < d || (j == d && rule.update_bias)) {
    double w = params[j];
    double s1 = state[j];
    double s2 = state[d + 1 + j];
    apply_step_rule(rule, j == d, w, grad[j], s1, s2);
    params[j] = w;
    state[j] = s1;
    state[d + 1 + j] = s2;
  }
}

}  // namespace

void launch_update_parameters(double* params, const double* grad, double* state, std::int64_t d,
                              const StepRule& rule, cudaStream_t stream) {
  if (params == nullptr || grad == nullptr || state == nullptr || d < 1) {
    throw InvalidArgument("launch_update_parameters: no parameters");
  }
  const std::int64_t blocks = plan::ceil_div(d + 1, kUpdateThreads);
  update_parameters<<<static_cast<unsigned>(blocks), kUpdateThreads, 0, stream>>>(params, grad, state, d, rule);
  STEEPEST_CUDA_CHECK_LAUNCH("update_parameters", stream);
}

cudaError_t probe_kernel_image() noexcept {
  cudaFuncAttributes attributes{};
  return cudaFuncGetAttributes(&attributes, update_parameters);
}

}  // namespace steepest::detail
