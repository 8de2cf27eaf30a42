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

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
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

// --- pinned upload (STEEPEST_CUDA_UPLOAD=pinned) -------------------------------------------
// A copy from pageable memory crawls (H200: 0.56 s for 680 MB, about 1.2 GB/s against ~50
// for pinned memory): the driver stages it through a small pinned buffer of its own, one
// piece at a time.  The pinned upload does the staging itself, in kPinnedBuffers buffers of
// kPinnedChunkBytes: host threads copy chunk c of the packed byte stream into buffer
// c % kPinnedBuffers (after the DMA of chunk c - kPinnedBuffers has left it) while the
// earlier chunks' cudaMemcpyAsync run.  Any upload path's segments go through it: the packed
// stream is the segments one after another, whatever their pitch on the host.

inline constexpr int kPinnedBuffers = 3;
inline constexpr std::int64_t kPinnedChunkBytes = std::int64_t{32} << 20;
/// Below this the pageable copy's set-up costs less than pinning buffers.
inline constexpr std::int64_t kPinnedMinBytes = std::int64_t{16} << 20;

/// Chunks of the packed stream of \p total bytes.
constexpr std::int64_t pinned_chunks(std::int64_t total) noexcept {
  return (total + kPinnedChunkBytes - 1) / kPinnedChunkBytes;
}

/// Copies bytes [offset, offset + len) of the packed stream of \p count segments of
/// \p seg_bytes, \p src_pitch bytes apart at \p src, to \p dst: the segments' parts in
/// order, a memcpy each (one in all when the pitch is the segment size).
inline void gather_packed_bytes(unsigned char* dst, const unsigned char* src, std::int64_t seg_bytes,
                                std::int64_t src_pitch, std::int64_t offset, std::int64_t len) {
  if (src_pitch == seg_bytes) {
    std::memcpy(dst, src + offset, static_cast<std::size_t>(len));
    return;
  }
  while (len > 0) {
    const std::int64_t seg = offset / seg_bytes, within = offset % seg_bytes;
    const std::int64_t part = min64(len, seg_bytes - within);
    std::memcpy(dst, src + seg * src_pitch + within, static_cast<std::size_t>(part));
    dst += part;
    offset += part;
    len -= part;
  }
}

// --- across processes (a RowShare with a Reduction) -----------------------------------------
// Each process holds rows [first, first + m) of the fit; a row order (set_row_order, a
// RowOrder) is the whole order of all `total` rows or this process's part of it.  The device
// keeps only this process's rows of it, in order, as local indices, each with a key (its
// position in a whole order; its batch's start in a part), and a pass over positions
// [begin, end) of the order runs over the compact entries whose key lies in [begin, end): the
// same rows, in the same order.

/// The compact order of the rows this process holds among rows[0..count) (\p keys null: a
/// whole order, whose positions become the keys) and each one's key.
inline void local_row_order(const std::int64_t* rows, const std::int64_t* keys, std::int64_t count,
                            std::int64_t first, std::int64_t m, std::vector<std::int64_t>& compact,
                            std::vector<std::int64_t>& compact_keys) {
  compact.clear();
  compact_keys.clear();
  for (std::int64_t k = 0; k < count; ++k) {
    const std::int64_t local = rows[k] - first;
    if (local < 0 || local >= m) continue;
    compact.push_back(local);
    compact_keys.push_back(keys != nullptr ? keys[k] : k);
  }
}

/// The compact entries of positions [begin, end): those whose key lies in [begin, end).
inline std::pair<std::int64_t, std::int64_t> local_span(const std::vector<std::int64_t>& keys, std::int64_t begin,
                                                        std::int64_t end) {
  return {std::lower_bound(keys.begin(), keys.end(), begin) - keys.begin(),
          std::lower_bound(keys.begin(), keys.end(), end) - keys.begin()};
}

