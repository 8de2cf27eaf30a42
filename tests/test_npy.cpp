// Unit tests of the .npy reader and writer (io::read_npy / io::parse_npy / io::write_npy).
// There is no NumPy on the build machines, so the files are built byte by byte here, the way
// numpy/lib/format.py lays them out: magic, version, header length, a Python dict padded with
// spaces and '\n', then the data.  The tests assume a little-endian host (x86-64, arm64).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "io/npy.hpp"
#include "steepest/data.hpp"
#include "steepest/error.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using steepest::DType;
using steepest::InvalidArgument;
using steepest::Layout;
using steepest::MatrixView;
using steepest::VectorView;
using steepest::io::NpyArray;
using steepest::io::parse_npy;
using steepest::io::read_npy;
using steepest::io::write_npy;

// --- building .npy images by hand ---------------------------------------------------------

/// The dict as NumPy writes it, e.g. {'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }
std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape + ", }";
}

/// A complete image: magic, version, header length, \p header_text padded with spaces and a
/// final '\n' so the data start at a multiple of 64 (or exactly at \p data_offset when given),
/// then \p data.
std::string npy_image(const std::string& header_text, const std::string& data, int major = 1,
                      int minor = 0, std::size_t data_offset = 0) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  const std::size_t unpadded = prefix + header_text.size() + 1;
  const std::size_t offset = data_offset != 0 ? data_offset : (unpadded + 63) / 64 * 64;
  const std::string header = header_text + std::string(offset - unpadded, ' ') + "\n";
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += static_cast<char>(minor);
  for (std::size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

/// The bytes of \p values, little-endian or big-endian.
template <typename T>
std::string bytes_of(const std::vector<T>& values, bool big_endian = false) {
  std::string out;
  for (const T& v : values) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    if (big_endian) std::reverse(b, b + sizeof(T));
    out.append(b, sizeof(T));
  }
  return out;
}

// --- reading views back -------------------------------------------------------------------

