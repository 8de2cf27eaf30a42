// The CPU reference backend against the independent long-double loops of reference.hpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "backend/chunk_plan.hpp"
#include "backend/gram.hpp"
#include "backend/index_vector.hpp"
#include "cpu/cpu_chunk.hpp"
#include "train/permutation.hpp"
#include "reference.hpp"
#include "test_support.hpp"

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

// Shuffled batches as the trainer makes them (an epoch's order, each batch grouped by shard
// of the data plan): a batch big enough runs its groups on 2 or more threads, and must keep
// the bits of one thread, weighted or not, whatever share of the groups each thread gets.
TEST_P(CpuBackendVsReference, ShuffledBatchesKeepTheirBitsOnAnyThreadCount) {
  const Inputs in = GetParam();
  Stored s(in);
  const auto w = some_weights(in.d);
  std::vector<std::int64_t> order(static_cast<std::size_t>(in.n)), scratch, counts;
  steepest::detail::epoch_permutation(5, 2, order.data(), in.n);
  std::vector<double> weights(static_cast<std::size_t>(in.n));
  for (std::int64_t i = 0; i < in.n; ++i) weights[static_cast<std::size_t>(i)] = 0.5 + static_cast<double>(i % 7);
  const steepest::VectorView wv = steepest::make_vector_view(weights.data(), in.n);
  for (const std::int64_t batch : {std::int64_t{1024}, std::int64_t{4096}}) {
    std::vector<std::int64_t> grouped = order;
    steepest::detail::group_epoch_batches(grouped.data(), in.n, batch, in.n,
                                          steepest::detail::plan_data(in.n, in.d).rows_per_shard, 1, scratch, counts);
    for (const bool weighted : {false, true}) {
      auto run = [&](int threads) {
        auto be = steepest::detail::make_cpu_backend(s.X, s.y, weighted ? wv : steepest::VectorView{}, threads);
        be->set_row_order(grouped.data());
        be->set_parameters(w.data(), 0.25);
        std::vector<double> bits;  // every batch's loss, gradient and bias
        for (std::int64_t lo = 0; lo < in.n; lo += batch) {
          be->compute(lo, std::min(in.n, lo + batch), true);
          std::vector<double> g(static_cast<std::size_t>(in.d));
          double b = 0;
          be->gradient(g.data(), &b);
          bits.push_back(be->loss());
          bits.insert(bits.end(), g.begin(), g.end());
          bits.push_back(b);
        }
        return bits;
      };
      const std::vector<double> one = run(1);
      for (int threads : {2, 3, 7}) {
        const std::vector<double> many = run(threads);
        ASSERT_EQ(one.size(), many.size());
        EXPECT_EQ(0, std::memcmp(one.data(), many.data(), one.size() * sizeof(double)))
            << threads << " threads, batch " << batch << (weighted ? ", weighted" : "");
      }
    }
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
  if (!steepest::detail::cpu_runs_avx2_kernels())
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
    steepest::detail::baseline::kernel_set.fused_chunk(s.X, s.y, p, nullptr, 0, in.n, a.data());
    steepest::detail::avx2::kernel_set.fused_chunk(s.X, s.y, p, nullptr, 0, in.n, b.data());
    // Same float64 arithmetic grouped differently by the vector width: kRel as above.
    const double scale = std::fabs(a[static_cast<std::size_t>(in.d)]) + 1.0;
    for (std::size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], kRel * scale) << "d " << in.d << " k " << k;
  }
}

}  // namespace

// --- sample weights ---------------------------------------------------------------------------

namespace {

using steepest::detail::Backend;
using steepest::detail::make_cpu_backend;

/// Weights in [0, 2), about one in eight exactly zero (rounded to float32 when asked, so the
/// reference sees what the backend reads).
std::vector<double> random_weights(std::int64_t n, unsigned seed, bool as_float32) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(0.0, 2.0);
  std::vector<double> w(static_cast<std::size_t>(n));
  for (auto& v : w) {
    v = gen() % 8 == 0 ? 0.0 : u(gen);
    if (as_float32) v = static_cast<float>(v);
  }
  return w;
}

/// Per-row weights stored in \p dtype every \p stride elements, NaN in between (never read).
struct StoredWeights {
  std::vector<double> w64;
  std::vector<float> w32;
  steepest::VectorView view;

  StoredWeights(const std::vector<double>& values, DType dtype, std::int64_t stride) {
    const auto n = static_cast<std::int64_t>(values.size());
    const std::size_t size = static_cast<std::size_t>(n * stride);
    if (dtype == DType::float32) {
      w32.assign(size, std::nanf(""));
      for (std::int64_t i = 0; i < n; ++i) w32[static_cast<std::size_t>(i * stride)] = static_cast<float>(values[i]);
      view = steepest::make_vector_view(w32.data(), n, stride);
    } else {
      w64.assign(size, std::nan(""));
      for (std::int64_t i = 0; i < n; ++i) w64[static_cast<std::size_t>(i * stride)] = values[i];
      view = steepest::make_vector_view(w64.data(), n, stride);
    }
  }
};

struct WInputs {
  Inputs data;
  DType w_dtype;
  std::int64_t w_stride;
};

std::string weighted_name(const WInputs& p) {
  return name_of(testing::TestParamInfo<Inputs>(p.data, 0)) +
         (p.w_dtype == DType::float32 ? "_wf32" : "_wf64") + "_ws" + std::to_string(p.w_stride);
}

std::string weighted_name_of(const testing::TestParamInfo<WInputs>& info) {
  return weighted_name(info.param);
}

// gtest prints a parameter's bytes otherwise (padding included).
void PrintTo(const WInputs& p, std::ostream* os) { *os << weighted_name(p); }

using Result = test_support::BackendOutputs;
using test_support::read_outputs;

/// A backend's last compute against the weighted long-double reference, within kRel of the
/// scale 2 sqrt(loss) (|x| <= 1 and Cauchy-Schwarz bound (2/W) sum w |r x| by it).
void expect_matches(Backend& be, const ref::WeightedLossGrad& r, const std::string& what) {
  const Result got = read_outputs(be);
  const double mse = static_cast<double>(r.lg.mse);
  EXPECT_NEAR(got.loss, mse, kRel * mse) << what;
  const double scale = 2.0 * std::sqrt(mse);
  for (std::size_t k = 0; k < got.gw.size(); ++k)
    EXPECT_NEAR(got.gw[k], static_cast<double>(r.lg.gw[k]), kRel * scale) << what << ", feature " << k;
  EXPECT_NEAR(got.gb, static_cast<double>(r.lg.gb), kRel * scale) << what;
}

