// The C API (include/steepest/steepest.h) through the shared library libsteepest.so: every
// function's error path returns a status and a message (never aborts, never throws), and
// results are bit for bit those of the C++ API on the same data and options.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "steepest/steepest.h"
#include "steepest/steepest.hpp"
#include "steepest/version.hpp"

namespace {

/// A small regression: y = x . (1, -2, 0.5, 3) + 0.25 + a deterministic wiggle.
struct Data {
  static constexpr std::int64_t rows = 600, cols = 4;
  std::vector<double> x = std::vector<double>(rows * cols);  // row-major
  std::vector<double> y = std::vector<double>(rows);
  std::vector<double> w = std::vector<double>(rows);
  Data() {
    const double truth[cols] = {1.0, -2.0, 0.5, 3.0};
    for (std::int64_t i = 0; i < rows; ++i) {
      double s = 0.25 + 0.01 * std::sin(static_cast<double>(i));
      for (std::int64_t j = 0; j < cols; ++j) {
        x[i * cols + j] = std::cos(0.37 * static_cast<double>(i * (j + 1)) + static_cast<double>(j));
        s += truth[j] * x[i * cols + j];
      }
      y[i] = s;
      w[i] = 0.5 + static_cast<double>(i % 3);
    }
  }
  steepest_matrix c_x() const { return {x.data(), rows, cols, 0, STEEPEST_FLOAT64, STEEPEST_ROW_MAJOR}; }
  steepest_vector c_y() const { return {y.data(), rows, 1, STEEPEST_FLOAT64}; }
  steepest_vector c_w() const { return {w.data(), rows, 1, STEEPEST_FLOAT64}; }
  steepest::MatrixView view_x() const { return steepest::make_matrix_view(x.data(), rows, cols); }
  steepest::VectorView view_y() const { return {y.data(), rows, 1, steepest::DType::float64}; }
  steepest::VectorView view_w() const { return {w.data(), rows, 1, steepest::DType::float64}; }
};

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void expect_same_bits(const std::vector<double>& a, const std::vector<double>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_bits(a[i], b[i])) << what << "[" << i << "]: " << a[i] << " vs " << b[i];
}

/// Owns the C handles of one test.
struct Handles {
  steepest_options* options = nullptr;
  steepest_result* result = nullptr;
  Handles() { EXPECT_EQ(steepest_options_create(&options), STEEPEST_OK); }
  ~Handles() {
    steepest_result_destroy(result);
    steepest_options_destroy(options);
  }
  Handles(const Handles&) = delete;
  Handles& operator=(const Handles&) = delete;
};

std::vector<double> c_weights(const steepest_result* r) {
  std::int64_t n = -1;
  EXPECT_EQ(steepest_result_int(r, "n_weights", &n), STEEPEST_OK);
  std::vector<double> w(static_cast<std::size_t>(n));
  EXPECT_EQ(steepest_result_weights(r, w.data(), n), STEEPEST_OK);
  return w;
}

std::vector<double> c_history(const steepest_result* r, const char* name) {
  std::int64_t length = -1;
  EXPECT_EQ(steepest_result_history(r, name, nullptr, 0, &length), STEEPEST_OK);
  std::vector<double> h(static_cast<std::size_t>(length));
  EXPECT_EQ(steepest_result_history(r, name, h.data(), length, &length), STEEPEST_OK);
  return h;
}

double c_real(const steepest_result* r, const char* name) {
  double v = 0;
  EXPECT_EQ(steepest_result_real(r, name, &v), STEEPEST_OK) << steepest_last_error();
  return v;
}

std::string c_text(const steepest_result* r, const char* name) {
  const char* v = nullptr;
  EXPECT_EQ(steepest_result_text(r, name, &v), STEEPEST_OK) << steepest_last_error();
  return v == nullptr ? "" : v;
}

