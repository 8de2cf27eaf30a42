// The Gram pass: every row of X, y (and the weights) is read once (once per pair group for
// d > 78), shifted in float64, and its outer product added into the upper triangle of
// S' = sum w z' z'^T, z' = (x - s_x, y - s_y, 1), in float64: for d <= 4 by one row per
// thread with every sum in registers, beyond on FP64 tensor cores (mma.m8n8k4).
// kernels/launch_plan.hpp ("Gram sums") gives the three kernels' tiling and fixed order.
//
// The tensor-core kernels move tiles from device memory to shared memory with cp.async in
// their storage type, two buffers deep (the next tile's copies are in flight while the
// current one is used); a lane widens its value to float64 and subtracts the shift as it
// forms its mma operand, so a float32 value enters exactly and only z = x - s rounds.
// Weighted, the A operand is w z (one more rounding), B is z.  Rows past the end of the pass
// contribute operands of 0 and are never read.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "cuda_check.cuh"
#include "gram_sums.cuh"
#include "launch_plan.hpp"
#include "steepest/error.hpp"

namespace steepest::detail {
namespace {

using plan::kGramPairsPerWarp;
using plan::kGramThreads;
using plan::kGramWarps;
using plan::kMmaDepth;
using plan::kMmaEdge;
using plan::kWarpSize;

// --- device primitives -----------------------------------------------------------------------

/// C += A B for one 8x8x4 block in float64: this lane's A[lane/4][lane%4], B[lane%4][lane/4]
/// and C[lane/4][2 (lane%4) + t].
__device__ __forceinline__ void mma_8x8x4(double (&c)[2], double a, double b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  // volatile: a warp-wide instruction, never to be moved into divergent code.
  asm volatile("mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64 {%0,%1}, {%2}, {%3}, {%0,%1};\n"
               : "+d"(c[0]), "+d"(c[1])
               : "d"(a), "d"(b));
#else
  // No FP64 tensor cores before sm_80: the same product from shuffles, k = 0..3 in order.
  const int lane = threadIdx.x % kWarpSize;
  const int row = lane / 4, col = 2 * (lane % 4);
#pragma unroll
  for (int k = 0; k < kMmaDepth; ++k) {
    const double ak = __shfl_sync(0xffffffffu, a, row * 4 + k);
    const double b0 = __shfl_sync(0xffffffffu, b, col * 4 + k);
    const double b1 = __shfl_sync(0xffffffffu, b, (col + 1) * 4 + k);
    c[0] = fma(ak, b0, c[0]);
    c[1] = fma(ak, b1, c[1]);
  }
#endif
}

/// Asynchronous copy of kBytes (4, 8 or 16, aligned so) from device to shared memory.
template <int kBytes>
__device__ __forceinline__ void copy_async(void* dst, const void* src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  if constexpr (kBytes == 16) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(src) : "memory");
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"(s), "l"(src), "n"(kBytes)
                 : "memory");
  }
#else
  struct alignas(kBytes) Chunk {
    unsigned char b[kBytes];
  };
  *static_cast<Chunk*>(dst) = *static_cast<const Chunk*>(src);
#endif
}

__device__ __forceinline__ void copy_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

/// Waits until at most kPending of this thread's committed copy groups are in flight.
template <int kPending>
__device__ __forceinline__ void copy_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
#endif
}

/// \p count elements from \p src to \p dst (16-byte aligned), by lanes \p lane of \p lanes:
/// 16-byte copies when \p src is aligned too, then the tail element by element.
template <class T>
__device__ __forceinline__ void copy_segment(T* dst, const T* src, int count, int lane, int lanes) {
  int done = 0;
  if ((reinterpret_cast<std::uintptr_t>(src) & 15u) == 0) {
    constexpr int kPer = static_cast<int>(16 / sizeof(T));
    const int chunks = count / kPer;
    for (int c = lane; c < chunks; c += lanes) copy_async<16>(dst + c * kPer, src + c * kPer);
    done = chunks * kPer;
  }
  for (int e = done + lane; e < count; e += lanes) copy_async<static_cast<int>(sizeof(T))>(dst + e, src + e);
}