double element(const void* data, std::int64_t index, DType dtype) {
  const auto* p = static_cast<const unsigned char*>(data) + index * steepest::dtype_size(dtype);
  if (dtype == DType::float32) {
    float v;
    std::memcpy(&v, p, sizeof v);
    return static_cast<double>(v);
  }
  double v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

double at(const MatrixView& m, std::int64_t i, std::int64_t j) { return element(m.data, m.offset(i, j), m.dtype); }
double at(const VectorView& v, std::int64_t i) { return element(v.data, i * v.stride, v.dtype); }

/// The matrix as rows of doubles, whatever its layout and stride.
std::vector<std::vector<double>> values(const MatrixView& m) {
  std::vector<std::vector<double>> out(static_cast<std::size_t>(m.rows));
  for (std::int64_t i = 0; i < m.rows; ++i)
    for (std::int64_t j = 0; j < m.cols; ++j) out[static_cast<std::size_t>(i)].push_back(at(m, i, j));
  return out;
}

std::vector<double> values(const VectorView& v) {
  std::vector<double> out;
  for (std::int64_t i = 0; i < v.size; ++i) out.push_back(at(v, i));
  return out;
}

const unsigned char* bytes(const void* p) { return static_cast<const unsigned char*>(p); }

// --- errors -------------------------------------------------------------------------------

using test_support::error_of;

::testing::AssertionResult contains(const std::string& msg, const std::string& part) {
  if (msg.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "message \"" << msg << "\" does not contain \"" << part << "\"";
}

const std::string kName = "data.npy";

std::string parse_error(const std::string& image) {
  return error_of([&] { parse_npy(image.data(), image.size(), kName); });
}

NpyArray parse(const std::string& image) { return parse_npy(image.data(), image.size(), kName); }

// --- fixture: a fresh directory per test --------------------------------------------------

class NpyFile : public test_support::TempDirTest {
 protected:

 public:
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  /// Writes \p content to \p name in the test directory and returns its path.
  std::string put(const std::string& name, const std::string& content) const {
    const std::string p = path(name);
    std::ofstream out(p, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    return p;
  }
  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

using Rows = std::vector<std::vector<double>>;

// --- floats, mapped in place --------------------------------------------------------------

TEST_F(NpyFile, LittleEndianFloat64IsMappedInPlace) {
  const std::vector<double> v{1.5, -2.0, 3.25, 4.0, 0.1, -1e300};
  const std::string p = put("a.npy", npy_image(dict("<f8", "(3, 2)"), bytes_of(v)));
  const NpyArray a = read_npy(p);
  EXPECT_TRUE(a.mapped());
  EXPECT_EQ(a.name(), p);
  EXPECT_EQ(a.descr(), "<f8");
  EXPECT_EQ(a.dtype(), DType::float64);
  EXPECT_EQ(a.shape(), (std::vector<std::int64_t>{3, 2}));
  EXPECT_FALSE(a.fortran_order());
  EXPECT_EQ(a.rows(), 3);
  EXPECT_EQ(a.cols(), 2);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.data()) % 64, 0u);  // page start + 128
  const MatrixView m = a.matrix();
  EXPECT_EQ(m.data, a.data());
  EXPECT_EQ(m.layout, Layout::row_major);
  EXPECT_EQ(m.stride, 2);
  EXPECT_EQ(values(m), (Rows{{1.5, -2.0}, {3.25, 4.0}, {0.1, -1e300}}));
}

TEST_F(NpyFile, LittleEndianFloat32IsMappedInPlace) {
  const std::vector<float> v{1.5f, -2.0f, 0.1f, 3e38f};
  const NpyArray a = read_npy(put("a.npy", npy_image(dict("<f4", "(2, 2)"), bytes_of(v))));
  EXPECT_TRUE(a.mapped());
  EXPECT_EQ(a.dtype(), DType::float32);
  const MatrixView m = a.matrix();
  EXPECT_EQ(m.dtype, DType::float32);
  EXPECT_EQ(values(m), (Rows{{1.5, -2.0}, {static_cast<double>(0.1f), static_cast<double>(3e38f)}}));
}

TEST_F(NpyFile, NativeByteOrderFloatsAreMappedToo) {
  const NpyArray a = read_npy(put("a.npy", npy_image(dict("=f8", "(2,)"), bytes_of<double>({7, 8}))));
  EXPECT_TRUE(a.mapped());
  EXPECT_EQ(values(a.vector()), (std::vector<double>{7, 8}));
}

TEST_F(NpyFile, FortranOrderGivesAColumnMajorView) {
  // The 3 x 2 matrix [[1, 4], [2, 5], [3, 6]] stored column by column.
  const NpyArray a = read_npy(put("a.npy", npy_image(dict("<f8", "(3, 2)", true), bytes_of<double>({1, 2, 3, 4, 5, 6}))));
  EXPECT_TRUE(a.mapped());
  EXPECT_TRUE(a.fortran_order());
  const MatrixView m = a.matrix();
  EXPECT_EQ(m.layout, Layout::col_major);
  EXPECT_EQ(m.stride, 3);
  EXPECT_EQ(values(m), (Rows{{1, 4}, {2, 5}, {3, 6}}));
}

TEST_F(NpyFile, OneDimensionalArrayIsAColumn) {
  const NpyArray a = read_npy(put("a.npy", npy_image(dict("<f4", "(4,)"), bytes_of<float>({1, 2, 3, 4}))));
  EXPECT_EQ(a.shape(), (std::vector<std::int64_t>{4}));
  EXPECT_EQ(a.rows(), 4);
  EXPECT_EQ(a.cols(), 1);
  const MatrixView m = a.matrix();
  EXPECT_EQ(m.rows, 4);
  EXPECT_EQ(m.cols, 1);
  EXPECT_EQ(m.layout, Layout::row_major);
  EXPECT_EQ(values(m), (Rows{{1}, {2}, {3}, {4}}));
  const VectorView v = a.vector();
  EXPECT_EQ(v.data, a.data());
  EXPECT_EQ(v.size, 4);
  EXPECT_EQ(v.stride, 1);
  EXPECT_EQ(v.dtype, DType::float32);
}

TEST_F(NpyFile, FortranOrderFlagOfAOneDimensionalArrayIsIgnored) {
  const NpyArray a = read_npy(put("a.npy", npy_image(dict("<f8", "(3,)", true), bytes_of<double>({1, 2, 3}))));
  EXPECT_FALSE(a.fortran_order());
  EXPECT_EQ(values(a.vector()), (std::vector<double>{1, 2, 3}));
}

TEST(NpyParse, SingleRowOrColumnMatrixIsAVector) {
  for (const bool fortran : {false, true}) {
    const NpyArray col = parse(npy_image(dict("<f8", "(3, 1)", fortran), bytes_of<double>({1, 2, 3})));
    EXPECT_EQ(values(col.vector()), (std::vector<double>{1, 2, 3}));
    const NpyArray row = parse(npy_image(dict("<f8", "(1, 3)", fortran), bytes_of<double>({1, 2, 3})));
    EXPECT_EQ(values(row.vector()), (std::vector<double>{1, 2, 3}));
  }
  const NpyArray m = parse(npy_image(dict("<f8", "(2, 2)"), bytes_of<double>({1, 2, 3, 4})));
  const std::string msg = error_of([&] { m.vector(); });
  EXPECT_TRUE(contains(msg, kName));
  EXPECT_TRUE(contains(msg, "not a vector"));
}

TEST_F(NpyFile, MisalignedFloatDataAreCopiedNotMapped) {
  // A data offset of 73 is no multiple of 8: the doubles cannot be used in place.
  const NpyArray a = read_npy(put("a.npy", npy_image(dict("<f8", "(3,)"), bytes_of<double>({0.5, 1.5, 2.5}), 1, 0, 73)));
  EXPECT_FALSE(a.mapped());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.data()) % 8, 0u);
  EXPECT_EQ(values(a.vector()), (std::vector<double>{0.5, 1.5, 2.5}));
}

TEST_F(NpyFile, TrailingBytesAfterTheDataAreIgnored) {
  const NpyArray a = read_npy(put("a.npy", npy_image(dict("<f8", "(2,)"), bytes_of<double>({1, 2}) + "junk")));
  EXPECT_EQ(values(a.vector()), (std::vector<double>{1, 2}));
}

TEST_F(NpyFile, ParseCopiesAndNeverMaps) {
  std::string image = npy_image(dict("<f8", "(2, 2)"), bytes_of<double>({1, 2, 3, 4}));
  const NpyArray a = parse(image);
  EXPECT_FALSE(a.mapped());
  const auto* begin = reinterpret_cast<const unsigned char*>(image.data());
  EXPECT_TRUE(bytes(a.data()) < begin || bytes(a.data()) >= begin + image.size());
  image.assign(image.size(), '\0');  // the array does not depend on the caller's bytes
  EXPECT_EQ(values(a.matrix()), (Rows{{1, 2}, {3, 4}}));
}

