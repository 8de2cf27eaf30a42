// Internal: the shape of a CUDA pass (grid size, which block and thread visit which rows,
// the feature buckets, shared-memory budget) and the fixed order in which partial sums
// are combined.  Plain C++17 so the unit tests run it on the host in the CPU-only build;
// the kernels include it too, which is why every function is STEEPEST_HD and constexpr.
//
// Determinism rests on this file: for a given (m, d, dtype, layout, SM count) every
// function here returns the same answer, so the kernels add the same numbers in the same
// order on every run.  The host emulation at the end replays that order so the tests can
// check it covers every row exactly once and agrees with a naive float64 sum.
#pragma once

#include <cstdint>
#include <vector>

#if defined(__CUDACC__)
#define STEEPEST_HD __host__ __device__
#else
#define STEEPEST_HD
#endif

namespace steepest::detail::plan {

/// Threads per block of the fused kernels; a multiple of the warp size and a power of two
/// (the block reductions are binary trees).
inline constexpr int kWarpSize = 32;
inline constexpr int kFusedThreads = 256;
inline constexpr int kWarpsPerBlock = kFusedThreads / kWarpSize;
/// Threads per block of the second pass (one block per output column).
inline constexpr int kReduceThreads = 256;
/// Largest d handled with per-thread register accumulators; larger d is tiled.
inline constexpr int kMaxRegisterFeatures = 32;
/// Cap on resident blocks per SM: 8 x 256 threads fill an H100/H200 SM when registers
/// allow; the partials stay small (grid x (d + 3) doubles at most, grid <= 8 x SMs).
inline constexpr int kMaxBlocksPerSm = 8;
/// Rows per tile of the tiled kernel: a power of two <= kFusedThreads / kWarpSize, so a
/// row-major row is read by at least one full warp.
inline constexpr int kMaxTileRows = 8;
/// Shared memory a tiled block asks for before it needs more than two blocks per SM's
/// worth (H100/H200: 228 KiB per SM); beyond it the tile takes the opt-in maximum.
inline constexpr std::int64_t kPreferredTiledSmem = 100 * 1024;

/// ceil(a / b) for a >= 0, b > 0, without the overflow of (a + b - 1) / b.
STEEPEST_HD constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) noexcept {
  return a / b + (a % b != 0 ? 1 : 0);
}

STEEPEST_HD constexpr std::int64_t min64(std::int64_t a, std::int64_t b) noexcept {
  return a < b ? a : b;
}
STEEPEST_HD constexpr std::int64_t max64(std::int64_t a, std::int64_t b) noexcept {
  return a > b ? a : b;
}

/// Register bucket for d features: the smallest power of two >= d (1, 2, 4, ..., 32), so
/// six instantiations cover every small d; 0 when d needs the tiled kernel.
STEEPEST_HD constexpr int feature_bucket(std::int64_t d) noexcept {
  if (d < 1 || d > kMaxRegisterFeatures) return 0;
  int bucket = 1;
  while (bucket < d) bucket *= 2;
  return bucket;
}

/// Whether a row-major row of d elements of \p elem_size bytes can be read with 16-byte
/// vector loads: rows are packed on upload (pitch d) and the buffer is 256-byte aligned,
/// so every row starts on a 16-byte boundary exactly when d * elem_size is a multiple of
/// 16; the bucket must equal d so no load runs past the row.
STEEPEST_HD constexpr bool row_vector_loads(std::int64_t d, std::int64_t elem_size) noexcept {
  return feature_bucket(d) == d && (d * elem_size) % 16 == 0;
}

/// Most blocks worth launching: a few per SM (occupancy permitting), at least one.
STEEPEST_HD constexpr std::int64_t max_grid(int sm_count, int blocks_per_sm) noexcept {
  const std::int64_t per_sm = min64(blocks_per_sm, kMaxBlocksPerSm);
  return max64(1, static_cast<std::int64_t>(sm_count) * max64(1, per_sm));
}

/// Blocks for a pass over m rows when one block iteration covers \p rows_per_iteration
/// rows: enough to cover m once, never more than \p max_blocks (the rest is a grid-stride
/// loop).  At least one block so an empty pass still writes its (zero) partials.
STEEPEST_HD constexpr std::int64_t fused_grid(std::int64_t m, std::int64_t rows_per_iteration,
                                              std::int64_t max_blocks) noexcept {
  return max64(1, min64(ceil_div(m, rows_per_iteration), max_blocks));
}

