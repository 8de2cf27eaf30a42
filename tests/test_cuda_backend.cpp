// The CUDA backend against the CPU reference, on sizes that are not multiples of a warp or
// a block, both layouts, float32 and float64 (and mixed), every upload path for strided
// views, every kernel variant, natural and permuted batches, the running loss; plus
// bitwise repeatability across backends, objects and a poisoned allocator.  Every GPU
// test skips without a usable GPU (fails under STEEPEST_REQUIRE_GPU=1).
//
// Tolerance.  Both backends compute r_i and every sum in float64 from the same float64
// (or exactly widened float32) inputs; they differ only in the order of the additions.
// Recursive summation of k terms in any order is within (k - 1) eps sum|terms| of the exact
// sum, so two orders are within 2 (k - 1) eps sum|terms| of each other.  A residual is a
// sum of d + 2 terms (x_ij w_j, b, -y_i), so its error is bounded by (d + 2) eps R_i with
// R_i = sum_j |x_ij w_j| + |b| + |y_i|, and that error enters each product with r_i.
// Hence, with c = 2 (m + d + 4) eps and M_i = |r_i| + R_i:
//   |grad_w_j - ref| <= c (2/m) sum_i |x_ij| M_i,  |grad_b - ref| <= c (2/m) sum_i M_i,
//   |loss - ref| <= c (1/m) sum_i M_i^2,
// the atol of each quantity; rtol = 1e-14 covers the final scaling by 2/m and 1/m.  For
// m = 1e6 this is ~2e-10 of the magnitude: loose enough for any order, tight enough that
// a dropped, doubled or float32-accumulated row fails.
//
// With sample weights every term carries w_i (one more rounding, in w_i r_i: m + d + 5),
// M_i becomes w_i M_i in the sums, and m becomes W = sum w_i, itself a sum of m terms whose
// two orders differ by up to 2 (m - 1) eps W; since |sum w r x| <= sum w |x| M, that adds
// at most as much again as the sums' own bound, hence c = 4 (m + d + 5) eps there.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "backend/gram.hpp"
#include "gpu_test_support.hpp"
#include "launch_plan.hpp"
#include "test_support.hpp"
#include "train/permutation.hpp"
#include "steepest/data.hpp"
#include "steepest/device.hpp"
#include "steepest/error.hpp"
#include "steepest/steepest.hpp"

namespace {

using steepest::DType;
using steepest::Layout;
using steepest::detail::Backend;

constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kRtol = 1e-14;

struct Case {
  std::int64_t n;
  std::int64_t d;
  DType dtype;
  Layout layout;
  std::int64_t stride_pad = 0;  ///< extra elements between rows (row-major) / columns
  std::int64_t y_stride = 1;
  bool y_other_dtype = false;   ///< y in the other dtype than X (float32 X, float64 y, ...)
};

DType y_dtype_of(const Case& c) {
  if (!c.y_other_dtype) return c.dtype;
  return c.dtype == DType::float32 ? DType::float64 : DType::float32;
}

std::string case_name(const Case& c) {
  std::string name = "n" + std::to_string(c.n) + "_d" + std::to_string(c.d) +
                     (c.dtype == DType::float32 ? "_f32" : "_f64") +
                     (c.layout == Layout::row_major ? "_row" : "_col");
  if (c.y_other_dtype) name += y_dtype_of(c) == DType::float32 ? "_yf32" : "_yf64";
  if (c.stride_pad != 0 || c.y_stride != 1) {
    name += "_strided_pad" + std::to_string(c.stride_pad) + "_ys" + std::to_string(c.y_stride);
  }
  return name;
}

// gtest prints a parameter's bytes otherwise (padding included).
void PrintTo(const Case& c, std::ostream* os) { *os << case_name(c); }

/// Host data in the case's dtypes and layout, a copy of it in float64 (for the bounds),
/// and parameters away from the solution so residuals are not small.  Not copyable: the
/// views point into its own vectors.
struct Problem {
  Case c;
  std::vector<float> xf, yf;
  std::vector<double> xd, yd;
  std::vector<double> x64;  // row-major packed float64 copy of X
  std::vector<double> y64;
  std::vector<double> w;
  double b = 0.0;
  steepest::MatrixView X;
  steepest::VectorView y;

  Problem(const Problem&) = delete;
  Problem& operator=(const Problem&) = delete;

  explicit Problem(const Case& cs, std::uint64_t seed = 7) : c(cs) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(cs.n * 131 + cs.d));
    std::uniform_real_distribution<double> unit(-1.0, 1.0);
    const std::int64_t n = c.n, d = c.d;
    const DType y_dtype = y_dtype_of(c);
    std::vector<double> w_true(static_cast<std::size_t>(d));
    for (double& v : w_true) v = unit(rng);
    x64.resize(static_cast<std::size_t>(n * d));
    y64.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      double s = 0.5;
      for (std::int64_t j = 0; j < d; ++j) {
        double v = unit(rng);
        if (c.dtype == DType::float32) v = static_cast<float>(v);
        x64[static_cast<std::size_t>(i * d + j)] = v;
        s += v * w_true[static_cast<std::size_t>(j)];
      }
      double yi = s + 0.1 * unit(rng);
      if (y_dtype == DType::float32) yi = static_cast<float>(yi);
      y64[static_cast<std::size_t>(i)] = yi;
    }
    w.resize(static_cast<std::size_t>(d));
    for (double& v : w) v = unit(rng);
    b = -0.25;

    const std::int64_t stride = (c.layout == Layout::row_major ? d : n) + c.stride_pad;
    const std::int64_t outer = c.layout == Layout::row_major ? n : d;
    const auto x_at = [&](std::int64_t i, std::int64_t j) {
      return c.layout == Layout::row_major ? i * stride + j : j * stride + i;
    };
    const std::size_t x_size = static_cast<std::size_t>(outer * stride);
    const std::size_t y_size = static_cast<std::size_t>(n * c.y_stride);
    // Padding is NaN: it must never be read.
    if (c.dtype == DType::float32) {
      xf.assign(x_size, std::nanf(""));
      for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = 0; j < d; ++j) {
          xf[static_cast<std::size_t>(x_at(i, j))] = static_cast<float>(x64[static_cast<std::size_t>(i * d + j)]);
        }
      }
      X = steepest::make_matrix_view(xf.data(), n, d, c.layout, stride);
    } else {
      xd.assign(x_size, std::nan(""));
      for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = 0; j < d; ++j) {
          xd[static_cast<std::size_t>(x_at(i, j))] = x64[static_cast<std::size_t>(i * d + j)];
        }
      }
      X = steepest::make_matrix_view(xd.data(), n, d, c.layout, stride);
    }
    if (y_dtype == DType::float32) {
      yf.assign(y_size, std::nanf(""));
      for (std::int64_t i = 0; i < n; ++i) {
        yf[static_cast<std::size_t>(i * c.y_stride)] = static_cast<float>(y64[static_cast<std::size_t>(i)]);
      }
      y = steepest::make_vector_view(yf.data(), n, c.y_stride);
    } else {
      yd.assign(y_size, std::nan(""));
      for (std::int64_t i = 0; i < n; ++i) yd[static_cast<std::size_t>(i * c.y_stride)] = y64[static_cast<std::size_t>(i)];
      y = steepest::make_vector_view(yd.data(), n, c.y_stride);
    }
  }

  /// Overwrites every stored value (X, y, padding) with NaN; the views stay valid.
  void poison() {
    std::fill(xf.begin(), xf.end(), std::nanf(""));
    std::fill(yf.begin(), yf.end(), std::nanf(""));
    std::fill(xd.begin(), xd.end(), std::nan(""));
    std::fill(yd.begin(), yd.end(), std::nan(""));
  }
};

/// The atol of each output (see the file comment) for positions [begin, end).
struct Bounds {
  std::vector<double> grad_w;
  double grad_b = 0.0;
  double loss = 0.0;
};

/// \p weights: the sample weights of the rows (null: unweighted; see the file comment).
Bounds bounds_for(const Problem& p, std::int64_t begin, std::int64_t end,
                  const std::int64_t* order, const std::vector<double>* weights = nullptr) {
  const std::int64_t d = p.c.d, m = end - begin;
  Bounds out;
  out.grad_w.assign(static_cast<std::size_t>(d), 0.0);
  double sum_m = 0.0, sum_m2 = 0.0, total = 0.0;
  for (std::int64_t pos = begin; pos < end; ++pos) {
    const std::int64_t i = order != nullptr ? order[pos] : pos;
    const double wi = weights != nullptr ? (*weights)[static_cast<std::size_t>(i)] : 1.0;
    const double* xi = p.x64.data() + i * d;
    double dot = 0.0, mag = std::fabs(p.b) + std::fabs(p.y64[static_cast<std::size_t>(i)]);
    for (std::int64_t j = 0; j < d; ++j) {
      dot += xi[j] * p.w[static_cast<std::size_t>(j)];
      mag += std::fabs(xi[j] * p.w[static_cast<std::size_t>(j)]);
    }
    const double unweighted_mi = std::fabs(dot + p.b - p.y64[static_cast<std::size_t>(i)]) + mag;
    const double mi = wi * unweighted_mi;
    sum_m += mi;
    sum_m2 += mi * unweighted_mi;
    total += wi;
    for (std::int64_t j = 0; j < d; ++j) out.grad_w[static_cast<std::size_t>(j)] += std::fabs(xi[j]) * mi;
  }
  const double c = weights != nullptr ? 4.0 * static_cast<double>(m + d + 5) * kEps
                                      : 2.0 * static_cast<double>(m + d + 4) * kEps;
  const double inv_m = total > 0.0 ? 1.0 / total : 0.0;  // W = 0: both sides must be exactly 0
  for (double& g : out.grad_w) g *= c * 2.0 * inv_m;
  out.grad_b = c * 2.0 * inv_m * sum_m;
  out.loss = c * inv_m * sum_m2;
  return out;
}