TEST_F(NpyFile, MovedArrayKeepsItsMapping) {
  NpyArray a = read_npy(put("a.npy", npy_image(dict("<f8", "(2,)"), bytes_of<double>({1, 2}))));
  const void* data = a.data();
  NpyArray b = std::move(a);
  EXPECT_TRUE(b.mapped());
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(values(b.vector()), (std::vector<double>{1, 2}));
  NpyArray c;
  c = std::move(b);
  EXPECT_EQ(c.data(), data);
  EXPECT_EQ(values(c.vector()), (std::vector<double>{1, 2}));
}

// --- conversions --------------------------------------------------------------------------

TEST_F(NpyFile, BigEndianFloatsAreSwappedIntoACopy) {
  const NpyArray f8 = read_npy(put("f8.npy", npy_image(dict(">f8", "(3,)"), bytes_of<double>({1.5, -0.1, 1e300}, true))));
  EXPECT_FALSE(f8.mapped());
  EXPECT_EQ(f8.dtype(), DType::float64);
  EXPECT_EQ(values(f8.vector()), (std::vector<double>{1.5, -0.1, 1e300}));
  const NpyArray f4 = read_npy(put("f4.npy", npy_image(dict(">f4", "(2, 2)", true), bytes_of<float>({1.5f, -0.1f, 2, 3}, true))));
  EXPECT_FALSE(f4.mapped());
  EXPECT_EQ(f4.dtype(), DType::float32);
  EXPECT_EQ(values(f4.matrix()), (Rows{{1.5, 2}, {static_cast<double>(-0.1f), 3}}));
}

/// Every value of \p v through a file with descr \p order + \p code, read back as float64.
template <typename T>
void expect_integers_convert(NpyFile& fx, const std::string& descr, const std::vector<T>& v, bool big_endian) {
  SCOPED_TRACE(descr);
  const NpyArray a = read_npy(fx.put("i.npy", npy_image(dict(descr, "(" + std::to_string(v.size()) + ",)"), bytes_of(v, big_endian))));
  EXPECT_FALSE(a.mapped());
  EXPECT_EQ(a.dtype(), DType::float64);
  EXPECT_EQ(a.descr(), descr);
  std::vector<double> expected;
  for (const T x : v) expected.push_back(static_cast<double>(x));
  EXPECT_EQ(values(a.vector()), expected);
}

template <typename T>
void expect_type_converts(NpyFile& fx, const std::string& code) {
  const std::vector<T> v{std::numeric_limits<T>::min(), T(0), T(1), T(100), std::numeric_limits<T>::max()};
  if (sizeof(T) == 1) {
    for (const std::string order : {"|", "<", ">", "="}) expect_integers_convert(fx, order + code, v, false);
  } else {
    expect_integers_convert(fx, "<" + code, v, false);
    expect_integers_convert(fx, "=" + code, v, false);
    expect_integers_convert(fx, ">" + code, v, true);
  }
}

TEST_F(NpyFile, EveryIntegerDtypeConvertsToFloat64InEitherByteOrder) {
  expect_type_converts<std::int8_t>(*this, "i1");
  expect_type_converts<std::uint8_t>(*this, "u1");
  expect_type_converts<std::int16_t>(*this, "i2");
  expect_type_converts<std::uint16_t>(*this, "u2");
  expect_type_converts<std::int32_t>(*this, "i4");
  expect_type_converts<std::uint32_t>(*this, "u4");
  expect_type_converts<std::int64_t>(*this, "i8");
  expect_type_converts<std::uint64_t>(*this, "u8");
}

TEST(NpyParse, IntegerExtremesRoundToTheNearestDouble) {
  const std::vector<std::int64_t> i8{std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min(),
                                     (std::int64_t{1} << 53) + 1, -((std::int64_t{1} << 53) + 3)};
  const NpyArray a = parse(npy_image(dict(">i8", "(4,)"), bytes_of(i8, true)));
  EXPECT_EQ(values(a.vector()), (std::vector<double>{9223372036854775808.0, -9223372036854775808.0,
                                                     9007199254740992.0, -9007199254740996.0}));
  const NpyArray b = parse(npy_image(dict("<u8", "(2,)"), bytes_of<std::uint64_t>({~std::uint64_t{0}, 12345})));
  EXPECT_EQ(values(b.vector()), (std::vector<double>{18446744073709551616.0, 12345.0}));
}

TEST(NpyParse, Uint8AndBoolConvertExactly) {
  const NpyArray u = parse(npy_image(dict("|u1", "(2, 2)"), std::string("\x00\x01\x7f\xff", 4)));
  EXPECT_EQ(values(u.matrix()), (Rows{{0, 1}, {127, 255}}));
  const NpyArray b = parse(npy_image(dict("|b1", "(2, 2)", true), std::string("\x00\x01\x01\x00", 4)));
  EXPECT_EQ(b.dtype(), DType::float64);
  EXPECT_EQ(values(b.matrix()), (Rows{{0, 1}, {1, 0}}));
  // NumPy only writes 0 and 1, but any non-zero byte is true.
  const NpyArray odd = parse(npy_image(dict("|b1", "(2,)"), std::string("\x02\xff", 2)));
  EXPECT_EQ(values(odd.vector()), (std::vector<double>{1, 1}));
}

