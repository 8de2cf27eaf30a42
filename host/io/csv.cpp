#include "io/csv.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <thread>

#include "io/text.hpp"
#include "steepest/error.hpp"

namespace steepest::io {
namespace {

constexpr std::int64_t kNoLine = std::numeric_limits<std::int64_t>::max();

// --- cells -------------------------------------------------------------------------------

bool is_blank_char(char c, char delim) { return c == ' ' || (c == '\t' && delim != '\t'); }

std::string_view trim(std::string_view s, char delim) {
  while (!s.empty() && is_blank_char(s.front(), delim)) s.remove_prefix(1);
  while (!s.empty() && is_blank_char(s.back(), delim)) s.remove_suffix(1);
  return s;
}

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool is_blank_line(std::string_view line, char delim) {
  for (char c : line)
    if (!is_blank_char(c, delim) && c != '\r') return false;
  return true;
}

/// Walks the cells of one line (without its '\n' or '\r').  Quoted cells lose their quotes;
/// "" inside quotes is one quote (written to scratch).
class Cells {
 public:
  Cells(std::string_view line, char delim) : line_(line), delim_(delim) {}

  /// The next cell, or false at the end; throws nothing: errors go to \p error.
  bool next(std::string_view& cell, std::string& scratch, const char*& error) {
    if (done_) return false;
    std::size_t p = pos_;
    while (p < line_.size() && is_blank_char(line_[p], delim_)) ++p;
    if (p < line_.size() && line_[p] == '"') {
      bool escaped = false;
      std::size_t q = p + 1, segment = q;
      while (true) {
        if (q >= line_.size()) {
          error = "unterminated quote (a quoted cell may not span lines)";
          return false;
        }
        if (line_[q] != '"') {
          ++q;
        } else if (q + 1 < line_.size() && line_[q + 1] == '"') {  // "" is one quote
          if (!escaped) scratch.clear();
          escaped = true;
          scratch.append(line_.substr(segment, q + 1 - segment));
          q += 2;
          segment = q;
        } else {
          break;
        }
      }
      if (escaped) scratch.append(line_.substr(segment, q - segment));
      cell = trim(escaped ? std::string_view(scratch) : line_.substr(p + 1, q - (p + 1)), delim_);
      std::size_t r = q + 1;
      while (r < line_.size() && is_blank_char(line_[r], delim_)) ++r;
      if (r < line_.size() && line_[r] != delim_) {
        error = "unexpected text after a quoted cell";
        return false;
      }
      advance(r);
      return true;
    }
    const std::size_t d = line_.find(delim_, p);
    cell = trim(line_.substr(p, d == std::string_view::npos ? std::string_view::npos : d - p), delim_);
    advance(d);
    return true;
  }

