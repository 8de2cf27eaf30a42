// Unit tests of the CSV reader (io::parse_csv / io::read_csv): ordinary files parse to the
// exact doubles, and every malformed input is refused with InvalidArgument naming the file,
// the line and the column.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "io/csv.hpp"
#include "io/text.hpp"
#include "steepest/error.hpp"
#include "test_support.hpp"

namespace {

using steepest::InvalidArgument;
using steepest::io::CsvDataset;
using steepest::io::CsvOptions;
using steepest::io::parse_csv;
using steepest::io::read_csv;

const std::string kPath = "data.csv";

/// The folder of this source file, so tests/data is found without a macro.
std::string test_source_dir() {
  const std::string file = __FILE__;
  const auto slash = file.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : file.substr(0, slash);
}

using test_support::error_of;

std::string parse_error(const std::string& text, const CsvOptions& opt = {}) {
  return error_of([&] { parse_csv(text, kPath, opt); });
}

::testing::AssertionResult contains(const std::string& msg, const std::string& part) {
  if (msg.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "message \"" << msg << "\" does not contain \"" << part
                                       << "\"";
}

/// The message names line \p line of kPath, as "data.csv:N" or "line N".
::testing::AssertionResult names_line(const std::string& msg, std::int64_t line) {
  const std::string n = std::to_string(line);
  const std::string compiler_style = kPath + ":" + n;
  const auto at = msg.find(compiler_style);
  if (at != std::string::npos) {
    const std::size_t after = at + compiler_style.size();
    if (after == msg.size() || !std::isdigit(static_cast<unsigned char>(msg[after])))
      return ::testing::AssertionSuccess();
  }
  if (msg.find("line " + n) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "message \"" << msg << "\" does not name line " << n;
}

CsvOptions target(const std::string& t) {
  CsvOptions o;
  o.target = t;
  return o;
}

// --- well-formed input ----------------------------------------------------------------------

TEST(CsvParse, HeaderNamesColumnsAndLastColumnIsTheTarget) {
  const CsvDataset ds = parse_csv("a,b,y\n1,2,3\n4,5,6\n", kPath);
  EXPECT_EQ(ds.path, kPath);
  EXPECT_EQ(ds.rows, 2);
  EXPECT_EQ(ds.cols, 2);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ds.target_name, "y");
  EXPECT_EQ(ds.X, (std::vector<double>{1, 2, 4, 5}));
  EXPECT_EQ(ds.y, (std::vector<double>{3, 6}));
}

TEST(CsvParse, AWeightColumnIsNeitherAFeatureNorTheTarget) {
  CsvOptions opt;
  opt.weight = "w";
  CsvDataset ds = parse_csv("a,w,b,y\n1,0.5,2,3\n4,2,5,6\n", kPath, opt);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ds.weight_name, "w");
  EXPECT_EQ(ds.X, (std::vector<double>{1, 2, 4, 5}));
  EXPECT_EQ(ds.y, (std::vector<double>{3, 6}));
  EXPECT_EQ(ds.w, (std::vector<double>{0.5, 2}));
  EXPECT_EQ(ds.w_view().size, 2);
  // By index, float32 storage.
  opt.weight = "1";
  opt.dtype = steepest::DType::float32;
  ds = parse_csv("a,w,b,y\n1,0.5,2,3\n4,2,5,6\n", kPath, opt);
  EXPECT_EQ(ds.w32, (std::vector<float>{0.5f, 2.0f}));
  EXPECT_EQ(parse_csv("a,b,y\n1,2,3\n", kPath).w_view().data, nullptr);
  // Not the target, not a listed feature, not unknown.
  opt.dtype = steepest::DType::float64;
  opt.weight = "y";
  EXPECT_NE(parse_error("a,w,b,y\n1,0.5,2,3\n", opt).find("cannot also be the weight"), std::string::npos);
  opt.weight = "w";
  opt.features = {"a", "w"};
  EXPECT_NE(parse_error("a,w,b,y\n1,0.5,2,3\n", opt).find("is the weight"), std::string::npos);
  opt.features = {};
  opt.weight = "v";
  EXPECT_NE(parse_error("a,w,b,y\n1,0.5,2,3\n", opt).find("unknown weight column 'v'"), std::string::npos);
}

TEST(CsvParse, NoHeaderTreatsTheFirstLineAsData) {
  CsvOptions opt;
  opt.header = false;
  const CsvDataset ds = parse_csv("1,2,3\n4,5,6\n", kPath, opt);
  EXPECT_EQ(ds.rows, 2);
  EXPECT_EQ(ds.cols, 2);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"x1", "x2"}));
  EXPECT_EQ(ds.target_name, "y");
  EXPECT_EQ(ds.X, (std::vector<double>{1, 2, 4, 5}));
  EXPECT_EQ(ds.y, (std::vector<double>{3, 6}));
}