// --- register kernel: one row per thread per iteration ------------------------------------

/// Rows a register-kernel thread loads before it uses the first, for bucket D: a d = 1
/// row is 4 or 8 bytes, far too little in flight per thread to cover memory latency, so
/// small buckets batch several of their grid-stride rows.  The thread still adds its rows
/// in position order, so the batching never changes a result bit.
STEEPEST_HD constexpr int register_batch(int bucket) noexcept {
  return bucket <= 2 ? 4 : (bucket <= 4 ? 2 : 1);
}

/// First position (of the m = end - begin) visited by \p thread of \p block; the thread
/// then advances by register_stride() until it reaches end.
STEEPEST_HD constexpr std::int64_t register_first(std::int64_t begin, std::int64_t block,
                                                  int thread) noexcept {
  return begin + block * kFusedThreads + thread;
}
STEEPEST_HD constexpr std::int64_t register_stride(std::int64_t grid) noexcept {
  return grid * kFusedThreads;
}

// --- tiled kernel: kMaxTileRows or fewer rows per tile, one tile per block iteration ------

/// Tile pitch in elements: odd, so the column-major fill (consecutive threads write
/// consecutive rows of one column) hits distinct shared-memory banks.
STEEPEST_HD constexpr std::int64_t tile_pitch(std::int64_t d) noexcept { return d | 1; }

/// Shared memory of a tiled block: gradient accumulators (d), per-thread partial dot
/// products (kFusedThreads), residuals and row sums (2 x kMaxTileRows), then the tile of
/// \p rows rows in the storage type.  Doubles first keep every region aligned.
STEEPEST_HD constexpr std::int64_t tiled_smem_bytes(std::int64_t d, int rows,
                                                    std::int64_t elem_size) noexcept {
  return 8 * (d + kFusedThreads + 2 * kMaxTileRows) + rows * tile_pitch(d) * elem_size;
}

/// Rows per tile that fit in \p budget bytes of shared memory: the largest power of two
/// <= kMaxTileRows, or 0 when not even one row fits.
STEEPEST_HD constexpr int tile_rows(std::int64_t d, std::int64_t elem_size,
                                    std::int64_t budget) noexcept {
  for (int rows = kMaxTileRows; rows >= 1; rows /= 2) {
    if (tiled_smem_bytes(d, rows, elem_size) <= budget) return rows;
  }
  return 0;
}

/// Within a tile, thread t reads elements of tile row tile_row_of() and columns
/// tile_lane_of(), tile_lane_of() + lanes, ... where lanes = kFusedThreads / rows.
/// Row-major: consecutive threads take consecutive columns of one row (coalesced along
/// the row).  Column-major: consecutive threads take consecutive rows of one column
/// (coalesced down the column).
STEEPEST_HD constexpr int tile_lanes(int rows) noexcept { return kFusedThreads / rows; }
STEEPEST_HD constexpr int tile_row_of(int thread, int rows, bool row_major) noexcept {
  return row_major ? thread / tile_lanes(rows) : thread % rows;
}
STEEPEST_HD constexpr int tile_lane_of(int thread, int rows, bool row_major) noexcept {
  return row_major ? thread % tile_lanes(rows) : thread / rows;
}
/// The thread holding lane \p lane of tile row \p row: the inverse of the two above.  The
/// row's dot product adds lanes 0, 1, 2, ... in this order.
STEEPEST_HD constexpr int tile_thread_of(int row, int lane, int rows, bool row_major) noexcept {
  return row_major ? row * tile_lanes(rows) + lane : lane * rows + row;
}