 private:
  void advance(std::size_t delim_pos) {
    if (delim_pos == std::string_view::npos || delim_pos >= line_.size()) done_ = true;
    else pos_ = delim_pos + 1;
  }
  std::string_view line_;
  char delim_;
  std::size_t pos_ = 0;
  bool done_ = false;
};

std::vector<std::string> all_cells(std::string_view line, char delim, const char*& error) {
  std::vector<std::string> out;
  Cells cells(line, delim);
  std::string_view cell;
  std::string scratch;
  while (cells.next(cell, scratch, error)) out.emplace_back(cell);
  return out;
}

/// Parse one numeric cell; on failure returns false and sets \p why.
bool parse_number(std::string_view cell, DType dtype, double& v, std::string& why) {
  if (cell.empty()) {
    why = "empty cell";
    return false;
  }
  std::string_view s = cell;
  if (s.front() == '+') {  // from_chars rejects a leading '+'; a sign after it is no number
    s.remove_prefix(1);
    if (s.empty() || s.front() == '-' || s.front() == '+') {
      why = quoted(cell) + " is not a number";
      return false;
    }
  }
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (end != s.data() + s.size() || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    why = quoted(cell) + " is not a number";
    return false;
  }
  if (ec == std::errc::result_out_of_range) {
    // from_chars says the same for overflow and underflow; strtod tells them apart and
    // rounds an underflow to the nearest representable value (0 or a subnormal).
    v = std::strtod(std::string(s).c_str(), nullptr);
    if (std::isinf(v)) {
      why = "value " + quoted(cell) + " is out of the float64 range";
      return false;
    }
  }
  if (!std::isfinite(v)) {
    why = "value " + quoted(cell) + " is not finite";
    return false;
  }
  if (dtype == DType::float32 && std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max())) {
    why = "value " + quoted(cell) + " overflows float32 (--dtype float32)";
    return false;
  }
  return true;
}

/// Whether \p cell could be meant as a number, valid or not: empty, or a number to
/// from_chars (nan, inf and values out of range included).  A first line of such cells is
/// data, so that it is checked as data; only a word makes it a header.
bool is_number_like(std::string_view cell) {
  if (cell.empty()) return true;
  if (cell.front() == '+') {
    cell.remove_prefix(1);
    if (cell.empty() || cell.front() == '+' || cell.front() == '-') return false;
  }
  double v = 0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
  return end == cell.data() + cell.size() && (ec == std::errc() || ec == std::errc::result_out_of_range);
}

std::string located(const std::string& path, std::int64_t line, std::int64_t column,
                    const std::string& col_name, const std::string& what) {
  std::string msg = path + ":" + std::to_string(line);
  if (column > 0) {
    msg += ": column " + std::to_string(column);
    if (!col_name.empty()) msg += " (" + printable(col_name) + ")";
  }
  return msg + ": " + what;
}

// --- columns -----------------------------------------------------------------------------

std::int64_t resolve_column(const std::string& key, const std::vector<std::string>& names,
                            const std::string& path, const char* role) {
  const auto ncols = static_cast<std::int64_t>(names.size());
  for (std::int64_t c = 0; c < ncols; ++c)
    if (names[static_cast<std::size_t>(c)] == key) return c;
  std::int64_t index = 0;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), index);
  if (!key.empty() && ec == std::errc() && end == key.data() + key.size()) {
    if (index < 0) index += ncols;
    if (index >= 0 && index < ncols) return index;
    throw InvalidArgument(path + ": " + role + " column index " + printable(key) +
                          " is out of range (the file has " + std::to_string(ncols) +
                          " columns, indices 0.." + std::to_string(ncols - 1) + ")");
  }
  std::string known;
  for (const auto& n : names) {
    if (known.size() > 400) {
      known += ", ...";
      break;
    }
    known += (known.empty() ? "" : ", ") + printable(n);
  }
  throw InvalidArgument(path + ": unknown " + role + " column " + quoted(key) + " (columns: " + known + ")");
}

/// A column given by 0-based index (a model's record): in range, else InvalidArgument.
std::int64_t checked_index(std::int64_t index, std::int64_t ncols, const std::string& path, const char* role) {
  if (index >= 0 && index < ncols) return index;
  throw InvalidArgument(path + ": " + role + " column index " + std::to_string(index) +
                        " is out of range (the file has " + std::to_string(ncols) + " columns, indices 0.." +
                        std::to_string(ncols - 1) + ")");
}

// --- parallel body parse -------------------------------------------------------------------

/// A slice of the body that starts at a line start; its first physical line number and
/// first row index are filled in by the counting pass.
struct Chunk {
  std::size_t begin = 0, end = 0;
  std::int64_t lines = 0, rows = 0;             // counted
  std::int64_t first_line = 0, first_row = 0;   // prefix sums
  std::int64_t error_line = kNoLine;
  std::string error;
};

template <class F>
void for_each_line(std::string_view text, std::size_t begin, std::size_t end, F&& f) {
  std::size_t p = begin;
  while (p < end) {
    const void* nl = std::memchr(text.data() + p, '\n', end - p);
    const std::size_t stop = nl != nullptr ? static_cast<std::size_t>(static_cast<const char*>(nl) - text.data()) : end;
    f(text.substr(p, stop - p));
    p = stop + 1;
  }
}

