// HDF5 input, the format of HPC pipelines: 2-D datasets (float32, float64 or integers;
// chunked or contiguous) read a block of rows at a time, so that each MPI rank reads only
// its hyperslab.  Built when CMake finds HDF5 (-DSTEEPEST_ENABLE_HDF5=AUTO); without it
// every function here but is_hdf5_file() throws InvalidArgument saying so.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "steepest/data.hpp"

namespace steepest::io {

/// Rows of an HDF5 dataset in memory: float32 when stored as float32, else float64
/// (integers are converted exactly up to 2^53).  A 1-D dataset is one column.
struct H5Rows {
  std::int64_t rows = 0, cols = 0;
  DType dtype = DType::float64;
  std::vector<double> f64;  // rows x cols, row-major
  std::vector<float> f32;
  const void* data() const { return dtype == DType::float32 ? static_cast<const void*>(f32.data()) : f64.data(); }
};

/// Whether HDF5 support was built in.
bool hdf5_built() noexcept;
/// Whether \p path starts with the HDF5 signature (\x89HDF\r\n\x1a\n at offset 0).
bool is_hdf5_file(const std::string& path);
/// Rows and columns of dataset \p name (1 column for a 1-D dataset); InvalidArgument for a
/// missing file or dataset, more than 2 dimensions, or a type that is not a number.
std::pair<std::int64_t, std::int64_t> h5_shape(const std::string& path, const std::string& name);
/// Rows [lo, hi) of dataset \p name.
H5Rows read_h5_rows(const std::string& path, const std::string& name, std::int64_t lo, std::int64_t hi);

}  // namespace steepest::io
