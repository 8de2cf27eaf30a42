// Linked in place of the CUDA backend when the build has no CUDA compiler (or
// STEEPEST_ENABLE_CUDA=OFF): every entry point says "not compiled", never crashes.
#include <string>
#include <vector>

#include "backend.hpp"
#include "steepest/device.hpp"
#include "steepest/error.hpp"

namespace steepest {

std::vector<DeviceInfo> cuda_devices() { return {}; }

std::string cuda_unavailable_reason() {
  return "CUDA support not compiled into this build (configure with a CUDA toolkit and "
         "-DSTEEPEST_ENABLE_CUDA=ON)";
}

namespace detail {

bool cuda_usable() noexcept { return false; }

std::unique_ptr<Backend> make_cuda_backend(const MatrixView&, const VectorView&) {
  throw DeviceUnavailable("device cuda requested: " + cuda_unavailable_reason());
}

}  // namespace detail
}  // namespace steepest
