// SVG pictures written as text, no library: an 800x600 picture with a title, plot frames
// with "nice" ticks (linear or log10), lines, markers, bars and a legend, in the Okabe-Ito
// palette (colour-blind safe).  Every element a reader needs to recover the numbers carries
// a class, and every tick its exact value (data-value), so tests/svg_dump.py inverts the
// axis transform with an XML parser.  Text is escaped for XML.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace steepest::cli::svg {

/// \p text with & < > " ' as XML entities and control bytes other than tab/newline dropped.
std::string escape(std::string_view text);

/// "Nice" tick values (1, 2 or 5 times a power of ten apart) within [lo, hi], about
/// \p target of them (after Heckbert, Graphics Gems, 1990, with the step taken from the
/// range itself rather than its rounded-up nice number: more ticks on ranges like 0.6..5.7); lo < hi.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

/// Ticks of a log10 axis over [lo, hi] (lo > 0): powers of ten (every k-th when there are
/// many decades), with 2 and 5 between them over less than two decades; nice linear ticks
/// when the range is under a decade wide.
std::vector<double> log_ticks(double lo, double hi);

/// A tick label: the shortest %g text of \p v that is at most 6 significant digits.
std::string label(double v);

/// The Okabe-Ito palette without black (8 entries; index modulo 7 past black).
const char* colour(std::size_t k);

/// One axis of a frame: the range shown and whether it is log10.
struct Axis {
  double lo = 0.0, hi = 1.0;
  bool log = false;
  std::string title;
  /// Non-empty: a bar chart's groups, group k over [k, k + 1), labelled instead of ticked.
  std::vector<std::string> categories;
};

/// A plot area at (left, top) of size (width, height) pixels in the picture.
struct Frame {
  std::string id = "plot";  ///< the frame's id; what is drawn in it names it in data-frame
  double left = 90, top = 60, width = 560, height = 470;
  Axis x, y;
  double px(double v) const;  ///< picture x of data value v
  double py(double v) const;  ///< picture y of data value v
};

/// An entry of a legend: a line (dashed or not) or a filled box in a colour.
struct LegendEntry {
  std::string text;
  std::string colour;
  bool dashed = false;
  bool box = false;
};

/// The picture, built element by element, then finish()ed into the file's text.
class Picture {
 public:
  Picture(int width, int height, const std::string& title, const std::string& subtitle = {});
  /// The frame: background, grid, ticks with labels, axis titles.
  void axes(const Frame& f);
  /// A polyline of the finite points; class \p cls (e.g. "series"), \p label in data-label.
  void line(const Frame& f, const std::vector<double>& xs, const std::vector<double>& ys, const std::string& colour,
            const std::string& cls, const std::string& label, bool dashed = false, double width = 2.0);
  /// A marker (circle, or a square with \p square) with class "marker \p kind" and a title.
  void marker(const Frame& f, double x, double y, const std::string& kind, const std::string& colour,
              const std::string& title, bool square = false);
  /// A bar from 0 to \p value at [x0, x1) of the frame's x range.
  void bar(const Frame& f, double x0, double x1, double value, const std::string& colour, const std::string& group,
           const std::string& series);
  /// Text at picture coordinates (\p anchor: start, middle, end).
  void text(double x, double y, const std::string& s, const std::string& anchor = "start", int size = 13,
            const std::string& cls = "note");
  /// Raw SVG (already escaped) appended as is.
  void raw(const std::string& svg) { body_ += svg; }
  /// A legend box with its top-right corner at (right, top).
  void legend(double right, double top, const std::vector<LegendEntry>& entries);
  std::string finish() const;

 private:
  int width_, height_;
  std::string body_;
};

/// Picture coordinates with two decimals (the resolution tests/svg_dump.py assumes).
std::string coord(double v);

}  // namespace steepest::cli::svg
