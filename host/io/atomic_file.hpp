// Outputs are never half-written: content goes to a temporary file beside the target,
// is flushed to disk, and is renamed into place in one step.  Targets that are not regular
// files (devices such as /dev/null, FIFOs, /dev/stdout) are written in place instead: a
// rename would replace the device node or the pipe with a regular file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "steepest/error.hpp"

namespace steepest::io {

/// A failure to write an output once the work is done (a full disk, an I/O error, a
/// directory that went away): unlike the refusals of check_writable, not bad input.
class WriteError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

/// Throw InvalidArgument naming \p path when it cannot be written: its directory does not
/// exist, it is a directory or a socket, its name is longer than the file system allows, or
/// no file can be created beside it (permissions, a read-only or pseudo file system such as
/// /proc: tried by creating and removing the temporary file).  So a run refuses before any
/// work instead of failing at its end.
void check_writable(const std::string& path, const std::string& what);

/// Whether AtomicFile writes \p path in place rather than by rename: an existing file that
/// is not a regular file (device, FIFO), or a regular file reached through /proc or a
/// descriptor (/dev/stdout, /dev/fd/N, /proc/self/fd/N: a stream that the caller set up).
bool writes_in_place(const std::string& path);

/// A file given on the command line, with the option that named it (for messages).
struct NamedPath {
  std::string option;
  std::string path;
};

/// Throw InvalidArgument when two of \p outputs, or an output and one of \p inputs, are the
/// same file: the same device and inode for files that exist (so hard links, symbolic links
/// and other spellings count as the file), the same resolved directory and name for files
/// that do not.  Files written in place (devices, FIFOs) may be named more than once.
/// Empty paths are skipped.
void check_distinct_files(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs);

/// \brief A file written in pieces that appears at its path only when commit() succeeds.
///
/// The constructor creates "PATH.tmp.XXXXXX" beside PATH (".steepest.tmp.XXXXXX" in the
/// same directory when that name would be too long); write() appends; commit() fsyncs and
/// renames it over PATH.  A symbolic link to a regular file is followed (the link stays, its
/// target is replaced); an existing file keeps its permission bits.  Destroyed without
/// commit() (an exception, an early return), the temporary file is removed and PATH is
/// untouched; remove_temporaries() removes it from a signal handler.  A target that
/// writes_in_place() is opened for appending and written directly.  Errors throw WriteError
/// naming PATH.
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
  void discard() noexcept;
  std::string path_;    ///< as given (messages)
  std::string target_;  ///< what is replaced: path_ with a symbolic link followed
  std::string tmp_;
  int fd_ = -1;
  int slot_ = -1;  ///< index in the registry of temporaries, -1 when not registered
  bool in_place_ = false;
};

/// Write \p content to \p path atomically (an AtomicFile written once).
void write_file_atomically(const std::string& path, const std::string& content);

/// Remove the temporary files of every live AtomicFile.  Async-signal-safe (unlink(2) of
/// names kept in static storage): for handlers of SIGINT, SIGTERM and the like, which then
/// end the process.
void remove_temporaries() noexcept;

}  // namespace steepest::io
