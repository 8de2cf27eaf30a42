// The command-line test harness shared by the CLI test files: the built binary run with
// std::system, its stdout and stderr captured, a fresh directory per test.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "test_support.hpp"

#ifndef STEEPEST_CLI_PATH
#error "STEEPEST_CLI_PATH must name the built steepest binary"
#endif

namespace cli_test {

namespace fs = std::filesystem;

/// The folder of this source file, so tests/data is found without a macro.
inline std::string test_source_dir() {
  const std::string file = __FILE__;
  const auto slash = file.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : file.substr(0, slash);
}

inline std::string nist(const std::string& name) {
  return test_source_dir() + "/data/nist-strd/" + name + ".csv";
}

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_all(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

/// Single-quote \p s for /bin/sh.
inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

inline std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "exit " << r.code << "\n--- stdout ---\n" << r.out << "--- stderr ---\n" << r.err;
}

inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

/// \p msg names line \p line of \p file, as "file:N" or "line N".
inline ::testing::AssertionResult names_line(const std::string& msg, const std::string& file, int line) {
  const std::string n = std::to_string(line);
  const std::string compiler_style = file + ":" + n;
  const auto at = msg.find(compiler_style);
  if (at != std::string::npos) {
    const std::size_t after = at + compiler_style.size();
    if (after == msg.size() || msg[after] < '0' || msg[after] > '9')
      return ::testing::AssertionSuccess();
  }
  if (msg.find(file) != std::string::npos && msg.find("line " + n) != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << msg << "\" does not name " << file << " line "
                                       << n;
}

/// The number after the JSON key \p key ("key": value or "key": [value, ...]) in \p json.
inline double json_number(const std::string& json, const std::string& key, bool* found) {
  *found = false;
  const auto k = json.find("\"" + key + "\"");
  if (k == std::string::npos) return 0.0;
  std::size_t p = json.find(':', k);
  if (p == std::string::npos) return 0.0;
  ++p;
  while (p < json.size() && (json[p] == ' ' || json[p] == '\n' || json[p] == '[')) ++p;
  const char* begin = json.c_str() + p;
  char* end = nullptr;
  const double v = std::strtod(begin, &end);
  *found = end != begin;
  return v;
}

class Cli : public test_support::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    out_ = dir_ + "/out";
    fs::create_directory(out_);
  }

  /// The built binary with \p args; \p prefix (shell text such as "cd DIR && env K=V")
  /// comes before it.
  Result run(const std::vector<std::string>& args, const std::string& prefix = "") const {
    const std::string out = dir_ + "/stdout.txt";
    const std::string err = dir_ + "/stderr.txt";
    std::string cmd = prefix + (prefix.empty() ? "" : " ") + quote(STEEPEST_CLI_PATH);
    for (const auto& a : args) cmd += " " + quote(a);
    cmd += " </dev/null >" + quote(out) + " 2>" + quote(err);
    const int status = std::system(cmd.c_str());
    Result r;
    r.code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_all(out);
    r.err = read_all(err);
    return r;
  }

  /// A CSV file in the temporary directory.
  std::string csv(const std::string& name, const std::string& content) const {
    const std::string path = dir_ + "/" + name;
    write_all(path, content);
    return path;
  }

  /// The tutorial's two points (1,3) and (2,5).
  std::string tutorial() const { return csv("tutorial.csv", "x,y\n1,3\n2,5\n"); }

  std::set<std::string> out_entries() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(out_)) names.insert(e.path().filename().string());
    return names;
  }

  /// Runs a fit that must be refused as bad input (exit 2) before writing --output.
  Result expect_bad_input(std::vector<std::string> args) const {
    const std::string model = out_ + "/refused.json";
    args.push_back("--output");
    args.push_back(model);
    const Result r = run(args);
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_FALSE(r.err.empty()) << r;
    EXPECT_FALSE(fs::exists(model)) << r;
    return r;
  }

  std::string out_;
};

}  // namespace cli_test
