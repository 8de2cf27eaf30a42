#include "io/hdf5.hpp"

#include <cstdio>
#include <cstring>

#include "io/text.hpp"
#include "steepest/error.hpp"

#if defined(STEEPEST_HAVE_HDF5)
#include <hdf5.h>
#endif

namespace steepest::io {

bool is_hdf5_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char magic[8] = {};
  const std::size_t got = std::fread(magic, 1, sizeof magic, f);
  std::fclose(f);
  return got == sizeof magic && std::memcmp(magic, "\x89HDF\r\n\x1a\n", sizeof magic) == 0;
}

#if defined(STEEPEST_HAVE_HDF5)

namespace {

/// An HDF5 identifier closed by \p close when it goes.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~Handle() {
    if (id >= 0) close(id);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

/// The dataset open, with its rank and dimensions checked.
struct Opened {
  Handle file, set, space;
  std::int64_t rows = 0, cols = 1;
  bool float32 = false;
};

[[noreturn]] void refuse(const std::string& path, const std::string& name, const std::string& why) {
  throw InvalidArgument(path + ": dataset " + quoted(name) + " " + why);
}

void open(const std::string& path, const std::string& name, Opened& o) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors come back as codes, said here
  o.file.id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (o.file.id < 0) throw InvalidArgument(path + ": cannot open it as an HDF5 file");
  if (name.empty()) throw InvalidArgument(path + ": an HDF5 file needs --dataset NAME (the features)");
  if (H5Lexists(o.file.id, name.c_str(), H5P_DEFAULT) <= 0) refuse(path, name, "does not exist");
  o.set.id = H5Dopen2(o.file.id, name.c_str(), H5P_DEFAULT);
  if (o.set.id < 0) refuse(path, name, "is not a dataset");
  o.space.id = H5Dget_space(o.set.id);
  const int rank = H5Sget_simple_extent_ndims(o.space.id);
  if (rank < 1 || rank > 2) refuse(path, name, "has " + std::to_string(rank) + " dimensions; 1 or 2 are read");
  hsize_t dims[2] = {0, 1};
  H5Sget_simple_extent_dims(o.space.id, dims, nullptr);
  o.rows = static_cast<std::int64_t>(dims[0]);
  o.cols = static_cast<std::int64_t>(rank == 2 ? dims[1] : 1);
  const Handle type(H5Dget_type(o.set.id), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type.id);
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) refuse(path, name, "does not hold numbers (floats or integers)");
  o.float32 = cls == H5T_FLOAT && H5Tget_size(type.id) == 4;
}

}  // namespace

bool hdf5_built() noexcept { return true; }

std::pair<std::int64_t, std::int64_t> h5_shape(const std::string& path, const std::string& name) {
  Opened o{{-1, H5Fclose}, {-1, H5Dclose}, {-1, H5Sclose}};
  open(path, name, o);
  return {o.rows, o.cols};
}

H5Rows read_h5_rows(const std::string& path, const std::string& name, std::int64_t lo, std::int64_t hi) {
  Opened o{{-1, H5Fclose}, {-1, H5Dclose}, {-1, H5Sclose}};
  open(path, name, o);
  if (lo < 0 || hi < lo || hi > o.rows)
    refuse(path, name, "has " + std::to_string(o.rows) + " rows; rows " + std::to_string(lo) + ".." +
                           std::to_string(hi) + " were asked for");
  H5Rows out;
  out.rows = hi - lo;
  out.cols = o.cols;
  out.dtype = o.float32 ? DType::float32 : DType::float64;
  const auto count = static_cast<std::size_t>(out.rows * out.cols);
  if (o.float32) out.f32.resize(count);
  else out.f64.resize(count);
  if (count == 0) return out;
  const int rank = H5Sget_simple_extent_ndims(o.space.id);
  const hsize_t start[2] = {static_cast<hsize_t>(lo), 0};
  const hsize_t extent[2] = {static_cast<hsize_t>(out.rows), static_cast<hsize_t>(out.cols)};
  H5Sselect_hyperslab(o.space.id, H5S_SELECT_SET, start, nullptr, extent, nullptr);
  const Handle memory(H5Screate_simple(rank, extent, nullptr), H5Sclose);
  // HDF5 converts what is stored (any float or integer type, either byte order) to ours.
  const herr_t rc = o.float32 ? H5Dread(o.set.id, H5T_NATIVE_FLOAT, memory.id, o.space.id, H5P_DEFAULT, out.f32.data())
                              : H5Dread(o.set.id, H5T_NATIVE_DOUBLE, memory.id, o.space.id, H5P_DEFAULT, out.f64.data());
  if (rc < 0) refuse(path, name, "could not be read (rows " + std::to_string(lo) + ".." + std::to_string(hi) + ")");
  return out;
}

#else

namespace {
[[noreturn]] void not_built(const std::string& path) {
  throw InvalidArgument(path + ": an HDF5 file, but this steepest was built without HDF5 (install libhdf5-dev and "
                               "configure with -DSTEEPEST_ENABLE_HDF5=ON)");
}
}  // namespace

bool hdf5_built() noexcept { return false; }
std::pair<std::int64_t, std::int64_t> h5_shape(const std::string& path, const std::string&) { not_built(path); }
H5Rows read_h5_rows(const std::string& path, const std::string&, std::int64_t, std::int64_t) { not_built(path); }

#endif

}  // namespace steepest::io