TEST_F(NpyFile, IntegerMatrixInFortranOrderKeepsItsLayout) {
  const NpyArray a = read_npy(put("a.npy", npy_image(dict("<i4", "(2, 3)", true), bytes_of<std::int32_t>({1, 4, 2, 5, 3, 6}))));
  EXPECT_EQ(a.matrix().layout, Layout::col_major);
  EXPECT_EQ(values(a.matrix()), (Rows{{1, 2, 3}, {4, 5, 6}}));
}

// --- versions and header dialects ---------------------------------------------------------

TEST_F(NpyFile, Versions1And2And3ReadTheSame) {
  for (const int major : {1, 2, 3}) {
    SCOPED_TRACE(major);
    const NpyArray a = read_npy(put("v.npy", npy_image(dict("<f8", "(2, 2)"), bytes_of<double>({1, 2, 3, 4}), major)));
    EXPECT_TRUE(a.mapped());
    EXPECT_EQ(values(a.matrix()), (Rows{{1, 2}, {3, 4}}));
  }
}

TEST(NpyParse, HeaderDialectsAreAccepted) {
  const std::string data = bytes_of<double>({1, 2, 3, 4, 5, 6});
  const std::vector<std::string> headers{
      "{'shape': (3, 2), 'fortran_order': False, 'descr': '<f8'}",        // any order, no comma
      "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (3, 2)}",  // double quotes
      "{ 'descr' : '<f8' ,\n 'fortran_order' : False , 'shape' : ( 3 , 2 , ) , }",
      "{'descr':'<f8','fortran_order':False,'shape':(3,2),}",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (3L, 2L), }",  // written by Python 2
      "{'descr': 'f8', 'fortran_order': False, 'shape': (3, 2), }",     // no byte order: native
  };
  for (const auto& h : headers) {
    SCOPED_TRACE(h);
    const NpyArray a = parse(npy_image(h, data));
    EXPECT_EQ(a.shape(), (std::vector<std::int64_t>{3, 2}));
    EXPECT_EQ(values(a.matrix()), (Rows{{1, 2}, {3, 4}, {5, 6}}));
  }
  const NpyArray one = parse(npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (6,)}", data));
  EXPECT_EQ(one.shape(), (std::vector<std::int64_t>{6}));
}

// --- non-finite values --------------------------------------------------------------------

TEST(NpyParse, NonFiniteValuesAreRefusedWithRowAndColumn) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  // C order, 3 x 2: element 3 is row 1, column 1.
  std::string msg = parse_error(npy_image(dict("<f8", "(3, 2)"), bytes_of<double>({0, 1, 2, nan, 4, inf})));
  EXPECT_TRUE(contains(msg, kName));
  EXPECT_TRUE(contains(msg, "nan"));
  EXPECT_TRUE(contains(msg, "row 1, column 1 (0-based)"));
  // Fortran order, 3 x 2: element 4 is row 1, column 1 as well.
  msg = parse_error(npy_image(dict("<f8", "(3, 2)", true), bytes_of<double>({0, 1, 2, 3, -inf, 5})));
  EXPECT_TRUE(contains(msg, "-inf"));
  EXPECT_TRUE(contains(msg, "row 1, column 1 (0-based)"));
  msg = parse_error(npy_image(dict("<f4", "(4,)"), bytes_of<float>({0, 1, 2, std::numeric_limits<float>::infinity()})));
  EXPECT_TRUE(contains(msg, "inf"));
  EXPECT_TRUE(contains(msg, "row 3 (0-based)"));
  msg = parse_error(npy_image(dict(">f4", "(1, 2)"), bytes_of<float>({0, std::numeric_limits<float>::quiet_NaN()}, true)));
  EXPECT_TRUE(contains(msg, "row 0, column 1 (0-based)"));
}

TEST_F(NpyFile, NonFiniteValueInAMappedFileIsFoundPastTheFirstBlock) {
  std::vector<double> v(10000, 1.0);
  v[500 * 10 + 7] = std::numeric_limits<double>::quiet_NaN();  // 1000 x 10, row 500, column 7
  const std::string msg = error_of([&] { read_npy(put("a.npy", npy_image(dict("<f8", "(1000, 10)"), bytes_of(v)))); });
  EXPECT_TRUE(contains(msg, "row 500, column 7 (0-based)"));
}

TEST(NpyParse, LargestFiniteValuesAndSubnormalsAreAccepted) {
  const double dmax = std::numeric_limits<double>::max();
  const double dsub = std::numeric_limits<double>::denorm_min();
  const NpyArray a = parse(npy_image(dict("<f8", "(4,)"), bytes_of<double>({dmax, -dmax, dsub, -0.0})));
  EXPECT_EQ(values(a.vector()), (std::vector<double>{dmax, -dmax, dsub, -0.0}));
}

// --- columns: target and features without copies ------------------------------------------

