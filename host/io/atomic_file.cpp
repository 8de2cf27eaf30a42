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

void write_file_atomically(const std::string& path, const std::string& content) {
  std::string tmpl = path + ".tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0)
    throw InvalidArgument("cannot write '" + path + "': " + std::strerror(errno));
  const std::string tmp(name.data());
  auto fail = [&](const char* step) {
    const int err = errno;
    ::close(fd);
    std::remove(tmp.c_str());
    throw InvalidArgument("cannot write '" + path + "' (" + step + "): " + std::strerror(err));
  };
  // mkstemp creates 0600; outputs are ordinary files, so honour the umask like fopen would.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0) fail("chmod");
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw InvalidArgument("cannot write '" + path + "' (close): " + std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw InvalidArgument("cannot write '" + path + "' (rename): " + std::strerror(err));
  }
}

}  // namespace steepest::io