using Outputs = test_support::BackendOutputs;
using test_support::read_outputs;

void expect_close(const Outputs& gpu, const Outputs& cpu, const Bounds& b, const std::string& what) {
  EXPECT_NEAR(gpu.loss, cpu.loss, b.loss + kRtol * std::fabs(cpu.loss)) << what << ": loss";
  EXPECT_NEAR(gpu.gb, cpu.gb, b.grad_b + kRtol * std::fabs(cpu.gb)) << what << ": grad_b";
  ASSERT_EQ(gpu.gw.size(), cpu.gw.size());
  int reported = 0;
  for (std::size_t j = 0; j < cpu.gw.size(); ++j) {
    const double tol = b.grad_w[j] + kRtol * std::fabs(cpu.gw[j]);
    if (!(std::fabs(gpu.gw[j] - cpu.gw[j]) <= tol) && reported++ < 5) {
      ADD_FAILURE() << what << ": grad_w[" << j << "] gpu " << gpu.gw[j] << " cpu " << cpu.gw[j]
                    << " tol " << tol;
    }
  }
  EXPECT_EQ(reported, 0) << what << ": gradient entries out of tolerance";
}

bool same_bits(const Outputs& a, const Outputs& b) {
  return std::memcmp(&a.loss, &b.loss, sizeof(double)) == 0 &&
         std::memcmp(&a.gb, &b.gb, sizeof(double)) == 0 && a.gw.size() == b.gw.size() &&
         std::memcmp(a.gw.data(), b.gw.data(), a.gw.size() * sizeof(double)) == 0;
}

std::vector<std::int64_t> permutation(std::uint64_t seed, std::int64_t epoch, std::int64_t n) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  steepest::detail::epoch_permutation(seed, epoch, order.data(), n);
  return order;
}

/// Runs compute(begin, end, ordered) on both backends and compares the outputs.
void compute_and_compare(Backend& gpu, Backend& cpu, const Problem& p, std::int64_t begin,
                         std::int64_t end, const std::int64_t* order, const std::string& what,
                         const std::vector<double>* weights = nullptr) {
  const bool ordered = order != nullptr;
  gpu.compute(begin, end, ordered);
  cpu.compute(begin, end, ordered);
  expect_close(read_outputs(gpu), read_outputs(cpu), bounds_for(p, begin, end, order, weights),
               what + " [" + std::to_string(begin) + ", " + std::to_string(end) + ")" +
                   (ordered ? " ordered" : " natural"));
}

/// Running loss: a sum of positive terms over at most n rows, so a relative bound.
void expect_running_close(Backend& gpu, Backend& cpu, const Problem& p, const std::string& what) {
  const double run_gpu = gpu.running_loss(), run_cpu = cpu.running_loss();
  EXPECT_NEAR(run_gpu, run_cpu, 4.0 * static_cast<double>(p.c.n + p.c.d + 4) * kEps * run_cpu)
      << what << ": running loss";
}

class CudaVsCpu : public ::testing::TestWithParam<Case> {};

TEST_P(CudaVsCpu, LossGradientStepAndRunningLoss) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const Problem p(GetParam());
  const std::int64_t n = p.c.n;
  auto gpu = steepest::detail::make_cuda_backend(p.X, p.y);
  auto cpu = steepest::detail::make_cpu_backend(p.X, p.y, 0);
  EXPECT_STREQ(gpu->name(), "cuda");
  EXPECT_EQ(gpu->rows(), n);
  EXPECT_EQ(gpu->cols(), p.c.d);
  for (Backend* be : {gpu.get(), cpu.get()}) {
    be->set_parameters(p.w.data(), p.b);
    be->reset_running_loss();
  }

  // Full range, natural order.
  compute_and_compare(*gpu, *cpu, p, 0, n, nullptr, "full");

  // An interior sub-range of a permutation (mini-batch), and the last position alone.
  const std::vector<std::int64_t> order = permutation(12345, 3, n);
  gpu->set_row_order(order.data());
  cpu->set_row_order(order.data());
  const std::int64_t begin = n / 3, end = std::max(begin + 1, n - n / 5);
  compute_and_compare(*gpu, *cpu, p, begin, end, order.data(), "mini-batch");
  compute_and_compare(*gpu, *cpu, p, n - 1, n, order.data(), "last row");

  // Running loss over the three computes.
  expect_running_close(*gpu, *cpu, p, "three computes");

  // Reset, then one more compute: an interior sub-range in the natural order (the driver's
  // mini-batches when shuffle is off).  The running loss holds that compute alone.
  gpu->reset_running_loss();
  cpu->reset_running_loss();
  compute_and_compare(*gpu, *cpu, p, begin, end, nullptr, "natural mini-batch");
  expect_running_close(*gpu, *cpu, p, "after reset");

  // One step with and one without the bias: w differs from the CPU's by lr times the
  // gradient difference at most.
  const double lr = 0.05;
  std::vector<double> wg(static_cast<std::size_t>(p.c.d)), wc(wg.size());
  double bg = 0.0, bc = 0.0;
  for (bool update_bias : {true, false}) {
    for (Backend* be : {gpu.get(), cpu.get()}) {
      be->set_parameters(p.w.data(), p.b);
      be->compute(0, n, false);
      be->plain_step(lr, update_bias);
    }
    const Bounds bd = bounds_for(p, 0, n, nullptr);
    gpu->get_parameters(wg.data(), &bg);
    cpu->get_parameters(wc.data(), &bc);
    if (update_bias) {
      EXPECT_NEAR(bg, bc, 2.0 * lr * bd.grad_b + kRtol * std::fabs(bc));
    } else {
      EXPECT_EQ(bg, p.b) << "bias must not move when update_bias is false";
    }
    for (std::size_t j = 0; j < wg.size(); ++j) {
      ASSERT_NEAR(wg[j], wc[j], 2.0 * lr * bd.grad_w[j] + kRtol * std::fabs(wc[j])) << "w[" << j << "]";
    }
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  // Small shapes in every dtype x layout: register buckets 1, 2, 4, 16, 32 (d = 12 and
  // 16: bucket 16, scalar and vector loads), tiled with one tile per block.
  const std::vector<std::pair<std::int64_t, std::int64_t>> shapes = {
      {1, 1}, {31, 3}, {33, 17}, {257, 2}, {1000, 4}, {1000, 12}, {1000, 16}, {1000, 32},
      {1000, 256}, {33, 1500}, {1000, 1500}, {1000003, 1}};
  for (const auto& [n, d] : shapes) {
    for (DType t : {DType::float32, DType::float64}) {
      for (Layout l : {Layout::row_major, Layout::col_major}) out.push_back({n, d, t, l});
    }
  }
  // Larger shapes, two combinations each (test time):
  //  - tiled kernel with more than one tile per block (12007 / 8, 100003 / 8 and
  //    20011 / 8 or / 4 tiles over at most 8 blocks per SM; 12007 is the small one the
  //    device check runs under compute-sanitizer);
  //  - register bucket 4 with batched loads (2 rows per thread) that reach their second
  //    and later grid-stride iterations.
  for (const auto& [n, d] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {1000003, 17}, {12007, 40}, {100003, 40}, {20011, 1500}, {3000017, 3}}) {
    out.push_back({n, d, DType::float32, Layout::row_major});
    out.push_back({n, d, DType::float64, Layout::col_major});
  }
  // Tiles of 2 rows (d = 3000) and 1 row (d = 6000) in float64, fewer rows than a tile.
  for (std::int64_t d : {3000, 6000}) {
    for (Layout l : {Layout::row_major, Layout::col_major}) out.push_back({9, d, DType::float64, l});
  }
  // Mixed dtypes: X float32 with y float64, and the reverse; register and tiled kernels.
  out.push_back({1000, 5, DType::float32, Layout::row_major, 0, 1, true});
  out.push_back({257, 2, DType::float32, Layout::col_major, 0, 1, true});
  out.push_back({33, 17, DType::float64, Layout::row_major, 0, 1, true});
  out.push_back({1000, 40, DType::float64, Layout::col_major, 0, 1, true});
  // Strided views: packed on upload, padding (NaN) never read.
  //  - host staging (narrow rows, narrow columns, strided y):
  out.push_back({1000, 3, DType::float64, Layout::row_major, 3, 2});
  out.push_back({1000, 8, DType::float32, Layout::row_major, 1, 3});
  out.push_back({1000, 40, DType::float32, Layout::col_major, 5, 2});
  out.push_back({999, 5, DType::float64, Layout::col_major, 7, 1});
  //  - cudaMemcpy2DAsync: row-major rows of 512 and 520 bytes;
  out.push_back({1001, 64, DType::float64, Layout::row_major, 5, 1});
  out.push_back({999, 130, DType::float32, Layout::row_major, 1, 2, true});
  //  - column by column: column-major columns of 1 MiB or more.
  out.push_back({300007, 3, DType::float32, Layout::col_major, 1, 1});
  out.push_back({140001, 2, DType::float64, Layout::col_major, 3, 2});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaVsCpu, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& param_info) { return case_name(param_info.param); });

