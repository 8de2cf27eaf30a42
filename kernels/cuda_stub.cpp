// Linked in place of the CUDA backend when the build has no CUDA compiler (or
// STEEPEST_ENABLE_CUDA=OFF): every entry point says "not compiled", never crashes.
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/device_probe.hpp"
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
int cuda_device_count() noexcept { return 0; }

std::unique_ptr<Backend> make_cuda_backend(const MatrixView&, const VectorView&,
                                           const VectorView&) {
  throw DeviceUnavailable("device cuda requested: " + cuda_unavailable_reason());
}

std::unique_ptr<Backend> make_cuda_backend(const MatrixView&, const VectorView&, const VectorView&,
                                           const RowShare&, int) {
  throw DeviceUnavailable("device cuda requested: " + cuda_unavailable_reason());
}

std::unique_ptr<Backend> make_cuda_backend(const MatrixView& X, const VectorView& y) {
  return make_cuda_backend(X, y, VectorView{});
}

double cuda_copy_bandwidth(std::int64_t) { return 0.0; }
double cuda_reduce_bandwidth(std::int64_t) { return 0.0; }
double cuda_time_ms(Backend&, const std::function<void()>&) {
  throw DeviceUnavailable("CUDA timing: " + cuda_unavailable_reason());
}

}  // namespace detail
}  // namespace steepest