template <class F>
void run_parallel(std::vector<Chunk>& chunks, F&& f) {
  std::vector<std::thread> pool;
  for (std::size_t c = 1; c < chunks.size(); ++c) pool.emplace_back([&, c] { f(chunks[c]); });
  f(chunks[0]);
  for (auto& t : pool) t.join();
}

struct Layout {
  std::vector<std::int32_t> dest;  // per file column: feature slot, kTarget, kWeight or kSkip
  std::vector<std::string> names;  // per file column, for messages
  static constexpr std::int32_t kTarget = -1;
  static constexpr std::int32_t kSkip = -2;
  static constexpr std::int32_t kWeight = -3;
};

template <class T>
void parse_chunk(std::string_view body, Chunk& ch, const Layout& lay, std::int64_t cols,
                 char delim, DType dtype, const std::string& path, T* X, T* y, T* w) {
  std::int64_t line_no = ch.first_line - 1;
  std::int64_t row = ch.first_row;
  std::string scratch, why;
  const auto ncols = static_cast<std::int64_t>(lay.dest.size());
  bool failed = false;
  for_each_line(body, ch.begin, ch.end, [&](std::string_view raw) {
    ++line_no;
    if (failed || is_blank_line(raw, delim)) return;
    auto fail = [&](std::int64_t column, const std::string& what) {
      ch.error_line = line_no;
      const bool named = column > 0 && column <= static_cast<std::int64_t>(lay.names.size());
      ch.error = located(path, line_no, column,
                         named ? lay.names[static_cast<std::size_t>(column - 1)] : std::string(), what);
      failed = true;
    };
    Cells cells(strip_cr(raw), delim);
    std::string_view cell;
    const char* cell_error = nullptr;
    std::int64_t c = 0;
    T* xr = X + row * cols;
    while (cells.next(cell, scratch, cell_error)) {
      if (c >= ncols) {
        std::int64_t count = c + 1;
        while (cells.next(cell, scratch, cell_error)) ++count;
        return fail(0, "has " + std::to_string(count) + " columns, expected " + std::to_string(ncols) + " (ragged row)");
      }
      const std::int32_t d = lay.dest[static_cast<std::size_t>(c)];
      double v = 0.0;
      if (!parse_number(cell, dtype, v, why)) return fail(c + 1, why);
      if (d >= 0) xr[d] = static_cast<T>(v);
      else if (d == Layout::kTarget) y[row] = static_cast<T>(v);
      else if (d == Layout::kWeight) w[row] = static_cast<T>(v);
      ++c;
    }
    if (cell_error != nullptr) return fail(c + 1, cell_error);
    if (c != ncols)
      return fail(0, "has " + std::to_string(c) + " columns, expected " + std::to_string(ncols) + " (ragged row)");
    ++row;
  });
}

/// The first non-blank line of the text (after a byte-order mark) and what it is.
struct Head {
  std::size_t begin = 0, end = 0;  // the line, without its '\n'
  std::int64_t line = 1;
  std::vector<std::string> cells;
  bool header = false;
};

std::string_view without_bom(std::string_view text) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  return text;
}

Head find_head(std::string_view text, const std::string& path, const CsvOptions& opt) {
  const char delim = opt.delimiter;
  if (delim == '\n' || delim == '\r' || delim == '"')
    throw InvalidArgument("delimiter may not be a newline or a quote");
  Head h;
  while (true) {
    if (h.begin >= text.size()) throw InvalidArgument(path + ": the file is empty");
    const std::size_t nl = text.find('\n', h.begin);
    const std::string_view line = text.substr(h.begin, nl == std::string_view::npos ? nl : nl - h.begin);
    if (!is_blank_line(line, delim)) break;
    if (nl == std::string_view::npos) throw InvalidArgument(path + ": the file is empty");
    h.begin = nl + 1;
    ++h.line;
  }
  const std::size_t nl = text.find('\n', h.begin);
  h.end = nl == std::string_view::npos ? text.size() : nl;
  const char* cell_error = nullptr;
  h.cells = all_cells(strip_cr(text.substr(h.begin, h.end - h.begin)), delim, cell_error);
  if (cell_error != nullptr) throw InvalidArgument(located(path, h.line, 0, {}, cell_error));
  h.header = opt.header.has_value() ? *opt.header : !std::all_of(h.cells.begin(), h.cells.end(), is_number_like);
  return h;
}