__device__ __forceinline__ std::int64_t row_at(const GramArgs& a, std::int64_t position) {
  return a.order != nullptr ? __ldg(a.order + position) : position;
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// --- staging a tile --------------------------------------------------------------------------

/// One of a block's two tile buffers (plan::gram_buffer_bytes): the tile of X in its storage
/// type (row-major: row r at r * row_pitch; column-major: column j at j * col_pitch), then y
/// and the weights in theirs.
struct GramTile {
  unsigned char* x;
  unsigned char* y;
  unsigned char* w;
};

__device__ __forceinline__ GramTile gram_tile(unsigned char* smem, const GramArgs& a, int which) {
  unsigned char* base = smem + static_cast<std::int64_t>(which) * a.buffer_bytes;
  return GramTile{base, base + a.y_offset, base + a.w_offset};
}

/// A vector of the rows (y or the weights, float32 or float64) into \p dst.
template <class V>
__device__ __forceinline__ void stage_vector(const GramArgs& a, const void* src, unsigned char* dst,
                                             std::int64_t first, int valid) {
  const V* v = static_cast<const V*>(src);
  V* out = reinterpret_cast<V*>(dst);
  if (a.order == nullptr) {
    copy_segment(out, v + first, valid, threadIdx.x, kGramThreads);
  } else {
    for (int r = threadIdx.x; r < valid; r += kGramThreads) {
      copy_async<static_cast<int>(sizeof(V))>(out + r, v + row_at(a, first + r));
    }
  }
}

/// Rows of a row-major X: the tile's bytes in one copy when rows are not padded and the
/// order is natural; else row by row, in 16-byte pieces when a row is a multiple of them.
template <class T>
__device__ __forceinline__ void stage_rows(const GramArgs& a, T* dst, std::int64_t first, int valid) {
  const T* X = static_cast<const T*>(a.X);
  const int d = static_cast<int>(a.d);
  if (a.order == nullptr && a.row_pitch == d) {
    copy_segment(dst, X + first * a.d, valid * d, threadIdx.x, kGramThreads);
  } else if ((d * sizeof(T)) % 16 == 0) {
    constexpr int kPer = static_cast<int>(16 / sizeof(T));
    const int per_row = d / kPer;
    for (int c = threadIdx.x; c < valid * per_row; c += kGramThreads) {
      const int r = c / per_row, k = c - r * per_row;
      copy_async<16>(dst + r * a.row_pitch + k * kPer, X + row_at(a, first + r) * a.d + k * kPer);
    }
  } else {
    for (int e = threadIdx.x; e < valid * d; e += kGramThreads) {
      const int r = e / d, j = e - r * d;
      copy_async<static_cast<int>(sizeof(T))>(dst + r * a.row_pitch + j, X + row_at(a, first + r) * a.d + j);
    }
  }
}

/// Columns of a column-major X: natural order, each column's rows are one segment (warp w
/// takes columns w, w + 8, ...); ordered, element by element.
template <class T>
__device__ __forceinline__ void stage_columns(const GramArgs& a, T* dst, std::int64_t first, int valid) {
  const T* X = static_cast<const T*>(a.X);
  const int d = static_cast<int>(a.d);
  if (a.order == nullptr) {
    const int lane = threadIdx.x % kWarpSize;
    for (int j = threadIdx.x / kWarpSize; j < d; j += kGramWarps) {
      copy_segment(dst + j * a.col_pitch, X + j * a.n + first, valid, lane, kWarpSize);
    }
  } else {
    for (int e = threadIdx.x; e < valid * d; e += kGramThreads) {
      const int j = e / valid, r = e - j * valid;
      copy_async<static_cast<int>(sizeof(T))>(dst + j * a.col_pitch + r, X + j * a.n + row_at(a, first + r));
    }
  }
}

/// Issues the copies of the tile at positions [first, first + valid) into \p buf (the caller
/// commits them).
template <class T, bool kRowMajor, bool kWeighted>
__device__ __forceinline__ void stage_tile(const GramArgs& a, const GramTile& buf, std::int64_t first,
                                           int valid) {
  if constexpr (kRowMajor) {
    stage_rows(a, reinterpret_cast<T*>(buf.x), first, valid);
  } else {
    stage_columns(a, reinterpret_cast<T*>(buf.x), first, valid);
  }
  if (a.y_is_double != 0) {
    stage_vector<double>(a, a.y, buf.y, first, valid);
  } else {
    stage_vector<float>(a, a.y, buf.y, first, valid);
  }
  if constexpr (kWeighted) {
    if (a.weights_are_double != 0) {
      stage_vector<double>(a, a.weights, buf.w, first, valid);
    } else {
      stage_vector<float>(a, a.weights, buf.w, first, valid);
    }
  }
}

// --- reading a staged tile -----------------------------------------------------------------

__device__ __forceinline__ double tile_value(const unsigned char* v, int is_double, int r) {
  return is_double != 0 ? reinterpret_cast<const double*>(v)[r]
                        : static_cast<double>(reinterpret_cast<const float*>(v)[r]);
}

/// Augmented column \p c of tile row \p r, shifted, in float64: x_c - s_c (c < d), y - s_y
/// (c = d), 1 (c = d + 1), 0 beyond (the last block's padding).
template <class T, bool kRowMajor>
__device__ __forceinline__ double z_value(const GramArgs& a, const GramTile& buf, int r, int c,
                                          double shift_c) {
  if (c < a.d) {
    const T* x = reinterpret_cast<const T*>(buf.x);
    const T v = kRowMajor ? x[r * a.row_pitch + c] : x[c * a.col_pitch + r];
    return static_cast<double>(v) - shift_c;
  }
  if (c == a.d) return tile_value(buf.y, a.y_is_double, r) - shift_c;
  return c == a.d + 1 ? 1.0 : 0.0;
}

/// The shift of augmented column \p c (0 for the constant column and the padding).
__device__ __forceinline__ double shift_of(const GramArgs& a, int c) {
  return c <= a.d ? a.shift[c] : 0.0;
}

/// Positions of tile \p tile: its first, and how many of its rows exist.
__device__ __forceinline__ std::int64_t tile_first(const GramArgs& a, std::int64_t tile) {
  return a.begin + tile * a.tile_rows;
}
__device__ __forceinline__ int tile_valid(const GramArgs& a, std::int64_t tile) {
  return static_cast<int>(plan::min64(a.tile_rows, a.end - tile_first(a, tile)));
}

/// The pipeline both kernels share: block b's tiles b, b + slices, ... staged two deep;
/// \p use(buf, valid) runs on each once its copies have landed, between two barriers.
template <class T, bool kRowMajor, bool kWeighted, class Use>
__device__ __forceinline__ void for_each_tile(const GramArgs& a, unsigned char* smem, Use&& use) {
  const std::int64_t tiles = plan::ceil_div(a.end - a.begin, a.tile_rows);
  std::int64_t tile = blockIdx.x;
  if (tile < tiles) {
    stage_tile<T, kRowMajor, kWeighted>(a, gram_tile(smem, a, 0), tile_first(a, tile), tile_valid(a, tile));
  }
  copy_commit();
  for (int k = 0; tile < tiles; tile += gridDim.x, ++k) {
    const std::int64_t next = tile + gridDim.x;
    if (next < tiles) {
      stage_tile<T, kRowMajor, kWeighted>(a, gram_tile(smem, a, (k + 1) & 1), tile_first(a, next),
                                          tile_valid(a, next));
    }
    copy_commit();  // possibly empty: wait_group 1 then always means "this tile has landed"
    copy_wait<1>();
    __syncthreads();
    use(gram_tile(smem, a, k & 1), tile_valid(a, tile));
    __syncthreads();  // the buffer is refilled two tiles on
  }
  copy_wait<0>();
}

// --- kernels -------------------------------------------------------------------------------

/// Row i of X, widened, into x[0..D): 16-byte vector loads when a row is exactly the
/// bucket and a multiple of 16 bytes (rows are packed, the buffer 256-byte aligned); zero
/// beyond d.
template <class T, int D, bool kRowMajor>
__device__ __forceinline__ void load_row(const GramArgs& a, std::int64_t i, double (&x)[D]) {
  const T* X = static_cast<const T*>(a.X);
  if constexpr (kRowMajor && (D * sizeof(T)) % 16 == 0) {
    if (a.d == D) {
      constexpr int kPer = static_cast<int>(16 / sizeof(T));
      using V = typename std::conditional<sizeof(T) == 4, float4, double2>::type;
      const V* row = reinterpret_cast<const V*>(X + i * D);
#pragma unroll
      for (int v = 0; v < D / kPer; ++v) {
        const V q = __ldg(row + v);
        if constexpr (sizeof(T) == 4) {
          x[v * kPer] = q.x;
          x[v * kPer + 1] = q.y;
          x[v * kPer + 2] = q.z;
          x[v * kPer + 3] = q.w;
        } else {
          x[v * kPer] = q.x;
          x[v * kPer + 1] = q.y;
        }
      }
      return;
    }
  }
#pragma unroll
  for (int j = 0; j < D; ++j) {
    x[j] = j < a.d ? static_cast<double>(__ldg(kRowMajor ? X + i * a.d + j : X + j * a.n + i)) : 0.0;
  }
}

__device__ __forceinline__ double load_value(const void* v, int is_double, std::int64_t i) {
  return is_double != 0 ? __ldg(static_cast<const double*>(v) + i)
                        : static_cast<double>(__ldg(static_cast<const float*>(v) + i));
}

/// The rows kernel's end: each sum over the warp's lanes (butterfly), then over the warps
/// in order, into the block's partials (the bucket's padding is not written).
template <int D, int kSums>
__device__ __forceinline__ void write_row_sums(const GramArgs& a, double (&acc)[kSums]) {
  __shared__ double warp_totals[kGramWarps][kSums];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
#pragma unroll
  for (int e = 0; e < kSums; ++e) {
    const double v = warp_sum(acc[e]);
    if (lane == 0) warp_totals[warp][e] = v;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < kSums; e += kGramThreads) {
    double total = 0.0;
    for (int w = 0; w < kGramWarps; ++w) total += warp_totals[w][e];
    const std::int64_t ca = plan::gram_bucket_column(a.d, D, plan::gram_pair_row(e, D + 2));
    const std::int64_t cb = plan::gram_bucket_column(a.d, D, plan::gram_pair_col(e, D + 2));
    const std::int64_t idx = ca < 0 || cb < 0 ? -1 : plan::gram_output_index(a.d, ca, cb);
    if (idx >= 0) a.partials[idx * gridDim.x + blockIdx.x] = total;
  }
}

/// d <= plan::kGramRowFeatures (bucket D = 1, 2, 4): one row per thread, every sum of the
/// bucket's D + 2 augmented columns in registers.  kBatch grid-stride rows are loaded before
/// the first is used (more bytes in flight); they are added in position order.
template <class T, int D, bool kRowMajor, bool kWeighted>
__global__ void __launch_bounds__(kGramThreads) gram_sums_rows(GramArgs a) {
  constexpr int kCols = D + 2, kSums = kCols * (kCols + 1) / 2;
  constexpr int kBatch = plan::register_batch(D);
  double shift[kCols];
#pragma unroll
  for (int j = 0; j < D; ++j) shift[j] = j < a.d ? a.shift[j] : 0.0;  // padding: x = 0, z = 0
  shift[D] = a.shift[a.d];
  shift[D + 1] = 0.0;
  double acc[kSums];
#pragma unroll
  for (int e = 0; e < kSums; ++e) acc[e] = 0.0;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * kGramThreads;
  for (std::int64_t pos = plan::register_first(a.begin, blockIdx.x, threadIdx.x); pos < a.end;
       pos += kBatch * stride) {
    double z[kBatch][kCols];
    [[maybe_unused]] double wt[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (pos + u * stride < a.end) {
        const std::int64_t i = row_at(a, pos + u * stride);
        double x[D];
        load_row<T, D, kRowMajor>(a, i, x);
#pragma unroll
        for (int j = 0; j < D; ++j) z[u][j] = x[j] - shift[j];
        z[u][D] = load_value(a.y, a.y_is_double, i) - shift[D];
        z[u][D + 1] = 1.0;
        if constexpr (kWeighted) wt[u] = load_value(a.weights, a.weights_are_double, i);
      }
    }
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (pos + u * stride >= a.end) break;
      int e = 0;
#pragma unroll
      for (int j = 0; j < kCols; ++j) {
        const double wz = kWeighted ? wt[u] * z[u][j] : z[u][j];
#pragma unroll
        for (int k = j; k < kCols; ++k, ++e) acc[e] = fma(wz, z[u][k], acc[e]);
      }
    }
  }
  write_row_sums<D>(a, acc);
}