// Sums of equal terms in a different order: kRel as for the reference, on both sides.
void expect_close(const Result& a, const Result& b, const std::string& what) {
  EXPECT_NEAR(a.loss, b.loss, kRel * b.loss) << what;
  const double scale = 2.0 * std::sqrt(b.loss);
  for (std::size_t k = 0; k < a.gw.size(); ++k) EXPECT_NEAR(a.gw[k], b.gw[k], kRel * scale) << what << ", feature " << k;
  EXPECT_NEAR(a.gb, b.gb, kRel * scale) << what;
}

/// The batches every weighted test runs: the full pass and an interior range in the natural
/// order, then an interior range and a short last batch of a permutation.
struct Batch {
  std::int64_t lo, hi;
  bool ordered;
  std::string name;
};

std::vector<Batch> batches_of(std::int64_t n) {
  const std::int64_t size = std::max<std::int64_t>(1, 2 * n / 5);  // n % size != 0 for n > 2
  const std::int64_t last = n % size == 0 ? n - size : n - n % size;
  return {{0, n, false, "full"},
          {n / 3, std::max(n / 3 + 1, n - n / 4), false, "natural batch"},
          {n / 3, std::max(n / 3 + 1, n - n / 4), true, "ordered batch"},
          {last, n, true, "short last batch"}};
}

class CpuBackendWeighted : public testing::TestWithParam<WInputs> {};

TEST_P(CpuBackendWeighted, MatchesLongDoubleReference) {
  const WInputs in = GetParam();
  Stored s(in.data);
  const auto weights = random_weights(in.data.n, in.data.seed + 100, in.w_dtype == DType::float32);
  StoredWeights sw(weights, in.w_dtype, in.w_stride);
  auto be = make_cpu_backend(s.X, s.y, sw.view, 0);
  std::vector<std::int64_t> order(static_cast<std::size_t>(in.data.n));
  steepest::detail::epoch_permutation(17, 0, order.data(), in.data.n);
  be->set_row_order(order.data());
  const auto w = some_weights(in.data.d);
  be->set_parameters(w.data(), 0.25);
  for (const Batch& batch : batches_of(in.data.n)) {
    be->compute(batch.lo, batch.hi, batch.ordered);
    std::vector<std::int64_t> rows;
    for (std::int64_t t = batch.lo; t < batch.hi; ++t) rows.push_back(batch.ordered ? order[t] : t);
    expect_matches(*be, ref::weighted_loss_grad(s.p, w, 0.25, weights, rows), batch.name);
  }
}

TEST_P(CpuBackendWeighted, ThreadCountNeverChangesABit) {
  const WInputs in = GetParam();
  Stored s(in.data);
  const auto weights = random_weights(in.data.n, in.data.seed + 200, in.w_dtype == DType::float32);
  StoredWeights sw(weights, in.w_dtype, in.w_stride);
  const auto w = some_weights(in.data.d);
  auto one = make_cpu_backend(s.X, s.y, sw.view, 1);
  one->set_parameters(w.data(), 0.1);
  one->compute(0, in.data.n, false);
  const Result r1 = read_outputs(*one);
  for (int threads : {2, 3, 7}) {
    auto many = make_cpu_backend(s.X, s.y, sw.view, threads);
    many->set_parameters(w.data(), 0.1);
    many->compute(0, in.data.n, false);
    const Result rt = read_outputs(*many);
    EXPECT_EQ(r1.loss, rt.loss) << threads << " threads";
    EXPECT_EQ(r1.gw, rt.gw) << threads << " threads";
    EXPECT_EQ(r1.gb, rt.gb) << threads << " threads";
  }
}

// w r = r exactly when w = 1.0, every sum keeps its order, and W = m exactly, so unit
// weights must reproduce the unweighted bits (loss, gradient and running sums).  One
// exception: d = 1 row-major natural batches run a loop vectorised across rows, whose
// reduction lanes are grouped by the vector width GCC picks from the narrowest element in
// the loop; float32 weights beside float64 data narrow it, and strided weights leave that
// loop for the unrolled one.  There the sums group differently: equal to rounding (kRel).
TEST_P(CpuBackendWeighted, UnitWeightsGiveTheUnweightedBits) {
  const WInputs in = GetParam();
  const bool regrouped = in.data.d == 1 && in.data.layout == Layout::row_major &&
                         (in.w_stride != 1 || (in.w_dtype == DType::float32 &&
                                               in.data.dtype == DType::float64));
  Stored s(in.data);
  StoredWeights ones(std::vector<double>(static_cast<std::size_t>(in.data.n), 1.0), in.w_dtype,
                     in.w_stride);
  auto weighted = make_cpu_backend(s.X, s.y, ones.view, 0);
  auto plain = make_cpu_backend(s.X, s.y, 0);
  std::vector<std::int64_t> order(static_cast<std::size_t>(in.data.n));
  steepest::detail::epoch_permutation(23, 1, order.data(), in.data.n);
  const auto w = some_weights(in.data.d);
  for (Backend* be : {weighted.get(), plain.get()}) {
    be->set_row_order(order.data());
    be->set_parameters(w.data(), -0.75);
    be->reset_running_loss();
  }
  for (const Batch& batch : batches_of(in.data.n)) {
    weighted->compute(batch.lo, batch.hi, batch.ordered);
    plain->compute(batch.lo, batch.hi, batch.ordered);
    const Result a = read_outputs(*weighted), b = read_outputs(*plain);
    if (regrouped && !batch.ordered) {
      expect_close(a, b, batch.name);
      continue;
    }
    EXPECT_EQ(a.loss, b.loss) << batch.name;
    EXPECT_EQ(a.gw, b.gw) << batch.name;
    EXPECT_EQ(a.gb, b.gb) << batch.name;
  }
  double sse_a = 0, rows_a = 0, sse_b = 0, rows_b = 0;
  weighted->get_running_sums(&sse_a, &rows_a);
  plain->get_running_sums(&sse_b, &rows_b);
  if (regrouped) {
    EXPECT_NEAR(sse_a, sse_b, kRel * sse_b);
  } else {
    EXPECT_EQ(sse_a, sse_b);
  }
  EXPECT_EQ(rows_a, rows_b);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CpuBackendWeighted,
    testing::Values(
        // d = 1: the contiguous vectorised loop (float32 weights beside float64 data too)
        // and, with strided weights or column-major data, the general ones.
        WInputs{{2003, 1, Layout::row_major, DType::float64, 31}, DType::float64, 1},
        WInputs{{2003, 1, Layout::row_major, DType::float32, 32}, DType::float32, 1},
        WInputs{{2003, 1, Layout::row_major, DType::float64, 33}, DType::float32, 1},
        WInputs{{2003, 1, Layout::row_major, DType::float32, 34}, DType::float64, 3},
        WInputs{{2003, 1, Layout::col_major, DType::float64, 35}, DType::float32, 3},
        // d = 3 (small unrolled kernel), 17 and 40 (general kernels), both layouts.
        WInputs{{1009, 3, Layout::row_major, DType::float64, 36}, DType::float64, 2},
        WInputs{{1009, 3, Layout::col_major, DType::float32, 37}, DType::float64, 1},
        WInputs{{1009, 3, Layout::row_major, DType::float32, 38}, DType::float32, 1},
        WInputs{{517, 17, Layout::row_major, DType::float32, 39}, DType::float32, 1},
        WInputs{{517, 17, Layout::col_major, DType::float64, 40}, DType::float32, 1},
        WInputs{{517, 17, Layout::row_major, DType::float64, 41}, DType::float64, 5},
        WInputs{{300, 40, Layout::row_major, DType::float64, 42}, DType::float32, 1},
        WInputs{{300, 40, Layout::col_major, DType::float32, 43}, DType::float64, 2},
        // Several chunks, so the thread-count test has something to split.
        WInputs{{20011, 3, Layout::row_major, DType::float64, 44}, DType::float64, 1},
        WInputs{{20011, 17, Layout::col_major, DType::float32, 45}, DType::float32, 1},
        WInputs{{1, 1, Layout::row_major, DType::float64, 46}, DType::float64, 1}),
    weighted_name_of);

