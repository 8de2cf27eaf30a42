// Internal: what the C API's opaque handles hold, and the tables that map option and result
// names to the C++ fields (host/api/c_api_names.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <new>
#include <vector>

#include "steepest/error.hpp"

#include "steepest/options.hpp"
#include "steepest/result.hpp"
#include "steepest/steepest.h"

struct steepest_options {
  steepest::FitOptions fit;
};

struct steepest_result {
  steepest::FitResult fit;
  std::string stop_reason;  // to_string(fit.stop_reason), for steepest_result_text
};

struct steepest_stop_flag {
  std::atomic<bool> raised{false};
};

namespace steepest::detail {

/// A failure with its C status (BUFFER_TOO_SMALL, INVALID_ARGUMENT of the C layer itself).
struct CApiError : std::runtime_error {
  CApiError(steepest_status s, const std::string& what) : std::runtime_error(what), status(s) {}
  steepest_status status;
};

/// The message of the last failure on this thread.
std::string& last_error();

/// Runs \p body; maps what it throws to a status and keeps the message for
/// steepest_last_error().  Nothing propagates: a C caller cannot catch.
template <class Body>
steepest_status guarded(Body&& body) noexcept {
  try {
    body();
    last_error().clear();
    return STEEPEST_OK;
  } catch (const CApiError& e) {
    last_error() = e.what();
    return e.status;
  } catch (const InvalidArgument& e) {
    last_error() = e.what();
    return STEEPEST_ERROR_INVALID_ARGUMENT;
  } catch (const DeviceUnavailable& e) {
    last_error() = e.what();
    return STEEPEST_ERROR_DEVICE_UNAVAILABLE;
  } catch (const CudaError& e) {
    last_error() = e.what();
    return STEEPEST_ERROR_CUDA;
  } catch (const std::bad_alloc&) {
    last_error() = "out of memory";
    return STEEPEST_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    last_error() = std::string("internal error: ") + e.what();
    return STEEPEST_ERROR_INTERNAL;
  } catch (...) {
    last_error() = "internal error: an unknown exception";
    return STEEPEST_ERROR_INTERNAL;
  }
}

/// FitOptions fields by name; InvalidArgument (a CApiError) for an unknown name or a value
/// of the wrong kind.  Ranges are checked by fit() like every caller's.
void set_real(steepest_options& o, const std::string& name, double value);
void set_int(steepest_options& o, const std::string& name, std::int64_t value);
void set_text(steepest_options& o, const std::string& name, const std::string& value);

/// FitResult fields by name.
double result_real(const steepest_result& r, const std::string& name);
std::int64_t result_int(const steepest_result& r, const std::string& name);
const std::string& result_text(const steepest_result& r, const std::string& name);
const std::vector<double>& result_history(const steepest_result& r, const std::string& name);

}  // namespace steepest::detail
