// Internal: the CPU reference kernel, one chunk of rows at a time, vectorised with
// `omp simd` (no -ffast-math: the order of every sum is fixed by the code and the vector
// width of the build, never by the thread count).  Included once per instruction set by
// host/cpu/cpu_kernels_<isa>.cpp, which defines STEEPEST_CPU_ISA as the namespace.
#ifndef STEEPEST_CPU_ISA
#error "define STEEPEST_CPU_ISA (baseline, avx2) before including cpu_kernels.hpp"
#endif

#include <algorithm>
#include <cstdint>

#include "cpu/cpu_chunk.hpp"

namespace steepest::detail::STEEPEST_CPU_ISA {

// Sample weights are a compile-time variant of every kernel: W is NoWeights (the kernels as
// they were before weights existed, nothing loaded and nothing multiplied) or RowWeights.
// A weighted row forms wr = w_i r_i once and uses it where the unweighted row uses r_i
// (sse += wr r, sum_r += wr, grad += wr x_i) and adds w_i to one more sum, out[d + 2]:
// the order of every sum is unchanged, and weights of 1.0 give the unweighted bits (but
// for the d = 1 vectorised loop, see there).

struct NoWeights {
  static constexpr bool kOn = false;
  bool contiguous() const { return true; }
  void prefetch(std::int64_t) const {}
};

/// Weights in their storage type, indexed by row (not position): they follow X and y.
template <class TW>
struct RowWeights {
  static constexpr bool kOn = true;
  const TW* w;
  std::int64_t stride;
  bool contiguous() const { return stride == 1; }
  void prefetch(std::int64_t i) const { __builtin_prefetch(w + i * stride); }
  double at(std::int64_t i) const { return static_cast<double>(w[i * stride]); }
};

/// The multiplier of row i's terms: w_i r (w_i added to \p sum_w), or r unweighted.
template <class W>
inline double weigh([[maybe_unused]] const W& wts, [[maybe_unused]] std::int64_t i, double r,
                    [[maybe_unused]] double& sum_w) {
  if constexpr (W::kOn) {
    const double wi = wts.at(i);
    sum_w += wi;
    return wi * r;
  } else {
    return r;
  }
}

/// Row-major chunk: per row, r = x_i . w + b - y_i; then grad += r x_i.
template <class TX, class TY, class W>
void row_major_chunk(const TX* X, std::int64_t stride, std::int64_t d, const TY* y,
                     std::int64_t y_stride, W wts, Params p, const std::int64_t* rows,
                     std::int64_t lo, std::int64_t hi, double* out) {
  double* g = out;
  double sse = 0.0, sum_r = 0.0, sum_w = 0.0;
  for (std::int64_t t = lo; t < hi; ++t) {
    const std::int64_t i = rows != nullptr ? rows[t] : t;
    if (rows != nullptr && t + 16 < hi) {  // see row_major_small: overlap the gathers
      const std::int64_t ahead = rows[t + 16];
      for (std::int64_t k = 0; k < d; k += 64 / static_cast<std::int64_t>(sizeof(TX)))
        __builtin_prefetch(X + ahead * stride + k);
      __builtin_prefetch(y + ahead * y_stride);
      wts.prefetch(ahead);
    }
    const TX* xi = X + i * stride;
    double dot = 0.0;
#pragma omp simd reduction(+ : dot)
    for (std::int64_t k = 0; k < d; ++k) dot += static_cast<double>(xi[k]) * p.w[k];
    const double r = dot + p.b - static_cast<double>(y[i * y_stride]);
    const double wr = weigh(wts, i, r, sum_w);
    sse += wr * r;
    sum_r += wr;
#pragma omp simd
    for (std::int64_t k = 0; k < d; ++k) g[k] += wr * static_cast<double>(xi[k]);
  }
  out[d] += sse;
  out[d + 1] += sum_r;
  if constexpr (W::kOn) out[d + 2] += sum_w;
}

// row_major_small<1> on contiguous rows lo..hi-1 (no row list, unit strides, contiguous
// weights): x and y (and w) are streams, vectorised across rows.  The weighted loop is
// written out so the unweighted one keeps its exact reduction list.  Its lanes, and so the
// grouping of the sums, follow the vector width the compiler picks from the narrowest
// element: float32 weights beside float64 data, or strided weights (row_major_small's
// unrolled loop), group them unlike the unweighted pass.  Both are always inlined into
// row_major_small<1>, so it computes what it did with the loops written in place: the
// same operations, vector width and order of every sum.

template <class TX, class TY>
[[gnu::always_inline]] inline void single_feature_stream(const TX* X, const TY* y, Params p,
                                                         std::int64_t lo, std::int64_t hi,
                                                         double* out) {
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
}

template <class TX, class TY, class TW>
[[gnu::always_inline]] inline void single_feature_stream_weighted(const TX* X, const TY* y,
                                                                  const TW* w, Params p,
                                                                  std::int64_t lo,
                                                                  std::int64_t hi, double* out) {
  const double w0 = p.w[0], b = p.b;
  double g0 = 0.0, sse = 0.0, sum_r = 0.0, sum_w = 0.0;
#pragma omp simd reduction(+ : g0, sse, sum_r, sum_w)
  for (std::int64_t i = lo; i < hi; ++i) {
    const double x = static_cast<double>(X[i]);
    const double r = x * w0 + b - static_cast<double>(y[i]);
    const double wi = static_cast<double>(w[i]);
    const double wr = wi * r;
    sse += wr * r;
    sum_r += wr;
    sum_w += wi;
    g0 += wr * x;
  }
  out[3] += sum_w;
  out[0] += g0;
  out[1] += sse;
  out[2] += sum_r;
}

/// Row-major chunk for a compile-time feature count D <= 8: the loops over features are
/// unrolled, parameters and accumulators live in registers, and R rows are in flight at
/// once with their own accumulators (combined at the end in a fixed order), so a chunk
/// costs a few instructions per element instead of a loop per row.
template <int D, class TX, class TY, class W>
void row_major_small(const TX* X, std::int64_t stride, const TY* y, std::int64_t y_stride,
                     W wts, Params p, const std::int64_t* rows, std::int64_t lo,
                     std::int64_t hi, double* out) {
  if constexpr (D == 1) {
    if (rows == nullptr && stride == 1 && y_stride == 1 && wts.contiguous()) {
      if constexpr (W::kOn) {
        single_feature_stream_weighted(X, y, wts.w, p, lo, hi, out);
      } else {
        single_feature_stream(X, y, p, lo, hi, out);
      }
      return;
    }
  }
  constexpr int R = D <= 4 ? 4 : 2;
  double w[D];
  for (int k = 0; k < D; ++k) w[k] = p.w[k];
  double g[R][D] = {};
  double sse[R] = {}, sum_r[R] = {}, sum_w[R] = {};
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
        wts.prefetch(ahead);
      }
    }
    double wr[R];
    for (int j = 0; j < R; ++j) {
      const std::int64_t i = rows != nullptr ? rows[t + j] : t + j;
      x[j] = X + i * stride;
      double dot = 0.0;
      for (int k = 0; k < D; ++k) dot += static_cast<double>(x[j][k]) * w[k];
      r[j] = dot + p.b - static_cast<double>(y[i * y_stride]);
      wr[j] = weigh(wts, i, r[j], sum_w[j]);
    }
    for (int j = 0; j < R; ++j) {
      sse[j] += wr[j] * r[j];
      sum_r[j] += wr[j];
      for (int k = 0; k < D; ++k) g[j][k] += wr[j] * static_cast<double>(x[j][k]);
    }
  }
  for (; t < hi; ++t) {  // the last < R rows go to accumulator 0
    const std::int64_t i = rows != nullptr ? rows[t] : t;
    const TX* xi = X + i * stride;
    double dot = 0.0;
    for (int k = 0; k < D; ++k) dot += static_cast<double>(xi[k]) * w[k];
    const double r = dot + p.b - static_cast<double>(y[i * y_stride]);
    const double wr = weigh(wts, i, r, sum_w[0]);
    sse[0] += wr * r;
    sum_r[0] += wr;
    for (int k = 0; k < D; ++k) g[0][k] += wr * static_cast<double>(xi[k]);
  }
  for (int j = 0; j < R; ++j) {
    for (int k = 0; k < D; ++k) out[k] += g[j][k];
    out[D] += sse[j];
    out[D + 1] += sum_r[j];
    if constexpr (W::kOn) out[D + 2] += sum_w[j];
  }
}