/// \p p with row i present weights[i] times (integer weights), in row order; \p first[i] is
/// where row i's first copy lands.
ref::Problem duplicated(const ref::Problem& p, const std::vector<double>& weights,
                        std::vector<std::int64_t>* first) {
  ref::Problem out;
  out.d = p.d;
  first->assign(static_cast<std::size_t>(p.n), 0);
  for (std::int64_t i = 0; i < p.n; ++i) {
    (*first)[static_cast<std::size_t>(i)] = out.n;
    for (int c = 0; c < static_cast<int>(weights[static_cast<std::size_t>(i)]); ++c) {
      for (std::int64_t k = 0; k < p.d; ++k) out.X.push_back(p.x(i, k));
      out.y.push_back(p.y[static_cast<std::size_t>(i)]);
      ++out.n;
    }
  }
  return out;
}

TEST(CpuBackend, WeightedIntegerWeightsEqualDuplicatedRows) {
  for (const std::int64_t d : {3, 17}) {
    const ref::Problem p = ref::planted(997, d, 51 + static_cast<unsigned>(d));
    std::mt19937_64 gen(52);
    std::vector<double> weights(static_cast<std::size_t>(p.n));
    for (auto& v : weights) v = static_cast<double>(gen() % 4);  // 0 (row dropped) to 3
    std::vector<std::int64_t> first;
    const ref::Problem dup = duplicated(p, weights, &first);
    const auto X = steepest::make_matrix_view(p.X.data(), p.n, p.d);
    const auto y = steepest::make_vector_view(p.y.data(), p.n);
    const auto Xd = steepest::make_matrix_view(dup.X.data(), dup.n, dup.d);
    const auto yd = steepest::make_vector_view(dup.y.data(), dup.n);
    auto weighted = make_cpu_backend(X, y, steepest::make_vector_view(weights.data(), p.n), 0);
    auto copies = make_cpu_backend(Xd, yd, 0);

    // A permutation of the rows and the same permutation of the copies: positions lo..hi of
    // the first hold the rows whose copies fill positions at[lo]..at[hi] of the second.
    std::vector<std::int64_t> order(static_cast<std::size_t>(p.n)), dup_order, at{0};
    steepest::detail::epoch_permutation(53, 0, order.data(), p.n);
    for (const std::int64_t i : order) {
      for (int c = 0; c < static_cast<int>(weights[static_cast<std::size_t>(i)]); ++c)
        dup_order.push_back(first[static_cast<std::size_t>(i)] + c);
      at.push_back(static_cast<std::int64_t>(dup_order.size()));
    }
    const auto w = some_weights(d);
    for (Backend* be : {weighted.get(), copies.get()}) be->set_parameters(w.data(), 0.5);
    weighted->set_row_order(order.data());
    copies->set_row_order(dup_order.data());
    weighted->reset_running_loss();
    copies->reset_running_loss();

    weighted->compute(0, p.n, false);
    copies->compute(0, dup.n, false);
    expect_close(read_outputs(*weighted), read_outputs(*copies), "d " + std::to_string(d) + " full");
    const std::int64_t lo = 100, hi = 700;
    weighted->compute(lo, hi, true);
    copies->compute(at[lo], at[hi], true);
    expect_close(read_outputs(*weighted), read_outputs(*copies), "d " + std::to_string(d) + " ordered");

    // The running rows count the copies exactly (sums of small integers).
    double sse_w = 0, rows_w = 0, sse_c = 0, rows_c = 0;
    weighted->get_running_sums(&sse_w, &rows_w);
    copies->get_running_sums(&sse_c, &rows_c);
    EXPECT_EQ(rows_w, rows_c);
    EXPECT_EQ(rows_c, static_cast<double>(dup.n + at[hi] - at[lo]));
    EXPECT_NEAR(sse_w, sse_c, kRel * sse_c);
  }
}

