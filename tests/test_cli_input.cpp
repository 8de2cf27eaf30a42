// End-to-end tests of the steepest command-line tool (see cli_support.hpp): what the CLI
// reads, and how predict and evaluate find the model's columns in the data they are given.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <utility>

#include "cli_support.hpp"

namespace {

using namespace cli_test;
namespace fs = std::filesystem;

/// A float64 C-order .npy image of \p rows (all of one length), laid out as NumPy does.
std::string npy_image(const std::vector<std::vector<double>>& rows) {
  const std::string shape = "(" + std::to_string(rows.size()) + ", " + std::to_string(rows[0].size()) + ")";
  std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((unpadded + 63) / 64 * 64 - unpadded, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>(dict.size() >> 8);
  out += dict;
  for (const auto& row : rows)
    for (const double v : row) {
      char b[sizeof v];
      std::memcpy(b, &v, sizeof v);
      out.append(b, sizeof v);
    }
  return out;
}

/// Rows (y, a, b) with y = 3 + 2 a - b + e, the target first.  The small residuals e keep
/// the optimum's MSE (~1e-3) far above rounding, so that a fit's and an evaluation's MSE
/// can be compared to 10 digits.
std::vector<std::vector<double>> target_first_rows() {
  std::vector<std::vector<double>> rows;
  const double e[] = {0.1, -0.1, 0.05, -0.05, 0.1, -0.1, 0.02, -0.02, 0.0, 0.03};
  int i = 0;
  for (const auto& [a, b] : std::vector<std::pair<double, double>>{
           {0, 0}, {1, 0}, {0, 1}, {1, 1}, {2, 1}, {1, 2}, {3, 0}, {0, 3}, {2, 2}, {-1, 1}})
    rows.push_back({3 + 2 * a - b + e[i++], a, b});
  return rows;
}

std::string csv_text(const std::vector<std::vector<double>>& rows, const std::string& header = {}) {
  std::string text = header.empty() ? "" : header + "\n";
  for (const auto& row : rows) {
    for (std::size_t k = 0; k < row.size(); ++k) {
      std::ostringstream cell;
      cell << row[k];
      text += (k ? "," : "") + cell.str();
    }
    text += '\n';
  }
  return text;
}

class CliInput : public Cli {
 protected:
  /// Fits \p data (plus \p extra options) to convergence into out_/m.json; returns its path.
  std::string fit(const std::string& data, std::vector<std::string> extra = {}) const {
    const std::string model = out_ + "/m.json";
    std::vector<std::string> args = {"fit", data, "--lr", "auto", "--epochs", "5000", "--tol", "0", "-q", "-o", model};
    args.insert(args.end(), extra.begin(), extra.end());
    const Result r = run(args);
    EXPECT_EQ(r.code, 0) << r;
    return model;
  }

  /// evaluate's MSE and R^2 for \p args; fails the test unless it exits 0.
  std::pair<double, double> evaluate(const std::vector<std::string>& args) const {
    std::vector<std::string> all = {"evaluate"};
    all.insert(all.end(), args.begin(), args.end());
    const Result r = run(all);
    EXPECT_EQ(r.code, 0) << r;
    const auto mse = r.out.find("mse   "), r2 = r.out.find("r2    ");
    if (mse == std::string::npos || r2 == std::string::npos) {
      ADD_FAILURE() << r;
      return {-1.0, -1.0};
    }
    return {std::strtod(r.out.c_str() + mse + 6, nullptr), std::strtod(r.out.c_str() + r2 + 6, nullptr)};
  }

  /// The fit's final MSE, as model.json records it.
  static double final_mse(const std::string& model) {
    bool found = false;
    const double v = json_number(read_all(model), "final_mse", &found);
    EXPECT_TRUE(found);
    return v;
  }

  /// evaluate on the fitted file gives back the fit's MSE (to evaluate's 10 printed digits).
  void expect_same_as_fit(const std::string& model, const std::vector<std::string>& args) const {
    const auto [mse, r2] = evaluate(args);
    const double fitted = final_mse(model);
    EXPECT_NEAR(mse, fitted, 1e-9 * fitted + 1e-300) << "fit " << fitted << ", evaluate " << mse;
    EXPECT_GT(r2, 0.99);
  }
};

// --- item 3: predict and evaluate read the columns the model was fitted on ------------------

TEST_F(CliInput, TargetZeroOnHeaderlessCsvIsReadBackByIndex) {
  const std::string data = csv("d.csv", csv_text(target_first_rows()));
  const std::string model = fit(data, {"--target", "0"});
  expect_same_as_fit(model, {model, data});
  // predict: the same file (the target column is skipped), and a file of only the features.
  Result r = run({"predict", model, data});
  ASSERT_EQ(r.code, 0) << r;
  const std::string from_full = r.out;
  std::vector<std::vector<double>> features;
  for (const auto& row : target_first_rows()) features.push_back({row[1], row[2]});
  r = run({"predict", model, csv("x.csv", csv_text(features))});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, from_full);
  // The first prediction is near 3 + 2*0 - 0 (the residuals e move the optimum by < 0.1).
  EXPECT_NEAR(std::strtod(from_full.c_str() + std::strlen("prediction\n"), nullptr), 3.0, 0.1) << from_full;
}

TEST_F(CliInput, TargetZeroOnNpyIsReadBackByIndex) {
  const std::string data = csv("d.npy", npy_image(target_first_rows()));
  const std::string model = fit(data, {"--target", "0"});
  expect_same_as_fit(model, {model, data});
  // The model fitted on .npy reads the same columns from the same numbers as CSV.
  expect_same_as_fit(model, {model, csv("d.csv", csv_text(target_first_rows()))});
}

TEST_F(CliInput, AMiddleTargetIsSkippedInHeaderlessDataForAModelFittedWithAHeader) {
  std::vector<std::vector<double>> rows;  // (a, y, b)
  for (const auto& r : target_first_rows()) rows.push_back({r[1], r[0], r[2]});
  const std::string named = csv("named.csv", csv_text(rows, "a,y,b"));
  const std::string model = fit(named, {"--target", "y"});
  expect_same_as_fit(model, {model, named});
  expect_same_as_fit(model, {model, csv("bare.csv", csv_text(rows))});
  expect_same_as_fit(model, {model, csv("bare.npy", npy_image(rows))});
}

TEST_F(CliInput, ColumnsInAnotherOrderAreMatchedByName) {
  const std::string data = csv("d.csv", csv_text(target_first_rows(), "y,a,b"));
  const std::string model = fit(data, {"--target", "y"});
  std::vector<std::vector<double>> shuffled;  // (b, y, a)
  for (const auto& r : target_first_rows()) shuffled.push_back({r[2], r[0], r[1]});
  expect_same_as_fit(model, {model, csv("s.csv", csv_text(shuffled, "b,y,a"))});
}

TEST_F(CliInput, AHeaderWithoutAModelColumnIsRefusedNamingIt) {
  const std::string model = fit(csv("d.csv", csv_text(target_first_rows(), "y,a,b")), {"--target", "y"});
  const std::string renamed = csv("r.csv", csv_text(target_first_rows(), "y,a,beta"));
  for (const char* cmd : {"predict", "evaluate"}) {
    SCOPED_TRACE(cmd);
    const Result r = run({cmd, model, renamed});
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_TRUE(contains(r.err, "'b'")) << r;
    EXPECT_TRUE(contains(r.err, "r.csv")) << r;
  }
  // The target too, for evaluate (predict does not need it).
  const std::string no_target = csv("t.csv", csv_text(target_first_rows(), "z,a,b"));
  Result r = run({"evaluate", model, no_target});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "'y'")) << r;
  r = run({"predict", model, no_target});
  EXPECT_EQ(r.code, 0) << r;
  // An explicit --target overrides the model's name; --features too (their count is checked).
  expect_same_as_fit(model, {model, no_target, "--target", "z"});
  expect_same_as_fit(model, {model, renamed, "--features", "a,beta"});
  r = run({"evaluate", model, renamed, "--features", "a"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "2 features")) << r;
}

