// Contour lines of a function sampled on a rectangular grid: marching squares (saddle cells
// decided by the cell's mean), the crossings placed by linear interpolation along the cell
// edges.  For `steepest plot` over the MSE surface.
#pragma once

#include <cstddef>
#include <vector>

namespace steepest::cli {

/// Values f(xs[i], ys[j]) at v[j * xs.size() + i].
struct Grid {
  std::vector<double> xs, ys, v;
  double at(std::size_t i, std::size_t j) const { return v[j * xs.size() + i]; }
};

struct Segment {
  double x0, y0, x1, y1;
};

/// The pieces of the level set f = \p level, one segment per crossed cell (two in a saddle).
std::vector<Segment> contour_segments(const Grid& g, double level);

/// \p count levels between \p lo and \p hi (exclusive), spaced so that the contours of a
/// quadratic bowl are evenly spaced: lo + (hi - lo) (k / (count + 1))^2.
std::vector<double> contour_levels(double lo, double hi, int count);

}  // namespace steepest::cli
