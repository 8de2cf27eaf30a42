// Internal: the CPU Gram kernel (backend/gram.hpp): the shifted sums S2 = sum w z z^T,
// S1 = sum w z, W, rows of one group of rows.  Included once per instruction set, beside
// cpu_kernels.hpp, by host/cpu/cpu_kernels_<isa>.cpp (STEEPEST_CPU_ISA is the namespace).
//
// Row-major rows of d <= 4 features stream through vector accumulators (gram_small), 4 rows
// an iteration: vector loads, a 4 x d transpose by shuffles in the storage type, one
// widening a vector, each lane of an accumulator one of every 4th row.
// Wider rows, and column-major X, go through in tiles of kGramTile rows (gram_tiled), a
// small GEMM: each tile is packed as float64 shifted values z = (x - s_x, y - s_y) in
// panels of 4 columns, row after row (and, weighted, a second copy times w).  Each block
// of 4 x 12 entries of S2 on or above the diagonal (4 x 8, 4 x 4 at a row's end) sums
// zw_j z_k over the tile's rows in 12 vector accumulators, each lane a different column k:
// a broadcast zw_j times 4 values of z, no horizontal sums.  The < 4 columns of a last,
// partial panel (y's column at least) take a vector of 4 rows j times a broadcast z_k.
// Every entry's tile sum runs over the tile's rows in order; it is added to the group's
// full matrix, and the group's sums to out at its end: the order of every sum is fixed by
// the group's rows alone, never by the thread count, and the baseline, AVX2 and AVX-512
// builds do the same operations (GCC vector extensions, no FMA) and so give the same bits.
#ifndef STEEPEST_CPU_ISA
#error "define STEEPEST_CPU_ISA (baseline, avx2, avx512) before including cpu_gram.hpp"
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "backend/gram.hpp"
#include "steepest/data.hpp"

