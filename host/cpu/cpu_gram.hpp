// Internal: the CPU Gram kernel (backend/gram.hpp): the shifted sums S2 = sum w z z^T,
// S1 = sum w z, W, rows of one group of rows.  Included once per instruction set, beside
// cpu_kernels.hpp, by host/cpu/cpu_kernels_<isa>.cpp (STEEPEST_CPU_ISA is the namespace).
//
// Row-major rows of d <= 4 features stream through vector accumulators (gram_small).
// Wider rows, and column-major X, go through in tiles of kGramTile: each tile is copied as float64 columns of shifted
// values, z_k = x_k - s_k (y is column d), and (weighted) a second copy times w.  Then every
// pair (j, k), j <= k, of the packed triangle takes the tile's dot product of column j of
// the weighted copy with column k, in blocks of 2 x 4 pairs whose 8 vector accumulators
// stay in registers (6 loads for 8 multiply-adds of 4 rows each).  A pair's tile sum is its
// 4 lanes added as (l0 + l1) + (l2 + l3), then added to out: the order of every sum is
// fixed by the group's rows alone, never by the thread count.
#ifndef STEEPEST_CPU_ISA
#error "define STEEPEST_CPU_ISA (baseline, avx2) before including cpu_gram.hpp"
#endif

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "backend/gram.hpp"
#include "steepest/data.hpp"

