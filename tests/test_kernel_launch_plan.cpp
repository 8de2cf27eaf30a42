// Host tests of kernels/launch_plan.hpp: the grid sizing, row partition, feature buckets
// and fixed summation order the CUDA kernels use.  Plain C++, so they run without a GPU
// and in the CPU-only build.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "launch_plan.hpp"

namespace {

using namespace steepest::detail::plan;

TEST(LaunchPlan, CeilDiv) {
  EXPECT_EQ(ceil_div(0, 256), 0);
  EXPECT_EQ(ceil_div(1, 256), 1);
  EXPECT_EQ(ceil_div(256, 256), 1);
  EXPECT_EQ(ceil_div(257, 256), 2);
  EXPECT_EQ(ceil_div(1000003, 256), 3907);
  // No overflow near the top of int64 (a + b - 1 would wrap).
  const std::int64_t big = std::numeric_limits<std::int64_t>::max() - 3;
  EXPECT_EQ(ceil_div(big, 8), big / 8 + 1);
}

TEST(LaunchPlan, FeatureBuckets) {
  EXPECT_EQ(feature_bucket(0), 0);
  EXPECT_EQ(feature_bucket(1), 1);
  EXPECT_EQ(feature_bucket(2), 2);
  EXPECT_EQ(feature_bucket(3), 4);
  EXPECT_EQ(feature_bucket(5), 8);
  EXPECT_EQ(feature_bucket(17), 32);
  EXPECT_EQ(feature_bucket(32), 32);
  EXPECT_EQ(feature_bucket(33), 0);
  EXPECT_EQ(feature_bucket(1500), 0);
  for (std::int64_t d = 1; d <= kMaxRegisterFeatures; ++d) {
    const int b = feature_bucket(d);
    EXPECT_GE(b, d);
    EXPECT_LT(b, 2 * d);
    EXPECT_EQ(b & (b - 1), 0) << "bucket must be a power of two";
  }
}

TEST(LaunchPlan, RegisterBatchShrinksWithTheBucket) {
  for (int bucket = 1; bucket <= kMaxRegisterFeatures; bucket *= 2) {
    const int batch = register_batch(bucket);
    EXPECT_GE(batch, 1);
    // Batching only where a row is small: registers hold batch x bucket values.
    EXPECT_LE(batch * bucket, bucket < 8 ? 8 : bucket);
  }
  EXPECT_EQ(register_batch(1), 4);
  EXPECT_EQ(register_batch(32), 1);
}

TEST(LaunchPlan, VectorLoadsOnlyOnAlignedWholeBuckets) {
  EXPECT_TRUE(row_vector_loads(4, 4));    // float4
  EXPECT_TRUE(row_vector_loads(32, 4));
  EXPECT_TRUE(row_vector_loads(2, 8));    // double2
  EXPECT_TRUE(row_vector_loads(16, 8));
  EXPECT_FALSE(row_vector_loads(1, 8));   // 8-byte rows
  EXPECT_FALSE(row_vector_loads(2, 4));
  EXPECT_FALSE(row_vector_loads(3, 4));   // rows not 16-byte aligned
  EXPECT_FALSE(row_vector_loads(12, 4));  // bucket 16 != d: loads would run past the row
  EXPECT_FALSE(row_vector_loads(64, 4));  // tiled kernel
}

TEST(LaunchPlan, GridFromSmCount) {
  EXPECT_EQ(max_grid(132, 8), 132 * kMaxBlocksPerSm);
  EXPECT_EQ(max_grid(132, 1), 132);
  EXPECT_EQ(max_grid(132, 0), 132);
  EXPECT_EQ(max_grid(0, 0), 1);
  EXPECT_EQ(fused_grid(1, kFusedThreads, 528), 1);
  EXPECT_EQ(fused_grid(0, kFusedThreads, 528), 1);
  EXPECT_EQ(fused_grid(257, kFusedThreads, 528), 2);
  EXPECT_EQ(fused_grid(1000003, kFusedThreads, 528), 528);
  EXPECT_EQ(fused_grid(33, 8, 528), 5);
}

// Every position in [begin, end) is visited by exactly one (block, thread, iteration).
void expect_register_cover(std::int64_t begin, std::int64_t end, std::int64_t grid) {
  std::vector<int> seen(static_cast<std::size_t>(end - begin), 0);
  for (std::int64_t block = 0; block < grid; ++block) {
    for (int t = 0; t < kFusedThreads; ++t) {
      for (std::int64_t p = register_first(begin, block, t); p < end; p += register_stride(grid)) {
        ASSERT_GE(p, begin);
        ++seen[static_cast<std::size_t>(p - begin)];
      }
    }
  }
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], 1) << "position " << begin + static_cast<std::int64_t>(i);
}

