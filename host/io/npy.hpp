// NumPy .npy files (format versions 1.0, 2.0 and 3.0): read, memory-mapped where the data
// can be used in place, and written atomically.  Every malformed or unsupported file is
// refused with InvalidArgument naming the file and what is wrong; nothing is ever unpickled.
//
// \code
//   auto a = steepest::io::read_npy("train.npy");          // n x (d + 1), last column is y
//   const MatrixView X = a.columns_except(a.cols() - 1);   // zero-copy for first/last target
//   const VectorView y = a.column(a.cols() - 1);           // always zero-copy
//   fit(X, y, ...);                                        // `a` must outlive X and y
//   steepest::io::write_npy("weights.npy", make_vector_view(w.data(), d));
// \endcode
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "steepest/data.hpp"

namespace steepest::io {

/// \brief The contents of one .npy file: a 1-D or 2-D array of float32 or float64.
///
/// Owns its bytes, either
///  - a read-only private mapping of the file (mapped() is true) when the data can be used
///    in place: float32/float64 in the host byte order, data offset aligned to the element
///    size.  Nothing is copied; the file is read once, by the non-finite scan.
///  - or a heap buffer holding a converted copy (mapped() is false): integer and bool
///    dtypes become float64, floats in the other byte order are swapped, and parse_npy()
///    always copies.  One copy, made in one pass.
///
/// Views returned by matrix(), vector(), column() and columns_except() point into the
/// array and are valid while it lives (and, for columns_except(), see there).  Move-only.
///
/// Contracts checked on load: shape has 1 or 2 dimensions, none of them 0; the data holds
/// at least prod(shape) elements (trailing bytes after them are ignored, as NumPy does);
/// every value is finite.  A file truncated by another process while it is mapped raises
/// SIGBUS on access, as with any mapping.
class NpyArray {
 public:
  NpyArray() = default;
  NpyArray(NpyArray&& other) noexcept;
  NpyArray& operator=(NpyArray&& other) noexcept;
  NpyArray(const NpyArray&) = delete;
  NpyArray& operator=(const NpyArray&) = delete;
  ~NpyArray();

  /// The name given to read_npy()/parse_npy(), used in messages.
  const std::string& name() const noexcept { return name_; }
  /// float32 for '<f4'/'>f4', float64 for everything else accepted.
  DType dtype() const noexcept { return dtype_; }
  /// The dtype as written in the file, e.g. "<i8" (for messages and tests).
  const std::string& descr() const noexcept { return descr_; }
  /// One or two dimensions, all positive.
  const std::vector<std::int64_t>& shape() const noexcept { return shape_; }
  /// True when a 2-D array is stored column by column (always false for 1-D).
  bool fortran_order() const noexcept { return fortran_order_; }
  /// The first element; rows() * cols() elements of dtype(), in the file's order.
  const void* data() const noexcept { return data_; }
  /// True when data() points into a mapping of the file (no copy was made).
  bool mapped() const noexcept { return map_ != nullptr; }
  /// shape()[0].
  std::int64_t rows() const noexcept { return shape_.empty() ? 0 : shape_[0]; }
  /// shape()[1], or 1 for a 1-D array.
  std::int64_t cols() const noexcept { return shape_.size() == 2 ? shape_[1] : (shape_.empty() ? 0 : 1); }

  /// The whole array: C order gives a row-major view with stride cols(), Fortran order a
  /// column-major view with stride rows(); a 1-D array is an n x 1 row-major view.
  MatrixView matrix() const;

  /// A 1-D array, or a 2-D array with one column or one row, as a vector with stride 1.
  /// Throws InvalidArgument for any other shape.
  VectorView vector() const;

  /// Column \p j (negative counts from the end, -1 is the last).  Always zero-copy: stride
  /// 1 in Fortran order, stride cols() in C order.  Throws InvalidArgument when out of range.
  VectorView column(std::int64_t j) const;

