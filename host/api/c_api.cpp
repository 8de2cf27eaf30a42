// The C API (include/steepest/steepest.h) over the C++ one: handles that own C++ objects,
// names mapped to FitOptions fields, and every exception turned into a status and a
// thread-local message at the boundary (guarded()).
#include "steepest/steepest.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "api/c_api_handles.hpp"
#include "api/state_bytes.hpp"
#include "steepest/steepest.hpp"
#include "steepest/version.hpp"

using steepest::detail::CApiError;
using steepest::detail::guarded;

namespace {

[[noreturn]] void invalid(const std::string& what) { throw CApiError(STEEPEST_ERROR_INVALID_ARGUMENT, what); }

template <class T>
T& need(T* p, const char* what) {
  if (p == nullptr) invalid(std::string(what) + " is a null pointer");
  return *p;
}

const char* string_arg(const char* p, const char* what) {
  if (p == nullptr) invalid(std::string(what) + " is a null pointer");
  return p;
}

steepest::DType dtype_of(std::int32_t d, const char* what) {
  if (d != STEEPEST_FLOAT32 && d != STEEPEST_FLOAT64)
    invalid(std::string(what) + ": unknown dtype " + std::to_string(d) + " (STEEPEST_FLOAT32 or STEEPEST_FLOAT64)");
  return d == STEEPEST_FLOAT32 ? steepest::DType::float32 : steepest::DType::float64;
}

steepest::MatrixView matrix_of(const steepest_matrix* m) {
  const steepest_matrix& x = need(m, "X");
  if (x.layout != STEEPEST_ROW_MAJOR && x.layout != STEEPEST_COL_MAJOR)
    invalid("X: unknown layout " + std::to_string(x.layout) + " (STEEPEST_ROW_MAJOR or STEEPEST_COL_MAJOR)");
  const auto layout = x.layout == STEEPEST_ROW_MAJOR ? steepest::Layout::row_major : steepest::Layout::col_major;
  const std::int64_t packed = layout == steepest::Layout::row_major ? x.cols : x.rows;
  return {x.data, x.rows, x.cols, x.stride != 0 ? x.stride : packed, dtype_of(x.dtype, "X"), layout};
}

steepest::VectorView vector_of(const steepest_vector* v, const char* what) {
  const steepest_vector& x = need(v, what);
  return {x.data, x.size, x.stride, dtype_of(x.dtype, what)};
}

/// An absent weight vector: the unweighted overloads' meaning.
steepest::VectorView optional_weights(const steepest_vector* w) {
  return w == nullptr ? steepest::VectorView{} : vector_of(w, "sample_weight");
}

std::vector<double> model_of(const double* weights, std::int64_t n) {
  if (n < 0) invalid("n_weights is negative");
  if (n > 0 && weights == nullptr) invalid("weights is a null pointer");
  return std::vector<double>(weights, weights + n);
}

steepest::EvaluateOptions evaluate_options_of(const steepest_options* o) {
  steepest::EvaluateOptions e;
  if (o != nullptr) {
    e.device = o->fit.device;
    e.threads = o->fit.threads;
    e.communicator = o->fit.communicator;
  }
  return e;
}

}  // namespace

