// CSV input for the CLI: numeric tables parsed to float64.  Correct on ordinary files
// (header or not, comma-separated, CRLF or LF, surrounding blanks); every malformed input
// is refused with InvalidArgument naming the file, line and column.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "steepest/data.hpp"

namespace steepest::io {

/// Features and target split out of a CSV file, row-major float64.
struct CsvDataset {
  std::string path;
  std::vector<std::string> feature_names;  ///< from the header, or "x1".."xd"
  std::string target_name;
  std::int64_t rows = 0;
  std::int64_t cols = 0;  ///< feature columns
  std::vector<double> X;  ///< rows x cols, row-major
  std::vector<double> y;  ///< rows

  MatrixView x_view() const { return make_matrix_view(X.data(), rows, cols); }
  VectorView y_view() const { return make_vector_view(y.data(), rows); }
};

struct CsvOptions {
  bool header = true;  ///< the first line names the columns
  /// Target column: a header name, or a 0-based index (negative counts from the end);
  /// empty means the last column.  A name is tried before an index.
  std::string target;
  char delimiter = ',';
};

/// Read \p path.  Throws InvalidArgument for a missing or unreadable file, an empty file,
/// a header without data rows, fewer than two columns, ragged rows, non-numeric or
/// non-finite cells and an unknown target column.
CsvDataset read_csv(const std::string& path, const CsvOptions& options = {});

/// Parse CSV text already in memory; \p path is used in messages only.
CsvDataset parse_csv(const std::string& text, const std::string& path,
                     const CsvOptions& options = {});

}  // namespace steepest::io
