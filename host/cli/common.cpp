#include "cli/common.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "backend/chunk_plan.hpp"
#include "io/text.hpp"
#include "steepest/error.hpp"

namespace steepest::cli {

volatile std::sig_atomic_t g_signal = 0;

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

io::CsvOptions csv_options(const DataArgs& a) {
  io::CsvOptions o;
  if (a.header) o.header = true;
  if (a.no_header) o.header = false;
  o.target = a.target;
  o.features = split_list(a.features);
  if (a.delimiter == "tab" || a.delimiter == "\\t") o.delimiter = '\t';
  else if (a.delimiter.size() == 1) o.delimiter = a.delimiter[0];
  else throw InvalidArgument("--delimiter must be one character or 'tab', got '" + a.delimiter + "'");
  o.dtype = a.dtype == "float32" ? DType::float32 : DType::float64;
  return o;
}

std::vector<std::string> numbered(std::int64_t d) {
  std::vector<std::string> names;
  for (std::int64_t k = 0; k < d; ++k) names.push_back("x" + std::to_string(k + 1));
  return names;
}

/// "'a', 'b' and 'c'" (at most five, then "..."), escaped for a message.
std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t k = 0; k < names.size() && k < 5; ++k)
    out += (k == 0 ? "" : k + 1 == names.size() ? " and " : ", ") + io::quoted(names[k]);
  return names.size() > 5 ? out + ", ..." : out;
}

/// The model's indices, e.g. "target 0, features 1, 2", for messages.
std::string describe(const io::ColumnLayout& rec) {
  std::string out = "target " + std::to_string(rec.target) + ", features ";
  for (std::size_t k = 0; k < rec.features.size() && k < 8; ++k)
    out += (k ? ", " : "") + std::to_string(rec.features[k]);
  return rec.features.size() > 8 ? out + ", ..." : out;
}

/// Refuses data of \p width columns when it lacks column \p needed of the model's file.
void require_width(const std::string& path, std::int64_t width, std::int64_t needed, const io::ColumnLayout& rec) {
  if (needed < width) return;
  throw InvalidArgument(path + " has " + std::to_string(width) + " column" + (width == 1 ? "" : "s") +
                        " but the model reads column " + std::to_string(needed) +
                        " (0-based) of the file it was fitted on (" + describe(rec) +
                        "); give --target/--features to choose other columns");
}

/// Columns for a model that records them (see Expect::columns): set in \p opt as indices.
void choose_model_columns(const std::string& path, const Expect& expect, io::CsvOptions& opt) {
  const io::ColumnLayout& rec = *expect.columns;
  io::CsvHead head = io::read_csv_head(path, opt);
  // A first line holding every feature name of a model fitted with a header is a header,
  // even when the names look like numbers (a header forced with --header at fit time).
  if (!opt.header.has_value() && !head.header && rec.header &&
      std::all_of(expect.feature_names.begin(), expect.feature_names.end(), [&](const std::string& n) {
        return std::any_of(head.cells.begin(), head.cells.end(),
                           [&](const std::string& c) { return io::utf8_safe(c) == n; });
      }))
    head.header = true;
  opt.header = head.header;
  const auto width = static_cast<std::int64_t>(head.cells.size());
  const auto d = static_cast<std::int64_t>(rec.features.size());
  const bool by_name = head.header && rec.header;
  // The column named \p name (compared as the model file holds names), or -1.
  auto find = [&](const std::string& name) -> std::int64_t {
    std::int64_t found = -1;
    for (std::int64_t c = 0; c < width; ++c) {
      if (io::utf8_safe(head.cells[static_cast<std::size_t>(c)]) != name) continue;
      if (found >= 0)
        throw InvalidArgument(path + ": the header names columns " + std::to_string(found + 1) + " and " +
                              std::to_string(c + 1) + " both " + io::quoted(name) + "; rename one");
      found = c;
    }
    return found;
  };
  if (opt.features.empty()) {
    if (by_name) {
      std::vector<std::string> missing;
      for (const auto& name : expect.feature_names) {
        const std::int64_t c = find(name);
        if (c < 0) missing.push_back(name);
        else opt.feature_columns.push_back(c);
      }
      if (!missing.empty())
        throw InvalidArgument(path + ": the header has no column " + name_list(missing) + " (feature" +
                              (missing.size() == 1 ? "" : "s") +
                              " of the model); name the feature columns with --features");
    } else if (!expect.target && opt.target.empty() && width == d) {
      // Prediction input of the features alone, in the model's order.
      for (std::int64_t c = 0; c < d; ++c) opt.feature_columns.push_back(c);
    } else {
      for (const std::int64_t c : rec.features) require_width(path, width, c, rec);
      opt.feature_columns = rec.features;
    }
  }
  if (!opt.target.empty()) return;  // --target: the user's choice
  if (!expect.target) {
    opt.has_target = false;  // predict needs no target
  } else if (by_name) {
    const std::int64_t c = find(expect.target_name);
    if (c < 0)
      throw InvalidArgument(path + ": the header has no column " + io::quoted(expect.target_name) +
                            " (the model's target); name the target column with --target");
    opt.target_column = c;
  } else {
    require_width(path, width, rec.target, rec);
    opt.target_column = rec.target;
  }
}