TEST(LaunchPlan, RegisterPartitionCoversEveryRowOnce) {
  for (std::int64_t m : {1, 31, 33, 255, 256, 257, 1000, 70001}) {
    const std::int64_t grid = fused_grid(m, kFusedThreads, 7);
    expect_register_cover(0, m, grid);
    expect_register_cover(13, 13 + m, grid);
  }
  // Positions past 2^31: the arithmetic is 64-bit.
  const std::int64_t two31 = std::int64_t{1} << 31;
  expect_register_cover(two31 - 100, two31 + 1000, 3);
}

TEST(LaunchPlan, TileThreadMappingIsABijection) {
  for (int rows : {1, 2, 4, 8}) {
    EXPECT_EQ(tile_lanes(rows) * rows, kFusedThreads);
    for (bool row_major : {true, false}) {
      std::vector<int> seen(kFusedThreads, 0);
      for (int t = 0; t < kFusedThreads; ++t) {
        const int k = tile_row_of(t, rows, row_major);
        const int lane = tile_lane_of(t, rows, row_major);
        ASSERT_GE(k, 0);
        ASSERT_LT(k, rows);
        ASSERT_LT(lane, tile_lanes(rows));
        ASSERT_EQ(tile_thread_of(k, lane, rows, row_major), t);
        ++seen[static_cast<std::size_t>(t)];
      }
      for (int s : seen) ASSERT_EQ(s, 1);
    }
    // Coalescing: row-major, a whole warp reads one row; column-major, consecutive threads
    // read consecutive rows of one column.
    for (int t = 0; t < kFusedThreads; ++t) {
      EXPECT_EQ(tile_row_of(t, rows, true), tile_row_of(t - t % kWarpSize, rows, true));
      if (t + 1 < kFusedThreads && (t + 1) % rows != 0) {
        EXPECT_EQ(tile_row_of(t + 1, rows, false), tile_row_of(t, rows, false) + 1);
        EXPECT_EQ(tile_lane_of(t + 1, rows, false), tile_lane_of(t, rows, false));
      }
    }
  }
}

TEST(LaunchPlan, TileRowsFitTheSharedMemoryBudget) {
  for (std::int64_t d : {33, 256, 1500, 4096, 6000}) {
    for (std::int64_t elem : {4, 8}) {
      const int rows = tile_rows(d, elem, kPreferredTiledSmem);
      if (rows == 0) {
        EXPECT_GT(tiled_smem_bytes(d, 1, elem), kPreferredTiledSmem);
        continue;
      }
      EXPECT_LE(tiled_smem_bytes(d, rows, elem), kPreferredTiledSmem);
      EXPECT_EQ(rows & (rows - 1), 0);
      EXPECT_LE(rows, kMaxTileRows);
      if (rows < kMaxTileRows) {
        EXPECT_GT(tiled_smem_bytes(d, 2 * rows, elem), kPreferredTiledSmem);
      }
    }
  }
  EXPECT_EQ(tile_rows(256, 8, kPreferredTiledSmem), kMaxTileRows);
  EXPECT_EQ(tile_rows(1500, 8, kPreferredTiledSmem), 4);
  EXPECT_EQ(tile_rows(1500, 4, kPreferredTiledSmem), 8);
  EXPECT_EQ(tile_rows(20000, 8, kPreferredTiledSmem), 0);
  // H100 opt-in (227 KiB) still takes d = 4096 in float64.
  EXPECT_GE(tile_rows(4096, 8, 227 * 1024), 4);
}