namespace steepest::detail::STEEPEST_CPU_ISA {

/// Four float64 lanes (GCC lowers them to what the instruction set has: two SSE2 halves in
/// the baseline build, one AVX register in the AVX2 and AVX-512 ones).
using Lanes = double __attribute__((vector_size(32)));

inline double lane_sum(const Lanes& v) { return (v[0] + v[1]) + (v[2] + v[3]); }

/// Four consecutive values from \p p as float64 lanes into \p v (a vector load and, for
/// float32, a vector conversion: each lane the value static_cast<double> gives).  By
/// reference: a 32-byte vector returned by value changes the ABI without AVX.
template <class T>
inline void load_lanes(const T* p, Lanes& v) {
  if constexpr (std::is_same_v<T, double>) {
    __builtin_memcpy(&v, p, sizeof v);
  } else {
    static_assert(std::is_same_v<T, float>, "float32 or float64 storage");
    using Floats = float __attribute__((vector_size(16)));
    Floats f;
    __builtin_memcpy(&f, p, sizeof f);
    v = __builtin_convertvector(f, Lanes);
  }
}

/// Four values of storage type T as one vector (float32: 16 bytes, float64: 32).
template <class T>
struct QuadOf;
template <>
struct QuadOf<float> {
  using type = float __attribute__((vector_size(16)));
};
template <>
struct QuadOf<double> {
  using type = Lanes;
};
template <class T>
using Quad = typename QuadOf<T>::type;

template <class T>
inline void load_quad(const T* p, Quad<T>& q) {
  __builtin_memcpy(&q, p, sizeof q);
}

/// Four stored values as float64 lanes: each lane the value static_cast<double> gives.  The
/// widening is exact, so the instruction does not change a bit; with AVX it is one
/// vcvtps2pd ymm, which GCC 12 does not make of __builtin_convertvector (it converts halves
/// through the stack: d = 4 at 49% of the read ceiling instead of the 80% target).
template <class T>
inline void widen(const Quad<T>& q, Lanes& v) {
  if constexpr (std::is_same_v<T, double>) {
    v = q;
  } else {
#if defined(__AVX__)
    v = reinterpret_cast<Lanes>(_mm256_cvtps_pd(reinterpret_cast<__m128>(q)));
#else
    v = __builtin_convertvector(q, Lanes);
#endif
  }
}

/// The 4 x 4 transpose of rows a, b, c, e: z[k] = (a[k], b[k], c[k], e[k]), in 8 shuffles
/// (float64: in-lane unpacks, then 128-bit halves; float32: the SSE unpack / movlh pattern).
template <class Q>
inline void transpose4(const Q& a, const Q& b, const Q& c, const Q& e, Q* z) {
  if constexpr (sizeof(Q) == 32) {
    const Q t0 = __builtin_shufflevector(a, b, 0, 4, 2, 6), t1 = __builtin_shufflevector(a, b, 1, 5, 3, 7);
    const Q t2 = __builtin_shufflevector(c, e, 0, 4, 2, 6), t3 = __builtin_shufflevector(c, e, 1, 5, 3, 7);
    z[0] = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    z[1] = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    z[2] = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    z[3] = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
  } else {
    const Q t0 = __builtin_shufflevector(a, b, 0, 4, 1, 5), t1 = __builtin_shufflevector(a, b, 2, 6, 3, 7);
    const Q t2 = __builtin_shufflevector(c, e, 0, 4, 1, 5), t3 = __builtin_shufflevector(c, e, 2, 6, 3, 7);
    z[0] = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    z[1] = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    z[2] = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    z[3] = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
  }
}

/// The 4 packed rows of D values at \p p (4 D consecutive values) as D quads, q[k] = feature
/// k of the 4 rows: D vector loads, then shuffles in the storage type (before widening, so
/// float32 shuffles move 16 bytes, not 32).
template <int D, class T>
inline void packed_quads(const T* p, Quad<T>* q) {
  Quad<T> a, b, c, e;
  load_quad(p, a);
  if constexpr (D == 1) {
    q[0] = a;
  } else if constexpr (D == 2) {  // a = (r0x0 r0x1 r1x0 r1x1), b = rows 2, 3
    load_quad(p + 4, b);
    q[0] = __builtin_shufflevector(a, b, 0, 2, 4, 6);
    q[1] = __builtin_shufflevector(a, b, 1, 3, 5, 7);
  } else if constexpr (D == 3) {  // a = (r0x0 r0x1 r0x2 r1x0), b = (r1x1 r1x2 r2x0 r2x1), c = (r2x2 r3x0 r3x1 r3x2)
    load_quad(p + 4, b);
    load_quad(p + 8, c);
    const Quad<T> t0 = __builtin_shufflevector(a, b, 0, 3, 6, 7), t1 = __builtin_shufflevector(a, b, 1, 4, 7, 7),
                  t2 = __builtin_shufflevector(a, b, 2, 5, 5, 5);
    q[0] = __builtin_shufflevector(t0, c, 0, 1, 2, 5);
    q[1] = __builtin_shufflevector(t1, c, 0, 1, 2, 6);
    q[2] = __builtin_shufflevector(t2, c, 0, 1, 4, 7);
  } else {
    static_assert(D == 4, "d <= 4");
    load_quad(p + 4, b);
    load_quad(p + 8, c);
    load_quad(p + 12, e);
    transpose4(a, b, c, e, q);
  }
}

/// A group's sums for D <= 4 features in vector accumulators, each lane one of every 4th row
/// (the last < 4 rows go to lane 0): S2's packed triangle, S1, and (weighted) W.  add takes
/// 4 rows as D + 1 lanes of z = (x, y) - shift and their weights; no horizontal sums until
/// finish, which adds the lanes as lane_sum and the group's sums to out.
template <int D, bool Weighted>
struct GramLanes {
  static constexpr int M = D + 1, P = M * (M + 1) / 2;
  Lanes s2[P] = {}, s1[M] = {}, sw = {};

  inline void add(const Lanes* z, const Lanes& wl) {
    Lanes zw[M];
    for (int k = 0; k < M; ++k) zw[k] = Weighted ? wl * z[k] : z[k];
    int p = 0;
    for (int j = 0; j < M; ++j)
      for (int k = j; k < M; ++k) s2[p++] += zw[j] * z[k];
    for (int k = 0; k < M; ++k) s1[k] += zw[k];
    if constexpr (Weighted) sw += wl;
  }