// --- bitwise repeatability -------------------------------------------------------------------

/// The driver's pattern: mini-batch computes and steps with no read-back in between, then a
/// full pass; everything the backend can report is collected (loss, gradient, parameters,
/// running loss).
class Trajectory {
 public:
  Trajectory(const Problem& p, const std::vector<std::int64_t>& order)
      : p_(p), be_(steepest::detail::make_cuda_backend(p.X, p.y)),
        batch_(std::max<std::int64_t>(1, p.c.n / 3)) {
    be_->set_parameters(p.w.data(), p.b);
    be_->set_row_order(order.data());
    be_->reset_running_loss();
  }
  bool done() const { return next_ >= p_.c.n; }
  void step() {
    be_->compute(next_, std::min(p_.c.n, next_ + batch_), true);
    be_->plain_step(0.01, true);
    next_ += batch_;
  }
  Outputs finish() {
    while (!done()) step();
    be_->compute(0, p_.c.n, false);
    Outputs o = read_outputs(*be_);
    std::vector<double> w(static_cast<std::size_t>(p_.c.d) + 1);
    be_->get_parameters(w.data(), &w.back());
    o.gw.insert(o.gw.end(), w.begin(), w.end());
    o.gw.push_back(be_->running_loss());
    return o;
  }
  Backend& backend() { return *be_; }

 private:
  const Problem& p_;
  std::unique_ptr<Backend> be_;
  std::int64_t batch_;
  std::int64_t next_ = 0;
};

/// A backend of the same shape over NaN data runs every step and is destroyed, so memory a
/// later backend is handed (same sizes, likely the same addresses) holds NaN: a read of
/// uninitialised device memory then shows up as NaN or different bits, instead of
/// repeating the previous run's leftovers by accident.
void run_poisoning_backend(const Case& c) {
  Problem poison(c, 2024);
  poison.poison();
  const std::vector<std::int64_t> order = permutation(5, 0, c.n);
  auto be = steepest::detail::make_cuda_backend(poison.X, poison.y);
  std::vector<double> w(static_cast<std::size_t>(c.d), std::nan(""));
  be->set_parameters(w.data(), std::nan(""));
  be->set_row_order(order.data());
  be->compute(0, c.n, true);
  be->plain_step(0.5, true);
  be->compute(0, c.n, false);
  EXPECT_TRUE(std::isnan(be->loss())) << "the poisoning backend should see NaN data";
}

class CudaRepeatable : public ::testing::TestWithParam<Case> {};

TEST_P(CudaRepeatable, BitwiseRepeatable) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const Problem p(GetParam());
  const std::vector<std::int64_t> order = permutation(99, 0, p.c.n);

  // 1. One backend on its own, destroyed before the next.
  const Outputs alone = Trajectory(p, order).finish();
  ASSERT_TRUE(std::isfinite(alone.loss));

  // 2. Fill what the next allocations will likely reuse with NaN.
  run_poisoning_backend(p.c);

  // 3. Two backends alive at once, their computes and steps interleaved on two streams.
  Trajectory a(p, order), b(p, order);
  while (!a.done()) {
    a.step();
    b.step();
  }
  const Outputs oa = a.finish();
  const Outputs ob = b.finish();
  EXPECT_TRUE(same_bits(alone, oa)) << "a run after a poisoning backend differs from the first";
  EXPECT_TRUE(same_bits(oa, ob)) << "two interleaved backends gave different bits";

  // 4. The same compute twice on one object.
  a.backend().compute(0, p.c.n, false);
  const Outputs once = read_outputs(a.backend());
  a.backend().compute(0, p.c.n, false);
  const Outputs twice = read_outputs(a.backend());
  EXPECT_TRUE(same_bits(once, twice)) << "the same compute twice gave different bits";
}

// One or two shapes per kernel variant: register scalar / vector / column-major and batched,
// tiled row- and column-major with one and many tiles per block, mixed dtypes.
std::vector<Case> repeat_cases() {
  return {
      {31, 3, DType::float32, Layout::row_major},
      {1000003, 1, DType::float64, Layout::row_major},
      {1000, 4, DType::float32, Layout::row_major},
      {1000, 32, DType::float64, Layout::col_major},
      {1000003, 17, DType::float32, Layout::col_major},
      {257, 2, DType::float32, Layout::col_major, 0, 1, true},
      {33, 1500, DType::float64, Layout::row_major},
      {1000, 1500, DType::float32, Layout::col_major},
      {100003, 40, DType::float64, Layout::row_major},
      {9, 6000, DType::float64, Layout::col_major},
  };
}

INSTANTIATE_TEST_SUITE_P(Repeat, CudaRepeatable, ::testing::ValuesIn(repeat_cases()),
                         [](const ::testing::TestParamInfo<Case>& param_info) { return case_name(param_info.param); });

// --- targeted tests ---------------------------------------------------------------------------

TEST(CudaBackend, ReservedRowOrderServesOrderedComputes) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const Problem p({2001, 5, DType::float64, Layout::row_major});
  const std::int64_t n = p.c.n;
  auto gpu = steepest::detail::make_cuda_backend(p.X, p.y);
  auto cpu = steepest::detail::make_cpu_backend(p.X, p.y, 0);
  gpu->reserve_row_order();
  gpu->reserve_row_order();  // a second reserve is a no-op
  cpu->reserve_row_order();
  for (Backend* be : {gpu.get(), cpu.get()}) be->set_parameters(p.w.data(), p.b);
  // Reserved but never filled: refused, never read.
  EXPECT_THROW(gpu->compute(0, 10, true), steepest::InvalidArgument);
  // Each set_row_order replaces the order in the reserved buffer.
  for (std::int64_t epoch : {0, 1}) {
    const std::vector<std::int64_t> order = permutation(77, epoch, n);
    gpu->set_row_order(order.data());
    cpu->set_row_order(order.data());
    compute_and_compare(*gpu, *cpu, p, 100, 1500, order.data(), "epoch " + std::to_string(epoch));
    compute_and_compare(*gpu, *cpu, p, 0, n, order.data(), "epoch " + std::to_string(epoch));
  }
}

// Column-major data whose stride exceeds n goes up one column per copy (the single 2D copy
// fails once the pitch passes cudaDeviceProp::memPitch); columns here are ~1.2 MiB.
TEST(CudaBackend, ColumnMajorStridedUploadsColumnByColumn) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const Problem p({300007, 3, DType::float32, Layout::col_major, 4099, 1});
  const std::int64_t n = p.c.n;
  auto gpu = steepest::detail::make_cuda_backend(p.X, p.y);
  auto cpu = steepest::detail::make_cpu_backend(p.X, p.y, 0);
  for (Backend* be : {gpu.get(), cpu.get()}) be->set_parameters(p.w.data(), p.b);
  compute_and_compare(*gpu, *cpu, p, 0, n, nullptr, "full");
  compute_and_compare(*gpu, *cpu, p, n - 7, n, nullptr, "last column entries");
}

// STEEPEST_CUDA_UPLOAD=pinned (kernels/cuda_backend.cu, PinnedUpload): the same bytes on the
// device as the pageable copies, so the same bits, on data past its 16 MiB threshold and its
// 32 MiB chunks: packed rows (several chunks), narrow strided rows (the staged path's
// shape) and strided columns (the per-column path's), and a strided y.
TEST(CudaBackend, PinnedUploadGivesThePageableBits) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const Case cases[] = {{5000011, 2, DType::float32, Layout::row_major},
                        {1200007, 4, DType::float64, Layout::row_major, 3, 2},
                        {1500007, 3, DType::float32, Layout::col_major, 4099, 1}};
  for (const Case& c : cases) {
    const Problem p(c);
    setenv("STEEPEST_CUDA_UPLOAD", "pinned", 1);
    auto pinned = steepest::detail::make_cuda_backend(p.X, p.y);
    unsetenv("STEEPEST_CUDA_UPLOAD");
    auto pageable = steepest::detail::make_cuda_backend(p.X, p.y);
    std::vector<double> g1(static_cast<std::size_t>(c.d)), g2(g1.size());
    double b1 = 0.0, b2 = 0.0;
    for (Backend* be : {pinned.get(), pageable.get()}) {
      be->set_parameters(p.w.data(), p.b);
      be->compute(0, c.n, false);
    }
    const double l1 = pinned->loss(), l2 = pageable->loss();
    pinned->gradient(g1.data(), &b1);
    pageable->gradient(g2.data(), &b2);
    EXPECT_EQ(std::memcmp(&l1, &l2, sizeof l1), 0) << case_name(c) << ": loss " << l1 << " vs " << l2;
    EXPECT_EQ(std::memcmp(&b1, &b2, sizeof b1), 0) << case_name(c);
    EXPECT_EQ(std::memcmp(g1.data(), g2.data(), g1.size() * sizeof(double)), 0) << case_name(c);
    EXPECT_TRUE(std::isfinite(l1) && l1 > 0.0) << case_name(c);
  }
}

