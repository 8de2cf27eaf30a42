// The two seams of docs/ARCHITECTURE.md ("Seams"): the Reduction a CPU backend combines its
// chunk partials with, and the GradientSource the trainer takes its full-batch losses from.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "backend/backend.hpp"
#include "backend/chunk_plan.hpp"
#include "backend/reduction.hpp"
#include "reference.hpp"
#include "test_support.hpp"
#include "train/gradient_source.hpp"

namespace {

using steepest::detail::local_reduction;
using steepest::detail::make_cpu_backend;
using steepest::detail::Reduction;

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

/// The local reduction, counting what it is given.
class Counting final : public Reduction {
 public:
  void combine(const double* partials, std::int64_t chunks, std::size_t width, double* total) override {
    ++calls;
    last_chunks = chunks;
    last_width = width;
    local_reduction().combine(partials, chunks, width, total);
  }
  int calls = 0;
  std::int64_t last_chunks = 0;
  std::size_t last_width = 0;
};

/// Two processes holding the same rows: every total twice the local one (exact in float64).
class TwoIdenticalRanks final : public Reduction {
 public:
  void combine(const double* partials, std::int64_t chunks, std::size_t width, double* total) override {
    local_reduction().combine(partials, chunks, width, total);
    for (std::size_t k = 0; k < width; ++k) total[k] *= 2.0;
  }
};

struct Pass {
  double loss = 0.0, gb = 0.0, sse = 0.0, rows = 0.0;
  std::vector<double> gw;
};

Pass one_pass(steepest::detail::Backend& be, std::int64_t d) {
  const std::vector<double> w(static_cast<std::size_t>(d), 0.25);
  be.set_parameters(w.data(), -0.5);
  be.reset_running_loss();
  be.compute(0, be.rows(), false);
  Pass p;
  p.loss = be.loss();
  p.gw.resize(static_cast<std::size_t>(d));
  be.gradient(p.gw.data(), &p.gb);
  be.get_running_sums(&p.sse, &p.rows);
  return p;
}

TEST(Seams, TheCpuBackendCombinesItsChunkPartialsThroughItsReduction) {
  const std::int64_t n = 50000, d = 5;
  test_support::ProblemViews v(ref::planted(n, d, 7));
  Counting counting;
  auto counted = make_cpu_backend(v.X, v.y, steepest::VectorView{}, 2, {0, -1, &counting});
  auto plain = make_cpu_backend(v.X, v.y, steepest::VectorView{}, 2);
  const Pass a = one_pass(*counted, d);
  const Pass b = one_pass(*plain, d);
  EXPECT_EQ(counting.calls, 1);
  EXPECT_EQ(counting.last_chunks, steepest::detail::plan_chunks(n, d).chunks);
  EXPECT_GT(counting.last_chunks, 1);
  EXPECT_EQ(counting.last_width, static_cast<std::size_t>(d + 3));  // X^T r, sum r^2, sum r, rows
  EXPECT_TRUE(same_bits(a.loss, b.loss));
  EXPECT_TRUE(same_bits(a.gb, b.gb));
  for (std::int64_t k = 0; k < d; ++k) EXPECT_TRUE(same_bits(a.gw[k], b.gw[k])) << k;
}

TEST(Seams, TotalsAreDividedAfterTheReductionSoDuplicatedRanksGiveTheSameFit) {
  // Twice the rows with the same values: the same MSE and gradient, twice the running sums.
  const std::int64_t n = 20000, d = 3;
  test_support::ProblemViews v(ref::planted(n, d, 3));
  std::vector<double> w(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) w[static_cast<std::size_t>(i)] = 0.5 + static_cast<double>(i % 3);
  const steepest::VectorView sw = steepest::make_vector_view(w.data(), n);
  for (const bool weighted : {false, true}) {
    TwoIdenticalRanks two;
    auto doubled = make_cpu_backend(v.X, v.y, weighted ? sw : steepest::VectorView{}, 2, {0, -1, &two});
    auto single = make_cpu_backend(v.X, v.y, weighted ? sw : steepest::VectorView{}, 2);
    const Pass a = one_pass(*doubled, d);
    const Pass b = one_pass(*single, d);
    EXPECT_TRUE(same_bits(a.loss, b.loss)) << weighted;
    EXPECT_TRUE(same_bits(a.gb, b.gb)) << weighted;
    for (std::int64_t k = 0; k < d; ++k) EXPECT_TRUE(same_bits(a.gw[k], b.gw[k])) << k;
    EXPECT_EQ(a.sse, 2.0 * b.sse);
    EXPECT_EQ(a.rows, 2.0 * b.rows);
  }
}

TEST(Seams, ResidualPassesGiveTheTrainingAndHeldOutLossesOfTheirRows) {
  const std::int64_t n = 1000, d = 2, n_train = 800;
  test_support::ProblemViews v(ref::planted(n, d, 5));
  auto be = make_cpu_backend(v.X, v.y, 1);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = n - 1 - i;  // reversed
  be->set_row_order(order.data());
  const std::vector<double> w = {0.5, -1.0};
  be->set_parameters(w.data(), 0.125);

  steepest::detail::ResidualPasses held(*be, n_train, true);
  EXPECT_STREQ(held.name(), "residual");
  const std::vector<std::int64_t> train_rows(order.begin(), order.begin() + n_train);
  const std::vector<std::int64_t> held_rows(order.begin() + n_train, order.end());
  const ref::LossGrad want_held = ref::loss_grad(v.p, w, 0.125, held_rows);
  const ref::LossGrad want_train = ref::loss_grad(v.p, w, 0.125, train_rows);
  EXPECT_NEAR(held.heldout_loss(), static_cast<double>(want_held.mse), 1e-12);
  EXPECT_NEAR(held.training_loss(), static_cast<double>(want_train.mse), 1e-12);
  // The training pass, run last, leaves its gradient for the next step.
  std::vector<double> gw(2);
  double gb = 0.0;
  be->gradient(gw.data(), &gb);
  for (std::size_t k = 0; k < 2; ++k) EXPECT_NEAR(gw[k], static_cast<double>(want_train.gw[k]), 1e-12) << k;
  EXPECT_NEAR(gb, static_cast<double>(want_train.gb), 1e-12);

  steepest::detail::ResidualPasses all(*be, n, false);
  EXPECT_TRUE(std::isnan(all.heldout_loss()));
  EXPECT_NEAR(all.training_loss(), static_cast<double>(ref::loss_grad(v.p, w, 0.125).mse), 1e-12);
}

}  // namespace
