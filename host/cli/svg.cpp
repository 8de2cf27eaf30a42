#include "cli/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "io/text.hpp"

namespace steepest::cli::svg {
namespace {

/// Heckbert's nice number near \p x: 1, 2, 5 or 10 times a power of ten (\p round: the
/// nearest; otherwise the smallest not below \p x).
double nice_number(double x, bool round) {
  const double e = std::floor(std::log10(x));
  const double f = x / std::pow(10.0, e);
  double nf;
  if (round) nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  else nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nf * std::pow(10.0, e);
}

/// k * step with step = m 10^e, rounded once (0.3, not 0.30000000000000004).
double tick_value(double k, double m, double e) {
  return e < 0 ? k * m / std::pow(10.0, -e) : k * m * std::pow(10.0, e);
}

std::string number17(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

std::string escape(std::string_view raw) {
  const std::string text = io::utf8_safe(raw);  // invalid UTF-8 would make the file unreadable
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows no control characters but tab, newline and carriage return.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double step = nice_number((hi - lo) / std::max(1, target - 1), true);
  const double e = std::floor(std::log10(step));
  const double m = std::round(step / std::pow(10.0, e));
  const double slack = 1e-9 * (hi - lo);
  const double first = std::ceil((lo - slack) / step), last = std::floor((hi + slack) / step);
  for (double k = first; k <= last && ticks.size() < 100; ++k) ticks.push_back(tick_value(k, m, e) + 0.0);  // no -0
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  const double a = std::log10(lo), b = std::log10(hi);
  if (b - a < 0.6) return nice_ticks(lo, hi, 5);
  auto power = [](double k) { return k < 0 ? 1.0 / std::pow(10.0, -k) : std::pow(10.0, k); };
  std::vector<double> ticks;
  const double every = std::max(1.0, std::ceil((b - a) / 8.0));
  for (double k = std::floor(a); k <= b + 1e-9; ++k) {
    if (std::fmod(k, every) != 0.0) continue;
    for (const double m : {1.0, 2.0, 5.0}) {
      if (m > 1.0 && b - a >= 2.0) break;  // 2 and 5 between the powers of ten over few decades
      const double v = m * power(k);
      if (v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12)) ticks.push_back(v);
    }
  }
  return ticks;
}

std::string label(double v) {
  char buf[40];
  if (v == 0.0) return "0";
  // Enough digits that %g writes 12.5 and 20000 in full (it uses an exponent from 1e6 on,
  // and below 1e-4), then the fewest that read back as v.
  const int magnitude = static_cast<int>(std::floor(std::log10(std::abs(v))));
  for (int digits = std::max(1, std::min(6, magnitude + 1)); digits <= 6; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) return buf;
  }
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

const char* colour(std::size_t k) {
  // Okabe & Ito (2008): blue, vermillion, bluish green, orange, reddish purple, sky blue,
  // yellow (black is kept for axes and text).
  static const char* const kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#E69F00",
                                         "#CC79A7", "#56B4E9", "#F0E442"};
  return kPalette[k % 7];
}

std::string coord(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

double Frame::px(double v) const {
  const double t = x.log ? (std::log10(v) - std::log10(x.lo)) / (std::log10(x.hi) - std::log10(x.lo))
                         : (v - x.lo) / (x.hi - x.lo);
  return left + t * width;
}

double Frame::py(double v) const {
  const double t = y.log ? (std::log10(v) - std::log10(y.lo)) / (std::log10(y.hi) - std::log10(y.lo))
                         : (v - y.lo) / (y.hi - y.lo);
  return top + height - t * height;
}

Picture::Picture(int width, int height, const std::string& title, const std::string& subtitle)
    : width_(width), height_(height) {
  body_ += "<rect class=\"background\" x=\"0\" y=\"0\" width=\"" + std::to_string(width) + "\" height=\"" +
           std::to_string(height) + "\" fill=\"#ffffff\"/>\n";
  text(width / 2.0, 26, title, "middle", 17, "title");
  if (!subtitle.empty()) text(width / 2.0, 46, subtitle, "middle", 12, "subtitle");
}

void Picture::axes(const Frame& f) {
  body_ += "<g class=\"frame\" id=\"" + escape(f.id) + "\" data-xscale=\"" + (f.x.log ? "log" : "linear") +
           "\" data-yscale=\"" + (f.y.log ? "log" : "linear") + "\">\n";
  body_ += "<rect class=\"plot-area\" x=\"" + coord(f.left) + "\" y=\"" + coord(f.top) + "\" width=\"" +
           coord(f.width) + "\" height=\"" + coord(f.height) + "\" fill=\"#ffffff\" stroke=\"#000000\"/>\n";
  const double bottom = f.top + f.height, right = f.left + f.width;
  for (std::size_t k = 0; k < f.x.categories.size(); ++k)
    text(f.px(static_cast<double>(k) + 0.5), bottom + 22, f.x.categories[k], "middle", 13, "xcategory");
  const std::vector<double> xticks = !f.x.categories.empty() ? std::vector<double>{}
                                     : f.x.log               ? log_ticks(f.x.lo, f.x.hi)
                                                             : nice_ticks(f.x.lo, f.x.hi);
  for (const double v : xticks) {
    const std::string x = coord(f.px(v));
    body_ += "<g class=\"xtick\" data-value=\"" + number17(v) + "\"><line x1=\"" + x + "\" y1=\"" + coord(f.top) +
             "\" x2=\"" + x + "\" y2=\"" + coord(bottom) + "\" stroke=\"#e0e0e0\"/><line x1=\"" + x + "\" y1=\"" +
             coord(bottom) + "\" x2=\"" + x + "\" y2=\"" + coord(bottom + 6) + "\" stroke=\"#000000\"/><text x=\"" + x +
             "\" y=\"" + coord(bottom + 22) + "\" text-anchor=\"middle\" font-size=\"13\">" + escape(label(v)) +
             "</text></g>\n";
  }
  for (const double v : f.y.log ? log_ticks(f.y.lo, f.y.hi) : nice_ticks(f.y.lo, f.y.hi)) {
    const std::string y = coord(f.py(v));
    body_ += "<g class=\"ytick\" data-value=\"" + number17(v) + "\"><line x1=\"" + coord(f.left) + "\" y1=\"" + y +
             "\" x2=\"" + coord(right) + "\" y2=\"" + y + "\" stroke=\"#e0e0e0\"/><line x1=\"" + coord(f.left - 6) +
             "\" y1=\"" + y + "\" x2=\"" + coord(f.left) + "\" y2=\"" + y + "\" stroke=\"#000000\"/><text x=\"" +
             coord(f.left - 9) + "\" y=\"" + coord(f.py(v) + 4) + "\" text-anchor=\"end\" font-size=\"13\">" +
             escape(label(v)) + "</text></g>\n";
  }
  body_ += "</g>\n";
  text(f.left + f.width / 2, bottom + 46, f.x.title, "middle", 14, "axis-title");
  body_ += "<text class=\"axis-title\" transform=\"translate(" + coord(f.left - 62) + " " +
           coord(f.top + f.height / 2) + ") rotate(-90)\" text-anchor=\"middle\" font-size=\"14\">" +
           escape(f.y.title) + "</text>\n";
}

void Picture::line(const Frame& f, const std::vector<double>& xs, const std::vector<double>& ys,
                   const std::string& colour, const std::string& cls, const std::string& label, bool dashed,
                   double width) {
  std::string points;
  for (std::size_t k = 0; k < xs.size() && k < ys.size(); ++k) {
    const double x = f.px(xs[k]), y = f.py(ys[k]);
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    points += (points.empty() ? "" : " ") + coord(x) + "," + coord(y);
  }
  body_ += "<polyline class=\"" + escape(cls) + "\" data-frame=\"" + escape(f.id) + "\" data-label=\"" + escape(label) + "\" points=\"" + points +
           "\" fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"" + coord(width) +
           "\" stroke-linejoin=\"round\"" + (dashed ? " stroke-dasharray=\"7 4\"" : "") + "/>\n";
}

void Picture::marker(const Frame& f, double x, double y, const std::string& kind, const std::string& colour,
                     const std::string& title, bool square) {
  const std::string cx = coord(f.px(x)), cy = coord(f.py(y));
  const std::string style = "\" fill=\"" + colour + "\" stroke=\"#000000\" stroke-width=\"1.5\">";
  if (square)
    body_ += "<rect class=\"marker " + kind + "\" data-frame=\"" + escape(f.id) + "\" data-cx=\"" + cx + "\" data-cy=\"" + cy + "\" x=\"" +
             coord(f.px(x) - 6) + "\" y=\"" + coord(f.py(y) - 6) + "\" width=\"12\" height=\"12" + style;
  else
    body_ += "<circle class=\"marker " + kind + "\" data-frame=\"" + escape(f.id) + "\" data-cx=\"" + cx + "\" data-cy=\"" + cy + "\" cx=\"" + cx +
             "\" cy=\"" + cy + "\" r=\"7" + style;
  body_ += "<title>" + escape(title) + "</title></" + std::string(square ? "rect" : "circle") + ">\n";
}

void Picture::bar(const Frame& f, double x0, double x1, double value, const std::string& colour,
                  const std::string& group, const std::string& series) {
  const double top = std::min(f.py(value), f.py(0.0)), base = std::max(f.py(value), f.py(0.0));
  body_ += "<rect class=\"bar\" data-frame=\"" + escape(f.id) + "\" data-group=\"" + escape(group) + "\" data-series=\"" + escape(series) + "\" x=\"" +
           coord(f.px(x0)) + "\" y=\"" + coord(top) + "\" width=\"" + coord(f.px(x1) - f.px(x0)) + "\" height=\"" +
           coord(base - top) + "\" fill=\"" + colour + "\"><title>" + escape(series + ", " + group + ": " + label(value)) +
           "</title></rect>\n";
}

void Picture::text(double x, double y, const std::string& s, const std::string& anchor, int size,
                   const std::string& cls) {
  if (s.empty()) return;
  body_ += "<text class=\"" + escape(cls) + "\" x=\"" + coord(x) + "\" y=\"" + coord(y) + "\" text-anchor=\"" + anchor +
           "\" font-size=\"" + std::to_string(size) + "\">" + escape(s) + "</text>\n";
}

void Picture::legend(double right, double top, const std::vector<LegendEntry>& entries) {
  if (entries.empty()) return;
  std::size_t longest = 0;
  for (const auto& e : entries) longest = std::max(longest, e.text.size());
  const double w = 44 + 7.0 * static_cast<double>(std::min<std::size_t>(longest, 40)), h = 8 + 20.0 * static_cast<double>(entries.size());
  const double left = right - w;
  body_ += "<g class=\"legend\"><rect x=\"" + coord(left) + "\" y=\"" + coord(top) + "\" width=\"" + coord(w) +
           "\" height=\"" + coord(h) + "\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#999999\"/>\n";
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const auto& e = entries[k];
    const double y = top + 16 + 20.0 * static_cast<double>(k);
    if (e.box)
      body_ += "<rect x=\"" + coord(left + 8) + "\" y=\"" + coord(y - 6) + "\" width=\"22\" height=\"10\" fill=\"" +
               e.colour + "\"/>";
    else
      body_ += "<line x1=\"" + coord(left + 8) + "\" y1=\"" + coord(y - 1) + "\" x2=\"" + coord(left + 30) +
               "\" y2=\"" + coord(y - 1) + "\" stroke=\"" + e.colour + "\" stroke-width=\"2.5\"" +
               (e.dashed ? " stroke-dasharray=\"7 4\"" : "") + "/>";
    body_ += "<text class=\"legend-text\" x=\"" + coord(left + 36) + "\" y=\"" + coord(y + 3) +
             "\" font-size=\"12\">" + escape(io::printable(e.text, 40)) +
             "</text>\n";
  }
  body_ += "</g>\n";
}

std::string Picture::finish() const {
  const std::string w = std::to_string(width_), h = std::to_string(height_);
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + w +
         "\" height=\"" + h + "\" viewBox=\"0 0 " + w + " " + h +
         "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n" + body_ + "</svg>\n";
}

}  // namespace steepest::cli::svg