void expect_same_fit(const steepest_result* c, const steepest::FitResult& cpp) {
  expect_same_bits(c_weights(c), cpp.weights, "weights");
  EXPECT_TRUE(same_bits(c_real(c, "bias"), cpp.bias));
  EXPECT_TRUE(same_bits(c_real(c, "final_mse"), cpp.final_mse));
  expect_same_bits(c_history(c, "loss"), cpp.loss_history, "loss history");
  expect_same_bits(c_history(c, "heldout_loss"), cpp.heldout_loss_history, "held-out history");
  std::int64_t epochs = -1;
  EXPECT_EQ(steepest_result_int(c, "epochs_run", &epochs), STEEPEST_OK);
  EXPECT_EQ(epochs, cpp.epochs_run);
  std::int64_t steps = -1;
  EXPECT_EQ(steepest_result_int(c, "steps_into_epoch", &steps), STEEPEST_OK);
  EXPECT_EQ(steps, cpp.steps_into_epoch);
  EXPECT_EQ(c_text(c, "stop_reason"), steepest::to_string(cpp.stop_reason));
  EXPECT_EQ(c_text(c, "optimizer"), cpp.optimizer);
}

TEST(CApi, FitEqualsTheCppApiBitForBit) {
  const Data d;
  steepest::FitOptions o;
  o.optimizer = steepest::Optimizer::nesterov;
  o.momentum = 0.8;
  o.auto_learning_rate = true;
  o.batch_size = 64;
  o.seed = 11;
  o.epochs = 40;
  o.validation_fraction = 0.1;
  o.l2 = 1e-4;
  o.schedule = steepest::Schedule::inverse_scaling;
  o.device = steepest::Device::cpu;
  const steepest::FitResult cpp = steepest::fit(d.view_x(), d.view_y(), d.view_w(), o);

  Handles h;
  ASSERT_EQ(steepest_options_set_text(h.options, "optimizer", "nesterov"), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_real(h.options, "momentum", 0.8), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_text(h.options, "learning_rate", "auto"), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_int(h.options, "batch_size", 64), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_int(h.options, "seed", 11), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_int(h.options, "epochs", 40), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_real(h.options, "validation_fraction", 0.1), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_real(h.options, "l2", 1e-4), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_text(h.options, "schedule", "invscaling"), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_text(h.options, "device", "cpu"), STEEPEST_OK);
  const steepest_matrix x = d.c_x();
  const steepest_vector y = d.c_y(), w = d.c_w();
  ASSERT_EQ(steepest_fit(&x, &y, &w, h.options, &h.result), STEEPEST_OK) << steepest_last_error();
  EXPECT_STREQ(steepest_last_error(), "");
  expect_same_fit(h.result, cpp);
  EXPECT_TRUE(same_bits(c_real(h.result, "learning_rate"), cpp.learning_rate));
  EXPECT_EQ(c_text(h.result, "backend"), cpp.backend);
}

TEST(CApi, ColumnMajorFloat32StridedViewIsUsedInPlace) {
  // A Fortran-style array: column-major float32 with a leading dimension above the rows.
  const Data d;
  const std::int64_t ld = Data::rows + 3;
  std::vector<float> xf(static_cast<std::size_t>(ld * Data::cols), std::nanf(""));
  std::vector<float> yf(Data::rows);
  for (std::int64_t i = 0; i < Data::rows; ++i) {
    for (std::int64_t j = 0; j < Data::cols; ++j) xf[j * ld + i] = static_cast<float>(d.x[i * Data::cols + j]);
    yf[i] = static_cast<float>(d.y[i]);
  }
  steepest::FitOptions o;
  o.epochs = 50;
  o.learning_rate = 0.05;
  o.solver = steepest::Solver::residual;
  const steepest::FitResult cpp = steepest::fit(
      steepest::MatrixView{xf.data(), Data::rows, Data::cols, ld, steepest::DType::float32, steepest::Layout::col_major},
      steepest::VectorView{yf.data(), Data::rows, 1, steepest::DType::float32}, o);

  Handles h;
  ASSERT_EQ(steepest_options_set_int(h.options, "epochs", 50), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_real(h.options, "learning_rate", 0.05), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_text(h.options, "solver", "residual"), STEEPEST_OK);
  const steepest_matrix x{xf.data(), Data::rows, Data::cols, ld, STEEPEST_FLOAT32, STEEPEST_COL_MAJOR};
  const steepest_vector y{yf.data(), Data::rows, 1, STEEPEST_FLOAT32};
  ASSERT_EQ(steepest_fit(&x, &y, nullptr, h.options, &h.result), STEEPEST_OK) << steepest_last_error();
  expect_same_fit(h.result, cpp);
  EXPECT_LT(cpp.final_mse, cpp.loss_history.front() / 10);  // it did fit
}