TEST(CpuBackend, WeightedZeroWeightsEqualRemovingTheRows) {
  for (const Layout layout : {Layout::row_major, Layout::col_major}) {
    Stored s(Inputs{1500, 5, layout, DType::float64, 61});
    auto weights = random_weights(s.p.n, 62, false);
    for (std::size_t i = 0; i < weights.size(); i += 3) weights[i] = 0.0;  // and more zeros
    // The rows with a nonzero weight, and their weights, as a problem of their own.
    ref::Problem kept;
    kept.d = s.p.d;
    std::vector<double> kept_weights;
    for (std::int64_t i = 0; i < s.p.n; ++i) {
      if (weights[static_cast<std::size_t>(i)] == 0.0) continue;
      for (std::int64_t k = 0; k < s.p.d; ++k) kept.X.push_back(s.p.x(i, k));
      kept.y.push_back(s.p.y[static_cast<std::size_t>(i)]);
      kept_weights.push_back(weights[static_cast<std::size_t>(i)]);
      ++kept.n;
    }
    auto all = make_cpu_backend(s.X, s.y, steepest::make_vector_view(weights.data(), s.p.n), 0);
    auto some = make_cpu_backend(steepest::make_matrix_view(kept.X.data(), kept.n, kept.d),
                                 steepest::make_vector_view(kept.y.data(), kept.n),
                                 steepest::make_vector_view(kept_weights.data(), kept.n), 0);
    const auto w = some_weights(s.p.d);
    all->set_parameters(w.data(), -0.1);
    some->set_parameters(w.data(), -0.1);
    all->compute(0, s.p.n, false);
    some->compute(0, kept.n, false);
    expect_close(read_outputs(*all), read_outputs(*some), layout == Layout::row_major ? "row" : "col");
  }
}

TEST(CpuBackend, WeightedAllZeroBatchIsANoOp) {
  for (const std::int64_t d : {1, 3, 17}) {
    for (const Layout layout : {Layout::row_major, Layout::col_major}) {
      Stored s(Inputs{300, d, layout, DType::float32, 71});
      std::vector<double> weights = random_weights(300, 72, false);
      for (std::int64_t i = 100; i < 200; ++i) weights[static_cast<std::size_t>(i)] = 0.0;
      for (std::int64_t i = 0; i < 100; ++i) weights[static_cast<std::size_t>(i)] += 0.5;  // W > 0
      auto be = make_cpu_backend(s.X, s.y, steepest::make_vector_view(weights.data(), 300), 0);
      // Order: the zero-weight rows 100..199 at positions 0..99.
      std::vector<std::int64_t> order(300);
      std::iota(order.begin(), order.end(), 0);
      std::rotate(order.begin(), order.begin() + 100, order.begin() + 200);
      be->set_row_order(order.data());
      const auto w = some_weights(d);
      be->set_parameters(w.data(), 0.2);
      be->reset_running_loss();
      be->compute(0, 100, false);  // an ordinary batch first, so the running sums are not 0
      ASSERT_GT(be->loss(), 0.0);
      double sse0 = 0, rows0 = 0;
      be->get_running_sums(&sse0, &rows0);
      for (const bool ordered : {false, true}) {
        const std::int64_t lo = ordered ? 0 : 100, hi = ordered ? 100 : 200;
        be->compute(lo, hi, ordered);
        const Result r = read_outputs(*be);
        EXPECT_EQ(r.loss, 0.0);
        EXPECT_EQ(r.gw, std::vector<double>(static_cast<std::size_t>(d), 0.0));
        EXPECT_EQ(r.gb, 0.0);
        double sse = 0, rows = 0;
        be->get_running_sums(&sse, &rows);
        EXPECT_EQ(sse, sse0);
        EXPECT_EQ(rows, rows0);
        be->plain_step(0.5, true);
        std::vector<double> w_after(static_cast<std::size_t>(d));
        double b_after = 0;
        be->get_parameters(w_after.data(), &b_after);
        EXPECT_EQ(w_after, w);
        EXPECT_EQ(b_after, 0.2);
      }
    }
  }
}

TEST(CpuBackend, WeightedRunningSumsAddWeightedSseAndTotalWeight) {
  Stored s(Inputs{2500, 4, Layout::row_major, DType::float64, 81});
  const auto weights = random_weights(s.p.n, 82, false);
  auto be = make_cpu_backend(s.X, s.y, steepest::make_vector_view(weights.data(), s.p.n), 0);
  const auto w = some_weights(s.p.d);
  be->set_parameters(w.data(), 0.3);
  be->reset_running_loss();
  long double sse_ref = 0, total_ref = 0;
  for (const auto& [lo, hi] : std::vector<std::pair<std::int64_t, std::int64_t>>{{0, 1000}, {1000, 2000}, {2000, 2500}}) {
    be->compute(lo, hi, false);
    std::vector<std::int64_t> rows(static_cast<std::size_t>(hi - lo));
    std::iota(rows.begin(), rows.end(), lo);
    const auto r = ref::weighted_loss_grad(s.p, w, 0.3, weights, rows);
    sse_ref += r.sse;
    total_ref += r.total;
  }
  double sse = 0, rows = 0;
  be->get_running_sums(&sse, &rows);
  EXPECT_NEAR(sse, static_cast<double>(sse_ref), kRel * static_cast<double>(sse_ref));
  EXPECT_NEAR(rows, static_cast<double>(total_ref), kRel * static_cast<double>(total_ref));
  EXPECT_NE(rows, std::floor(rows)) << "the total weight here is not a row count";
  EXPECT_EQ(be->running_loss(), sse / rows);
  // A fractional total is restored exactly (a checkpoint taken mid-epoch).
  auto other = make_cpu_backend(s.X, s.y, steepest::make_vector_view(weights.data(), s.p.n), 0);
  other->set_running_sums(sse, rows);
  double sse2 = 0, rows2 = 0;
  other->get_running_sums(&sse2, &rows2);
  EXPECT_EQ(sse2, sse);
  EXPECT_EQ(rows2, rows);
  be->reset_running_loss();
  EXPECT_EQ(be->running_loss(), 0.0);
}

