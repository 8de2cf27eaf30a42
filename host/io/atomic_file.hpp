// Outputs are never half-written: content goes to a temporary file beside the target,
// is flushed to disk, and is renamed into place in one step.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace steepest::io {

/// Throw InvalidArgument naming \p path when its directory does not exist or is not
/// writable, so a run can refuse before doing any work.
void check_writable(const std::string& path, const std::string& what);

/// \brief A file written in pieces that appears at its path only when commit() succeeds.
///
/// The constructor creates "PATH.tmp.XXXXXX" beside PATH; write() appends; commit()
/// fsyncs and renames it over PATH.  Destroyed without commit() (an exception, an early
/// return), the temporary file is removed and PATH is untouched.  Errors throw
/// InvalidArgument naming PATH.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  void commit();
  const std::string& path() const noexcept { return path_; }

 private:
  [[noreturn]] void fail(const char* step, int err);
  std::string path_;
  std::string tmp_;
  int fd_ = -1;
};

/// Write \p content to \p path atomically (an AtomicFile written once).
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace steepest::io