class NpyColumns : public NpyFile {
 protected:
  /// A 4 x 3 float64 matrix with element (i, j) = 10 * i + j, C or Fortran order, mapped.
  NpyArray matrix_file(bool fortran) {
    std::vector<double> v;
    for (int a = 0; a < 12; ++a) {
      const int i = fortran ? a % 4 : a / 3, j = fortran ? a / 4 : a % 3;
      v.push_back(10.0 * i + j);
    }
    NpyArray arr = read_npy(put(fortran ? "f.npy" : "c.npy", npy_image(dict("<f8", "(4, 3)", fortran), bytes_of(v))));
    EXPECT_TRUE(arr.mapped());
    return arr;
  }
  static Rows expected_features(std::int64_t target) {
    Rows out(4);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 3; ++j)
        if (j != target) out[static_cast<std::size_t>(i)].push_back(10.0 * i + j);
    return out;
  }
  static std::vector<double> expected_column(std::int64_t j) {
    std::vector<double> out;
    for (int i = 0; i < 4; ++i) out.push_back(10.0 * i + static_cast<double>(j));
    return out;
  }
  static bool inside(const NpyArray& a, const void* p) {
    return bytes(p) >= bytes(a.data()) && bytes(p) < bytes(a.data()) + a.rows() * a.cols() * 8;
  }
};

TEST_F(NpyColumns, COrderColumnsAreStridedViewsIntoTheMapping) {
  const NpyArray a = matrix_file(false);
  for (std::int64_t j = 0; j < 3; ++j) {
    const VectorView c = a.column(j);
    EXPECT_EQ(c.data, bytes(a.data()) + j * 8);
    EXPECT_EQ(c.stride, 3);
    EXPECT_EQ(c.size, 4);
    EXPECT_EQ(values(c), expected_column(j));
  }
  EXPECT_EQ(a.column(-1).data, a.column(2).data);
}

TEST_F(NpyColumns, FortranOrderColumnsAreContiguousViewsIntoTheMapping) {
  const NpyArray a = matrix_file(true);
  for (std::int64_t j = 0; j < 3; ++j) {
    const VectorView c = a.column(j);
    EXPECT_EQ(c.data, bytes(a.data()) + j * 4 * 8);
    EXPECT_EQ(c.stride, 1);
    EXPECT_EQ(values(c), expected_column(j));
  }
}

TEST_F(NpyColumns, COrderFeaturesAreZeroCopyForAFirstOrLastTarget) {
  NpyArray a = matrix_file(false);
  const MatrixView last = a.columns_except(2);
  EXPECT_EQ(last.data, a.data());
  EXPECT_EQ(last.layout, Layout::row_major);
  EXPECT_EQ(last.stride, 3);
  EXPECT_EQ(last.cols, 2);
  EXPECT_EQ(values(last), expected_features(2));
  const MatrixView first = a.columns_except(0);
  EXPECT_EQ(first.data, bytes(a.data()) + 8);
  EXPECT_EQ(first.stride, 3);
  EXPECT_EQ(values(first), expected_features(0));
  EXPECT_EQ(a.columns_except(-1).data, a.data());
}

TEST_F(NpyColumns, FortranOrderFeaturesAreZeroCopyForAFirstOrLastTarget) {
  NpyArray a = matrix_file(true);
  const MatrixView last = a.columns_except(2);
  EXPECT_EQ(last.data, a.data());
  EXPECT_EQ(last.layout, Layout::col_major);
  EXPECT_EQ(last.stride, 4);
  EXPECT_EQ(values(last), expected_features(2));
  const MatrixView first = a.columns_except(0);
  EXPECT_EQ(first.data, bytes(a.data()) + 4 * 8);
  EXPECT_EQ(first.layout, Layout::col_major);
  EXPECT_EQ(first.stride, 4);
  EXPECT_EQ(values(first), expected_features(0));
}

TEST_F(NpyColumns, AMiddleTargetGivesAPackedCopyHeldByTheArray) {
  for (const bool fortran : {false, true}) {
    SCOPED_TRACE(fortran);
    NpyArray a = matrix_file(fortran);
    const MatrixView mid = a.columns_except(1);
    EXPECT_FALSE(inside(a, mid.data));
    EXPECT_EQ(mid.layout, fortran ? Layout::col_major : Layout::row_major);
    EXPECT_EQ(mid.stride, fortran ? 4 : 2);
    EXPECT_EQ(mid.cols, 2);
    EXPECT_EQ(values(mid), expected_features(1));
    EXPECT_EQ(a.columns_except(1).data, mid.data);  // the same copy, not a new one
    EXPECT_EQ(values(a.column(1)), expected_column(1));
  }
}

TEST_F(NpyColumns, BadColumnIndicesAndSingleColumnsAreRefused) {
  NpyArray a = matrix_file(false);
  std::string msg = error_of([&] { a.column(3); });
  EXPECT_TRUE(contains(msg, "column index 3 is out of range"));
  EXPECT_TRUE(contains(msg, "3 columns"));
  msg = error_of([&] { a.columns_except(-4); });
  EXPECT_TRUE(contains(msg, "column index -4 is out of range"));
  NpyArray v = parse(npy_image(dict("<f8", "(3,)"), bytes_of<double>({1, 2, 3})));
  EXPECT_EQ(values(v.column(0)), (std::vector<double>{1, 2, 3}));
  msg = error_of([&] { v.columns_except(0); });
  EXPECT_TRUE(contains(msg, kName));
  EXPECT_TRUE(contains(msg, "single column"));
}

