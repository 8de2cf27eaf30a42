/// \file
/// \brief Non-owning views of the design matrix X and the target vector y.
///
/// steepest never copies or modifies the caller's data: a fit reads X and y through these
/// views (the CUDA backend uploads them once).  Views are plain structs so they are cheap
/// to pass by value and easy to build from C, Fortran or NumPy buffers.
#pragma once

#include <cstdint>

namespace steepest {

/// Storage type of the elements a view points at.  Arithmetic is always float64.
enum class DType : std::int32_t { float32 = 0, float64 = 1 };

/// Memory order of a matrix view.
enum class Layout : std::int32_t {
  row_major = 0,  ///< element (i, j) at data[i * stride + j]
  col_major = 1,  ///< element (i, j) at data[j * stride + i]
};

/// \brief Size in bytes of one element of \p t.
constexpr std::int64_t dtype_size(DType t) noexcept { return t == DType::float32 ? 4 : 8; }

/// \brief A read-only view of an n x d matrix (n samples, d features).
///
/// \c stride counts elements, not bytes: the distance between consecutive rows
/// (row-major) or consecutive columns (column-major).  It must be at least \c cols
/// (row-major) or \c rows (column-major); 0 means "packed" and is resolved by
/// make_matrix_view().
///
/// \code
///   std::vector<float> x(n * d);                       // row-major, packed
///   auto X = steepest::make_matrix_view(x.data(), n, d);
/// \endcode
struct MatrixView {
  const void* data = nullptr;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t stride = 0;
  DType dtype = DType::float64;
  Layout layout = Layout::row_major;

  /// Offset in elements of entry (i, j).
  constexpr std::int64_t offset(std::int64_t i, std::int64_t j) const noexcept {
    return layout == Layout::row_major ? i * stride + j : j * stride + i;
  }
};

/// \brief A read-only view of a vector of \c size elements, \c stride elements apart.
///
/// A stride other than 1 lets y be a column of a row-major table without a copy.
struct VectorView {
  const void* data = nullptr;
  std::int64_t size = 0;
  std::int64_t stride = 1;
  DType dtype = DType::float64;
};

/// \name View constructors
/// \brief Build a view over caller-owned storage; \p stride 0 means packed.
///@{
inline MatrixView make_matrix_view(const double* data, std::int64_t rows, std::int64_t cols,
                                   Layout layout = Layout::row_major, std::int64_t stride = 0) {
  return {data, rows, cols, stride != 0 ? stride : (layout == Layout::row_major ? cols : rows),
          DType::float64, layout};
}
inline MatrixView make_matrix_view(const float* data, std::int64_t rows, std::int64_t cols,
                                   Layout layout = Layout::row_major, std::int64_t stride = 0) {
  return {data, rows, cols, stride != 0 ? stride : (layout == Layout::row_major ? cols : rows),
          DType::float32, layout};
}
inline VectorView make_vector_view(const double* data, std::int64_t size, std::int64_t stride = 1) {
  return {data, size, stride, DType::float64};
}
inline VectorView make_vector_view(const float* data, std::int64_t size, std::int64_t stride = 1) {
  return {data, size, stride, DType::float32};
}
///@}

}  // namespace steepest