// --- Gram sums (kernels/gram_sums.cu) ------------------------------------------------------
// The Gram pass forms S' = sum_i w_i z'_i z'_i^T over the augmented rows
// z'_i = (x_i - s_x, y_i - s_y, 1) of p = d + 2 columns, whose upper triangle holds all of
// backend/gram.hpp's sums: S2 (rows and columns 0..d), S1 (column d + 1, rows 0..d) and W
// (the corner).  Three kernels:
//  - rows (d <= kGramRowFeatures): one row per thread (as the fused register kernel: thread
//    t of block b takes positions b * 256 + t, then every grid * 256 on), every entry of S'
//    of the feature bucket (1, 2 or 4) in registers; each warp's lanes by the butterfly, the
//    8 warps in order.  A narrow row is a few bytes, so it must cost few instructions;
//  - small (gram_blocks(d) <= kGramSmallBlocks, d <= 38): S' is cut into 8 x 8 blocks, one
//    FP64 tensor-core product (mma.m8n8k4: C[8x8] += A[8x4] B[4x8]) adding the 4 rows of a
//    "slab" into one block pair (J, K), J <= K, with A = (w z')^T of block J and B = z' of
//    block K.  Within an mma each lane holds A[lane / 4][lane % 4], B[lane % 4][lane / 4]
//    and C[lane / 4][2 (lane % 4) + t]: a lane loads row lane % 4 of the slab at column
//    8 J + lane / 4 for either operand.  Tiles of rows are staged in shared memory (storage
//    type, cp.async, two buffers); block b takes tiles b, b + slices, ...; every warp
//    accumulates every block pair over its own slabs (warp w: slabs w, w + 8, ...); at the
//    end the 8 warps' sums are added in warp order;
//  - pairs (larger d): the same tiles and products, but a block's 8 warps own up to
//    kGramPairsPerWarp pairs each (warp w of pair group g: pairs 64 g + w + 8 k), every warp
//    adding every slab of the tile; pair groups beyond 64 pairs are a second grid
//    dimension, each group reading the rows again.
// Block b (of `slices`) writes its sums to column b of the partials (entry e at
// e * slices + b); a second kernel adds the slices of each entry with one warp (lane l:
// slices l, l + 32, ... in order; then the butterfly).  emulate_gram_sums() replays that
// order on the host (an mma as four fused multiply-adds in k order: the tensor core's own
// order within its 4 products is not specified, so the replay is not bit for bit).

inline constexpr int kGramThreads = 256;
inline constexpr int kGramWarps = kGramThreads / kWarpSize;
static_assert(kGramThreads == kFusedThreads, "the rows kernel walks rows as register_first() does");
inline constexpr int kMmaEdge = 8;   ///< C block of an mma: 8 x 8
inline constexpr int kMmaDepth = 4;  ///< rows (k) an mma adds: one slab
/// Most features of the rows kernel (bucket 4: 21 sums a thread).
inline constexpr int kGramRowFeatures = 4;
/// Largest count of 8-column blocks the small kernel takes (15 block pairs, 30 accumulators).
inline constexpr int kGramSmallBlocks = 5;
inline constexpr int kGramPairsPerWarp = 8;
inline constexpr int kGramPairsPerBlock = kGramPairsPerWarp * kGramWarps;
/// Shared memory a Gram block asks for before it takes smaller tiles, and (small kernel)
/// the most rows and bytes of one tile buffer.
inline constexpr std::int64_t kGramSmallSmem = 72 * 1024;
inline constexpr std::int64_t kGramPairsSmem = 100 * 1024;
inline constexpr int kGramMaxTileRows = 4096;
inline constexpr std::int64_t kGramTileBytes = 32 * 1024;

enum class GramKind : int { rows, small, pairs };

/// Columns of the augmented rows, and 8-column blocks covering them.
STEEPEST_HD constexpr std::int64_t gram_columns(std::int64_t d) noexcept { return d + 2; }
STEEPEST_HD constexpr int gram_blocks(std::int64_t d) noexcept {
  return static_cast<int>(ceil_div(gram_columns(d), kMmaEdge));
}
STEEPEST_HD constexpr GramKind gram_kind(std::int64_t d) noexcept {
  if (d <= kGramRowFeatures) return GramKind::rows;
  return gram_blocks(d) <= kGramSmallBlocks ? GramKind::small : GramKind::pairs;
}
STEEPEST_HD constexpr bool gram_small(std::int64_t d) noexcept { return gram_kind(d) == GramKind::small; }
/// Rows kernel: the augmented column of bucket column k (D = feature_bucket(d) features,
/// then y, then 1), or -1 for the bucket's padding.
STEEPEST_HD constexpr std::int64_t gram_bucket_column(std::int64_t d, int bucket, int k) noexcept {
  if (k < bucket) return k < d ? k : -1;
  return k == bucket ? d : d + 1;
}
/// Block pairs (J, K), J <= K < nb, numbered row by row: (0,0), (0,1), ..., (0,nb-1), (1,1), ...
/// (the rows kernel numbers its entries the same way, over the bucket's columns).
STEEPEST_HD constexpr std::int64_t gram_pair_count(int nb) noexcept {
  return static_cast<std::int64_t>(nb) * (nb + 1) / 2;
}
STEEPEST_HD constexpr std::int64_t gram_pair_first(int nb, int row) noexcept {
  return static_cast<std::int64_t>(row) * nb - static_cast<std::int64_t>(row) * (row - 1) / 2;
}
/// Row J of pair q (q < gram_pair_count(nb)).
STEEPEST_HD constexpr int gram_pair_row(std::int64_t q, int nb) noexcept {
  int row = 0;
  while (row + 1 < nb && gram_pair_first(nb, row + 1) <= q) ++row;
  return row;
}
/// Column K of pair q.
STEEPEST_HD constexpr int gram_pair_col(std::int64_t q, int nb) noexcept {
  const int row = gram_pair_row(q, nb);
  return row + static_cast<int>(q - gram_pair_first(nb, row));
}
/// Pair groups of a launch (its grid's second dimension): 1 but for the pairs kernel.
STEEPEST_HD constexpr std::int64_t gram_pair_groups(std::int64_t d) noexcept {
  return gram_kind(d) != GramKind::pairs ? 1
                                         : ceil_div(gram_pair_count(gram_blocks(d)), kGramPairsPerBlock);
}