// The tiled kernel's shared-memory limit is a process-wide attribute: a second backend that
// needs less (but still more than the default 48 KiB) must not lower it under the first.
TEST(CudaBackend, SmallerTiledBackendDoesNotShrinkTheLargerOnesSharedMemory) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const Problem big({33, 6000, DType::float64, Layout::row_major});    // ~96 KiB, 1-row tiles
  const Problem small({33, 3000, DType::float64, Layout::row_major});  // ~72 KiB, 2-row tiles
  auto gpu_big = steepest::detail::make_cuda_backend(big.X, big.y);
  auto gpu_small = steepest::detail::make_cuda_backend(small.X, small.y);
  auto cpu_big = steepest::detail::make_cpu_backend(big.X, big.y, 0);
  auto cpu_small = steepest::detail::make_cpu_backend(small.X, small.y, 0);
  for (Backend* be : {gpu_big.get(), cpu_big.get()}) be->set_parameters(big.w.data(), big.b);
  for (Backend* be : {gpu_small.get(), cpu_small.get()}) be->set_parameters(small.w.data(), small.b);
  compute_and_compare(*gpu_small, *cpu_small, small, 0, small.c.n, nullptr, "small");
  compute_and_compare(*gpu_big, *cpu_big, big, 0, big.c.n, nullptr, "big after small");
}

TEST(CudaBackend, RejectsBadRangesAndMissingOrder) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const Problem p({100, 3, DType::float64, Layout::row_major});
  auto gpu = steepest::detail::make_cuda_backend(p.X, p.y);
  EXPECT_THROW(gpu->compute(0, 101, false), steepest::InvalidArgument);
  EXPECT_THROW(gpu->compute(5, 5, false), steepest::InvalidArgument);
  EXPECT_THROW(gpu->compute(-1, 5, false), steepest::InvalidArgument);
  EXPECT_THROW(gpu->compute(0, 5, true), steepest::InvalidArgument);
  EXPECT_EQ(gpu->running_loss(), 0.0);
}

TEST(CudaBackend, DeviceNameNamesTheCard) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const Problem p({10, 2, DType::float32, Layout::row_major});
  auto gpu = steepest::detail::make_cuda_backend(p.X, p.y);
  const std::string name = gpu->device_name();
  EXPECT_NE(name.find("(cc "), std::string::npos) << name;
  EXPECT_NE(name.find(" SMs)"), std::string::npos) << name;
  const auto devices = steepest::cuda_devices();
  ASSERT_FALSE(devices.empty());
  EXPECT_EQ(name.rfind(devices.front().name, 0), 0u) << name;
  EXPECT_TRUE(steepest::cuda_unavailable_reason().empty());
}

// --- sample weights ----------------------------------------------------------------------------

/// Per-row sample weights stored in \p dtype every \p stride elements (NaN in between, never
/// read); values holds them as both backends read them.  Not copyable: view points inside.
struct Weights {
  std::vector<double> values;
  std::vector<float> wf;
  std::vector<double> wd;
  steepest::VectorView view;

  Weights(const Weights&) = delete;
  Weights& operator=(const Weights&) = delete;

  Weights(std::vector<double> v, DType dtype, std::int64_t stride) : values(std::move(v)) {
    const auto n = static_cast<std::int64_t>(values.size());
    const std::size_t size = static_cast<std::size_t>(n * stride);
    if (dtype == DType::float32) {
      wf.assign(size, std::nanf(""));
      for (std::int64_t i = 0; i < n; ++i) {
        wf[static_cast<std::size_t>(i * stride)] = static_cast<float>(values[static_cast<std::size_t>(i)]);
        values[static_cast<std::size_t>(i)] = wf[static_cast<std::size_t>(i * stride)];
      }
      view = steepest::make_vector_view(wf.data(), n, stride);
    } else {
      wd.assign(size, std::nan(""));
      for (std::int64_t i = 0; i < n; ++i) wd[static_cast<std::size_t>(i * stride)] = values[static_cast<std::size_t>(i)];
      view = steepest::make_vector_view(wd.data(), n, stride);
    }
  }
};

/// Weights in [0, 2), about one in eight exactly zero.
std::vector<double> random_weights(std::int64_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 2.0);
  std::vector<double> w(static_cast<std::size_t>(n));
  for (double& v : w) v = rng() % 8 == 0 ? 0.0 : u(rng);
  return w;
}

struct WeightedCase {
  Case data;
  DType w_dtype;
  std::int64_t w_stride;
};

std::string weighted_case_name(const WeightedCase& c) {
  return case_name(c.data) + (c.w_dtype == DType::float32 ? "_wf32" : "_wf64") + "_ws" +
         std::to_string(c.w_stride);
}

/// The weighted running loss: a ratio of two sums of m positive terms; each side within
/// the sse bound relative to itself (as the unweighted running loss) and W within
/// 2 (m - 1) eps, hence twice the unweighted relative bound.
void expect_weighted_running_close(Backend& gpu, Backend& cpu, std::int64_t rows_summed,
                                   const Problem& p, const std::string& what) {
  double sse_g = 0.0, w_g = 0.0, sse_c = 0.0, w_c = 0.0;
  gpu.get_running_sums(&sse_g, &w_g);
  cpu.get_running_sums(&sse_c, &w_c);
  EXPECT_NEAR(w_g, w_c, 2.0 * static_cast<double>(rows_summed) * kEps * w_c) << what << ": running W";
  const double run_gpu = gpu.running_loss(), run_cpu = cpu.running_loss();
  EXPECT_NEAR(run_gpu, run_cpu, 8.0 * static_cast<double>(p.c.n + p.c.d + 5) * kEps * run_cpu)
      << what << ": running loss";
}

// Every kernel variant with weights (register buckets 1, 4, 16 vector, 32 scalar and
// column-major, tiled row- and column-major with one and many tiles per block), both
// weight dtypes (float32 weights beside float64 data too), strided weights (staged upload),
// mixed X / y dtypes; natural and ordered batches, a short last batch, the running sums
// and a step: GPU against the CPU reference with the weighted bounds.
TEST(CudaBackend, WeightedMatchesCpuReference) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const std::vector<WeightedCase> cases = {
      {{2003, 1, DType::float32, Layout::row_major}, DType::float32, 1},
      {{2003, 1, DType::float64, Layout::col_major}, DType::float64, 2},
      {{1009, 3, DType::float64, Layout::row_major}, DType::float32, 1},
      {{1009, 3, DType::float32, Layout::col_major}, DType::float64, 3},
      {{517, 16, DType::float64, Layout::row_major}, DType::float64, 1},
      {{517, 17, DType::float32, Layout::row_major}, DType::float32, 1},
      {{517, 17, DType::float64, Layout::col_major}, DType::float32, 2},
      {{2001, 5, DType::float32, Layout::row_major, 0, 1, true}, DType::float64, 1},
      {{1000, 40, DType::float64, Layout::col_major}, DType::float32, 1},
      {{12007, 40, DType::float32, Layout::row_major}, DType::float64, 1},
      {{12007, 40, DType::float64, Layout::col_major, 3, 2}, DType::float32, 4},
      {{33, 1500, DType::float64, Layout::row_major}, DType::float32, 1},
  };
  for (const WeightedCase& wc : cases) {
    const std::string what = weighted_case_name(wc);
    const Problem p(wc.data);
    const Weights wts(random_weights(p.c.n, 4242 + static_cast<std::uint64_t>(p.c.d)), wc.w_dtype, wc.w_stride);
    const std::int64_t n = p.c.n;
    auto gpu = steepest::detail::make_cuda_backend(p.X, p.y, wts.view);
    auto cpu = steepest::detail::make_cpu_backend(p.X, p.y, wts.view, 0);
    for (Backend* be : {gpu.get(), cpu.get()}) {
      be->set_parameters(p.w.data(), p.b);
      be->reset_running_loss();
    }
    compute_and_compare(*gpu, *cpu, p, 0, n, nullptr, what + " full", &wts.values);
    const std::vector<std::int64_t> order = permutation(777, 1, n);
    gpu->set_row_order(order.data());
    cpu->set_row_order(order.data());
    const std::int64_t batch = std::max<std::int64_t>(1, 2 * n / 5);
    const std::int64_t last = n % batch == 0 ? n - batch : n - n % batch;
    compute_and_compare(*gpu, *cpu, p, batch, 2 * batch, order.data(), what + " mini-batch", &wts.values);
    compute_and_compare(*gpu, *cpu, p, last, n, order.data(), what + " short last batch", &wts.values);
    compute_and_compare(*gpu, *cpu, p, batch, 2 * batch, nullptr, what + " natural mini-batch", &wts.values);
    expect_weighted_running_close(*gpu, *cpu, n + batch + (n - last) + batch, p, what);

    const double lr = 0.05;
    for (Backend* be : {gpu.get(), cpu.get()}) {
      be->set_parameters(p.w.data(), p.b);
      be->compute(0, n, false);
      be->plain_step(lr, true);
    }
    const Bounds bd = bounds_for(p, 0, n, nullptr, &wts.values);
    std::vector<double> wg(static_cast<std::size_t>(p.c.d)), wcpu(wg.size());
    double bg = 0.0, bc = 0.0;
    gpu->get_parameters(wg.data(), &bg);
    cpu->get_parameters(wcpu.data(), &bc);
    EXPECT_NEAR(bg, bc, 2.0 * lr * bd.grad_b + kRtol * std::fabs(bc)) << what;
    for (std::size_t j = 0; j < wg.size(); ++j) {
      EXPECT_NEAR(wg[j], wcpu[j], 2.0 * lr * bd.grad_w[j] + kRtol * std::fabs(wcpu[j])) << what << " w[" << j << "]";
    }
  }
}