TEST_F(NpyColumns, SelectedColumnsComeInTheGivenOrder) {
  for (const bool fortran : {false, true}) {
    SCOPED_TRACE(fortran);
    NpyArray a = matrix_file(fortran);
    EXPECT_EQ(a.select({0, 1, 2}).data, a.data());  // the whole array: a view
    EXPECT_EQ(a.select({0, 1}).data, a.data());     // all but the last: a view
    const MatrixView swapped = a.select({2, 0});    // a packed copy
    EXPECT_FALSE(inside(a, swapped.data));
    EXPECT_EQ(swapped.cols, 2);
    Rows want(4);
    for (int i = 0; i < 4; ++i) want[static_cast<std::size_t>(i)] = {10.0 * i + 2, 10.0 * i};
    EXPECT_EQ(values(swapped), want);
    Rows middle(4);
    for (int i = 0; i < 4; ++i) middle[static_cast<std::size_t>(i)] = {10.0 * i + 1};
    EXPECT_EQ(values(a.select({1})), middle);
    EXPECT_TRUE(contains(error_of([&] { a.select({0, 3}); }), "column index 3 is out of range"));
    EXPECT_TRUE(contains(error_of([&] { a.select({1, 1}); }), "twice"));
    EXPECT_TRUE(contains(error_of([&] { a.select({}); }), "no columns"));
  }
}

TEST(NpyParse, HeaderTextInMessagesIsEscapedAndCut) {
  std::string msg = parse_error(npy_image(dict("\x1b[2J<f8", "(1,)"), bytes_of<double>({1})));
  EXPECT_EQ(msg.find('\x1b'), std::string::npos) << msg;
  EXPECT_TRUE(contains(msg, "\\x1b[2J")) << msg;
  msg = parse_error(npy_image("{'" + std::string(5000, 'k') + "': 1, 'descr': '<f8', 'fortran_order': False, "
                              "'shape': (1,), }", bytes_of<double>({1})));
  EXPECT_LT(msg.size(), 200u) << msg.substr(0, 200);
  std::string dims;
  for (int i = 0; i < 3000; ++i) dims += "1, ";
  msg = parse_error(npy_image(dict("<f8", "(" + dims + ")"), bytes_of<double>({1})));
  EXPECT_TRUE(contains(msg, "dimensions")) << msg.substr(0, 200);
  EXPECT_LT(msg.size(), 300u) << msg.substr(0, 300);
}

// --- writing ------------------------------------------------------------------------------

TEST_F(NpyFile, WrittenHeaderIsWhatNumPyWrites) {
  const std::vector<double> v{1, 2, 3, 4, 5, 6};
  const std::string p = path("w.npy");
  write_npy(p, steepest::make_matrix_view(v.data(), 3, 2));
  const std::string s = slurp(p);
  ASSERT_GE(s.size(), 10u);
  EXPECT_EQ(s.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t hlen = static_cast<unsigned char>(s[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(s[9])) << 8);
  const std::size_t offset = 10 + hlen;
  EXPECT_EQ(offset % 64, 0u);
  EXPECT_EQ(offset, 128u);  // NumPy >= 1.23 writes 128-byte headers for small arrays
  const std::string dict_text = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }";
  EXPECT_EQ(s.substr(10, dict_text.size()), dict_text);
  EXPECT_EQ(s[offset - 1], '\n');
  EXPECT_EQ(s.substr(10 + dict_text.size(), hlen - dict_text.size() - 1), std::string(hlen - dict_text.size() - 1, ' '));
  EXPECT_EQ(s.substr(offset), bytes_of(v));
  EXPECT_EQ(entries(), (std::vector<std::string>{"w.npy"}));  // no temporary left behind

  const std::vector<float> f{1, 2, 3, 4, 5};
  write_npy(path("v.npy"), steepest::make_vector_view(f.data(), 5));
  const std::string t = slurp(path("v.npy"));
  EXPECT_EQ(t.substr(10, 59), "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }  ");
  EXPECT_EQ(t.size(), 128u + 20u);
}

TEST_F(NpyFile, RowMajorRoundTripIsMappedAndExact) {
  const std::vector<double> v{0.1, -2.5, 1e-300, 3, 4, 5};
  write_npy(path("a.npy"), steepest::make_matrix_view(v.data(), 2, 3));
  const NpyArray a = read_npy(path("a.npy"));
  EXPECT_TRUE(a.mapped());
  EXPECT_FALSE(a.fortran_order());
  EXPECT_EQ(a.dtype(), DType::float64);
  EXPECT_EQ(values(a.matrix()), (Rows{{0.1, -2.5, 1e-300}, {3, 4, 5}}));
}

TEST_F(NpyFile, ColumnMajorRoundTripIsFortranOrder) {
  const std::vector<float> v{1, 2, 3, 4, 5, 6};  // 3 x 2, column by column
  write_npy(path("a.npy"), steepest::make_matrix_view(v.data(), 3, 2, Layout::col_major));
  EXPECT_TRUE(contains(slurp(path("a.npy")), "'fortran_order': True, 'shape': (3, 2), }"));
  const NpyArray a = read_npy(path("a.npy"));
  EXPECT_TRUE(a.mapped());
  EXPECT_TRUE(a.fortran_order());
  EXPECT_EQ(a.dtype(), DType::float32);
  EXPECT_EQ(a.matrix().layout, Layout::col_major);
  EXPECT_EQ(values(a.matrix()), (Rows{{1, 4}, {2, 5}, {3, 6}}));
}