/// Where entry (a, b) of S' goes in a row of Gram sums (backend/gram.hpp): S2 (b <= d), S1
/// (b = d + 1, a <= d) or W (a = b = d + 1); -1 below the diagonal or in the padding.
STEEPEST_HD constexpr std::int64_t gram_output_index(std::int64_t d, std::int64_t a,
                                                     std::int64_t b) noexcept {
  if (a < 0 || a > b || b > d + 1) return -1;
  const std::int64_t packed = (d + 1) * (d + 2) / 2;
  if (b <= d) return a * (d + 1) - a * (a - 1) / 2 + (b - a);
  return a <= d ? packed + a : packed + d + 1;
}
/// Entries a Gram pass writes: S2, S1 and W (the row count is the host's).
STEEPEST_HD constexpr std::int64_t gram_entries(std::int64_t d) noexcept {
  return (d + 1) * (d + 2) / 2 + d + 2;
}

/// Row pitch (elements) of a row-major tile in shared memory.  At most 32 bytes a row: the
/// row itself (a tile is then the rows' bytes as they lie in memory, one copy; the lanes of
/// a fragment load read distinct words).  Wider: >= d, a multiple of 32 bytes, and such that
/// the lanes of a fragment load (row lane % 4, column lane / 4) hit distinct banks: float32
/// (one 32-lane wavefront) pitch = 8 (mod 16); float64 (served by half-warps) pitch = 4 (mod 8).
STEEPEST_HD constexpr std::int64_t gram_row_pitch(std::int64_t d, std::int64_t elem) noexcept {
  if (d * elem <= 32) return d;
  const std::int64_t mod = elem == 4 ? 16 : 8, rest = elem == 4 ? 8 : 4;
  return d + ((rest - d % mod) % mod + mod) % mod;
}
/// Column pitch (elements) of a column-major tile of \p rows rows: >= rows, = 4 (mod 8), so
/// both dtypes' fragment loads hit distinct banks and every column starts 16-byte aligned.
STEEPEST_HD constexpr std::int64_t gram_col_pitch(std::int64_t rows) noexcept {
  return rows + ((4 - rows % 8) % 8 + 8) % 8;
}

/// Bytes of one stored value of X, y and the weights (w = 0: unweighted).
struct GramElems {
  std::int64_t x = 4;
  std::int64_t y = 4;
  std::int64_t w = 0;
};

