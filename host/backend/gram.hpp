// Internal: the Gram sums of a set of rows — everything full-batch gradient descent on the
// MSE needs from the data, in one pass (FitOptions::solver, host/train/gram_source.*).
//
// For rows i with weights w_i (1 unweighted) and a fixed shift s = (s_x, s_y) of d + 1
// values, let z_i = (x_i1 - s_1, ..., x_id - s_d, y_i - s_{d+1}) in float64.  The sums are
//     S2 = sum_i w_i z_i z_i^T   ((d+1) x (d+1), symmetric: its upper triangle, packed)
//     S1 = sum_i w_i z_i         (d + 1)
//     W  = sum_i w_i,   rows = number of rows
// laid out as one row of gram_width(d) float64 values: [S2 packed, S1, W, rows], the packed
// triangle row by row (entry (j, k), j <= k, at gram_index(d, j, k)).  Sums of several
// parts add entry by entry, so they go through a Reduction like any pass's partials.
//
// Why shifted: the co-moments C = S2 - S1 S1^T / W that the gradient needs lose about
// 2 log10(|mean - s| / sd) digits to cancellation; with s near the mean (the trainer uses the
// mean of the fit's first chunk) that is a digit or so, where the raw Gram matrix
// [X 1]^T W [X 1] loses 2 log10(|mean| / sd): all of them for Longley's years.
#pragma once

#include <cstddef>
#include <cstdint>

namespace steepest::detail {

/// Entries of the packed upper triangle of the (d+1) x (d+1) matrix S2.
constexpr std::int64_t gram_packed(std::int64_t d) noexcept { return (d + 1) * (d + 2) / 2; }

/// Values in one row of Gram sums: S2 packed, S1 (d + 1), W, rows.
constexpr std::size_t gram_width(std::int64_t d) noexcept {
  return static_cast<std::size_t>(gram_packed(d) + (d + 1) + 2);
}

/// Index of S2's entry (j, k), j <= k <= d, in the packed triangle (row j starts after rows
/// 0..j-1, which hold d + 1, d, ..., d + 2 - j entries).
constexpr std::int64_t gram_index(std::int64_t d, std::int64_t j, std::int64_t k) noexcept {
  return j * (d + 1) - j * (j - 1) / 2 + (k - j);
}

/// Where S1, W and rows start in a row of Gram sums.
constexpr std::int64_t gram_s1(std::int64_t d) noexcept { return gram_packed(d); }
constexpr std::int64_t gram_weight(std::int64_t d) noexcept { return gram_packed(d) + d + 1; }
constexpr std::int64_t gram_rows(std::int64_t d) noexcept { return gram_packed(d) + d + 2; }

/// The most features the Gram solver takes: S2 of d = 512 is 1 MiB, and a pass keeps one
/// row of sums per shard of the data plan (at most 64).
constexpr std::int64_t kGramMaxFeatures = 512;

}  // namespace steepest::detail