// The backend tests above run the widest kernel only; the unit-weight bits must hold in
// each build (d = 1 with float64 data and weights stays in the vectorised loop).
TEST(CpuKernels, UnitWeightsGiveTheUnweightedBitsInEveryBuild) {
  using Chunk = void (*)(const steepest::MatrixView&, const steepest::VectorView&,
                         steepest::detail::Params, const std::int64_t*, std::int64_t,
                         std::int64_t, double*);
  using WeightedChunk = void (*)(const steepest::MatrixView&, const steepest::VectorView&,
                                 const steepest::VectorView&, steepest::detail::Params,
                                 const std::int64_t*, std::int64_t, std::int64_t, double*);
  std::vector<std::pair<Chunk, WeightedChunk>> builds{
      {steepest::detail::baseline::kernel_set.fused_chunk, steepest::detail::baseline::kernel_set.weighted_chunk}};
  if (steepest::detail::cpu_runs_avx2_kernels())
    builds.emplace_back(steepest::detail::avx2::kernel_set.fused_chunk, steepest::detail::avx2::kernel_set.weighted_chunk);
  if (steepest::detail::cpu_runs_avx512_kernels())
    builds.emplace_back(steepest::detail::avx512::kernel_set.fused_chunk, steepest::detail::avx512::kernel_set.weighted_chunk);
  for (const auto& [plain, weighted] : builds) {
    for (const auto& in : {WInputs{{4099, 1, Layout::row_major, DType::float64, 96}, DType::float64, 1},
                           WInputs{{4099, 1, Layout::row_major, DType::float32, 97}, DType::float32, 1},
                           WInputs{{4099, 5, Layout::row_major, DType::float32, 98}, DType::float32, 2},
                           WInputs{{4099, 19, Layout::row_major, DType::float64, 99}, DType::float32, 1},
                           WInputs{{4099, 19, Layout::col_major, DType::float32, 100}, DType::float64, 3}}) {
      Stored s(in.data);
      StoredWeights ones(std::vector<double>(static_cast<std::size_t>(in.data.n), 1.0), in.w_dtype,
                         in.w_stride);
      const auto w = some_weights(in.data.d);
      const steepest::detail::Params p{w.data(), 0.3};
      std::vector<double> a(static_cast<std::size_t>(in.data.d) + 2, 0.0), b(a.size() + 1, 0.0);
      plain(s.X, s.y, p, nullptr, 0, in.data.n, a.data());
      weighted(s.X, s.y, ones.view, p, nullptr, 0, in.data.n, b.data());
      EXPECT_EQ(b.back(), static_cast<double>(in.data.n)) << "d " << in.data.d;
      b.pop_back();
      EXPECT_EQ(a, b) << "d " << in.data.d;
    }
  }
}

TEST(CpuKernels, WeightedBaselineAndAvx2BuildsAgree) {
  if (!steepest::detail::cpu_runs_avx2_kernels())
    GTEST_SKIP() << "this CPU (or build) has no AVX2 kernel";
  for (const auto& in : {WInputs{{4099, 1, Layout::row_major, DType::float32, 91}, DType::float64, 1},
                         WInputs{{4099, 3, Layout::row_major, DType::float64, 92}, DType::float32, 2},
                         WInputs{{4099, 19, Layout::row_major, DType::float64, 93}, DType::float64, 1},
                         WInputs{{4099, 19, Layout::col_major, DType::float32, 94}, DType::float32, 1}}) {
    Stored s(in.data);
    StoredWeights sw(random_weights(in.data.n, 95, in.w_dtype == DType::float32), in.w_dtype, in.w_stride);
    const auto w = some_weights(in.data.d);
    const steepest::detail::Params p{w.data(), 0.3};
    std::vector<double> a(static_cast<std::size_t>(in.data.d) + 3, 0.0), b(a.size(), 0.0);
    steepest::detail::baseline::kernel_set.weighted_chunk(s.X, s.y, sw.view, p, nullptr, 0, in.data.n, a.data());
    steepest::detail::avx2::kernel_set.weighted_chunk(s.X, s.y, sw.view, p, nullptr, 0, in.data.n, b.data());
    const double scale = std::fabs(a[static_cast<std::size_t>(in.data.d)]) + 1.0;
    for (std::size_t k = 0; k < a.size(); ++k)
      EXPECT_NEAR(a[k], b[k], kRel * scale) << "d " << in.data.d << " k " << k;
  }
}

// The AVX-512 set is the AVX2 set's source with 256-bit vectors preferred: the same bits on
// every kernel, the omp simd loops (row-major float64, d < 4) included, plain and weighted,
// in the natural order and gathered.
TEST(CpuKernels, Avx512AndAvx2SetsGiveTheSameBits) {
  if (!steepest::detail::cpu_runs_avx512_kernels() || !steepest::detail::cpu_runs_avx2_kernels())
    GTEST_SKIP() << "this CPU (or build) has no AVX-512 kernel";
  unsigned seed = 200;
  for (const Layout layout : {Layout::row_major, Layout::col_major})
    for (const DType dtype : {DType::float64, DType::float32})
      for (const std::int64_t d : {1, 3, 4, 7, 8, 16, 19, 64, 300}) {
        const WInputs in{{1027, d, layout, dtype, ++seed}, d % 2 == 0 ? DType::float32 : DType::float64, 1 + d % 3};
        Stored s(in.data);
        StoredWeights sw(random_weights(in.data.n, seed, in.w_dtype == DType::float32), in.w_dtype, in.w_stride);
        std::vector<std::int64_t> rows(static_cast<std::size_t>(in.data.n));
        for (std::int64_t i = 0; i < in.data.n; ++i) rows[static_cast<std::size_t>(i)] = (i * 389 + seed) % in.data.n;
        const auto w = some_weights(d);
        const steepest::detail::Params p{w.data(), 0.3};
        for (const std::int64_t* list : {static_cast<const std::int64_t*>(nullptr), static_cast<const std::int64_t*>(rows.data())}) {
          const std::string what = weighted_name(in) + (list != nullptr ? " gathered" : "");
          std::vector<double> a(static_cast<std::size_t>(d) + 3, 0.0), b(a.size(), 0.0), aw(a.size(), 0.0), bw(a.size(), 0.0);
          steepest::detail::avx2::kernel_set.fused_chunk(s.X, s.y, p, list, 3, in.data.n, a.data());
          steepest::detail::avx512::kernel_set.fused_chunk(s.X, s.y, p, list, 3, in.data.n, b.data());
          steepest::detail::avx2::kernel_set.weighted_chunk(s.X, s.y, sw.view, p, list, 3, in.data.n, aw.data());
          steepest::detail::avx512::kernel_set.weighted_chunk(s.X, s.y, sw.view, p, list, 3, in.data.n, bw.data());
          EXPECT_NE(a[static_cast<std::size_t>(d)], 0.0) << what;  // the sse: something was summed
          EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(double))) << what;
          EXPECT_EQ(0, std::memcmp(aw.data(), bw.data(), aw.size() * sizeof(double))) << what << " weighted";
        }
      }
}

}  // namespace

