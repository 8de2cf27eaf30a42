// The CPU reference backend against the independent long-double loops of reference.hpp.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "backend.hpp"
#include "chunk_plan.hpp"
#include "permutation.hpp"
#include "reference.hpp"

namespace {

using steepest::DType;
using steepest::Layout;

struct Inputs {
  std::int64_t n, d;
  Layout layout;
  DType dtype;
  unsigned seed;
};

std::string name_of(const testing::TestParamInfo<Inputs>& info) {
  const Inputs& p = info.param;
  return "n" + std::to_string(p.n) + "_d" + std::to_string(p.d) +
         (p.layout == Layout::row_major ? "_row" : "_col") +
         (p.dtype == DType::float32 ? "_f32" : "_f64");
}

/// The problem in the requested storage; float32 data is rounded once and the reference
/// sees the rounded values, so the comparison measures only the arithmetic.
struct Stored {
  ref::Problem p;
  std::vector<double> x64, y64;
  std::vector<float> x32, y32;
  steepest::MatrixView X;
  steepest::VectorView y;

  explicit Stored(const Inputs& in) : p(ref::planted(in.n, in.d, in.seed)) {
    if (in.dtype == DType::float32) {
      for (auto& v : p.X) v = static_cast<float>(v);
      for (auto& v : p.y) v = static_cast<float>(v);
    }
    x64 = in.layout == Layout::row_major ? p.X : p.col_major();
    y64 = p.y;
    if (in.dtype == DType::float32) {
      x32.assign(x64.begin(), x64.end());
      y32.assign(y64.begin(), y64.end());
      X = steepest::make_matrix_view(x32.data(), in.n, in.d, in.layout);
      y = steepest::make_vector_view(y32.data(), in.n);
    } else {
      X = steepest::make_matrix_view(x64.data(), in.n, in.d, in.layout);
      y = steepest::make_vector_view(y64.data(), in.n);
    }
  }
};

std::vector<double> some_weights(std::int64_t d) {
  std::vector<double> w(static_cast<std::size_t>(d));
  for (std::int64_t k = 0; k < d; ++k) w[k] = 0.3 - 0.05 * static_cast<double>(k % 13);
  return w;
}

// Tolerance: both sides accumulate in at least float64, so they differ only by float64
// rounding in the backend: each partial sum of m terms carries a relative error of at most
// ~m * eps64 * (sum |terms|) / |sum| (Higham, ch. 4).  For the random data here terms are
// O(1) and sums are not cancelled to below 1e-3 of sum |terms|, so with m <= 1e6 a bound of
// 1e-9 relative to sum |terms| is safe by orders of magnitude and still catches any indexing
// or scaling mistake (those are O(1) wrong).
constexpr double kRel = 1e-9;

class CpuBackendVsReference : public testing::TestWithParam<Inputs> {};

TEST_P(CpuBackendVsReference, FullPassMatchesLongDoubleLoops) {
  const Inputs in = GetParam();
  Stored s(in);
  auto be = steepest::detail::make_cpu_backend(s.X, s.y, 0);
  const auto w = some_weights(in.d);
  const double b = 0.25;
  be->set_parameters(w.data(), b);
  be->compute(0, in.n, false);
  const auto r = ref::loss_grad(s.p, w, b);
  std::vector<double> gw(static_cast<std::size_t>(in.d));
  double gb = 0;
  be->gradient(gw.data(), &gb);
  EXPECT_NEAR(be->loss(), static_cast<double>(r.mse), kRel * static_cast<double>(r.mse) + 1e-300);
  // Scale of the gradient sums: (2/n) sum |r x| <= 2 * sqrt(mse) * max|x| with |x| <= 1.
  const double scale = 2.0 * std::sqrt(static_cast<double>(r.mse)) + 1e-300;
  for (std::int64_t k = 0; k < in.d; ++k)
    EXPECT_NEAR(gw[k], static_cast<double>(r.gw[k]), kRel * scale) << "feature " << k;
  EXPECT_NEAR(gb, static_cast<double>(r.gb), kRel * scale);
}

TEST_P(CpuBackendVsReference, OrderedBatchMatchesReferenceOnTheSameRows) {
  const Inputs in = GetParam();
  Stored s(in);
  auto be = steepest::detail::make_cpu_backend(s.X, s.y, 0);
  std::vector<std::int64_t> order(static_cast<std::size_t>(in.n));
  steepest::detail::epoch_permutation(9, 0, order.data(), in.n);
  be->set_row_order(order.data());
  const auto w = some_weights(in.d);
  be->set_parameters(w.data(), -0.5);
  const std::int64_t lo = in.n / 3, hi = std::max(lo + 1, in.n - in.n / 4);
  be->compute(lo, hi, true);
  const auto r = ref::loss_grad(s.p, w, -0.5, std::vector<std::int64_t>(order.begin() + lo, order.begin() + hi));
  std::vector<double> gw(static_cast<std::size_t>(in.d));
  double gb = 0;
  be->gradient(gw.data(), &gb);
  EXPECT_NEAR(be->loss(), static_cast<double>(r.mse), kRel * static_cast<double>(r.mse));
  const double scale = 2.0 * std::sqrt(static_cast<double>(r.mse));
  for (std::int64_t k = 0; k < in.d; ++k) EXPECT_NEAR(gw[k], static_cast<double>(r.gw[k]), kRel * scale);
  EXPECT_NEAR(gb, static_cast<double>(r.gb), kRel * scale);
}

TEST_P(CpuBackendVsReference, ThreadCountNeverChangesABit) {
  const Inputs in = GetParam();
  Stored s(in);
  const auto w = some_weights(in.d);
  std::vector<double> g1(static_cast<std::size_t>(in.d)), gt(g1.size());
  double b1 = 0, bt = 0;
  auto one = steepest::detail::make_cpu_backend(s.X, s.y, 1);
  one->set_parameters(w.data(), 0.1);
  one->compute(0, in.n, false);
  one->gradient(g1.data(), &b1);
  for (int threads : {2, 3, 7}) {
    auto many = steepest::detail::make_cpu_backend(s.X, s.y, threads);
    many->set_parameters(w.data(), 0.1);
    many->compute(0, in.n, false);
    many->gradient(gt.data(), &bt);
    EXPECT_EQ(one->loss(), many->loss()) << threads << " threads";
    EXPECT_EQ(g1, gt) << threads << " threads";
    EXPECT_EQ(b1, bt) << threads << " threads";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CpuBackendVsReference,
    testing::Values(Inputs{1, 1, Layout::row_major, DType::float64, 1},
                    Inputs{31, 3, Layout::row_major, DType::float64, 2},
                    Inputs{33, 17, Layout::col_major, DType::float64, 3},
                    Inputs{1000, 5, Layout::col_major, DType::float32, 4},
                    Inputs{1000, 5, Layout::row_major, DType::float32, 5},
                    Inputs{100003, 3, Layout::row_major, DType::float64, 6},
                    Inputs{100003, 3, Layout::col_major, DType::float64, 7},
                    Inputs{20011, 64, Layout::row_major, DType::float32, 8},
                    Inputs{4099, 300, Layout::col_major, DType::float64, 9}),
    name_of);

TEST(CpuBackend, StridedViewsReadOnlyTheirColumns) {
  // X as the first 3 columns of a row-major 5-column table, y as its last column.
  ref::Problem p = ref::planted(257, 3, 11);
  std::vector<double> table(257 * 5, 1e30);  // poison in the column that must be skipped
  for (std::int64_t i = 0; i < 257; ++i) {
    for (std::int64_t k = 0; k < 3; ++k) table[i * 5 + k] = p.x(i, k);
    table[i * 5 + 4] = p.y[i];
  }
  const auto X = steepest::make_matrix_view(table.data(), 257, 3, Layout::row_major, 5);
  const auto y = steepest::make_vector_view(table.data() + 4, 257, 5);
  auto be = steepest::detail::make_cpu_backend(X, y, 0);
  const std::vector<double> w{0.5, -1.0, 2.0};
  be->set_parameters(w.data(), 0.0);
  be->compute(0, 257, false);
  EXPECT_NEAR(be->loss(), static_cast<double>(ref::loss_grad(p, w, 0.0).mse), 1e-12);
}

TEST(CpuBackend, StepMovesAgainstTheGradientAndRunningLossAverages) {
  ref::Problem p = ref::planted(100, 2, 12);
  const auto X = steepest::make_matrix_view(p.X.data(), 100, 2);
  const auto y = steepest::make_vector_view(p.y.data(), 100);
  auto be = steepest::detail::make_cpu_backend(X, y, 0);
  const std::vector<double> w0{0.0, 0.0};
  be->set_parameters(w0.data(), 0.0);
  be->reset_running_loss();
  be->compute(0, 40, false);
  const double l1 = be->loss();
  std::vector<double> g(2);
  double gb = 0;
  be->gradient(g.data(), &gb);
  be->plain_step(0.1, true);
  std::vector<double> w(2);
  double b = 0;
  be->get_parameters(w.data(), &b);
  EXPECT_DOUBLE_EQ(w[0], -0.1 * g[0]);
  EXPECT_DOUBLE_EQ(w[1], -0.1 * g[1]);
  EXPECT_DOUBLE_EQ(b, -0.1 * gb);
  be->plain_step(0.1, false);  // bias frozen
  double b2 = 0;
  be->get_parameters(w.data(), &b2);
  EXPECT_EQ(b2, b);
  be->compute(40, 100, false);
  const double l2 = be->loss();
  EXPECT_NEAR(be->running_loss(), (40 * l1 + 60 * l2) / 100, 1e-15 * (l1 + l2));
}

TEST(ChunkPlan, DependsOnlyOnShapeAndCoversEveryRow) {
  for (std::int64_t m : {1, 63, 64, 65, 100003, 1 << 20, 123456789}) {
    for (std::int64_t d : {1, 7, 1024, 5000}) {
      const auto plan = steepest::detail::plan_chunks(m, d);
      ASSERT_GE(plan.chunks, 1);
      EXPECT_LE(plan.chunks, 1024);
      EXPECT_GE(plan.chunks * plan.rows_per_chunk, m);
      EXPECT_LT((plan.chunks - 1) * plan.rows_per_chunk, m);  // no empty chunk
    }
  }
}

}  // namespace

namespace {

TEST(CpuKernels, BaselineAndAvx2BuildsAgree) {
  if (std::string(steepest::detail::best_fused_chunk_name()) != "avx2")
    GTEST_SKIP() << "this CPU (or build) has no AVX2 kernel";
  for (const auto& in : {Inputs{4099, 1, Layout::row_major, DType::float32, 41},
                         Inputs{4099, 3, Layout::row_major, DType::float64, 42},
                         Inputs{4099, 8, Layout::row_major, DType::float32, 43},
                         Inputs{4099, 19, Layout::row_major, DType::float64, 44},
                         Inputs{4099, 19, Layout::col_major, DType::float32, 45}}) {
    Stored s(in);
    const auto w = some_weights(in.d);
    const steepest::detail::Params p{w.data(), 0.3};
    std::vector<double> a(static_cast<std::size_t>(in.d) + 2, 0.0), b(a.size(), 0.0);
    steepest::detail::baseline::fused_chunk(s.X, s.y, p, nullptr, 0, in.n, a.data());
    steepest::detail::avx2::fused_chunk(s.X, s.y, p, nullptr, 0, in.n, b.data());
    // Same float64 arithmetic grouped differently by the vector width: kRel as above.
    const double scale = std::fabs(a[static_cast<std::size_t>(in.d)]) + 1.0;
    for (std::size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], kRel * scale) << "d " << in.d << " k " << k;
  }
}

}  // namespace
