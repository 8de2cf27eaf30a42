// Internal: the CPU reference kernel, one chunk of rows at a time, vectorised with
// `omp simd` (no -ffast-math: the order of every sum is fixed by the code and the vector
// width of the build, never by the thread count) and, for row-major float32 X, with GCC
// vector extensions whose order is the code's alone (the same bits in every build).
// Included once per instruction set by host/cpu/cpu_kernels_<isa>.cpp, which defines
// STEEPEST_CPU_ISA as the namespace.
#ifndef STEEPEST_CPU_ISA
#error "define STEEPEST_CPU_ISA (baseline, avx2) before including cpu_kernels.hpp"
#endif

#include <algorithm>
#include <cstdint>
#include <type_traits>

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

// ---- float32 rows, four at a time ---------------------------------------------------------
// Row-major float32 X with d >= 4 (float64 X, and d < 4, keep the kernels above and their
// bits): the features of a row sit in float64 lanes, F64x4, written with GCC vector
// extensions so that the baseline (two SSE2 halves) and AVX2 builds do the same operations
// in the same order and give the same bits.  Rows go four at a time: each row's floats are
// converted once, 4 features a group with one vector conversion; a row's dot product is
// its groups' lane products summed group after group, its 4 lanes added as (l0 + l1) +
// (l2 + l3) -- for the 4 rows at once, by a transpose-add, not one horizontal reduction a
// row -- then + x_k w_k for each of the last d % 4 features (taken as one vector of the 4
// rows' values).  r = (dot + b) - y, wr = w r (or r), sse += wr r and sum_r += wr in a
// lane per row of the block; the gradient of a group adds (wr0 x0 + wr1 x1) + (wr2 x2 +
// wr3 x3) per block.  The last < 4 rows of a chunk go one by one into lane 0 / the
// gradient.  Unit weights give the unweighted bits (1.0 r == r).

using F64x4 = double __attribute__((vector_size(32)));
using F32x4 = float __attribute__((vector_size(16)));
using I64x4 = long long __attribute__((vector_size(32)));

/// n (1..4) consecutive values from \p x as float64 lanes, zeros past n (by reference: a
/// 32-byte vector returned by value changes the ABI without AVX).
template <class T>
[[gnu::always_inline]] inline void load_f64x4(const T* x, std::int64_t n, F64x4& v) {
  if (n == 4) {
    if constexpr (std::is_same_v<T, float>) {
      F32x4 f;
      __builtin_memcpy(&f, x, sizeof f);
      v = F64x4{f[0], f[1], f[2], f[3]};  // one vcvtps2pd (GCC 12 splits __builtin_convertvector)
    } else {
      __builtin_memcpy(&v, x, sizeof v);
    }
    return;
  }
  v = F64x4{};
  for (std::int64_t l = 0; l < n; ++l) v[l] = static_cast<double>(x[l]);
}

inline double lanes_total(const F64x4& v) { return (v[0] + v[1]) + (v[2] + v[3]); }

/// lanes_total of a[0..3] as the 4 lanes of \p out: the same sums in the same order.
[[gnu::always_inline]] inline void lanes_totals(const F64x4 (&a)[4], F64x4& out) {
  const F64x4 ab = __builtin_shuffle(a[0], a[1], I64x4{0, 4, 2, 6}) +
                   __builtin_shuffle(a[0], a[1], I64x4{1, 5, 3, 7});  // a0 01, a1 01, a0 23, a1 23
  const F64x4 cd = __builtin_shuffle(a[2], a[3], I64x4{0, 4, 2, 6}) +
                   __builtin_shuffle(a[2], a[3], I64x4{1, 5, 3, 7});
  out = __builtin_shuffle(ab, cd, I64x4{0, 1, 4, 5}) + __builtin_shuffle(ab, cd, I64x4{2, 3, 6, 7});
}

/// sse, sum_r, sum_w of the float32 row kernels: lane j holds rows 4 m + j of the chunk.
struct LaneSums {
  F64x4 sse{}, sum_r{}, sum_w{};
  void add_to(double* out) const {  // out = [sse, sum_r(, sum_w)]
    out[0] += lanes_total(sse);
    out[1] += lanes_total(sum_r);
  }
};