// --- float32 rows: the four-rows-at-a-time kernels (host/cpu/cpu_kernels.hpp) -----------------

namespace {

/// X in \p T, row-major (row i from i * stride, stride = cols + pad) or column-major (column
/// k from k * stride, stride = rows + pad), and y (y_stride), values in [-1, 1); NaN in the
/// padding, which must not be read.
template <class T>
struct StridedData {
  std::int64_t n, d, stride, y_stride;
  Layout layout;
  std::vector<T> x, y;
  steepest::MatrixView X;
  steepest::VectorView Y;

  StridedData(std::int64_t rows, std::int64_t cols, std::int64_t pad, std::int64_t ys, unsigned seed, Layout l)
      : n(rows), d(cols), stride((l == Layout::row_major ? cols : rows) + pad), y_stride(ys), layout(l) {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    x.assign(static_cast<std::size_t>((l == Layout::row_major ? n : d) * stride), std::numeric_limits<T>::quiet_NaN());
    y.assign(static_cast<std::size_t>(n * ys), std::numeric_limits<T>::quiet_NaN());
    if (l == Layout::row_major) {  // row by row, its y after it
      for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t k = 0; k < d; ++k) x[at(i, k)] = static_cast<T>(u(gen));
        y[static_cast<std::size_t>(i * ys)] = static_cast<T>(u(gen));
      }
    } else {  // column by column, then y
      for (std::int64_t k = 0; k < d; ++k)
        for (std::int64_t i = 0; i < n; ++i) x[at(i, k)] = static_cast<T>(u(gen));
      for (std::int64_t i = 0; i < n; ++i) y[static_cast<std::size_t>(i * ys)] = static_cast<T>(u(gen));
    }
    X = steepest::make_matrix_view(x.data(), n, d, l, stride);
    Y = steepest::make_vector_view(y.data(), n, ys);
  }
  std::size_t at(std::int64_t i, std::int64_t k) const {
    return static_cast<std::size_t>(layout == Layout::row_major ? i * stride + k : k * stride + i);
  }
  double xv(std::int64_t i, std::int64_t k) const { return x[at(i, k)]; }
  double yv(std::int64_t i) const { return y[static_cast<std::size_t>(i * y_stride)]; }
};

/// Row-major float32 X (stride elements a row) and y (y_stride).
struct F32Rows : StridedData<float> {
  F32Rows(std::int64_t rows, std::int64_t cols, std::int64_t pad, std::int64_t ys, unsigned seed)
      : StridedData<float>(rows, cols, pad, ys, seed, Layout::row_major) {}
};

/// [X^T (w r), sum w r^2, sum w r, sum w] over positions lo..hi (of rows, if given) in long
/// double, and the same sums of absolute values (r taken as sum |x w| + |b| + |y|): the
/// scale of each sum's float64 rounding error.
struct F32Reference {
  std::vector<long double> sum, abs;
};

template <class S>  // F32Rows or ColMajor<T> (below)
F32Reference f32_reference(const S& s, const std::vector<double>& w, double b, const double* wt,
                           const std::int64_t* rows, std::int64_t lo, std::int64_t hi) {
  const std::size_t d = static_cast<std::size_t>(s.d);
  F32Reference ref{std::vector<long double>(d + 3, 0.0L), std::vector<long double>(d + 3, 0.0L)};
  for (std::int64_t t = lo; t < hi; ++t) {
    const std::int64_t i = rows != nullptr ? rows[t] : t;
    long double r = b, ra = std::fabs(b);
    for (std::size_t k = 0; k < d; ++k) {
      r += static_cast<long double>(s.xv(i, static_cast<std::int64_t>(k))) * w[k];
      ra += std::fabs(static_cast<long double>(s.xv(i, static_cast<std::int64_t>(k))) * w[k]);
    }
    r -= s.yv(i);
    ra += std::fabs(s.yv(i));
    const long double wi = wt != nullptr ? wt[i] : 1.0L;
    for (std::size_t k = 0; k < d; ++k) {
      ref.sum[k] += wi * r * s.xv(i, static_cast<std::int64_t>(k));
      ref.abs[k] += wi * ra * std::fabs(s.xv(i, static_cast<std::int64_t>(k)));
    }
    ref.sum[d] += wi * r * r;
    ref.abs[d] += wi * ra * ra;
    ref.sum[d + 1] += wi * r;
    ref.abs[d + 1] += wi * ra;
    ref.sum[d + 2] += wi;
    ref.abs[d + 2] += wi;
  }
  return ref;
}

using ChunkFn = steepest::detail::FusedChunkFn;
using WChunkFn = steepest::detail::WeightedChunkFn;

std::vector<std::pair<ChunkFn, WChunkFn>> kernel_sets() {
  std::vector<std::pair<ChunkFn, WChunkFn>> sets{
      {steepest::detail::baseline::kernel_set.fused_chunk, steepest::detail::baseline::kernel_set.weighted_chunk}};
  if (steepest::detail::cpu_runs_avx2_kernels())
    sets.emplace_back(steepest::detail::avx2::kernel_set.fused_chunk, steepest::detail::avx2::kernel_set.weighted_chunk);
  if (steepest::detail::cpu_runs_avx512_kernels())
    sets.emplace_back(steepest::detail::avx512::kernel_set.fused_chunk, steepest::detail::avx512::kernel_set.weighted_chunk);
  return sets;
}

// Each float64 sum of m <= 1000 terms is within ~m eps64 of the sum of |terms| (Higham, ch.
// 4), in practice far less: 1e-13 of it catches any term counted twice, left out or taken
// from the wrong row, and any loss of precision beyond float64's.
constexpr double kF32Rel = 1e-13;

void expect_near_reference(const std::vector<double>& got, const F32Reference& ref, std::size_t count,
                           const std::string& what) {
  for (std::size_t k = 0; k < count; ++k)
    EXPECT_NEAR(got[k], static_cast<double>(ref.sum[k]), kF32Rel * static_cast<double>(ref.abs[k]) + 1e-300)
        << what << " entry " << k;
}

