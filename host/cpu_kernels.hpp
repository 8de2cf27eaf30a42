// Internal: the CPU reference kernel, one chunk of rows at a time, vectorised with
// `omp simd` (no -ffast-math: the order of every sum is fixed by the code and the vector
// width of the build, never by the thread count).  Included once per instruction set by
// host/cpu_kernels_<isa>.cpp, which defines STEEPEST_CPU_ISA as the namespace.
#ifndef STEEPEST_CPU_ISA
#error "define STEEPEST_CPU_ISA (baseline, avx2) before including cpu_kernels.hpp"
#endif

#include <algorithm>
#include <cstdint>

#include "chunk_plan.hpp"

namespace steepest::detail::STEEPEST_CPU_ISA {


/// Row-major chunk: per row, r = x_i . w + b - y_i; then grad += r x_i.
template <class TX, class TY>
void row_major_chunk(const TX* X, std::int64_t stride, std::int64_t d, const TY* y,
                     std::int64_t y_stride, Params p, const std::int64_t* rows,
                     std::int64_t lo, std::int64_t hi, double* out) {
  double* g = out;
  double sse = 0.0, sum_r = 0.0;
  for (std::int64_t t = lo; t < hi; ++t) {
    const std::int64_t i = rows != nullptr ? rows[t] : t;
    if (rows != nullptr && t + 16 < hi) {  // see row_major_small: overlap the gathers
      const std::int64_t ahead = rows[t + 16];
      for (std::int64_t k = 0; k < d; k += 64 / static_cast<std::int64_t>(sizeof(TX)))
        __builtin_prefetch(X + ahead * stride + k);
      __builtin_prefetch(y + ahead * y_stride);
    }
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

/// Row-major chunk for a compile-time feature count D <= 8: the loops over features are
/// unrolled, parameters and accumulators live in registers, and R rows are in flight at
/// once with their own accumulators (combined at the end in a fixed order), so a chunk
/// costs a few instructions per element instead of a loop per row.
template <int D, class TX, class TY>
void row_major_small(const TX* X, std::int64_t stride, const TY* y, std::int64_t y_stride,
                     Params p, const std::int64_t* rows, std::int64_t lo, std::int64_t hi,
                     double* out) {
  if constexpr (D == 1) {
    if (rows == nullptr && stride == 1 && y_stride == 1) {
      // One feature, contiguous: x and y are two streams, vectorised across rows.
      const double w0 = p.w[0], b = p.b;
      double g0 = 0.0, sse = 0.0, sum_r = 0.0;
#pragma omp simd reduction(+ : g0, sse, sum_r)
      for (std::int64_t i = lo; i < hi; ++i) {
        const double x = static_cast<double>(X[i]);
        const double r = x * w0 + b - static_cast<double>(y[i]);
        sse += r * r;
        sum_r += r;
        g0 += r * x;
      }
      out[0] += g0;
      out[1] += sse;
      out[2] += sum_r;
      return;
    }
  }
  constexpr int R = D <= 4 ? 4 : 2;
  double w[D];
  for (int k = 0; k < D; ++k) w[k] = p.w[k];
  double g[R][D] = {};
  double sse[R] = {}, sum_r[R] = {};
  std::int64_t t = lo;
  for (; t + R <= hi; t += R) {
    double r[R];
    const TX* x[R];
    if (rows != nullptr) {
      // Shuffled batches gather rows from all over X: ask for rows a few steps ahead so
      // several DRAM accesses overlap instead of one latency per row.
      constexpr std::int64_t kAhead = 8 * R;
      for (int j = 0; j < R && t + kAhead + j < hi; ++j) {
        const std::int64_t ahead = rows[t + kAhead + j];
        __builtin_prefetch(X + ahead * stride);
        __builtin_prefetch(y + ahead * y_stride);
      }
    }
    for (int j = 0; j < R; ++j) {
      const std::int64_t i = rows != nullptr ? rows[t + j] : t + j;
      x[j] = X + i * stride;
      double dot = 0.0;
      for (int k = 0; k < D; ++k) dot += static_cast<double>(x[j][k]) * w[k];
      r[j] = dot + p.b - static_cast<double>(y[i * y_stride]);
    }
    for (int j = 0; j < R; ++j) {
      sse[j] += r[j] * r[j];
      sum_r[j] += r[j];
      for (int k = 0; k < D; ++k) g[j][k] += r[j] * static_cast<double>(x[j][k]);
    }
  }
  for (; t < hi; ++t) {  // the last < R rows go to accumulator 0
    const std::int64_t i = rows != nullptr ? rows[t] : t;
    const TX* xi = X + i * stride;
    double dot = 0.0;
    for (int k = 0; k < D; ++k) dot += static_cast<double>(xi[k]) * w[k];
    const double r = dot + p.b - static_cast<double>(y[i * y_stride]);
    sse[0] += r * r;
    sum_r[0] += r;
    for (int k = 0; k < D; ++k) g[0][k] += r * static_cast<double>(xi[k]);
  }
  for (int j = 0; j < R; ++j) {
    for (int k = 0; k < D; ++k) out[k] += g[j][k];
    out[D] += sse[j];
    out[D + 1] += sum_r[j];
  }
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
  if (X.layout == Layout::row_major) {
    switch (X.cols) {
      case 1: return row_major_small<1>(x, X.stride, yv, y.stride, p, rows, lo, hi, out);
      case 2: return row_major_small<2>(x, X.stride, yv, y.stride, p, rows, lo, hi, out);
      case 3: return row_major_small<3>(x, X.stride, yv, y.stride, p, rows, lo, hi, out);
      case 4: return row_major_small<4>(x, X.stride, yv, y.stride, p, rows, lo, hi, out);
      case 5: return row_major_small<5>(x, X.stride, yv, y.stride, p, rows, lo, hi, out);
      case 6: return row_major_small<6>(x, X.stride, yv, y.stride, p, rows, lo, hi, out);
      case 7: return row_major_small<7>(x, X.stride, yv, y.stride, p, rows, lo, hi, out);
      case 8: return row_major_small<8>(x, X.stride, yv, y.stride, p, rows, lo, hi, out);
      default: return row_major_chunk(x, X.stride, X.cols, yv, y.stride, p, rows, lo, hi, out);
    }
  } else {
    col_major_chunk(x, X.stride, X.cols, yv, y.stride, p, rows, lo, hi, out);
  }
}


void fused_chunk(const MatrixView& X, const VectorView& y, Params p,
                        const std::int64_t* rows, std::int64_t lo, std::int64_t hi,
                        double* out) {
  const bool xf = X.dtype == DType::float32, yf = y.dtype == DType::float32;
  if (xf && yf) chunk_typed<float, float>(X, y, p, rows, lo, hi, out);
  else if (xf) chunk_typed<float, double>(X, y, p, rows, lo, hi, out);
  else if (yf) chunk_typed<double, float>(X, y, p, rows, lo, hi, out);
  else chunk_typed<double, double>(X, y, p, rows, lo, hi, out);
}

}  // namespace steepest::detail::STEEPEST_CPU_ISA