TEST(LaunchPlan, TilePitchIsOddAndHoldsARow) {
  for (std::int64_t d = 1; d < 100; ++d) {
    EXPECT_GE(tile_pitch(d), d);
    EXPECT_LE(tile_pitch(d), d + 1);
    EXPECT_EQ(tile_pitch(d) % 2, 1);
  }
}

TEST(LaunchPlan, PartialColumnsMatchCpuLayout) {
  EXPECT_EQ(partial_columns(5), 7);
  EXPECT_EQ(sse_column(5), 5);
  EXPECT_EQ(sum_r_column(5), 6);
}

// Weighted: one more column, sum w, last (the CPU's out[d + 2]); the second pass still
// writes d + 2 outputs.
TEST(LaunchPlan, WeightedPartialsAddTheSumOfWeightsLast) {
  EXPECT_EQ(partial_columns(5, false), 7);
  EXPECT_EQ(partial_columns(5, true), 8);
  EXPECT_EQ(sum_w_column(5), 7);
  EXPECT_EQ(sum_w_column(5), partial_columns(5, true) - 1);
  EXPECT_EQ(output_columns(5), partial_columns(5, false));
}

TEST(LaunchPlan, WarpSumMatchesShuffleButterfly) {
  std::int64_t lanes[kWarpSize];
  for (int i = 0; i < kWarpSize; ++i) lanes[i] = std::int64_t{1} << i;
  EXPECT_EQ(emulate_warp_sum(lanes), (std::int64_t{1} << kWarpSize) - 1);
}

// Integer terms make the emulated order exact: each position counted once, none twice.
TEST(LaunchPlan, EmulatedOrdersCountEveryPositionOnce) {
  for (std::int64_t m : {1, 31, 33, 1000, 1000003}) {
    for (std::int64_t begin : {0, 5}) {
      const std::int64_t end = begin + m;
      const std::int64_t expect_sum = (begin + end - 1) * m / 2;
      const std::int64_t g1 = fused_grid(m, kFusedThreads, 528);
      EXPECT_EQ(emulate_register_sum<std::int64_t>(begin, end, g1, [](std::int64_t) { return std::int64_t{1}; }), m);
      EXPECT_EQ(emulate_register_sum<std::int64_t>(begin, end, g1, [](std::int64_t p) { return p; }), expect_sum);
      for (int rows : {1, 4, 8}) {
        const std::int64_t g2 = fused_grid(m, rows, 528);
        EXPECT_EQ(emulate_tiled_sum<std::int64_t>(begin, end, g2, rows, [](std::int64_t) { return std::int64_t{1}; }), m);
        EXPECT_EQ(emulate_tiled_sum<std::int64_t>(begin, end, g2, rows, [](std::int64_t p) { return p; }), expect_sum);
        EXPECT_EQ(emulate_tiled_gradient_sum<std::int64_t>(begin, end, g2, rows, [](std::int64_t) { return std::int64_t{1}; }), m);
        EXPECT_EQ(emulate_tiled_gradient_sum<std::int64_t>(begin, end, g2, rows, [](std::int64_t p) { return p; }), expect_sum);
      }
    }
  }
}

// The fixed order differs from a left-to-right sum only by rounding: both are within
// (m - 1) * eps * sum|terms| of the exact sum (the classic recursive-summation bound holds
// for any order), so they are within twice that of each other.
TEST(LaunchPlan, EmulatedOrderAgreesWithNaiveFloat64Sum) {
  const std::int64_t m = 1000003;
  std::vector<double> terms(static_cast<std::size_t>(m));
  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal(0.5, 3.0);
  double abs_sum = 0.0, naive = 0.0;
  for (double& t : terms) {
    t = normal(rng);
    abs_sum += std::fabs(t);
    naive += t;
  }
  const double bound = 2.0 * static_cast<double>(m) * std::numeric_limits<double>::epsilon() * abs_sum;
  auto term = [&](std::int64_t p) { return terms[static_cast<std::size_t>(p)]; };
  const double reg = emulate_register_sum<double>(0, m, fused_grid(m, kFusedThreads, 528), term);
  const double tiled = emulate_tiled_sum<double>(0, m, fused_grid(m, 8, 528), 8, term);
  const double tiled_grad = emulate_tiled_gradient_sum<double>(0, m, fused_grid(m, 8, 528), 8, term);
  EXPECT_NEAR(reg, naive, bound);
  EXPECT_NEAR(tiled, naive, bound);
  EXPECT_NEAR(tiled_grad, naive, bound);
  // Same plan, same bits.
  EXPECT_EQ(reg, emulate_register_sum<double>(0, m, fused_grid(m, kFusedThreads, 528), term));
}