/// Every kernel set on \p s at positions [lo, hi), in the natural order and gathered by
/// \p rows, plain and weighted: each result near the long-double reference, and every set
/// the bits of the first (vector extensions in a fixed order: baseline, AVX2 and AVX-512
/// agree).
template <class S>  // F32Rows or ColMajor<T> (below)
void check_every_set(const std::vector<std::pair<ChunkFn, WChunkFn>>& sets, const S& s, const std::vector<double>& w,
                     const steepest::detail::Params& p, const std::vector<double>& wt, const StoredWeights& wv,
                     const std::vector<std::int64_t>& rows, std::int64_t lo, std::int64_t hi, const std::string& what) {
  std::vector<std::vector<double>> results;
  for (const auto& [plain, weighted] : sets) {
    for (const std::int64_t* list : {static_cast<const std::int64_t*>(nullptr), static_cast<const std::int64_t*>(rows.data())}) {
      const std::string how = what + (list != nullptr ? " gathered" : "");
      std::vector<double> a(static_cast<std::size_t>(s.d) + 2, 0.0), b(a.size() + 1, 0.0);
      plain(s.X, s.Y, p, list, lo, hi, a.data());
      weighted(s.X, s.Y, wv.view, p, list, lo, hi, b.data());
      expect_near_reference(a, f32_reference(s, w, 0.3, nullptr, list, lo, hi), a.size(), how);
      expect_near_reference(b, f32_reference(s, w, 0.3, wt.data(), list, lo, hi), b.size(), how + " weighted");
      results.push_back(std::move(a));
      results.push_back(std::move(b));
    }
  }
  for (std::size_t r = 4; r < results.size(); ++r)
    EXPECT_EQ(0, std::memcmp(results[r].data(), results[r - 4].data(), results[r].size() * sizeof(double)))
        << what << " result " << r % 4 << ": kernel sets " << r / 4 - 1 << " and " << r / 4 << " differ";
}

TEST(CpuKernels, Float32RowsMatchLongDoubleInEveryLayoutAndBuild) {
  const auto sets = kernel_sets();
  for (std::int64_t d : {4, 5, 7, 8, 9, 16, 17, 33, 64}) {
    for (const auto& [pad, ys] : {std::pair<std::int64_t, std::int64_t>{0, 1}, {3, 2}}) {
      const F32Rows s(1003, d, pad, ys, static_cast<unsigned>(100 + d + pad));
      const auto w = some_weights(d);
      const steepest::detail::Params p{w.data(), 0.3};
      const auto wt = random_weights(s.n, static_cast<unsigned>(7 + d), false);
      const StoredWeights wv(wt, DType::float64, 1);
      std::vector<std::int64_t> rows(static_cast<std::size_t>(s.n));
      steepest::detail::epoch_permutation(static_cast<std::uint64_t>(d), 1, rows.data(), s.n);
      const std::int64_t lo = 3, hi = s.n - 2;  // blocks of 4 that start off the chunk's first row
      const std::string what = "d " + std::to_string(d) + (pad != 0 ? " strided" : " contiguous");
      check_every_set(sets, s, w, p, wt, wv, rows, lo, hi, what);
    }
  }
}

/// Weights of 1.0 (float64, and float32 every 2nd) give the unweighted kernels' bits and a
/// weight total of the row count, for problems S(1001, d, d % 2, 1, seed + d).
template <class S>
void expect_unit_weights_give_the_unweighted_bits(std::initializer_list<std::int64_t> ds, unsigned seed) {
  for (const auto& [plain, weighted] : kernel_sets()) {
    for (std::int64_t d : ds) {
      const S s(1001, d, d % 2, 1, static_cast<unsigned>(seed + d));
      const auto w = some_weights(d);
      const steepest::detail::Params p{w.data(), -0.2};
      for (const auto& [dtype, stride] : {std::pair<DType, std::int64_t>{DType::float64, 1}, {DType::float32, 2}}) {
        const StoredWeights ones(std::vector<double>(static_cast<std::size_t>(s.n), 1.0), dtype, stride);
        std::vector<double> a(static_cast<std::size_t>(d) + 2, 0.0), b(a.size() + 1, 0.0);
        plain(s.X, s.Y, p, nullptr, 1, s.n, a.data());
        weighted(s.X, s.Y, ones.view, p, nullptr, 1, s.n, b.data());
        EXPECT_EQ(b.back(), static_cast<double>(s.n - 1)) << "d " << d;
        b.pop_back();
        EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(double))) << "d " << d;
      }
    }
  }
}

TEST(CpuKernels, Float32RowsUnitWeightsGiveTheUnweightedBits) {
  expect_unit_weights_give_the_unweighted_bits<F32Rows>({2, 4, 5, 8, 9, 17, 64}, 300);
}

}  // namespace

// --- column-major X: the blocks of 32 rows (host/cpu/cpu_kernels.hpp) ---------------------------

