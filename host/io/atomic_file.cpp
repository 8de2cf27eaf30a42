#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>

namespace steepest::io {
namespace {

std::string directory_of(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

std::string name_of(const std::string& path) { return std::filesystem::path(path).filename().string(); }

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

/// The longest file name the directory's file system allows.
std::size_t name_max(const std::string& dir) {
  const long n = ::pathconf(dir.c_str(), _PC_NAME_MAX);
  return n > 0 ? static_cast<std::size_t>(n) : static_cast<std::size_t>(NAME_MAX);
}

/// What a write of \p path replaces: a symbolic link to a regular file is followed, so the
/// link survives the rename; anything else (a new file, a dangling link) is \p path itself.
std::string replaced_file(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return path;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return path;
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(path.c_str(), nullptr), &std::free);
  return real ? std::string(real.get()) : path;
}

/// The mkstemp template of the temporary file for \p target: "NAME.tmp.XXXXXX" beside it,
/// or a short hidden name in the same directory when that would exceed the name limit.
std::string temporary_template(const std::string& target) {
  static constexpr std::string_view kSuffix = ".tmp.XXXXXX";
  const std::string dir = directory_of(target);
  if (name_of(target).size() + kSuffix.size() <= name_max(dir)) return target + std::string(kSuffix);
  return dir + "/.steepest" + std::string(kSuffix);
}

// --- the registry of temporary files, read by signal handlers --------------------------------
// Fixed slots in static storage: a handler may only read memory and call unlink(2).  A slot
// is claimed with a compare-exchange (several threads may write files), filled, and then
// marked ready; released after the file is renamed or removed.

constexpr int kSlots = 32;
struct Slot {
  std::atomic<bool> used{false};
  std::atomic<bool> ready{false};
  char path[PATH_MAX];
};
Slot g_slots[kSlots];
static_assert(std::atomic<bool>::is_always_lock_free, "read from a signal handler");

/// mkstemp() of \p tmpl in a registry slot (the file is registered from its creation on);
/// returns the descriptor and sets \p slot (-1 when the registry is full) and \p name.
int create_registered(const std::string& tmpl, int& slot, std::string& name) {
  slot = -1;
  if (tmpl.size() < PATH_MAX) {
    for (int i = 0; i < kSlots && slot < 0; ++i) {
      bool expected = false;
      if (g_slots[i].used.compare_exchange_strong(expected, true)) slot = i;
    }
  }
  if (slot < 0) {  // unregistered: still removed on every path but a signal
    std::string buf = tmpl;
    const int fd = ::mkstemp(buf.data());
    if (fd >= 0) name = buf;
    return fd;
  }
  Slot& s = g_slots[slot];
  std::memcpy(s.path, tmpl.c_str(), tmpl.size() + 1);
  const int fd = ::mkstemp(s.path);
  if (fd < 0) {
    const int err = errno;
    s.used.store(false);
    slot = -1;
    errno = err;
    return fd;
  }
  s.ready.store(true);
  name = s.path;
  return fd;
}

void release(int slot) noexcept {
  if (slot < 0) return;
  g_slots[slot].ready.store(false);
  g_slots[slot].used.store(false);
}

/// Identity of a file for check_distinct_files.
struct FileKey {
  bool exists = false;
  bool regular = false;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string name;  ///< resolved directory + name, for a file that does not exist
};

FileKey key_of(const std::string& path) {
  FileKey k;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    k.exists = true;
    k.regular = S_ISREG(st.st_mode) && !writes_in_place(path);
    k.dev = st.st_dev;
    k.ino = st.st_ino;
    return k;
  }
  std::unique_ptr<char, decltype(&std::free)> dir(::realpath(directory_of(path).c_str(), nullptr), &std::free);
  k.name = (dir ? std::string(dir.get()) : directory_of(path)) + "/" + name_of(path);
  return k;
}

bool same_file(const FileKey& a, const FileKey& b) {
  if (a.exists != b.exists) return false;
  if (!a.exists) return a.name == b.name;
  return a.regular && b.regular && a.dev == b.dev && a.ino == b.ino;
}

std::string shown(const NamedPath& p) { return p.option + " '" + p.path + "'"; }

}  // namespace

bool writes_in_place(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  if (!S_ISREG(st.st_mode)) return !S_ISDIR(st.st_mode);
  // A regular file reached through a descriptor (/dev/stdout redirected to a file) or a
  // /proc entry: a rename would miss it.
  return starts_with(path, "/proc/") || starts_with(path, "/dev/fd/") || path == "/dev/stdout" ||
         path == "/dev/stderr";
}