/// Resident blocks per SM the small kernel's registers are capped for: 4 (64 registers) up
/// to 3 blocks of 8 columns, 3 for 4 (80: 10 block pairs), 2 for 5 (128: 15).
constexpr int small_min_blocks(int nb) { return nb <= 3 ? 4 : (nb == 4 ? 3 : 2); }

/// Small d (NB <= plan::kGramSmallBlocks blocks): every warp adds every block pair over its
/// own slabs (w, w + 8, ...) of each tile; the warps' sums are added in warp order at the end.
template <class T, int NB, bool kRowMajor, bool kWeighted>
__global__ void __launch_bounds__(kGramThreads, small_min_blocks(NB)) gram_sums_small(GramArgs a) {
  constexpr int kPairs = NB * (NB + 1) / 2;
  extern __shared__ __align__(16) unsigned char smem[];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  double shift[NB];
#pragma unroll
  for (int J = 0; J < NB; ++J) shift[J] = shift_of(a, kMmaEdge * J + lane / 4);
  double acc[kPairs][2];
#pragma unroll
  for (int q = 0; q < kPairs; ++q) acc[q][0] = acc[q][1] = 0.0;

  for_each_tile<T, kRowMajor, kWeighted>(a, smem, [&](const GramTile& buf, int valid) {
    for (int s = warp; s < a.tile_rows / kMmaDepth && s * kMmaDepth < valid; s += kGramWarps) {
      const int r = s * kMmaDepth + lane % 4;
      const bool live = r < valid;
      double z[NB];
#pragma unroll
      for (int J = 0; J < NB; ++J) {
        z[J] = live ? z_value<T, kRowMajor>(a, buf, r, kMmaEdge * J + lane / 4, shift[J]) : 0.0;
      }
      double wz[NB];
      [[maybe_unused]] const double wt = kWeighted && live ? tile_value(buf.w, a.weights_are_double, r) : 0.0;
#pragma unroll
      for (int J = 0; J < NB; ++J) wz[J] = kWeighted ? wt * z[J] : z[J];
      int q = 0;
#pragma unroll
      for (int J = 0; J < NB; ++J) {
#pragma unroll
        for (int K = J; K < NB; ++K) mma_8x8x4(acc[q++], wz[J], z[K]);
      }
    }
  });

  // The warps' sums of each pair, added in warp order; entry e of the 8x8 block is lane
  // e / 2's accumulator e % 2.
  double* scratch = reinterpret_cast<double*>(smem + 2 * static_cast<std::int64_t>(a.buffer_bytes));
  int q = 0;
#pragma unroll
  for (int J = 0; J < NB; ++J) {
#pragma unroll
    for (int K = J; K < NB; ++K, ++q) {
      scratch[warp * 64 + 2 * lane] = acc[q][0];
      scratch[warp * 64 + 2 * lane + 1] = acc[q][1];
      __syncthreads();
      if (threadIdx.x < kMmaEdge * kMmaEdge) {
        const int e = threadIdx.x;
        double sum = 0.0;
        for (int w = 0; w < kGramWarps; ++w) sum += scratch[w * 64 + e];
        const std::int64_t idx = plan::gram_output_index(a.d, kMmaEdge * J + e / kMmaEdge, kMmaEdge * K + e % kMmaEdge);
        if (idx >= 0) a.partials[idx * gridDim.x + blockIdx.x] = sum;
      }
      __syncthreads();
    }
  }
}