/// A "sum" that records the positions in the order they were added: a + b concatenates.
/// Fed to the emulations it shows the exact order of the additions, not just the total.
struct Sequence {
  std::vector<std::int64_t> positions;
  friend Sequence operator+(Sequence a, const Sequence& b) {
    a.positions.insert(a.positions.end(), b.positions.begin(), b.positions.end());
    return a;
  }
};
Sequence at(std::int64_t p) { return Sequence{{p}}; }

// The two tiled orders differ: per-row quantities (sse, sum r) keep one running sum per
// tile row across the block's tiles, gradient columns sum each tile first and then add the
// tile's sum.  Positions 0..4, tiles of 2 rows: tiles {0, 1}, {2, 3}, {4}.
TEST(LaunchPlan, TiledOrdersAreTheKernels) {
  using V = std::vector<std::int64_t>;
  // One block: rows 0 and 1 each keep a sum over the tiles; thread 0 adds row 0's, row 1's.
  EXPECT_EQ(emulate_tiled_sum<Sequence>(0, 5, 1, 2, at).positions, (V{0, 2, 4, 1, 3}));
  // The gradient: tile {0, 1}, then tile {2, 3}, then tile {4}.
  EXPECT_EQ(emulate_tiled_gradient_sum<Sequence>(0, 5, 1, 2, at).positions, (V{0, 1, 2, 3, 4}));
  // Two blocks: block 0 has tiles 0 and 2, block 1 tile 1; the second pass adds block 0's
  // partial, then block 1's.
  EXPECT_EQ(emulate_tiled_sum<Sequence>(0, 5, 2, 2, at).positions, (V{0, 4, 1, 2, 3}));
  EXPECT_EQ(emulate_tiled_gradient_sum<Sequence>(0, 5, 2, 2, at).positions, (V{0, 1, 4, 2, 3}));
  // A range that does not start at 0: tiles are counted from begin.
  EXPECT_EQ(emulate_tiled_gradient_sum<Sequence>(7, 10, 1, 2, at).positions, (V{7, 8, 9}));
  EXPECT_EQ(emulate_tiled_sum<Sequence>(7, 10, 1, 2, at).positions, (V{7, 9, 8}));
  // Register kernel, one block: thread t adds positions t, t + 256, ...; threads of a warp
  // meet in the butterfly (lane 0 takes lane 16's sum after its own), warps in order.
  const V reg = emulate_register_sum<Sequence>(0, 300, 1, at).positions;
  ASSERT_EQ(reg.size(), 300u);
  EXPECT_EQ(reg[0], 0);
  EXPECT_EQ(reg[1], 256);  // thread 0's second position comes before lane 1's first
}

// --- upload of strided host data -------------------------------------------------------------

