// Internal: the seam where the partial sums of a pass are combined.
//
// A pass over rows produces, for each chunk of the fixed chunk plan (backend/chunk_plan.hpp),
// one row of `width` float64 partial sums:
//     X^T W r (d entries), sum w r^2, sum w r, sum w when weighted, and the row count
// (w = 1 unweighted; counts are integers, exact in float64 below 2^53)
// A Reduction turns those rows into one row of totals, in an order fixed by the chunk
// index and never by timing; the backend then divides by the total weight, or the total
// row count unweighted (loss and gradient).  Today the only reduction is local_reduction(): one process, rows added in
// chunk order 0, 1, 2, ... (the CPU backend's determinism contract).  A distributed run
// plugs in here: each process holds whole chunks of one global plan, and its Reduction
// combines every process's rows in global chunk order, so the totals (and so the fit) are
// bit for bit those of one process (docs/ARCHITECTURE.md, "Seams").
#pragma once

#include <cstddef>
#include <cstdint>

namespace steepest::detail {

class Reduction {
 public:
  virtual ~Reduction() = default;
  /// Adds the \p chunks rows of \p width partials at \p partials (row-major, chunk order)
  /// into \p total (width entries, zeroed by the caller), in a fixed order.  Every process
  /// taking part ends with the same totals.
  virtual void combine(const double* partials, std::int64_t chunks, std::size_t width, double* total) = 0;
};

/// One process: total[k] += partials[c][k] for c = 0, 1, 2, ... (each column summed on
/// its own, in chunk order).
Reduction& local_reduction() noexcept;

}  // namespace steepest::detail