// A batch whose weights are all zero: loss 0, gradient 0 (a step leaves the parameters as
// they were) and nothing added to the running sums, natural and ordered, register and tiled.
TEST(CudaBackend, WeightedAllZeroBatchIsANoOp) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  for (const std::int64_t d : {3, 40}) {
    const Problem p({600, d, DType::float32, Layout::row_major});
    std::vector<double> values = random_weights(600, 99);
    for (std::int64_t i = 0; i < 100; ++i) values[static_cast<std::size_t>(i)] += 0.5;  // W > 0
    for (std::int64_t i = 200; i < 400; ++i) values[static_cast<std::size_t>(i)] = 0.0;
    const Weights wts(std::move(values), DType::float64, 1);
    auto gpu = steepest::detail::make_cuda_backend(p.X, p.y, wts.view);
    std::vector<std::int64_t> order(600);
    for (std::int64_t t = 0; t < 600; ++t) order[static_cast<std::size_t>(t)] = (t + 200) % 600;  // zeros first
    gpu->set_row_order(order.data());
    gpu->set_parameters(p.w.data(), p.b);
    gpu->reset_running_loss();
    gpu->compute(0, 100, false);
    ASSERT_GT(gpu->loss(), 0.0);
    double sse0 = 0.0, rows0 = 0.0;
    gpu->get_running_sums(&sse0, &rows0);
    for (const bool ordered : {false, true}) {
      const std::int64_t lo = ordered ? 0 : 200, hi = ordered ? 200 : 400;
      gpu->compute(lo, hi, ordered);
      const Outputs o = read_outputs(*gpu);
      EXPECT_EQ(o.loss, 0.0) << "d " << d;
      EXPECT_EQ(o.gb, 0.0) << "d " << d;
      EXPECT_EQ(o.gw, std::vector<double>(static_cast<std::size_t>(d), 0.0)) << "d " << d;
      double sse = 0.0, rows = 0.0;
      gpu->get_running_sums(&sse, &rows);
      EXPECT_EQ(sse, sse0) << "d " << d;
      EXPECT_EQ(rows, rows0) << "d " << d;
      gpu->plain_step(0.5, true);
      std::vector<double> w(static_cast<std::size_t>(d));
      double b = 0.0;
      gpu->get_parameters(w.data(), &b);
      EXPECT_EQ(w, p.w) << "d " << d;
      EXPECT_EQ(b, p.b) << "d " << d;
    }
  }
}

// Weight k (an integer) is the row present k times (0: absent): the weighted GPU pass
// against the unweighted GPU pass over the rows copied, within the weighted bounds (their
// sums have the same terms, and W is exact on both sides).
TEST(CudaBackend, WeightedIntegerWeightsEqualDuplicatedRows) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  for (const std::int64_t d : {3, 40}) {
    const Problem p({997, d, DType::float64, Layout::row_major});
    std::mt19937_64 rng(5);
    std::vector<double> values(997);
    for (double& v : values) v = static_cast<double>(rng() % 4);
    const Weights wts(values, DType::float32, 1);
    std::vector<double> x_copies, y_copies;
    for (std::int64_t i = 0; i < 997; ++i) {
      for (int k = 0; k < static_cast<int>(values[static_cast<std::size_t>(i)]); ++k) {
        x_copies.insert(x_copies.end(), p.x64.begin() + i * d, p.x64.begin() + (i + 1) * d);
        y_copies.push_back(p.y64[static_cast<std::size_t>(i)]);
      }
    }
    const auto copies = static_cast<std::int64_t>(y_copies.size());
    auto weighted = steepest::detail::make_cuda_backend(p.X, p.y, wts.view);
    auto plain = steepest::detail::make_cuda_backend(
        steepest::make_matrix_view(x_copies.data(), copies, d),
        steepest::make_vector_view(y_copies.data(), copies));
    for (Backend* be : {weighted.get(), plain.get()}) {
      be->set_parameters(p.w.data(), p.b);
      be->reset_running_loss();
    }
    weighted->compute(0, 997, false);
    plain->compute(0, copies, false);
    const Bounds bd = bounds_for(p, 0, 997, nullptr, &wts.values);
    expect_close(read_outputs(*weighted), read_outputs(*plain), bd, "d " + std::to_string(d));
    double sse_w = 0.0, rows_w = 0.0, sse_p = 0.0, rows_p = 0.0;
    weighted->get_running_sums(&sse_w, &rows_w);
    plain->get_running_sums(&sse_p, &rows_p);
    EXPECT_EQ(rows_w, static_cast<double>(copies));
    EXPECT_EQ(rows_p, static_cast<double>(copies));
    // sse = loss W: the loss bound times W.
    EXPECT_NEAR(sse_w, sse_p, bd.loss * rows_p + kRtol * sse_p);
  }
}

// Unit weights on the GPU against the unweighted GPU pass (the CPU test asks for the same
// bits; here FMA contraction may differ between the two instantiations, so the bounds).
TEST(CudaBackend, WeightedUnitWeightsMatchUnweighted) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  for (const Case& c : {Case{2003, 1, DType::float32, Layout::row_major},
                        Case{1009, 4, DType::float64, Layout::col_major},
                        Case{12007, 40, DType::float32, Layout::row_major}}) {
    const Problem p(c);
    const Weights ones(std::vector<double>(static_cast<std::size_t>(c.n), 1.0), DType::float32, 1);
    auto weighted = steepest::detail::make_cuda_backend(p.X, p.y, ones.view);
    auto plain = steepest::detail::make_cuda_backend(p.X, p.y);
    for (Backend* be : {weighted.get(), plain.get()}) be->set_parameters(p.w.data(), p.b);
    compute_and_compare(*weighted, *plain, p, 0, c.n, nullptr, case_name(c), &ones.values);
  }
}

// Run to run: two weighted backends over the same data give the same bits (ordered batches,
// steps, a full pass), register and tiled.
TEST(CudaBackend, WeightedBitwiseRepeatable) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  for (const Case& c : {Case{3001, 3, DType::float32, Layout::col_major},
                        Case{12007, 40, DType::float64, Layout::row_major}}) {
    const Problem p(c);
    const Weights wts(random_weights(c.n, 11), DType::float64, 2);
    const std::vector<std::int64_t> order = permutation(3, 0, c.n);
    std::vector<Outputs> runs;
    for (int run = 0; run < 2; ++run) {
      auto gpu = steepest::detail::make_cuda_backend(p.X, p.y, wts.view);
      gpu->set_parameters(p.w.data(), p.b);
      gpu->set_row_order(order.data());
      gpu->reset_running_loss();
      for (std::int64_t lo = 0; lo < c.n; lo += 1000) {
        gpu->compute(lo, std::min(c.n, lo + 1000), true);
        gpu->plain_step(0.01, true);
      }
      gpu->compute(0, c.n, false);
      Outputs o = read_outputs(*gpu);
      double sse = 0.0, rows = 0.0;
      gpu->get_running_sums(&sse, &rows);
      o.gw.push_back(sse);
      o.gw.push_back(rows);
      runs.push_back(std::move(o));
    }
    EXPECT_TRUE(same_bits(runs[0], runs[1])) << case_name(c);
  }
}

TEST(CudaBackend, WeightedRejectsWeightsOfTheWrongLength) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const Problem p({100, 3, DType::float64, Layout::row_major});
  const std::vector<double> short_weights(99, 1.0);
  EXPECT_THROW((void)steepest::detail::make_cuda_backend(
                   p.X, p.y, steepest::make_vector_view(short_weights.data(), 99)),
               steepest::InvalidArgument);
}