/// Columns for a model file without a column record: by name when the header holds every
/// feature name, else by position (the behaviour of older versions).
void choose_legacy_columns(const std::string& path, const Expect& expect, io::CsvOptions& opt) {
  if (expect.feature_names.empty() && !(expect.target_optional && expect.features > 0)) return;
  const auto head = io::read_csv_head(path, opt).cells;
  auto in_head = [&](const std::string& n) { return std::find(head.begin(), head.end(), n) != head.end(); };
  if (opt.features.empty() && !expect.feature_names.empty() &&
      std::all_of(expect.feature_names.begin(), expect.feature_names.end(), in_head)) {
    opt.features = expect.feature_names;
    if (opt.header != false) opt.header = true;
    const bool has_target = !expect.target_name.empty() && in_head(expect.target_name);
    if (opt.target.empty() && has_target) opt.target = expect.target_name;
    if (!expect.target && !has_target && opt.target.empty()) opt.has_target = false;
  } else if (expect.target_optional && opt.target.empty() && expect.features > 0 && opt.features.empty()) {
    // No names to go by: as many columns as features means there is no target.
    if (static_cast<std::int64_t>(head.size()) == expect.features) opt.has_target = false;
  }
}

/// The views, names and columns of a parsed CSV dataset, which \p out then owns.
void take_csv(io::CsvDataset ds, bool has_target, Loaded& out) {
  out.csv = std::move(ds);
  out.X = out.csv.x_view();
  if (has_target) out.y = out.csv.y_view();
  for (const auto& n : out.csv.feature_names) out.feature_names.push_back(io::utf8_safe(n));
  out.target_name = io::utf8_safe(out.csv.target_name);
  out.weights = out.csv.w_view();
  out.weight_name = io::utf8_safe(out.csv.weight_name);
  out.columns = out.csv.layout;
}

Loaded load_csv(const DataArgs& a, const Expect& expect) {
  io::CsvOptions opt = csv_options(a);
  opt.weight = a.weight_column;
  if (expect.columns) choose_model_columns(a.path, expect, opt);
  else choose_legacy_columns(a.path, expect, opt);
  Loaded out;
  take_csv(io::read_csv(a.path, opt), opt.has_target, out);
  return out;
}

/// --weight-file: a 1-D .npy, or text with one number per line (a header line allowed).
void load_weight_file(const std::string& path, std::int64_t rows, Loaded& out) {
  if (is_npy_file(path)) {
    out.w_npy = io::read_npy(path);
    out.weights = out.w_npy.vector();
  } else {
    io::CsvOptions opt;
    opt.has_target = false;
    out.weight_csv = io::read_csv(path, opt);
    if (out.weight_csv.cols != 1)
      throw InvalidArgument(path + ": a weight file holds one column, this one has " +
                            std::to_string(out.weight_csv.cols));
    out.weights = make_vector_view(out.weight_csv.X.data(), out.weight_csv.rows);
  }
  if (out.weights.size != rows)
    throw InvalidArgument(path + " has " + std::to_string(out.weights.size) + " weights but the data has " +
                          std::to_string(rows) + " rows");
  out.weight_name = path;
}

