// The --validate cross-check, exercised on the host with a stand-in backend that wraps the
// CPU backend and can be told to be wrong by a chosen amount.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/backend.hpp"
#include "reference.hpp"
#include "train/validator.hpp"

namespace {

using steepest::detail::Backend;

class Perturbed final : public Backend {
 public:
  Perturbed(std::unique_ptr<Backend> inner, double loss_error, double grad_error)
      : inner_(std::move(inner)), loss_error_(loss_error), grad_error_(grad_error) {}
  const char* name() const noexcept override { return "perturbed"; }
  std::string device_name() const override { return "test double"; }
  std::int64_t rows() const noexcept override { return inner_->rows(); }
  std::int64_t cols() const noexcept override { return inner_->cols(); }
  void set_parameters(const double* w, double b) override { inner_->set_parameters(w, b); }
  void get_parameters(double* w, double* b) override { inner_->get_parameters(w, b); }
  void reserve_row_order() override { inner_->reserve_row_order(); }
  void set_row_order(const steepest::detail::RowOrder& o) override { inner_->set_row_order(o); }
  void compute(std::int64_t lo, std::int64_t hi, bool ordered) override { inner_->compute(lo, hi, ordered); }
  void gram_sums(std::int64_t lo, std::int64_t hi, bool ordered, const double* shift, double* totals) override {
    inner_->gram_sums(lo, hi, ordered, shift, totals);
  }
  void step(const steepest::detail::StepRule& rule) override { inner_->step(rule); }
  double loss() override { return inner_->loss() * (1.0 + loss_error_); }
  void gradient(double* gw, double* gb) override {
    inner_->gradient(gw, gb);
    gw[0] += grad_error_;
  }
  void reset_running_loss() override { inner_->reset_running_loss(); }
  double running_loss() override { return inner_->running_loss(); }
  void get_running_sums(double* sse, double* rows) override { inner_->get_running_sums(sse, rows); }
  void set_running_sums(double sse, double rows) override { inner_->set_running_sums(sse, rows); }
  void get_optimizer_state(double* s) override { inner_->get_optimizer_state(s); }
  void set_optimizer_state(const double* s) override { inner_->set_optimizer_state(s); }