  void finish(std::int64_t count, double* out) const {
    for (int p = 0; p < P; ++p) out[p] += lane_sum(s2[p]);
    for (int k = 0; k < M; ++k) out[P + k] += lane_sum(s1[k]);
    // Unweighted, W is the row count: what the lanes of ones would sum to, exactly.
    out[P + M] += Weighted ? lane_sum(sw) : static_cast<double>(count);
    out[P + M + 1] += static_cast<double>(count);
  }
};

/// The positions t..hi of a group that gram_small's vector loads do not take, value by value
/// into the same lanes: 4 rows at a time, then the last < 4 in lane 0 (the other lanes zero).
template <int D, class TX, class TY, class TW, class Acc>
void gram_small_rest(const TX* X, std::int64_t stride, const TY* y, std::int64_t y_stride, const TW* w,
                     std::int64_t w_stride, const double* shift, const std::int64_t* rows, std::int64_t t,
                     std::int64_t hi, Acc& acc) {
  constexpr int M = D + 1;
  for (; t + 4 <= hi; t += 4) {
    Lanes z[M], wl = {1.0, 1.0, 1.0, 1.0};
    for (int l = 0; l < 4; ++l) {
      const std::int64_t i = rows != nullptr ? rows[t + l] : t + l;
      for (int k = 0; k < D; ++k) z[k][l] = static_cast<double>(X[i * stride + k]) - shift[k];
      z[D][l] = static_cast<double>(y[i * y_stride]) - shift[D];
      if (w != nullptr) wl[l] = static_cast<double>(w[i * w_stride]);
    }
    acc.add(z, wl);
  }
  for (; t < hi; ++t) {
    const std::int64_t i = rows != nullptr ? rows[t] : t;
    Lanes z[M] = {}, wl = {1.0, 0.0, 0.0, 0.0};
    for (int k = 0; k < D; ++k) z[k][0] = static_cast<double>(X[i * stride + k]) - shift[k];
    z[D][0] = static_cast<double>(y[i * y_stride]) - shift[D];
    if (w != nullptr) wl[0] = static_cast<double>(w[i * w_stride]);
    acc.add(z, wl);
  }
}

/// The group's rows t..t+3 from X's rows at \p p (4 pointers, D = 4: any stride, any row
/// order): a load a row and a transpose.
template <class TX>
inline void quads_of_rows(const TX* const* p, Quad<TX>* q) {
  Quad<TX> a, b, c, e;
  load_quad(p[0], a);
  load_quad(p[1], b);
  load_quad(p[2], c);
  load_quad(p[3], e);
  transpose4(a, b, c, e, q);
}

/// Row-major rows of D <= 4 features, 4 rows an iteration into GramLanes: no tile, no copy,
/// one read and one conversion of each value.  Packed rows in order (D <= 4), and D = 4 rows
/// of any stride or order, come as vector loads and shuffles; other layouts value by value
/// into the same lanes (the same values in the same order either way).
template <int D, bool Weighted, class TX, class TY, class TW>
void gram_small(const TX* X, std::int64_t stride, const TY* y, std::int64_t y_stride, const TW* w,
                std::int64_t w_stride, const double* shift, const std::int64_t* rows, std::int64_t lo,
                std::int64_t hi, double* out) {
  constexpr int M = D + 1;
  GramLanes<D, Weighted> acc;
  Lanes sh[M];
  for (int k = 0; k < M; ++k) sh[k] = Lanes{shift[k], shift[k], shift[k], shift[k]};
  const bool in_order = rows == nullptr && y_stride == 1 && (!Weighted || w_stride == 1);
  auto row = [&](std::int64_t t) { return rows != nullptr ? rows[t] : t; };
  const std::int64_t stream_rows = stream_ahead_rows<TX>(stride);
  std::int64_t t = lo;
  for (; t + 4 <= hi && (D == 4 || (in_order && stride == D)); t += 4) {
    // Rows in order: cpu_kernels.hpp's prefetch_stream (on an Intel Xeon VM d = 1, 2, 4 went
    // from 72, 41, 15% of the read ceiling to 94, 90, 57%; off by default on AMD).
    if (rows == nullptr) {
      if constexpr (Weighted) {
        prefetch_stream<4>(X, stride, y, y_stride, RowWeights<TW>{w, w_stride}, t, hi, stream_rows);
      } else {
        prefetch_stream<4>(X, stride, y, y_stride, NoWeights{}, t, hi, stream_rows);
      }
    }
    Quad<TX> q[D];
    if (D < 4 || (in_order && stride == D)) {
      packed_quads<D>(X + t * D, q);
    } else if constexpr (D == 4) {
      const TX* p[4] = {X + row(t) * stride, X + row(t + 1) * stride, X + row(t + 2) * stride, X + row(t + 3) * stride};
      quads_of_rows(p, q);
    }
    Lanes z[M], wl = {1.0, 1.0, 1.0, 1.0};
    for (int k = 0; k < D; ++k) widen<TX>(q[k], z[k]);
    if (in_order) {
      Quad<TY> qy;
      load_quad(y + t, qy);
      widen<TY>(qy, z[D]);
      if constexpr (Weighted) {
        Quad<TW> qw;
        load_quad(w + t, qw);
        widen<TW>(qw, wl);
      }
    } else {
      for (int l = 0; l < 4; ++l) z[D][l] = static_cast<double>(y[row(t + l) * y_stride]);
      if constexpr (Weighted)
        for (int l = 0; l < 4; ++l) wl[l] = static_cast<double>(w[row(t + l) * w_stride]);
    }
    for (int k = 0; k < M; ++k) z[k] -= sh[k];
    acc.add(z, wl);
  }
  gram_small_rest<D>(X, stride, y, y_stride, w, w_stride, shift, rows, t, hi, acc);
  acc.finish(hi - lo, out);
}

constexpr std::int64_t kGramTile = 64;             // rows per tile (64, 128, 256 measured: within 5%)
constexpr std::int64_t kGramPanel = 4 * kGramTile + 8;  // a panel, and 64 bytes so that panels are not 4 KiB apart

/// Zeroed float64 storage whose first value sits on a 64-byte line: the kernels' 32-byte
/// loads and stores then never straddle two lines (std::vector aligns to 16 bytes only).
class LineAligned {
 public:
  explicit LineAligned(std::size_t n) : store_(n + 8, 0.0) {
    const auto misalign = reinterpret_cast<std::uintptr_t>(store_.data()) % 64;
    data_ = store_.data() + (64 - misalign) % 64 / sizeof(double);
  }
  LineAligned(const LineAligned&) = delete;
  LineAligned& operator=(const LineAligned&) = delete;
  double* data() { return data_; }
  const double* data() const { return data_; }