Loaded load_npy(const DataArgs& a, const Expect& expect) {
  Loaded out;
  if (!a.features.empty()) throw InvalidArgument("--features applies to CSV input only");
  if (!a.weight_column.empty())
    throw InvalidArgument("--weight-column applies to CSV input only; give .npy weights with --weight-file");
  if (!a.x_path.empty()) {
    out.x_npy = io::read_npy(a.x_path);
    out.X = out.x_npy.matrix();
    if (!a.y_path.empty()) {
      out.y_npy = io::read_npy(a.y_path);
      out.y = out.y_npy.vector();
      if (out.y.size != out.X.rows)
        throw InvalidArgument(a.y_path + " has " + std::to_string(out.y.size) + " values but " + a.x_path +
                              " has " + std::to_string(out.X.rows) + " rows");
    }
  } else {
    out.x_npy = io::read_npy(a.path);
    const std::int64_t cols = out.x_npy.cols();
    // --target: a column index (a .npy file has no names).
    std::optional<std::int64_t> explicit_target;
    if (!a.target.empty()) {
      std::int64_t t = 0;
      const auto [end, ec] = std::from_chars(a.target.data(), a.target.data() + a.target.size(), t);
      if (ec != std::errc() || end != a.target.data() + a.target.size())
        throw InvalidArgument("--target for a .npy file must be a column index, got " + io::quoted(a.target));
      if (t < 0) t += cols;
      if (t < 0 || t >= cols)
        throw InvalidArgument(a.path + ": target column " + a.target + " is out of range (" + std::to_string(cols) +
                              " columns)");
      explicit_target = t;
    }
    io::ColumnLayout layout{false, cols, -1, {}};
    if (expect.columns) {
      // The model's columns, by index; prediction input may hold the features alone.
      const io::ColumnLayout& rec = *expect.columns;
      const auto d = static_cast<std::int64_t>(rec.features.size());
      if (!expect.target && !explicit_target && cols == d) {
        for (std::int64_t c = 0; c < d; ++c) layout.features.push_back(c);
      } else {
        for (const std::int64_t c : rec.features) require_width(a.path, cols, c, rec);
        layout.features = rec.features;
        if (explicit_target) {
          layout.target = *explicit_target;
        } else if (expect.target) {
          require_width(a.path, cols, rec.target, rec);
          layout.target = rec.target;
        }
        if (std::find(layout.features.begin(), layout.features.end(), layout.target) != layout.features.end())
          throw InvalidArgument(a.path + ": column " + std::to_string(layout.target) +
                                " is the target; it cannot also be a feature (the model's " + describe(rec) + ")");
      }
    } else {
      bool has_target = expect.target || explicit_target.has_value();
      if (!has_target && expect.target_optional && expect.features > 0) has_target = cols == expect.features + 1;
      if (has_target) {
        if (cols < 2) throw InvalidArgument(a.path + ": needs a feature column besides the target");
        layout.target = explicit_target.value_or(cols - 1);
      }
      for (std::int64_t c = 0; c < cols; ++c)
        if (c != layout.target) layout.features.push_back(c);
    }
    if (layout.target >= 0) out.y = out.x_npy.column(layout.target);
    out.X = out.x_npy.select(layout.features);
    out.columns = layout;
  }
  out.feature_names = numbered(out.X.cols);
  if (out.y.data != nullptr) out.target_name = "y";
  return out;
}

}  // namespace

void add_data_options(CLI::App& cmd, DataArgs& a, bool allow_xy_files, bool allow_weights) {
  auto* data = cmd.add_option("DATA", a.path, "Data file: CSV (header detected) or .npy (one matrix)");
  if (allow_xy_files) {
    auto* x = cmd.add_option("--x", a.x_path, "Features as a .npy matrix (with --y; instead of DATA)");
    auto* y = cmd.add_option("--y", a.y_path, "Targets as a 1-D .npy file (with --x)");
    x->excludes(data);
    y->needs(x);
  } else {
    data->required();
  }
  cmd.add_option("--target", a.target,
                 "Target column: a header name or a 0-based index, negative from the end (default: the last)");
  cmd.add_option("--features", a.features,
                 "CSV feature columns, comma-separated names or indices (default: all but the target)");
  cmd.add_option("--delimiter", a.delimiter, "CSV field delimiter: one character, or 'tab'")->capture_default_str();
  cmd.add_option("--dataset", a.dataset, "HDF5 input: the 2-D dataset of the features (and the target, by --target)");
  cmd.add_option("--y-dataset", a.y_dataset, "HDF5 input: the dataset of the targets (1-D, or one column)");
  cmd.add_option("--dtype", a.dtype, "CSV storage in memory: float64, or float32 for half the memory (.npy keeps its type)")
      ->capture_default_str()->check(CLI::IsMember({"float64", "float32"}));
  if (allow_weights) {
    auto* wc = cmd.add_option("--weight-column", a.weight_column,
                              "CSV column of sample weights (name or 0-based index; not a feature): the "
                              "loss, gradient and metrics become sum w r^2 / sum w");
    cmd.add_option("--weight-file", a.weight_file,
                   "Sample weights, one per row: a 1-D .npy, or text with one number per line")
        ->excludes(wc);
  }
  auto* h = cmd.add_flag("--header", a.header, "The first CSV line names the columns (default: detected)");
  cmd.add_flag("--no-header", a.no_header, "The first CSV line is data (default: detected)")->excludes(h);
}

