// The fused loss-and-gradient pass: every row of X and y is read once, residuals and all
// sums are float64, and each block leaves one partial per output column; the second pass
// adds those partials in a fixed order.  Two kernels cover the feature counts:
//  - registers (d <= 32): one row per thread, the gradient in registers, templated on the
//    power-of-two bucket of d so the accumulator array is indexed only by constants;
//  - tiled (d > 32): a tile of up to 8 rows is staged in shared memory while its dot
//    products are formed, then each thread sums residual x tile over the tile's rows for
//    the gradient columns it owns and adds that tile sum into them; X is still read from
//    device memory once.
// The order of every addition is the one kernels/launch_plan.hpp describes and emulates.
//
// Sample weights are a template flag of every kernel (kWeighted), so the unweighted
// instantiations are the code they were before weights existed.  A weighted row forms
// wr = w_i r_i once and uses it where the unweighted row uses r_i (sse += wr r,
// sum_r += wr, grad += wr x_i), as the CPU kernels do, and adds w_i to one more per-row sum
// (the same order as sum r); the second pass divides by that sum W instead of m.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "cuda_check.cuh"
#include "launch_plan.hpp"
#include "loss_gradient.cuh"
#include "steepest/error.hpp"

namespace steepest::detail {
namespace {

using plan::kFusedThreads;
using plan::kMaxTileRows;
using plan::kReduceThreads;
using plan::kWarpSize;
using plan::kWarpsPerBlock;

/// How the register kernel reads a row: row-major scalar, row-major 16-byte vectors (only
/// when plan::row_vector_loads holds), or column-major (coalesced across the warp).
enum class RowAccess { row_scalar, row_vector, col };

__device__ __forceinline__ double load_y(const FusedArgs& a, std::int64_t i) {
  return a.y_is_double != 0 ? __ldg(static_cast<const double*>(a.y) + i)
                            : static_cast<double>(__ldg(static_cast<const float*>(a.y) + i));
}

__device__ __forceinline__ double load_weight(const FusedArgs& a, std::int64_t i) {
  return a.weights_are_double != 0
             ? __ldg(static_cast<const double*>(a.weights) + i)
             : static_cast<double>(__ldg(static_cast<const float*>(a.weights) + i));
}

__device__ __forceinline__ std::int64_t row_at(const FusedArgs& a, std::int64_t position) {
  return a.order != nullptr ? __ldg(a.order + position) : position;
}

// Lane 0 ends with the butterfly total (plan::emulate_warp_sum replays this order).
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    v += __shfl_down_sync(0xffffffffu, v, offset);
  }
  return v;
}

template <int D>
__device__ __forceinline__ void unpack(const float4& q, double (&x)[D], int at) {
  x[at] = q.x;
  x[at + 1] = q.y;
  x[at + 2] = q.z;
  x[at + 3] = q.w;
}
template <int D>
__device__ __forceinline__ void unpack(const double2& q, double (&x)[D], int at) {
  x[at] = q.x;
  x[at + 1] = q.y;
}

template <class T>
struct Vector16;
template <>
struct Vector16<float> {
  using type = float4;
};
template <>
struct Vector16<double> {
  using type = double2;
};

// Row i of X into x[0..D), zero beyond d so the padding adds nothing.
template <class T, int D, RowAccess A>
__device__ __forceinline__ void load_row(const T* __restrict__ X, std::int64_t i,
                                         std::int64_t n, std::int64_t d, double (&x)[D]) {
  if constexpr (A == RowAccess::row_vector) {
    using V = typename Vector16<T>::type;
    constexpr int kPerVector = static_cast<int>(16 / sizeof(T));
    const V* row = reinterpret_cast<const V*>(X + i * D);
#pragma unroll
    for (int v = 0; v < D / kPerVector; ++v) unpack(__ldg(row + v), x, v * kPerVector);
  } else if constexpr (A == RowAccess::row_scalar) {
    const T* row = X + i * d;
#pragma unroll
    for (int j = 0; j < D; ++j) x[j] = j < d ? static_cast<double>(__ldg(row + j)) : 0.0;
  } else {
#pragma unroll
    for (int j = 0; j < D; ++j) {
      x[j] = j < d ? static_cast<double>(__ldg(X + static_cast<std::int64_t>(j) * n + i)) : 0.0;
    }
  }
}