/// The 4 rows i[] of a block: r = (dot + b) - y from the rows' dot products \p dot, their
/// multipliers \p wr (w r, or r), and the sums.
template <class TY, class W>
[[gnu::always_inline]] inline void block_residuals(const F64x4& dot, const TY* y, std::int64_t ys,
                                                   const std::int64_t (&i)[4], const W& wts, double b,
                                                   F64x4& wr, LaneSums& s) {
  F64x4 yv;
  if (ys == 1 && i[3] == i[0] + 3 && i[1] == i[0] + 1 && i[2] == i[0] + 2) {
    load_f64x4(y + i[0], 4, yv);  // the same values, one vector load
  } else {
    yv = F64x4{static_cast<double>(y[i[0] * ys]), static_cast<double>(y[i[1] * ys]),
               static_cast<double>(y[i[2] * ys]), static_cast<double>(y[i[3] * ys])};
  }
  const F64x4 r = (dot + b) - yv;
  if constexpr (W::kOn) {
    const F64x4 wv = {wts.at(i[0]), wts.at(i[1]), wts.at(i[2]), wts.at(i[3])};
    s.sum_w += wv;
    wr = wv * r;
  } else {
    wr = r;
  }
  s.sse += wr * r;
  s.sum_r += wr;
}

/// One row i (a chunk's last < 4) of dot product \p dot: its multiplier, its sums added to lane 0.
template <class TY, class W>
[[gnu::always_inline]] inline double row_residual(double dot, const TY* y, std::int64_t ys,
                                                  std::int64_t i, const W& wts, double b, LaneSums& s) {
  const double r = (dot + b) - static_cast<double>(y[i * ys]);
  double sum_w = 0.0;
  const double wr = weigh(wts, i, r, sum_w);
  s.sse[0] += wr * r;
  s.sum_r[0] += wr;
  if constexpr (W::kOn) s.sum_w[0] += sum_w;
  return wr;
}

/// Gathered rows: ask for rows t + 32 .. t + 35 of the list (see row_major_small).
template <class TX, class TY, class W>
inline void prefetch_block(const TX* X, std::int64_t stride, std::int64_t d, const TY* y, std::int64_t ys,
                           const W& wts, const std::int64_t* rows, std::int64_t t, std::int64_t hi) {
  constexpr std::int64_t kAhead = 32;
  for (std::int64_t j = 0; j < 4 && t + kAhead + j < hi; ++j) {
    const std::int64_t ahead = rows[t + kAhead + j];
    for (std::int64_t k = 0; k < d; k += 64 / static_cast<std::int64_t>(sizeof(TX)))
      __builtin_prefetch(X + ahead * stride + k);
    __builtin_prefetch(y + ahead * ys);
    wts.prefetch(ahead);
  }
}

// Rows of d > 16 features: the first d4 = d - d % 4 in lanes as above; each of the last
// d % 4 features of the 4 rows of a block goes as one vector of the 4 rows' values (a row's
// dot product is its lanes' total, then + x_k w_k feature after feature; the gradient of
// such a feature adds (wr0 x0 + wr1 x1) + (wr2 x2 + wr3 x3), as a lane of the others does).

/// Row \p x's lane partials of x . w over its first d4 features (a multiple of 4); with
/// \p keep, the row as float64 is kept there for wide_grad.
template <class TX>
[[gnu::always_inline]] inline void wide_dot(const TX* x, const double* w, std::int64_t d4, F64x4& acc,
                                            double* keep) {
  F64x4 xv, wl;
  acc = F64x4{};
  for (std::int64_t k = 0; k < d4; k += 4) {
    load_f64x4(x + k, 4, xv);
    if (keep != nullptr) __builtin_memcpy(keep + k, &xv, sizeof xv);
    __builtin_memcpy(&wl, w + k, sizeof wl);
    acc += xv * wl;
  }
}

/// Feature k of the 4 rows \p x as lanes.
template <class TX>
[[gnu::always_inline]] inline void feature_lanes(const TX* const (&x)[4], std::int64_t k, F64x4& v) {
  v = F64x4{static_cast<double>(x[0][k]), static_cast<double>(x[1][k]), static_cast<double>(x[2][k]),
            static_cast<double>(x[3][k])};
}