/// Columns of the partials: 0..d-1 are X^T r, then sse, then sum r, and in a weighted pass
/// sum w (every r there is w r), matching the CPU reference's partial layout.  Stored
/// column-major, partials[column * grid + block], so the second pass reads each column
/// contiguously.  The second pass has one block per output column, d + 2 either way; in a
/// weighted pass each block also reduces the sum-w column, by the same tree, for 1 / W.
STEEPEST_HD constexpr std::int64_t partial_columns(std::int64_t d, bool weighted = false) noexcept {
  return d + (weighted ? 3 : 2);
}
STEEPEST_HD constexpr std::int64_t output_columns(std::int64_t d) noexcept { return d + 2; }
STEEPEST_HD constexpr std::int64_t sse_column(std::int64_t d) noexcept { return d; }
STEEPEST_HD constexpr std::int64_t sum_r_column(std::int64_t d) noexcept { return d + 1; }
STEEPEST_HD constexpr std::int64_t sum_w_column(std::int64_t d) noexcept { return d + 2; }

// --- host emulation of the summation order -------------------------------------------------
// These replay, addition for addition, the order in which the kernels combine one quantity
// (a gradient column, sse, sum r or sum w), given each position's term.  They are the
// documentation of the order and the tests' model of it; the kernels are not built from
// them.  They model the order, not every rounding: nvcc may contract a product and the
// addition that follows into one FMA (r * x added into a sum), which rounds once instead
// of twice.

/// Butterfly of __shfl_down_sync with offsets 16, 8, 4, 2, 1; returns lane 0's value.
template <class T>
T emulate_warp_sum(T lanes[kWarpSize]) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    for (int lane = 0; lane + offset < kWarpSize; ++lane) lanes[lane] = lanes[lane] + lanes[lane + offset];
  }
  return lanes[0];
}

/// Second pass: thread t adds partials t, t + kReduceThreads, ... in order; then a
/// shared-memory tree halves the active threads until thread 0 holds the total.
template <class T>
T emulate_second_pass(const std::vector<T>& partials) {
  std::vector<T> buf(kReduceThreads, T{});
  for (int t = 0; t < kReduceThreads; ++t) {
    for (std::size_t b = static_cast<std::size_t>(t); b < partials.size(); b += kReduceThreads) {
      buf[static_cast<std::size_t>(t)] = buf[static_cast<std::size_t>(t)] + partials[b];
    }
  }
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {
    for (int t = 0; t < half; ++t) {
      buf[static_cast<std::size_t>(t)] = buf[static_cast<std::size_t>(t)] +
                                         buf[static_cast<std::size_t>(t + half)];
    }
  }
  return buf[0];
}

/// Register kernel: each thread adds the terms of its positions in order; each warp
/// combines its lanes by the butterfly; warp totals are added 0, 1, ..., 7; the blocks'
/// totals go through the second pass.
template <class T, class Term>
T emulate_register_sum(std::int64_t begin, std::int64_t end, std::int64_t grid, Term term) {
  std::vector<T> partials(static_cast<std::size_t>(grid), T{});
  for (std::int64_t block = 0; block < grid; ++block) {
    T block_total{};
    for (int warp = 0; warp < kWarpsPerBlock; ++warp) {
      T lanes[kWarpSize] = {};
      for (int lane = 0; lane < kWarpSize; ++lane) {
        const int thread = warp * kWarpSize + lane;
        for (std::int64_t pos = register_first(begin, block, thread); pos < end;
             pos += register_stride(grid)) {
          lanes[lane] = lanes[lane] + term(pos);
        }
      }
      block_total = block_total + emulate_warp_sum(lanes);
    }
    partials[static_cast<std::size_t>(block)] = block_total;
  }
  return emulate_second_pass(partials);
}

/// Tiled kernel, for a per-row quantity (sse, sum r, sum w): block b takes tiles b, b + grid, ...;
/// the running sum of tile row k (k = 0..rows-1) is kept by thread k across the block's
/// tiles; at the end thread 0 adds the rows' sums 0, 1, ..., rows-1; then the second pass.
template <class T, class Term>
T emulate_tiled_sum(std::int64_t begin, std::int64_t end, std::int64_t grid, int rows,
                    Term term) {
  std::vector<T> partials(static_cast<std::size_t>(grid), T{});
  const std::int64_t tiles = ceil_div(end - begin, rows);
  for (std::int64_t block = 0; block < grid; ++block) {
    std::vector<T> per_row(static_cast<std::size_t>(rows), T{});
    for (std::int64_t tile = block; tile < tiles; tile += grid) {
      for (int k = 0; k < rows; ++k) {
        const std::int64_t pos = begin + tile * rows + k;
        if (pos < end) per_row[static_cast<std::size_t>(k)] = per_row[static_cast<std::size_t>(k)] + term(pos);
      }
    }
    T block_total{};
    for (int k = 0; k < rows; ++k) block_total = block_total + per_row[static_cast<std::size_t>(k)];
    partials[static_cast<std::size_t>(block)] = block_total;
  }
  return emulate_second_pass(partials);
}