// --- kernels -------------------------------------------------------------------------------

template <class T, int D, RowAccess A, bool kWeighted>
__global__ void __launch_bounds__(kFusedThreads)
    fused_loss_gradient_registers(FusedArgs a) {
  constexpr int kSums = kWeighted ? 3 : 2;  // sse, sum r (, sum w) after the D gradients
  __shared__ double w[D];
  __shared__ double warp_totals[kWarpsPerBlock][D + kSums];
  for (int j = threadIdx.x; j < D; j += blockDim.x) w[j] = j < a.d ? a.params[j] : 0.0;
  __syncthreads();
  const double b = a.params[a.d];
  const T* X = static_cast<const T*>(a.X);

  double g[D];
#pragma unroll
  for (int j = 0; j < D; ++j) g[j] = 0.0;
  double sse = 0.0, sum_r = 0.0, sum_w = 0.0;
  // kBatch grid-stride rows are loaded before the first is used (more bytes in flight);
  // they are then added in position order, as plan::emulate_register_sum assumes.
  constexpr int kBatch = plan::register_batch(D);
  const std::int64_t stride = plan::register_stride(gridDim.x);
  for (std::int64_t pos = plan::register_first(a.begin, blockIdx.x, threadIdx.x); pos < a.end;
       pos += kBatch * stride) {
    double x[kBatch][D];
    double y[kBatch];
    [[maybe_unused]] double wt[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const std::int64_t p = pos + u * stride;
      if (p < a.end) {
        const std::int64_t i = row_at(a, p);
        load_row<T, D, A>(X, i, a.n, a.d, x[u]);
        y[u] = load_y(a, i);
        if constexpr (kWeighted) wt[u] = load_weight(a, i);
      }
    }
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (pos + u * stride >= a.end) break;
      double dot = 0.0;
#pragma unroll
      for (int j = 0; j < D; ++j) dot += x[u][j] * w[j];
      const double r = dot + b - y[u];
      double wr = r;
      if constexpr (kWeighted) {
        wr = wt[u] * r;
        sum_w += wt[u];
      }
      sse += wr * r;
      sum_r += wr;
#pragma unroll
      for (int j = 0; j < D; ++j) g[j] += wr * x[u][j];
    }
  }

  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
#pragma unroll
  for (int j = 0; j < D; ++j) {
    const double v = warp_sum(g[j]);
    if (lane == 0) warp_totals[warp][j] = v;
  }
  sse = warp_sum(sse);
  sum_r = warp_sum(sum_r);
  if constexpr (kWeighted) sum_w = warp_sum(sum_w);
  if (lane == 0) {
    warp_totals[warp][D] = sse;
    warp_totals[warp][D + 1] = sum_r;
    if constexpr (kWeighted) warp_totals[warp][D + 2] = sum_w;
  }
  __syncthreads();
  for (int c = threadIdx.x; c < D + kSums; c += blockDim.x) {
    if (c >= a.d && c < D) continue;  // padding columns of the bucket
    double total = 0.0;
    for (int k = 0; k < kWarpsPerBlock; ++k) total += warp_totals[k][c];
    std::int64_t column = c < D ? c : (c == D ? plan::sse_column(a.d) : plan::sum_r_column(a.d));
    if constexpr (kWeighted) {
      if (c == D + 2) column = plan::sum_w_column(a.d);
    }
    a.partials[column * gridDim.x + blockIdx.x] = total;
  }
}

// --- the tiled kernel's phases ---------------------------------------------------------------
// The helpers take values, not the kernel's pointers or accumulators: each finds the shared
// regions it uses from the dynamic allocation itself (tiled_smem).  NVVM optimises a helper
// before inlining it, and shared addresses or accumulators passed in by reference came out
// as different SASS; with these signatures the SASS (sm_80, sm_90) is the one the kernel
// had in one piece.  Phases 1 and 3 stay in the kernel for the same reason: as helpers of
// this kind they still changed the address arithmetic of their loops.