// --- Gram sums ---------------------------------------------------------------------------------
//
// gram_sums() against a long-double reference computed here, entry by entry:
// |gpu - ref| <= 1e-12 x the entry's magnitude sum (sum_i |w_i z_ij z_ik|; sum |w_i z_ij| for
// S1, sum |w_i| for W).  The GPU forms z = x - s in float64 (one rounding), w z (one more) and
// adds the products in float64 on tensor cores in a fixed order, so each entry is within
// about (m + 4) eps of its magnitude sum: far inside 1e-12 for these sizes, while a dropped,
// doubled or misplaced row or entry, or float32 accumulation, is far outside it.  The host
// tests further down (no GPU needed) check the plan and replay the kernels' order.

namespace gram = steepest::detail::plan;
using steepest::detail::gram_index;
using steepest::detail::gram_rows;
using steepest::detail::gram_s1;
using steepest::detail::gram_weight;
using steepest::detail::gram_width;

constexpr double kGramRtol = 1e-12;

/// Reference sums (and magnitude sums) of one row of Gram sums, in long double.
struct GramReference {
  std::vector<long double> value;
  std::vector<long double> magnitude;
};

/// A shift near the data (the trainer's is the mean of the first chunk): d + 1 values.
std::vector<double> gram_shift(std::int64_t d) {
  std::vector<double> shift(static_cast<std::size_t>(d + 1));
  for (std::int64_t j = 0; j <= d; ++j) shift[static_cast<std::size_t>(j)] = 0.125 - 0.01 * static_cast<double>(j % 7);
  return shift;
}

/// Augmented value k of row i (x - s, then y - s_y, then 1), exactly, in long double.
long double gram_z(const Problem& p, std::int64_t i, std::int64_t k, const std::vector<double>& shift) {
  const std::int64_t d = p.c.d;
  if (k > d) return 1.0L;
  const double v = k < d ? p.x64[static_cast<std::size_t>(i * d + k)] : p.y64[static_cast<std::size_t>(i)];
  return static_cast<long double>(v) - static_cast<long double>(shift[static_cast<std::size_t>(k)]);
}

GramReference gram_reference(const Problem& p, std::int64_t begin, std::int64_t end,
                             const std::int64_t* order, const std::vector<double>* weights,
                             const std::vector<double>& shift) {
  const std::int64_t d = p.c.d;
  GramReference ref;
  ref.value.assign(gram_width(d), 0.0L);
  ref.magnitude.assign(gram_width(d), 0.0L);
  std::vector<long double> z(static_cast<std::size_t>(d + 2));
  for (std::int64_t pos = begin; pos < end; ++pos) {
    const std::int64_t i = order != nullptr ? order[pos] : pos;
    const long double w = weights != nullptr ? (*weights)[static_cast<std::size_t>(i)] : 1.0L;
    for (std::int64_t k = 0; k < d + 2; ++k) z[static_cast<std::size_t>(k)] = gram_z(p, i, k, shift);
    for (std::int64_t a = 0; a <= d + 1; ++a) {
      const long double wa = w * z[static_cast<std::size_t>(a)];
      for (std::int64_t b = a; b <= d + 1; ++b) {
        const auto e = static_cast<std::size_t>(gram::gram_output_index(d, a, b));
        const long double t = wa * z[static_cast<std::size_t>(b)];
        ref.value[e] += t;
        ref.magnitude[e] += std::fabs(t);
      }
    }
  }
  ref.value[static_cast<std::size_t>(gram_rows(d))] = static_cast<long double>(end - begin);
  return ref;
}

void expect_gram_close(const std::vector<double>& got, const GramReference& ref, const std::string& what) {
  ASSERT_EQ(got.size(), ref.value.size()) << what;
  int reported = 0;
  for (std::size_t e = 0; e + 1 < got.size(); ++e) {
    const long double tol = kGramRtol * ref.magnitude[e];
    if (!(std::fabs(static_cast<long double>(got[e]) - ref.value[e]) <= tol) && reported++ < 5) {
      ADD_FAILURE() << what << ": entry " << e << " of " << got.size() << " got " << got[e] << " want "
                    << static_cast<double>(ref.value[e]) << " tol " << static_cast<double>(tol);
    }
  }
  EXPECT_EQ(reported, 0) << what << ": Gram entries out of tolerance";
  EXPECT_EQ(got.back(), static_cast<double>(ref.value.back())) << what << ": rows";
}

bool same_doubles(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

std::vector<double> run_gram(Backend& be, std::int64_t begin, std::int64_t end, bool ordered,
                             const std::vector<double>& shift) {
  std::vector<double> totals(gram_width(be.cols()), std::nan(""));
  be.gram_sums(begin, end, ordered, shift.data(), totals.data());
  return totals;
}

struct GramCase {
  Case data;
  bool weighted = false;
  DType w_dtype = DType::float64;
};

std::string gram_case_name(const GramCase& g) {
  return case_name(g.data) + (g.weighted ? (g.w_dtype == DType::float32 ? "_wf32" : "_wf64") : "");
}

/// One backend over the case: the full range, an interior natural range (unaligned start),
/// an interior range of a permutation and a single row, each against the reference.
void check_gram_case(const GramCase& g) {
  const std::string what = gram_case_name(g);
  const Problem p(g.data);
  const std::int64_t n = p.c.n, d = p.c.d;
  const Weights wts(random_weights(n, 31 + static_cast<std::uint64_t>(d)), g.w_dtype, 1);
  const std::vector<double>* wv = g.weighted ? &wts.values : nullptr;
  auto gpu = g.weighted ? steepest::detail::make_cuda_backend(p.X, p.y, wts.view)
                        : steepest::detail::make_cuda_backend(p.X, p.y);
  const std::vector<double> shift = gram_shift(d);
  expect_gram_close(run_gram(*gpu, 0, n, false, shift), gram_reference(p, 0, n, nullptr, wv, shift),
                    what + " full");
  const std::int64_t lo = std::min<std::int64_t>(n - 1, 1 + n / 7), hi = std::max(lo + 1, n - n / 5);
  expect_gram_close(run_gram(*gpu, lo, hi, false, shift), gram_reference(p, lo, hi, nullptr, wv, shift),
                    what + " natural [" + std::to_string(lo) + ", " + std::to_string(hi) + ")");
  const std::vector<std::int64_t> order = permutation(2718, 1, n);
  gpu->set_row_order(order.data());
  expect_gram_close(run_gram(*gpu, lo, hi, true, shift), gram_reference(p, lo, hi, order.data(), wv, shift),
                    what + " ordered [" + std::to_string(lo) + ", " + std::to_string(hi) + ")");
  expect_gram_close(run_gram(*gpu, n - 1, n, true, shift),
                    gram_reference(p, n - 1, n, order.data(), wv, shift), what + " last row");
}

// Every kernel: rows with buckets 1, 2, 4 (d = 1, 2, 3, 4, vector loads at 4), small with
// 1..5 blocks of 8 columns (d = 5, 6 | 7, 16 | 30 | 33, 38) and pairs (d = 39 with one pair
// group, 100 with 2, 512 with 34); row- and column-major, float32 and float64 (and mixed
// with y, strided views), weighted in either weight dtype, natural and ordered.
TEST(CudaGram, MatchesLongDoubleReferenceEveryKernel) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  std::vector<GramCase> cases;
  const std::vector<std::pair<std::int64_t, std::int64_t>> shapes = {
      {1001, 1}, {1001, 2}, {1001, 3}, {1001, 4}, {517, 5}, {517, 6}, {517, 7},  {1000, 16},
      {300, 30}, {777, 33}, {400, 38}, {400, 39}, {300, 100}, {61, 512}};
  for (const auto& [n, d] : shapes) {
    for (DType t : {DType::float32, DType::float64}) {
      for (Layout l : {Layout::row_major, Layout::col_major}) {
        const bool weighted = (d + (t == DType::float32 ? 1 : 0) + (l == Layout::row_major ? 1 : 0)) % 2 == 0;
        cases.push_back({{n, d, t, l}, false});
        if (weighted) cases.push_back({{n, d, t, l}, true, t == DType::float32 ? DType::float64 : DType::float32});
      }
    }
  }
  cases.push_back({{1001, 3, DType::float32, Layout::row_major, 0, 1, true}, true, DType::float32});
  cases.push_back({{400, 39, DType::float64, Layout::col_major, 0, 1, true}, false});
  cases.push_back({{1000, 16, DType::float32, Layout::row_major, 3, 2}, true, DType::float32});
  for (const GramCase& g : cases) check_gram_case(g);
}