/// One tile buffer: the tile of X in its storage type, then y and (weighted) the weights in
/// theirs.  Every region is a multiple of 16 bytes, so every region of both buffers starts
/// where a 16-byte copy may land.
STEEPEST_HD constexpr std::int64_t gram_x_bytes(std::int64_t d, std::int64_t rows, std::int64_t elem,
                                                bool row_major) noexcept {
  return row_major ? ceil_div(rows * gram_row_pitch(d, elem) * elem, 32) * 32
                   : d * gram_col_pitch(rows) * elem;
}
STEEPEST_HD constexpr std::int64_t gram_vector_bytes(std::int64_t rows, std::int64_t elem) noexcept {
  return ceil_div(rows * elem, 16) * 16;
}
STEEPEST_HD constexpr std::int64_t gram_buffer_bytes(std::int64_t d, std::int64_t rows, GramElems e,
                                                     bool row_major) noexcept {
  return gram_x_bytes(d, rows, e.x, row_major) + gram_vector_bytes(rows, e.y) +
         gram_vector_bytes(rows, e.w);
}
/// Dynamic shared memory of a Gram block: two tile buffers, then the warps' sums of one
/// block pair for the final combination (small kernel) or the shift (pairs kernel); none
/// for the rows kernel.
STEEPEST_HD constexpr std::int64_t gram_smem_bytes(std::int64_t d, std::int64_t rows, GramElems e,
                                                   bool row_major) noexcept {
  if (gram_kind(d) == GramKind::rows) return 0;
  return 2 * gram_buffer_bytes(d, rows, e, row_major) +
         (gram_small(d) ? 8 * kGramWarps * kMmaEdge * kMmaEdge : gram_vector_bytes(d + 1, 8));
}
/// Rows a tile holds.  Rows kernel: kGramThreads (one a thread).  Small kernel: a power of
/// two from 32 (every warp one slab) to kGramMaxTileRows, the most whose buffer stays within
/// kGramTileBytes (so a narrow row still brings many bytes per tile: what a block has in
/// flight is one tile) and whose block fits \p budget.  Pairs kernel: 32, 16, 8 or 4, the
/// most that fits \p budget.  0 when none fits.
STEEPEST_HD constexpr int gram_tile_rows(std::int64_t d, GramElems e, bool row_major,
                                         std::int64_t budget) noexcept {
  if (gram_kind(d) == GramKind::rows) return kGramThreads;
  const bool small = gram_small(d);
  const int least = small ? kGramWarps * kMmaDepth : kMmaDepth;
  for (int rows = small ? kGramMaxTileRows : 32; rows >= least; rows /= 2) {
    if (gram_smem_bytes(d, rows, e, row_major) > budget) continue;
    if (!small || rows == least || gram_buffer_bytes(d, rows, e, row_major) <= kGramTileBytes) return rows;
  }
  return 0;
}

// --- host replay of the Gram kernels' order --------------------------------------------------
// z(pos, c): the shifted augmented value of column c < d + 2 at a position (1 for c = d + 1);
// weight(pos): its weight (1.0 unweighted: 1 * z is z).  Each block function writes block
// \p block's partials (entry e at e * slices + block).

/// One slab's mma into C (64 entries) for block pair (J, K); operands are 0 past \p valid.
template <class Z, class Weight>
void emulate_gram_mma(std::vector<double>& c, std::int64_t d, std::int64_t first, int valid, int slab,
                      int J, int K, const Z& z, const Weight& weight) {
  for (int e = 0; e < kMmaEdge * kMmaEdge; ++e) {
    const std::int64_t ca = kMmaEdge * J + e / kMmaEdge, cb = kMmaEdge * K + e % kMmaEdge;
    for (int k = 0; k < kMmaDepth; ++k) {
      const int r = slab * kMmaDepth + k;
      const bool live = r < valid;
      const double za = live && ca < d + 2 ? z(first + r, ca) : 0.0;
      const double zb = live && cb < d + 2 ? z(first + r, cb) : 0.0;
      const double a = (live ? weight(first + r) : 0.0) * za;
      c[static_cast<std::size_t>(e)] = std::fma(a, zb, c[static_cast<std::size_t>(e)]);
    }
  }
}

/// Block pair q's C entry e into the partials (nothing below the diagonal or in the padding).
inline void emulate_gram_put(std::vector<double>& partials, std::int64_t d, std::int64_t slices,
                             std::int64_t block, std::int64_t q, int e, double v) {
  const int nb = gram_blocks(d);
  const int J = gram_pair_row(q, nb), K = gram_pair_col(q, nb);
  const std::int64_t idx = gram_output_index(d, kMmaEdge * J + e / kMmaEdge, kMmaEdge * K + e % kMmaEdge);
  if (idx >= 0) partials[static_cast<std::size_t>(idx * slices + block)] = v;
}

template <class Z, class Weight>
void emulate_gram_small_block(std::vector<double>& partials, std::int64_t d, std::int64_t begin,
                              std::int64_t end, int rows, std::int64_t slices, std::int64_t block,
                              const Z& z, const Weight& weight) {
  const int nb = gram_blocks(d);
  const std::int64_t pairs = gram_pair_count(nb), tiles = ceil_div(end - begin, rows);
  std::vector<std::vector<double>> acc(static_cast<std::size_t>(kGramWarps * pairs),
                                       std::vector<double>(kMmaEdge * kMmaEdge, 0.0));
  for (std::int64_t t = block; t < tiles; t += slices) {
    const std::int64_t first = begin + t * rows;
    const int valid = static_cast<int>(min64(rows, end - first));
    for (int w = 0; w < kGramWarps; ++w) {
      for (int s = w; s < rows / kMmaDepth && s * kMmaDepth < valid; s += kGramWarps) {
        for (std::int64_t q = 0; q < pairs; ++q) {
          emulate_gram_mma(acc[static_cast<std::size_t>(w * pairs + q)], d, first, valid, s,
                           gram_pair_row(q, nb), gram_pair_col(q, nb), z, weight);
        }
      }
    }
  }
  for (std::int64_t q = 0; q < pairs; ++q) {
    for (int e = 0; e < kMmaEdge * kMmaEdge; ++e) {
      double sum = 0.0;
      for (int w = 0; w < kGramWarps; ++w) sum += acc[static_cast<std::size_t>(w * pairs + q)][static_cast<std::size_t>(e)];
      emulate_gram_put(partials, d, slices, block, q, e, sum);
    }
  }
}

