#include "cli/contour.hpp"

namespace steepest::cli {
namespace {

struct Point {
  double x, y;
};

/// Where f = level on the edge from (xa, ya, fa) to (xb, yb, fb).
Point crossing(double xa, double ya, double fa, double xb, double yb, double fb, double level) {
  const double t = fb == fa ? 0.5 : (level - fa) / (fb - fa);
  return {xa + t * (xb - xa), ya + t * (yb - ya)};
}

void cell(const Grid& g, std::size_t i, std::size_t j, double level, std::vector<Segment>& out) {
  // Corners a (i, j), b (i+1, j), c (i+1, j+1), d (i, j+1); edges 0: ab, 1: bc, 2: cd, 3: da.
  const double x0 = g.xs[i], x1 = g.xs[i + 1], y0 = g.ys[j], y1 = g.ys[j + 1];
  const double fa = g.at(i, j), fb = g.at(i + 1, j), fc = g.at(i + 1, j + 1), fd = g.at(i, j + 1);
  const bool a = fa >= level, b = fb >= level, c = fc >= level, d = fd >= level;
  Point p[4];
  bool cut[4] = {a != b, b != c, c != d, d != a};
  if (cut[0]) p[0] = crossing(x0, y0, fa, x1, y0, fb, level);
  if (cut[1]) p[1] = crossing(x1, y0, fb, x1, y1, fc, level);
  if (cut[2]) p[2] = crossing(x1, y1, fc, x0, y1, fd, level);
  if (cut[3]) p[3] = crossing(x0, y1, fd, x0, y0, fa, level);
  auto add = [&](int e, int f) { out.push_back({p[e].x, p[e].y, p[f].x, p[f].y}); };
  const int n = cut[0] + cut[1] + cut[2] + cut[3];
  if (n == 2) {
    int e[2] = {0, 0}, k = 0;
    for (int q = 0; q < 4; ++q)
      if (cut[q]) e[k++] = q;
    add(e[0], e[1]);
  } else if (n == 4) {
    // A saddle: the centre (the mean of the corners) sides with a and c, or with b and d.
    const bool centre = (fa + fb + fc + fd) / 4 >= level;
    if (centre == a) {  // b and d are cut off
      add(0, 1);
      add(2, 3);
    } else {  // a and c are cut off
      add(3, 0);
      add(1, 2);
    }
  }
}

}  // namespace

std::vector<Segment> contour_segments(const Grid& g, double level) {
  std::vector<Segment> out;
  for (std::size_t j = 0; j + 1 < g.ys.size(); ++j)
    for (std::size_t i = 0; i + 1 < g.xs.size(); ++i) cell(g, i, j, level, out);
  return out;
}

std::vector<double> contour_levels(double lo, double hi, int count) {
  std::vector<double> levels;
  for (int k = 1; k <= count; ++k) {
    const double t = static_cast<double>(k) / (count + 1);
    levels.push_back(lo + (hi - lo) * t * t);
  }
  return levels;
}

}  // namespace steepest::cli