/// Tiled kernel, for a gradient column j (term(pos) = r_pos x_pos,j): a different order from
/// the per-row quantities.  Block b takes tiles b, b + grid, ...; for each tile, the thread
/// owning column j first sums the tile's valid rows 0, 1, ..., valid-1 from zero, then adds
/// that tile sum into grad[j] (which starts at zero); grad[j] is the block's partial; then
/// the second pass.
template <class T, class Term>
T emulate_tiled_gradient_sum(std::int64_t begin, std::int64_t end, std::int64_t grid, int rows,
                             Term term) {
  std::vector<T> partials(static_cast<std::size_t>(grid), T{});
  const std::int64_t tiles = ceil_div(end - begin, rows);
  for (std::int64_t block = 0; block < grid; ++block) {
    T grad{};
    for (std::int64_t tile = block; tile < tiles; tile += grid) {
      const std::int64_t first = begin + tile * rows;
      T tile_sum{};
      for (std::int64_t pos = first; pos < end && pos < first + rows; ++pos) {
        tile_sum = tile_sum + term(pos);
      }
      grad = grad + tile_sum;
    }
    partials[static_cast<std::size_t>(block)] = grad;
  }
  return emulate_second_pass(partials);
}

// --- upload of a strided host array into a packed device buffer --------------------------

/// How the backend copies \p count segments (rows of a row-major X, columns of a
/// column-major X, elements of y) of \p seg_bytes each, \p src_pitch bytes apart on the
/// host, into a packed device buffer:
///  - contiguous:  one cudaMemcpyAsync (no gaps, or a single segment);
///  - per_segment: one cudaMemcpyAsync per segment, for segments of kDirectSegmentBytes or
///    more (column-major columns, very wide rows): any pitch, few calls, each one large;
///  - pitched_2d:  one cudaMemcpy2DAsync, only for row-major rows of kMin2dRowBytes or more
///    whose pitch and width are within cudaDeviceProp::memPitch (2^31 - 1 on H100; a larger
///    pitch is cudaErrorInvalidPitchValue);
///  - staged:      narrow segments are packed on the host into a staging buffer of at most
///    kStagingBytes and sent in chunks (cudaMemcpy2D moves one segment per DMA descriptor
///    and crawls at a few bytes per segment).
enum class UploadPath : int { contiguous, per_segment, pitched_2d, staged };

inline constexpr std::int64_t kStagingBytes = std::int64_t{64} << 20;
inline constexpr std::int64_t kDirectSegmentBytes = std::int64_t{1} << 20;
inline constexpr std::int64_t kMin2dRowBytes = 512;

/// \p column_segments: the segments are columns (column-major X), never sent by the 2D
/// copy.  \p max_pitch: cudaDeviceProp::memPitch of the device.
constexpr UploadPath upload_path(std::int64_t count, std::int64_t seg_bytes,
                                 std::int64_t src_pitch, bool column_segments,
                                 std::int64_t max_pitch) noexcept {
  if (src_pitch == seg_bytes || count == 1) return UploadPath::contiguous;
  if (seg_bytes >= kDirectSegmentBytes) return UploadPath::per_segment;
  if (!column_segments && seg_bytes >= kMin2dRowBytes && src_pitch <= max_pitch &&
      seg_bytes <= max_pitch) {
    return UploadPath::pitched_2d;
  }
  return UploadPath::staged;
}

/// Segments per staged chunk: as many as fit kStagingBytes (at least one), never more than
/// there are, so a small upload gets a small staging buffer.
constexpr std::int64_t staging_segments(std::int64_t count, std::int64_t seg_bytes) noexcept {
  return min64(count, max64(1, kStagingBytes / seg_bytes));
}

}  // namespace steepest::detail::plan