/// A tiled block's shared memory, in the order and sizes of plan::tiled_smem_bytes.
template <class T>
struct TiledSmem {
  double* grad;      // [d], column j owned by thread j % kFusedThreads
  double* dots;      // [kFusedThreads] partial dot products; after the last tile, sum w
  double* resid;     // [kMaxTileRows] w r of each tile row; after the last tile, sse
  double* row_sums;  // [kMaxTileRows] sum r, after the last tile
  T* tile;           // [rows][pitch]
};

template <class T>
__device__ __forceinline__ TiledSmem<T> tiled_smem(std::int64_t d) {
  extern __shared__ __align__(16) unsigned char smem[];
  TiledSmem<T> s;
  s.grad = reinterpret_cast<double*>(smem);
  s.dots = s.grad + d;
  s.resid = s.dots + kFusedThreads;
  s.row_sums = s.resid + kMaxTileRows;
  s.tile = reinterpret_cast<T*>(s.row_sums + kMaxTileRows);
  return s;
}

// Phase 2 for a valid tile row t: its lanes' partial dot products added in a fixed order
// (lane 0, 1, ...), then r = x_i . w + b - y_i.
template <bool kRowMajor>
__device__ __forceinline__ double tile_row_residual(const double* dots, int t, int rows,
                                                    int lanes, double b, double y_t) {
  double s = 0.0;
  for (int q = 0; q < lanes; ++q) s += dots[plan::tile_thread_of(t, q, rows, kRowMajor)];
  return s + b - y_t;
}

// The tail, after the last tile: thread t < rows publishes its row's sums, and after a
// barrier the block's gradient columns and (thread 0) its sse, sum r and sum w, each added
// over rows 0..rows-1, go to their columns of the partials.
template <class T, bool kWeighted>
__device__ __forceinline__ void write_tiled_partials(const FusedArgs& a, std::int64_t d, int rows,
                                                     int t, double sse, double sum_r,
                                                     [[maybe_unused]] double sum_w) {
  const TiledSmem<T> s = tiled_smem<T>(d);
  // After the last tile's barrier no thread reads dots any more: it takes the rows' sum w.
  double* row_weights = s.dots;
  if (t < rows) {
    s.resid[t] = sse;
    s.row_sums[t] = sum_r;
    if constexpr (kWeighted) row_weights[t] = sum_w;
  }
  __syncthreads();
  const std::int64_t grid = gridDim.x;
  for (std::int64_t j = t; j < d; j += kFusedThreads) a.partials[j * grid + blockIdx.x] = s.grad[j];
  if (t == 0) {
    double sse_total = 0.0, sum_r_total = 0.0;
    [[maybe_unused]] double sum_w_total = 0.0;
    for (int kk = 0; kk < rows; ++kk) {
      sse_total += s.resid[kk];
      sum_r_total += s.row_sums[kk];
      if constexpr (kWeighted) sum_w_total += row_weights[kk];
    }
    a.partials[plan::sse_column(d) * grid + blockIdx.x] = sse_total;
    a.partials[plan::sum_r_column(d) * grid + blockIdx.x] = sum_r_total;
    if constexpr (kWeighted) a.partials[plan::sum_w_column(d) * grid + blockIdx.x] = sum_w_total;
  }
}

