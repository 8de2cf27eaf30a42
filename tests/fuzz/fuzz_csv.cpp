// libFuzzer target for the CSV parser: any bytes must either parse or be refused with
// InvalidArgument; a crash, a hang or a sanitizer report is a bug.  The first two bytes
// pick the options so that header modes, delimiters, dtypes, target and feature selection
// (by name or index, or by index only as a model's record) and the parallel split are all
// explored.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "io/csv.hpp"
#include "steepest/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t a = data[0], b = data[1];
  steepest::io::CsvOptions opt;
  if ((a & 3) == 1) opt.header = true;
  if ((a & 3) == 2) opt.header = false;
  static const char delims[] = {',', ';', '\t', ' '};
  opt.delimiter = delims[(a >> 2) & 3];
  opt.dtype = (a & 16) != 0 ? steepest::DType::float32 : steepest::DType::float64;
  opt.threads = 1 + ((a >> 5) & 3);
  if ((b & 3) == 1) opt.target = "0";
  if ((b & 3) == 2) opt.target = "-2";
  if ((b & 3) == 3) opt.target = "y";
  if ((b & 4) != 0) opt.features = {"1"};
  if ((b & 8) != 0) opt.features.push_back("x");
  // Columns by index, as predict and evaluate pass a model's record.
  if ((b & 16) != 0) opt.feature_columns = {2, 0};
  if ((b & 32) != 0) opt.target_column = 1;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  try {
    const auto head = steepest::io::parse_csv_head(text, "fuzz.csv", opt);
    if (head.cells.empty()) __builtin_trap();
  } catch (const steepest::InvalidArgument&) {
  }
  try {
    const auto ds = steepest::io::parse_csv(text, "fuzz.csv", opt);
    // Invariants of a successful parse.
    const auto expect = static_cast<std::size_t>(ds.rows * ds.cols);
    if (ds.rows < 1 || ds.cols < 1) __builtin_trap();
    if (ds.dtype == steepest::DType::float64 ? ds.X.size() != expect : ds.X32.size() != expect) __builtin_trap();
    if (ds.feature_names.size() != static_cast<std::size_t>(ds.cols)) __builtin_trap();
    if (ds.layout.features.size() != static_cast<std::size_t>(ds.cols) || ds.layout.width < ds.cols) __builtin_trap();
    for (const auto c : ds.layout.features)
      if (c < 0 || c >= ds.layout.width || c == ds.layout.target) __builtin_trap();
  } catch (const steepest::InvalidArgument&) {
  }
  return 0;
}