  /// Every column but \p target (negative counts from the end), in their order.
  ///
  /// Zero-copy when the layout allows it: in Fortran order when the target is the first or
  /// the last column (the others are then one contiguous block), in C order when it is the
  /// first or the last (a row-major view with stride cols(), starting one element in when
  /// the target is first).  Otherwise a packed copy (rows() x (cols() - 1), same layout and
  /// dtype) is made and held inside this array: it lives until the array is destroyed or
  /// columns_except() is called again with another target, which replaces it.
  /// Throws InvalidArgument when \p target is out of range or the array has one column.
  MatrixView columns_except(std::int64_t target);

  /// Columns \p columns (0-based, each in range, none twice), in the order given: what a
  /// model records of the file it was fitted on.  The whole array or columns_except() when
  /// the list is one of those; otherwise a packed copy held inside this array until it is
  /// destroyed or select() is called again.  Throws InvalidArgument for a bad list.
  MatrixView select(const std::vector<std::int64_t>& columns);

 private:
  friend NpyArray read_npy(const std::string& path);
  friend NpyArray parse_npy(const void* bytes, std::size_t size, const std::string& name);
  /// Parses and validates \p bytes; uses them in place when \p borrow allows and the data
  /// need no conversion, otherwise copies.  Shared by read_npy() and parse_npy().
  static NpyArray load(const unsigned char* bytes, std::size_t size, const std::string& name,
                       bool borrow);
  std::int64_t resolve_column(std::int64_t j) const;
  void release() noexcept;

  std::string name_;
  std::string descr_;
  DType dtype_ = DType::float64;
  std::vector<std::int64_t> shape_;
  bool fortran_order_ = false;
  const void* data_ = nullptr;
  void* map_ = nullptr;  ///< base of the file mapping, when mapped
  std::size_t map_size_ = 0;
  std::unique_ptr<unsigned char[]> owned_;   ///< converted copy, when not mapped
  std::unique_ptr<unsigned char[]> packed_;  ///< columns_except() copy, when one was needed
  std::int64_t packed_target_ = -1;
  std::unique_ptr<unsigned char[]> selected_;  ///< select() copy, when one was needed
};

/// \brief Read the .npy file \p path (see NpyArray for what is accepted and when it is mapped).
///
/// Accepted dtypes: float32/float64, signed and unsigned integers of 1, 2, 4 and 8 bytes and
/// bool, in either byte order ('<', '>', '=' native, '|' for one-byte types).  Throws
/// InvalidArgument, naming \p path, for a missing, unreadable or non-regular file, a bad magic
/// or version, a malformed header, an unsupported dtype (object, complex, string, structured,
/// float16, datetime), more than two dimensions, a zero or negative dimension, a size that
/// overflows, truncated data, and the first non-finite value (row and column, 0-based).
NpyArray read_npy(const std::string& path);

/// \brief Parse a .npy image held in memory; \p name is used in messages only.  The data are
/// always copied (mapped() is false), so \p bytes may be freed afterwards.  Same checks as
/// read_npy().
NpyArray parse_npy(const void* bytes, std::size_t size, const std::string& name);

/// \brief Write \p m to \p path as a .npy file, atomically (temporary file, fsync, rename).
///
/// Format 1.0 (2.0 if the header would not fit), dtype '<f4' or '<f8' (host byte order),
/// header padded as NumPy pads it so the data start at a multiple of 64 bytes.  A row-major
/// view is written in C order, a column-major one in Fortran order; strided views are packed.
/// A stride of 0 means packed.  Throws InvalidArgument for an empty or null view, a stride
/// smaller than the packed one, or a failed write (and \p path is then untouched).
void write_npy(const std::string& path, const MatrixView& m);

/// \brief The header NumPy 1.23+ writes for an array of \p shape (1-D or 2-D), byte for
/// byte: magic, version, the dict with spare room for the growth axis, padding to a
/// multiple of 64 bytes.  For writers that stream the data after it (steepest gen).
std::string npy_header(DType dtype, bool fortran_order, const std::vector<std::int64_t>& shape);

/// \brief Write \p v to \p path as a 1-D .npy file (shape (n,)), packing a strided vector.
/// Same format and guarantees as the matrix overload; the stride must be at least 1.
void write_npy(const std::string& path, const VectorView& v);

}  // namespace steepest::io
