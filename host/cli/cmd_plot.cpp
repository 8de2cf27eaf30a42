// `steepest plot`: SVG pictures of the CSV files fit writes.  A --history file (or several,
// overlaid) becomes the loss per epoch on a log scale; a --trace file with --data becomes
// the path of two parameters over the contour lines of the MSE (the library's evaluate() on
// a grid, the other parameters at their final values; marching squares in contour.cpp).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>

#include "backend/view_access.hpp"
#include "cli/commands.hpp"
#include "cli/contour.hpp"
#include "cli/svg.hpp"
#include "io/atomic_file.hpp"
#include "io/least_squares.hpp"
#include "io/text.hpp"

namespace steepest::cli {
namespace {

struct PlotArgs {
  std::vector<std::string> files;
  std::string output;
  std::vector<std::string> labels;
  std::string title;
  DataArgs in;  ///< --data and its column options (trace pictures)
  std::string params;
  bool trace_steps = false;
  bool linear = false;
  std::int64_t grid = 61;
};

/// A numeric CSV file with a header, by column.
struct Table {
  std::string path;
  std::vector<std::string> names;
  std::vector<std::vector<double>> cols;
  std::size_t rows() const { return cols.empty() ? 0 : cols.front().size(); }
  int column(const std::string& name) const {
    const auto it = std::find(names.begin(), names.end(), name);
    return it == names.end() ? -1 : static_cast<int>(it - names.begin());
  }
  const std::vector<double>& operator[](const std::string& name) const { return cols[static_cast<std::size_t>(column(name))]; }
};

std::vector<std::string> split_cells(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> cells(1);
  for (const char c : line) {
    if (c == ',') cells.emplace_back();
    else cells.back() += c;
  }
  return cells;
}

/// Reads \p path: a header of names, then rows of finite numbers of the same width.
Table read_table(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument("cannot open " + io::quoted(path, 200) + ": " + std::strerror(errno));
  Table t;
  t.path = path;
  std::string line;
  if (!std::getline(in, line)) throw InvalidArgument(path + ": the file is empty (expected a CSV header line)");
  t.names = split_cells(line);
  t.cols.resize(t.names.size());
  for (std::size_t number = 2; std::getline(in, line); ++number) {
    if (line.empty() || line == "\r") continue;
    const auto cells = split_cells(line);
    if (cells.size() != t.names.size())
      throw InvalidArgument(path + ":" + std::to_string(number) + ": " + std::to_string(cells.size()) +
                            " cells, the header names " + std::to_string(t.names.size()));
    for (std::size_t k = 0; k < cells.size(); ++k) {
      char* end = nullptr;
      const double v = std::strtod(cells[k].c_str(), &end);
      if (cells[k].empty() || *end != '\0' || !std::isfinite(v))
        throw InvalidArgument(path + ":" + std::to_string(number) + ": column " + io::quoted(t.names[k]) + ": " +
                              io::quoted(cells[k]) + " is not a finite number");
      t.cols[k].push_back(v);
    }
  }
  if (t.rows() == 0) throw InvalidArgument(path + ": no data rows (only a header)");
  return t;
}

bool is_history(const Table& t) { return t.names.size() >= 2 && t.names[0] == "epoch" && t.names[1] == "mse"; }
bool is_trace(const Table& t) { return t.column("epoch") == 0 && t.column("bias") >= 0 && t.column("learning_rate") >= 0; }

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// [lo, hi] of \p v widened by \p pad of its span (or by 1 around a single value).
std::pair<double, double> padded(const std::vector<double>& v, double pad) {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const double span = *hi - *lo;
  if (span > 0) return {*lo - pad * span, *hi + pad * span};
  const double w = std::max(1.0, 0.5 * std::abs(*lo));
  return {*lo - w, *hi + w};
}

// --- the loss per epoch -------------------------------------------------------------------

/// The y range of the history pictures: every value drawn (log: the positive ones).
svg::Axis loss_axis(const std::vector<Table>& tables, bool log, std::size_t& dropped) {
  std::vector<double> all;
  for (const Table& t : tables)
    for (std::size_t c = 1; c < t.cols.size(); ++c)
      for (const double v : t.cols[c]) {
        if (log && v <= 0) ++dropped;
        else all.push_back(v);
      }
  if (all.empty())
    throw InvalidArgument("no positive loss to draw on a log scale (every value is 0 or less); give --linear");
  svg::Axis y;
  y.log = log;
  y.title = log ? "MSE (log scale)" : "MSE";
  const auto [lo, hi] = std::minmax_element(all.begin(), all.end());
  if (log) {
    const double ratio = *hi > *lo ? std::pow(*hi / *lo, 0.04) : 2.0;
    y.lo = *lo / ratio;
    y.hi = *hi * ratio;
  } else {
    std::tie(y.lo, y.hi) = padded(all, 0.04);
  }
  return y;
}

int plot_history(const PlotArgs& a, const std::vector<Table>& tables) {
  svg::Frame f;
  f.id = "loss";
  f.width = 640;
  double last = 1;
  for (const Table& t : tables) last = std::max(last, t["epoch"].back());
  f.x = {0.0, last, false, "epoch", {}};
  std::size_t dropped = 0;
  f.y = loss_axis(tables, !a.linear, dropped);
  std::string names;
  std::vector<std::string> labels;
  for (std::size_t k = 0; k < tables.size(); ++k) {
    labels.push_back(k < a.labels.size() ? a.labels[k] : base_name(tables[k].path));
    names += (k ? ", " : "") + labels.back();
  }
  const bool held = std::any_of(tables.begin(), tables.end(), [](const Table& t) { return t.column("heldout_mse") >= 0; });
  svg::Picture pic(800, 600, a.title.empty() ? "Loss per epoch: " + names : a.title,
                   std::string(a.linear ? "training MSE" : "training MSE, log scale") +
                       (held ? "; held-out MSE dashed" : "") +
                       (dropped ? "; " + std::to_string(dropped) + " values <= 0 not drawn" : ""));
  pic.axes(f);
  std::vector<svg::LegendEntry> legend;
  for (std::size_t k = 0; k < tables.size(); ++k) {
    const Table& t = tables[k];
    const std::string colour = svg::colour(k);
    auto drawn = [&](const std::vector<double>& v) {  // a log axis leaves out values <= 0
      std::vector<double> out = v;
      if (!a.linear)
        for (double& x : out) x = x > 0 ? x : std::nan("");
      return out;
    };
    pic.line(f, t["epoch"], drawn(t["mse"]), colour, "series mse", labels[k]);
    legend.push_back({labels[k], colour, false, false});
    if (t.column("heldout_mse") >= 0) {
      pic.line(f, t["epoch"], drawn(t["heldout_mse"]), colour, "series heldout_mse", labels[k] + " (held-out)", true);
      legend.push_back({labels[k] + " (held-out)", colour, true, false});
    }
  }
  pic.legend(f.left + f.width - 8, f.top + 8, legend);
  io::write_file_atomically(a.output, pic.finish());
  return kOk;
}

// --- the descent path over the loss surface -----------------------------------------------

/// A parameter of the model: -1 the bias, k >= 0 weight k.
struct Parameter {
  int index;
  std::string name;
};

Parameter find_parameter(const std::string& name, std::int64_t d, const std::vector<std::string>& features) {
  if (name == "b" || name == "bias") return {-1, "bias"};
  if (name.size() > 1 && name[0] == 'w' && name.find_first_not_of("0123456789", 1) == std::string::npos) {
    const long k = std::strtol(name.c_str() + 1, nullptr, 10);
    if (k >= 1 && k <= d) return {static_cast<int>(k - 1), name};
  }
  for (std::size_t k = 0; k < features.size(); ++k)
    if (features[k] == name) return {static_cast<int>(k), "w" + std::to_string(k + 1) + " (" + name + ")"};
  throw InvalidArgument("--params: unknown parameter " + io::quoted(name) + "; the trace has bias (or b) and w1..w" +
                        std::to_string(d) + (features.empty() ? "" : " (or the feature names of --data)"));
}

std::pair<Parameter, Parameter> chosen_parameters(const PlotArgs& a, std::int64_t d,
                                                  const std::vector<std::string>& features) {
  if (a.params.empty()) {
    if (d == 1) return {{0, "m (w1)"}, {-1, "b (bias)"}};
    throw InvalidArgument("the trace has " + std::to_string(d) +
                          " weights: choose the two parameters to draw with --params, e.g. --params w1,w2");
  }
  const std::vector<std::string> names = split_list(a.params);
  if (names.size() != 2)
    throw InvalidArgument("--params takes two parameters separated by a comma, got " + io::quoted(a.params));
  const Parameter p = find_parameter(names[0], d, features), q = find_parameter(names[1], d, features);
  if (p.index == q.index) throw InvalidArgument("--params names " + io::quoted(p.name) + " twice");
  return {p, q};
}

/// The trace's rows to draw: every row, or (a --trace-steps file without --trace-steps)
/// the first row and the last of each epoch.
std::vector<std::size_t> path_rows(const PlotArgs& a, const Table& t) {
  const bool steps = t.column("step") >= 0;
  if (a.trace_steps && !steps)
    throw InvalidArgument(t.path + " has no step column: it was written without fit --trace-steps; "
                                   "plot it without --trace-steps");
  std::vector<std::size_t> rows;
  const auto& epoch = t["epoch"];
  for (std::size_t k = 0; k < t.rows(); ++k)
    if (a.trace_steps || !steps || k == 0 || k + 1 == t.rows() || epoch[k + 1] != epoch[k]) rows.push_back(k);
  return rows;
}

/// The parameters (w, b) of trace row \p r.
std::pair<std::vector<double>, double> parameters_at(const Table& t, std::size_t r, std::int64_t d) {
  std::vector<double> w(static_cast<std::size_t>(d));
  for (std::int64_t k = 0; k < d; ++k) w[static_cast<std::size_t>(k)] = t["w" + std::to_string(k + 1)][r];
  return {w, t["bias"][r]};
}

struct Surface {
  Table trace;
  Loaded data;
  std::int64_t d = 0;
  Parameter p{0, ""}, q{0, ""};
  std::vector<double> final_w;
  double final_b = 0;
  double get(const std::vector<double>& w, double b, const Parameter& which) const {
    return which.index < 0 ? b : w[static_cast<std::size_t>(which.index)];
  }
  /// The MSE at the final parameters with p = u, q = v (the library's evaluate()).
  double mse(double u, double v) const {
    std::vector<double> w = final_w;
    double b = final_b;
    (p.index < 0 ? b : w[static_cast<std::size_t>(p.index)]) = u;
    (q.index < 0 ? b : w[static_cast<std::size_t>(q.index)]) = v;
    EvaluateOptions o;
    o.device = Device::cpu;
    return evaluate(data.X, data.y, data.weights, w, b, o).mse;
  }
};

/// The minimum of the MSE over (p, q) with the other parameters at their final values: the
/// least-squares solution of the reduced problem (false when it is singular).
bool slice_optimum(const Surface& s, double& u, double& v) {
  if (s.data.weights.data != nullptr) return false;  // the weighted slice: not solved here (no marker)
  const std::int64_t n = s.data.X.rows;
  std::vector<double> xs, ys(static_cast<std::size_t>(n));
  const bool bias_free = s.p.index >= 0 && s.q.index >= 0;  // the bias stays fixed: no intercept
  for (std::int64_t i = 0; i < n; ++i) {
    double rest = s.final_b * (bias_free ? 1.0 : 0.0);
    for (std::int64_t k = 0; k < s.d; ++k)
      if (k != s.p.index && k != s.q.index) rest += s.final_w[static_cast<std::size_t>(k)] * detail::value_at(s.data.X, i, k);
    ys[static_cast<std::size_t>(i)] = detail::value_at(s.data.y, i) - rest;
    for (const Parameter* par : {&s.p, &s.q})
      if (par->index >= 0) xs.push_back(detail::value_at(s.data.X, i, par->index));
  }
  const std::int64_t cols = bias_free ? 2 : 1;
  try {
    const auto ls = io::least_squares(make_matrix_view(xs.data(), n, cols), make_vector_view(ys.data(), n), !bias_free);
    u = s.p.index < 0 ? ls.bias : ls.weights[0];
    v = s.q.index < 0 ? ls.bias : ls.weights[bias_free ? 1 : 0];
    return std::isfinite(u) && std::isfinite(v);
  } catch (const InvalidArgument&) {
    return false;
  }
}

/// The frame around the path (and the optimum): 10% of the span on each side.
svg::Frame path_frame(const Surface& s, const std::vector<double>& us, const std::vector<double>& vs) {
  svg::Frame f;
  f.id = "path";
  f.left = 90;
  f.width = 470;
  std::tie(f.x.lo, f.x.hi) = padded(us, 0.1);
  std::tie(f.y.lo, f.y.hi) = padded(vs, 0.1);
  f.x.title = s.p.name;
  f.y.title = s.q.name;
  return f;
}

/// The contour lines of the MSE over the frame: evaluate() on a grid x grid lattice.
void draw_contours(svg::Picture& pic, const svg::Frame& f, const Surface& s, std::int64_t grid) {
  Grid g;
  const auto n = static_cast<std::size_t>(grid);
  for (std::size_t k = 0; k < n; ++k) {
    const double t = static_cast<double>(k) / static_cast<double>(n - 1);
    g.xs.push_back(f.x.lo + t * (f.x.hi - f.x.lo));
    g.ys.push_back(f.y.lo + t * (f.y.hi - f.y.lo));
  }
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < n; ++i) g.v.push_back(s.mse(g.xs[i], g.ys[j]));
  const auto [lo, hi] = std::minmax_element(g.v.begin(), g.v.end());
  for (const double level : contour_levels(*lo, *hi, 12)) {
    std::string d;
    for (const Segment& seg : contour_segments(g, level))
      d += "M" + svg::coord(f.px(seg.x0)) + " " + svg::coord(f.py(seg.y0)) + "L" + svg::coord(f.px(seg.x1)) + " " +
           svg::coord(f.py(seg.y1));
    char value[40];
    std::snprintf(value, sizeof value, "%.17g", level);
    if (!d.empty())
      pic.raw("<path class=\"contour\" data-frame=\"" + f.id + "\" data-level=\"" + std::string(value) + "\" d=\"" + d +
              "\" fill=\"none\" stroke=\"#8c8c8c\" stroke-width=\"1\"><title>MSE " + svg::label(level) +
              "</title></path>\n");
  }
}

/// The subtitle: the parameters drawn and the options the trace shows (rate, epochs, steps).
std::string path_subtitle(const PlotArgs& a, const Surface& s, std::size_t points) {
  const auto& lr = s.trace["learning_rate"];
  const auto [lo, hi] = std::minmax_element(lr.begin(), lr.end());
  std::string text = s.p.name + " against " + s.q.name;
  if (s.d > 1) text += " (the other parameters at their final values)";
  text += "; lr " + svg::label(*lo) + (*hi != *lo ? " to " + svg::label(*hi) : "");
  text += "; " + svg::label(s.trace["epoch"].back()) + " epochs";
  if (s.trace.column("step") >= 0) text += a.trace_steps ? ", every step" : ", every epoch of a --trace-steps file";
  return text + "; " + std::to_string(points) + " points";
}

int plot_trace(const PlotArgs& a, const Table& trace) {
  if (a.in.path.empty()) throw InvalidArgument("plot of a trace needs the data it was fitted on: give --data DATA");
  Surface s;
  s.trace = trace;
  s.d = 0;
  while (trace.column("w" + std::to_string(s.d + 1)) >= 0) ++s.d;
  const std::vector<std::size_t> rows = path_rows(a, trace);
  s.data = load_data(a.in, Expect{});
  if (s.data.X.cols != s.d)
    throw InvalidArgument(a.in.path + " has " + std::to_string(s.data.X.cols) + " feature columns, the trace " +
                          trace.path + " " + std::to_string(s.d) + " weights");
  std::tie(s.p, s.q) = chosen_parameters(a, s.d, s.data.feature_names);
  std::tie(s.final_w, s.final_b) = parameters_at(trace, trace.rows() - 1, s.d);
  std::vector<double> us, vs;
  for (const std::size_t r : rows) {
    const auto [w, b] = parameters_at(trace, r, s.d);
    us.push_back(s.get(w, b, s.p));
    vs.push_back(s.get(w, b, s.q));
  }
  double ou = 0, ov = 0;
  const bool optimum = slice_optimum(s, ou, ov);
  std::vector<double> bu = us, bv = vs;
  if (optimum) {
    bu.push_back(ou);
    bv.push_back(ov);
  }
  const svg::Frame f = path_frame(s, bu, bv);
  const std::string title = a.title.empty() ? "Descent path over the MSE: " + base_name(trace.path) + " on " +
                                                  base_name(a.in.path)
                                            : a.title;
  svg::Picture pic(800, 600, title, path_subtitle(a, s, rows.size()));
  pic.axes(f);
  draw_contours(pic, f, s, a.grid);
  pic.line(f, us, vs, svg::colour(0), "path", "descent path");
  pic.marker(f, us.front(), vs.front(), "start", svg::colour(2), "start: MSE " + svg::label(s.mse(us.front(), vs.front())));
  std::vector<svg::LegendEntry> legend = {{"descent path", svg::colour(0), false, false},
                                          {"start", svg::colour(2), false, true},
                                          {"end", svg::colour(1), false, true},
                                          {"MSE contours", "#8c8c8c", false, false}};
  if (optimum) {
    const std::string name = s.d > 1 ? "least-squares optimum of this slice" : "least-squares optimum";
    pic.marker(f, ou, ov, "optimum", svg::colour(3), name + ": MSE " + svg::label(s.mse(ou, ov)), true);
    legend.insert(legend.begin() + 3, {name, svg::colour(3), false, true});
  }
  // After the optimum: a converged end lies on it and stays visible.
  pic.marker(f, us.back(), vs.back(), "end", svg::colour(1), "end: MSE " + svg::label(s.mse(us.back(), vs.back())));
  pic.legend(792, f.top, legend);
  io::write_file_atomically(a.output, pic.finish());
  return kOk;
}

int run_plot(PlotArgs& a) {
  io::check_writable(a.output, "--output");
  std::vector<io::NamedPath> inputs = input_files(a.in);
  for (const auto& f : a.files) inputs.push_back({"FILE", f});
  io::check_distinct_files({{"--output", a.output}}, inputs);
  std::vector<Table> tables;
  for (const auto& f : a.files) tables.push_back(read_table(f));
  if (a.labels.size() > tables.size())
    throw InvalidArgument("--label given " + std::to_string(a.labels.size()) + " times for " +
                          std::to_string(tables.size()) + " files");
  const bool history = std::all_of(tables.begin(), tables.end(), is_history);
  if (history) {
    if (!a.in.path.empty() || !a.params.empty() || a.trace_steps)
      throw InvalidArgument("--data, --params and --trace-steps are for a trace file (fit --trace), not a history");
    return plot_history(a, tables);
  }
  if (tables.size() == 1 && is_trace(tables.front())) return plot_trace(a, tables.front());
  for (const Table& t : tables)
    if (!is_history(t) && !is_trace(t))
      throw InvalidArgument(t.path + ": not a history (epoch,mse,...) or a trace (epoch,...,bias,w1,...) file");
  throw InvalidArgument("plot draws several history files, or one trace file: not a mix, not two traces");
}

}  // namespace

