// Checkpoint, resume and interruption (FitOptions::on_checkpoint, resume, stop_requested),
// and the held-out fraction (FitOptions::validation_fraction), on both backends.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gpu_test_support.hpp"
#include "reference.hpp"
#include "train/run_state.hpp"
#include "test_support.hpp"
#include "steepest/steepest.hpp"

namespace {

using steepest::Device;
using steepest::FitOptions;
using steepest::FitResult;
using steepest::StopReason;
using steepest::TrainingState;
using Data = test_support::ProblemViews;

void expect_same_bits(const FitResult& a, const FitResult& b) {
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.bias, b.bias);
  EXPECT_EQ(a.loss_history, b.loss_history);
  EXPECT_EQ(a.heldout_loss_history, b.heldout_loss_history);
  EXPECT_EQ(a.final_mse, b.final_mse);
  EXPECT_EQ(a.heldout_mse, b.heldout_mse);
  EXPECT_EQ(a.epochs_run, b.epochs_run);
  EXPECT_EQ(a.stop_reason, b.stop_reason);
  EXPECT_EQ(a.learning_rate, b.learning_rate);
  EXPECT_EQ(a.final_learning_rate, b.final_learning_rate);
}

struct Config {
  const char* name;
  FitOptions (*make)();
};

FitOptions base(std::int64_t epochs) {
  FitOptions o;
  o.learning_rate = 0.2;
  o.epochs = epochs;
  return o;
}

const Config kConfigs[] = {
    {"full_batch_gd", [] { return base(40); }},
    {"full_batch_adam_l1_auto", [] {
       auto o = base(40);
       o.optimizer = steepest::Optimizer::adam;
       o.auto_learning_rate = true;
       o.l1 = 1e-3;
       return o;
     }},
    {"minibatch_shuffled_momentum", [] {
       auto o = base(12);
       o.batch_size = 97;
       o.optimizer = steepest::Optimizer::momentum;
       o.learning_rate = 0.05;
       o.seed = 7;
       return o;
     }},
    {"minibatch_shuffle_block_heldout", [] {
       auto o = base(12);
       o.batch_size = 200;
       o.shuffle_block = 16;
       o.validation_fraction = 0.2;
       o.learning_rate = 0.05;
       return o;
     }},
    // Batches of whole runs, no held-out rows: the CPU backend gets the runs alone.
    {"minibatch_shuffle_block_whole_runs", [] {
       auto o = base(12);
       o.batch_size = 200;
       o.shuffle_block = 25;
       o.learning_rate = 0.05;
       o.solver = steepest::Solver::residual;  // (automatic would take gram here)
       return o;
     }},
    // ... and in mini-batch Gram mode, which keeps the runs' sums (formed again on resume).
    {"minibatch_shuffle_block_whole_runs_gram", [] {
       auto o = base(12);
       o.batch_size = 200;
       o.shuffle_block = 25;
       o.learning_rate = 0.05;
       o.optimizer = steepest::Optimizer::adam;
       o.solver = steepest::Solver::gram;
       return o;
     }},
    {"minibatch_running_nesterov_invscaling", [] {
       auto o = base(12);
       o.batch_size = 128;
       o.optimizer = steepest::Optimizer::nesterov;
       o.learning_rate = 0.05;
       o.history = steepest::HistoryMode::running_average;
       o.schedule = steepest::Schedule::inverse_scaling;
       return o;
     }},
    {"heldout_adaptive_minibatch", [] {
       auto o = base(30);
       o.batch_size = 200;
       o.validation_fraction = 0.2;
       o.schedule = steepest::Schedule::adaptive;
       o.tol = 1e-3;
       o.n_iter_no_change = 2;
       return o;
     }},
    {"heldout_full_batch_standardized_early_stop", [] {
       auto o = base(200);
       o.validation_fraction = 0.25;
       o.standardize = true;
       o.tol = 1e-4;
       o.n_iter_no_change = 3;
       return o;
     }},
};

class Resume : public ::testing::TestWithParam<Config> {};