TEST(CsvParse, NoHeaderRefusesAWordInTheFirstLine) {
  CsvOptions opt;
  opt.header = false;
  const std::string msg = parse_error("a,b\n1,2\n", opt);
  EXPECT_TRUE(names_line(msg, 1));
  EXPECT_TRUE(contains(msg, "column 1"));
}

TEST(CsvParse, CrlfAndLfGiveTheSameResult) {
  const CsvDataset lf = parse_csv("x,y\n0.1,0.2\n0.3,0.4\n", kPath);
  const CsvDataset crlf = parse_csv("x,y\r\n0.1,0.2\r\n0.3,0.4\r\n", kPath);
  EXPECT_EQ(crlf.feature_names, (std::vector<std::string>{"x"}));
  EXPECT_EQ(crlf.target_name, "y");
  EXPECT_EQ(crlf.rows, 2);
  EXPECT_EQ(crlf.X, (std::vector<double>{0.1, 0.3}));
  EXPECT_EQ(crlf.y, (std::vector<double>{0.2, 0.4}));
  EXPECT_EQ(lf.X, crlf.X);
  EXPECT_EQ(lf.y, crlf.y);
  EXPECT_EQ(lf.target_name, crlf.target_name);
}

TEST(CsvParse, LastLineWithoutNewline) {
  const CsvDataset ds = parse_csv("x,y\n1,2\n3,4", kPath);
  EXPECT_EQ(ds.rows, 2);
  EXPECT_EQ(ds.X, (std::vector<double>{1, 3}));
  EXPECT_EQ(ds.y, (std::vector<double>{2, 4}));
}

TEST(CsvParse, Utf8ByteOrderMarkIsSkipped) {
  const CsvDataset ds = parse_csv("\xEF\xBB\xBFx,y\r\n1.5,2.5\r\n", kPath);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"x"}));  // not "\xEF\xBB\xBFx"
  EXPECT_EQ(ds.target_name, "y");
  EXPECT_EQ(ds.X, (std::vector<double>{1.5}));
  EXPECT_EQ(ds.y, (std::vector<double>{2.5}));
}

TEST(CsvParse, ByteOrderMarkBeforeDataWithoutHeader) {
  CsvOptions opt;
  opt.header = false;
  const CsvDataset ds = parse_csv("\xEF\xBB\xBF" "7,8\n", kPath, opt);
  EXPECT_EQ(ds.X, (std::vector<double>{7}));
  EXPECT_EQ(ds.y, (std::vector<double>{8}));
}

TEST(CsvParse, BlankLinesAreSkipped) {
  const CsvDataset ds = parse_csv("\n  \nx,y\n\n1,2\n \t \r\n\r\n3,4\n\n\n", kPath);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"x"}));
  EXPECT_EQ(ds.rows, 2);
  EXPECT_EQ(ds.X, (std::vector<double>{1, 3}));
  EXPECT_EQ(ds.y, (std::vector<double>{2, 4}));
}

TEST(CsvParse, SurroundingBlanksAreTrimmed) {
  const CsvDataset ds = parse_csv("  a \t, b ,\ty \n 1 ,\t2\t, 3  \n", kPath);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ds.target_name, "y");
  EXPECT_EQ(ds.X, (std::vector<double>{1, 2}));
  EXPECT_EQ(ds.y, (std::vector<double>{3}));
}

TEST(CsvParse, LeadingPlusSignIsAccepted) {
  const CsvDataset ds = parse_csv("x,y\n+1.25,-2.5\n+0,+7e1\n", kPath);
  EXPECT_EQ(ds.X, (std::vector<double>{1.25, 0.0}));
  EXPECT_EQ(ds.y, (std::vector<double>{-2.5, 70.0}));
}

TEST(CsvParse, ExponentNotationAndExactDecimalValues) {
  const CsvDataset ds =
      parse_csv("x1,x2,y\n1e3,2.5E-2,-1.25e+2\n0.1,0.7272727272727273,1.7976931348623157e308\n"
                "4.9406564584124654e-324,-0.0,123456789012345678901234567890\n",
                kPath);
  ASSERT_EQ(ds.rows, 3);
  EXPECT_EQ(ds.X, (std::vector<double>{1e3, 2.5E-2, 0.1, 0.7272727272727273,
                                       4.9406564584124654e-324, -0.0}));
  EXPECT_EQ(ds.y, (std::vector<double>{-1.25e+2, 1.7976931348623157e308,
                                       123456789012345678901234567890.0}));
  EXPECT_TRUE(std::signbit(ds.X[5]));
}