template <class Z, class Weight>
void emulate_gram_pairs_block(std::vector<double>& partials, std::int64_t d, std::int64_t begin,
                              std::int64_t end, int rows, std::int64_t slices, std::int64_t block,
                              const Z& z, const Weight& weight) {
  const int nb = gram_blocks(d);
  const std::int64_t pairs = gram_pair_count(nb), tiles = ceil_div(end - begin, rows);
  for (std::int64_t q = 0; q < pairs; ++q) {  // warp (q % 64) % 8 of pair group q / 64
    std::vector<double> acc(kMmaEdge * kMmaEdge, 0.0);
    for (std::int64_t t = block; t < tiles; t += slices) {
      const std::int64_t first = begin + t * rows;
      const int valid = static_cast<int>(min64(rows, end - first));
      for (int s = 0; s < rows / kMmaDepth && s * kMmaDepth < valid; ++s) {
        emulate_gram_mma(acc, d, first, valid, s, gram_pair_row(q, nb), gram_pair_col(q, nb), z, weight);
      }
    }
    for (int e = 0; e < kMmaEdge * kMmaEdge; ++e) emulate_gram_put(partials, d, slices, block, q, e, acc[static_cast<std::size_t>(e)]);
  }
}

template <class Z, class Weight>
void emulate_gram_rows_block(std::vector<double>& partials, std::int64_t d, std::int64_t begin,
                             std::int64_t end, std::int64_t slices, std::int64_t block, const Z& z,
                             const Weight& weight) {
  const int cols = static_cast<int>(gram_columns(d));  // the bucket's padding adds nothing
  for (std::int64_t q = 0; q < gram_pair_count(cols); ++q) {
    const int a = gram_pair_row(q, cols), b = gram_pair_col(q, cols);
    double block_sum = 0.0;
    for (int w = 0; w < kGramWarps; ++w) {
      double lanes[kWarpSize] = {};
      for (int l = 0; l < kWarpSize; ++l) {
        for (std::int64_t pos = register_first(begin, block, w * kWarpSize + l); pos < end;
             pos += slices * kGramThreads) {
          lanes[l] = std::fma(weight(pos) * z(pos, a), z(pos, b), lanes[l]);
        }
      }
      block_sum += emulate_warp_sum(lanes);
    }
    partials[static_cast<std::size_t>(gram_output_index(d, a, b) * slices + block)] = block_sum;
  }
}

/// The totals (gram_entries(d) values) of positions [begin, end) as a launch of \p slices
/// blocks along the rows with tiles of \p rows rows (plan::gram_tile_rows) adds them.
template <class Z, class Weight>
std::vector<double> emulate_gram_sums(std::int64_t d, std::int64_t begin, std::int64_t end,
                                      int rows, std::int64_t slices, Z z, Weight weight) {
  const std::int64_t entries = gram_entries(d);
  std::vector<double> partials(static_cast<std::size_t>(entries * slices), std::nan(""));
  for (std::int64_t block = 0; block < slices; ++block) {
    switch (gram_kind(d)) {
      case GramKind::rows:
        emulate_gram_rows_block(partials, d, begin, end, slices, block, z, weight);
        break;
      case GramKind::small:
        emulate_gram_small_block(partials, d, begin, end, rows, slices, block, z, weight);
        break;
      case GramKind::pairs:
        emulate_gram_pairs_block(partials, d, begin, end, rows, slices, block, z, weight);
        break;
    }
  }
  std::vector<double> out(static_cast<std::size_t>(entries));
  for (std::int64_t e = 0; e < entries; ++e) {
    double lanes[kWarpSize] = {};
    for (int l = 0; l < kWarpSize; ++l) {
      for (std::int64_t b = l; b < slices; b += kWarpSize) lanes[l] += partials[static_cast<std::size_t>(e * slices + b)];
    }
    out[static_cast<std::size_t>(e)] = emulate_warp_sum(lanes);
  }
  return out;
}

}  // namespace steepest::detail::plan
