// Internal: one element of a view, widened to float64.  For the host-side passes that are
// not on the hot path (prediction, scoring, moments, norms, curvature, least squares);
// the fused kernels read their storage type directly.
#pragma once

#include <cstdint>

#include "steepest/data.hpp"

namespace steepest::detail {

inline double value_at(const MatrixView& X, std::int64_t i, std::int64_t k) {
  const std::int64_t o = X.offset(i, k);
  return X.dtype == DType::float32 ? static_cast<double>(static_cast<const float*>(X.data)[o])
                                   : static_cast<const double*>(X.data)[o];
}

inline double value_at(const VectorView& y, std::int64_t i) {
  const std::int64_t o = i * y.stride;
  return y.dtype == DType::float32 ? static_cast<double>(static_cast<const float*>(y.data)[o])
                                   : static_cast<const double*>(y.data)[o];
}

}  // namespace steepest::detail