// The pinned upload (STEEPEST_CUDA_UPLOAD=pinned) sends the packed stream in chunks, each
// gathered in parts by several host threads: any cut of the stream into pieces must give
// back exactly the segments one after another.
TEST(LaunchPlan, PinnedGatherOfAnyPiecesIsThePackedStream) {
  std::mt19937_64 rng(7);
  struct Shape {
    std::int64_t count, seg, pitch;
  };
  for (const Shape sh : {Shape{1, 1000, 1000}, Shape{37, 24, 24}, Shape{37, 24, 40}, Shape{5, 4096, 4100},
                         Shape{1000, 8, 16}, Shape{3, 1, 7}}) {
    std::vector<unsigned char> src(static_cast<std::size_t>((sh.count - 1) * sh.pitch + sh.seg));
    for (auto& b : src) b = static_cast<unsigned char>(rng());
    std::vector<unsigned char> want;
    for (std::int64_t s = 0; s < sh.count; ++s)
      want.insert(want.end(), src.begin() + s * sh.pitch, src.begin() + s * sh.pitch + sh.seg);
    const auto total = static_cast<std::int64_t>(want.size());
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<unsigned char> got(want.size(), 0);
      for (std::int64_t at = 0; at < total;) {  // pieces of random length, as chunks and parts cut it
        const std::int64_t len = std::min<std::int64_t>(total - at, 1 + static_cast<std::int64_t>(rng() % 97));
        gather_packed_bytes(got.data() + at, src.data(), sh.seg, sh.pitch, at, len);
        at += len;
      }
      ASSERT_EQ(got, want) << "count " << sh.count << " seg " << sh.seg << " pitch " << sh.pitch;
    }
  }
  EXPECT_EQ(pinned_chunks(1), 1);
  EXPECT_EQ(pinned_chunks(kPinnedChunkBytes), 1);
  EXPECT_EQ(pinned_chunks(kPinnedChunkBytes + 1), 2);
  // 6.8 GB (the H200 upload) in chunks the buffers cycle through.
  EXPECT_EQ(pinned_chunks(std::int64_t{6800} << 20), 213);
}

// GPU ranks: a pass over positions [begin, end) of the fit's row order visits, on each
// process, exactly its own rows among them, in the order's order; the processes' passes
// together visit each row once.  Given a process's part (keys: each entry's batch start), a
// pass over whole batches visits the same rows.
TEST(LaunchPlan, LocalRowOrderKeepsEachProcessesRowsInOrder) {
  std::mt19937_64 rng(11);
  const std::int64_t total = 1000, batch = 128;
  std::vector<std::int64_t> order(total);
  for (std::int64_t i = 0; i < total; ++i) order[static_cast<std::size_t>(i)] = i;
  std::shuffle(order.begin(), order.end(), rng);
  const std::int64_t cuts[] = {0, 0, 333, 334, 700, 1000};  // an empty process, unequal shares
  std::vector<int> seen(total, 0);
  for (int p = 0; p + 1 < 6; ++p) {
    const std::int64_t first = cuts[p], m = cuts[p + 1] - cuts[p];
    std::vector<std::int64_t> compact, keys, part_rows, part_keys, part_compact, part_compact_keys;
    local_row_order(order.data(), nullptr, total, first, m, compact, keys);
    ASSERT_EQ(static_cast<std::int64_t>(compact.size()), m);
    ASSERT_EQ(keys.size(), compact.size());
    for (std::int64_t q = 0; q < total; ++q) {  // the part a trainer would give this process
      const std::int64_t row = order[static_cast<std::size_t>(q)];
      if (row < first || row >= first + m) continue;
      part_rows.push_back(row);
      part_keys.push_back(q / batch * batch);
    }
    local_row_order(part_rows.data(), part_keys.data(), static_cast<std::int64_t>(part_rows.size()), first, m,
                    part_compact, part_compact_keys);
    EXPECT_EQ(part_compact, compact);
    for (const std::int64_t begin : {0, 17, 256, 500, 999})
      for (const std::int64_t end : {begin, begin + 1, std::min<std::int64_t>(total, begin + 128), total}) {
        std::vector<std::int64_t> want;
        for (std::int64_t q = begin; q < end; ++q) {
          const std::int64_t row = order[static_cast<std::size_t>(q)];
          if (row >= first && row < first + m) want.push_back(row - first);
        }
        const auto [lo, hi] = local_span(keys, begin, end);
        const std::vector<std::int64_t> got(compact.begin() + lo, compact.begin() + hi);
        ASSERT_EQ(got, want) << "process " << p << " positions [" << begin << ", " << end << ")";
        if (begin % batch != 0 || (end % batch != 0 && end != total)) continue;
        const auto [plo, phi] = local_span(part_compact_keys, begin, end);
        EXPECT_EQ(std::vector<std::int64_t>(part_compact.begin() + plo, part_compact.begin() + phi), want)
            << "process " << p << "'s part, positions [" << begin << ", " << end << ")";
      }
    for (const std::int64_t local : compact) ++seen[static_cast<std::size_t>(first + local)];
  }
  for (const int s : seen) EXPECT_EQ(s, 1);
}