void check_writable(const std::string& path, const std::string& what) {
  if (path.empty()) throw InvalidArgument(what + ": empty output path");
  const std::string shown = what + " '" + path + "'";
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw InvalidArgument(shown + ": is a directory");
    if (S_ISSOCK(st.st_mode)) throw InvalidArgument(shown + ": is a socket, not a file that can be written");
    if (writes_in_place(path)) {  // written where it is: it only has to accept writes
      if (::access(path.c_str(), W_OK) != 0) throw InvalidArgument(shown + ": " + std::strerror(errno));
      return;
    }
  }
  const std::string target = replaced_file(path);
  const std::string dir = directory_of(target);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw InvalidArgument(shown + ": directory '" + dir + "' does not exist");
  const std::size_t name = name_of(target).size(), limit = name_max(dir);
  if (name > limit)
    throw InvalidArgument(shown + ": the file name is " + std::to_string(name) + " bytes long; the file system allows " +
                          std::to_string(limit));
  // Permissions, read-only mounts and pseudo file systems (/proc, /sys accept no new files,
  // whatever access(2) says to root) are all answered by trying: the temporary file the
  // write will use is created and removed.
  std::string tmpl = temporary_template(target);
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0)
    throw InvalidArgument(shown + ": cannot create a file in directory '" + dir + "' (" + std::strerror(errno) + ")");
  ::close(fd);
  ::unlink(tmpl.c_str());
}

void check_distinct_files(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
  std::vector<FileKey> out_keys;
  for (const auto& o : outputs) out_keys.push_back(o.path.empty() ? FileKey{} : key_of(o.path));
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].path.empty()) continue;
    for (std::size_t k = i + 1; k < outputs.size(); ++k)
      if (!outputs[k].path.empty() && same_file(out_keys[i], out_keys[k]))
        throw InvalidArgument(shown(outputs[i]) + " and " + shown(outputs[k]) +
                              " are the same file: give each output its own file");
    for (const auto& in : inputs)
      if (!in.path.empty() && same_file(out_keys[i], key_of(in.path)))
        throw InvalidArgument(shown(outputs[i]) + " is the same file as the input " + shown(in) +
                              ": refusing to overwrite an input");
  }
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  if (writes_in_place(path_)) {
    in_place_ = true;
    // Appending: /dev/stdout redirected to a file with >> keeps what it holds.
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
    if (fd_ < 0) throw WriteError("cannot write '" + path_ + "': " + std::strerror(errno));
    return;
  }
  target_ = replaced_file(path_);
  fd_ = create_registered(temporary_template(target_), slot_, tmp_);
  if (fd_ < 0) throw WriteError("cannot write '" + path_ + "': " + std::strerror(errno));
  // mkstemp creates 0600: a replaced file keeps its permission bits, a new one honours the
  // umask like fopen would.
  struct stat st {};
  mode_t mode = 0;
  if (::stat(target_.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    mode = st.st_mode & 07777;
  } else {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    mode = 0666 & ~mask;
  }
  if (::fchmod(fd_, mode) != 0) fail("chmod", errno);
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
  release(slot_);
  slot_ = -1;
}

void AtomicFile::fail(const char* step, int err) {
  discard();
  throw WriteError("cannot write '" + path_ + "' (" + step + "): " + std::strerror(err));
}

void AtomicFile::write(const void* data, std::size_t size) {
  if (fd_ < 0) throw WriteError("cannot write '" + path_ + "': already committed or failed");
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
  if (fd_ < 0) throw WriteError("cannot write '" + path_ + "': already committed or failed");
  if (in_place_) {  // nothing to sync or rename: a device or a pipe takes the bytes as written
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) fail("close", errno);
    return;
  }
  if (::fsync(fd_) != 0) fail("fsync", errno);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) fail("close", errno);
  if (std::rename(tmp_.c_str(), target_.c_str()) != 0) fail("rename", errno);
  tmp_.clear();  // renamed: released only now, so a signal in between finds nothing to remove
  release(slot_);
  slot_ = -1;
}

void write_file_atomically(const std::string& path, const std::string& content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

void remove_temporaries() noexcept {
  for (Slot& s : g_slots)
    if (s.ready.load()) ::unlink(s.path);
}

}  // namespace steepest::io