/// g += (wr0 x0 + wr1 x1) + (wr2 x2 + wr3 x3) over the first d4 features, from \p xk (the
/// rows kept as float64, or the rows themselves read again from L1), then the last ones.
template <class TK, class TX>
[[gnu::always_inline]] inline void wide_grad(const TK* const (&xk)[4], const TX* const (&x)[4],
                                             const F64x4& wr, std::int64_t d4, std::int64_t d, double* g) {
  F64x4 v0, v1, v2, v3, gl;  // named, not an array: kept in registers
  for (std::int64_t k = 0; k < d4; k += 4) {
    load_f64x4(xk[0] + k, 4, v0);
    load_f64x4(xk[1] + k, 4, v1);
    load_f64x4(xk[2] + k, 4, v2);
    load_f64x4(xk[3] + k, 4, v3);
    __builtin_memcpy(&gl, g + k, sizeof gl);
    gl += (v0 * wr[0] + v1 * wr[1]) + (v2 * wr[2] + v3 * wr[3]);
    __builtin_memcpy(g + k, &gl, sizeof gl);
  }
  for (std::int64_t k = d4; k < d; ++k) {
    feature_lanes(x, k, v0);
    g[k] += lanes_total(v0 * wr);
  }
}

/// g += wr x over d features, for one row.
template <class TX>
[[gnu::always_inline]] inline void wide_grad_row(const TX* x, double wr, std::int64_t d, double* g) {
  F64x4 v, gl;
  std::int64_t k = 0;
  for (; k + 4 <= d; k += 4) {
    load_f64x4(x + k, 4, v);
    __builtin_memcpy(&gl, g + k, sizeof gl);
    gl += v * wr;
    __builtin_memcpy(g + k, &gl, sizeof gl);
  }
  for (; k < d; ++k) g[k] += static_cast<double>(x[k]) * wr;
}

/// Float32 rows of a compile-time D (4..16): parameters and gradient in registers, each
/// row converted once; the G = D / 4 groups in lanes, the T = D % 4 last features as the
/// wide kernel's (a lane per row of the block), their gradient in a lane per row too, added
/// up as (l0 + l1) + (l2 + l3) at the end.
template <int D, class TX, class TY, class W>
void f32_rows_small(const TX* X, std::int64_t stride, const TY* y, std::int64_t ys, W wts, Params p,
                    const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  constexpr int G = D / 4, T = D % 4, T1 = T > 0 ? T : 1;
  F64x4 wl[G], g[G] = {}, gt[T1] = {};
  double wt[T1] = {};
  for (int m = 0; m < G; ++m) __builtin_memcpy(&wl[m], p.w + 4 * m, sizeof(F64x4));
  for (int k = 0; k < T; ++k) wt[k] = p.w[4 * G + k];
  LaneSums s;
  std::int64_t t = lo;
  for (; t + 4 <= hi; t += 4) {
    if (rows != nullptr) prefetch_block(X, stride, D, y, ys, wts, rows, t, hi);
    std::int64_t i[4];
    const TX* x[4];
    F64x4 xv[4][G], acc[4], col[T1], dot, wr;
    for (int j = 0; j < 4; ++j) {
      i[j] = rows != nullptr ? rows[t + j] : t + j;
      x[j] = X + i[j] * stride;
      for (int m = 0; m < G; ++m) load_f64x4(x[j] + 4 * m, 4, xv[j][m]);
      acc[j] = xv[j][0] * wl[0];
      for (int m = 1; m < G; ++m) acc[j] += xv[j][m] * wl[m];
    }
    lanes_totals(acc, dot);
    for (int k = 0; k < T; ++k) {
      feature_lanes(x, 4 * G + k, col[k]);
      dot += col[k] * wt[k];
    }
    block_residuals(dot, y, ys, i, wts, p.b, wr, s);
    for (int m = 0; m < G; ++m)
      g[m] += (xv[0][m] * wr[0] + xv[1][m] * wr[1]) + (xv[2][m] * wr[2] + xv[3][m] * wr[3]);
    for (int k = 0; k < T; ++k) gt[k] += col[k] * wr;
  }
  for (; t < hi; ++t) {
    const std::int64_t i = rows != nullptr ? rows[t] : t;
    const TX* xi = X + i * stride;
    F64x4 xv[G], acc;
    for (int m = 0; m < G; ++m) load_f64x4(xi + 4 * m, 4, xv[m]);
    acc = xv[0] * wl[0];
    for (int m = 1; m < G; ++m) acc += xv[m] * wl[m];
    double dot = lanes_total(acc);
    for (int k = 0; k < T; ++k) dot += static_cast<double>(xi[4 * G + k]) * wt[k];
    const double wr = row_residual(dot, y, ys, i, wts, p.b, s);
    for (int m = 0; m < G; ++m) g[m] += xv[m] * wr;
    for (int k = 0; k < T; ++k) gt[k][0] += static_cast<double>(xi[4 * G + k]) * wr;
  }
  for (int k = 0; k < 4 * G; ++k) out[k] += g[k / 4][k % 4];
  for (int k = 0; k < T; ++k) out[4 * G + k] += lanes_total(gt[k]);
  s.add_to(out + D);
  if constexpr (W::kOn) out[D + 2] += lanes_total(s.sum_w);
}

