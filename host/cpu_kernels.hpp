// Internal: the CPU reference kernel, one chunk of rows at a time.  Plain C++ so the tests
// can call it directly; vectorised with `omp simd` (no -ffast-math: the order of every sum
// is fixed by the code and the vector width of the binary, never by the thread count).
#pragma once

#include <algorithm>
#include <cstdint>

#include "steepest/data.hpp"

namespace steepest::detail {

/// How a pass over m rows is cut into chunks.  A function of (m, d) only.
struct ChunkPlan {
  std::int64_t rows_per_chunk = 1;
  std::int64_t chunks = 0;
};

/// At least ~32k elements per chunk (so a chunk amortises the scheduling), at most 1024
/// chunks (so the partials stay small: 1024 x (d + 2) doubles).
constexpr ChunkPlan plan_chunks(std::int64_t m, std::int64_t d) noexcept {
  constexpr std::int64_t kMinElements = 32768;
  constexpr std::int64_t kMaxChunks = 1024;
  const std::int64_t min_rows = std::max<std::int64_t>(64, (kMinElements + d - 1) / d);
  const std::int64_t rows = std::max(min_rows, (m + kMaxChunks - 1) / kMaxChunks);
  return {rows, m > 0 ? (m + rows - 1) / rows : 0};
}

/// Current parameters, read-only during a pass.
struct Params {
  const double* w;
  double b;
};

namespace cpu {

/// Row-major chunk: per row, r = x_i . w + b - y_i; then grad += r x_i.
template <class TX, class TY>
void row_major_chunk(const TX* X, std::int64_t stride, std::int64_t d, const TY* y,
                     std::int64_t y_stride, Params p, const std::int64_t* rows,
                     std::int64_t lo, std::int64_t hi, double* out) {
  double* g = out;
  double sse = 0.0, sum_r = 0.0;
  for (std::int64_t t = lo; t < hi; ++t) {
    const std::int64_t i = rows != nullptr ? rows[t] : t;
    const TX* xi = X + i * stride;
    double dot = 0.0;
#pragma omp simd reduction(+ : dot)
    for (std::int64_t k = 0; k < d; ++k) dot += static_cast<double>(xi[k]) * p.w[k];
    const double r = dot + p.b - static_cast<double>(y[i * y_stride]);
    sse += r * r;
    sum_r += r;
#pragma omp simd
    for (std::int64_t k = 0; k < d; ++k) g[k] += r * static_cast<double>(xi[k]);
  }
  out[d] += sse;
  out[d + 1] += sum_r;
}

/// Column-major chunk: residuals of a tile of rows built column by column (contiguous
/// reads), then each column's dot product with the tile's residuals.  The tile is small
/// enough that its second read comes from cache.
template <class TX, class TY>
void col_major_chunk(const TX* X, std::int64_t stride, std::int64_t d, const TY* y,
                     std::int64_t y_stride, Params p, const std::int64_t* rows,
                     std::int64_t lo, std::int64_t hi, double* out) {
  constexpr std::int64_t kTile = 256;
  double r[kTile];
  double* g = out;
  double sse = 0.0, sum_r = 0.0;
  for (std::int64_t t0 = lo; t0 < hi; t0 += kTile) {
    const std::int64_t len = std::min(kTile, hi - t0);
    const std::int64_t* idx = rows != nullptr ? rows + t0 : nullptr;
    for (std::int64_t j = 0; j < len; ++j) {
      const std::int64_t i = idx != nullptr ? idx[j] : t0 + j;
      r[j] = p.b - static_cast<double>(y[i * y_stride]);
    }
    for (std::int64_t k = 0; k < d; ++k) {
      const TX* col = X + k * stride;
      const double wk = p.w[k];
      if (idx != nullptr) {
        for (std::int64_t j = 0; j < len; ++j) r[j] += static_cast<double>(col[idx[j]]) * wk;
      } else {
        const TX* c = col + t0;
#pragma omp simd
        for (std::int64_t j = 0; j < len; ++j) r[j] += static_cast<double>(c[j]) * wk;
      }
    }
#pragma omp simd reduction(+ : sse, sum_r)
    for (std::int64_t j = 0; j < len; ++j) {
      sse += r[j] * r[j];
      sum_r += r[j];
    }
    for (std::int64_t k = 0; k < d; ++k) {
      const TX* col = X + k * stride;
      double acc = 0.0;
      if (idx != nullptr) {
        for (std::int64_t j = 0; j < len; ++j) acc += static_cast<double>(col[idx[j]]) * r[j];
      } else {
        const TX* c = col + t0;
#pragma omp simd reduction(+ : acc)
        for (std::int64_t j = 0; j < len; ++j) acc += static_cast<double>(c[j]) * r[j];
      }
      g[k] += acc;
    }
  }
  out[d] += sse;
  out[d + 1] += sum_r;
}

template <class TX, class TY>
void chunk_typed(const MatrixView& X, const VectorView& y, Params p, const std::int64_t* rows,
                 std::int64_t lo, std::int64_t hi, double* out) {
  const auto* x = static_cast<const TX*>(X.data);
  const auto* yv = static_cast<const TY*>(y.data);
  if (X.layout == Layout::row_major)
    row_major_chunk(x, X.stride, X.cols, yv, y.stride, p, rows, lo, hi, out);
  else
    col_major_chunk(x, X.stride, X.cols, yv, y.stride, p, rows, lo, hi, out);
}

}  // namespace cpu

/// Add the partials of positions lo..hi (of \p rows when not null, else of the natural
/// order) to out = [X^T r (d entries), sum r^2, sum r].
inline void fused_chunk(const MatrixView& X, const VectorView& y, Params p,
                        const std::int64_t* rows, std::int64_t lo, std::int64_t hi,
                        double* out) {
  const bool xf = X.dtype == DType::float32, yf = y.dtype == DType::float32;
  if (xf && yf) cpu::chunk_typed<float, float>(X, y, p, rows, lo, hi, out);
  else if (xf) cpu::chunk_typed<float, double>(X, y, p, rows, lo, hi, out);
  else if (yf) cpu::chunk_typed<double, float>(X, y, p, rows, lo, hi, out);
  else cpu::chunk_typed<double, double>(X, y, p, rows, lo, hi, out);
}

}  // namespace steepest::detail