TEST_F(NpyFile, StridedViewsArePackedOnTheWayOut) {
  // Row-major 2 x 3 with stride 5 (two padding elements per row).
  const std::vector<double> r{1, 2, 3, -1, -1, 4, 5, 6, -1, -1};
  write_npy(path("r.npy"), steepest::make_matrix_view(r.data(), 2, 3, Layout::row_major, 5));
  EXPECT_EQ(values(read_npy(path("r.npy")).matrix()), (Rows{{1, 2, 3}, {4, 5, 6}}));
  // Column-major 2 x 2 with stride 3.
  const std::vector<float> c{1, 2, -1, 3, 4, -1};
  write_npy(path("c.npy"), steepest::make_matrix_view(c.data(), 2, 2, Layout::col_major, 3));
  const NpyArray ca = read_npy(path("c.npy"));
  EXPECT_TRUE(ca.fortran_order());
  EXPECT_EQ(values(ca.matrix()), (Rows{{1, 3}, {2, 4}}));
  // A vector with stride 3 and one with stride 1, float32 and float64.
  write_npy(path("v.npy"), steepest::make_vector_view(r.data(), 3, 3));
  EXPECT_EQ(values(read_npy(path("v.npy")).vector()), (std::vector<double>{1, -1, 5}));
  write_npy(path("w.npy"), steepest::make_vector_view(c.data(), 6));
  const NpyArray w = read_npy(path("w.npy"));
  EXPECT_EQ(w.shape(), (std::vector<std::int64_t>{6}));
  EXPECT_EQ(values(w.vector()), (std::vector<double>{1, 2, -1, 3, 4, -1}));
  // A column of a mapped C-order file, written back out.
  write_npy(path("col.npy"), read_npy(path("r.npy")).column(1));
  EXPECT_EQ(values(read_npy(path("col.npy")).vector()), (std::vector<double>{2, 5}));
}

TEST_F(NpyFile, BadViewsAreRefusedAndNothingIsWritten) {
  const std::vector<double> v{1, 2, 3, 4};
  const std::string p = put("keep.npy", "old");
  std::string msg = error_of([&] { write_npy(p, MatrixView{}); });
  EXPECT_TRUE(contains(msg, p));
  EXPECT_TRUE(contains(msg, "no data"));
  msg = error_of([&] { write_npy(p, steepest::make_matrix_view(v.data(), 0, 2)); });
  EXPECT_TRUE(contains(msg, "empty"));
  msg = error_of([&] { write_npy(p, steepest::make_matrix_view(v.data(), 2, 2, Layout::row_major, 1)); });
  EXPECT_TRUE(contains(msg, "stride 1 is smaller"));
  msg = error_of([&] { write_npy(p, steepest::make_vector_view(v.data(), 0)); });
  EXPECT_TRUE(contains(msg, "empty"));
  msg = error_of([&] { write_npy(p, VectorView{v.data(), 2, 0, DType::float64}); });
  EXPECT_TRUE(contains(msg, "stride 0"));
  msg = error_of([&] { write_npy(path("no/such/dir/a.npy"), steepest::make_vector_view(v.data(), 4)); });
  EXPECT_TRUE(contains(msg, "no/such/dir/a.npy"));
  EXPECT_EQ(slurp(p), "old");
  EXPECT_EQ(entries(), (std::vector<std::string>{"keep.npy"}));
}

// --- refused files ------------------------------------------------------------------------

TEST_F(NpyFile, MissingDirectoryAndEmptyFilesAreRefused) {
  std::string msg = error_of([&] { read_npy(path("missing.npy")); });
  EXPECT_TRUE(contains(msg, path("missing.npy")));
  EXPECT_TRUE(contains(msg, "No such file"));
  msg = error_of([&] { read_npy(dir_); });
  EXPECT_TRUE(contains(msg, "is a directory"));
  msg = error_of([&] { read_npy(put("empty.npy", "")); });
  EXPECT_TRUE(contains(msg, "empty"));
}

TEST_F(NpyFile, FailuresInAMappedFileNameTheFile) {
  const std::string p = put("bad.npy", npy_image(dict("<f8", "(3, 2)"), bytes_of<double>({1, 2, 3})));
  const std::string msg = error_of([&] { read_npy(p); });
  EXPECT_TRUE(contains(msg, p + ": truncated data"));
}

TEST(NpyParse, PreambleErrors) {
  std::string msg = parse_error("\x93NUM");
  EXPECT_TRUE(contains(msg, kName));
  EXPECT_TRUE(contains(msg, "too short"));
  msg = parse_error("");
  EXPECT_TRUE(contains(msg, "too short"));
  msg = parse_error(std::string("PK\x03\x04 this is a zip file"));
  EXPECT_TRUE(contains(msg, "bad magic"));
  const std::string good = dict("<f8", "(1,)");
  msg = parse_error(npy_image(good, bytes_of<double>({1}), 4, 0));
  EXPECT_TRUE(contains(msg, "unsupported .npy format version 4.0"));
  msg = parse_error(npy_image(good, bytes_of<double>({1}), 1, 1));
  EXPECT_TRUE(contains(msg, "version 1.1"));
  msg = parse_error(std::string("\x93NUMPY\x02\x00\x10", 9));
  EXPECT_TRUE(contains(msg, "too short"));
  // A header length of 0xffff in a 200-byte file.
  std::string image = npy_image(good, bytes_of<double>({1}));
  image[8] = '\xff';
  image[9] = '\xff';
  msg = parse_error(image);
  EXPECT_TRUE(contains(msg, "header length 65535 is larger than the file"));
  image = npy_image(good, bytes_of<double>({1}), 2);
  image[11] = '\x80';
  msg = parse_error(image);
  EXPECT_TRUE(contains(msg, "is larger than the file"));
}

