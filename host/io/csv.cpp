#include "io/csv.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "steepest/error.hpp"

namespace steepest::io {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

/// Split one line into trimmed cells.
std::vector<std::string_view> split(std::string_view line, char delim) {
  std::vector<std::string_view> cells;
  std::size_t start = 0;
  while (true) {
    const std::size_t pos = line.find(delim, start);
    cells.push_back(trim(line.substr(start, pos == std::string_view::npos ? pos : pos - start)));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return cells;
}

bool is_blank(std::string_view line) { return trim(line).empty(); }

struct Location {
  const std::string& path;
  std::int64_t line;
};

[[noreturn]] void fail_at(const Location& at, std::int64_t column, const std::string& col_name,
                          const std::string& what) {
  std::string msg = at.path + ":" + std::to_string(at.line);
  if (column > 0) {
    msg += ": column " + std::to_string(column);
    if (!col_name.empty()) msg += " (" + col_name + ")";
  }
  throw InvalidArgument(msg + ": " + what);
}

double parse_cell(std::string_view cell, const Location& at, std::int64_t column,
                  const std::string& col_name) {
  if (cell.empty()) fail_at(at, column, col_name, "empty cell");
  std::string_view s = cell;
  if (s.front() == '+') {  // from_chars rejects a leading '+'; a sign after it is no number
    s.remove_prefix(1);
    if (s.empty() || s.front() == '-' || s.front() == '+')
      fail_at(at, column, col_name, "'" + std::string(cell) + "' is not a number");
  }
  double v = 0.0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (end != s.data() + s.size() || (ec != std::errc() && ec != std::errc::result_out_of_range))
    fail_at(at, column, col_name, "'" + std::string(cell) + "' is not a number");
  if (ec == std::errc::result_out_of_range) {
    // from_chars says the same for overflow and underflow; strtod tells them apart and
    // rounds an underflow to the nearest representable value (0 or a subnormal) as it should.
    v = std::strtod(std::string(s).c_str(), nullptr);
    if (std::isinf(v))
      fail_at(at, column, col_name, "value '" + std::string(cell) + "' is out of the float64 range");
  }
  if (!std::isfinite(v))
    fail_at(at, column, col_name, "value '" + std::string(cell) + "' is not finite");
  return v;
}

std::int64_t resolve_target(const std::string& target, const std::vector<std::string>& names,
                            const std::string& path) {
  const auto ncols = static_cast<std::int64_t>(names.size());
  if (target.empty()) return ncols - 1;
  for (std::int64_t c = 0; c < ncols; ++c)
    if (names[static_cast<std::size_t>(c)] == target) return c;
  std::int64_t index = 0;
  const auto [end, ec] = std::from_chars(target.data(), target.data() + target.size(), index);
  if (ec == std::errc() && end == target.data() + target.size()) {
    if (index < 0) index += ncols;
    if (index >= 0 && index < ncols) return index;
    throw InvalidArgument(path + ": target column index " + target + " is out of range (the file has " +
                          std::to_string(ncols) + " columns, indices 0.." +
                          std::to_string(ncols - 1) + ")");
  }
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  throw InvalidArgument(path + ": unknown target column '" + target + "' (columns: " + known + ")");
}

}  // namespace

CsvDataset parse_csv(const std::string& text, const std::string& path, const CsvOptions& opt) {
  std::string_view rest(text);
  if (rest.size() >= 3 && rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);  // UTF-8 BOM

  // Lines with their 1-based numbers; blank lines are skipped.
  std::vector<std::pair<std::int64_t, std::string_view>> lines;
  std::int64_t number = 0;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    ++number;
    if (!is_blank(line)) lines.emplace_back(number, line);
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  if (lines.empty()) throw InvalidArgument(path + ": the file is empty");

  CsvDataset ds;
  ds.path = path;
  std::vector<std::string> names;
  std::size_t first_data = 0;
  const auto first = split(lines[0].second, opt.delimiter);
  if (opt.header) {
    for (auto c : first) names.emplace_back(c);
    first_data = 1;
  } else {
    for (std::size_t c = 0; c < first.size(); ++c) names.push_back(std::to_string(c));
  }
  const auto ncols = static_cast<std::int64_t>(names.size());
  if (ncols < 2)
    throw InvalidArgument(path + ": needs at least two columns (features and a target), found " +
                          std::to_string(ncols) + (opt.delimiter == ',' ? "" : " (check the delimiter)"));
  if (first_data >= lines.size())
    throw InvalidArgument(path + ": has a header but no data rows");
  const std::int64_t target = resolve_target(opt.target, names, path);

  for (std::int64_t c = 0; c < ncols; ++c) {
    const std::string& nm = names[static_cast<std::size_t>(c)];
    const std::string label = opt.header ? nm : "x" + std::to_string(c + 1);
    if (c == target) ds.target_name = opt.header ? nm : "y";
    else ds.feature_names.push_back(label);
  }
  ds.cols = ncols - 1;
  ds.rows = static_cast<std::int64_t>(lines.size() - first_data);
  ds.X.reserve(static_cast<std::size_t>(ds.rows * ds.cols));
  ds.y.reserve(static_cast<std::size_t>(ds.rows));

  for (std::size_t l = first_data; l < lines.size(); ++l) {
    const Location at{path, lines[l].first};
    const auto cells = split(lines[l].second, opt.delimiter);
    if (static_cast<std::int64_t>(cells.size()) != ncols)
      fail_at(at, 0, {}, "has " + std::to_string(cells.size()) + " columns, expected " +
                             std::to_string(ncols) + " (ragged row)");
    for (std::int64_t c = 0; c < ncols; ++c) {
      const std::string& nm = opt.header ? names[static_cast<std::size_t>(c)] : std::string();
      const double v = parse_cell(cells[static_cast<std::size_t>(c)], at, c + 1, nm);
      if (c == target) ds.y.push_back(v);
      else ds.X.push_back(v);
    }
  }
  return ds;
}

CsvDataset read_csv(const std::string& path, const CsvOptions& opt) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InvalidArgument(path + ": is a directory, not a CSV file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument(path + ": cannot open the file (missing or unreadable)");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw InvalidArgument(path + ": read error");
  return parse_csv(buf.str(), path, opt);
}

}  // namespace steepest::io