TEST(CsvParse, NearestDoubleOfLongDecimals) {
  // Parsing must round correctly: the same literal compiled by the compiler is the
  // reference.
  const CsvDataset ds = parse_csv(
      "x,y\n0.30000000000000001665334536937734810635447502136230468750001,"
      "2.718281828459045235360287471352662497757247093699959574966967627724\n",
      kPath);
  EXPECT_EQ(ds.X[0], 0.30000000000000001665334536937734810635447502136230468750001);
  EXPECT_EQ(ds.y[0], 2.718281828459045235360287471352662497757247093699959574966967627724);
}

TEST(CsvParse, TargetByName) {
  const CsvDataset ds = parse_csv("a,b,c\n1,2,3\n4,5,6\n", kPath, target("a"));
  EXPECT_EQ(ds.target_name, "a");
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(ds.X, (std::vector<double>{2, 3, 5, 6}));
  EXPECT_EQ(ds.y, (std::vector<double>{1, 4}));
}

TEST(CsvParse, TargetInTheMiddleKeepsTheOtherColumnsInOrder) {
  const CsvDataset ds =
      parse_csv("a,b,t,c,d\n1,2,3,4,5\n6,7,8,9,10\n", kPath, target("t"));
  EXPECT_EQ(ds.rows, 2);
  EXPECT_EQ(ds.cols, 4);
  EXPECT_EQ(ds.target_name, "t");
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(ds.X, (std::vector<double>{1, 2, 4, 5, 6, 7, 9, 10}));
  EXPECT_EQ(ds.y, (std::vector<double>{3, 8}));
}

TEST(CsvParse, TargetByZeroBasedIndex) {
  const CsvDataset ds = parse_csv("a,b,c\n1,2,3\n4,5,6\n", kPath, target("1"));
  EXPECT_EQ(ds.target_name, "b");
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(ds.X, (std::vector<double>{1, 3, 4, 6}));
  EXPECT_EQ(ds.y, (std::vector<double>{2, 5}));

  const CsvDataset first = parse_csv("a,b,c\n1,2,3\n", kPath, target("0"));
  EXPECT_EQ(first.target_name, "a");
  EXPECT_EQ(first.y, (std::vector<double>{1}));
}