 private:
  std::unique_ptr<Backend> inner_;
  double loss_error_, grad_error_;
};

struct Fixture {
  ref::Problem p = ref::planted(1001, 3, 5);
  steepest::MatrixView X = steepest::make_matrix_view(p.X.data(), p.n, p.d);
  steepest::VectorView y = steepest::make_vector_view(p.y.data(), p.n);
  steepest::FitOptions opt;
  Fixture() { opt.validate_every = 10; }
  std::unique_ptr<Backend> backend(double le, double ge) {
    auto b = std::make_unique<Perturbed>(steepest::detail::make_cpu_backend(X, y, 0), le, ge);
    const std::vector<double> w{0.1, 0.2, 0.3};
    b->set_parameters(w.data(), 0.0);
    return b;
  }
};

TEST(Validator, AgreeingBackendsPass) {
  Fixture f;
  auto be = f.backend(0.0, 0.0);
  steepest::detail::Validator v(f.X, f.y, f.opt, *be);
  ASSERT_TRUE(v.due(0));
  EXPECT_FALSE(v.due(5));
  EXPECT_TRUE(v.due(20));
  v.check(*be);
  EXPECT_EQ(v.report().checks, 1);
  EXPECT_EQ(v.report().max_loss_deviation, 0.0);
  EXPECT_EQ(v.report().max_gradient_deviation, 0.0);
  EXPECT_TRUE(v.report().passed);
}

TEST(Validator, LossDeviationIsRelativeAndFailsBeyondTolerance) {
  Fixture f;
  auto be = f.backend(1e-6, 0.0);
  steepest::detail::Validator v(f.X, f.y, f.opt, *be);
  v.check(*be);
  EXPECT_NEAR(v.report().max_loss_deviation, 1e-6, 1e-12);
  EXPECT_FALSE(v.report().passed);
}

TEST(Validator, GradientDeviationIsScaledByTheCauchySchwarzBound) {
  Fixture f;
  auto be = f.backend(0.0, 1e-3);
  steepest::detail::Validator v(f.X, f.y, f.opt, *be);
  v.check(*be);
  // s_0 = (2/n) sqrt(n mse) ||x_0||, recomputed here from the reference loops.
  const std::vector<double> w{0.1, 0.2, 0.3};
  const double mse = static_cast<double>(ref::loss_grad(f.p, w, 0.0).mse);
  double norm = 0;
  for (std::int64_t i = 0; i < f.p.n; ++i) norm += f.p.x(i, 0) * f.p.x(i, 0);
  const double n = static_cast<double>(f.p.n);
  const double scale = 2.0 / n * std::sqrt(n * mse) * std::sqrt(norm);
  EXPECT_NEAR(v.report().max_gradient_deviation, 1e-3 / scale, 1e-9 / scale);
  EXPECT_FALSE(v.report().passed);
}

TEST(Validator, NanDeviationFails) {
  Fixture f;
  auto be = f.backend(std::nan(""), 0.0);
  steepest::detail::Validator v(f.X, f.y, f.opt, *be);
  v.check(*be);
  EXPECT_FALSE(v.report().passed);
}

TEST(Validator, InactiveForTheCpuBackendOrWhenOff) {
  Fixture f;
  auto cpu = steepest::detail::make_cpu_backend(f.X, f.y, 0);
  steepest::detail::Validator v(f.X, f.y, f.opt, *cpu);
  EXPECT_FALSE(v.due(0));
  EXPECT_FALSE(v.report().note.empty());
  f.opt.validate_every = 0;
  auto be = f.backend(0.0, 0.0);
  steepest::detail::Validator off(f.X, f.y, f.opt, *be);
  EXPECT_FALSE(off.due(0));
  EXPECT_EQ(off.report().checks, 0);
}

// The reference beside a weighted backend must be weighted too: given the weights, agreeing
// backends deviate by nothing; the gradient scale is the weighted Cauchy-Schwarz bound
// s_k = (2/W) sqrt(W loss) sqrt(sum w_i x_ik^2).
TEST(Validator, WeightedReferenceGetsTheWeights) {
  Fixture f;
  std::vector<double> weights(static_cast<std::size_t>(f.p.n));
  for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = 0.25 * static_cast<double>(i % 7);
  const auto wv = steepest::make_vector_view(weights.data(), f.p.n);
  const std::vector<double> w{0.1, 0.2, 0.3};
  auto weighted = [&](double ge) {
    auto b = std::make_unique<Perturbed>(steepest::detail::make_cpu_backend(f.X, f.y, wv, 0), 0.0, ge);
    b->set_parameters(w.data(), 0.0);
    return b;
  };

  auto agreeing = weighted(0.0);
  steepest::detail::Validator same(f.X, f.y, f.opt, *agreeing, wv);
  same.check(*agreeing);
  EXPECT_EQ(same.report().max_loss_deviation, 0.0);
  EXPECT_EQ(same.report().max_gradient_deviation, 0.0);
  EXPECT_TRUE(same.report().passed);

  // Without the weights the reference computes another loss: the check must notice.
  auto unaware_primary = weighted(0.0);
  steepest::detail::Validator unaware(f.X, f.y, f.opt, *unaware_primary);
  unaware.check(*unaware_primary);
  EXPECT_FALSE(unaware.report().passed);

  auto off = weighted(1e-3);
  steepest::detail::Validator v(f.X, f.y, f.opt, *off, wv);
  v.check(*off);
  const auto r = ref::weighted_loss_grad(f.p, w, 0.0, weights);
  double norm = 0;
  for (std::int64_t i = 0; i < f.p.n; ++i) norm += weights[static_cast<std::size_t>(i)] * f.p.x(i, 0) * f.p.x(i, 0);
  const double total = static_cast<double>(r.total);
  const double scale = 2.0 / total * std::sqrt(total * static_cast<double>(r.lg.mse)) * std::sqrt(norm);
  EXPECT_NEAR(v.report().max_gradient_deviation, 1e-3 / scale, 1e-9 / scale);
  EXPECT_FALSE(v.report().passed);
}

}  // namespace