/// A header name shared by a used column and another column would be picked by position
/// here and by whichever comes first when a model looks for it by name: refused.
void refuse_duplicate_names(const std::vector<std::string>& names, const std::vector<std::int64_t>& used,
                            const std::string& path) {
  for (const std::int64_t c : used) {
    const auto& name = names[static_cast<std::size_t>(c)];
    for (std::size_t o = 0; o < names.size(); ++o)
      if (static_cast<std::int64_t>(o) != c && names[o] == name) {
        const std::int64_t a = std::min(static_cast<std::int64_t>(o), c), b = std::max(static_cast<std::int64_t>(o), c);
        throw InvalidArgument(path + ": the header names columns " + std::to_string(a + 1) + " and " +
                              std::to_string(b + 1) + " both " + quoted(name) +
                              "; rename one (a used column's name must be unique)");
      }
  }
}

// --- columns of the dataset ----------------------------------------------------------------

/// The file columns a dataset takes, 0-based; -1: no target, no weight column.
struct Columns {
  std::int64_t width = 0;  // columns in the file
  std::int64_t target = -1, weight = -1;
  std::vector<std::int64_t> features;  // in the order of the dataset's columns
};

/// The feature columns as the options list them (by index, by key, or every column but the
/// target and the weight); a column that is the target, the weight or listed twice is refused.
std::vector<std::int64_t> pick_features(const CsvOptions& opt, const std::vector<std::string>& keys,
                                        const Columns& cols, const std::string& path) {
  std::vector<std::int64_t> features;
  auto add_feature = [&](std::int64_t c, const std::string& key) {
    if (c == cols.target)
      throw InvalidArgument(path + ": column " + quoted(key) + " is the target; it cannot also be a feature");
    if (c == cols.weight)
      throw InvalidArgument(path + ": column " + quoted(key) + " is the weight; it cannot also be a feature");
    if (std::find(features.begin(), features.end(), c) != features.end())
      throw InvalidArgument(path + ": feature column " + quoted(key) + " is listed twice");
    features.push_back(c);
  };
  if (!opt.feature_columns.empty()) {
    for (const std::int64_t c : opt.feature_columns)
      add_feature(checked_index(c, cols.width, path, "feature"), std::to_string(c));
  } else if (opt.features.empty()) {
    for (std::int64_t c = 0; c < cols.width; ++c)
      if (c != cols.target && c != cols.weight) features.push_back(c);
  } else {
    for (const auto& key : opt.features) add_feature(resolve_column(key, keys, path, "feature"), key);
  }
  return features;
}

/// Resolves the target, weight and feature columns the options name against the first
/// line (header names, or indices "0".."n-1" without a header), refusing what cannot be.
Columns pick_columns(const Head& head, const std::string& path, const CsvOptions& opt) {
  const std::vector<std::string>& first = head.cells;
  Columns cols;
  cols.width = static_cast<std::int64_t>(first.size());
  std::vector<std::string> keys = head.header ? first : std::vector<std::string>();
  if (!head.header)
    for (std::int64_t c = 0; c < cols.width; ++c) keys.push_back(std::to_string(c));
  if (cols.width < (opt.has_target ? 2 : 1))
    throw InvalidArgument(path + ": needs at least two columns (features and a target), found " +
                          std::to_string(cols.width) + (opt.delimiter == ',' ? "" : " (check the delimiter)"));

  cols.target = !opt.has_target         ? -1
                : opt.target_column     ? checked_index(*opt.target_column, cols.width, path, "target")
                : opt.target.empty()    ? cols.width - 1
                                        : resolve_column(opt.target, keys, path, "target");
  cols.weight = opt.weight.empty() ? -1 : resolve_column(opt.weight, keys, path, "weight");
  if (cols.weight >= 0 && cols.weight == cols.target)
    throw InvalidArgument(path + ": column " + quoted(opt.weight) + " is the target; it cannot also be the weight");
  cols.features = pick_features(opt, keys, cols, path);
  if (head.header) {
    std::vector<std::int64_t> used = cols.features;
    if (cols.target >= 0) used.push_back(cols.target);
    if (cols.weight >= 0) used.push_back(cols.weight);
    refuse_duplicate_names(first, used, path);
  }
  return cols;
}