TEST(CsvParse, TargetByNegativeIndexCountsFromTheEnd) {
  const CsvDataset last = parse_csv("a,b,c\n1,2,3\n", kPath, target("-1"));
  EXPECT_EQ(last.target_name, "c");
  EXPECT_EQ(last.y, (std::vector<double>{3}));
  EXPECT_EQ(last.X, (std::vector<double>{1, 2}));

  const CsvDataset first = parse_csv("a,b,c\n1,2,3\n", kPath, target("-3"));
  EXPECT_EQ(first.target_name, "a");
  EXPECT_EQ(first.feature_names, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(first.y, (std::vector<double>{1}));
  EXPECT_EQ(first.X, (std::vector<double>{2, 3}));
}

TEST(CsvParse, TargetIndexWithoutHeader) {
  CsvOptions opt = target("0");
  opt.header = false;
  const CsvDataset ds = parse_csv("1,2,3\n4,5,6\n", kPath, opt);
  EXPECT_EQ(ds.target_name, "y");
  EXPECT_EQ(ds.cols, 2);
  EXPECT_EQ(ds.X, (std::vector<double>{2, 3, 5, 6}));
  EXPECT_EQ(ds.y, (std::vector<double>{1, 4}));
}

TEST(CsvParse, TargetNameIsTriedBeforeIndex) {
  // A header literally named "0" in column 1: the name wins over index 0.
  const CsvDataset ds = parse_csv("a,0,b\n1,2,3\n", kPath, target("0"));
  EXPECT_EQ(ds.target_name, "0");
  EXPECT_EQ(ds.y, (std::vector<double>{2}));
  EXPECT_EQ(ds.X, (std::vector<double>{1, 3}));
}

TEST(CsvParse, DefaultTargetIsTheLastColumn) {
  const CsvDataset ds = parse_csv("p,q,r,s\n1,2,3,4\n", kPath);
  EXPECT_EQ(ds.target_name, "s");
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"p", "q", "r"}));
  EXPECT_EQ(ds.X, (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(ds.y, (std::vector<double>{4}));
}

TEST(CsvParse, OtherDelimiter) {
  CsvOptions opt;
  opt.delimiter = ';';
  const CsvDataset ds = parse_csv("x;y\n1.5;2\n", kPath, opt);
  EXPECT_EQ(ds.X, (std::vector<double>{1.5}));
  EXPECT_EQ(ds.y, (std::vector<double>{2}));
}

// --- refused input ---------------------------------------------------------------------------

TEST(CsvParse, EmptyFileIsRefused) {
  EXPECT_TRUE(contains(parse_error(""), kPath));
  EXPECT_TRUE(contains(parse_error(""), "empty"));
  EXPECT_TRUE(contains(parse_error("\n \n\r\n\t\n"), "empty"));
  EXPECT_TRUE(contains(parse_error("\xEF\xBB\xBF"), "empty"));
}

TEST(CsvParse, HeaderWithoutDataRowsIsRefused) {
  const std::string msg = parse_error("x,y\n\n");
  EXPECT_TRUE(contains(msg, kPath));
  EXPECT_TRUE(contains(msg, "no data"));
}

TEST(CsvParse, SingleColumnIsRefused) {
  const std::string msg = parse_error("y\n1\n2\n");
  EXPECT_TRUE(contains(msg, kPath));
  EXPECT_TRUE(contains(msg, "two columns"));

  CsvOptions opt;
  opt.header = false;
  EXPECT_TRUE(contains(parse_error("1\n2\n", opt), "two columns"));
}

TEST(CsvParse, RaggedRowNamesTheLine) {
  // Line numbers are physical lines of the file: the skipped blank line still counts.
  const std::string short_row = parse_error("a,b,c\n1,2,3\n\n4,5\n");
  EXPECT_TRUE(names_line(short_row, 4));
  EXPECT_TRUE(contains(short_row, "ragged"));

  const std::string long_row = parse_error("a,b\r\n1,2\r\n3,4,5\r\n");
  EXPECT_TRUE(names_line(long_row, 3));

  const std::string trailing_comma = parse_error("a,b\n1,2,\n");
  EXPECT_TRUE(names_line(trailing_comma, 2));
}

TEST(CsvParse, NonNumericCellNamesLineColumnAndHeader) {
  const std::string msg = parse_error("height,weight,y\n1,2,3\n4,abc,6\n");
  EXPECT_TRUE(names_line(msg, 3));
  EXPECT_TRUE(contains(msg, "column 2"));
  EXPECT_TRUE(contains(msg, "weight"));
  EXPECT_TRUE(contains(msg, "abc"));
}

TEST(CsvParse, PartlyNumericCellsAreRefused) {
  EXPECT_TRUE(contains(parse_error("x,y\n1,2abc\n"), "column 2"));
  EXPECT_TRUE(contains(parse_error("x,y\n1 2,3\n"), "column 1"));
  EXPECT_TRUE(contains(parse_error("x,y\n0x10,3\n"), "column 1"));
  EXPECT_TRUE(contains(parse_error("x,y\n1,+\n"), "column 2"));
  EXPECT_TRUE(contains(parse_error("x,y\n1,++1\n"), "column 2"));
}

TEST(CsvParse, PlusFollowedByMinusIsRefused) {
  // "+-1" is not a number; stripping the '+' must not let from_chars read "-1".
  const std::string msg = parse_error("x,y\n1,+-1\n");
  EXPECT_TRUE(names_line(msg, 2));
  EXPECT_TRUE(contains(msg, "column 2"));
}

TEST(CsvParse, EmptyCellIsRefused) {
  const std::string msg = parse_error("a,b,y\n1,2,3\n1,,3\n");
  EXPECT_TRUE(names_line(msg, 3));
  EXPECT_TRUE(contains(msg, "column 2"));
  EXPECT_TRUE(contains(msg, "empty"));
  EXPECT_TRUE(contains(parse_error("a,b\n1,  \n"), "column 2"));
}

TEST(CsvParse, NonFiniteValuesAreRefused) {
  for (const std::string cell : {"nan", "NaN", "inf", "-inf", "+inf", "infinity"}) {
    SCOPED_TRACE(cell);
    const std::string msg = parse_error("x,y\n1,2\n" + cell + ",3\n");
    EXPECT_TRUE(names_line(msg, 3));
    EXPECT_TRUE(contains(msg, "column 1"));
    EXPECT_TRUE(contains(msg, "x"));
    EXPECT_TRUE(contains(msg, "finite"));
  }
}

TEST(CsvParse, OverflowIsRefused) {
  for (const std::string cell : {"1e400", "-1e400", "1.8e308"}) {
    SCOPED_TRACE(cell);
    const std::string msg = parse_error("x,y\n1," + cell + "\n");
    EXPECT_TRUE(names_line(msg, 2));
    EXPECT_TRUE(contains(msg, "column 2"));
    EXPECT_TRUE(contains(msg, cell));
  }
}

TEST(CsvParse, UnderflowRoundsToZeroLikeAnyCorrectParser) {
  // Below the smallest subnormal the nearest double is 0 (or -0): not an error.
  const CsvDataset ds = parse_csv("x,y\n1e-400,-1e-400\n2,3\n", kPath);
  EXPECT_EQ(ds.X[0], 0.0);
  EXPECT_EQ(ds.y[0], 0.0);
  EXPECT_TRUE(std::signbit(ds.y[0]));
}

TEST(CsvParse, UnknownTargetNameListsTheColumns) {
  const std::string msg = parse_error("alpha,beta,gamma\n1,2,3\n", target("delta"));
  EXPECT_TRUE(contains(msg, kPath));
  EXPECT_TRUE(contains(msg, "delta"));
  EXPECT_TRUE(contains(msg, "alpha"));
  EXPECT_TRUE(contains(msg, "beta"));
  EXPECT_TRUE(contains(msg, "gamma"));
}

TEST(CsvParse, OutOfRangeTargetIndexIsRefused) {
  for (const std::string t : {"3", "-4", "100"}) {
    SCOPED_TRACE(t);
    const std::string msg = parse_error("a,b,c\n1,2,3\n", target(t));
    EXPECT_TRUE(contains(msg, kPath));
    EXPECT_TRUE(contains(msg, t));
    EXPECT_TRUE(contains(msg, "range"));
  }
}

// --- read_csv: files on disk -----------------------------------------------------------------

class CsvFile : public test_support::TempDirTest {
 protected:
  std::string write(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out << content;
    return path;
  }
};

TEST_F(CsvFile, ReadsAFile) {
  const std::string path = write("small.csv", "u,v\r\n1.5,-2\r\n");
  const CsvDataset ds = read_csv(path);
  EXPECT_EQ(ds.path, path);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"u"}));
  EXPECT_EQ(ds.target_name, "v");
  EXPECT_EQ(ds.X, (std::vector<double>{1.5}));
  EXPECT_EQ(ds.y, (std::vector<double>{-2}));
}