TEST(CApi, DefaultsWithNullOptionsEqualDefaultFitOptions) {
  const Data d;
  const steepest::FitResult cpp = steepest::fit(d.view_x(), d.view_y());
  steepest_result* r = nullptr;
  const steepest_matrix x = d.c_x();
  const steepest_vector y = d.c_y();
  ASSERT_EQ(steepest_fit(&x, &y, nullptr, nullptr, &r), STEEPEST_OK) << steepest_last_error();
  expect_same_fit(r, cpp);
  steepest_result_destroy(r);
}

TEST(CApi, EvaluatePredictScoreEqualTheCppApi) {
  const Data d;
  const std::vector<double> model = {0.5, -1.0, 0.25, 2.0};
  const double bias = 0.125;
  const steepest::Evaluation e = steepest::evaluate(d.view_x(), d.view_y(), d.view_w(), model, bias);
  const steepest_matrix x = d.c_x();
  const steepest_vector y = d.c_y(), w = d.c_w();
  double mse = 0, grad_bias = 0;
  std::vector<double> grad(4);
  ASSERT_EQ(steepest_evaluate(&x, &y, &w, model.data(), 4, bias, nullptr, &mse, grad.data(), &grad_bias), STEEPEST_OK)
      << steepest_last_error();
  EXPECT_TRUE(same_bits(mse, e.mse));
  EXPECT_TRUE(same_bits(grad_bias, e.grad_bias));
  expect_same_bits(grad, e.grad_weights, "gradient");
  // The gradient outputs are optional.
  double mse2 = 0;
  ASSERT_EQ(steepest_evaluate(&x, &y, &w, model.data(), 4, bias, nullptr, &mse2, nullptr, nullptr), STEEPEST_OK);
  EXPECT_TRUE(same_bits(mse2, e.mse));

  std::vector<double> p_cpp(Data::rows), p_c(Data::rows);
  steepest::predict(d.view_x(), model, bias, p_cpp.data());
  ASSERT_EQ(steepest_predict(&x, model.data(), 4, bias, p_c.data(), Data::rows), STEEPEST_OK);
  expect_same_bits(p_c, p_cpp, "predictions");

  const steepest::Metrics m = steepest::score(d.view_x(), d.view_y(), d.view_w(), model, bias);
  steepest_metrics cm{};
  ASSERT_EQ(steepest_score(&x, &y, &w, model.data(), 4, bias, &cm), STEEPEST_OK);
  EXPECT_TRUE(same_bits(cm.mse, m.mse) && same_bits(cm.rmse, m.rmse) && same_bits(cm.mae, m.mae) &&
              same_bits(cm.r2, m.r2));
}

// ---- callbacks, stop flag, checkpoints ----------------------------------------------------

struct Progress {
  int starts = 0;
  std::string optimizer;
  std::int64_t epochs_seen = 0, steps_seen = 0, stop_at = 0;
  steepest_stop_flag* flag = nullptr;
  std::string last_checkpoint;
  std::int64_t checkpoint_epoch = -1;
};

void on_start(const steepest_start_report* r, void* user) {
  auto& p = *static_cast<Progress*>(user);
  ++p.starts;
  p.optimizer = r->optimizer;
}

int on_epoch(const steepest_epoch_report* r, void* user) {
  auto& p = *static_cast<Progress*>(user);
  p.epochs_seen = r->epoch;
  if (r->n_weights != Data::cols || r->weights == nullptr) return 0;
  if (p.flag != nullptr && r->epoch == p.stop_at) steepest_stop_flag_raise(p.flag);
  return 1;
}