// A fit that checkpoints every 5 epochs, resumed from each of its checkpoints, returns the
// same bits as the fit that ran straight through.
void expect_resume_is_bitwise(Device device, const Config& c) {
  Data d(ref::planted(1203, 5, 41));
  FitOptions o = c.make();
  o.device = device;
  const FitResult straight = steepest::fit(d.X, d.y, o);
  ASSERT_GE(straight.epochs_run, 6) << "the configuration must run past the first checkpoint";

  std::vector<TrainingState> states;
  FitOptions ck = o;
  ck.checkpoint_every = 5;
  ck.on_checkpoint = [&](const TrainingState& s) { states.push_back(s); };
  expect_same_bits(steepest::fit(d.X, d.y, ck), straight);  // checkpointing changes nothing
  ASSERT_GE(states.size(), 2u);
  EXPECT_EQ(states.front().epoch, 5);
  EXPECT_EQ(states.back().epoch, straight.epochs_run) << "a last checkpoint at the end";

  for (const auto& s : states) {
    FitOptions r = o;
    r.resume = std::make_shared<TrainingState>(s);
    SCOPED_TRACE("resumed at epoch " + std::to_string(s.epoch));
    expect_same_bits(steepest::fit(d.X, d.y, r), straight);
  }
}

TEST_P(Resume, FromEveryCheckpointIsBitwiseTheStraightRunCpu) {
  expect_resume_is_bitwise(Device::cpu, GetParam());
}

TEST_P(Resume, FromEveryCheckpointIsBitwiseTheStraightRunCuda) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_resume_is_bitwise(Device::cuda, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Configs, Resume, ::testing::ValuesIn(kConfigs),
                         [](const auto& p) { return std::string(p.param.name); });

// A stop requested while an epoch runs takes effect after the current step; the state then
// points into the epoch, and resuming from it still gives the straight run's bits.
void expect_interruption_within_an_epoch_resumes_bitwise(Device device) {
  Data d(ref::planted(1000, 3, 43));
  FitOptions o = base(6);
  o.device = device;
  o.batch_size = 64;
  o.optimizer = steepest::Optimizer::adam;
  o.learning_rate = 0.01;
  o.history = steepest::HistoryMode::running_average;
  const FitResult straight = steepest::fit(d.X, d.y, o);

  // 1. Stop at the end of epoch 2 (the flag is raised in on_epoch).
  std::atomic<bool> stop{false};
  std::vector<TrainingState> states;
  FitOptions a = o;
  a.stop_requested = &stop;
  a.on_checkpoint = [&](const TrainingState& s) { states.push_back(s); };
  a.on_epoch = [&](const steepest::EpochReport& r) {
    if (r.epoch == 2) stop = true;
    return true;
  };
  const FitResult first = steepest::fit(d.X, d.y, a);
  EXPECT_EQ(first.stop_reason, StopReason::interrupted);
  EXPECT_EQ(first.epochs_run, 2);
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].epoch, 2);
  EXPECT_EQ(states[0].batch, 0);

  // 2. Resume with the flag still raised: one step of epoch 3, then a stop within it.
  FitOptions b = a;
  b.on_epoch = nullptr;
  b.resume = std::make_shared<TrainingState>(states[0]);
  const FitResult second = steepest::fit(d.X, d.y, b);
  EXPECT_EQ(second.stop_reason, StopReason::interrupted);
  EXPECT_EQ(second.epochs_run, 2);
  ASSERT_EQ(states.size(), 2u);
  const TrainingState& mid = states[1];
  EXPECT_EQ(mid.epoch, 2);
  EXPECT_EQ(mid.batch, 1);
  EXPECT_EQ(mid.steps, 2 * 16 + 1);  // 1000 rows in batches of 64: 16 steps per epoch
  EXPECT_GT(mid.running_rows, 0.0);
  EXPECT_NE(mid.weights, mid.epoch_weights) << "one step was taken after the epoch";
  EXPECT_EQ(second.weights, mid.weights) << "the result holds the parameters of the last step";

  // 3. Resume from within the epoch, with no stop: the straight run's bits.
  FitOptions c = o;
  c.resume = std::make_shared<TrainingState>(mid);
  expect_same_bits(steepest::fit(d.X, d.y, c), straight);
}

TEST(Interrupt, WithinAnEpochResumesBitwiseCpu) {
  expect_interruption_within_an_epoch_resumes_bitwise(Device::cpu);
}

TEST(Interrupt, WithinAnEpochResumesBitwiseCuda) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_interruption_within_an_epoch_resumes_bitwise(Device::cuda);
}