/// Larger d: warp w of pair group blockIdx.y owns pairs 64 g + w + 8 k (k < 8) and adds every
/// slab of each tile into them.  One resident block an SM is asked for outright: left to
/// itself ptxas capped the registers at 128 and spilled (sm_90, nvcc 13.0).
template <class T, bool kRowMajor, bool kWeighted>
__global__ void __launch_bounds__(kGramThreads, 1) gram_sums_pairs(GramArgs a) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const std::int64_t pairs = plan::gram_pair_count(a.blocks);
  // The shift in shared memory (registers for 16 shifts would halve the resident blocks);
  // for_each_tile's first barrier comes before any use.
  double* shift = reinterpret_cast<double*>(smem + 2 * static_cast<std::int64_t>(a.buffer_bytes));
  for (int c = threadIdx.x; c <= a.d; c += kGramThreads) shift[c] = a.shift[c];
  int col_a[kGramPairsPerWarp], col_b[kGramPairsPerWarp];
  double acc[kGramPairsPerWarp][2];
  int owned = 0;  // this warp's pairs are k < owned
#pragma unroll
  for (int k = 0; k < kGramPairsPerWarp; ++k) {
    const std::int64_t q = blockIdx.y * plan::kGramPairsPerBlock + warp + kGramWarps * k;
    if (q < pairs) owned = k + 1;
    const std::int64_t qq = q < pairs ? q : 0;
    col_a[k] = kMmaEdge * plan::gram_pair_row(qq, a.blocks) + lane / 4;
    col_b[k] = kMmaEdge * plan::gram_pair_col(qq, a.blocks) + lane / 4;
    acc[k][0] = acc[k][1] = 0.0;
  }

  for_each_tile<T, kRowMajor, kWeighted>(a, smem, [&](const GramTile& buf, int valid) {
    for (int s = 0; s < a.tile_rows / kMmaDepth && s * kMmaDepth < valid; ++s) {
      const int r = s * kMmaDepth + lane % 4;
      const bool live = r < valid;
      [[maybe_unused]] const double wt = kWeighted && live ? tile_value(buf.w, a.weights_are_double, r) : 0.0;
#pragma unroll
      for (int k = 0; k < kGramPairsPerWarp; ++k) {
        if (k >= owned) break;  // warp-uniform
        const int ca = col_a[k], cb = col_b[k];
        const double za = live ? z_value<T, kRowMajor>(a, buf, r, ca, ca <= a.d ? shift[ca] : 0.0) : 0.0;
        const double zb = cb == ca ? za
                          : live ? z_value<T, kRowMajor>(a, buf, r, cb, cb <= a.d ? shift[cb] : 0.0) : 0.0;
        mma_8x8x4(acc[k], kWeighted ? wt * za : za, zb);
      }
    }
  });

  // C[lane/4][2 (lane%4) + t] is entry (col_a, 8 K + 2 (lane%4) + t) of S'.