/// Float32 rows of any d > 16: the 4 rows' dot products, then the gradient in out itself,
/// from the rows converted once into a float64 tile (L1) when d <= kWideTile, else
/// converted again (the same values: both paths give the same bits).
template <class TX, class TY, class W>
void f32_rows_wide(const TX* X, std::int64_t stride, std::int64_t d, const TY* y, std::int64_t ys, W wts,
                   Params p, const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  constexpr std::int64_t kWideTile = 256;
  alignas(32) double tile[4][kWideTile];
  const double* const kept[4] = {tile[0], tile[1], tile[2], tile[3]};
  const std::int64_t d4 = d - d % 4;
  const bool keep = d4 <= kWideTile;
  LaneSums s;
  std::int64_t t = lo;
  for (; t + 4 <= hi; t += 4) {
    if (rows != nullptr) prefetch_block(X, stride, d, y, ys, wts, rows, t, hi);
    std::int64_t i[4];
    const TX* x[4];
    F64x4 acc[4], dot, v, wr;
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      i[j] = rows != nullptr ? rows[t + j] : t + j;
      x[j] = X + i[j] * stride;
      wide_dot(x[j], p.w, d4, acc[j], keep ? tile[j] : nullptr);
    }
    lanes_totals(acc, dot);
    for (std::int64_t k = d4; k < d; ++k) {
      feature_lanes(x, k, v);
      dot += v * p.w[k];
    }
    block_residuals(dot, y, ys, i, wts, p.b, wr, s);
    if (keep) {
      wide_grad(kept, x, wr, d4, d, out);
    } else {
      wide_grad(x, x, wr, d4, d, out);
    }
  }
  for (; t < hi; ++t) {
    const std::int64_t i = rows != nullptr ? rows[t] : t;
    const TX* xi = X + i * stride;
    F64x4 acc;
    wide_dot(xi, p.w, d4, acc, nullptr);
    double dot = lanes_total(acc);
    for (std::int64_t k = d4; k < d; ++k) dot += static_cast<double>(xi[k]) * p.w[k];
    wide_grad_row(xi, row_residual(dot, y, ys, i, wts, p.b, s), d, out);
  }
  s.add_to(out + d);
  if constexpr (W::kOn) out[d + 2] += lanes_total(s.sum_w);
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

/// Row-major float32 X of d >= 4.
template <class TX, class TY, class W>
void f32_row_major(const TX* x, std::int64_t s, std::int64_t d, const TY* yv, std::int64_t ys, W wts,
                   Params p, const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  switch (d) {
    case 4: return f32_rows_small<4>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 5: return f32_rows_small<5>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 6: return f32_rows_small<6>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 7: return f32_rows_small<7>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 8: return f32_rows_small<8>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 9: return f32_rows_small<9>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 10: return f32_rows_small<10>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 11: return f32_rows_small<11>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 12: return f32_rows_small<12>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 13: return f32_rows_small<13>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 14: return f32_rows_small<14>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 15: return f32_rows_small<15>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 16: return f32_rows_small<16>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    default: return f32_rows_wide(x, s, d, yv, ys, wts, p, rows, lo, hi, out);
  }
}

template <class TX, class TY, class W>
void chunk_typed(const MatrixView& X, const VectorView& y, W wts, Params p,
                 const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  const auto* x = static_cast<const TX*>(X.data);
  const auto* yv = static_cast<const TY*>(y.data);
  const std::int64_t s = X.stride, ys = y.stride;
  if constexpr (std::is_same_v<TX, float>) {
    if (X.layout == Layout::row_major && X.cols >= 4)  // d < 4 keeps row_major_small
      return f32_row_major(x, s, X.cols, yv, ys, wts, p, rows, lo, hi, out);
  }
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