// The kernel carves its shared memory with its own pointers, not a TiledSmem: that too
// changed its SASS.
template <class T, bool kRowMajor, bool kWeighted>
__global__ void __launch_bounds__(kFusedThreads) fused_loss_gradient_tiled(FusedArgs a) {
  extern __shared__ __align__(16) unsigned char smem[];
  const std::int64_t d = a.d;
  const int rows = a.tile_rows;
  const std::int64_t pitch = plan::tile_pitch(d);
  double* grad = reinterpret_cast<double*>(smem);   // [d], column j owned by thread j % T
  double* dots = grad + d;                          // [kFusedThreads] partial dot products
  double* resid = dots + kFusedThreads;             // [kMaxTileRows]
  double* row_sums = resid + kMaxTileRows;          // [kMaxTileRows] sum r, later sse
  T* tile = reinterpret_cast<T*>(row_sums + kMaxTileRows);  // [rows][pitch]

  const int t = threadIdx.x;
  for (std::int64_t j = t; j < d; j += kFusedThreads) grad[j] = 0.0;
  const T* X = static_cast<const T*>(a.X);
  const double b = a.params[d];
  const int k = plan::tile_row_of(t, rows, kRowMajor);
  const int lane = plan::tile_lane_of(t, rows, kRowMajor);
  const int lanes = plan::tile_lanes(rows);
  double sse = 0.0, sum_r = 0.0, sum_w = 0.0;  // of tile row t, kept by threads t < rows

  const std::int64_t tiles = plan::ceil_div(a.end - a.begin, rows);
  for (std::int64_t tile_index = blockIdx.x; tile_index < tiles; tile_index += gridDim.x) {
    const std::int64_t first = a.begin + tile_index * rows;
    const int valid = static_cast<int>(plan::min64(rows, a.end - first));

    // Phase 1: stage the tile and form partial dot products.  Threads t < valid also fetch
    // y (the weight, and the order entry) of tile row t now, so that latency overlaps the
    // staging instead of following the barrier.
    double y_t = 0.0;
    [[maybe_unused]] double w_t = 0.0;
    if (t < valid) {
      const std::int64_t i = row_at(a, first + t);
      y_t = load_y(a, i);
      if constexpr (kWeighted) w_t = load_weight(a, i);
    }
    double dot = 0.0;
    if (k < valid) {
      const std::int64_t i = row_at(a, first + k);
      T* dst = tile + k * pitch;
#pragma unroll 4
      for (std::int64_t j = lane; j < d; j += lanes) {
        const T x = __ldg(kRowMajor ? X + i * d + j : X + j * a.n + i);
        dst[j] = x;
        dot += static_cast<double>(x) * __ldg(a.params + j);
      }
    }
    dots[t] = dot;
    __syncthreads();

    // Phase 2: residuals, lanes added in a fixed order; resid holds w r when weighted.
    if (t < rows) {
      double wr = 0.0;
      if (t < valid) {
        const double r = tile_row_residual<kRowMajor>(dots, t, rows, lanes, b, y_t);
        wr = r;
        if constexpr (kWeighted) {
          wr = w_t * r;
          sum_w += w_t;
        }
        sse += wr * r;
        sum_r += wr;
      }
      resid[t] = wr;
    }
    __syncthreads();

    // Phase 3: each thread's gradient columns take the tile's contribution: the tile's rows
    // summed first (from zero, rows 0..valid-1), then added into grad[j]
    // (plan::emulate_tiled_gradient_sum replays this order).
    for (std::int64_t j = t; j < d; j += kFusedThreads) {
      double s = 0.0;
#pragma unroll 4
      for (int kk = 0; kk < valid; ++kk) s += resid[kk] * static_cast<double>(tile[kk * pitch + j]);
      grad[j] += s;
    }
    __syncthreads();  // the next tile overwrites tile, dots and resid
  }

  write_tiled_partials<T, kWeighted>(a, d, rows, t, sse, sum_r, sum_w);
}