 private:
  std::vector<double> store_;
  double* data_;
};

/// A thread's working set for groups of d features.  The tile: z = [x - shift, y - shift_y]
/// of up to kGramTile rows in panels of 4 columns (panel p holds columns 4p..4p+3, row after
/// row: value (r, k) at (k / 4) * kGramPanel + 4 r + k % 4), columns past d zero; zw the
/// same times the rows' weights (unweighted: zw is z).  The group's sums so far: S2 as a
/// full width x width matrix (only its blocks on or above the diagonal are summed), S1.
struct GramWork {
  std::int64_t m, panels, width;
  bool weighted;
  LineAligned z, zw;
  std::vector<double> s2, s1, w;
  GramWork(std::int64_t d, bool weights)
      : m(d + 1), panels((d + 4) / 4), width(4 * panels), weighted(weights),
        z(static_cast<std::size_t>(panels * kGramPanel)),
        zw(weighted ? static_cast<std::size_t>(panels * kGramPanel) : 0),
        s2(static_cast<std::size_t>(width * width), 0.0), s1(static_cast<std::size_t>(width), 0.0),
        w(static_cast<std::size_t>(kGramTile), 0.0) {}
  const double* weighted_z() const { return weighted ? zw.data() : z.data(); }
};

/// The tile's whole panels of row-major X, panel by panel: for each row a vector load (and
/// conversion) of 4 features, minus the shift, stored next to the row before: the values
/// static_cast gives, with a loop-invariant shift and contiguous stores.
template <class TX>
void gram_pack_rows(const TX* x, std::int64_t stride, std::int64_t whole, const double* shift,
                    const std::int64_t* rows, std::int64_t t0, std::int64_t len, double* z) {
  for (std::int64_t p = 0; p < whole; ++p) {
    Lanes s;
    __builtin_memcpy(&s, shift + 4 * p, sizeof s);
    double* zp = z + p * kGramPanel;
    for (std::int64_t r = 0; r < len; ++r) {
      const std::int64_t i = rows != nullptr ? rows[t0 + r] : t0 + r;
      Lanes v;
      load_lanes(x + i * stride + 4 * p, v);
      v -= s;
      __builtin_memcpy(zp + 4 * r, &v, sizeof v);
    }
  }
}

/// Packs positions t0..t0+len of the group into the tile (shifted, and weighted); adds the
/// weights to \p sum_w row by row.
template <class TX, class TY, class TW>
void gram_pack_tile(GramWork& g, const MatrixView& X, const VectorView& y, const TW* w, std::int64_t w_stride,
                    const double* shift, const std::int64_t* rows, std::int64_t t0, std::int64_t len,
                    double& sum_w) {
  const auto* x = static_cast<const TX*>(X.data);
  const auto* yv = static_cast<const TY*>(y.data);
  const std::int64_t d = g.m - 1;
  double* z = g.z.data();
  auto row = [&](std::int64_t r) { return rows != nullptr ? rows[t0 + r] : t0 + r; };
  if (X.layout == Layout::row_major) {
    gram_pack_rows(x, X.stride, d / 4, shift, rows, t0, len, z);
    for (std::int64_t k = 4 * (d / 4); k < d; ++k) {  // the features of a partial last panel
      double* zk = z + (k / 4) * kGramPanel + k % 4;
      for (std::int64_t r = 0; r < len; ++r) zk[4 * r] = static_cast<double>(x[row(r) * X.stride + k]) - shift[k];
    }
  } else {
    // Column by column: each column's values are read in the rows' order.
    for (std::int64_t k = 0; k < d; ++k) {
      const TX* xk = x + k * X.stride;
      double* zk = z + (k / 4) * kGramPanel + k % 4;
      for (std::int64_t r = 0; r < len; ++r) zk[4 * r] = static_cast<double>(xk[row(r)]) - shift[k];
    }
  }
  double* zy = z + (d / 4) * kGramPanel + d % 4;
  for (std::int64_t r = 0; r < len; ++r) zy[4 * r] = static_cast<double>(yv[row(r) * y.stride]) - shift[d];
  if (w == nullptr) return;
  for (std::int64_t r = 0; r < len; ++r) {
    g.w[static_cast<std::size_t>(r)] = static_cast<double>(w[row(r) * w_stride]);
    sum_w += g.w[static_cast<std::size_t>(r)];
  }
  for (std::int64_t p = 0; p < g.panels; ++p)
    for (std::int64_t r = 0; r < len; ++r) {
      Lanes v;
      __builtin_memcpy(&v, z + p * kGramPanel + 4 * r, sizeof v);
      v = g.w[static_cast<std::size_t>(r)] * v;
      __builtin_memcpy(g.zw.data() + p * kGramPanel + 4 * r, &v, sizeof v);
    }
}

/// The micro-kernel: adds to S2's rows j..j+3, columns k..k+4NV-1 (at \p s2, rows \p width
/// apart) the tile's sums over its first len rows of zw_j z_k, from panel j/4 of zw (\p a)
/// and panels k/4.. of z (\p b).  4 x NV vector accumulators stay in registers, each lane a
/// different column k: no horizontal sums, and each entry's sum runs over the rows in order.
template <int NV>
inline void gram_block(const double* a, const double* b, std::int64_t len, double* s2, std::int64_t width) {
  Lanes acc[4][NV] = {};
  for (std::int64_t r = 0; r < len; ++r) {
    Lanes z[NV];
#pragma GCC unroll 4  // unrolled, or GCC keeps the accumulators in memory
    for (int v = 0; v < NV; ++v) __builtin_memcpy(&z[v], b + v * kGramPanel + 4 * r, sizeof(Lanes));
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const double zw = a[4 * r + i];  // broadcast: one multiply per lane, as in scalar code
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += zw * z[v];
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      Lanes sum;
      __builtin_memcpy(&sum, s2 + i * width + 4 * v, sizeof sum);
      sum += acc[i][v];
      __builtin_memcpy(s2 + i * width + 4 * v, &sum, sizeof sum);
    }
}

/// Adds to S2's column k (at \p s2, its entry in row 4 p0, rows \p width apart) the tile's
/// sums of zw_j z_k for the rows j of NP panels from p0 (\p a), z_k at \p b: a vector of 4 rows
/// j times a broadcast z_k.  For the columns of a last panel that holds fewer than 4: the
/// blocks would spend 4 vector multiply-adds a row on each such panel, this spends one.
/// Sums: the same loads of zw also feed S1's entries 4 p0.. (at \p s1), sums of zw in their
/// own accumulators (2 NP independent chains, where two loops of NP would each wait on the
/// latency of their additions); !Column: those sums alone.
template <int NP, bool Column, bool Sums>
inline void gram_column(const double* a, const double* b, std::int64_t len, double* s2, std::int64_t width,
                        double* s1) {
  Lanes acc[NP] = {}, sum[NP] = {};
  for (std::int64_t r = 0; r < len; ++r) {
    const double zk = Column ? b[4 * r] : 0.0;
#pragma GCC unroll 8
    for (int i = 0; i < NP; ++i) {
      Lanes zw;
      __builtin_memcpy(&zw, a + i * kGramPanel + 4 * r, sizeof zw);
      if constexpr (Column) acc[i] += zw * zk;
      if constexpr (Sums) sum[i] += zw;
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < NP; ++i) {
    if constexpr (Column)
#pragma GCC unroll 4
      for (int l = 0; l < 4; ++l) s2[(4 * i + l) * width] += acc[i][l];
    if constexpr (Sums) {
      Lanes total;
      __builtin_memcpy(&total, s1 + 4 * i, sizeof total);
      total += sum[i];
      __builtin_memcpy(s1 + 4 * i, &total, sizeof total);
    }
  }
}

/// gram_column for the \p count panels of \p zw, in runs of up to 8 (the accumulators in
/// registers): column k (z_k at \p zk, S2's at \p s2) unless zk is null, the panels' sums
/// into S1 (at \p s1) unless s1 is null.
inline void gram_columns(const double* zw, const double* zk, std::int64_t count, std::int64_t len, double* s2,
                         std::int64_t width, double* s1) {
  using Column = void (*)(const double*, const double*, std::int64_t, double*, std::int64_t, double*);
  static constexpr Column kernels[3][8] = {
      {gram_column<1, true, false>, gram_column<2, true, false>, gram_column<3, true, false>,
       gram_column<4, true, false>, gram_column<5, true, false>, gram_column<6, true, false>,
       gram_column<7, true, false>, gram_column<8, true, false>},
      {gram_column<1, true, true>, gram_column<2, true, true>, gram_column<3, true, true>, gram_column<4, true, true>,
       gram_column<5, true, true>, gram_column<6, true, true>, gram_column<7, true, true>, gram_column<8, true, true>},
      {gram_column<1, false, true>, gram_column<2, false, true>, gram_column<3, false, true>,
       gram_column<4, false, true>, gram_column<5, false, true>, gram_column<6, false, true>,
       gram_column<7, false, true>, gram_column<8, false, true>}};
  const int kind = zk == nullptr ? 2 : s1 != nullptr ? 1 : 0;
  for (std::int64_t p = 0; p < count; p += 8) {
    const std::int64_t np = std::min<std::int64_t>(8, count - p);
    kernels[kind][np - 1](zw + p * kGramPanel, zk, len, s2 != nullptr ? s2 + 4 * p * width : nullptr, width,
                          s1 != nullptr ? s1 + 4 * p : nullptr);
  }
}

/// Adds the tile's first len rows to the group's S2 and S1.  The columns of whole panels
/// (4 each) go in blocks of 4 x 12 on or above the diagonal (4 x 8 or 4 x 4 at the end of a
/// block row); the < 4 columns of a last, partial panel (y's, when d + 1 is not a multiple
/// of 4) one by one.
inline void gram_tile_blocks(GramWork& g, std::int64_t len) {
  const double* zw = g.weighted_z();
  const double* z = g.z.data();
  const std::int64_t n = g.panels, whole = g.m / 4, width = g.width;
  for (std::int64_t p = 0; p < whole; ++p) {
    double* s2 = g.s2.data() + 4 * p * width;
    std::int64_t q = p;
    for (; q + 3 <= whole; q += 3) gram_block<3>(zw + p * kGramPanel, z + q * kGramPanel, len, s2 + 4 * q, width);
    if (whole - q == 2) gram_block<2>(zw + p * kGramPanel, z + q * kGramPanel, len, s2 + 4 * q, width);
    if (whole - q == 1) gram_block<1>(zw + p * kGramPanel, z + q * kGramPanel, len, s2 + 4 * q, width);
  }
  // The columns of a partial panel, the first with S1's sums (and S1 alone without one).
  if (whole == n) gram_columns(zw, nullptr, n, len, nullptr, width, g.s1.data());
  for (std::int64_t k = 4 * whole; k < g.m; ++k)
    gram_columns(zw, z + whole * kGramPanel + k % 4, n, len, g.s2.data() + k, width,
                 k == 4 * whole ? g.s1.data() : nullptr);
}

/// Asks for every 64-byte line of [first, end) into L2.
[[gnu::always_inline]] inline void prefetch_span(const char* first, const char* end) {
  for (auto a = reinterpret_cast<std::uintptr_t>(first) & ~std::uintptr_t{63}; a < reinterpret_cast<std::uintptr_t>(end);
       a += 64)
    __builtin_prefetch(reinterpret_cast<const char*>(a), 0, 2);
}

/// Asks for the values t0..last of \p bytes each, \p step bytes apart from \p base, into L2:
/// the lines of their span when they are closer than a line, else each value's line.
[[gnu::always_inline]] inline void prefetch_values(const char* base, std::int64_t step, std::int64_t t0,
                                                   std::int64_t last, std::int64_t bytes) {
  if (step < 64) return prefetch_span(base + t0 * step, base + last * step + bytes);
  for (std::int64_t t = t0; t <= last; ++t) __builtin_prefetch(base + t * step, 0, 2);
}

/// Asks for the X rows, y values (and weights) of positions t0..t0+len of the group, into
/// L2, ahead of their packing: the tile before is summed meanwhile, loading no X, so the
/// hardware prefetcher stops.  Rows in order (less than a line apart) as one span of lines,
/// other rows each row's lines; column-major X streams in long runs already.  Always
/// inlined: as a function of its own GCC deems it pure and drops the call, as the Release
/// objects did until 2026-12-03 (bench/results/gram-prefetch-cpu-amd-vm-2026-12-03.md).
template <class TX, class TY, class TW>
[[gnu::always_inline]] inline void gram_prefetch(const MatrixView& X, const VectorView& y, const TW* w,
                                                 std::int64_t w_stride, const std::int64_t* rows, std::int64_t t0,
                                                 std::int64_t len) {
  const auto* x = static_cast<const char*>(X.data);
  const auto* yv = static_cast<const char*>(y.data);
  const auto* wv = reinterpret_cast<const char*>(w);
  const std::int64_t x_row = X.stride * static_cast<std::int64_t>(sizeof(TX));
  const std::int64_t x_bytes = X.cols * static_cast<std::int64_t>(sizeof(TX));
  const std::int64_t y_row = y.stride * static_cast<std::int64_t>(sizeof(TY));
  const std::int64_t w_row = w_stride * static_cast<std::int64_t>(sizeof(TW));
  const bool row_major = X.layout == Layout::row_major, span = rows == nullptr && x_row - x_bytes < 64;
  const std::int64_t last = t0 + len - 1;
  if (len <= 0) return;
  if (row_major && span) prefetch_span(x + t0 * x_row, x + last * x_row + x_bytes);
  for (std::int64_t r = t0; row_major && !span && r <= last; ++r) {
    const char* xi = x + (rows != nullptr ? rows[r] : r) * x_row;
    for (std::int64_t b = 0; b < x_bytes; b += 64) __builtin_prefetch(xi + b, 0, 2);
  }
  if (rows == nullptr) {
    prefetch_values(yv, y_row, t0, last, sizeof(TY));
    if (wv != nullptr) prefetch_values(wv, w_row, t0, last, sizeof(TW));
    return;
  }
  for (std::int64_t r = t0; r <= last; ++r) {
    __builtin_prefetch(yv + rows[r] * y_row, 0, 2);
    if (wv != nullptr) __builtin_prefetch(wv + rows[r] * w_row, 0, 2);
  }
}

/// Rows of d > 4 features, or column-major X: tile by tile into the group's sums, which are
/// added to out once at the end.
template <class TX, class TY, class TW>
void gram_tiled(const MatrixView& X, const VectorView& y, const TW* w, std::int64_t w_stride, const double* shift,
                const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  const std::int64_t d = X.cols;
  thread_local std::unique_ptr<GramWork> work;  // one per thread, reused across groups
  if (!work || work->m != d + 1 || work->weighted != (w != nullptr))
    work = std::make_unique<GramWork>(d, w != nullptr);
  GramWork& g = *work;
  std::fill(g.s2.begin(), g.s2.end(), 0.0);
  std::fill(g.s1.begin(), g.s1.end(), 0.0);
  double sum_w = 0.0;
  for (std::int64_t t0 = lo; t0 < hi; t0 += kGramTile) {
    const std::int64_t len = std::min(kGramTile, hi - t0);
    gram_pack_tile<TX, TY, TW>(g, X, y, w, w_stride, shift, rows, t0, len, sum_w);
    gram_prefetch<TX, TY, TW>(X, y, w, w_stride, rows, t0 + len, std::min(kGramTile, hi - t0 - len));
    gram_tile_blocks(g, len);
  }
  for (std::int64_t j = 0; j <= d; ++j)
    for (std::int64_t k = j; k <= d; ++k) out[gram_index(d, j, k)] += g.s2[static_cast<std::size_t>(j * g.width + k)];
  double* s1 = out + gram_s1(d);
  for (std::int64_t k = 0; k <= d; ++k) s1[k] += g.s1[static_cast<std::size_t>(k)];
  const auto count = static_cast<double>(hi - lo);
  out[gram_weight(d)] += w != nullptr ? sum_w : count;
  out[gram_rows(d)] += count;
}

/// gram_small for d = 1..4.
template <bool Weighted, class TX, class TY, class TW>
void gram_small_d(std::int64_t d, const TX* x, std::int64_t stride, const TY* y, std::int64_t y_stride, const TW* w,
                  std::int64_t w_stride, const double* shift, const std::int64_t* rows, std::int64_t lo,
                  std::int64_t hi, double* out) {
  switch (d) {
    case 1: return gram_small<1, Weighted>(x, stride, y, y_stride, w, w_stride, shift, rows, lo, hi, out);
    case 2: return gram_small<2, Weighted>(x, stride, y, y_stride, w, w_stride, shift, rows, lo, hi, out);
    case 3: return gram_small<3, Weighted>(x, stride, y, y_stride, w, w_stride, shift, rows, lo, hi, out);
    default: return gram_small<4, Weighted>(x, stride, y, y_stride, w, w_stride, shift, rows, lo, hi, out);
  }
}

template <class TX, class TY, class TW>
void gram_typed(const MatrixView& X, const VectorView& y, const TW* w, std::int64_t w_stride, const double* shift,
                const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  const std::int64_t d = X.cols;
  if (X.layout == Layout::row_major && d <= 4) {
    const auto* x = static_cast<const TX*>(X.data);
    const auto* yv = static_cast<const TY*>(y.data);
    if (w == nullptr) return gram_small_d<false>(d, x, X.stride, yv, y.stride, w, w_stride, shift, rows, lo, hi, out);
    return gram_small_d<true>(d, x, X.stride, yv, y.stride, w, w_stride, shift, rows, lo, hi, out);
  }
  gram_tiled<TX, TY, TW>(X, y, w, w_stride, shift, rows, lo, hi, out);
}

template <class TW>
void gram_dtypes(const MatrixView& X, const VectorView& y, const TW* w, std::int64_t w_stride, const double* shift,
                 const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  const bool xf = X.dtype == DType::float32, yf = y.dtype == DType::float32;
  if (xf && yf) gram_typed<float, float>(X, y, w, w_stride, shift, rows, lo, hi, out);
  else if (xf) gram_typed<float, double>(X, y, w, w_stride, shift, rows, lo, hi, out);
  else if (yf) gram_typed<double, float>(X, y, w, w_stride, shift, rows, lo, hi, out);
  else gram_typed<double, double>(X, y, w, w_stride, shift, rows, lo, hi, out);
}

void gram_chunk(const MatrixView& X, const VectorView& y, const VectorView& weights, const double* shift,
                const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  if (weights.data == nullptr)
    gram_dtypes<double>(X, y, nullptr, 0, shift, rows, lo, hi, out);
  else if (weights.dtype == DType::float32)
    gram_dtypes(X, y, static_cast<const float*>(weights.data), weights.stride, shift, rows, lo, hi, out);
  else
    gram_dtypes(X, y, static_cast<const double*>(weights.data), weights.stride, shift, rows, lo, hi, out);
}

}  // namespace steepest::detail::STEEPEST_CPU_ISA