TEST_F(CsvFile, MessagesFromReadCsvNameThePath) {
  const std::string path = write("bad.csv", "a,b\n1,2\n3,oops\n");
  const std::string msg = error_of([&] { read_csv(path); });
  EXPECT_TRUE(contains(msg, path + ":3"));
  EXPECT_TRUE(contains(msg, "column 2"));
  EXPECT_TRUE(contains(msg, "oops"));
}

TEST_F(CsvFile, MissingFileIsRefusedNamingThePath) {
  const std::string path = dir_ + "/no-such-file.csv";
  const std::string msg = error_of([&] { read_csv(path); });
  EXPECT_TRUE(contains(msg, path));
}

TEST_F(CsvFile, DirectoryIsRefused) {
  const std::string msg = error_of([&] { read_csv(dir_); });
  EXPECT_TRUE(contains(msg, dir_));
  EXPECT_TRUE(contains(msg, "directory"));
}

TEST_F(CsvFile, EmptyFileIsRefused) {
  const std::string path = write("empty.csv", "");
  const std::string msg = error_of([&] { read_csv(path); });
  EXPECT_TRUE(contains(msg, path));
  EXPECT_TRUE(contains(msg, "empty"));
}

TEST(CsvNist, NorrisHas36RowsAndOneFeature) {
  const std::string path = test_source_dir() + "/data/nist-strd/Norris.csv";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  const CsvDataset ds = read_csv(path);
  EXPECT_EQ(ds.rows, 36);
  EXPECT_EQ(ds.cols, 1);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"x"}));
  EXPECT_EQ(ds.target_name, "y");
  ASSERT_EQ(ds.X.size(), 36u);
  ASSERT_EQ(ds.y.size(), 36u);
  EXPECT_EQ(ds.X[0], 0.2);
  EXPECT_EQ(ds.y[0], 0.1);
  EXPECT_EQ(ds.X[1], 337.4);
  EXPECT_EQ(ds.y[1], 338.8);
  EXPECT_EQ(ds.X[3], 884.6);
  EXPECT_EQ(ds.y[3], 888.0);
}

}  // namespace

// --- header detection, quotes, column selection, float32, parallel parse -----------------