namespace {

/// Column-major X in \p T (StridedData).
template <class T>
struct ColMajor : StridedData<T> {
  ColMajor(std::int64_t rows, std::int64_t cols, std::int64_t pad, std::int64_t ys, unsigned seed)
      : StridedData<T>(rows, cols, pad, ys, seed, Layout::col_major) {}
};

/// Every column-major case of one storage type in every build: contiguous and strided
/// (columns 5 apart beyond the rows, y every 2nd, float32 weights every 2nd), the natural
/// order and gathered rows, plain and weighted; 998 positions from 3 (31 blocks of 32, one of
/// 4, one of 2).
template <class T>
void check_col_major(const std::vector<std::pair<ChunkFn, WChunkFn>>& sets) {
  const char* type = sizeof(T) == 4 ? "float32" : "float64";
  for (std::int64_t d : {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 64}) {
    for (const auto& [pad, ys] : {std::pair<std::int64_t, std::int64_t>{0, 1}, {5, 2}}) {
      const ColMajor<T> s(1003, d, pad, ys, static_cast<unsigned>(500 + d + pad + sizeof(T)));
      const auto w = some_weights(d);
      const steepest::detail::Params p{w.data(), 0.3};
      const auto wt = random_weights(s.n, static_cast<unsigned>(9 + d), pad != 0);
      const StoredWeights wv(wt, pad != 0 ? DType::float32 : DType::float64, pad != 0 ? 2 : 1);
      std::vector<std::int64_t> rows(static_cast<std::size_t>(s.n));
      steepest::detail::epoch_permutation(static_cast<std::uint64_t>(d), 2, rows.data(), s.n);
      const std::int64_t lo = 3, hi = s.n - 2;
      const std::string what = std::string(type) + " d " + std::to_string(d) + (pad != 0 ? " strided" : " contiguous");
      check_every_set(sets, s, w, p, wt, wv, rows, lo, hi, what);
    }
  }
}

TEST(CpuKernels, ColumnMajorMatchesLongDoubleInEveryLayoutAndBuild) {
  const auto sets = kernel_sets();
  check_col_major<float>(sets);
  check_col_major<double>(sets);
}

// A chunk shorter than one block, and one that ends in a partial block of 1-3 rows, summed
// on their own: each must still match the reference (positions past the chunk are never read:
// the rows after hi hold NaN here).
TEST(CpuKernels, ColumnMajorShortChunksReadOnlyTheirRows) {
  for (const auto& [plain, weighted] : kernel_sets()) {
    for (std::int64_t hi : {1, 3, 5, 31, 33, 70}) {
      ColMajor<float> s(80, 6, 0, 1, static_cast<unsigned>(700 + hi));
      for (std::int64_t k = 0; k < s.d; ++k)
        for (std::int64_t i = hi; i < s.n; ++i) s.x[static_cast<std::size_t>(k * s.stride + i)] = std::nanf("");
      const auto w = some_weights(s.d);
      const steepest::detail::Params p{w.data(), -0.1};
      const auto wt = random_weights(s.n, 11, false);
      const StoredWeights wv(wt, DType::float64, 1);
      std::vector<double> a(static_cast<std::size_t>(s.d) + 2, 0.0), b(a.size() + 1, 0.0);
      plain(s.X, s.Y, p, nullptr, 0, hi, a.data());
      weighted(s.X, s.Y, wv.view, p, nullptr, 0, hi, b.data());
      const std::string what = "rows 0.." + std::to_string(hi);
      expect_near_reference(a, f32_reference(s, w, -0.1, nullptr, nullptr, 0, hi), a.size(), what);
      expect_near_reference(b, f32_reference(s, w, -0.1, wt.data(), nullptr, 0, hi), b.size(), what + " weighted");
    }
  }
}

TEST(CpuKernels, ColumnMajorUnitWeightsGiveTheUnweightedBits) {
  expect_unit_weights_give_the_unweighted_bits<ColMajor<float>>({1, 4, 9, 64}, 600);
}

}  // namespace

// --- an order in runs (RowOrder::run: the trainer's --shuffle-block batches) -------------------

namespace {

using steepest::detail::Backend;
using steepest::detail::IndexVector;
using steepest::detail::RowOrder;

/// A pass's loss and gradient, as bytes compare.
std::vector<double> pass_outputs(Backend& be) {
  std::vector<double> out(static_cast<std::size_t>(be.cols()) + 2);
  out[0] = be.loss();
  be.gradient(out.data() + 2, &out[1]);
  return out;
}

// One process, d > 1: every batch of an order in runs gives the bits of the same order
// written out, and so do the batches' Gram sums.  n = 30011 makes 15 to 63 shards, so runs
// cross shard edges, batches of several runs share shards (listed) or not (ranges), and the
// last batch holds the tail of n % block rows.
TEST(CpuBackend, AnOrderInRunsGivesTheBitsOfTheOrderWrittenOut) {
  const std::int64_t n = 30011;
  for (const std::int64_t d : {2, 4, 5, 17})
    for (const Layout layout : {Layout::row_major, Layout::col_major})
      for (const DType dtype : {DType::float64, DType::float32})
        for (const bool weighted : {false, true}) {
          Stored s(Inputs{n, d, layout, dtype, static_cast<unsigned>(70 + d)});
          const auto weights = random_weights(n, 71, false);
          const steepest::VectorView wv =
              weighted ? steepest::make_vector_view(weights.data(), n) : steepest::VectorView{};
          auto in_runs = steepest::detail::make_cpu_backend(s.X, s.y, wv, 2);
          auto listed = steepest::detail::make_cpu_backend(s.X, s.y, wv, 2);
          ASSERT_TRUE(in_runs->takes_runs());
          const auto w = some_weights(d);
          const std::vector<double> shift(static_cast<std::size_t>(d) + 1, 0.125);
          for (const auto& [block, batch] : std::vector<std::pair<std::int64_t, std::int64_t>>{
                   {37, 185}, {1000, 1000}, {64, 1024}, {3, 999}}) {
            const std::string what = "d " + std::to_string(d) + (layout == Layout::row_major ? " row" : " col") +
                                     (dtype == DType::float32 ? " f32" : " f64") + (weighted ? " weighted" : "") +
                                     " block " + std::to_string(block) + " batch " + std::to_string(batch);
            IndexVector scratch, runs, scratch2, runs2;
            const std::int64_t count =
                steepest::detail::epoch_block_batch_runs(9, 3, n, block, batch, 2, scratch, runs);
            std::vector<std::int64_t> rows(static_cast<std::size_t>(n));
            steepest::detail::epoch_block_batches(9, 3, nullptr, rows.data(), n, block, batch, 2, scratch2, runs2);
            in_runs->set_row_order(RowOrder{runs.data(), nullptr, count, false, true, block});
            listed->set_row_order(rows.data());
            for (Backend* be : {in_runs.get(), listed.get()}) be->set_parameters(w.data(), -0.25);
            for (std::int64_t lo = 0; lo < n; lo += batch) {
              const std::int64_t hi = std::min(n, lo + batch);
              in_runs->compute(lo, hi, true);
              listed->compute(lo, hi, true);
              const auto a = pass_outputs(*in_runs), b = pass_outputs(*listed);
              ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0) << what << " batch at " << lo;
            }
            const auto width = static_cast<std::int64_t>(steepest::detail::gram_width(d));
            const std::int64_t batches = (n + batch - 1) / batch;
            std::vector<double> ga(static_cast<std::size_t>(width * batches)), gb(ga.size());
            in_runs->batch_gram_sums(0, n, batch, true, shift.data(), ga.data());
            listed->batch_gram_sums(0, n, batch, true, shift.data(), gb.data());
            EXPECT_EQ(std::memcmp(ga.data(), gb.data(), ga.size() * sizeof(double)), 0) << what << " Gram sums";
          }
        }
  // One feature in order streams by another loop: such a backend reads written-out orders.
  Stored one(Inputs{1000, 1, Layout::row_major, DType::float64, 5});
  EXPECT_FALSE(steepest::detail::make_cpu_backend(one.X, one.y, 2)->takes_runs());
}

}  // namespace