// on_step reads the parameters after every step without changing a bit of the fit.
TEST(OnStep, ReportsEveryStepAndChangesNothing) {
  Data d(ref::planted(300, 2, 49));
  FitOptions o = base(3);
  o.device = Device::cpu;
  o.batch_size = 128;  // 3 steps per epoch: 128, 128, 44 rows
  o.optimizer = steepest::Optimizer::momentum;
  const FitResult plain = steepest::fit(d.X, d.y, o);
  std::vector<std::pair<std::int64_t, std::int64_t>> seen;
  std::vector<double> last_w;
  FitOptions s = o;
  s.on_step = [&](const steepest::StepReport& r) {
    seen.emplace_back(r.epoch, r.step);
    last_w = *r.weights;
    EXPECT_GT(r.batch_loss, 0.0);
  };
  expect_same_bits(steepest::fit(d.X, d.y, s), plain);
  const std::vector<std::pair<std::int64_t, std::int64_t>> want{{1, 1}, {1, 2}, {1, 3}, {2, 1}, {2, 2},
                                                                {2, 3}, {3, 1}, {3, 2}, {3, 3}};
  EXPECT_EQ(seen, want);
  EXPECT_EQ(last_w, plain.weights);
}

TEST(Resume, ExtendsARunThatEnded) {
  Data d(ref::planted(500, 2, 44));
  FitOptions o = base(30);
  o.device = Device::cpu;
  const FitResult straight = steepest::fit(d.X, d.y, o);
  std::shared_ptr<TrainingState> last;
  FitOptions shorter = o;
  shorter.epochs = 11;
  shorter.on_checkpoint = [&](const TrainingState& s) { last = std::make_shared<TrainingState>(s); };
  steepest::fit(d.X, d.y, shorter);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->epoch, 11);
  FitOptions more = o;
  more.resume = last;
  expect_same_bits(steepest::fit(d.X, d.y, more), straight);
}