namespace {

TEST(CsvParse, HeaderIsDetectedWhenNotForced) {
  const CsvDataset numeric = parse_csv("1,2\n3,4\n", kPath);
  EXPECT_EQ(numeric.rows, 2) << "an all-numeric first line is data";
  EXPECT_EQ(numeric.feature_names, (std::vector<std::string>{"x1"}));
  const CsvDataset named = parse_csv("a,1\n3,4\n", kPath);
  EXPECT_EQ(named.rows, 1) << "any non-number makes the first line a header";
  EXPECT_EQ(named.target_name, "1");
  CsvOptions forced;
  forced.header = true;
  const CsvDataset numeric_header = parse_csv("1,2\n3,4\n", kPath, forced);
  EXPECT_EQ(numeric_header.rows, 1);
  EXPECT_EQ(numeric_header.feature_names, (std::vector<std::string>{"1"}));
}

TEST(CsvParse, QuotedCells) {
  const CsvDataset ds = parse_csv("\"a, b\",\"say \"\"y\"\"\"\n\"1.5\", 2\n \" 3 \" ,\"-4e1\"\n", kPath);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"a, b"}));
  EXPECT_EQ(ds.target_name, "say \"y\"");
  EXPECT_EQ(ds.X, (std::vector<double>{1.5, 3.0}));
  EXPECT_EQ(ds.y, (std::vector<double>{2.0, -40.0}));
}

TEST(CsvParse, BadQuotesNameTheLine) {
  std::string msg = parse_error("x,y\n\"1,2\n");
  EXPECT_TRUE(names_line(msg, 2));
  EXPECT_TRUE(contains(msg, "unterminated quote"));
  msg = parse_error("x,y\n\"1\"z,2\n");
  EXPECT_TRUE(names_line(msg, 2));
  EXPECT_TRUE(contains(msg, "after a quoted cell"));
}

TEST(CsvParse, FeatureSelectionByNameAndIndexInTheGivenOrder) {
  CsvOptions opt;
  opt.features = {"c", "0"};
  opt.target = "y";
  const CsvDataset ds = parse_csv("a,b,c,y\n1,2,3,4\n5,6,7,8\n", kPath, opt);
  EXPECT_EQ(ds.cols, 2);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(ds.X, (std::vector<double>{3, 1, 7, 5}));
  EXPECT_EQ(ds.y, (std::vector<double>{4, 8}));
}

TEST(CsvParse, BadFeatureSelectionsAreRefused) {
  CsvOptions opt;
  opt.features = {"nosuch"};
  EXPECT_TRUE(contains(parse_error("a,b,y\n1,2,3\n", opt), "unknown feature column 'nosuch'"));
  opt.features = {"a", "a"};
  EXPECT_TRUE(contains(parse_error("a,b,y\n1,2,3\n", opt), "listed twice"));
  opt.features = {"y"};
  EXPECT_TRUE(contains(parse_error("a,b,y\n1,2,3\n", opt), "is the target"));
  opt.features = {"7"};
  EXPECT_TRUE(contains(parse_error("a,b,y\n1,2,3\n", opt), "out of range"));
}

TEST(CsvParse, SkippedColumnsAreStillChecked) {
  CsvOptions opt;
  opt.features = {"a"};
  const std::string msg = parse_error("a,b,y\n1,oops,3\n", opt);
  EXPECT_TRUE(contains(msg, "column 2 (b)"));
}

TEST(CsvParse, Float32StorageHalvesTheMemoryAndRefusesOverflow) {
  CsvOptions opt;
  opt.dtype = steepest::DType::float32;
  const CsvDataset ds = parse_csv("x,y\n0.1,2\n3e38,-1\n", kPath, opt);
  EXPECT_EQ(ds.dtype, steepest::DType::float32);
  EXPECT_TRUE(ds.X.empty());
  EXPECT_EQ(ds.X32, (std::vector<float>{0.1f, 3e38f}));
  EXPECT_EQ(ds.y32, (std::vector<float>{2.0f, -1.0f}));
  EXPECT_EQ(ds.x_view().dtype, steepest::DType::float32);
  const std::string msg = parse_error("x,y\n1,2\n4e38,1\n", opt);
  EXPECT_TRUE(names_line(msg, 3));
  EXPECT_TRUE(contains(msg, "column 1"));
  EXPECT_TRUE(contains(msg, "float32"));
}

TEST(CsvParse, ParallelParseEqualsSerialAndReportsTheFirstErrorInFileOrder) {
  std::string text = "a,b,y\n";
  for (int i = 0; i < 5000; ++i) {
    text += std::to_string(i) + "," + std::to_string(i * 0.25) + "," + std::to_string(-i) + "\n";
    if (i % 777 == 0) text += "\n";  // blank lines shift physical line numbers
  }
  CsvOptions one, many;
  one.threads = 1;
  many.threads = 7;
  const CsvDataset a = parse_csv(text, kPath, one), b = parse_csv(text, kPath, many);
  EXPECT_EQ(a.rows, 5000);
  EXPECT_EQ(a.X, b.X);
  EXPECT_EQ(a.y, b.y);
  // Errors near the end and in the middle: the middle one (first in the file) is reported.
  std::string bad = text;
  bad.replace(bad.rfind("4999,"), 4, "49x9");
  const std::size_t mid = bad.find("\n2500,") + 1;
  bad.replace(mid, 4, "25z0");
  const std::int64_t mid_line = 1 + std::count(bad.begin(), bad.begin() + static_cast<std::ptrdiff_t>(mid), '\n');
  const std::string msg = parse_error(bad, many);
  EXPECT_TRUE(names_line(msg, mid_line)) << msg;
  EXPECT_TRUE(contains(msg, "25z0"));
}

}  // namespace

