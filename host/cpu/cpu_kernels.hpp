// Internal: the CPU reference kernel, one chunk of rows at a time, vectorised with
// `omp simd` (no -ffast-math: the order of every sum is fixed by the code and the vector
// width of the build, never by the thread count) and, for row-major float32 X and for every
// column-major X, with GCC vector extensions whose order is the code's alone (the same bits
// in every build).
// Included once per instruction set by host/cpu/cpu_kernels_<isa>.cpp, which defines
// STEEPEST_CPU_ISA as the namespace.
#ifndef STEEPEST_CPU_ISA
#error "define STEEPEST_CPU_ISA (baseline, avx2, avx512) before including cpu_kernels.hpp"
#endif

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

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
  [[gnu::always_inline]] void prefetch(std::int64_t) const {}
};

/// Weights in their storage type, indexed by row (not position): they follow X and y.
template <class TW>
struct RowWeights {
  static constexpr bool kOn = true;
  const TW* w;
  std::int64_t stride;
  bool contiguous() const { return stride == 1; }
  [[gnu::always_inline]] void prefetch(std::int64_t i) const { __builtin_prefetch(w + i * stride); }
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

/// Contiguous rows (no row list): ask for the lines of the \p Rows rows \p ahead_rows ahead
/// of row t, and their y (and weights); ahead_rows < 0: nothing (stream_ahead_rows).  The
/// hardware prefetcher alone keeps too few lines in flight on some cores: on an Intel Xeon VM
/// row-major float32 d = 4 ran at 5.7 GB/s a thread against a 16 GB/s read, and at 12 GB/s
/// with these 4 KB ahead (bench/results/row-prefetch-cpu-intel-vm-2026-12-02.md); on an AMD
/// EPYC (Zen 4) VM they made most passes 10-30 % slower, so there they are off by default
/// (cpu_dispatch.cpp's stream_ahead_bytes; bench/results/row-prefetch-cpu-amd-vm-2026-12-03.md).
template <int Rows, class TX, class TY, class W>
[[gnu::always_inline]] inline void prefetch_stream(const TX* X, std::int64_t stride, const TY* y, std::int64_t ys,
                                                   const W& wts, std::int64_t t, std::int64_t hi,
                                                   std::int64_t ahead_rows) {
  const std::int64_t ahead = t + ahead_rows;
  if (ahead_rows < 0 || ahead + Rows > hi) return;
  const std::int64_t row_bytes = stride * static_cast<std::int64_t>(sizeof(TX));
  const char* at = reinterpret_cast<const char*>(X + ahead * stride);
  for (std::int64_t b = 0; b < Rows * row_bytes; b += 64) __builtin_prefetch(at + b);
  __builtin_prefetch(y + ahead * ys);
  wts.prefetch(ahead);
}

/// The distance of prefetch_stream for rows of \p stride elements of TX: stream_ahead_bytes()
/// of them, or -1 when that is 0 (off).
template <class TX>
inline std::int64_t stream_ahead_rows(std::int64_t stride) noexcept {
  const std::int64_t bytes = stream_ahead_bytes(), row_bytes = stride * static_cast<std::int64_t>(sizeof(TX));
  return bytes > 0 && row_bytes > 0 ? bytes / row_bytes : -1;
}

/// Row-major chunk: per row, r = x_i . w + b - y_i; then grad += r x_i.
template <class TX, class TY, class W>
void row_major_chunk(const TX* X, std::int64_t stride, std::int64_t d, const TY* y,
                     std::int64_t y_stride, W wts, Params p, const std::int64_t* rows,
                     std::int64_t lo, std::int64_t hi, double* out) {
  double* g = out;
  double sse = 0.0, sum_r = 0.0, sum_w = 0.0;
  const std::int64_t stream_rows = stream_ahead_rows<TX>(stride);
  for (std::int64_t t = lo; t < hi; ++t) {
    const std::int64_t i = rows != nullptr ? rows[t] : t;
    if (rows != nullptr && t + 16 < hi) {  // see row_major_small: overlap the gathers
      const std::int64_t ahead = rows[t + 16];
      for (std::int64_t k = 0; k < d; k += 64 / static_cast<std::int64_t>(sizeof(TX)))
        __builtin_prefetch(X + ahead * stride + k);
      __builtin_prefetch(y + ahead * y_stride);
      wts.prefetch(ahead);
    } else if (rows == nullptr) {
      prefetch_stream<1>(X, stride, y, y_stride, wts, t, hi, stream_rows);
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
  const std::int64_t stream_rows = stream_ahead_rows<TX>(stride);
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
    } else {
      prefetch_stream<R>(X, stride, y, y_stride, wts, t, hi, stream_rows);
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
// extensions so that the baseline (two SSE2 halves), AVX2 and AVX-512 builds do the same
// operations in the same order and give the same bits.  Rows go four at a time: each
// row's floats are converted once, 4 features a group with one vector conversion; a row's
// dot product is its groups' lane products summed group after group, its 4 lanes added as
// (l0 + l1) + (l2 + l3) -- for the 4 rows at once, by a transpose-add, not one horizontal
// reduction a row -- then + x_k w_k for each of the last d % 4 features (taken as one
// vector of the 4 rows' values).  r = (dot + b) - y, wr = w r (or r), sse += wr r and
// sum_r += wr in a lane per row of the block; the gradient of a group adds (wr0 x0 + wr1
// x1) + (wr2 x2 + wr3 x3) per block.  The last < 4 rows of a chunk go one by one into lane
// 0 / the gradient.  Unit weights give the unweighted bits (1.0 r == r).

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

/// Gathered rows: ask for rows t + 32 .. t + 35 of the list (see row_major_small).  Always
/// inlined, as every prefetch helper (a house rule): merely inline, GCC dropped its call from
/// the weighted float32 row kernels as a pure one (2 prefetches left of 10 in each).
template <class TX, class TY, class W>
[[gnu::always_inline]] inline void prefetch_block(const TX* X, std::int64_t stride, std::int64_t d, const TY* y, std::int64_t ys,
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

/// The \p R rows \p x's lane partials of x . w over their first d4 features (a multiple of
/// 4), each group's parameters loaded once for the R rows; with \p keep, row j as float64 at
/// keep + j ld for wide_grad.  A row's sums do not depend on R; the 4 rows of a block at once
/// run 1.07-1.25x faster from L2 than one by one on an Intel Xeon core (AVX2 and AVX-512;
/// 0.97-1.28x in the baseline set; bench/results/f32-wide-dots-cpu-intel-vm-2026-12-03.md).
template <int R, class TX>
[[gnu::always_inline]] inline void wide_dots(const TX* const (&x)[R], const double* w, std::int64_t d4,
                                             double* keep, std::int64_t ld, F64x4 (&acc)[R]) {
  F64x4 xv, wl;
  for (int j = 0; j < R; ++j) acc[j] = F64x4{};
  for (std::int64_t k = 0; k < d4; k += 4) {
    __builtin_memcpy(&wl, w + k, sizeof wl);
    for (int j = 0; j < R; ++j) {
      load_f64x4(x[j] + k, 4, xv);
      if (keep != nullptr) __builtin_memcpy(keep + j * ld + k, &xv, sizeof xv);
      acc[j] += xv * wl;
    }
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

/// The first of a dot product's lane partials: as it is for D <= 16; beyond, added to zero
/// as f32_rows_wide's are (+0 + -0 is +0), so that D = 32 and 64 keep the wide kernel's bits
/// even to the sign of a zero.  (Out by reference: a 32-byte vector returned by value
/// changes the ABI without AVX.)
template <int D>
[[gnu::always_inline]] inline void first_term(const F64x4& p, F64x4& acc) {
  if constexpr (D > 16) {
    acc = F64x4{} + p;
  } else {
    acc = p;
  }
}

/// Float32 rows of a compile-time D (4..16, 32, 64): parameters and gradient in registers
/// (or the compiler's spills), each row converted once; the G = D / 4 groups in lanes, the
/// T = D % 4 last features as the wide kernel's (a lane per row of the block), their gradient
/// in a lane per row too, added up as (l0 + l1) + (l2 + l3) at the end.  D = 32 and 64 give
/// f32_rows_wide's bits, 40-50 % faster from L2 on a Zen 4 core (AVX-512 set; the gradient
/// in registers instead of in out, no tile stored and reloaded).
template <int D, class TX, class TY, class W>
void f32_rows_small(const TX* X, std::int64_t stride, const TY* y, std::int64_t ys, W wts, Params p,
                    const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  constexpr int G = D / 4, T = D % 4, T1 = T > 0 ? T : 1;
  F64x4 wl[G], g[G] = {}, gt[T1] = {};
  double wt[T1] = {};
  for (int m = 0; m < G; ++m) __builtin_memcpy(&wl[m], p.w + 4 * m, sizeof(F64x4));
  for (int k = 0; k < T; ++k) wt[k] = p.w[4 * G + k];
  LaneSums s;
  const std::int64_t stream_rows = stream_ahead_rows<TX>(stride);
  std::int64_t t = lo;
  for (; t + 4 <= hi; t += 4) {
    if (rows != nullptr) prefetch_block(X, stride, D, y, ys, wts, rows, t, hi);
    else prefetch_stream<4>(X, stride, y, ys, wts, t, hi, stream_rows);
    std::int64_t i[4];
    const TX* x[4];
    F64x4 xv[4][G], acc[4], col[T1], dot, wr;
    for (int j = 0; j < 4; ++j) {
      i[j] = rows != nullptr ? rows[t + j] : t + j;
      x[j] = X + i[j] * stride;
      for (int m = 0; m < G; ++m) load_f64x4(x[j] + 4 * m, 4, xv[j][m]);
      first_term<D>(xv[j][0] * wl[0], acc[j]);
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
    first_term<D>(xv[0] * wl[0], acc);
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

/// Float32 rows of any other d > 16: the 4 rows' dot products, then the gradient in out itself,
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
  const std::int64_t stream_rows = stream_ahead_rows<TX>(stride);
  std::int64_t t = lo;
  for (; t + 4 <= hi; t += 4) {
    if (rows != nullptr) prefetch_block(X, stride, d, y, ys, wts, rows, t, hi);
    else prefetch_stream<4>(X, stride, y, ys, wts, t, hi, stream_rows);
    std::int64_t i[4];
    const TX* x[4];
    F64x4 acc[4], dot, v, wr;
    for (int j = 0; j < 4; ++j) {
      i[j] = rows != nullptr ? rows[t + j] : t + j;
      x[j] = X + i[j] * stride;
    }
    wide_dots(x, p.w, d4, keep ? tile[0] : nullptr, kWideTile, acc);
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
    const TX* const xi = X + i * stride;
    const TX* const row[1] = {xi};
    F64x4 acc[1];
    wide_dots(row, p.w, d4, nullptr, 0, acc);
    double dot = lanes_total(acc[0]);
    for (std::int64_t k = d4; k < d; ++k) dot += static_cast<double>(xi[k]) * p.w[k];
    wide_grad_row(xi, row_residual(dot, y, ys, i, wts, p.b, s), d, out);
  }
  s.add_to(out + d);
  if constexpr (W::kOn) out[d + 2] += lanes_total(s.sum_w);
}

// ---- column-major X -----------------------------------------------------------------------
// Column k of X starts at X + k stride (float32 or float64, contiguous rows; stride >= the
// rows when the view is a block of a larger matrix).  Every row's residual is r = (b - y) +
// x_0 w_0 + x_1 w_1 + ..., feature after feature (the order of the kernel before these, so r
// keeps its bits), in float64 lanes, 4 rows a vector; lane j of sse, sum_r (sum_w) and of
// each gradient entry holds the rows 4 m + j of the chunk, and column k's gradient lanes get
// ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)), p_v = x_v (w r)_v, for each block of 32
// rows in order; the lanes are added (l0 + l1) + (l2 + l3) at the end.  Two ways to get
// there, with the same bits:
// - blocks (gathered rows, and contiguous rows whose 32-row block of the d columns is at
//   most kBlockBytes): the block's residuals in registers from the d column segments
//   (phase 1), then each segment again, from L1, for the gradient (phase 2); gathered
//   values are kept as float64 for phase 2 (d <= kColKeep).  Phase 1 asks for each
//   column's rows kAheadBytes of the row ahead (blocks of 32 rows are d short runs the
//   hardware prefetcher does not follow), or two blocks ahead for gathered rows;
// - tiles (wider contiguous rows): kTileBytes of rows, phase 1 four columns at a time over
//   the tile's residuals in L1, each column one run of the tile's rows, asking for the same
//   columns of the next tile; then the sums; then phase 2 column by column from L2.
// The last < 32 rows of a chunk go 4 at a time (the last vector may be short).  GCC vector
// extensions, as the float32 row kernels: the same bits in every build.

/// Entries t..t+n-1 (n <= 4) of \p base (element i at base[i step]), of the positions of
/// \p rows when Gather, as float64 lanes, zeros past n.
template <bool Gather, class T>
[[gnu::always_inline]] inline void gather_lanes(const T* base, std::int64_t step, const std::int64_t* rows,
                                                std::int64_t t, std::int64_t n, F64x4& v) {
  if (!Gather && step == 1) {
    load_f64x4(base + t, n, v);
    return;
  }
  double a[4] = {};
  for (std::int64_t l = 0; l < n; ++l) a[l] = static_cast<double>(base[(Gather ? rows[t + l] : t + l) * step]);
  __builtin_memcpy(&v, a, sizeof v);
}

/// g[0..3] += v (g need not be 32-byte aligned).
[[gnu::always_inline]] inline void add_lanes(double* g, const F64x4& v) {
  F64x4 a;
  __builtin_memcpy(&a, g, sizeof a);
  a += v;
  __builtin_memcpy(g, &a, sizeof a);
}

/// One column-major pass over a chunk: its inputs, the gradient's lanes and the sums.
template <class TX, class TY, class W>
struct ColPass {
  const TX* X;
  std::int64_t stride, d;
  const TY* y;
  std::int64_t ys;
  W wts;
  Params p;
  const std::int64_t* rows;
  std::int64_t ahead, limit;  // prefetch: rows (positions) ahead of the block, while < limit
  double* kept;               // Keep: the block's values as float64, 4 V a column
  double* g;                  // d gradient lanes, 4 values each
  LaneSums s;
};

/// Phase 1 prefetch: column \p col's rows ahead of the block at t (one address a line).
template <int V, bool Gather, class TX, class TY, class W>
[[gnu::always_inline]] inline void col_prefetch(const ColPass<TX, TY, W>& c, const TX* col, std::int64_t t) {
  const std::int64_t at = t + c.ahead;
  if (at + 4 * V > c.limit) return;
  if constexpr (Gather) {
    for (std::int64_t j = 0; j < 4 * V; ++j) __builtin_prefetch(col + c.rows[at + j]);
  } else {
    for (std::int64_t j = 0; j < 4 * V; j += 64 / static_cast<std::int64_t>(sizeof(TX))) __builtin_prefetch(col + at + j);
  }
}

/// Phase 1 of the n positions from t (n = 4 V, or 1..4 when V = 1): the residuals, zero
/// past n.
template <int V, bool Gather, bool Keep, class TX, class TY, class W>
[[gnu::always_inline]] inline void col_residuals(ColPass<TX, TY, W>& c, std::int64_t t, std::int64_t n,
                                                 F64x4 (&r)[V]) {
  const std::int64_t nv = V == 1 ? n : 4;
  F64x4 x{};
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) {
    gather_lanes<Gather>(c.y, c.ys, c.rows, t + 4 * v, nv, x);
    r[v] = c.p.b - x;
  }
  for (std::int64_t k = 0; k < c.d; ++k) {
    const TX* col = c.X + k * c.stride;
    const double wk = c.p.w[k];
    col_prefetch<V, Gather>(c, col, t);
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      gather_lanes<Gather>(col, 1, c.rows, t + 4 * v, nv, x);
      if constexpr (Keep) __builtin_memcpy(c.kept + 4 * (V * k + v), &x, sizeof x);
      r[v] += x * wk;
    }
  }
  if constexpr (V == 1)
    for (std::int64_t l = n; l < 4; ++l) r[0][l] = 0.0;
}

/// A block of n positions from t (as col_residuals): residuals, sums, gradient lanes.
template <int V, bool Gather, bool Keep, class TX, class TY, class W>
[[gnu::always_inline]] inline void col_block(ColPass<TX, TY, W>& c, std::int64_t t, std::int64_t n) {
  const std::int64_t nv = V == 1 ? n : 4;
  F64x4 r[V], wr[V], x{};
  col_residuals<V, Gather, Keep>(c, t, n, r);
  LaneSums s = c.s;
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) {
    if constexpr (W::kOn) {
      gather_lanes<Gather>(c.wts.w, c.wts.stride, c.rows, t + 4 * v, nv, x);
      s.sum_w += x;
      wr[v] = x * r[v];
    } else {
      wr[v] = r[v];
    }
    s.sse += wr[v] * r[v];
    s.sum_r += wr[v];
  }
  c.s = s;
  for (std::int64_t k = 0; k < c.d; ++k) {
    const TX* col = c.X + k * c.stride;
    F64x4 part[V];
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      if constexpr (Keep) {
        __builtin_memcpy(&x, c.kept + 4 * (V * k + v), sizeof x);
      } else {
        gather_lanes<Gather>(col, 1, c.rows, t + 4 * v, nv, x);
      }
      part[v] = x * wr[v];
    }
    if constexpr (V == 8) {
      add_lanes(c.g + 4 * k, ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7])));
    } else {
      static_assert(V == 1, "blocks of 8 or 1 vectors");
      add_lanes(c.g + 4 * k, part[0]);
    }
  }
}

/// Positions lo..hi: blocks of 32, then of 4 (the last may be short).
template <bool Gather, bool Keep, class TX, class TY, class W>
void col_blocks(ColPass<TX, TY, W>& c, std::int64_t lo, std::int64_t hi) {
  constexpr int V = 8;
  std::int64_t t = lo;
  for (; t + 4 * V <= hi; t += 4 * V) col_block<V, Gather, Keep>(c, t, 4 * V);
  for (; t < hi; t += 4) col_block<1, Gather, Keep>(c, t, std::min<std::int64_t>(4, hi - t));
}

/// Phase 1 over a tile for K columns from k: rt[j] += x_k w_k + ... feature after feature, one
/// load and store of rt for K columns; the same K columns of the next tile asked for (into
/// L2: the tile is too large for L1).
template <int K, class TX, class TY, class W>
[[gnu::always_inline]] inline void col_tile_columns(const ColPass<TX, TY, W>& c, std::int64_t k, std::int64_t t,
                                                    std::int64_t T, double* rt) {
  constexpr std::int64_t kLine = 64 / static_cast<std::int64_t>(sizeof(TX));
  const TX* col[K];
  double wk[K];
  for (int q = 0; q < K; ++q) {
    col[q] = c.X + (k + q) * c.stride + t;
    wk[q] = c.p.w[k + q];
  }
  const bool ask = t + T + c.ahead <= c.limit;
  F64x4 r, x{};
  for (std::int64_t j = 0; j < T; j += 4) {
    if (ask && j % kLine == 0)
      for (int q = 0; q < K; ++q) __builtin_prefetch(col[q] + c.ahead + j, 0, 1);  // prefetcht2
    __builtin_memcpy(&r, rt + j, sizeof r);
    for (int q = 0; q < K; ++q) {
      load_f64x4(col[q] + j, 4, x);
      r += x * wk[q];
    }
    __builtin_memcpy(rt + j, &r, sizeof r);
  }
}

/// The sums of a tile's residuals rt (rows in lane j % 4), and w r into rt.
template <class TX, class TY, class W>
[[gnu::always_inline]] inline void col_tile_sums(ColPass<TX, TY, W>& c, std::int64_t t, std::int64_t T, double* rt) {
  F64x4 x{}, r, wr;
  LaneSums s = c.s;  // in registers: the stores to rt may alias c
  for (std::int64_t j = 0; j < T; j += 4) {
    __builtin_memcpy(&r, rt + j, sizeof r);
    if constexpr (W::kOn) {
      gather_lanes<false>(c.wts.w, c.wts.stride, nullptr, t + j, 4, x);
      s.sum_w += x;
      wr = x * r;
    } else {
      wr = r;
    }
    s.sse += wr * r;
    s.sum_r += wr;
    __builtin_memcpy(rt + j, &wr, sizeof wr);
  }
  c.s = s;
}

/// Contiguous positions t..t+T (T a multiple of 32): phase 1 four columns at a time, each
/// column read as one run of T values, the residuals in \p rt (L1); the sums, w r into rt;
/// then phase 2 column after column, 32 rows at a time as col_block (the same bits), the tile
/// read again from L2.  (Keeping float32 tiles converted, as float64, was slower: twice the
/// bytes through L2.)
template <class TX, class TY, class W>
void col_tile(ColPass<TX, TY, W>& c, std::int64_t t, std::int64_t T, double* rt) {
  F64x4 x{}, r, wr, part[8];
  for (std::int64_t j = 0; j < T; j += 4) {
    gather_lanes<false>(c.y, c.ys, nullptr, t + j, 4, x);
    r = c.p.b - x;
    __builtin_memcpy(rt + j, &r, sizeof r);
  }
  std::int64_t k = 0;
  for (; k + 4 <= c.d; k += 4) col_tile_columns<4>(c, k, t, T, rt);
  for (; k < c.d; ++k) col_tile_columns<1>(c, k, t, T, rt);
  col_tile_sums(c, t, T, rt);
  for (k = 0; k < c.d; ++k) {
    const TX* col = c.X + k * c.stride + t;
    for (std::int64_t j0 = 0; j0 < T; j0 += 32) {
#pragma GCC unroll 8
      for (int v = 0; v < 8; ++v) {
        load_f64x4(col + j0 + 4 * v, 4, x);
        __builtin_memcpy(&wr, rt + j0 + 4 * v, sizeof wr);
        part[v] = x * wr;
      }
      add_lanes(c.g + 4 * k, ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7])));
    }
  }
}

