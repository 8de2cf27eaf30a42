// Internal: which backend runs a fit or an evaluation (FitOptions::device, automatic
// falling back to the CPU when the GPU cannot take the data).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backend/backend.hpp"
#include "steepest/options.hpp"

namespace steepest::detail {

struct SelectedBackend {
  std::unique_ptr<Backend> backend;
  std::string note;  // why auto did not pick the GPU, when it could have
};

/// The backend for \p device, with the row-order buffer reserved when \p ordered, so that
/// running out of device memory happens here (where auto can still fall back) or not at all.
/// Across processes (\p share names a Reduction) the CPU backend is the only one so far:
/// Device::cuda is refused and automatic runs on the CPU.
SelectedBackend select_backend(Device device, const MatrixView& X, const VectorView& y, const VectorView& sw,
                               std::int32_t threads, bool ordered, const RowShare& share = {});

}  // namespace steepest::detail