TEST(NpyParse, MalformedHeadersAreRefused) {
  const std::string data = bytes_of<double>({1, 2});
  const std::vector<std::pair<std::string, std::string>> cases{
      {"['descr', '<f8']", "not a dict"},
      {"", "not a dict"},
      {"{'descr': '<f8', 'fortran_order': False}", "missing key 'shape'"},
      {"{'fortran_order': False, 'shape': (2,)}", "missing key 'descr'"},
      {"{'descr': '<f8', 'shape': (2,)}", "missing key 'fortran_order'"},
      {"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", "duplicate key 'descr'"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "unexpected key 'extra'"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,)", "ends early"},
      {"{'descr': '<f8' 'fortran_order': False, 'shape': (2,)}", "expected ',' or '}'"},
      {"{'descr': '<f8', 'fortran_order': 0, 'shape': (2,)}", "True or False"},
      {"{'descr': '<f8', 'fortran_order': false, 'shape': (2,)}", "True or False"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2)}", "must be a tuple"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': [2]}", "must be a tuple"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2.0,)}", "tuple of integers"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,,)}", "tuple of integers"},
      {"{'descr': <f8, 'fortran_order': False, 'shape': (2,)}", "quoted string"},
      {"{descr: '<f8', 'fortran_order': False, 'shape': (2,)}", "quoted string"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} x", "after the closing '}'"},
      {"{'descr': '<f8\\n', 'fortran_order': False, 'shape': (2,)}", "unsupported character"},
  };
  for (const auto& [header, part] : cases) {
    SCOPED_TRACE(header);
    const std::string msg = parse_error(npy_image(header, data));
    EXPECT_TRUE(contains(msg, kName + ": "));
    EXPECT_TRUE(contains(msg, part));
  }
}

TEST(NpyParse, UnsupportedDtypesAreRefusedWithAReason) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"|O", "object"},         {"<O8", "object"},         {"<c8", "complex"},
      {"<c16", "complex"},      {"|S10", "string"},        {"<U5", "string"},
      {"|V8", "structured"},    {"<f2", "float16"},        {">f2", "float16"},
      {"<f16", "f4 or f8"},     {"<i3", "1, 2, 4 or 8"},   {"|b2", "b1"},
      {"<M8[ns]", "datetime"},  {"<m8", "datetime"},       {"|f8", "byte order '|'"},
      {"<x4", "not supported"}, {"", "malformed"},         {"<", "malformed"},
      {"<f", "malformed"},      {"<f8 ", "malformed"},     {"<f00008", "malformed"},
  };
  for (const auto& [descr, part] : cases) {
    SCOPED_TRACE(descr);
    const std::string msg = parse_error(npy_image(dict(descr, "(1,)"), std::string(64, '\0')));
    EXPECT_TRUE(contains(msg, kName + ": "));
    EXPECT_TRUE(contains(msg, part));
  }
  const std::string msg = parse_error(npy_image(
      "{'descr': [('x', '<f8'), ('y', '<i4')], 'fortran_order': False, 'shape': (1,), }", std::string(12, '\0')));
  EXPECT_TRUE(contains(msg, "structured dtypes (descr is a list) are not supported"));
}

TEST(NpyParse, BadShapesAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"()", "scalar"},
      {"(2, 2, 2)", "has 3 dimensions"},
      {"(1, 1, 1, 1)", "has 4 dimensions"},
      {"(-2,)", "negative dimension"},
      {"(2, -1)", "negative dimension"},
      {"(0,)", "0 rows"},
      {"(0, 3)", "0 rows"},
      {"(3, 0)", "0 columns"},
      {"(4611686018427387904, 4)", "overflows"},
      {"(2305843009213693952,)", "overflows"},
      {"(99999999999999999999,)", "does not fit in 64 bits"},
  };
  for (const auto& [shape, part] : cases) {
    SCOPED_TRACE(shape);
    const std::string msg = parse_error(npy_image(dict("<f8", shape), bytes_of<double>({1, 2, 3, 4})));
    EXPECT_TRUE(contains(msg, kName + ": "));
    EXPECT_TRUE(contains(msg, part));
  }
}

TEST(NpyParse, TruncatedDataSayHowManyBytesWereExpected) {
  std::string msg = parse_error(npy_image(dict("<f8", "(3, 2)"), bytes_of<double>({1, 2, 3, 4, 5})));
  EXPECT_TRUE(contains(msg, "truncated data"));
  EXPECT_TRUE(contains(msg, "needs 48 bytes"));
  EXPECT_TRUE(contains(msg, "has 40"));
  msg = parse_error(npy_image(dict("<i2", "(1000,)"), ""));
  EXPECT_TRUE(contains(msg, "needs 2000 bytes, the file has 0"));
}

}  // namespace