TEST_F(CliInput, HeaderlessDataTooNarrowForTheModelIsRefused) {
  const std::string model = fit(csv("d.csv", csv_text(target_first_rows())), {"--target", "0"});
  // Two columns: the features alone suit predict, but evaluate needs column 0 as the target
  // and columns 1 and 2 as features.
  const std::string two = csv("two.csv", "1,2\n3,4\n");
  const Result r = run({"evaluate", model, two});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "2 columns")) << r;
  const Result one = run({"predict", model, csv("one.csv", "1\n2\n")});
  EXPECT_EQ(one.code, 2) << one;
}

TEST_F(CliInput, EditedColumnRecordsAreRefusedCleanly) {
  const std::string model = fit(csv("d.csv", csv_text(target_first_rows())), {"--target", "0"});
  const std::string text = read_all(model);
  const auto at = text.find("\"columns\"");
  ASSERT_NE(at, std::string::npos) << text;
  const auto end = text.find('}', at);
  const std::string data = dir_ + "/d.csv";
  for (const std::string bad :
       {"\"columns\": 7", "\"columns\": {\"header\": false, \"width\": 3, \"target\": 0, \"features\": [1]}",
        "\"columns\": {\"header\": false, \"width\": 3, \"target\": 0, \"features\": [1, 9]}",
        "\"columns\": {\"header\": false, \"width\": 3, \"target\": 0, \"features\": [1, -1]}",
        "\"columns\": {\"header\": false, \"width\": 3, \"target\": 1, \"features\": [1, 2]}",
        "\"columns\": {\"header\": \"no\", \"width\": 3, \"target\": 0, \"features\": [1, 2]}",
        "\"columns\": {\"header\": false, \"width\": 1e30, \"target\": 0, \"features\": [1, 2]}",
        "\"columns\": {\"header\": false, \"width\": 3, \"target\": 0.5, \"features\": [1, 2]}"}) {
    SCOPED_TRACE(bad);
    write_all(model, text.substr(0, at) + bad + text.substr(end + 1));
    const Result r = run({"evaluate", model, data});
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_TRUE(contains(r.err, "columns")) << r;
  }
}