namespace steepest::detail::STEEPEST_CPU_ISA {

constexpr std::int64_t kGramTile = 64;  // rows per tile: a multiple of the 4 lanes

/// Four float64 lanes (GCC lowers them to what the instruction set has: two SSE2 halves in
/// the baseline build, one AVX register in the AVX2 one).
using Lanes = double __attribute__((vector_size(32)));

inline double lane_sum(const Lanes& v) { return (v[0] + v[1]) + (v[2] + v[3]); }

/// The packed tile of a group: column k of the tile at z + k * kGramTile (m = d + 1
/// columns, then 4 zero columns, so that the blocks of 2 x 4 pairs never test bounds); zw
/// the same times the weights (zw == z unweighted).
struct GramTile {
  std::int64_t m = 0, columns = 0;
  std::vector<double> z, zw;
  explicit GramTile(std::int64_t d, bool weighted)
      : m(d + 1), columns(d + 5),
        z(static_cast<std::size_t>(columns * kGramTile), 0.0),
        zw(weighted ? z.size() : 0, 0.0) {}
  double* col(std::int64_t k) { return z.data() + k * kGramTile; }
  double* wcol(std::int64_t k) { return (zw.empty() ? z.data() : zw.data()) + k * kGramTile; }
};

/// Adds the tile's pair sums to the packed triangle at \p s2 (rows past the group's end
/// are zeros: they add nothing).
inline void gram_tile_pairs(GramTile& t, std::int64_t d, double* s2) {
  const std::int64_t m = t.m;
  for (std::int64_t j = 0; j < m; j += 2) {
    const double* a0 = t.wcol(j);
    const double* a1 = t.wcol(j + 1);
    for (std::int64_t k = j; k < m; k += 4) {
      const double* b0 = t.col(k);
      const double* b1 = t.col(k + 1);
      const double* b2 = t.col(k + 2);
      const double* b3 = t.col(k + 3);
      Lanes acc[2][4] = {};
      for (std::int64_t r = 0; r < kGramTile; r += 4) {
        Lanes x0, x1, y0, y1, y2, y3;
        __builtin_memcpy(&x0, a0 + r, sizeof(Lanes));
        __builtin_memcpy(&x1, a1 + r, sizeof(Lanes));
        __builtin_memcpy(&y0, b0 + r, sizeof(Lanes));
        __builtin_memcpy(&y1, b1 + r, sizeof(Lanes));
        __builtin_memcpy(&y2, b2 + r, sizeof(Lanes));
        __builtin_memcpy(&y3, b3 + r, sizeof(Lanes));
        acc[0][0] += x0 * y0;
        acc[0][1] += x0 * y1;
        acc[0][2] += x0 * y2;
        acc[0][3] += x0 * y3;
        acc[1][0] += x1 * y0;
        acc[1][1] += x1 * y1;
        acc[1][2] += x1 * y2;
        acc[1][3] += x1 * y3;
      }
      for (std::int64_t a = 0; a < 2; ++a)
        for (std::int64_t b = 0; b < 4; ++b) {
          const std::int64_t jj = j + a, kk = k + b;
          if (jj <= kk && kk < m) s2[gram_index(d, jj, kk)] += lane_sum(acc[a][b]);
        }
    }
  }
}

/// Fills the tile with positions t0..t0+len of the group (shifted, and weighted), zeroing
/// the rest; adds sum w to \p sum_w.
template <class TX, class TY, class TW>
void gram_fill_tile(GramTile& t, const MatrixView& X, const VectorView& y, const TW* w, std::int64_t w_stride,
                    const double* shift, const std::int64_t* rows, std::int64_t t0, std::int64_t len,
                    double& sum_w) {
  const auto* x = static_cast<const TX*>(X.data);
  const auto* yv = static_cast<const TY*>(y.data);
  const std::int64_t d = t.m - 1;
  const bool row_major = X.layout == Layout::row_major;
  for (std::int64_t r = 0; r < len; ++r) {
    const std::int64_t i = rows != nullptr ? rows[t0 + r] : t0 + r;
    if (row_major) {
      const TX* xi = x + i * X.stride;
      for (std::int64_t k = 0; k < d; ++k) t.z[static_cast<std::size_t>(k * kGramTile + r)] = static_cast<double>(xi[k]) - shift[k];
    } else {
      for (std::int64_t k = 0; k < d; ++k)
        t.z[static_cast<std::size_t>(k * kGramTile + r)] = static_cast<double>(x[k * X.stride + i]) - shift[k];
    }
    t.z[static_cast<std::size_t>(d * kGramTile + r)] = static_cast<double>(yv[i * y.stride]) - shift[d];
    if (w != nullptr) {
      const double wi = static_cast<double>(w[i * w_stride]);
      sum_w += wi;
      for (std::int64_t k = 0; k <= d; ++k)
        t.zw[static_cast<std::size_t>(k * kGramTile + r)] = wi * t.z[static_cast<std::size_t>(k * kGramTile + r)];
    }
  }
  if (len < kGramTile)
    for (std::int64_t k = 0; k <= d; ++k) {
      std::fill(t.col(k) + len, t.col(k) + kGramTile, 0.0);
      if (w != nullptr) std::fill(t.wcol(k) + len, t.wcol(k) + kGramTile, 0.0);
    }
}

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

/// Rows t..t+3 of a packed row-major X (D values a row) as D lanes: z[k][l] = X(t + l, k)
/// - shift[k], the values and the order of the element-wise path, from D vector loads.
template <int D, class TX>
inline void packed_rows(const TX* X, std::int64_t t, const double* shift, Lanes* z) {
  double v[4 * D];
  for (int m = 0; m < D; ++m) {
    Lanes part;
    load_lanes(X + t * D + 4 * m, part);
    __builtin_memcpy(v + 4 * m, &part, sizeof part);
  }
  for (int k = 0; k < D; ++k) z[k] = Lanes{v[k], v[D + k], v[2 * D + k], v[3 * D + k]} - shift[k];
}

/// Row-major rows of D <= 4 features: every sum in a vector accumulator whose 4 lanes take
/// every 4th row of the group (the last < 4 rows go to lane 0), lanes added as lane_sum at
/// the end: no tile, no copy, one read of each row.
template <int D, class TX, class TY, class TW>
void gram_small(const TX* X, std::int64_t stride, const TY* y, std::int64_t y_stride, const TW* w,
                std::int64_t w_stride, const double* shift, const std::int64_t* rows, std::int64_t lo,
                std::int64_t hi, double* out) {
  constexpr int M = D + 1, P = M * (M + 1) / 2;
  Lanes s2[P] = {}, s1[M] = {}, sw = {};
  auto add = [&](const Lanes* z, const Lanes& wl) {
    Lanes zw[M];
    for (int k = 0; k < M; ++k) zw[k] = w != nullptr ? wl * z[k] : z[k];
    int p = 0;
    for (int j = 0; j < M; ++j)
      for (int k = j; k < M; ++k) s2[p++] += zw[j] * z[k];
    for (int k = 0; k < M; ++k) s1[k] += zw[k];
    sw += wl;
  };
  std::int64_t t = lo;
  if (rows == nullptr && stride == D && y_stride == 1 && (w == nullptr || w_stride == 1)) {
    // Packed rows in their natural order: vector loads instead of element by element.
    for (; t + 4 <= hi; t += 4) {
      Lanes z[M], wl = {1.0, 1.0, 1.0, 1.0};
      packed_rows<D>(X, t, shift, z);
      load_lanes(y + t, z[D]);
      z[D] -= shift[D];
      if (w != nullptr) load_lanes(w + t, wl);
      add(z, wl);
    }
  }
  for (; t + 4 <= hi; t += 4) {
    Lanes z[M], wl = {1.0, 1.0, 1.0, 1.0};
    for (int l = 0; l < 4; ++l) {
      const std::int64_t i = rows != nullptr ? rows[t + l] : t + l;
      for (int k = 0; k < D; ++k) z[k][l] = static_cast<double>(X[i * stride + k]) - shift[k];
      z[D][l] = static_cast<double>(y[i * y_stride]) - shift[D];
      if (w != nullptr) wl[l] = static_cast<double>(w[i * w_stride]);
    }
    add(z, wl);
  }
  for (; t < hi; ++t) {
    const std::int64_t i = rows != nullptr ? rows[t] : t;
    Lanes z[M] = {}, wl = {1.0, 0.0, 0.0, 0.0};
    for (int k = 0; k < D; ++k) z[k][0] = static_cast<double>(X[i * stride + k]) - shift[k];
    z[D][0] = static_cast<double>(y[i * y_stride]) - shift[D];
    if (w != nullptr) wl[0] = static_cast<double>(w[i * w_stride]);
    add(z, wl);
  }
  for (int p = 0; p < P; ++p) out[p] += lane_sum(s2[p]);
  for (int k = 0; k < M; ++k) out[P + k] += lane_sum(s1[k]);
  out[P + M] += lane_sum(sw);
  out[P + M + 1] += static_cast<double>(hi - lo);
}

template <class TX, class TY, class TW>
void gram_typed(const MatrixView& X, const VectorView& y, const TW* w, std::int64_t w_stride, const double* shift,
                const std::int64_t* rows, std::int64_t lo, std::int64_t hi, double* out) {
  const std::int64_t d = X.cols;
  if (X.layout == Layout::row_major && d <= 4) {
    const auto* x = static_cast<const TX*>(X.data);
    const auto* yv = static_cast<const TY*>(y.data);
    switch (d) {
      case 1: return gram_small<1>(x, X.stride, yv, y.stride, w, w_stride, shift, rows, lo, hi, out);
      case 2: return gram_small<2>(x, X.stride, yv, y.stride, w, w_stride, shift, rows, lo, hi, out);
      case 3: return gram_small<3>(x, X.stride, yv, y.stride, w, w_stride, shift, rows, lo, hi, out);
      default: return gram_small<4>(x, X.stride, yv, y.stride, w, w_stride, shift, rows, lo, hi, out);
    }
  }
  thread_local std::vector<GramTile> tile;  // one per thread, reused across groups
  if (tile.empty() || tile[0].m != d + 1 || tile[0].zw.empty() != (w == nullptr)) {
    tile.clear();
    tile.emplace_back(d, w != nullptr);
  }
  GramTile& t = tile[0];
  double sum_w = 0.0;
  double* s1 = out + gram_s1(d);
  for (std::int64_t t0 = lo; t0 < hi; t0 += kGramTile) {
    const std::int64_t len = std::min(kGramTile, hi - t0);
    gram_fill_tile<TX, TY, TW>(t, X, y, w, w_stride, shift, rows, t0, len, sum_w);
    gram_tile_pairs(t, d, out);
    for (std::int64_t k = 0; k <= d; ++k) {
      const double* c = t.wcol(k);
      double s = 0.0;
      for (std::int64_t r = 0; r < kGramTile; ++r) s += c[r];
      s1[k] += s;
    }
  }
  const auto count = static_cast<double>(hi - lo);
  out[gram_weight(d)] += w != nullptr ? sum_w : count;
  out[gram_rows(d)] += count;
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