namespace {

/// Columns \p keep of \p in, packed (row-major, in the stored type).
io::H5Rows pack_columns(const io::H5Rows& in, const std::vector<std::int64_t>& keep) {
  io::H5Rows out;
  out.rows = in.rows;
  out.cols = static_cast<std::int64_t>(keep.size());
  out.dtype = in.dtype;
  auto copy = [&](const auto& from, auto& to) {
    to.resize(static_cast<std::size_t>(out.rows * out.cols));
    for (std::int64_t i = 0; i < out.rows; ++i)
      for (std::size_t k = 0; k < keep.size(); ++k)
        to[static_cast<std::size_t>(i * out.cols) + k] = from[static_cast<std::size_t>(i * in.cols + keep[k])];
  };
  if (in.dtype == DType::float32) copy(in.f32, out.f32);
  else copy(in.f64, out.f64);
  return out;
}

MatrixView view_of(const io::H5Rows& m) {
  return m.dtype == DType::float32 ? make_matrix_view(m.f32.data(), m.rows, m.cols)
                                   : make_matrix_view(m.f64.data(), m.rows, m.cols);
}

/// Rows [lo, hi) of HDF5 input (hi < 0: to the end): --dataset holds the features, and the
/// target unless --y-dataset names it (column --target, by default the last).
Loaded load_h5(const DataArgs& a, const Expect& expect, std::int64_t lo, std::int64_t hi) {
  if (!a.features.empty() || !a.weight_column.empty() || !a.weight_file.empty())
    throw InvalidArgument("--features, --weight-column and --weight-file do not apply to HDF5 input yet");
  const auto [rows, cols] = io::h5_shape(a.path, a.dataset);
  if (hi < 0) hi = rows;
  Loaded out;
  const io::H5Rows all = io::read_h5_rows(a.path, a.dataset, lo, hi);
  io::ColumnLayout layout{false, cols, -1, {}};
  const bool separate_y = !a.y_dataset.empty();
  bool has_target = !separate_y && (expect.target || !a.target.empty() ||
                                    (expect.target_optional && expect.features > 0 && cols == expect.features + 1));
  if (has_target) {
    std::int64_t t = cols - 1;
    if (!a.target.empty()) {
      const auto [end, ec] = std::from_chars(a.target.data(), a.target.data() + a.target.size(), t);
      if (ec != std::errc() || end != a.target.data() + a.target.size())
        throw InvalidArgument("--target for an HDF5 dataset must be a column index, got " + io::quoted(a.target));
      if (t < 0) t += cols;
    }
    if (t < 0 || t >= cols || cols < 2)
      throw InvalidArgument(a.path + ": dataset " + io::quoted(a.dataset) + " has " + std::to_string(cols) +
                            " columns: no target column " + (a.target.empty() ? "besides the features" : a.target));
    layout.target = t;
    out.h5_y = pack_columns(all, {t});
  }
  for (std::int64_t c = 0; c < cols; ++c)
    if (c != layout.target) layout.features.push_back(c);
  out.h5_x = pack_columns(all, layout.features);
  if (separate_y) {
    const auto [y_rows, y_cols] = io::h5_shape(a.path, a.y_dataset);
    if (y_rows != rows || y_cols != 1)
      throw InvalidArgument(a.path + ": --y-dataset " + io::quoted(a.y_dataset) + " is " + std::to_string(y_rows) +
                            " x " + std::to_string(y_cols) + "; it must be one value for each of the " +
                            std::to_string(rows) + " rows of " + io::quoted(a.dataset));
    out.h5_y = io::read_h5_rows(a.path, a.y_dataset, lo, hi);
  }
  out.X = view_of(out.h5_x);
  if (has_target || separate_y) {
    const MatrixView y = view_of(out.h5_y);
    out.y = y.dtype == DType::float32 ? make_vector_view(out.h5_y.f32.data(), y.rows)
                                      : make_vector_view(out.h5_y.f64.data(), y.rows);
    out.target_name = separate_y ? a.y_dataset : "y";
  }
  out.columns = layout;
  out.feature_names = numbered(out.X.cols);
  out.source = a.path;
  return out;
}

}  // namespace