#pragma unroll
  for (int k = 0; k < kGramPairsPerWarp; ++k) {
    if (k >= owned) break;
#pragma unroll
    for (int t = 0; t < 2; ++t) {
      const int b = col_b[k] - lane / 4 + 2 * (lane % 4) + t;
      const std::int64_t idx = plan::gram_output_index(a.d, col_a[k], b);
      if (idx >= 0) a.partials[idx * gridDim.x + blockIdx.x] = acc[k][t];
    }
  }
}

/// One warp per entry: lane l adds slices l, l + 32, ... in order, then the butterfly.
__global__ void __launch_bounds__(kGramThreads)
    gram_reduce(const double* __restrict__ partials, std::int64_t slices, std::int64_t entries,
                double* __restrict__ out) {
  const std::int64_t e = static_cast<std::int64_t>(blockIdx.x) * kGramWarps + threadIdx.x / kWarpSize;
  if (e >= entries) return;  // whole warps
  const int lane = threadIdx.x % kWarpSize;
  const double* in = partials + e * slices;
  double s = 0.0;
  for (std::int64_t b = lane; b < slices; b += kWarpSize) s += in[b];
  s = warp_sum(s);
  if (lane == 0) out[e] = s;
}

// --- kernel choice ---------------------------------------------------------------------------