namespace {

TEST(CsvParse, UnterminatedQuoteBeyondTheLastColumnIsAnErrorNotACrash) {
  // Found by fuzz_csv (tests/fuzz/regressions/csv/crash-4f16dce9...): the message code
  // looked up the name of a column past the header's last one.
  const std::string msg = parse_error("a,b\n1,2,\"3\n");
  EXPECT_TRUE(names_line(msg, 2));
  EXPECT_TRUE(contains(msg, "column 3"));
  EXPECT_TRUE(contains(msg, "unterminated quote"));
}

}  // namespace

// --- issue 11: header detection, duplicate names, echoed cells ------------------------------

namespace {

/// The message for \p text with "data.csv:L:" made "data.csv:#:", to compare two messages
/// that differ only in the line they name.
std::string without_line(std::string msg, int line) {
  const std::string at = kPath + ":" + std::to_string(line) + ":";
  const auto p = msg.find(at);
  if (p != std::string::npos) msg.replace(p, at.size(), kPath + ":#:");
  return msg;
}

TEST(CsvParse, AFirstRowOfNumberLikeCellsIsDataAndRefusedAsOnLineTwo) {
  // nan, inf, an overflow or an empty cell is no column name: the row is data, and the
  // cell is refused with the very message it gets on line 2.
  for (const std::string cell : {"nan", "inf", "-Infinity", "1e999", "", "NaN"}) {
    SCOPED_TRACE("cell '" + cell + "'");
    const std::string first = parse_error(cell + ",1\n2,3\n4,5\n");
    const std::string second = parse_error("2,3\n" + cell + ",1\n4,5\n");
    EXPECT_TRUE(names_line(first, 1)) << first;
    EXPECT_TRUE(names_line(second, 2)) << second;
    EXPECT_EQ(without_line(first, 1), without_line(second, 2));
  }
  // One word among them still makes a header.
  const CsvDataset ds = parse_csv("nan,y\n1,2\n", kPath);
  EXPECT_EQ(ds.rows, 1);
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"nan"}));
}

TEST(CsvParse, DuplicateNamesOfUsedColumnsAreRefusedNamingThem) {
  std::string msg = parse_error("a,a,y\n1,2,3\n");
  EXPECT_TRUE(contains(msg, "'a'")) << msg;
  EXPECT_TRUE(contains(msg, "columns 1 and 2")) << msg;
  CsvOptions opt;
  opt.target = "y";
  msg = parse_error("y,a,y\n1,2,3\n", opt);
  EXPECT_TRUE(contains(msg, "'y'")) << msg;
  // A duplicate that is not used (not a feature, target or weight) is harmless.
  opt.features = {"a"};
  const CsvDataset ds = parse_csv("a,b,b,y\n1,2,3,4\n", kPath, opt);
  EXPECT_EQ(ds.X, (std::vector<double>{1}));
  EXPECT_EQ(ds.y, (std::vector<double>{4}));
}

TEST(CsvParse, EchoedCellsAreTruncatedAndEscaped) {
  const std::string huge(100000, '7');
  std::string msg = parse_error("x,y\n1," + huge + "x\n");
  EXPECT_TRUE(names_line(msg, 2));
  EXPECT_LT(msg.size(), 300u) << msg.substr(0, 300);
  EXPECT_TRUE(contains(msg, "..."));
  msg = parse_error("x,y\n1,\x1b[2Jgone\n");
  EXPECT_EQ(msg.find('\x1b'), std::string::npos) << msg;
  EXPECT_TRUE(contains(msg, "\\x1b[2Jgone"));
  msg = parse_error(std::string("x,y\n1,a\0b\n", 10));
  EXPECT_TRUE(contains(msg, "a\\x00b")) << msg;
  // Header names in messages too: the unknown-column list and the cell's column name.
  CsvOptions opt;
  opt.target = "nosuch";
  msg = parse_error("\x1b]0;title\x07,y\n1,2\n", opt);
  EXPECT_EQ(msg.find('\x1b'), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\x07'), std::string::npos) << msg;
  msg = parse_error("\x9b" "31m,y\nq,2\n");
  EXPECT_EQ(msg.find('\x9b'), std::string::npos) << msg;
  EXPECT_TRUE(contains(msg, "\\x9b31m")) << msg;
  // Valid UTF-8 names are shown as they are.
  msg = parse_error("température,y\nq,2\n");
  EXPECT_TRUE(contains(msg, "température")) << msg;
}

}  // namespace

