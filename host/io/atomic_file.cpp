#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "steepest/error.hpp"

namespace steepest::io {
namespace {

std::string directory_of(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace

void check_writable(const std::string& path, const std::string& what) {
  if (path.empty()) throw InvalidArgument(what + ": empty output path");
  const std::string dir = directory_of(path);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw InvalidArgument(what + " '" + path + "': directory '" + dir + "' does not exist");
  if (std::filesystem::is_directory(path, ec))
    throw InvalidArgument(what + " '" + path + "': is a directory");
  if (::access(dir.c_str(), W_OK) != 0)
    throw InvalidArgument(what + " '" + path + "': directory '" + dir + "' is not writable");
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  std::string tmpl = path_ + ".tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  fd_ = ::mkstemp(name.data());
  if (fd_ < 0) throw InvalidArgument("cannot write '" + path_ + "': " + std::strerror(errno));
  tmp_ = name.data();
  // mkstemp creates 0600; outputs are ordinary files, so honour the umask like fopen would.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd_, 0666 & ~mask) != 0) fail("chmod", errno);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) std::remove(tmp_.c_str());
}

void AtomicFile::fail(const char* step, int err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::remove(tmp_.c_str());
  tmp_.clear();
  throw InvalidArgument("cannot write '" + path_ + "' (" + step + "): " + std::strerror(err));
}

void AtomicFile::write(const void* data, std::size_t size) {
  if (fd_ < 0) throw InvalidArgument("cannot write '" + path_ + "': already committed or failed");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", errno);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw InvalidArgument("cannot write '" + path_ + "': already committed or failed");
  if (::fsync(fd_) != 0) fail("fsync", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close", errno);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail("rename", errno);
  tmp_.clear();
}

void write_file_atomically(const std::string& path, const std::string& content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

}  // namespace steepest::io