// Same data, same calls: the same bits, on one backend and on a second one; and a pass
// leaves loss, gradient, parameters, running sums and optimizer state as they were.
TEST(CudaGram, BitwiseRepeatableAndLeavesTheFitAlone) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  for (const Case& c : {Case{3001, 16, DType::float32, Layout::row_major},
                        Case{1200, 70, DType::float64, Layout::col_major}}) {
    const Problem p(c);
    const std::vector<double> shift = gram_shift(c.d);
    const std::vector<std::int64_t> order = permutation(5, 2, c.n);
    auto a = steepest::detail::make_cuda_backend(p.X, p.y);
    auto b = steepest::detail::make_cuda_backend(p.X, p.y);
    a->set_parameters(p.w.data(), p.b);
    a->set_row_order(order.data());
    b->set_row_order(order.data());
    a->reset_running_loss();
    a->compute(0, c.n, false);
    a->plain_step(0.01, true);
    a->compute(c.n / 3, c.n, true);
    const Outputs before = read_outputs(*a);
    double sse0 = 0.0, rows0 = 0.0;
    a->get_running_sums(&sse0, &rows0);
    std::vector<double> params0(static_cast<std::size_t>(c.d) + 1), state0(2 * (static_cast<std::size_t>(c.d) + 1));
    a->get_parameters(params0.data(), &params0.back());
    a->get_optimizer_state(state0.data());

    const std::vector<double> first = run_gram(*a, 0, c.n, false, shift);
    EXPECT_TRUE(same_doubles(first, run_gram(*a, 0, c.n, false, shift))) << case_name(c) << ": twice on one backend";
    EXPECT_TRUE(same_doubles(first, run_gram(*b, 0, c.n, false, shift))) << case_name(c) << ": on a second backend";
    const std::vector<double> ordered = run_gram(*a, 7, c.n - 5, true, shift);
    EXPECT_TRUE(same_doubles(ordered, run_gram(*b, 7, c.n - 5, true, shift))) << case_name(c) << ": ordered";

    EXPECT_TRUE(same_bits(before, read_outputs(*a))) << case_name(c) << ": loss or gradient moved";
    double sse1 = 0.0, rows1 = 0.0;
    a->get_running_sums(&sse1, &rows1);
    EXPECT_EQ(sse1, sse0);
    EXPECT_EQ(rows1, rows0);
    std::vector<double> params1(params0.size()), state1(state0.size());
    a->get_parameters(params1.data(), &params1.back());
    a->get_optimizer_state(state1.data());
    EXPECT_EQ(params1, params0);
    EXPECT_EQ(state1, state0);
    // The next compute after a Gram pass: the same bits as before it.
    a->compute(c.n / 3, c.n, true);
    EXPECT_TRUE(same_bits(before, read_outputs(*a))) << case_name(c) << ": compute after gram_sums";
  }
}

// An empty range is all zeros; ranges outside the rows, null pointers and an ordered pass
// without a row order are refused.
TEST(CudaGram, EmptyAndBadRanges) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const Problem p({100, 3, DType::float64, Layout::row_major});
  auto gpu = steepest::detail::make_cuda_backend(p.X, p.y);
  const std::vector<double> shift = gram_shift(3);
  EXPECT_EQ(run_gram(*gpu, 40, 40, false, shift), std::vector<double>(gram_width(3), 0.0));
  std::vector<double> totals(gram_width(3));
  EXPECT_THROW(gpu->gram_sums(0, 101, false, shift.data(), totals.data()), steepest::InvalidArgument);
  EXPECT_THROW(gpu->gram_sums(-1, 5, false, shift.data(), totals.data()), steepest::InvalidArgument);
  EXPECT_THROW(gpu->gram_sums(6, 5, false, shift.data(), totals.data()), steepest::InvalidArgument);
  EXPECT_THROW(gpu->gram_sums(0, 5, true, shift.data(), totals.data()), steepest::InvalidArgument);
  EXPECT_THROW(gpu->gram_sums(0, 5, false, nullptr, totals.data()), steepest::InvalidArgument);
  EXPECT_THROW(gpu->gram_sums(0, 5, false, shift.data(), nullptr), steepest::InvalidArgument);
}

// batch_gram_sums(): every batch's Gram kernels queued at once, one copy down; each batch's
// row has the bits of gram_sums() of that batch (the same kernels and arguments).  A last
// short batch, natural and ordered positions, both layouts.
TEST(CudaGram, BatchSumsAreEachBatchsGramSums) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  for (const Case& c : {Case{30011, 16, DType::float32, Layout::row_major},
                        Case{20003, 5, DType::float64, Layout::col_major}}) {
    const Problem p(c);
    const std::vector<double> shift = gram_shift(c.d);
    const std::vector<std::int64_t> order = permutation(9, 1, c.n);
    auto gpu = steepest::detail::make_cuda_backend(p.X, p.y);
    gpu->set_row_order(order.data());
    const std::size_t width = gram_width(c.d);
    for (const bool ordered : {false, true}) {
      const std::int64_t begin = 3, end = c.n - 11, batch = 1000;
      const std::int64_t count = (end - begin + batch - 1) / batch;
      std::vector<double> all(static_cast<std::size_t>(count) * width, -1.0);
      gpu->batch_gram_sums(begin, end, batch, ordered, shift.data(), all.data());
      for (std::int64_t k = 0; k < count; ++k) {
        const std::int64_t lo = begin + k * batch;
        const std::vector<double> one = run_gram(*gpu, lo, std::min(end, lo + batch), ordered, shift);
        const std::vector<double> got(all.begin() + k * width, all.begin() + (k + 1) * width);
        ASSERT_TRUE(same_doubles(got, one)) << case_name(c) << (ordered ? " ordered" : "") << ": batch " << k;
      }
    }
  }
}

// Mini-batch Gram mode on the GPU (its batch sums from the kernels above; the steps on the
// host) follows the CPU's to rounding: shuffled batches, batches of whole shuffled runs
// (every run's sums kept: the GPU backend never sees the order), and fixed ones (affine
// epochs).  (Not in the sanitizer filter: thousands of batches.)
TEST(CudaGramFit, MiniBatchGramFollowsTheCpus) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const Problem p({40009, 8, DType::float32, Layout::row_major});
  for (const std::int64_t block : {std::int64_t{1}, std::int64_t{128}, std::int64_t{0}}) {
    const bool shuffle = block > 0;
    const char* mode = block == 1 ? "shuffled" : shuffle ? "whole runs" : "fixed batches";
    steepest::FitOptions o;
    o.solver = steepest::Solver::gram;
    o.batch_size = 512;
    o.shuffle = shuffle;
    o.shuffle_block = std::max<std::int64_t>(block, 1);
    o.learning_rate = 0.01;
    o.optimizer = steepest::Optimizer::nesterov;
    o.epochs = 40;
    o.device = steepest::Device::cpu;
    const steepest::FitResult cpu = steepest::fit(p.X, p.y, o);
    o.device = steepest::Device::cuda;
    const steepest::FitResult gpu = steepest::fit(p.X, p.y, o);
    ASSERT_EQ(gpu.backend, "cuda");
    ASSERT_EQ(gpu.solver, "gram");
    double size = std::fabs(cpu.bias), dev = std::fabs(gpu.bias - cpu.bias);
    for (std::size_t k = 0; k < cpu.weights.size(); ++k) {
      size = std::max(size, std::fabs(cpu.weights[k]));
      dev = std::max(dev, std::fabs(gpu.weights[k] - cpu.weights[k]));
    }
    EXPECT_LE(dev, 1e-10 * size) << mode;
    EXPECT_LE(std::fabs(gpu.final_mse - cpu.final_mse), 1e-10 * cpu.final_mse);
  }
}

// Passes of many tiles per block (the copy pipeline's both buffers, its last partial tile),
// 16-byte and element copies (an aligned and an unaligned first row), both layouts.
TEST(CudaGramLarge, ManyTilesPerBlock) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  for (const GramCase& g : {GramCase{{400003, 16, DType::float32, Layout::row_major}, false},
                            GramCase{{400003, 3, DType::float32, Layout::row_major}, true, DType::float32},
                            GramCase{{1000003, 1, DType::float32, Layout::col_major}, false},
                            GramCase{{200003, 8, DType::float64, Layout::col_major}, true, DType::float64},
                            GramCase{{60001, 45, DType::float32, Layout::row_major}, false}}) {
    check_gram_case(g);
  }
}

// --- Gram plan and order, on the host (no GPU) ------------------------------------------------

// The augmented entries (a <= b < d + 2) land on every entry of S2, S1 and W once, where
// backend/gram.hpp puts them.
TEST(GramPlan, OutputIndexIsTheGramLayout) {
  for (std::int64_t d = 1; d <= steepest::detail::kGramMaxFeatures; d += (d < 70 ? 1 : 37)) {
    std::vector<int> seen(static_cast<std::size_t>(gram::gram_entries(d)), 0);
    for (std::int64_t a = 0; a < d + 2; ++a) {
      for (std::int64_t b = 0; b < d + 2 + 8; ++b) {
        const std::int64_t idx = gram::gram_output_index(d, a, b);
        if (a > b || b >= d + 2) {
          ASSERT_EQ(idx, -1) << "d " << d << " (" << a << ", " << b << ")";
          continue;
        }
        const std::int64_t want = b <= d ? gram_index(d, a, b) : (a <= d ? gram_s1(d) + a : gram_weight(d));
        ASSERT_EQ(idx, want) << "d " << d << " (" << a << ", " << b << ")";
        ++seen[static_cast<std::size_t>(idx)];
      }
    }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<std::ptrdiff_t>(seen.size())) << "d " << d;
    EXPECT_EQ(gram::gram_entries(d), gram_rows(d));
  }
}

