// HDF5 input (built with HDF5 only): datasets of every supported type and storage read by
// rows, and the CLI's fit on an HDF5 file against the same values in a .npy file, in one
// process and (when built with MPI) on 3 ranks, each reading its own hyperslab.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "io/hdf5.hpp"
#include "io/npy.hpp"

namespace {

using namespace cli_test;

/// Writes \p values (rows x cols, or 1-D when cols is 0) as dataset \p name of type
/// \p type (an HDF5 native type), contiguous or in chunks of 7 rows.
template <class T>
void write_dataset(const std::string& path, const std::string& name, const std::vector<T>& values,
                   std::int64_t rows, std::int64_t cols, hid_t type, bool chunked, bool create = false) {
  const hid_t file = create ? H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                            : H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const int rank = cols == 0 ? 1 : 2;
  const hsize_t dims[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)};
  const hid_t space = H5Screate_simple(rank, dims, nullptr);
  const hid_t props = H5Pcreate(H5P_DATASET_CREATE);
  if (chunked) {
    const hsize_t chunk[2] = {7, dims[1]};
    H5Pset_chunk(props, rank, chunk);
  }
  // Groups on the way are created (a path such as /data/X).
  const hid_t links = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(links, 1);
  const hid_t set = H5Dcreate2(file, name.c_str(), type, space, links, props, H5P_DEFAULT);
  ASSERT_GE(set, 0);
  ASSERT_GE(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Dclose(set);
  H5Pclose(links);
  H5Pclose(props);
  H5Sclose(space);
  H5Fclose(file);
}

class Hdf5 : public Cli {};

TEST_F(Hdf5, ReadsRowsOfEveryTypeAndStorage) {
  const std::string path = dir_ + "/t.h5";
  std::vector<double> f64(20 * 3);
  std::vector<float> f32(f64.size());
  std::vector<std::int32_t> i32(f64.size());
  for (std::size_t k = 0; k < f64.size(); ++k) {
    f64[k] = 0.25 * static_cast<double>(k) - 3.0;
    f32[k] = static_cast<float>(f64[k]);
    i32[k] = static_cast<std::int32_t>(k) - 7;
  }
  write_dataset(path, "/a/f64", f64, 20, 3, H5T_NATIVE_DOUBLE, false, true);
  write_dataset(path, "/a/f32", f32, 20, 3, H5T_NATIVE_FLOAT, true);
  write_dataset(path, "/i32", i32, 20, 3, H5T_NATIVE_INT32, true);
  write_dataset(path, "/y", f64, 60, 0, H5T_NATIVE_DOUBLE, true);
  ASSERT_TRUE(steepest::io::is_hdf5_file(path));
  EXPECT_EQ(steepest::io::h5_shape(path, "/a/f64"), (std::pair<std::int64_t, std::int64_t>{20, 3}));
  EXPECT_EQ(steepest::io::h5_shape(path, "/y"), (std::pair<std::int64_t, std::int64_t>{60, 1}));

  const auto a = steepest::io::read_h5_rows(path, "/a/f64", 5, 12);  // across chunk edges
  ASSERT_EQ(a.rows, 7);
  EXPECT_EQ(a.dtype, steepest::DType::float64);
  for (std::size_t k = 0; k < a.f64.size(); ++k) EXPECT_EQ(a.f64[k], f64[15 + k]);
  const auto b = steepest::io::read_h5_rows(path, "/a/f32", 13, 20);
  EXPECT_EQ(b.dtype, steepest::DType::float32);
  for (std::size_t k = 0; k < b.f32.size(); ++k) EXPECT_EQ(b.f32[k], f32[39 + k]);
  const auto c = steepest::io::read_h5_rows(path, "/i32", 0, 20);
  EXPECT_EQ(c.dtype, steepest::DType::float64);
  for (std::size_t k = 0; k < c.f64.size(); ++k) EXPECT_EQ(c.f64[k], static_cast<double>(i32[k]));
  EXPECT_EQ(steepest::io::read_h5_rows(path, "/a/f64", 20, 20).rows, 0);

  EXPECT_TRUE(contains(test_support::error_of([&] { steepest::io::h5_shape(path, "/nope"); }), "does not exist"));
  EXPECT_TRUE(contains(test_support::error_of([&] { steepest::io::read_h5_rows(path, "/y", 50, 61); }), "60 rows"));
  EXPECT_FALSE(steepest::io::is_hdf5_file(dir_ + "/missing.h5"));
}

/// A .npy from `steepest gen` copied into an HDF5 file: /data/X (features) and /data/y.
std::string as_hdf5(const std::string& npy, const std::string& path, bool chunked) {
  const auto m = steepest::io::read_npy(npy);
  const steepest::MatrixView X = m.matrix();
  const std::int64_t d = X.cols - 1;
  std::vector<double> x(static_cast<std::size_t>(X.rows * d)), y(static_cast<std::size_t>(X.rows));
  const auto* v = static_cast<const double*>(X.data);
  for (std::int64_t i = 0; i < X.rows; ++i) {
    for (std::int64_t k = 0; k < d; ++k) x[static_cast<std::size_t>(i * d + k)] = v[X.offset(i, k)];
    y[static_cast<std::size_t>(i)] = v[X.offset(i, d)];
  }
  write_dataset(path, "/data/X", x, X.rows, d, H5T_NATIVE_DOUBLE, chunked, true);
  write_dataset(path, "/data/y", y, X.rows, 0, H5T_NATIVE_DOUBLE, chunked);
  return path;
}

/// The fitted numbers of a model file: its bias, final MSE and weights lines.
std::string fitted(const std::string& json) {
  std::string out;
  for (const char* key : {"\"bias\"", "\"final_mse\""}) {
    const std::size_t at = json.find(key);
    out += at == std::string::npos ? std::string("none") : json.substr(at, json.find('\n', at) - at);
  }
  const std::size_t w = json.find("\"weights\"");
  out += w == std::string::npos ? std::string("none") : json.substr(w, json.find(']', w) - w);
  return out;
}

TEST_F(Hdf5, FitOnHdf5IsTheFitOnTheSameValues) {
  const std::string npy = dir_ + "/d.npy";
  ASSERT_EQ(run({"gen", "-o", npy, "--rows", "9000", "--features", "3", "-q"}).code, 0);
  const std::string h5 = as_hdf5(npy, dir_ + "/d.h5", true);
  const std::vector<std::string> fit = {"--epochs", "5", "--lr", "0.1", "--batch-size", "700", "-q"};
  auto with = [&](std::vector<std::string> a, const std::string& tag) {
    a.insert(a.end(), fit.begin(), fit.end());
    a.insert(a.end(), {"-o", out_ + "/" + tag + ".json", "--history", out_ + "/" + tag + ".csv"});
    return a;
  };
  ASSERT_EQ(run(with({"fit", npy}, "npy")).code, 0);
  const Result r = run(with({"fit", h5, "--dataset", "/data/X", "--y-dataset", "/data/y"}, "h5"));
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(read_all(out_ + "/h5.csv"), read_all(out_ + "/npy.csv"));
  EXPECT_EQ(fitted(read_all(out_ + "/h5.json")), fitted(read_all(out_ + "/npy.json")));
#if defined(STEEPEST_MPIEXEC)
  const Result ranks = run(with({"fit", h5, "--dataset", "/data/X", "--y-dataset", "/data/y"}, "h5mpi"),
                           "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                           "OMPI_MCA_rmaps_base_oversubscribe=1 timeout -k 10 120 " STEEPEST_MPIEXEC " -np 3");
  ASSERT_EQ(ranks.code, 0) << ranks;
  EXPECT_EQ(read_all(out_ + "/h5mpi.csv"), read_all(out_ + "/npy.csv"));
  EXPECT_EQ(fitted(read_all(out_ + "/h5mpi.json")), fitted(read_all(out_ + "/npy.json")));
#endif
  // Refusals name what is wrong.
  const Result no_dataset = run({"fit", h5, "-q"});
  EXPECT_EQ(no_dataset.code, 2);
  EXPECT_TRUE(contains(no_dataset.err, "--dataset")) << no_dataset;
  const Result missing = run({"fit", h5, "--dataset", "/data/Z", "-q"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_TRUE(contains(missing.err, "does not exist")) << missing;
  const Result not_h5 = run({"fit", npy, "--dataset", "/data/X", "-q"});
  EXPECT_EQ(not_h5.code, 2);
  EXPECT_TRUE(contains(not_h5.err, "HDF5 input only")) << not_h5;
}

}  // namespace