extern "C" {

const char* steepest_last_error(void) { return steepest::detail::last_error().c_str(); }

const char* steepest_version(void) { return STEEPEST_VERSION_STRING; }

// ---- options -----------------------------------------------------------------------------

steepest_status steepest_options_create(steepest_options** out) {
  return guarded([&] {
    need(out, "out") = nullptr;
    *out = new steepest_options();
  });
}

void steepest_options_destroy(steepest_options* options) { delete options; }

steepest_status steepest_options_set_real(steepest_options* options, const char* name, double value) {
  return guarded([&] { steepest::detail::set_real(need(options, "options"), string_arg(name, "name"), value); });
}

steepest_status steepest_options_set_int(steepest_options* options, const char* name, int64_t value) {
  return guarded([&] { steepest::detail::set_int(need(options, "options"), string_arg(name, "name"), value); });
}

steepest_status steepest_options_set_text(steepest_options* options, const char* name, const char* value) {
  return guarded([&] {
    steepest::detail::set_text(need(options, "options"), string_arg(name, "name"), string_arg(value, "value"));
  });
}

steepest_status steepest_options_set_init_weights(steepest_options* options, const double* weights, int64_t count) {
  return guarded([&] { need(options, "options").fit.init_weights = model_of(weights, count); });
}

steepest_status steepest_options_on_epoch(steepest_options* options, steepest_epoch_callback callback, void* user) {
  return guarded([&] {
    steepest_options& o = need(options, "options");
    if (callback == nullptr) {
      o.fit.on_epoch = nullptr;
      return;
    }
    o.fit.on_epoch = [callback, user](const steepest::EpochReport& r) {
      const steepest_epoch_report report{r.epoch,        r.max_epochs, r.loss, r.heldout_loss, r.learning_rate,
                                         r.bias,         r.weights->data(),
                                         static_cast<int64_t>(r.weights->size())};
      return callback(&report, user) != 0;
    };
  });
}

steepest_status steepest_options_on_start(steepest_options* options, steepest_start_callback callback, void* user) {
  return guarded([&] {
    steepest_options& o = need(options, "options");
    if (callback == nullptr) {
      o.fit.on_start = nullptr;
      return;
    }
    o.fit.on_start = [callback, user](const steepest::StartReport& r) {
      const steepest_start_report report{steepest::to_string(r.optimizer), r.learning_rate,    r.momentum,        r.curvature,
                                         r.min_curvature,   r.condition_number, r.expected_epochs, r.max_epochs};
      callback(&report, user);
    };
  });
}

steepest_status steepest_options_on_step(steepest_options* options, steepest_step_callback callback, void* user) {
  return guarded([&] {
    steepest_options& o = need(options, "options");
    if (callback == nullptr) {
      o.fit.on_step = nullptr;
      return;
    }
    o.fit.on_step = [callback, user](const steepest::StepReport& r) {
      const steepest_step_report report{r.epoch, r.step, r.batch_loss, r.learning_rate, r.bias, r.weights->data(),
                                        static_cast<int64_t>(r.weights->size())};
      callback(&report, user);
    };
  });
}

steepest_status steepest_stop_flag_create(steepest_stop_flag** out) {
  return guarded([&] {
    need(out, "out") = nullptr;
    *out = new steepest_stop_flag();
  });
}

void steepest_stop_flag_destroy(steepest_stop_flag* flag) { delete flag; }

void steepest_stop_flag_raise(steepest_stop_flag* flag) {
  if (flag != nullptr) flag->raised.store(true);
}

void steepest_stop_flag_clear(steepest_stop_flag* flag) {
  if (flag != nullptr) flag->raised.store(false);
}

steepest_status steepest_options_set_stop_flag(steepest_options* options, steepest_stop_flag* flag) {
  return guarded([&] { need(options, "options").fit.stop_requested = flag == nullptr ? nullptr : &flag->raised; });
}

steepest_status steepest_options_on_checkpoint(steepest_options* options, int64_t every,
                                               steepest_checkpoint_callback callback, void* user) {
  return guarded([&] {
    steepest_options& o = need(options, "options");
    if (every < 0) invalid("checkpoint every must be >= 0, got " + std::to_string(every));
    o.fit.checkpoint_every = every;
    if (callback == nullptr) {
      o.fit.on_checkpoint = nullptr;
      return;
    }
    o.fit.on_checkpoint = [callback, user](const steepest::TrainingState& s) {
      const std::string bytes = steepest::detail::state_to_bytes(s);
      callback(bytes.data(), bytes.size(), s.epoch, user);
    };
  });
}

steepest_status steepest_options_set_resume(steepest_options* options, const void* bytes, size_t size) {
  return guarded([&] {
    steepest_options& o = need(options, "options");
    o.fit.resume = std::make_shared<const steepest::TrainingState>(steepest::detail::state_from_bytes(bytes, size));
  });
}

// ---- fit and its result ------------------------------------------------------------------

steepest_status steepest_fit(const steepest_matrix* X, const steepest_vector* y, const steepest_vector* sample_weight,
                             const steepest_options* options, steepest_result** result) {
  return guarded([&] {
    need(result, "result") = nullptr;
    const steepest::FitOptions defaults;
    const steepest::FitOptions& o = options != nullptr ? options->fit : defaults;
    auto r = std::make_unique<steepest_result>();
    r->fit = steepest::fit(matrix_of(X), vector_of(y, "y"), optional_weights(sample_weight), o);
    r->stop_reason = steepest::to_string(r->fit.stop_reason);
    *result = r.release();
  });
}

void steepest_result_destroy(steepest_result* result) { delete result; }

steepest_status steepest_result_weights(const steepest_result* result, double* out, int64_t capacity) {
  return guarded([&] {
    const auto& w = need(result, "result").fit.weights;
    if (capacity < static_cast<int64_t>(w.size()))
      throw CApiError(STEEPEST_ERROR_BUFFER_TOO_SMALL, "weights: capacity " + std::to_string(capacity) +
                                                           " is below the " + std::to_string(w.size()) + " weights");
    if (!w.empty()) std::memcpy(&need(out, "out"), w.data(), w.size() * sizeof(double));
  });
}

steepest_status steepest_result_real(const steepest_result* result, const char* name, double* out) {
  return guarded([&] { need(out, "out") = steepest::detail::result_real(need(result, "result"), string_arg(name, "name")); });
}

steepest_status steepest_result_int(const steepest_result* result, const char* name, int64_t* out) {
  return guarded([&] { need(out, "out") = steepest::detail::result_int(need(result, "result"), string_arg(name, "name")); });
}

steepest_status steepest_result_text(const steepest_result* result, const char* name, const char** out) {
  return guarded([&] {
    need(out, "out") = steepest::detail::result_text(need(result, "result"), string_arg(name, "name")).c_str();
  });
}

steepest_status steepest_result_history(const steepest_result* result, const char* name, double* out,
                                        int64_t capacity, int64_t* length) {
  return guarded([&] {
    const std::vector<double>& h = steepest::detail::result_history(need(result, "result"), string_arg(name, "name"));
    need(length, "length") = static_cast<int64_t>(h.size());
    if (capacity < 0) invalid("capacity is negative");
    const auto n = std::min<std::size_t>(h.size(), static_cast<std::size_t>(capacity));
    if (n > 0) std::memcpy(&need(out, "out"), h.data(), n * sizeof(double));
  });
}

// ---- evaluate, predict, score -------------------------------------------------------------

steepest_status steepest_evaluate(const steepest_matrix* X, const steepest_vector* y,
                                  const steepest_vector* sample_weight, const double* weights, int64_t n_weights,
                                  double bias, const steepest_options* options, double* mse, double* grad_weights,
                                  double* grad_bias) {
  return guarded([&] {
    need(mse, "mse");
    const steepest::Evaluation e = steepest::evaluate(matrix_of(X), vector_of(y, "y"), optional_weights(sample_weight),
                                                      model_of(weights, n_weights), bias, evaluate_options_of(options));
    *mse = e.mse;
    if (grad_weights != nullptr) std::copy(e.grad_weights.begin(), e.grad_weights.end(), grad_weights);
    if (grad_bias != nullptr) *grad_bias = e.grad_bias;
  });
}

steepest_status steepest_predict(const steepest_matrix* X, const double* weights, int64_t n_weights, double bias,
                                 double* out, int64_t out_size) {
  return guarded([&] {
    const steepest::MatrixView view = matrix_of(X);
    if (out_size < view.rows)
      throw CApiError(STEEPEST_ERROR_BUFFER_TOO_SMALL, "predict: out_size " + std::to_string(out_size) +
                                                           " is below the " + std::to_string(view.rows) + " rows");
    steepest::predict(view, model_of(weights, n_weights), bias, &need(out, "out"), out_size);
  });
}

steepest_status steepest_score(const steepest_matrix* X, const steepest_vector* y, const steepest_vector* sample_weight,
                               const double* weights, int64_t n_weights, double bias, steepest_metrics* out) {
  return guarded([&] {
    need(out, "out");
    const steepest::Metrics m =
        steepest::score(matrix_of(X), vector_of(y, "y"), optional_weights(sample_weight), model_of(weights, n_weights), bias);
    *out = {m.mse, m.rmse, m.mae, m.r2};
  });
}

}  // extern "C"
