// Outputs are never half-written: content goes to a temporary file beside the target,
// is flushed to disk, and is renamed into place in one step.
#pragma once

#include <string>

namespace steepest::io {

/// Throw InvalidArgument naming \p path when its directory does not exist or is not
/// writable, so a run can refuse before doing any work.
void check_writable(const std::string& path, const std::string& what);

/// Write \p content to \p path atomically (temporary file, fsync, rename).  On failure
/// the temporary file is removed, \p path is untouched, and InvalidArgument is thrown.
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace steepest::io
