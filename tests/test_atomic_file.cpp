// Unit tests of the atomic writer: outputs appear whole or not at all, and check_writable
// refuses an output path before any work is done.
#include <gtest/gtest.h>

#include "test_support.hpp"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

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
using steepest::io::writes_in_place;

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

TEST_F(AtomicFile, WritesADeviceInPlaceAndReportsItsErrors) {
  const std::string null = dir_ + "/null", full = dir_ + "/full";
  if (::mknod(null.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0 ||
      ::mknod(full.c_str(), S_IFCHR | 0666, makedev(1, 7)) != 0)
    GTEST_SKIP() << "mknod: " << std::strerror(errno);
  EXPECT_TRUE(writes_in_place(null));
  EXPECT_NO_THROW(check_writable(null, "--output"));
  write_file_atomically(null, "into the void");
  struct stat st {};
  ASSERT_EQ(::lstat(null.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the device node was replaced";
  // A full device: the write fails with a WriteError naming it, and it stays a device.
  try {
    write_file_atomically(full, std::string(100000, 'x'));
    ADD_FAILURE() << "a write to a full device succeeded";
  } catch (const steepest::io::WriteError& e) {
    EXPECT_NE(std::string(e.what()).find(full), std::string::npos) << e.what();
  }
  ASSERT_EQ(::lstat(full.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(entries(), (std::set<std::string>{"full", "null"}));
}

TEST_F(AtomicFile, WritesAFifoInPlace) {
  const std::string fifo = dir_ + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_TRUE(writes_in_place(fifo));
  // The reader opens first, non-blocking, so the writer's open does not wait.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  write_file_atomically(fifo, "through the pipe");
  char buf[64] = {};
  const ssize_t n = ::read(reader, buf, sizeof buf);
  ::close(reader);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "through the pipe");
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(entries(), (std::set<std::string>{"pipe"}));
}

TEST_F(AtomicFile, ASymbolicLinkIsFollowedAndKept) {
  const std::string real = dir_ + "/real.json", link = dir_ + "/link.json";
  write_file_atomically(real, "old");
  fs::create_symlink(real, link);
  write_file_atomically(link, "new");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(read_all(real), "new");
  EXPECT_EQ(entries(), (std::set<std::string>{"link.json", "real.json"}));
}

TEST_F(AtomicFile, AReplacedFileKeepsItsPermissions) {
  const std::string path = dir_ + "/secret.json";
  write_file_atomically(path, "old");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  const mode_t old = ::umask(022);
  write_file_atomically(path, "new");
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AtomicFile, LongNamesUpToTheLimitWork) {
  // 255 bytes: the name fits, "NAME.tmp.XXXXXX" would not; the temporary takes a short name.
  const std::string path = dir_ + "/" + std::string(255, 'n');
  EXPECT_NO_THROW(check_writable(path, "--output"));
  write_file_atomically(path, "long");
  EXPECT_EQ(read_all(path), "long");
  EXPECT_EQ(entries().size(), 1u);
  const std::string too_long = dir_ + "/" + std::string(256, 'n');
  const std::string msg = error_of([&] { check_writable(too_long, "--history"); });
  EXPECT_NE(msg.find("--history"), std::string::npos) << msg;
  EXPECT_NE(msg.find("256 bytes"), std::string::npos) << msg;
}

TEST_F(AtomicFile, CheckWritableTriesTheDirectory) {
  // /proc takes no new file, whatever access(2) tells root.
  const std::string msg = error_of([] { check_writable("/proc/steepest-test.json", "--output"); });
  EXPECT_NE(msg.find("/proc/steepest-test.json"), std::string::npos) << msg;
  EXPECT_TRUE(entries().empty());
}

TEST_F(AtomicFile, DistinctFilesAreToldApartByWhatTheyAre) {
  using steepest::io::check_distinct_files;
  const std::string data = dir_ + "/d.csv", sub = dir_ + "/sub";
  write_file_atomically(data, "x,y\n");
  fs::create_directory(sub);
  fs::create_hard_link(data, sub + "/hard.csv");
  fs::create_symlink(data, sub + "/soft.csv");
  // The same file by another name, by a link, or by a detour through ..: refused.
  for (const std::string& out : {data, dir_ + "/./d.csv", sub + "/../d.csv", sub + "/hard.csv", sub + "/soft.csv"}) {
    const std::string msg = error_of([&] { check_distinct_files({{"--output", out}}, {{"DATA", data}}); });
    EXPECT_NE(msg.find("DATA"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--output"), std::string::npos) << msg;
  }
  // Two new outputs spelled differently.
  const std::string msg = error_of([&] {
    check_distinct_files({{"--output", dir_ + "/m.json"}, {"--history", sub + "/../m.json"}}, {});
  });
  EXPECT_NE(msg.find("--history"), std::string::npos) << msg;
  // Different files, empty paths and devices named twice are fine.
  EXPECT_NO_THROW(check_distinct_files({{"--output", dir_ + "/m.json"}, {"--history", dir_ + "/h.csv"}, {"--trace", ""}},
                                       {{"DATA", data}, {"--x", ""}}));
  EXPECT_NO_THROW(check_distinct_files({{"--output", "/dev/null"}, {"--history", "/dev/null"}}, {}));
}

extern "C" void remove_and_die(int sig) {
  steepest::io::remove_temporaries();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

TEST_F(AtomicFile, ASignalHandlerRemovesTheTemporaryFiles) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGTERM, remove_and_die);
    steepest::io::AtomicFile a(dir_ + "/a.npy"), b(dir_ + "/b.csv");
    a.write(std::string(1 << 20, 'a'));
    b.write("half");
    ::raise(SIGTERM);
    ::_exit(0);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_TRUE(entries().empty()) << *entries().begin();
}

}  // namespace
