// Test helper: GPU tests skip with the reason when no GPU is usable, except where the run
// demands a GPU (STEEPEST_REQUIRE_GPU=1, set by scripts/device-check.sh), where a missing
// GPU is a failure instead of a silent pass.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "backend/backend.hpp"
#include "steepest/device.hpp"

namespace steepest::test {

inline bool gpu_required() {
  const char* v = std::getenv("STEEPEST_REQUIRE_GPU");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

}  // namespace steepest::test

/// First statement of every GPU test.
#define STEEPEST_REQUIRE_GPU_OR_SKIP()                                                    \
  do {                                                                                    \
    if (!::steepest::detail::cuda_usable()) {                                             \
      if (::steepest::test::gpu_required()) {                                             \
        FAIL() << "STEEPEST_REQUIRE_GPU=1 but no GPU is usable: "                         \
               << ::steepest::cuda_unavailable_reason();                                  \
      }                                                                                   \
      GTEST_SKIP() << "no usable GPU: " << ::steepest::cuda_unavailable_reason();         \
    }                                                                                     \
  } while (0)
