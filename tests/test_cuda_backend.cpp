// The CUDA backend against the CPU reference, on sizes that are not multiples of a warp or
// a block, both layouts, float32 and float64, strided views, natural and permuted batches;
// plus bitwise repeatability.  Every GPU test skips without a usable GPU (fails under
// STEEPEST_REQUIRE_GPU=1).
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
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend.hpp"
#include "gpu_test_support.hpp"
#include "permutation.hpp"
#include "steepest/data.hpp"
#include "steepest/device.hpp"
#include "steepest/error.hpp"

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
};

std::string case_name(const Case& c) {
  return "n" + std::to_string(c.n) + "_d" + std::to_string(c.d) +
         (c.dtype == DType::float32 ? "_f32" : "_f64") +
         (c.layout == Layout::row_major ? "_row" : "_col") +
         (c.stride_pad != 0 || c.y_stride != 1 ? "_strided" : "");
}

/// Host data in the case's dtype and layout, a copy of it in float64 (for the bounds),
/// and parameters away from the solution so residuals are not small.
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

  explicit Problem(const Case& cs, std::uint64_t seed = 7) : c(cs) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(cs.n * 131 + cs.d));
    std::uniform_real_distribution<double> unit(-1.0, 1.0);
    const std::int64_t n = c.n, d = c.d;
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
      if (c.dtype == DType::float32) yi = static_cast<float>(yi);
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
    if (c.dtype == DType::float32) {
      xf.assign(x_size, std::nanf(""));  // padding must never be read
      yf.assign(y_size, std::nanf(""));
      for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = 0; j < d; ++j) {
          xf[static_cast<std::size_t>(x_at(i, j))] = static_cast<float>(x64[static_cast<std::size_t>(i * d + j)]);
        }
        yf[static_cast<std::size_t>(i * c.y_stride)] = static_cast<float>(y64[static_cast<std::size_t>(i)]);
      }
      X = steepest::make_matrix_view(xf.data(), n, d, c.layout, stride);
      y = steepest::make_vector_view(yf.data(), n, c.y_stride);
    } else {
      xd.assign(x_size, std::nan(""));
      yd.assign(y_size, std::nan(""));
      for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = 0; j < d; ++j) {
          xd[static_cast<std::size_t>(x_at(i, j))] = x64[static_cast<std::size_t>(i * d + j)];
        }
        yd[static_cast<std::size_t>(i * c.y_stride)] = y64[static_cast<std::size_t>(i)];
      }
      X = steepest::make_matrix_view(xd.data(), n, d, c.layout, stride);
      y = steepest::make_vector_view(yd.data(), n, c.y_stride);
    }
  }
};

/// The atol of each output (see the file comment) for positions [begin, end).
struct Bounds {
  std::vector<double> grad_w;
  double grad_b = 0.0;
  double loss = 0.0;
};

Bounds bounds_for(const Problem& p, std::int64_t begin, std::int64_t end,
                  const std::int64_t* order) {
  const std::int64_t d = p.c.d, m = end - begin;
  Bounds out;
  out.grad_w.assign(static_cast<std::size_t>(d), 0.0);
  double sum_m = 0.0, sum_m2 = 0.0;
  for (std::int64_t pos = begin; pos < end; ++pos) {
    const std::int64_t i = order != nullptr ? order[pos] : pos;
    const double* xi = p.x64.data() + i * d;
    double dot = 0.0, mag = std::fabs(p.b) + std::fabs(p.y64[static_cast<std::size_t>(i)]);
    for (std::int64_t j = 0; j < d; ++j) {
      dot += xi[j] * p.w[static_cast<std::size_t>(j)];
      mag += std::fabs(xi[j] * p.w[static_cast<std::size_t>(j)]);
    }
    const double mi = std::fabs(dot + p.b - p.y64[static_cast<std::size_t>(i)]) + mag;
    sum_m += mi;
    sum_m2 += mi * mi;
    for (std::int64_t j = 0; j < d; ++j) out.grad_w[static_cast<std::size_t>(j)] += std::fabs(xi[j]) * mi;
  }
  const double c = 2.0 * static_cast<double>(m + d + 4) * kEps;
  const double inv_m = 1.0 / static_cast<double>(m);
  for (double& g : out.grad_w) g *= c * 2.0 * inv_m;
  out.grad_b = c * 2.0 * inv_m * sum_m;
  out.loss = c * inv_m * sum_m2;
  return out;
}