void on_step(const steepest_step_report*, void* user) { ++static_cast<Progress*>(user)->steps_seen; }

void on_checkpoint(const void* bytes, size_t size, int64_t epoch, void* user) {
  auto& p = *static_cast<Progress*>(user);
  p.last_checkpoint.assign(static_cast<const char*>(bytes), size);
  p.checkpoint_epoch = epoch;
}

void set_minibatch_momentum(steepest_options* o, std::int64_t epochs) {
  ASSERT_EQ(steepest_options_set_text(o, "optimizer", "momentum"), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_real(o, "learning_rate", 0.02), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_int(o, "batch_size", 50), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_int(o, "epochs", epochs), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_int(o, "seed", 3), STEEPEST_OK);
}

TEST(CApi, CallbacksStopFlagAndCheckpointBytesResumeBitForBit) {
  const Data d;
  const steepest_matrix x = d.c_x();
  const steepest_vector y = d.c_y();
  Handles whole;
  set_minibatch_momentum(whole.options, 30);
  ASSERT_EQ(steepest_fit(&x, &y, nullptr, whole.options, &whole.result), STEEPEST_OK) << steepest_last_error();

  // The same fit stopped by the flag after epoch 12, then resumed from its bytes.
  Progress p;
  ASSERT_EQ(steepest_stop_flag_create(&p.flag), STEEPEST_OK);
  p.stop_at = 12;
  Handles first;
  set_minibatch_momentum(first.options, 30);
  ASSERT_EQ(steepest_options_on_start(first.options, on_start, &p), STEEPEST_OK);
  ASSERT_EQ(steepest_options_on_epoch(first.options, on_epoch, &p), STEEPEST_OK);
  ASSERT_EQ(steepest_options_on_step(first.options, on_step, &p), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_stop_flag(first.options, p.flag), STEEPEST_OK);
  ASSERT_EQ(steepest_options_on_checkpoint(first.options, 0, on_checkpoint, &p), STEEPEST_OK);
  ASSERT_EQ(steepest_fit(&x, &y, nullptr, first.options, &first.result), STEEPEST_OK) << steepest_last_error();
  EXPECT_EQ(c_text(first.result, "stop_reason"), "interrupted");
  EXPECT_EQ(p.starts, 1);
  EXPECT_EQ(p.optimizer, "momentum");
  EXPECT_EQ(p.epochs_seen, 12);
  EXPECT_EQ(p.steps_seen, 12 * 12);  // 600 rows in batches of 50
  ASSERT_FALSE(p.last_checkpoint.empty());

  Handles second;
  set_minibatch_momentum(second.options, 30);
  ASSERT_EQ(steepest_options_set_resume(second.options, p.last_checkpoint.data(), p.last_checkpoint.size()), STEEPEST_OK)
      << steepest_last_error();
  ASSERT_EQ(steepest_fit(&x, &y, nullptr, second.options, &second.result), STEEPEST_OK) << steepest_last_error();
  expect_same_bits(c_weights(second.result), c_weights(whole.result), "resumed weights");
  expect_same_bits(c_history(second.result, "loss"), c_history(whole.result, "loss"), "resumed history");

  // A resume under other options names what differs.
  Handles other;
  set_minibatch_momentum(other.options, 30);
  ASSERT_EQ(steepest_options_set_int(other.options, "seed", 4), STEEPEST_OK);
  ASSERT_EQ(steepest_options_set_resume(other.options, p.last_checkpoint.data(), p.last_checkpoint.size()), STEEPEST_OK);
  EXPECT_EQ(steepest_fit(&x, &y, nullptr, other.options, &other.result), STEEPEST_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(other.result, nullptr);
  EXPECT_NE(std::string(steepest_last_error()).find("seed"), std::string::npos) << steepest_last_error();
  steepest_stop_flag_destroy(p.flag);
}

TEST(CApi, AnEpochCallbackReturningZeroCancels) {
  const Data d;
  const steepest_matrix x = d.c_x();
  const steepest_vector y = d.c_y();
  Handles h;
  set_minibatch_momentum(h.options, 30);
  ASSERT_EQ(steepest_options_on_epoch(
                h.options, [](const steepest_epoch_report* r, void*) { return r->epoch < 5 ? 1 : 0; }, nullptr),
            STEEPEST_OK);
  ASSERT_EQ(steepest_fit(&x, &y, nullptr, h.options, &h.result), STEEPEST_OK);
  EXPECT_EQ(c_text(h.result, "stop_reason"), "cancelled");
  EXPECT_EQ(c_history(h.result, "loss").size(), 6u);
}

TEST(CApi, CorruptOrTruncatedResumeBytesAreRefused) {
  const Data d;
  const steepest_matrix x = d.c_x();
  const steepest_vector y = d.c_y();
  Progress p;
  Handles h;
  set_minibatch_momentum(h.options, 3);
  ASSERT_EQ(steepest_options_on_checkpoint(h.options, 0, on_checkpoint, &p), STEEPEST_OK);
  ASSERT_EQ(steepest_fit(&x, &y, nullptr, h.options, &h.result), STEEPEST_OK);
  ASSERT_EQ(p.checkpoint_epoch, 3);
  const std::string& good = p.last_checkpoint;
  Handles r;
  EXPECT_EQ(steepest_options_set_resume(r.options, good.data(), good.size() - 1), STEEPEST_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(steepest_last_error()), "");
  std::string bad = good;
  bad[0] = 'X';
  EXPECT_EQ(steepest_options_set_resume(r.options, bad.data(), bad.size()), STEEPEST_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(steepest_options_set_resume(r.options, nullptr, 10), STEEPEST_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(steepest_options_set_resume(r.options, (good + "x").data(), good.size() + 1), STEEPEST_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(steepest_options_set_resume(r.options, good.data(), good.size()), STEEPEST_OK) << steepest_last_error();
}

// ---- error paths --------------------------------------------------------------------------

/// \p status is a failure of kind \p expected with a message containing \p needle.
void expect_error(steepest_status status, steepest_status expected, const std::string& needle) {
  EXPECT_EQ(status, expected) << needle;
  const std::string message = steepest_last_error();
  EXPECT_NE(message.find(needle), std::string::npos) << "message: \"" << message << "\", wanted \"" << needle << "\"";
}

TEST(CApiErrors, NullPointersAreInvalidArguments) {
  const Data d;
  const steepest_matrix x = d.c_x();
  const steepest_vector y = d.c_y();
  const auto bad = STEEPEST_ERROR_INVALID_ARGUMENT;
  Handles h;
  steepest_result* r = nullptr;
  double v = 0;
  std::int64_t n = 0;
  const char* t = nullptr;
  expect_error(steepest_options_create(nullptr), bad, "out");
  expect_error(steepest_options_set_real(nullptr, "l2", 1), bad, "options");
  expect_error(steepest_options_set_real(h.options, nullptr, 1), bad, "name");
  expect_error(steepest_options_set_int(nullptr, "epochs", 1), bad, "options");
  expect_error(steepest_options_set_text(h.options, "optimizer", nullptr), bad, "value");
  expect_error(steepest_options_set_init_weights(h.options, nullptr, 3), bad, "weights");
  expect_error(steepest_options_on_epoch(nullptr, nullptr, nullptr), bad, "options");
  expect_error(steepest_options_on_start(nullptr, nullptr, nullptr), bad, "options");
  expect_error(steepest_options_on_step(nullptr, nullptr, nullptr), bad, "options");
  expect_error(steepest_options_on_checkpoint(nullptr, 0, nullptr, nullptr), bad, "options");
  expect_error(steepest_options_set_stop_flag(nullptr, nullptr), bad, "options");
  expect_error(steepest_options_set_resume(nullptr, "", 0), bad, "options");
  expect_error(steepest_stop_flag_create(nullptr), bad, "out");
  expect_error(steepest_fit(nullptr, &y, nullptr, nullptr, &r), bad, "X");
  expect_error(steepest_fit(&x, nullptr, nullptr, nullptr, &r), bad, "y");
  expect_error(steepest_fit(&x, &y, nullptr, nullptr, nullptr), bad, "result");
  expect_error(steepest_result_weights(nullptr, &v, 4), bad, "result");
  expect_error(steepest_result_real(nullptr, "bias", &v), bad, "result");
  expect_error(steepest_result_int(nullptr, "epochs_run", &n), bad, "result");
  expect_error(steepest_result_text(nullptr, "solver", &t), bad, "result");
  expect_error(steepest_result_history(nullptr, "loss", nullptr, 0, &n), bad, "result");
  double mse = 0;
  const double model[4] = {0, 0, 0, 0};
  expect_error(steepest_evaluate(&x, &y, nullptr, model, 4, 0, nullptr, nullptr, nullptr, nullptr), bad, "mse");
  expect_error(steepest_evaluate(&x, &y, nullptr, nullptr, 4, 0, nullptr, &mse, nullptr, nullptr), bad, "weights");
  expect_error(steepest_predict(&x, model, 4, 0, nullptr, Data::rows), bad, "out");
  expect_error(steepest_score(nullptr, &y, nullptr, model, 4, 0, nullptr), bad, "out");
  // The destroy functions accept NULL; raising or clearing a null flag does nothing.
  steepest_options_destroy(nullptr);
  steepest_result_destroy(nullptr);
  steepest_stop_flag_destroy(nullptr);
  steepest_stop_flag_raise(nullptr);
  steepest_stop_flag_clear(nullptr);
}

TEST(CApiErrors, BadViewsAndMismatchedLengths) {
  const Data d;
  const auto bad = STEEPEST_ERROR_INVALID_ARGUMENT;
  steepest_result* r = nullptr;
  const steepest_vector y = d.c_y();
  steepest_matrix x = d.c_x();
  x.dtype = 7;
  expect_error(steepest_fit(&x, &y, nullptr, nullptr, &r), bad, "dtype 7");
  x = d.c_x();
  x.layout = 2;
  expect_error(steepest_fit(&x, &y, nullptr, nullptr, &r), bad, "layout 2");
  x = d.c_x();
  const steepest_vector short_y{d.y.data(), Data::rows - 1, 1, STEEPEST_FLOAT64};
  expect_error(steepest_fit(&x, &short_y, nullptr, nullptr, &r), bad, std::to_string(Data::rows - 1));
  const steepest_vector short_w{d.w.data(), 10, 1, STEEPEST_FLOAT64};
  expect_error(steepest_fit(&x, &y, &short_w, nullptr, &r), bad, "10");
  x.stride = 2;  // row-major rows of 4 cannot be 2 apart
  expect_error(steepest_fit(&x, &y, nullptr, nullptr, &r), bad, "stride");
  x = d.c_x();
  x.data = nullptr;
  expect_error(steepest_fit(&x, &y, nullptr, nullptr, &r), bad, "null");
  EXPECT_EQ(r, nullptr);
  x = d.c_x();
  double mse = 0;
  const double model[3] = {0, 0, 0};
  expect_error(steepest_evaluate(&x, &y, nullptr, model, 3, 0, nullptr, &mse, nullptr, nullptr), bad, "3");
  expect_error(steepest_evaluate(&x, &y, nullptr, model, -1, 0, nullptr, &mse, nullptr, nullptr), bad, "negative");
  std::vector<double> out(Data::rows);
  expect_error(steepest_predict(&x, model, 3, 0, out.data(), Data::rows), bad, "3");
  expect_error(steepest_predict(&x, model, 4, 0, out.data(), Data::rows - 1), STEEPEST_ERROR_BUFFER_TOO_SMALL,
               "out_size");
}

TEST(CApiErrors, UnknownNamesAndBadValues) {
  const auto bad = STEEPEST_ERROR_INVALID_ARGUMENT;
  Handles h;
  expect_error(steepest_options_set_real(h.options, "learning_rat", 0.1), bad, "learning_rate");  // lists the names
  expect_error(steepest_options_set_int(h.options, "standardize", 2), bad, "0 or 1");
  expect_error(steepest_options_set_int(h.options, "seed", -1), bad, "seed");
  expect_error(steepest_options_set_int(h.options, "threads", -1), bad, "threads");
  expect_error(steepest_options_set_int(h.options, "cuda_device", -2), bad, "cuda_device");
  EXPECT_EQ(steepest_options_set_int(h.options, "cuda_device", -1), STEEPEST_OK);
  expect_error(steepest_options_set_int(h.options, "l2", 1), bad, "unknown integer option");
  expect_error(steepest_options_set_text(h.options, "optimizer", "sgd"), bad, "adam");
  expect_error(steepest_options_set_text(h.options, "learning_rate", "fast"), bad, "auto");
  expect_error(steepest_options_on_checkpoint(h.options, -1, nullptr, nullptr), bad, "-1");
  // Ranges are fit()'s to check, as for every caller.
  const Data d;
  const steepest_matrix x = d.c_x();
  const steepest_vector y = d.c_y();
  ASSERT_EQ(steepest_options_set_real(h.options, "learning_rate", -0.5), STEEPEST_OK);
  expect_error(steepest_fit(&x, &y, nullptr, h.options, &h.result), bad, "learning rate");
  ASSERT_EQ(steepest_options_set_real(h.options, "learning_rate", 0.01), STEEPEST_OK);
  ASSERT_EQ(steepest_fit(&x, &y, nullptr, h.options, &h.result), STEEPEST_OK);
  double v = 0;
  std::int64_t n = 0;
  const char* t = nullptr;
  expect_error(steepest_result_real(h.result, "slope", &v), bad, "bias");
  expect_error(steepest_result_int(h.result, "epochs", &n), bad, "epochs_run");
  expect_error(steepest_result_text(h.result, "reason", &t), bad, "stop_reason");
  expect_error(steepest_result_history(h.result, "trace", nullptr, 0, &n), bad, "heldout_loss");
  expect_error(steepest_result_history(h.result, "loss", nullptr, -1, &n), bad, "negative");
  double three[3];
  expect_error(steepest_result_weights(h.result, three, 3), STEEPEST_ERROR_BUFFER_TOO_SMALL, "capacity 3");
}

TEST(CApiErrors, ACudaFitWithoutAUsableGpuSaysWhy) {
  if (!steepest::cuda_devices().empty()) GTEST_SKIP() << "a GPU is usable here";
  const Data d;
  const steepest_matrix x = d.c_x();
  const steepest_vector y = d.c_y();
  Handles h;
  ASSERT_EQ(steepest_options_set_text(h.options, "device", "cuda"), STEEPEST_OK);
  EXPECT_EQ(steepest_fit(&x, &y, nullptr, h.options, &h.result), STEEPEST_ERROR_DEVICE_UNAVAILABLE);
  EXPECT_STRNE(steepest_last_error(), "");
}

TEST(CApiErrors, TheMessageIsPerThreadAndClearedBySuccess) {
  EXPECT_EQ(steepest_options_set_real(nullptr, "l2", 1), STEEPEST_ERROR_INVALID_ARGUMENT);
  const std::string mine = steepest_last_error();
  ASSERT_FALSE(mine.empty());
  std::string theirs;
  std::thread([&] {
    theirs = steepest_last_error();  // nothing failed on this thread
    steepest_options_set_int(nullptr, "epochs", 1);
  }).join();
  EXPECT_EQ(theirs, "");
  EXPECT_EQ(steepest_last_error(), mine);
  steepest_options* o = nullptr;
  ASSERT_EQ(steepest_options_create(&o), STEEPEST_OK);
  EXPECT_STREQ(steepest_last_error(), "");
  steepest_options_destroy(o);
  EXPECT_EQ(std::string(steepest_version()), std::string(STEEPEST_VERSION_STRING));
}

}  // namespace
