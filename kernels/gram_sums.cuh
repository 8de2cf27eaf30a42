// Internal: the Gram pass (backend/gram.hpp) on the device, as a plan and a launcher the CUDA
// backend calls on its stream.  Two kernels per pass: the first leaves per-block partials of
// every entry, the second adds them in a fixed order (no floating-point atomics), so the same
// input on the same device gives the same bits every run.  kernels/launch_plan.hpp
// ("Gram sums") describes the tiling and the order, and replays it on the host.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "steepest/data.hpp"

namespace steepest::detail {

/// Arguments of one Gram pass.  X, y and the weights as the backend uploaded them (packed,
/// in their storage types; see FusedArgs); shift and partials on the device.
struct GramArgs {
  const void* X = nullptr;
  const void* y = nullptr;
  const void* weights = nullptr;        ///< read only by the weighted kernels
  const std::int64_t* order = nullptr;  ///< null: natural order; else row = order[position]
  const double* shift = nullptr;        ///< d + 1 values: s_x, then s_y
  double* partials = nullptr;           ///< plan.entries x slices, column-major
  std::int64_t n = 0;
  std::int64_t d = 0;
  std::int64_t begin = 0;  ///< positions [begin, end) are summed
  std::int64_t end = 0;
  std::int32_t y_is_double = 0;
  std::int32_t weights_are_double = 0;
  // Filled by launch_gram_sums from the plan:
  std::int32_t blocks = 0;        ///< 8-column blocks of the augmented rows
  std::int32_t tile_rows = 0;
  std::int32_t row_pitch = 0;     ///< elements (row-major tiles)
  std::int32_t col_pitch = 0;     ///< elements (column-major tiles)
  std::int32_t buffer_bytes = 0;  ///< one tile buffer: X tile, y, weights
  std::int32_t y_offset = 0;      ///< bytes from a buffer's start to its y
  std::int32_t w_offset = 0;      ///< bytes from a buffer's start to its weights
};

using GramKernel = void (*)(GramArgs);

/// The Gram kernel chosen for the data's (d, dtype, layout, weighted or not) and its launch
/// shape on this device, fixed at the first gram_sums().
struct GramPlan {
  GramKernel kernel = nullptr;
  const char* name = "";
  bool weighted = false;
  std::int32_t blocks = 0;
  std::int64_t pair_groups = 1;  ///< grid's second dimension
  std::int32_t tile_rows = 0;
  std::int32_t row_pitch = 0;     ///< see GramArgs
  std::int32_t col_pitch = 0;
  std::int32_t buffer_bytes = 0;
  std::int32_t y_offset = 0;
  std::int32_t w_offset = 0;
  std::int64_t smem_bytes = 0;
  std::int64_t max_slices = 0;   ///< most blocks along the rows (grid's first dimension)
  std::int64_t entries = 0;      ///< plan::gram_entries(d): S2, S1, W
};

/// Chooses the kernel, its tile (from the storage types of X, y and, when \p weighted, the
/// weights), raises its shared-memory limit when needed and sizes the grid from its
/// occupancy on \p device.  Throws DeviceUnavailable when a tile does not fit.
GramPlan plan_gram_sums(std::int64_t d, DType x_dtype, DType y_dtype, DType w_dtype, Layout layout,
                        bool weighted, int device);

/// The Gram sums of positions [args.begin, args.end) (not empty) over \p slices blocks along
/// the rows (1 <= slices <= plan.max_slices): block partials into args.partials
/// (plan.entries x slices), then their fixed-order totals into \p out (plan.entries values:
/// S2 packed, S1, W).  Asynchronous on \p stream.
void launch_gram_sums(const GramPlan& plan, GramArgs args, std::int64_t slices, double* out,
                      cudaStream_t stream);

}  // namespace steepest::detail