/// Contiguous positions lo..hi: tiles of whole blocks of 32, then blocks of 4.
template <class TX, class TY, class W>
void col_contiguous(ColPass<TX, TY, W>& c, std::int64_t lo, std::int64_t hi, std::int64_t tile, double* rt) {
  std::int64_t t = lo;
  while (t + 32 <= hi) {
    const std::int64_t T = std::min(tile, (hi - t) / 32 * 32);
    col_tile(c, t, T, rt);
    t += T;
  }
  for (; t < hi; t += 4) col_block<1, false, false>(c, t, std::min<std::int64_t>(4, hi - t));
}

/// Column-major chunk (see above).
template <class TX, class TY, class W>
void col_major_chunk(const TX* X, std::int64_t stride, std::int64_t d, std::int64_t n_rows, const TY* y,
                     std::int64_t ys, W wts, Params p, const std::int64_t* rows, std::int64_t lo,
                     std::int64_t hi, double* out) {
  constexpr std::int64_t kRows = 32, kColKeep = 64, kMaxTile = 2048;
  constexpr std::int64_t kBlockBytes = 2048, kAheadBytes = 8192, kTileBytes = 65536;
  const std::int64_t per_row = d * static_cast<std::int64_t>(sizeof(TX));
  const bool blocks = rows != nullptr || kRows * per_row <= kBlockBytes;
  const std::int64_t tile = std::clamp(kTileBytes / per_row / kRows * kRows, kRows, kMaxTile);
  // Per thread, kept between calls: a tile's residuals, the gradient lanes, a gathered
  // block's values as float64.
  thread_local std::vector<double> rt, kept, lanes;
  if (rt.size() < static_cast<std::size_t>(tile)) rt.resize(static_cast<std::size_t>(tile));
  if (lanes.size() < static_cast<std::size_t>(4 * d)) lanes.resize(static_cast<std::size_t>(4 * d));
  if (kept.size() < static_cast<std::size_t>(kRows * kColKeep)) kept.resize(static_cast<std::size_t>(kRows * kColKeep));
  double* g = lanes.data();
  std::fill(g, g + 4 * d, 0.0);
  // Prefetch distance: gathered rows (every value a line of its own), two blocks; blocks,
  // kAheadBytes of the d columns, in whole blocks; tiles, the next tile.
  const std::int64_t ahead = rows != nullptr ? 2 * kRows
                             : blocks       ? std::max(kRows, (kAheadBytes / per_row + kRows - 1) / kRows * kRows)
                                            : tile;
  ColPass<TX, TY, W> c{X, stride, d, y, ys, wts, p, rows, ahead, rows != nullptr ? hi : n_rows, kept.data(), g,
                       LaneSums{}};
  if (rows == nullptr) {
    blocks ? col_blocks<false, false>(c, lo, hi) : col_contiguous(c, lo, hi, tile, rt.data());
  } else if (d <= kColKeep) {
    col_blocks<true, true>(c, lo, hi);
  } else {
    col_blocks<true, false>(c, lo, hi);
  }
  for (std::int64_t k = 0; k < d; ++k) out[k] += (g[4 * k] + g[4 * k + 1]) + (g[4 * k + 2] + g[4 * k + 3]);
  c.s.add_to(out + d);
  if constexpr (W::kOn) out[d + 2] += lanes_total(c.s.sum_w);
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
    case 32: return f32_rows_small<32>(x, s, yv, ys, wts, p, rows, lo, hi, out);
    case 64: return f32_rows_small<64>(x, s, yv, ys, wts, p, rows, lo, hi, out);
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
    col_major_chunk(x, s, X.cols, X.rows, yv, ys, wts, p, rows, lo, hi, out);
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
