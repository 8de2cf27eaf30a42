// Internal: the fused loss-and-gradient pass and the parameter update, as launchers the
// CUDA backend calls on its stream.  Two kernels per compute(): the fused pass writes
// per-block partials, the second pass reduces them in a fixed order (no floating-point
// atomics), so the same input on the same device gives the same bits every run.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "train/step_rule.hpp"

#include "steepest/data.hpp"

namespace steepest::detail {

/// Arguments of one fused pass.  Device pointers; X and y are packed on upload (row-major:
/// element (i, j) at i * d + j; column-major: at j * n + i; y contiguous), and so are the
/// sample weights, in their storage type like y.
struct FusedArgs {
  const void* X = nullptr;
  const void* y = nullptr;
  const std::int64_t* order = nullptr;  ///< null: natural order; else row = order[position]
  const double* params = nullptr;       ///< w[0..d), then b
  double* partials = nullptr;           ///< plan::partial_columns(d) x grid, column-major
  std::int64_t n = 0;
  std::int64_t d = 0;
  std::int64_t begin = 0;  ///< positions [begin, end) are summed
  std::int64_t end = 0;
  std::int32_t y_is_double = 0;
  std::int32_t tile_rows = 0;  ///< tiled kernel only
  // Last, so the unweighted kernels read the fields above at the offsets they always had.
  const void* weights = nullptr;  ///< read only by the weighted kernels
  std::int32_t weights_are_double = 0;
};

using FusedKernel = void (*)(FusedArgs);

/// The fused kernel chosen for the data's (d, dtype, layout, weighted or not), fixed at
/// upload.  The weighted kernels are separate instantiations (a template flag), so the
/// unweighted ones are the code they were before weights existed.
struct FusedPlan {
  FusedKernel kernel = nullptr;
  const char* name = "";
  std::int64_t smem_bytes = 0;          ///< dynamic shared memory per block
  std::int32_t tile_rows = 0;           ///< 0 for the register kernels
  std::int64_t rows_per_iteration = 0;  ///< rows one block covers per grid-stride step
  std::int64_t max_grid = 0;            ///< most blocks worth launching on this device
  bool weighted = false;                ///< partials have plan::partial_columns(d, true)
};

/// Chooses the kernel, raises its shared-memory limit when needed and sizes the grid from
/// the occupancy on \p device.  Throws DeviceUnavailable when d is too large for the
/// device's shared memory.
FusedPlan plan_fused_loss_gradient(std::int64_t d, DType x_dtype, Layout layout, bool weighted,
                                   int device);

/// First pass over positions [args.begin, args.end): per-block partials of X^T r, sum r^2
/// and sum r into args.partials (grid columns); weighted, of X^T (w r), sum w r^2, sum w r
/// and sum w.  Asynchronous on \p stream.
void launch_fused_loss_gradient(const FusedPlan& plan, const FusedArgs& args,
                                std::int64_t grid, cudaStream_t stream);

/// Indices into the backend's stats array (device, 3 doubles).
inline constexpr int kStatLoss = 0;
inline constexpr int kStatRunningSse = 1;
inline constexpr int kStatRunningRows = 2;
inline constexpr int kStatCount = 3;

/// Second pass: reduces the \p grid partials of each column in a fixed order and writes
/// grad[0..d) = (2/m) X^T r, grad[d] = (2/m) sum r, stats[kStatLoss] = sse / m, and adds
/// sse and m to the running pair.  \p weighted: m is W, the reduced sum-w column, on the
/// device; W = 0 writes a zero loss and gradient and adds nothing.  Asynchronous on
/// \p stream.  With \p raw, the reduced sums alone go there instead, in the CPU's partial
/// layout (X^T r, sum r^2, sum r, then sum w when weighted) and grad and stats are left as
/// they were: across processes the host combines every process's sums before it divides.
void launch_reduce_partials(const double* partials, std::int64_t grid, std::int64_t d,
                            std::int64_t m, bool weighted, double* grad, double* stats,
                            cudaStream_t stream, double* raw = nullptr);

/// apply_step_rule(rule) to params[j] with grad[j] and its state (state[j], state[d+1+j])
/// for j < d, and for j == d (the bias) when rule.update_bias.  Asynchronous on \p stream.
void launch_update_parameters(double* params, const double* grad, double* state, std::int64_t d,
                              const StepRule& rule, cudaStream_t stream);

/// Whether this build's kernels can run on the current device: cudaSuccess, or why not
/// (e.g. cudaErrorNoKernelImageForDevice on a GPU older than the compiled architectures).
cudaError_t probe_kernel_image() noexcept;

}  // namespace steepest::detail
