// Unit tests of the atomic writer: outputs appear whole or not at all, and check_writable
// refuses an output path before any work is done.
#include <gtest/gtest.h>

#include "test_support.hpp"
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>

#include "io/atomic_file.hpp"
#include "steepest/error.hpp"

namespace {

namespace fs = std::filesystem;
using steepest::InvalidArgument;
using steepest::io::check_writable;
using steepest::io::write_file_atomically;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// A fresh directory under /tmp per test, removed afterwards.
class AtomicFile : public test_support::TempDirTest {
 protected:
  /// Names of the entries of the temporary directory.
  std::set<std::string> entries() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.insert(e.path().filename().string());
    return names;
  }
};

bool has_temporary(const std::set<std::string>& names) {
  for (const auto& n : names)
    if (n.find(".tmp.") != std::string::npos) return true;
  return false;
}

/// The message of the InvalidArgument thrown by \p f (a failure when none is thrown).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-InvalidArgument exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

TEST_F(AtomicFile, WritesExactContent) {
  const std::string path = dir_ + "/model.json";
  std::string content = "{\n  \"a\": 1\r\n}\n";
  content.push_back('\0');
  content += "binary \xff\xfe tail without newline";
  write_file_atomically(path, content);
  EXPECT_EQ(read_all(path), content);
  EXPECT_EQ(fs::file_size(path), content.size());
  EXPECT_EQ(entries(), (std::set<std::string>{"model.json"}));
}

TEST_F(AtomicFile, WritesEmptyAndLargeContent) {
  const std::string empty = dir_ + "/empty.txt";
  write_file_atomically(empty, "");
  ASSERT_TRUE(fs::exists(empty));
  EXPECT_EQ(fs::file_size(empty), 0u);

  std::string big;
  for (int i = 0; i < 200000; ++i) big += std::to_string(i) + ",";
  const std::string large = dir_ + "/large.txt";
  write_file_atomically(large, big);
  EXPECT_EQ(read_all(large), big);
  EXPECT_FALSE(has_temporary(entries()));
}

TEST_F(AtomicFile, ReplacesAnExistingFile) {
  const std::string path = dir_ + "/out.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << "old content that is much longer than the new content\n";
  }
  write_file_atomically(path, "new\n");
  EXPECT_EQ(read_all(path), "new\n");
  write_file_atomically(path, "newer\n");
  EXPECT_EQ(read_all(path), "newer\n");
  EXPECT_EQ(entries(), (std::set<std::string>{"out.csv"}));
}

TEST_F(AtomicFile, LeavesNoTemporaryFileBehind) {
  write_file_atomically(dir_ + "/a.json", "1");
  write_file_atomically(dir_ + "/b.json", "2");
  write_file_atomically(dir_ + "/a.json", "3");
  const auto names = entries();
  EXPECT_FALSE(has_temporary(names));
  EXPECT_EQ(names, (std::set<std::string>{"a.json", "b.json"}));
}

TEST_F(AtomicFile, HonoursTheUmaskLikeAnOrdinaryFile) {
  const mode_t old = ::umask(022);
  const std::string path = dir_ + "/mode.txt";
  write_file_atomically(path, "x");
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(AtomicFile, MissingDirectoryThrowsAndCreatesNothing) {
  const std::string missing = dir_ + "/missing";
  const std::string path = missing + "/model.json";
  const std::string msg = error_of([&] { write_file_atomically(path, "content"); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(missing));
  EXPECT_TRUE(entries().empty());
}

TEST_F(AtomicFile, TargetThatIsADirectoryThrowsAndCleansUp) {
  // The rename onto a directory fails after the temporary file was written: the temporary
  // file must be removed and the directory left as it was.
  const std::string path = dir_ + "/sub";
  fs::create_directory(path);
  const std::string msg = error_of([&] { write_file_atomically(path, "content"); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_TRUE(fs::is_directory(path));
  EXPECT_TRUE(fs::is_empty(path));
  EXPECT_EQ(entries(), (std::set<std::string>{"sub"}));
}

TEST_F(AtomicFile, CheckWritableRefusesAMissingDirectory) {
  const std::string path = dir_ + "/missing/model.json";
  const std::string msg = error_of([&] { check_writable(path, "--output"); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("--output"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir_ + "/missing"));
}

TEST_F(AtomicFile, CheckWritableRefusesADirectory) {
  const std::string msg = error_of([&] { check_writable(dir_, "--history"); });
  EXPECT_NE(msg.find(dir_), std::string::npos) << msg;
  EXPECT_NE(msg.find("--history"), std::string::npos) << msg;
  EXPECT_NE(msg.find("directory"), std::string::npos) << msg;
  EXPECT_TRUE(fs::is_directory(dir_));
}

TEST_F(AtomicFile, CheckWritableRefusesAnEmptyPath) {
  const std::string msg = error_of([&] { check_writable("", "--output"); });
  EXPECT_NE(msg.find("--output"), std::string::npos) << msg;
}

TEST_F(AtomicFile, CheckWritableAcceptsAWritableDirectoryAndCreatesNothing) {
  EXPECT_NO_THROW(check_writable(dir_ + "/model.json", "--output"));
  EXPECT_TRUE(entries().empty());  // only a check: no file is created

  const std::string existing = dir_ + "/existing.json";
  { std::ofstream(existing) << "keep"; }
  EXPECT_NO_THROW(check_writable(existing, "--output"));
  EXPECT_EQ(read_all(existing), "keep");
}

}  // namespace