TEST(LaunchPlan, UploadPathKeepsTheTwoDCopyWithinMemPitch) {
  const std::int64_t mem_pitch = (std::int64_t{1} << 31) - 1;  // H100, H200
  // Packed data, or a single segment: one copy, whatever the stride.
  EXPECT_EQ(upload_path(1000, 800, 800, false, mem_pitch), UploadPath::contiguous);
  EXPECT_EQ(upload_path(1, 4000, std::int64_t{1} << 40, true, mem_pitch), UploadPath::contiguous);
  // The reviewer's case: column-major float32, n = 6e8, d = 2, stride n + 1.  The pitch is
  // 2.4e9 bytes > memPitch: a 2D copy would fail; each column goes on its own.
  const std::int64_t n = 600000000;
  EXPECT_EQ(upload_path(2, n * 4, (n + 1) * 4, true, mem_pitch), UploadPath::per_segment);
  // Column-major columns are never sent by the 2D copy; narrow ones are staged.
  EXPECT_EQ(upload_path(40, 4000, 4020, true, mem_pitch), UploadPath::staged);
  EXPECT_EQ(upload_path(40, kDirectSegmentBytes, kDirectSegmentBytes + 4, true, mem_pitch),
            UploadPath::per_segment);
  // Row-major rows of 512 bytes or more with a valid pitch: the 2D copy.
  EXPECT_EQ(upload_path(1001, 512, 552, false, mem_pitch), UploadPath::pitched_2d);
  EXPECT_EQ(upload_path(1001, 511, 552, false, mem_pitch), UploadPath::staged);
  // ... but not when the pitch exceeds memPitch: staged on the host instead.
  EXPECT_EQ(upload_path(3, 800, mem_pitch + 1, false, mem_pitch), UploadPath::staged);
  EXPECT_EQ(upload_path(3, 800, mem_pitch, false, mem_pitch), UploadPath::pitched_2d);
  // Rows wider than memPitch (or just very wide): one copy per row.
  EXPECT_EQ(upload_path(3, mem_pitch + 1, 2 * mem_pitch, false, mem_pitch), UploadPath::per_segment);
  // A strided y (4- or 8-byte elements): staged.
  EXPECT_EQ(upload_path(1000003, 8, 16, false, mem_pitch), UploadPath::staged);
  // Every path's copies stay within memPitch where it applies.
  for (std::int64_t seg : std::vector<std::int64_t>{4, 8, 511, 512, 4096, kDirectSegmentBytes - 1,
                                                    kDirectSegmentBytes}) {
    for (std::int64_t extra : {std::int64_t{4}, mem_pitch}) {
      for (bool columns : {false, true}) {
        const UploadPath path = upload_path(10, seg, seg + extra, columns, mem_pitch);
        if (path == UploadPath::pitched_2d) {
          EXPECT_FALSE(columns);
          EXPECT_LE(seg + extra, mem_pitch);
          EXPECT_GE(seg, kMin2dRowBytes);
        }
        if (path == UploadPath::staged) {
          EXPECT_LT(seg, kDirectSegmentBytes);
        }
      }
    }
  }
}

TEST(LaunchPlan, StagingBufferIsSizedToTheUpload) {
  // Small uploads get a small buffer, never the full 64 MiB.
  EXPECT_EQ(staging_segments(1000, 8), 1000);
  EXPECT_EQ(staging_segments(3, 4000), 3);
  // Large ones are chunked at kStagingBytes.
  EXPECT_EQ(staging_segments(std::int64_t{1} << 30, 8), kStagingBytes / 8);
  EXPECT_LE(staging_segments(std::int64_t{1} << 30, 12) * 12, kStagingBytes);
  // At least one segment, even one wider than the staging size.
  EXPECT_EQ(staging_segments(5, kStagingBytes + 1), 1);
}

}  // namespace
