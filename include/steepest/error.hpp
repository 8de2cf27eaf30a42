/// \file
/// \brief The exceptions steepest throws.  Library code never calls exit().
#pragma once
#include "steepest/export.h"

#include <stdexcept>
#include <string>

namespace steepest {

/// Base of every steepest exception.
class STEEPEST_API Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad input or options, detected before any work (the CLI maps it to exit code 2).
class STEEPEST_API InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// The requested device is not compiled in or not usable (CLI exit code 2).
class STEEPEST_API DeviceUnavailable : public Error {
 public:
  using Error::Error;
};

/// A CUDA runtime call failed; what() names the call, the error, the file and the line.
class STEEPEST_API CudaError : public Error {
 public:
  using Error::Error;
};

}  // namespace steepest
