#include "backend/select.hpp"

#include "steepest/error.hpp"

namespace steepest::detail {

SelectedBackend select_backend_agreed(const Team& team, Device device, const MatrixView& X, const VectorView& y,
                                      const VectorView& sw, std::int32_t threads, bool ordered, const RowShare& share,
                                      int cuda_device) {
  if (team.alone()) return select_backend(device, X, y, sw, threads, ordered, share, cuda_device);
  SelectedBackend selected;
  std::string error;
  try {
    selected = select_backend(device, X, y, sw, threads, ordered, share, cuda_device);
  } catch (const Error& e) {
    error = e.what();
  }
  team.agree(error);
  return selected;
}

int cuda_device_for(int requested, Device device, const Team& team) {
  // Across processes only Device::cuda takes a GPU (select_backend); nothing else may touch
  // the node's GPUs.
  if (requested >= 0 || team.alone() || device != Device::cuda) return requested;
  const int count = cuda_device_count();
  return count > 0 ? team.communicator()->node_rank() % count : -1;
}

SelectedBackend select_backend(Device device, const MatrixView& X, const VectorView& y, const VectorView& sw,
                               std::int32_t threads, bool ordered, const RowShare& share, int cuda_device) {
  auto cuda = [&] {
    auto be = make_cuda_backend(X, y, sw, share, cuda_device);
    if (ordered) be->reserve_row_order();
    return be;
  };
  if (share.reduction != nullptr) {
    if (device == Device::cuda) return {cuda(), {}};
    return {make_cpu_backend(X, y, sw, threads, share), {}};
  }
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
