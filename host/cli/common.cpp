#include "cli/common.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

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

/// The cells of the first non-blank line of a CSV file (for choosing columns by name).
std::vector<std::string> csv_first_line(const std::string& path, char delim) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return {};
  std::string line;
  for (int ch; (ch = std::fgetc(f)) != EOF;) {
    if (ch == '\n') {
      if (line.find_first_not_of(" \t\r") != std::string::npos) break;
      line.clear();
    } else {
      line += static_cast<char>(ch);
    }
  }
  std::fclose(f);
  if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> cells;
  std::stringstream ss(line);
  for (std::string c; std::getline(ss, c, delim);) {
    const auto b = c.find_first_not_of(" \t\""), e = c.find_last_not_of(" \t\"");
    cells.push_back(b == std::string::npos ? std::string() : c.substr(b, e - b + 1));
  }
  return cells;
}

Loaded load_csv(const DataArgs& a, const Expect& expect) {
  io::CsvOptions opt = csv_options(a);
  opt.weight = a.weight_column;
  // A model knows its columns: pick them by name when the header has them all.
  if (opt.features.empty() && !expect.feature_names.empty()) {
    const auto head = csv_first_line(a.path, opt.delimiter);
    const bool all = std::all_of(expect.feature_names.begin(), expect.feature_names.end(), [&](const std::string& n) {
      return std::find(head.begin(), head.end(), n) != head.end();
    });
    if (all) {
      opt.features = expect.feature_names;
      if (opt.header != false) opt.header = true;
      const bool has_target = !expect.target_name.empty() &&
                              std::find(head.begin(), head.end(), expect.target_name) != head.end();
      if (opt.target.empty() && has_target) opt.target = expect.target_name;
      if (!expect.target && !has_target && opt.target.empty()) opt.has_target = false;
    } else if (expect.target_optional && opt.target.empty() && expect.features > 0) {
      // No names to go by: as many columns as features means there is no target.
      const auto width = static_cast<std::int64_t>(head.size());
      if (width == expect.features) opt.has_target = false;
    }
  } else if (expect.target_optional && opt.target.empty() && expect.features > 0 && opt.features.empty()) {
    if (static_cast<std::int64_t>(csv_first_line(a.path, opt.delimiter).size()) == expect.features)
      opt.has_target = false;
  }
  Loaded out;
  out.csv = io::read_csv(a.path, opt);
  out.X = out.csv.x_view();
  if (opt.has_target) out.y = out.csv.y_view();
  out.feature_names = out.csv.feature_names;
  out.target_name = out.csv.target_name;
  out.weights = out.csv.w_view();
  out.weight_name = out.csv.weight_name;
  return out;
}

/// --weight-file: a 1-D .npy, or text with one number per line (a header line allowed).
void load_weight_file(const std::string& path, std::int64_t rows, Loaded& out) {
  if (ends_with(path, ".npy")) {
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
    bool has_target = expect.target || !a.target.empty();
    if (!has_target && expect.target_optional && expect.features > 0) has_target = cols == expect.features + 1;
    if (has_target) {
      std::int64_t t = cols - 1;
      if (!a.target.empty()) {
        std::size_t used = 0;
        try {
          t = std::stoll(a.target, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != a.target.size())
          throw InvalidArgument("--target for a .npy file must be a column index, got '" + a.target + "'");
        if (t < 0) t += cols;
        if (t < 0 || t >= cols)
          throw InvalidArgument(a.path + ": target column " + a.target + " is out of range (" + std::to_string(cols) + " columns)");
      }
      if (cols < 2) throw InvalidArgument(a.path + ": needs a feature column besides the target");
      out.y = out.x_npy.column(t);
      out.X = out.x_npy.columns_except(t);
    } else {
      out.X = out.x_npy.matrix();
    }
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

Loaded load_data(const DataArgs& a, const Expect& expect) {
  if (a.path.empty() && a.x_path.empty()) throw InvalidArgument("no data: give a DATA file (or --x and --y)");
  if (!a.x_path.empty() && a.y_path.empty() && expect.target)
    throw InvalidArgument("--x needs --y (the targets) here");
  const bool npy = !a.x_path.empty() || ends_with(a.path, ".npy");
  Loaded out = npy ? load_npy(a, expect) : load_csv(a, expect);
  out.source = a.path.empty() ? a.x_path : a.path;
  if (!a.weight_file.empty()) load_weight_file(a.weight_file, out.X.rows, out);
  if (expect.target && out.y.data == nullptr) throw InvalidArgument(out.source + ": no target column");
  if (expect.features >= 0 && out.X.cols != expect.features)
    throw InvalidArgument(out.source + ": the model has " + std::to_string(expect.features) +
                          " features but the data has " + std::to_string(out.X.cols) + " feature columns");
  return out;
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

}  // namespace steepest::cli