// One block per output column; plan::emulate_second_pass replays this order.  Weighted,
// every block also reduces the sum-w column by the same order, so all of them divide by the
// same W, which replaces \p m (and 1/W \p inv_m).
template <bool kWeighted>
__global__ void __launch_bounds__(kReduceThreads)
    reduce_partials(const double* __restrict__ partials, std::int64_t grid, std::int64_t d,
                    double inv_m, double m, double* __restrict__ grad,
                    double* __restrict__ stats, double* __restrict__ raw) {
  __shared__ double buf[kReduceThreads];
  __shared__ double wbuf[kWeighted ? kReduceThreads : 1];
  const std::int64_t column = blockIdx.x;
  const double* in = partials + column * grid;
  double s = 0.0;
  for (std::int64_t blk = threadIdx.x; blk < grid; blk += kReduceThreads) s += in[blk];
  buf[threadIdx.x] = s;
  if constexpr (kWeighted) {
    const double* win = partials + plan::sum_w_column(d) * grid;
    double sw = 0.0;
    for (std::int64_t blk = threadIdx.x; blk < grid; blk += kReduceThreads) sw += win[blk];
    wbuf[threadIdx.x] = sw;
  }
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      buf[threadIdx.x] += buf[threadIdx.x + half];
      if constexpr (kWeighted) wbuf[threadIdx.x] += wbuf[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  const double total = buf[0];
  if (raw != nullptr) {
    // The raw totals in the CPU's partial layout (X^T r, sum r^2, sum r, sum w): across
    // processes the host adds every process's row first, then finishes the pass itself.
    raw[column] = total;
    if constexpr (kWeighted) {
      if (column == plan::sse_column(d)) raw[plan::sum_w_column(d)] = wbuf[0];
    }
    return;
  }
  if constexpr (kWeighted) {
    m = wbuf[0];
    if (m == 0.0) {
      // Every weight in the batch is zero: no loss, a zero gradient (the step does
      // nothing) and nothing added to the running sums, like the CPU reference.
      if (column < d) {
        grad[column] = 0.0;
      } else if (column == plan::sum_r_column(d)) {
        grad[d] = 0.0;
      } else {
        stats[kStatLoss] = 0.0;
      }
      return;
    }
    inv_m = 1.0 / m;
  }
  // Same expressions as the CPU reference, so equal sums give equal bits.
  if (column < d) {
    grad[column] = total * (2.0 * inv_m);
  } else if (column == plan::sum_r_column(d)) {
    grad[d] = 2.0 * inv_m * total;
  } else {
    stats[kStatLoss] = total * inv_m;
    stats[kStatRunningSse] += total;
    stats[kStatRunningRows] += m;
  }
}

// --- launchers -----------------------------------------------------------------------------

template <class T, bool W>
FusedKernel register_kernel(int bucket, RowAccess access) {
#define STEEPEST_REGISTER_CASE(D)                                                  \
  case D:                                                                          \
    if (access == RowAccess::col) return fused_loss_gradient_registers<T, D, RowAccess::col, W>; \
    if constexpr (D * sizeof(T) % 16 == 0) {                                       \
      if (access == RowAccess::row_vector)                                          \
        return fused_loss_gradient_registers<T, D, RowAccess::row_vector, W>;       \
    }                                                                              \
    return fused_loss_gradient_registers<T, D, RowAccess::row_scalar, W>;
  switch (bucket) {
    STEEPEST_REGISTER_CASE(1)
    STEEPEST_REGISTER_CASE(2)
    STEEPEST_REGISTER_CASE(4)
    STEEPEST_REGISTER_CASE(8)
    STEEPEST_REGISTER_CASE(16)
    STEEPEST_REGISTER_CASE(32)
    default:
      return nullptr;
  }
#undef STEEPEST_REGISTER_CASE
}

template <class T, bool W>
FusedKernel tiled_kernel(Layout layout) {
  return layout == Layout::row_major ? fused_loss_gradient_tiled<T, true, W>
                                     : fused_loss_gradient_tiled<T, false, W>;
}

// The register kernel of \p bucket, or the tiled kernel when bucket is 0.
template <class T, bool W>
FusedKernel fused_kernel(int bucket, RowAccess access, Layout layout) {
  return bucket != 0 ? register_kernel<T, W>(bucket, access) : tiled_kernel<T, W>(layout);
}

template <class T>
FusedKernel fused_kernel(int bucket, RowAccess access, Layout layout, bool weighted) {
  return weighted ? fused_kernel<T, true>(bucket, access, layout)
                  : fused_kernel<T, false>(bucket, access, layout);
}

}  // namespace