// --- column layout and columns by index (what a model records) -----------------------------

namespace {

TEST(CsvParse, TheLayoutRecordsWhereTheColumnsSat) {
  CsvOptions opt;
  opt.target = "y";
  opt.weight = "w";
  const CsvDataset ds = parse_csv("a,y,w,b\n1,2,3,4\n", kPath, opt);
  EXPECT_TRUE(ds.layout.header);
  EXPECT_EQ(ds.layout.width, 4);
  EXPECT_EQ(ds.layout.target, 1);
  EXPECT_EQ(ds.layout.features, (std::vector<std::int64_t>{0, 3}));
  const CsvDataset bare = parse_csv("5,6,7\n", kPath, target("0"));
  EXPECT_FALSE(bare.layout.header);
  EXPECT_EQ(bare.layout.target, 0);
  EXPECT_EQ(bare.layout.features, (std::vector<std::int64_t>{1, 2}));
}

TEST(CsvParse, ColumnsByIndexNeverMatchANameThatLooksLikeAnIndex) {
  CsvOptions opt;
  opt.header = true;
  opt.feature_columns = {0};
  opt.target_column = 2;
  const CsvDataset ds = parse_csv("1,0,y\n10,20,30\n", kPath, opt);
  EXPECT_EQ(ds.X, (std::vector<double>{10}));
  EXPECT_EQ(ds.y, (std::vector<double>{30}));
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"1"}));
  opt.feature_columns = {0, 3};
  EXPECT_TRUE(contains(parse_error("1,0,y\n10,20,30\n", opt), "feature column index 3 is out of range"));
  opt.feature_columns = {2};
  EXPECT_TRUE(contains(parse_error("1,0,y\n10,20,30\n", opt), "is the target"));
  opt.feature_columns = {1, 1};
  EXPECT_TRUE(contains(parse_error("1,0,y\n10,20,30\n", opt), "listed twice"));
}

TEST(CsvParse, TheHeadIsWhatTheParserSees) {
  const auto head = steepest::io::parse_csv_head("\xEF\xBB\xBF\n\n\"a, b\", c ,y\r\n1,2,3\n", kPath);
  EXPECT_TRUE(head.header);
  EXPECT_EQ(head.cells, (std::vector<std::string>{"a, b", "c", "y"}));
  EXPECT_FALSE(steepest::io::parse_csv_head("nan,1\n", kPath).header);
  EXPECT_TRUE(contains(error_of([] { steepest::io::parse_csv_head(" \n\n", kPath); }), "empty"));
}

TEST(Text, PrintableEscapesControlsAndInvalidUtf8AndCuts) {
  using steepest::io::printable;
  using steepest::io::quoted;
  EXPECT_EQ(printable("plain text"), "plain text");
  EXPECT_EQ(printable(std::string("a\0b\x1b\x7f", 5)), "a\\x00b\\x1b\\x7f");
  EXPECT_EQ(printable("back\\slash"), "back\\\\slash");
  EXPECT_EQ(quoted("it's"), "'it\\'s'");
  EXPECT_EQ(printable("caf\xe9"), "caf\\xe9");                // Latin-1, not UTF-8
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");         // UTF-8 é as it is
  EXPECT_EQ(printable("\xc2\x9b" "1m"), "\\xc2\\x9b1m");      // C1 control CSI
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");    // a surrogate
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");             // overlong '/'
  EXPECT_EQ(printable(std::string(50, 'x')), std::string(40, 'x') + "...");
  EXPECT_EQ(printable(std::string(39, 'x') + "\xc3\xa9"), std::string(39, 'x') + "...");  // no half character
  EXPECT_EQ(printable("abc", 3), "abc");
}

TEST(Text, Utf8SafeKeepsValidTextAndSpellsOutOtherBytes) {
  using steepest::io::utf8_safe;
  EXPECT_EQ(utf8_safe("température"), "température");
  EXPECT_EQ(utf8_safe("caf\xe9"), "caf\\xe9");
  EXPECT_EQ(utf8_safe(std::string("a\0b", 3)), std::string("a\0b", 3));  // JSON escapes it
  EXPECT_EQ(utf8_safe(utf8_safe("\xff\xfe")), utf8_safe("\xff\xfe"));     // idempotent
  EXPECT_EQ(utf8_safe("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");       // beyond U+10FFFF
}

}  // namespace