Loaded load_data(const DataArgs& a, const Expect& expect) {
  if (a.path.empty() && a.x_path.empty()) throw InvalidArgument("no data: give a DATA file (or --x and --y)");
  if (!a.x_path.empty() && a.y_path.empty() && expect.target)
    throw InvalidArgument("--x needs --y (the targets) here");
  const bool npy = !a.x_path.empty() || is_npy_file(a.path);
  const bool h5 = !npy && io::is_hdf5_file(a.path);
  if (!h5 && (!a.dataset.empty() || !a.y_dataset.empty()))
    throw InvalidArgument("--dataset and --y-dataset apply to HDF5 input only");
  Loaded out = npy ? load_npy(a, expect) : h5 ? load_h5(a, expect, 0, -1) : load_csv(a, expect);
  out.source = a.path.empty() ? a.x_path : a.path;
  if (!a.weight_file.empty()) load_weight_file(a.weight_file, out.X.rows, out);
  if (expect.target && out.y.data == nullptr) throw InvalidArgument(out.source + ": no target column");
  if (expect.features >= 0 && out.X.cols != expect.features)
    throw InvalidArgument(out.source + ": the model has " + std::to_string(expect.features) +
                          " features but the data has " + std::to_string(out.X.cols) + " feature columns");
  return out;
}

bool is_npy_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;  // the CSV reader says why it cannot be opened
  char magic[6] = {};
  const std::size_t got = std::fread(magic, 1, sizeof magic, f);
  std::fclose(f);
  return got == sizeof magic && std::memcmp(magic, "\x93NUMPY", sizeof magic) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<double> parse_numbers(const std::string& text, const std::string& option) {
  std::vector<double> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    std::size_t used = 0;
    double v = 0.0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || !std::isfinite(v))
      throw InvalidArgument(option + ": '" + item + "' is not a finite number");
    out.push_back(v);
  }
  return out;
}

Progress::Progress(bool enabled, const char* unit)
    : enabled_(enabled && ::isatty(STDERR_FILENO) != 0), unit_(unit), start_(now_seconds()) {}

Progress::~Progress() {
  if (shown_) std::fputc('\n', stderr);
}

void Progress::update(std::int64_t done, std::int64_t total, const std::string& extra) {
  if (!enabled_) return;
  const double t = now_seconds();
  if (done != total && t - last_ < 0.25) return;
  last_ = t;
  const double secs = t - start_;
  const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
  std::fprintf(stderr, "\r%s %lld/%lld  %.3g %s/s  eta %.0fs %s   ", unit_, static_cast<long long>(done),
               static_cast<long long>(total), rate, unit_, eta, extra.c_str());
  shown_ = true;
}