TEST_F(CliInput, EditedModelFieldsOfTheWrongTypeAreRefused) {
  const std::string data = tutorial();
  for (const std::string body :
       {"\"weights\": [2], \"bias\": 1e999", "\"weights\": [1e999], \"bias\": 1",
        "\"weights\": [2], \"bias\": 1, \"feature_names\": 5",
        "\"weights\": [2], \"bias\": 1, \"feature_names\": [1]",
        "\"weights\": [2], \"bias\": 1, \"target\": [\"y\"]"}) {
    SCOPED_TRACE(body);
    write_all(out_ + "/m.json", "{\"format\": \"steepest-model\", " + body + "}");
    const Result r = run({"evaluate", out_ + "/m.json", data});
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_FALSE(r.err.empty()) << r;
  }
  // A model file of an older version (no column record) is read as before.
  write_all(out_ + "/m.json", "{\"format\": \"steepest-model\", \"weights\": [2], \"bias\": 1}");
  EXPECT_EQ(run({"evaluate", out_ + "/m.json", data}).code, 0);
}

// --- item 7: header detection and duplicate names -----------------------------------------

TEST_F(CliInput, AFirstRowWithNanIsDataNotAHeader) {
  for (const std::string cell : {"nan", "inf", "1e999", ""}) {
    SCOPED_TRACE("cell '" + cell + "'");
    const std::string data = csv("d.csv", cell + ",1\n2,5\n3,7\n");
    const Result r = expect_bad_input({"fit", data});
    EXPECT_TRUE(names_line(r.err, data, 1)) << r;
  }
}

TEST_F(CliInput, DuplicateHeaderNamesAreRefusedNamingThem) {
  const std::string data = csv("d.csv", "a,a,y\n1,2,3\n2,1,4\n4,4,1\n");
  const Result r = expect_bad_input({"fit", data});
  EXPECT_TRUE(contains(r.err, "'a'")) << r;
}

// --- messages and file types ---------------------------------------------------------------

TEST_F(CliInput, UpperCaseNpyIsReadAsNpy) {
  const std::string data = csv("D.NPY", npy_image(target_first_rows()));
  const std::string model = fit(data, {"--target", "0"});
  expect_same_as_fit(model, {model, data});
  // --weight-file too: ten weights of 1 change nothing.
  std::string w = npy_image({{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}});
  const Result r = run({"fit", data, "--target", "0", "--weight-file", csv("W.NPY", w), "--epochs", "3", "-q"});
  EXPECT_EQ(r.code, 0) << r;
  // And a CSV named .npy is read as CSV, not refused for its extension.
  const Result c = run({"fit", csv("text.npy", "x,y\n1,3\n2,5\n"), "--epochs", "3", "-q"});
  EXPECT_EQ(c.code, 0) << c;
}

