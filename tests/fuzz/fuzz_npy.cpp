// libFuzzer target for the .npy parser: any byte string must either parse into an array whose
// views stay inside its storage, or be refused with InvalidArgument.  Any other exception, a
// crash or a sanitizer report is a bug.
// Built by -DSTEEPEST_BUILD_FUZZERS=ON with clang (see .ci/run); replayed in the normal
// test run by tests/fuzz/replay_test.cpp.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "io/npy.hpp"
#include "steepest/error.hpp"

namespace {

using steepest::DType;
using steepest::MatrixView;
using steepest::VectorView;

/// Reads every element of \p m, so a view reaching outside the array's storage is reported.
double touch(const MatrixView& m) {
  double sum = 0.0;
  const auto* p = static_cast<const unsigned char*>(m.data);
  const std::int64_t esize = steepest::dtype_size(m.dtype);
  for (std::int64_t i = 0; i < m.rows; ++i)
    for (std::int64_t j = 0; j < m.cols; ++j) {
      const unsigned char* e = p + m.offset(i, j) * esize;
      if (m.dtype == DType::float32) {
        float v;
        std::memcpy(&v, e, sizeof v);
        sum += static_cast<double>(v);
      } else {
        double v;
        std::memcpy(&v, e, sizeof v);
        sum += v;
      }
    }
  return sum;
}

double touch(const VectorView& v) {
  return touch(MatrixView{v.data, v.size, 1, v.stride, v.dtype, steepest::Layout::row_major});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    steepest::io::NpyArray a = steepest::io::parse_npy(data, size, "fuzz.npy");
    volatile double sink = touch(a.matrix());
    for (const std::int64_t j : {std::int64_t{0}, a.cols() / 2, a.cols() - 1, std::int64_t{-1}}) {
      sink = sink + touch(a.column(j));
      try {
        sink = sink + touch(a.columns_except(j));
      } catch (const steepest::InvalidArgument&) {  // a single column: nothing remains
      }
    }
    // A model's feature columns: reversed (a packed copy), every other one, out of range.
    for (const std::vector<std::int64_t>& cols :
         {std::vector<std::int64_t>{a.cols() - 1, 0}, std::vector<std::int64_t>{0, a.cols() - 1},
          std::vector<std::int64_t>{a.cols()}, std::vector<std::int64_t>{a.cols() / 2}}) {
      try {
        sink = sink + touch(a.select(cols));
      } catch (const steepest::InvalidArgument&) {  // a column twice or out of range
      }
    }
    try {
      sink = sink + touch(a.vector());
    } catch (const steepest::InvalidArgument&) {  // a matrix with several rows and columns
    }
    steepest::io::NpyArray moved = std::move(a);
    sink = sink + touch(moved.matrix());
    (void)sink;
  } catch (const steepest::InvalidArgument&) {
  }
  return 0;
}