template <class T, bool R, bool W>
GramKernel small_kernel(int nb) {
  switch (nb) {
    case 1: return gram_sums_small<T, 1, R, W>;
    case 2: return gram_sums_small<T, 2, R, W>;
    case 3: return gram_sums_small<T, 3, R, W>;
    case 4: return gram_sums_small<T, 4, R, W>;
    case 5: return gram_sums_small<T, 5, R, W>;
    default: return nullptr;
  }
}

template <class T, bool R, bool W>
GramKernel rows_kernel(int bucket) {
  switch (bucket) {
    case 1: return gram_sums_rows<T, 1, R, W>;
    case 2: return gram_sums_rows<T, 2, R, W>;
    case 4: return gram_sums_rows<T, 4, R, W>;
    default: return nullptr;
  }
}

template <class T, bool R, bool W>
GramKernel gram_kernel(std::int64_t d) {
  switch (plan::gram_kind(d)) {
    case plan::GramKind::rows: return rows_kernel<T, R, W>(plan::feature_bucket(d));
    case plan::GramKind::small: return small_kernel<T, R, W>(plan::gram_blocks(d));
    case plan::GramKind::pairs: return gram_sums_pairs<T, R, W>;
  }
  return nullptr;
}

template <class T>
GramKernel gram_kernel(std::int64_t d, Layout layout, bool weighted) {
  const bool row = layout == Layout::row_major;
  if (weighted) return row ? gram_kernel<T, true, true>(d) : gram_kernel<T, false, true>(d);
  return row ? gram_kernel<T, true, false>(d) : gram_kernel<T, false, false>(d);
}