TEST(Resume, RefusesOtherDataOptionsOrTooFewEpochs) {
  Data d(ref::planted(400, 3, 45));
  FitOptions o = base(10);
  o.device = Device::cpu;
  std::shared_ptr<TrainingState> last;
  FitOptions ck = o;
  ck.on_checkpoint = [&](const TrainingState& s) { last = std::make_shared<TrainingState>(s); };
  steepest::fit(d.X, d.y, ck);
  ASSERT_TRUE(last);

  auto message = [&](const steepest::MatrixView& X, const steepest::VectorView& y, FitOptions r) {
    r.resume = last;
    try {
      steepest::fit(X, y, r);
    } catch (const steepest::InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // Another value in a sampled row (row 0 is always sampled).
  Data other(ref::planted(400, 3, 45));
  other.p.X[0] += 1.0;
  EXPECT_NE(message(other.X, other.y, o).find("the data differ"), std::string::npos);
  // Another shape.
  Data fewer(ref::planted(399, 3, 45));
  EXPECT_NE(message(fewer.X, fewer.y, o).find("399 x 3"), std::string::npos);
  // Other options: each one named.
  FitOptions lr = o;
  lr.learning_rate = 0.3;
  lr.seed = 9;
  const std::string m = message(d.X, d.y, lr);
  EXPECT_NE(m.find("learning_rate 0.29999999999999999 (checkpoint: 0.20000000000000001)"), std::string::npos) << m;
  EXPECT_NE(m.find("seed 9 (checkpoint: 0)"), std::string::npos) << m;
  // Fewer epochs than the checkpoint has done.
  FitOptions few = o;
  few.epochs = 5;
  EXPECT_NE(message(d.X, d.y, few).find("past the 5 epochs"), std::string::npos);
  // A state whose sizes do not fit.
  auto broken = std::make_shared<TrainingState>(*last);
  broken->optimizer_state.pop_back();
  FitOptions r = o;
  r.resume = broken;
  EXPECT_THROW(steepest::fit(d.X, d.y, r), steepest::InvalidArgument);
}

// The held-out rows are never trained on: a fit with them held out is the fit on the
// training rows alone (up to the summation order), and the held-out MSE is theirs.
void expect_heldout_rows_are_not_trained_on(Device device) {
  const std::int64_t n = 1000, dcols = 3;
  Data d(ref::planted(n, dcols, 46));
  FitOptions o = base(300);
  o.device = device;
  o.learning_rate = 0.5;
  o.validation_fraction = 0.3;
  o.seed = 5;
  const FitResult r = steepest::fit(d.X, d.y, o);
  ASSERT_EQ(r.heldout_rows, 300);
  ASSERT_EQ(r.heldout_loss_history.size(), r.loss_history.size());

  std::vector<std::int64_t> split(static_cast<std::size_t>(n));
  steepest::detail::heldout_split(o.seed, n, 300, split.data());
  ref::Problem train{}, held{};
  train.n = 700;
  held.n = 300;
  train.d = held.d = dcols;
  for (std::int64_t k = 0; k < n; ++k) {
    ref::Problem& part = k < 700 ? train : held;
    const auto i = static_cast<std::size_t>(split[static_cast<std::size_t>(k)]);
    for (std::int64_t j = 0; j < dcols; ++j) part.X.push_back(d.p.X[i * dcols + static_cast<std::size_t>(j)]);
    part.y.push_back(d.p.y[i]);
  }
  Data t(train), h(held);
  FitOptions plain = o;
  plain.validation_fraction = 0.0;
  const FitResult on_train = steepest::fit(t.X, t.y, plain);
  for (std::size_t k = 0; k < r.weights.size(); ++k) EXPECT_NEAR(r.weights[k], on_train.weights[k], 1e-12);
  EXPECT_NEAR(r.final_mse, on_train.final_mse, 1e-14);
  const auto m = steepest::score(h.X, h.y, r.weights, r.bias);
  EXPECT_NEAR(r.heldout_mse, m.mse, 1e-14 * m.mse);
  // Residual: the history's last value.  Gram (this fit's solver under automatic): an exact
  // pass, like final_mse, beside the history's Gram formula.
  if (r.solver == "residual")
    EXPECT_EQ(r.heldout_mse, r.heldout_loss_history.back());
  else
    EXPECT_NEAR(r.heldout_mse, r.heldout_loss_history.back(), 1e-12 * r.heldout_mse);
  EXPECT_GT(r.heldout_loss_history.front(), r.heldout_mse);
}

TEST(Heldout, TrainsOnTheOtherRowsAndReportsTheHeldOutMseCpu) {
  expect_heldout_rows_are_not_trained_on(Device::cpu);
}

TEST(Heldout, TrainsOnTheOtherRowsAndReportsTheHeldOutMseCuda) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_heldout_rows_are_not_trained_on(Device::cuda);
}

// Early stopping watches the held-out MSE: the epoch it stops at follows from the rule
// applied to heldout_loss_history, not to loss_history.
void expect_early_stopping_on_the_heldout_history(Device device, std::int64_t batch) {
  // Few rows, many features, much noise: the held-out MSE turns up while training goes on.
  Data d(ref::planted(120, 40, 47, /*noise=*/1.0));
  FitOptions o = base(5000);
  o.device = device;
  o.batch_size = batch;
  o.learning_rate = 0.1;
  o.validation_fraction = 0.3;
  o.tol = 1e-4;
  o.n_iter_no_change = 5;
  const FitResult r = steepest::fit(d.X, d.y, o);
  ASSERT_EQ(r.stop_reason, StopReason::converged);
  const auto& h = r.heldout_loss_history;
  double best = h[0];
  std::int64_t stalled = 0, stop = -1;
  for (std::size_t e = 1; e < h.size() && stop < 0; ++e) {
    stalled = h[e] < best - o.tol * best ? 0 : stalled + 1;
    best = std::min(best, h[e]);
    if (stalled >= o.n_iter_no_change) stop = static_cast<std::int64_t>(e);
  }
  EXPECT_EQ(r.epochs_run, stop);
  // The training loss was still falling when the held-out one stopped improving.
  EXPECT_LT(r.loss_history.back(), r.loss_history[r.loss_history.size() - 2]);
}

TEST(Heldout, EarlyStoppingFollowsTheHeldOutHistoryCpu) {
  expect_early_stopping_on_the_heldout_history(Device::cpu, 0);
  expect_early_stopping_on_the_heldout_history(Device::cpu, 16);
}

TEST(Heldout, EarlyStoppingFollowsTheHeldOutHistoryCuda) {
  STEEPEST_REQUIRE_GPU_OR_SKIP();
  expect_early_stopping_on_the_heldout_history(Device::cuda, 0);
  expect_early_stopping_on_the_heldout_history(Device::cuda, 16);
}

TEST(Heldout, RefusesFractionsOutsideTheRangeOrTooFewRows) {
  Data d(ref::planted(10, 2, 48));
  FitOptions o = base(3);
  o.device = Device::cpu;
  for (double f : {-0.1, 1.0, 1.5, std::nan("")}) {
    o.validation_fraction = f;
    EXPECT_THROW(steepest::fit(d.X, d.y, o), steepest::InvalidArgument) << f;
  }
  Data one(ref::planted(1, 2, 48));
  o.validation_fraction = 0.5;
  EXPECT_THROW(steepest::fit(one.X, one.y, o), steepest::InvalidArgument);
  o.validation_fraction = 1e-6;  // rounds to 0 rows: still one row held out
  EXPECT_EQ(steepest::fit(d.X, d.y, o).heldout_rows, 1);
}

}  // namespace