/// The dataset as far as the first line tells (names, column layout; no rows yet), and in
/// \p lay where the body parse puts each file column.
CsvDataset describe_dataset(const Head& head, const Columns& cols, const std::string& path, DType dtype,
                            Layout& lay) {
  const std::vector<std::string>& first = head.cells;
  const bool header = head.header;
  for (std::int64_t c = 0; c < cols.width; ++c)
    lay.names.push_back(header ? first[static_cast<std::size_t>(c)] : std::string());
  lay.dest.assign(static_cast<std::size_t>(cols.width), Layout::kSkip);
  if (cols.target >= 0) lay.dest[static_cast<std::size_t>(cols.target)] = Layout::kTarget;
  if (cols.weight >= 0) lay.dest[static_cast<std::size_t>(cols.weight)] = Layout::kWeight;

  CsvDataset ds;
  ds.path = path;
  ds.dtype = dtype;
  ds.cols = static_cast<std::int64_t>(cols.features.size());
  for (std::size_t k = 0; k < cols.features.size(); ++k) {
    const auto c = static_cast<std::size_t>(cols.features[k]);
    lay.dest[c] = static_cast<std::int32_t>(k);
    ds.feature_names.push_back(header ? first[c] : "x" + std::to_string(c + 1));
  }
  if (cols.target >= 0) ds.target_name = header ? first[static_cast<std::size_t>(cols.target)] : "y";
  if (cols.weight >= 0) ds.weight_name = header ? first[static_cast<std::size_t>(cols.weight)] : "w";
  ds.layout = {header, cols.width, cols.target, cols.features};
  if (ds.cols == 0) throw InvalidArgument(path + ": no feature columns");
  return ds;
}

// --- the body, in parallel ------------------------------------------------------------------

/// Cuts the body, text[body_begin..], into chunks at line starts: ~4 MiB at least per thread
/// unless \p threads says how many.  Never none: an empty body is one empty chunk.
std::vector<Chunk> cut_body(std::string_view text, std::size_t body_begin, int threads,
                            std::size_t body_end = std::string_view::npos) {
  if (body_end == std::string_view::npos) body_end = text.size();
  const std::size_t body_size = body_end - body_begin;
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t want = threads > 0 ? static_cast<std::size_t>(threads) : hw;
  const std::size_t nchunks =
      threads > 0 ? want : std::max<std::size_t>(1, std::min(want, body_size / (4u << 20) + 1));
  std::vector<Chunk> chunks;
  std::size_t at = body_begin;
  for (std::size_t c = 0; c < nchunks && at < body_end; ++c) {
    std::size_t end = c + 1 == nchunks ? body_end : body_begin + body_size * (c + 1) / nchunks;
    if (end < at) end = at;
    if (end < body_end) {
      const std::size_t nl = text.find('\n', end == 0 ? 0 : end - 1);
      end = nl == std::string_view::npos || nl >= body_end ? body_end : nl + 1;
    }
    Chunk& ch = chunks.emplace_back();
    ch.begin = at;
    ch.end = end;
    at = end;
  }
  if (chunks.empty()) {
    Chunk& only = chunks.emplace_back();
    only.begin = only.end = body_end;
  }
  return chunks;
}

