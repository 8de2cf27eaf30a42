// Internal: the fixed chunk plan: how a pass over m rows is cut into chunks whose partial
// sums are combined in chunk order.  A function of the shape only, so every host pass that
// uses it (the CPU backend, predict, moments, the data fingerprint) gives the same bits for
// any thread count.
#pragma once

#include <algorithm>
#include <cstdint>

#include "steepest/data.hpp"

namespace steepest::detail {

/// How a pass over m rows is cut into chunks.  A function of (m, d) only.
struct ChunkPlan {
  std::int64_t rows_per_chunk = 1;
  std::int64_t chunks = 0;
};

/// At least ~8k elements per chunk (so a chunk amortises the scheduling), at most 1024
/// chunks (so the partials stay small: 1024 x (d + 2) doubles).
constexpr ChunkPlan plan_chunks(std::int64_t m, std::int64_t d) noexcept {
  constexpr std::int64_t kMinElements = 8192;
  constexpr std::int64_t kMaxChunks = 1024;
  const std::int64_t min_rows = std::max<std::int64_t>(64, (kMinElements + d - 1) / d);
  const std::int64_t rows = std::max(min_rows, (m + kMaxChunks - 1) / kMaxChunks);
  return {rows, m > 0 ? (m + rows - 1) / rows : 0};
}

}  // namespace steepest::detail