const char* gram_kernel_name(std::int64_t d) {
  switch (plan::gram_kind(d)) {
    case plan::GramKind::rows: return "gram_sums_rows";
    case plan::GramKind::small: return "gram_sums_small";
    case plan::GramKind::pairs: return "gram_sums_pairs";
  }
  return "gram_sums";
}

}  // namespace

GramPlan plan_gram_sums(std::int64_t d, DType x_dtype, DType y_dtype, DType w_dtype, Layout layout,
                        bool weighted, int device) {
  if (d < 1) throw InvalidArgument("CUDA backend: d must be >= 1");
  GramPlan p;
  p.weighted = weighted;
  p.blocks = plan::gram_blocks(d);
  p.pair_groups = plan::gram_pair_groups(d);
  p.entries = plan::gram_entries(d);
  const std::int64_t elem = dtype_size(x_dtype);
  const plan::GramElems elems{elem, dtype_size(y_dtype), weighted ? dtype_size(w_dtype) : 0};
  const bool row_major = layout == Layout::row_major;
  p.kernel = x_dtype == DType::float32 ? gram_kernel<float>(d, layout, weighted)
                                       : gram_kernel<double>(d, layout, weighted);
  p.name = gram_kernel_name(d);
  if (p.kernel == nullptr) throw InvalidArgument("CUDA backend: no Gram kernel for d = " + std::to_string(d));
  int optin = 0;
  STEEPEST_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  cudaFuncAttributes attributes{};
  STEEPEST_CUDA_CHECK(cudaFuncGetAttributes(&attributes, reinterpret_cast<const void*>(p.kernel)));
  const std::int64_t dynamic_max =
      static_cast<std::int64_t>(optin) - static_cast<std::int64_t>(attributes.sharedSizeBytes);
  const std::int64_t budget = plan::gram_kind(d) == plan::GramKind::pairs ? plan::kGramPairsSmem
                                                                          : plan::kGramSmallSmem;
  p.tile_rows = plan::gram_tile_rows(d, elems, row_major, plan::min64(budget, dynamic_max));
  if (p.tile_rows == 0) p.tile_rows = plan::gram_tile_rows(d, elems, row_major, dynamic_max);
  if (p.tile_rows == 0) {
    throw DeviceUnavailable("CUDA backend: the Gram pass over d = " + std::to_string(d) +
                            " features needs more shared memory per block than this device's " +
                            std::to_string(optin / 1024) + " KiB (use the CPU backend)");
  }
  p.smem_bytes = plan::gram_smem_bytes(d, p.tile_rows, elems, row_major);
  p.row_pitch = static_cast<std::int32_t>(plan::gram_row_pitch(d, elem));
  p.col_pitch = static_cast<std::int32_t>(plan::gram_col_pitch(p.tile_rows));
  p.buffer_bytes = static_cast<std::int32_t>(plan::gram_buffer_bytes(d, p.tile_rows, elems, row_major));
  p.y_offset = static_cast<std::int32_t>(plan::gram_x_bytes(d, p.tile_rows, elem, row_major));
  p.w_offset = p.y_offset + static_cast<std::int32_t>(plan::gram_vector_bytes(p.tile_rows, elems.y));
  // Only ever raised, to the device's maximum: see plan_fused_loss_gradient.
  if (p.smem_bytes > 48 * 1024) {
    STEEPEST_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(p.kernel),
                                             cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(dynamic_max)));
  }
  int sms = 0, per_sm = 0;
  STEEPEST_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  STEEPEST_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &per_sm, reinterpret_cast<const void*>(p.kernel), kGramThreads,
      static_cast<std::size_t>(p.smem_bytes)));
  if (per_sm < 1) {
    throw CudaError(std::string("CUDA backend: ") + p.name + " cannot be resident on this device");
  }
  p.max_slices = plan::max64(1, plan::max_grid(sms, per_sm) / p.pair_groups);
  return p;
}

