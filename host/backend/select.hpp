// Internal: which backend runs a fit or an evaluation (FitOptions::device, automatic
// falling back to the CPU when the GPU cannot take the data).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backend/backend.hpp"
#include "backend/team.hpp"
#include "steepest/options.hpp"

namespace steepest::detail {

struct SelectedBackend {
  std::unique_ptr<Backend> backend;
  std::string note;  // why auto did not pick the GPU, when it could have
};

/// The backend for \p device, with the row-order buffer reserved when \p ordered, so that
/// running out of device memory happens here (where auto can still fall back) or not at all.
/// \p cuda_device: the CUDA device (-1: the current one; cuda_device_for).  Across processes
/// (\p share names a Reduction) Device::cuda runs each process on its GPU
/// (make_cuda_backend with the share) and automatic runs on the CPU: a fallback must be
/// the same on every process, and one process's GPU may be full where another's is not.
SelectedBackend select_backend(Device device, const MatrixView& X, const VectorView& y, const VectorView& sw,
                               std::int32_t threads, bool ordered, const RowShare& share = {},
                               int cuda_device = -1);

/// select_backend for a fit or evaluation across \p team: an error of some processes alone (a
/// GPU short of memory, a process without rows on the GPU) becomes every process's
/// (Team::agree: InvalidArgument with the lowest failing rank's message), so no process
/// waits for the others in a collective that will never come.  Alone, select_backend.
SelectedBackend select_backend_agreed(const Team& team, Device device, const MatrixView& X, const VectorView& y,
                                      const VectorView& sw, std::int32_t threads, bool ordered, const RowShare& share,
                                      int cuda_device);

/// FitOptions::cuda_device resolved: \p requested when >= 0; else, across processes with
/// Device::cuda, the node-local rank modulo the CUDA devices (so the ranks of a node spread
/// over its GPUs); else -1 (the current device).  Makes no CUDA context.
int cuda_device_for(int requested, Device device, const Team& team);

}  // namespace steepest::detail