/// The counting pass: lines and rows of each chunk (in parallel), then where each chunk's
/// first line and row fall.  Returns the rows of the whole body.
std::int64_t number_chunks(std::string_view text, std::vector<Chunk>& chunks, char delim,
                           std::int64_t body_first_line) {
  run_parallel(chunks, [&](Chunk& ch) {
    for_each_line(text, ch.begin, ch.end, [&](std::string_view line) {
      ++ch.lines;
      if (!is_blank_line(line, delim)) ++ch.rows;
    });
  });
  std::int64_t line = body_first_line, rows = 0;
  for (auto& ch : chunks) {
    ch.first_line = line;
    ch.first_row = rows;
    line += ch.lines;
    rows += ch.rows;
  }
  return rows;
}

/// The parsing pass: every chunk (in parallel) straight into the storage of ds.dtype, sized
/// for ds.rows; then the first error in file order, whichever thread found it, is thrown.
void fill_dataset(std::string_view text, std::vector<Chunk>& chunks, const Layout& lay, const Columns& cols,
                  const std::string& path, const CsvOptions& opt, CsvDataset& ds) {
  const char delim = opt.delimiter;
  auto parse_all = [&](auto* X, auto* y, auto* w) {
    run_parallel(chunks, [&](Chunk& ch) { parse_chunk(text, ch, lay, ds.cols, delim, opt.dtype, path, X, y, w); });
  };
  const auto nx = static_cast<std::size_t>(ds.rows * ds.cols);
  const auto ny = cols.target >= 0 ? static_cast<std::size_t>(ds.rows) : 0;
  const auto nw = cols.weight >= 0 ? static_cast<std::size_t>(ds.rows) : 0;
  if (opt.dtype == DType::float32) {
    ds.X32.resize(nx);
    ds.y32.resize(ny);
    ds.w32.resize(nw);
    parse_all(ds.X32.data(), ds.y32.data(), ds.w32.data());
  } else {
    ds.X.resize(nx);
    ds.y.resize(ny);
    ds.w.resize(nw);
    parse_all(ds.X.data(), ds.y.data(), ds.w.data());
  }
  const auto bad = std::min_element(chunks.begin(), chunks.end(),
                                    [](const Chunk& a, const Chunk& b) { return a.error_line < b.error_line; });
  if (bad->error_line != kNoLine) throw InvalidArgument(bad->error);
}

}  // namespace

CsvHead parse_csv_head(std::string_view text, const std::string& path, const CsvOptions& opt) {
  Head h = find_head(without_bom(text), path, opt);
  return {std::move(h.cells), h.header};
}

CsvDataset parse_csv(std::string_view text, const std::string& path, const CsvOptions& opt) {
  text = without_bom(text);
  const Head head = find_head(text, path, opt);
  const Columns cols = pick_columns(head, path, opt);
  Layout lay;
  CsvDataset ds = describe_dataset(head, cols, path, opt.dtype, lay);

  // Body: everything after the header line (or from the first data line).
  const std::size_t body_begin = head.header ? std::min(text.size(), head.end + 1) : head.begin;
  const std::int64_t body_first_line = head.header ? head.line + 1 : head.line;
  std::vector<Chunk> chunks = cut_body(text, body_begin, opt.threads);
  const std::int64_t rows = number_chunks(text, chunks, opt.delimiter, body_first_line);
  if (rows == 0) throw InvalidArgument(path + ": has a header but no data rows");
  ds.rows = rows;
  fill_dataset(text, chunks, lay, cols, path, opt, ds);
  return ds;
}