TEST_F(CliInput, EchoedCellsAreTruncatedAndEscaped) {
  const std::string huge(1 << 20, '9');
  Result r = expect_bad_input({"fit", csv("big.csv", "x,y\n1,2\n3," + huge + "z\n")});
  EXPECT_LT(r.err.size(), 1000u) << r.err.substr(0, 1000);
  r = expect_bad_input({"fit", csv("esc.csv", "x,y\n1,2\n3,\x1b[31mred\n")});
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r;
  EXPECT_TRUE(contains(r.err, "\\x1b")) << r;
  r = expect_bad_input({"fit", csv("nul.csv", std::string("x,y\n1,2\n3,4\0tail\n", 17))});
  EXPECT_TRUE(contains(r.err, "4\\x00tail")) << r;
}

TEST_F(CliInput, ShuffleBlockBelowOneIsRefusedInPlainWords) {
  const std::string data = csv("sb.csv", "x,y\n1,2\n2,4\n3,6\n4,8\n");
  const Result r = expect_bad_input({"fit", data, "--batch-size", "2", "--shuffle-block", "0"});
  EXPECT_TRUE(contains(r.err, "--shuffle-block")) << r;
  EXPECT_LT(r.err.size(), 300u) << "no 300-digit range: " << r;
  EXPECT_EQ(run({"fit", data, "--batch-size", "2", "--shuffle-block", "2", "--epochs", "2", "-q"}).code, 0);
}

TEST_F(CliInput, ALatin1HeaderNameIsWrittenToTheModelAndMatchedAgain) {
  std::vector<std::vector<double>> rows;  // (caf\xe9, b, y)
  for (const auto& r : target_first_rows()) rows.push_back({r[1], r[2], r[0]});
  const std::string data = csv("latin1.csv", csv_text(rows, "caf\xe9,b,y"));
  const std::string model = fit(data);
  ASSERT_TRUE(fs::exists(model));
  const std::string json = read_all(model);
  EXPECT_TRUE(contains(json, "caf\\\\xe9")) << json.substr(0, 400);
  expect_same_as_fit(model, {model, data});
  // The name is matched, not the position: another order still works.
  std::vector<std::vector<double>> swapped;
  for (const auto& r : rows) swapped.push_back({r[2], r[1], r[0]});
  expect_same_as_fit(model, {model, csv("swapped.csv", csv_text(swapped, "y,b,caf\xe9"))});
}

}  // namespace

namespace {

TEST_F(CliInput, QuotedHeaderNamesWithABomAndCrlfAreMatchedByName) {
  std::string text = "\xEF\xBB\xBF\"a, first\",\"b\",y\r\n";
  for (const auto& r : target_first_rows()) {
    std::ostringstream line;
    line << r[1] << "," << r[2] << "," << r[0] << "\r\n";
    text += line.str();
  }
  const std::string data = csv("q.csv", text);
  const std::string model = fit(data);
  expect_same_as_fit(model, {model, data});
  std::string swapped = "y,b,\"a, first\"\n";
  for (const auto& r : target_first_rows()) {
    std::ostringstream line;
    line << r[0] << "," << r[2] << "," << r[1] << "\n";
    swapped += line.str();
  }
  expect_same_as_fit(model, {model, csv("s.csv", swapped)});
}

TEST_F(CliInput, AHeaderOfNumbersForcedAtFitTimeIsFoundAgain) {
  // Names that look like numbers: detection calls the line data, the model knows better.
  std::vector<std::vector<double>> rows;
  for (const auto& r : target_first_rows()) rows.push_back({r[1], r[2], r[0]});
  const std::string data = csv("n.csv", csv_text(rows, "10,20,30"));
  const std::string model = fit(data, {"--header"});
  expect_same_as_fit(model, {model, data});
  const Result r = run({"predict", model, data});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1 + static_cast<long>(rows.size())) << r;
}

}  // namespace