namespace {

MatrixView rows_of(const MatrixView& X, std::int64_t lo, std::int64_t hi) {
  MatrixView v = X;
  v.rows = hi - lo;
  if (hi > lo) v.data = static_cast<const char*>(X.data) + X.offset(lo, 0) * dtype_size(X.dtype);
  return v;
}

VectorView rows_of(const VectorView& y, std::int64_t lo, std::int64_t hi) {
  if (y.data == nullptr) return y;
  VectorView v = y;
  v.size = hi - lo;
  if (hi > lo) v.data = static_cast<const char*>(y.data) + lo * y.stride * dtype_size(y.dtype);
  return v;
}

/// Runs \p step on every process; a failure anywhere is every process's InvalidArgument.
template <class F>
void agreed(const detail::Team& team, F&& step) {
  std::string error;
  try {
    step();
  } catch (const Error& e) {
    error = e.what();
  }
  team.agree(error);
}

/// A CSV file read by every process in part: count the rows of my byte range, agree who
/// takes which rows (whole shards), find where those start, parse them.  Returns the rows
/// of the whole file.
std::int64_t load_csv_rows(const DataArgs& a, const Expect& expect, const detail::Team& team, Loaded& out) {
  io::CsvOptions opt = csv_options(a);
  opt.weight = a.weight_column;
  io::CsvPart part;
  agreed(team, [&] {
    if (expect.columns) choose_model_columns(a.path, expect, opt);
    else choose_legacy_columns(a.path, expect, opt);
    part = io::scan_csv_part(a.path, opt, team.rank(), team.size());
  });
  const std::vector<std::int64_t> rows = team.gather(part.rows), lines = team.gather(part.lines);
  std::int64_t n = 0;
  std::vector<std::int64_t> first_row, first_line;  // of each part
  for (std::size_t r = 0; r < rows.size(); ++r) {
    first_row.push_back(n);
    first_line.push_back(r == 0 ? part.body_first_line : first_line[r - 1] + lines[r - 1]);
    n += rows[r];
  }
  if (n == 0) throw InvalidArgument(a.path + ": has a header but no data rows");
  // Where each process's rows start: found by the process whose part holds that row.
  const int size = team.size();
  std::vector<std::uint64_t> starts(2 * static_cast<std::size_t>(size + 1), 0);  // (offset + 1, line) per edge
  agreed(team, [&] {
    for (int r = 0; r <= size; ++r) {
      const std::int64_t row = detail::rank_rows(n, part.cols, size, std::min(r, size - 1)).first;
      const std::int64_t edge = r == size ? n : row;
      const auto mine = static_cast<std::size_t>(team.rank());
      if (edge < first_row[mine] || edge >= first_row[mine] + rows[mine]) continue;
      const auto [offset, line] = io::locate_csv_row(a.path, opt, part, edge - first_row[mine]);
      starts[2 * static_cast<std::size_t>(r)] = offset + 1;
      starts[2 * static_cast<std::size_t>(r) + 1] = static_cast<std::uint64_t>(first_line[mine] + line);
    }
  });
  const std::vector<std::uint64_t> all = team.gather_words(starts);
  std::vector<std::uint64_t> edge(starts.size(), 0);
  for (std::size_t at = 0; at < all.size(); ++at) edge[at % starts.size()] = std::max(edge[at % starts.size()], all[at]);
  // An edge no part holds (the end of the file, or rows past the last) is the file's end.
  const auto me = static_cast<std::size_t>(team.rank());
  const std::uint64_t file_end = team.gather_words({part.end}).back();
  const std::uint64_t begin = edge[2 * me] != 0 ? edge[2 * me] - 1 : file_end;
  const std::uint64_t end = edge[2 * me + 2] != 0 ? edge[2 * me + 2] - 1 : file_end;
  agreed(team, [&] {
    take_csv(io::read_csv_slice(a.path, opt, begin, end, static_cast<std::int64_t>(edge[2 * me + 1])),
             opt.has_target, out);
  });
  return n;
}

}  // namespace

Loaded load_own_rows(const DataArgs& a, const Expect& expect, const detail::Team& team) {
  if (team.alone()) return load_data(a, expect);
  const bool npy = !a.x_path.empty() || (!a.path.empty() && is_npy_file(a.path));
  if (npy) {
    // Mapped whole, but only this process's rows are ever touched.
    Loaded out;
    agreed(team, [&] { out = load_data(a, expect); });
    const auto [lo, hi] = detail::rank_rows(out.X.rows, out.X.cols, team.size(), team.rank());
    out.X = rows_of(out.X, lo, hi);
    out.y = rows_of(out.y, lo, hi);
    out.weights = rows_of(out.weights, lo, hi);
    return out;
  }
  if (io::is_hdf5_file(a.path)) {
    // Each process reads the hyperslab of its own rows.
    std::pair<std::int64_t, std::int64_t> shape{0, 0};
    agreed(team, [&] { shape = io::h5_shape(a.path, a.dataset); });
    const std::int64_t features = a.y_dataset.empty() && shape.second > 1 ? shape.second - 1 : shape.second;
    const auto [lo, hi] = detail::rank_rows(shape.first, features, team.size(), team.rank());
    Loaded out;
    agreed(team, [&] { out = load_h5(a, expect, lo, hi); });
    return out;
  }
  // The same arguments on every process: these refusals need no agreement.
  if (a.path.empty()) throw InvalidArgument("no data: give a DATA file (or --x and --y)");
  Loaded out;
  const std::int64_t n = load_csv_rows(a, expect, team, out);
  if (!a.weight_file.empty()) {
    // One weight per row of the whole file (a .npy is mapped: only this rank's are read).
    agreed(team, [&] { load_weight_file(a.weight_file, n, out); });
    const std::int64_t first = detail::rank_rows(n, out.X.cols, team.size(), team.rank()).first;
    out.weights = rows_of(out.weights, first, first + out.X.rows);
  }
  out.source = a.path;
  return out;
}

}  // namespace steepest::cli