void add_plot_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<PlotArgs>();
  auto* cmd = app.add_subcommand("plot", "Draw fit --history files (loss per epoch) or a --trace file over the "
                                          "MSE's contours (with --data) as SVG");
  cmd->add_option("FILE", a->files, "History CSV files (overlaid), or one trace CSV")->required();
  cmd->add_option("--output,-o", a->output, "The SVG file to write")->required();
  // One value an occurrence: `--label a h2.csv` must not take h2.csv as a second label.
  cmd->add_option("--label", a->labels, "Legend label of each history file, in order, once each (default: the file names)")
      ->allow_extra_args(false);
  cmd->add_option("--title", a->title, "Title of the picture (default: names the files)");
  cmd->add_flag("--linear", a->linear, "History: a linear loss axis instead of log10");
  cmd->add_option("--data", a->in.path, "Trace: the data the fit ran on (CSV or .npy), for the MSE's contours");
  cmd->add_option("--target", a->in.target, "Trace: --data's target column (as for fit)");
  cmd->add_option("--features", a->in.features, "Trace: --data's feature columns (as for fit)");
  cmd->add_option("--delimiter", a->in.delimiter, "Trace: --data's CSV delimiter (as for fit)");
  auto* wc = cmd->add_option("--weight-column", a->in.weight_column,
                             "Trace: --data's sample-weight column, for a weighted fit's MSE (as for fit)");
  cmd->add_option("--weight-file", a->in.weight_file, "Trace: sample weights of a weighted fit (as for fit)")->excludes(wc);
  cmd->add_option("--params", a->params, "Trace: the two parameters drawn, e.g. w1,w2 or w1,bias (default for one "
                                         "feature: m = w1 and b = bias); the others stay at their final values");
  cmd->add_flag("--trace-steps", a->trace_steps, "Trace: draw every optimizer step of a fit --trace-steps file "
                                                 "(default: the end of each epoch)");
  cmd->add_option("--grid", a->grid, "Trace: the MSE is evaluated on GRID x GRID points")
      ->capture_default_str()->check(integer_in(3, 1001));
  cmd->callback([&action, a] { action = [a] { return run_plot(*a); }; });
}

}  // namespace steepest::cli