TEST(GramPlan, PairsAreTheBlockTriangleRowByRow) {
  for (int nb = 1; nb <= gram::gram_blocks(steepest::detail::kGramMaxFeatures); ++nb) {
    std::int64_t q = 0;
    for (int J = 0; J < nb; ++J) {
      for (int K = J; K < nb; ++K, ++q) {
        ASSERT_EQ(gram::gram_pair_row(q, nb), J) << "nb " << nb << " q " << q;
        ASSERT_EQ(gram::gram_pair_col(q, nb), K) << "nb " << nb << " q " << q;
      }
    }
    EXPECT_EQ(q, gram::gram_pair_count(nb));
  }
  EXPECT_EQ(gram::gram_kind(4), gram::GramKind::rows);
  EXPECT_EQ(gram::gram_kind(5), gram::GramKind::small);
  EXPECT_EQ(gram::gram_kind(38), gram::GramKind::small);
  EXPECT_EQ(gram::gram_kind(39), gram::GramKind::pairs);
  EXPECT_EQ(gram::gram_pair_groups(3), 1);
  EXPECT_EQ(gram::gram_pair_groups(38), 1);
  EXPECT_EQ(gram::gram_pair_groups(100), 2);  // 13 blocks: 91 pairs
  EXPECT_EQ(gram::gram_pair_groups(512), 34);  // 65 blocks: 2145 pairs
}

/// Whether the 32 lanes of one fragment load (row lane % 4 of a slab, column 8 J + lane / 4)
/// are free of bank conflicts, given each lane's element offset: float32, one wavefront of
/// 32 four-byte banks; float64, two half-warps of 16 eight-byte bank pairs.  Lanes reading
/// the same element share it.
bool conflict_free(const std::vector<std::int64_t>& offsets, std::int64_t elem) {
  const int group = elem == 4 ? 32 : 16, banks = elem == 4 ? 32 : 16;
  for (int first = 0; first < 32; first += group) {
    std::vector<std::int64_t> owner(static_cast<std::size_t>(banks), -1);
    for (int lane = first; lane < first + group; ++lane) {
      const std::int64_t off = offsets[static_cast<std::size_t>(lane)];
      if (off < 0) continue;  // this lane reads y, 1 or 0
      std::int64_t& o = owner[static_cast<std::size_t>(off % banks)];
      if (o >= 0 && o != off) return false;
      o = off;
    }
  }
  return true;
}

TEST(GramPlan, TilesAreAlignedAndFragmentLoadsConflictFree) {
  for (std::int64_t elem : {4, 8}) {
    for (std::int64_t d = gram::kGramRowFeatures + 1; d <= steepest::detail::kGramMaxFeatures; ++d) {
      const std::int64_t pitch = gram::gram_row_pitch(d, elem);
      ASSERT_GE(pitch, d);
      // Unpadded rows only up to 32 bytes; wider, whole 32-byte pieces.
      EXPECT_TRUE(d * elem <= 32 ? pitch == d : pitch * elem % 32 == 0) << "d " << d << " elem " << elem;
      for (bool row_major : {true, false}) {
        // y in the other dtype, weights in X's: every region's size is checked below.
        const gram::GramElems elems{elem, 12 - elem, d % 2 == 0 ? elem : 0};
        const int rows = gram::gram_tile_rows(d, elems, row_major, 227 * 1024);
        ASSERT_GT(rows, 0) << "d " << d;
        EXPECT_EQ(rows % (gram::gram_small(d) ? 32 : 4), 0);
        EXPECT_LE(gram::gram_smem_bytes(d, rows, elems, row_major), 227 * 1024);
        EXPECT_EQ(gram::gram_x_bytes(d, rows, elem, row_major) % 16, 0);
        EXPECT_EQ(gram::gram_vector_bytes(rows, elems.y) % 16, 0);
        EXPECT_EQ(gram::gram_buffer_bytes(d, rows, elems, row_major) % 16, 0);
        const std::int64_t cpitch = gram::gram_col_pitch(rows);
        EXPECT_GE(cpitch, rows);
        EXPECT_EQ(cpitch * elem % 16, 0);
        // Every 8-column block of a slab, at the first and a later slab.
        for (int J = 0; J < gram::gram_blocks(d); ++J) {
          for (int slab : {0, rows / 4 - 1}) {
            std::vector<std::int64_t> offsets(32);
            for (int lane = 0; lane < 32; ++lane) {
              const std::int64_t r = 4 * slab + lane % 4, c = 8 * J + lane / 4;
              offsets[static_cast<std::size_t>(lane)] =
                  c >= d ? -1 : (row_major ? r * pitch + c : c * cpitch + r);
            }
            ASSERT_TRUE(conflict_free(offsets, elem))
                << "d " << d << " elem " << elem << (row_major ? " row" : " col") << " block " << J;
          }
        }
      }
    }
  }
  // The benchmarked shapes (float32 row-major, unweighted): tiles of 16 KiB or more; the
  // rows kernel (d <= 4) stages nothing.
  const gram::GramElems f32{4, 4, 0};
  for (std::int64_t d = 1; d <= gram::kGramRowFeatures; ++d) {
    EXPECT_EQ(gram::gram_kind(d), gram::GramKind::rows);
    EXPECT_EQ(gram::gram_tile_rows(d, f32, true, gram::kGramSmallSmem), gram::kGramThreads);
    EXPECT_EQ(gram::gram_smem_bytes(d, gram::kGramThreads, f32, true), 0);
  }
  EXPECT_EQ(gram::gram_tile_rows(5, f32, true, gram::kGramSmallSmem), 1024);
  EXPECT_EQ(gram::gram_tile_rows(8, f32, true, gram::kGramSmallSmem), 512);
  EXPECT_EQ(gram::gram_tile_rows(16, f32, true, gram::kGramSmallSmem), 256);
  EXPECT_EQ(gram::gram_tile_rows(32, f32, true, gram::kGramSmallSmem), 128);
  EXPECT_EQ(gram::gram_tile_rows(64, f32, true, gram::kGramPairsSmem), 32);
}

// The kernels' order replayed on the host (plan::emulate_gram_sums, with the plan's tile
// rows and a few block counts) against the long-double reference: the tiling, slab and
// pair assignment and the entry mapping cover every row and entry once.
TEST(GramPlan, EmulatedOrderMatchesTheReference) {
  for (const std::int64_t d : {1, 2, 3, 4, 5, 6, 7, 16, 33, 38, 39, 100}) {
    for (const bool weighted : {false, true}) {
      const Problem p({d > 50 ? 203 : 1201, d, DType::float64, Layout::row_major});
      const std::vector<double> w = random_weights(p.c.n, 9);
      const std::vector<double> shift = gram_shift(d);
      const auto z = [&](std::int64_t pos, std::int64_t c) {
        if (c > d) return 1.0;
        const double v = c < d ? p.x64[static_cast<std::size_t>(pos * d + c)] : p.y64[static_cast<std::size_t>(pos)];
        return v - shift[static_cast<std::size_t>(c)];
      };
      const auto weight = [&](std::int64_t pos) { return weighted ? w[static_cast<std::size_t>(pos)] : 1.0; };
      const int rows = gram::gram_tile_rows(d, gram::GramElems{8, 8, weighted ? 8 : 0}, true,
                                            gram::gram_small(d) ? gram::kGramSmallSmem : gram::kGramPairsSmem);
      const std::int64_t begin = 5, end = p.c.n - 3;
      const GramReference ref = gram_reference(p, begin, end, nullptr, weighted ? &w : nullptr, shift);
      // The plan's tile and the smallest (many tiles a block, a short last one).
      const int least = gram::gram_kind(d) == gram::GramKind::rows ? rows : (gram::gram_small(d) ? 32 : 4);
      for (const int tile : {rows, least}) {
        for (const std::int64_t slices : {1, 3, 7}) {
          if (slices > gram::ceil_div(end - begin, tile)) continue;  // as fused_grid caps it
          std::vector<double> got = gram::emulate_gram_sums(d, begin, end, tile, slices, z, weight);
          got.push_back(static_cast<double>(end - begin));
          expect_gram_close(got, ref, "d " + std::to_string(d) + (weighted ? " weighted" : "") + " tile " +
                                          std::to_string(tile) + " slices " + std::to_string(slices));
        }
      }
    }
  }
}

// Runs everywhere: without a GPU the backend must refuse clearly, never crash.
TEST(CudaBackend, WithoutGpuRefusesWithAReason) {
  if (steepest::detail::cuda_usable()) GTEST_SKIP() << "a GPU is usable here";
  EXPECT_TRUE(steepest::cuda_devices().empty());
  const std::string reason = steepest::cuda_unavailable_reason();
  EXPECT_FALSE(reason.empty());
  const Problem p({10, 2, DType::float64, Layout::row_major});
  try {
    (void)steepest::detail::make_cuda_backend(p.X, p.y);
    FAIL() << "make_cuda_backend succeeded without a GPU";
  } catch (const steepest::DeviceUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
  }
}

}  // namespace