FusedPlan plan_fused_loss_gradient(std::int64_t d, DType x_dtype, Layout layout, bool weighted,
                                   int device) {
  if (d < 1) throw InvalidArgument("CUDA backend: d must be >= 1");
  FusedPlan p;
  p.weighted = weighted;
  const std::int64_t elem = dtype_size(x_dtype);
  const int bucket = plan::feature_bucket(d);
  RowAccess access = RowAccess::col;
  if (layout == Layout::row_major) {
    access = plan::row_vector_loads(d, elem) ? RowAccess::row_vector : RowAccess::row_scalar;
  }
  p.kernel = x_dtype == DType::float32 ? fused_kernel<float>(bucket, access, layout, weighted)
                                       : fused_kernel<double>(bucket, access, layout, weighted);
  if (bucket != 0) {
    p.name = "fused_loss_gradient_registers";
    p.rows_per_iteration = kFusedThreads;
  } else {
    int optin = 0;
    STEEPEST_CUDA_CHECK(
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    cudaFuncAttributes attributes{};
    STEEPEST_CUDA_CHECK(cudaFuncGetAttributes(&attributes, reinterpret_cast<const void*>(p.kernel)));
    // Static plus dynamic shared memory may not exceed the opt-in maximum.
    const std::int64_t dynamic_max =
        static_cast<std::int64_t>(optin) - static_cast<std::int64_t>(attributes.sharedSizeBytes);
    int rows = plan::tile_rows(d, elem, plan::min64(dynamic_max, plan::kPreferredTiledSmem));
    if (rows == 0) rows = plan::tile_rows(d, elem, dynamic_max);
    if (rows == 0) {
      throw DeviceUnavailable("CUDA backend: d = " + std::to_string(d) +
                              " features need " +
                              std::to_string(plan::tiled_smem_bytes(d, 1, elem) / 1024) +
                              " KiB of shared memory per block; this device offers " +
                              std::to_string(optin / 1024) + " KiB (use the CPU backend)");
    }
    p.name = "fused_loss_gradient_tiled";
    p.tile_rows = rows;
    p.smem_bytes = plan::tiled_smem_bytes(d, rows, elem);
    p.rows_per_iteration = rows;
    // The limit is a process-wide attribute of the kernel on the current device, shared by
    // every backend using this instantiation: setting it to this plan's need would lower
    // it under a live backend that needs more, whose next launch would then fail.  So it
    // is only ever raised, straight to the device's maximum (the launch still reserves
    // just p.smem_bytes, so occupancy is unchanged).  Every caller writes the same value,
    // so concurrent planners need no lock.
    if (p.smem_bytes > 48 * 1024) {
      STEEPEST_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(p.kernel),
                                               cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(dynamic_max)));
    }
  }
  int sms = 0, per_sm = 0;
  STEEPEST_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  STEEPEST_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &per_sm, reinterpret_cast<const void*>(p.kernel), kFusedThreads,
      static_cast<std::size_t>(p.smem_bytes)));
  if (per_sm < 1) {
    throw CudaError(std::string("CUDA backend: ") + p.name + " cannot be resident on this device");
  }
  p.max_grid = plan::max_grid(sms, per_sm);
  return p;
}

void launch_fused_loss_gradient(const FusedPlan& plan, const FusedArgs& args,
                                std::int64_t grid, cudaStream_t stream) {
  if (plan.kernel == nullptr || args.begin < 0 || args.end <= args.begin || args.end > args.n ||
      grid < 1 || grid > plan.max_grid || plan.weighted != (args.weights != nullptr)) {
    throw InvalidArgument("launch_fused_loss_gradient: bad plan, row range, grid or weights");
  }
  plan.kernel<<<static_cast<unsigned>(grid), kFusedThreads,
                static_cast<std::size_t>(plan.smem_bytes), stream>>>(args);
  STEEPEST_CUDA_CHECK_LAUNCH(plan.name, stream);
}

void launch_reduce_partials(const double* partials, std::int64_t grid, std::int64_t d,
                            std::int64_t m, bool weighted, double* grad, double* stats,
                            cudaStream_t stream, double* raw) {
  if (grid < 1 || d < 1 || m < 1) throw InvalidArgument("launch_reduce_partials: empty pass");
  // One block per output column: ceil_div(columns, 1 column per block).
  const std::int64_t blocks = plan::ceil_div(plan::output_columns(d), 1);
  const double inv_m = 1.0 / static_cast<double>(m);
  const auto kernel = weighted ? reduce_partials<true> : reduce_partials<false>;
  kernel<<<static_cast<unsigned>(blocks), kReduceThreads, 0, stream>>>(
      partials, grid, d, inv_m, static_cast<double>(m), grad, stats, raw);
  STEEPEST_CUDA_CHECK_LAUNCH("reduce_partials", stream);
}

}  // namespace steepest::detail
