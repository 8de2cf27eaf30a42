#include "backend/select.hpp"

#include "steepest/error.hpp"

namespace steepest::detail {

SelectedBackend select_backend(Device device, const MatrixView& X, const VectorView& y, const VectorView& sw,
                               std::int32_t threads, bool ordered, const RowShare& share) {
  if (share.reduction != nullptr) {
    if (device == Device::cuda)
      throw InvalidArgument("the CUDA backend does not run across MPI processes yet; use the CPU backend");
    return {make_cpu_backend(X, y, sw, threads, share), {}};
  }
  auto cuda = [&] {
    auto be = make_cuda_backend(X, y, sw);
    if (ordered) be->reserve_row_order();
    return be;
  };
  switch (device) {
    case Device::cpu: return {make_cpu_backend(X, y, sw, threads), {}};
    case Device::cuda: return {cuda(), {}};
    case Device::automatic: break;
  }
  if (cuda_usable()) {
    try {
      return {cuda(), {}};
    } catch (const DeviceUnavailable& e) {
      return {make_cpu_backend(X, y, sw, threads),
              std::string("auto: CUDA device not used (") + e.what() + "); ran on the CPU"};
    }
  }
  return {make_cpu_backend(X, y, sw, threads), {}};
}

}  // namespace steepest::detail