void launch_gram_sums(const GramPlan& plan, GramArgs args, std::int64_t slices, double* out,
                      cudaStream_t stream) {
  if (plan.kernel == nullptr || args.begin < 0 || args.end <= args.begin || args.end > args.n ||
      slices < 1 || slices > plan.max_slices || plan.weighted != (args.weights != nullptr) ||
      args.shift == nullptr || args.partials == nullptr || out == nullptr) {
    throw InvalidArgument("launch_gram_sums: bad plan, row range, slices, weights or buffers");
  }
  args.blocks = plan.blocks;
  args.tile_rows = plan.tile_rows;
  args.row_pitch = plan.row_pitch;
  args.col_pitch = plan.col_pitch;
  args.buffer_bytes = plan.buffer_bytes;
  args.y_offset = plan.y_offset;
  args.w_offset = plan.w_offset;
  const dim3 grid(static_cast<unsigned>(slices), static_cast<unsigned>(plan.pair_groups));
  plan.kernel<<<grid, kGramThreads, static_cast<std::size_t>(plan.smem_bytes), stream>>>(args);
  STEEPEST_CUDA_CHECK_LAUNCH(plan.name, stream);
  const auto blocks = static_cast<unsigned>(plan::ceil_div(plan.entries, kGramWarps));
  gram_reduce<<<blocks, kGramThreads, 0, stream>>>(args.partials, slices, plan.entries, out);
  STEEPEST_CUDA_CHECK_LAUNCH("gram_reduce", stream);
}

}  // namespace steepest::detail