namespace {

/// Calls \p f with the text of \p path, mapped read-only: parsed in place, never copied.
template <class F>
auto with_mapped_file(const std::string& path, F&& f) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw InvalidArgument(path + ": cannot open the file (" + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    throw InvalidArgument(path + (dir ? ": is a directory, not a CSV file" : ": not a regular file"));
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    throw InvalidArgument(path + ": the file is empty");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw InvalidArgument(path + ": cannot map the file (" + std::strerror(errno) + ")");
  ::madvise(map, size, MADV_SEQUENTIAL);
  struct Unmap {
    void* p;
    std::size_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{map, size};
  return f(std::string_view(static_cast<const char*>(map), size));
}

}  // namespace

CsvDataset read_csv(const std::string& path, const CsvOptions& opt) {
  return with_mapped_file(path, [&](std::string_view text) { return parse_csv(text, path, opt); });
}

CsvHead read_csv_head(const std::string& path, const CsvOptions& opt) {
  return with_mapped_file(path, [&](std::string_view text) { return parse_csv_head(text, path, opt); });
}

// --- one part of a file, for a read shared by several processes ------------------------------

namespace {

/// Where the body starts: after the header line, or at the first data line.
std::pair<std::size_t, std::int64_t> body_start(std::string_view text, const Head& head) {
  return head.header ? std::make_pair(std::min(text.size(), head.end + 1), head.line + 1)
                     : std::make_pair(head.begin, head.line);
}

}  // namespace

CsvPart scan_csv_part(const std::string& path, const CsvOptions& opt, int part, int parts) {
  return with_mapped_file(path, [&](std::string_view whole) {
    const std::size_t bom = whole.size() - without_bom(whole).size();
    const std::string_view text = without_bom(whole);
    const Head head = find_head(text, path, opt);
    const Columns cols = pick_columns(head, path, opt);
    if (cols.features.empty()) throw InvalidArgument(path + ": no feature columns");
    const auto [body_begin, body_line] = body_start(text, head);
    // The same cut in every process: `parts` pieces of the body at line starts.
    std::vector<Chunk> pieces = cut_body(text, body_begin, parts);
    while (static_cast<int>(pieces.size()) < parts) {  // a body shorter than `parts` lines
      Chunk& empty = pieces.emplace_back();
      empty.begin = empty.end = text.size();
    }
    Chunk& mine = pieces[static_cast<std::size_t>(part)];
    for_each_line(text, mine.begin, mine.end, [&](std::string_view line) {
      ++mine.lines;
      if (!is_blank_line(line, opt.delimiter)) ++mine.rows;
    });
    CsvPart out;
    out.cols = static_cast<std::int64_t>(cols.features.size());
    out.begin = mine.begin + bom;
    out.end = mine.end + bom;
    out.rows = mine.rows;
    out.lines = mine.lines;
    out.body_first_line = body_line;
    return out;
  });
}

std::pair<std::uint64_t, std::int64_t> locate_csv_row(const std::string& path, const CsvOptions& opt,
                                                      const CsvPart& part, std::int64_t k) {
  return with_mapped_file(path, [&](std::string_view text) {
    std::int64_t row = 0, line = 0;
    std::size_t at = static_cast<std::size_t>(part.begin);
    while (at < part.end) {
      const std::size_t nl = text.find('\n', at);
      const std::size_t stop = nl == std::string_view::npos ? text.size() : nl;
      if (!is_blank_line(text.substr(at, stop - at), opt.delimiter)) {
        if (row == k) return std::make_pair(static_cast<std::uint64_t>(at), line);
        ++row;
      }
      ++line;
      at = stop + 1;
    }
    throw InvalidArgument(path + ": row " + std::to_string(k) + " is beyond this part of the file");
  });
}

CsvDataset read_csv_slice(const std::string& path, const CsvOptions& opt, std::uint64_t begin, std::uint64_t end,
                          std::int64_t first_line) {
  return with_mapped_file(path, [&](std::string_view whole) {
    const std::size_t bom = whole.size() - without_bom(whole).size();
    const std::string_view text = without_bom(whole);
    const Head head = find_head(text, path, opt);
    const Columns cols = pick_columns(head, path, opt);
    Layout lay;
    CsvDataset ds = describe_dataset(head, cols, path, opt.dtype, lay);
    const std::size_t from = static_cast<std::size_t>(begin) - bom, to = static_cast<std::size_t>(end) - bom;
    std::vector<Chunk> chunks = cut_body(text, from, opt.threads, to);
    ds.rows = number_chunks(text, chunks, opt.delimiter, first_line);
    fill_dataset(text, chunks, lay, cols, path, opt, ds);
    return ds;
  });
}

}  // namespace steepest::io