/// Column-major chunk: residuals of a tile of rows built column by column (contiguous
/// reads), then each column's dot product with the tile's residuals.  The tile is small
/// enough that its second read comes from cache.
template <class TX, class TY, class W>
void col_major_chunk(const TX* X, std::int64_t stride, std::int64_t d, const TY* y,
                     std::int64_t y_stride, W wts, Params p, const std::int64_t* rows,
                     std::int64_t lo, std::int64_t hi, double* out) {
  constexpr std::int64_t kTile = 256;
  double r[kTile];
  [[maybe_unused]] double wt[W::kOn ? kTile : 1];  // the tile's weights, as float64
  double* g = out;
  double sse = 0.0, sum_r = 0.0, sum_w = 0.0;
  for (std::int64_t t0 = lo; t0 < hi; t0 += kTile) {
    const std::int64_t len = std::min(kTile, hi - t0);
    const std::int64_t* idx = rows != nullptr ? rows + t0 : nullptr;
    for (std::int64_t j = 0; j < len; ++j) {
      const std::int64_t i = idx != nullptr ? idx[j] : t0 + j;
      r[j] = p.b - static_cast<double>(y[i * y_stride]);
      if constexpr (W::kOn) wt[j] = wts.at(i);
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
    if constexpr (W::kOn) {
      // w r replaces r, so the gradient loop below sums (w r) x as the row-major kernels do.
      // The weights were widened above: this loop holds only doubles, so it vectorises with
      // the unweighted loop's width and groups sse and sum_r the same way.
#pragma omp simd reduction(+ : sse, sum_r, sum_w)
      for (std::int64_t j = 0; j < len; ++j) {
        const double wr = wt[j] * r[j];
        sse += wr * r[j];
        sum_r += wr;
        sum_w += wt[j];
        r[j] = wr;
      }
    } else {
#pragma omp simd reduction(+ : sse, sum_r)
      for (std::int64_t j = 0; j < len; ++j) {
        sse += r[j] * r[j];
        sum_r += r[j];
      }
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
  if constexpr (W::kOn) out[d + 2] += sum_w;
}

template <class TX, class TY, class W>
void chunk_typed(const MatrixView& X, const VectorView& y, W wts, Params p,
                 const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  const auto* x = static_cast<const TX*>(X.data);
  const auto* yv = static_cast<const TY*>(y.data);
  const std::int64_t s = X.stride, ys = y.stride;
  if (X.layout == Layout::row_major) {
    switch (X.cols) {
      case 1: return row_major_small<1>(x, s, yv, ys, wts, p, rows, lo, hi, out);
      case 2: return row_major_small<2>(x, s, yv, ys, wts, p, rows, lo, hi, out);
      case 3: return row_major_small<3>(x, s, yv, ys, wts, p, rows, lo, hi, out);
      case 4: return row_major_small<4>(x, s, yv, ys, wts, p, rows, lo, hi, out);
      case 5: return row_major_small<5>(x, s, yv, ys, wts, p, rows, lo, hi, out);
      case 6: return row_major_small<6>(x, s, yv, ys, wts, p, rows, lo, hi, out);
      case 7: return row_major_small<7>(x, s, yv, ys, wts, p, rows, lo, hi, out);
      case 8: return row_major_small<8>(x, s, yv, ys, wts, p, rows, lo, hi, out);
      default: return row_major_chunk(x, s, X.cols, yv, ys, wts, p, rows, lo, hi, out);
    }
  } else {
    col_major_chunk(x, s, X.cols, yv, ys, wts, p, rows, lo, hi, out);
  }
}

template <class W>
void chunk_dtypes(const MatrixView& X, const VectorView& y, W wts, Params p,
                  const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  const bool xf = X.dtype == DType::float32, yf = y.dtype == DType::float32;
  if (xf && yf) chunk_typed<float, float>(X, y, wts, p, rows, lo, hi, out);
  else if (xf) chunk_typed<float, double>(X, y, wts, p, rows, lo, hi, out);
  else if (yf) chunk_typed<double, float>(X, y, wts, p, rows, lo, hi, out);
  else chunk_typed<double, double>(X, y, wts, p, rows, lo, hi, out);
}

void fused_chunk(const MatrixView& X, const VectorView& y, Params p,
                        const std::int64_t* rows, std::int64_t lo, std::int64_t hi,
                        double* out) {
  chunk_dtypes(X, y, NoWeights{}, p, rows, lo, hi, out);
}

void weighted_chunk(const MatrixView& X, const VectorView& y, const VectorView& weights,
                    Params p, const std::int64_t* rows, std::int64_t lo, std::int64_t hi,
                    double* out) {
  if (weights.dtype == DType::float32) {
    chunk_dtypes(X, y, RowWeights<float>{static_cast<const float*>(weights.data), weights.stride},
                 p, rows, lo, hi, out);
  } else {
    chunk_dtypes(X, y, RowWeights<double>{static_cast<const double*>(weights.data), weights.stride},
                 p, rows, lo, hi, out);
  }
}

}  // namespace steepest::detail::STEEPEST_CPU_ISA
