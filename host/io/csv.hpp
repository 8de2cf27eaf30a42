// CSV input: numeric tables parsed in parallel straight into the model's storage type.
//
// Accepted: a header line (detected, or forced either way), any one-byte delimiter, LF or
// CRLF line ends, a UTF-8 byte-order mark, blank lines (skipped), blanks around cells, and
// quoted cells ("1.5", "a, b") with "" as an escaped quote.  A quoted cell may not span
// lines: the file is split at newlines so that all cores can parse it.  Every malformed
// input is refused with InvalidArgument naming the file, the line and the column.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "steepest/data.hpp"

namespace steepest::io {

/// Where a dataset's columns sit in the file it was read from: what a model records so that
/// predict and evaluate read the same columns again.  Indices are 0-based file columns.
struct ColumnLayout {
  bool header = false;                 ///< the first line named the columns
  std::int64_t width = 0;              ///< columns in the file
  std::int64_t target = -1;            ///< -1: no target column
  std::vector<std::int64_t> features;  ///< in the order of the model's weights
};

/// Features, target and (when asked for) sample weights split out of a CSV file, row-major,
/// in the requested storage type (X, y, w in the float64 vectors, or in the float32 ones).
struct CsvDataset {
  std::string path;
  std::vector<std::string> feature_names;  ///< from the header, or "x1".."xd"
  std::string target_name;
  std::string weight_name;  ///< the sample-weight column's name; empty without one
  std::int64_t rows = 0;
  std::int64_t cols = 0;  ///< feature columns
  DType dtype = DType::float64;
  std::vector<double> X;    ///< rows x cols when dtype is float64
  std::vector<double> y;
  std::vector<float> X32;   ///< rows x cols when dtype is float32
  std::vector<float> y32;
  std::vector<double> w;    ///< sample weights (CsvOptions::weight), float64 storage
  std::vector<float> w32;   ///< sample weights, float32 storage
  ColumnLayout layout;      ///< which file columns became the target and the features

  MatrixView x_view() const {
    return dtype == DType::float32 ? make_matrix_view(X32.data(), rows, cols)
                                   : make_matrix_view(X.data(), rows, cols);
  }
  VectorView y_view() const {
    return dtype == DType::float32 ? make_vector_view(y32.data(), rows)
                                   : make_vector_view(y.data(), rows);
  }
  /// The sample weights; data is null when the file was read without a weight column.
  VectorView w_view() const {
    if (weight_name.empty()) return {};
    return dtype == DType::float32 ? make_vector_view(w32.data(), rows)
                                   : make_vector_view(w.data(), rows);
  }
};

struct CsvOptions {
  /// true: the first line names the columns; false: it is data; unset: it is a header
  /// when any of its cells is not number-like.  Number-like is what a number cell could be
  /// mistaken for: a number, nan, inf, a value out of range, or an empty cell; a first line
  /// of those is data, and is refused as such when a cell is not a finite number.
  std::optional<bool> header;
  /// Target column: a header name, or a 0-based index (negative counts from the end);
  /// empty means the last column.  A name is tried before an index.
  std::string target;
  /// false: the file has no target column (prediction input); y stays empty.
  bool has_target = true;
  /// Feature columns, by name or index as for target, in this order; empty means every
  /// column but the target (and the weight column).
  std::vector<std::string> features;
  /// Target and feature columns by 0-based index only (never a name), as a model records
  /// them; when set they replace \p target / \p features.
  std::optional<std::int64_t> target_column;
  std::vector<std::int64_t> feature_columns;
  /// Sample-weight column, by name or index as for target; empty means none.  Never a
  /// feature or the target.
  std::string weight;
  char delimiter = ',';
  /// float32 halves the memory; a value beyond the float32 range is then an error.
  DType dtype = DType::float64;
  int threads = 0;  ///< parser threads; 0 = all cores
};

/// Read \p path.  Throws InvalidArgument for a missing or unreadable file, an empty file,
/// a header without data rows, fewer than two columns, ragged rows, non-numeric or
/// non-finite cells, values beyond the storage type's range, unknown columns, and a header
/// name shared by a used column (feature, target or weight) and another column.  Cells and
/// names shown in messages are escaped and cut (see io/text.hpp).
CsvDataset read_csv(const std::string& path, const CsvOptions& options = {});

/// The first non-blank line of a CSV file as read_csv() sees it: its cells (unquoted and
/// trimmed) and whether it is a header under \p options (header, delimiter).
struct CsvHead {
  std::vector<std::string> cells;
  bool header = false;
};
CsvHead read_csv_head(const std::string& path, const CsvOptions& options = {});
CsvHead parse_csv_head(std::string_view text, const std::string& path, const CsvOptions& options = {});

/// A read shared by several processes, each parsing only its own rows.  The body (after
/// the header) is cut at line starts into \p parts byte ranges, the same cut in every
/// process; scan_csv_part() maps the file, reads the first line and counts the rows of part
/// \p part (reading only that part).  The processes then agree on who takes which rows,
/// find where those start (locate_csv_row, by the part holding them) and each parses its
/// byte range with read_csv_slice().
struct CsvPart {
  std::int64_t cols = 0;          ///< feature columns, from the first line and the options
  std::uint64_t begin = 0, end = 0;  ///< the part's bytes in the file
  std::int64_t rows = 0, lines = 0;  ///< its data rows and physical lines
  std::int64_t body_first_line = 1;  ///< the file's line number of the body's first line
};
CsvPart scan_csv_part(const std::string& path, const CsvOptions& options, int part, int parts);
/// The byte offset of the \p k-th data row (0-based) of \p part and the number of lines
/// before it within the part.
std::pair<std::uint64_t, std::int64_t> locate_csv_row(const std::string& path, const CsvOptions& options,
                                                      const CsvPart& part, std::int64_t k);
/// The rows in bytes [begin, end) of the file (at line starts; \p first_line numbers the
/// first of them in messages), with the columns the first line and the options give.  No
/// rows is not an error here.
CsvDataset read_csv_slice(const std::string& path, const CsvOptions& options, std::uint64_t begin, std::uint64_t end,
                          std::int64_t first_line);

/// Parse CSV text already in memory; \p path is used in messages only.
CsvDataset parse_csv(std::string_view text, const std::string& path,
                     const CsvOptions& options = {});

}  // namespace steepest::io
