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
/// allow; the partials stay small (grid x (d + 2) doubles, grid <= 8 x SMs).
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

/// Columns of the partials (and of the second pass): 0..d-1 are X^T r, then sse, then
/// sum r, matching the CPU reference's partial layout.  Stored column-major,
/// partials[column * grid + block], so the second pass reads each column contiguously.
STEEPEST_HD constexpr std::int64_t partial_columns(std::int64_t d) noexcept { return d + 2; }
STEEPEST_HD constexpr std::int64_t sse_column(std::int64_t d) noexcept { return d; }
STEEPEST_HD constexpr std::int64_t sum_r_column(std::int64_t d) noexcept { return d + 1; }

// --- host emulation of the summation order -------------------------------------------------
// These replay, value for value, the additions the kernels perform for one quantity (a
// gradient column, sse or sum r), given each position's term.  They are the documentation
// of the order and the tests' model of it; the kernels are not built from them.

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

/// Tiled kernel, for a per-row quantity (sse, sum r; a gradient column follows the same
/// block/tile order): block b takes tiles b, b + grid, ...; tile row k's running sum is
/// kept by thread k; at the end thread 0 adds rows 0..rows-1; then the second pass.
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

}  // namespace steepest::detail::plan