struct Outputs {
  double loss = 0.0;
  std::vector<double> gw;
  double gb = 0.0;
};

Outputs read_outputs(Backend& be) {
  Outputs o;
  o.loss = be.loss();
  o.gw.resize(static_cast<std::size_t>(be.cols()));
  be.gradient(o.gw.data(), &o.gb);
  return o;
}

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
  gpu->compute(0, n, false);
  cpu->compute(0, n, false);
  expect_close(read_outputs(*gpu), read_outputs(*cpu), bounds_for(p, 0, n, nullptr), "full");

  // An interior sub-range of a permutation (mini-batch), and the last position alone.
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  steepest::detail::epoch_permutation(12345, 3, order.data(), n);
  gpu->set_row_order(order.data());
  cpu->set_row_order(order.data());
  const std::int64_t begin = n / 3, end = std::max(begin + 1, n - n / 5);
  gpu->compute(begin, end, true);
  cpu->compute(begin, end, true);
  expect_close(read_outputs(*gpu), read_outputs(*cpu), bounds_for(p, begin, end, order.data()),
               "ordered [" + std::to_string(begin) + ", " + std::to_string(end) + ")");
  gpu->compute(n - 1, n, true);
  cpu->compute(n - 1, n, true);
  expect_close(read_outputs(*gpu), read_outputs(*cpu), bounds_for(p, n - 1, n, order.data()), "last row");

  // Running loss over the three computes: a sum of positive terms, so a relative bound.
  const double run_gpu = gpu->running_loss(), run_cpu = cpu->running_loss();
  EXPECT_NEAR(run_gpu, run_cpu, 4.0 * static_cast<double>(n + p.c.d + 4) * kEps * run_cpu);

  // One step with and one without the bias: w differs from the CPU's by lr times the
  // gradient difference at most.
  const double lr = 0.05;
  std::vector<double> wg(static_cast<std::size_t>(p.c.d)), wc(wg.size());
  double bg = 0.0, bc = 0.0;
  for (bool update_bias : {true, false}) {
    for (Backend* be : {gpu.get(), cpu.get()}) {
      be->set_parameters(p.w.data(), p.b);
      be->compute(0, n, false);
      be->step(lr, update_bias);
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

TEST_P(CudaVsCpu, BitwiseRepeatable) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  const Problem p(GetParam());
  const std::int64_t n = p.c.n;
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  steepest::detail::epoch_permutation(99, 0, order.data(), n);
  auto run = [&] {
    auto gpu = steepest::detail::make_cuda_backend(p.X, p.y);
    gpu->set_parameters(p.w.data(), p.b);
    gpu->set_row_order(order.data());
    // A few mini-batch steps without reading back in between, as the driver does.
    const std::int64_t batch = std::max<std::int64_t>(1, n / 3);
    for (std::int64_t s = 0; s < n; s += batch) {
      gpu->compute(s, std::min(n, s + batch), true);
      gpu->step(0.01, true);
    }
    gpu->compute(0, n, false);
    Outputs o = read_outputs(*gpu);
    std::vector<double> w(static_cast<std::size_t>(p.c.d) + 1);
    gpu->get_parameters(w.data(), &w.back());
    o.gw.insert(o.gw.end(), w.begin(), w.end());
    o.gw.push_back(gpu->running_loss());
    return o;
  };
  const Outputs a = run();
  const Outputs b = run();
  EXPECT_TRUE(same_bits(a, b)) << "two identical runs gave different bits";
}

std::vector<Case> cases() {
  std::vector<Case> out;
  const std::vector<std::pair<std::int64_t, std::int64_t>> shapes = {
      {1, 1}, {31, 3}, {33, 17}, {257, 2}, {1000, 4}, {1000, 32}, {1000, 256},
      {33, 1500}, {1000, 1500}, {1000003, 1}, {1000003, 17}};
  for (const auto& [n, d] : shapes) {
    for (DType t : {DType::float32, DType::float64}) {
      for (Layout l : {Layout::row_major, Layout::col_major}) out.push_back({n, d, t, l});
    }
  }
  // Strided views: packed on upload, padding (NaN) never read.
  out.push_back({1000, 3, DType::float64, Layout::row_major, 3, 2});
  out.push_back({1000, 8, DType::float32, Layout::row_major, 1, 3});
  out.push_back({1000, 40, DType::float32, Layout::col_major, 5, 2});
  out.push_back({999, 5, DType::float64, Layout::col_major, 7, 1});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaVsCpu, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& param_info) { return case_name(param_info.param); });

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
