#include <algorithm>
#include <map>

#include "api/c_api_handles.hpp"

namespace steepest::detail {

std::string& last_error() {
  thread_local std::string message;
  return message;
}

namespace {

[[noreturn]] void unknown(const char* kind, const std::string& name, const std::string& known) {
  throw CApiError(STEEPEST_ERROR_INVALID_ARGUMENT, "unknown " + std::string(kind) + " \"" + name + "\" (" + known + ")");
}

template <class Map>
std::string names(const Map& m) {
  std::string s;
  for (const auto& [k, v] : m) s += (s.empty() ? "" : ", ") + k;
  return s;
}

template <class T, class Map>
T choice(const Map& m, const std::string& option, const std::string& value) {
  const auto it = m.find(value);
  if (it == m.end()) unknown((option + " value").c_str(), value, names(m));
  return it->second;
}

}  // namespace

void set_real(steepest_options& o, const std::string& name, double value) {
  const std::map<std::string, double FitOptions::*> fields = {
      {"learning_rate", &FitOptions::learning_rate}, {"momentum", &FitOptions::momentum},
      {"beta1", &FitOptions::beta1},                 {"beta2", &FitOptions::beta2},
      {"epsilon", &FitOptions::epsilon},             {"l2", &FitOptions::l2},
      {"l1", &FitOptions::l1},                       {"power_t", &FitOptions::power_t},
      {"decay", &FitOptions::decay},                 {"tol", &FitOptions::tol},
      {"validation_fraction", &FitOptions::validation_fraction},
      {"init_bias", &FitOptions::init_bias},         {"validate_tolerance", &FitOptions::validate_tolerance}};
  const auto it = fields.find(name);
  if (it == fields.end()) unknown("real option", name, names(fields));
  o.fit.*(it->second) = value;
  if (name == "learning_rate") o.fit.auto_learning_rate = false;
  if (name == "momentum") o.fit.auto_momentum = false;
}

void set_int(steepest_options& o, const std::string& name, std::int64_t value) {
  const std::map<std::string, std::int64_t FitOptions::*> counts = {
      {"epochs", &FitOptions::epochs},
      {"batch_size", &FitOptions::batch_size},
      {"shuffle_block", &FitOptions::shuffle_block},
      {"step_epochs", &FitOptions::step_epochs},
      {"n_iter_no_change", &FitOptions::n_iter_no_change},
      {"validate_every", &FitOptions::validate_every},
      {"checkpoint_every", &FitOptions::checkpoint_every}};
  const std::map<std::string, bool FitOptions::*> switches = {
      {"standardize", &FitOptions::standardize},       {"shuffle", &FitOptions::shuffle},
      {"fit_intercept", &FitOptions::fit_intercept},   {"auto_learning_rate", &FitOptions::auto_learning_rate},
      {"auto_momentum", &FitOptions::auto_momentum},   {"estimate_condition", &FitOptions::estimate_condition}};
  if (const auto it = counts.find(name); it != counts.end()) {
    o.fit.*(it->second) = value;
  } else if (const auto sw = switches.find(name); sw != switches.end()) {
    if (value != 0 && value != 1)
      throw CApiError(STEEPEST_ERROR_INVALID_ARGUMENT, name + " is a switch: 0 or 1, got " + std::to_string(value));
    o.fit.*(sw->second) = value == 1;
  } else if (name == "seed") {
    if (value < 0) throw CApiError(STEEPEST_ERROR_INVALID_ARGUMENT, "seed must be >= 0, got " + std::to_string(value));
    o.fit.seed = static_cast<std::uint64_t>(value);
  } else if (name == "threads") {
    if (value < 0 || value > 1 << 30)
      throw CApiError(STEEPEST_ERROR_INVALID_ARGUMENT, "threads out of range: " + std::to_string(value));
    o.fit.threads = static_cast<std::int32_t>(value);
  } else if (name == "cuda_device") {
    if (value < -1 || value > 1 << 20)
      throw CApiError(STEEPEST_ERROR_INVALID_ARGUMENT, "cuda_device must be -1 or a device index, got " +
                                                           std::to_string(value));
    o.fit.cuda_device = static_cast<std::int32_t>(value);
  } else {
    unknown("integer option", name, names(counts) + ", " + names(switches) + ", seed, threads, cuda_device");
  }
}

void set_text(steepest_options& o, const std::string& name, const std::string& value) {
  FitOptions& f = o.fit;
  if (name == "optimizer") {
    f.optimizer = choice<Optimizer>(std::map<std::string, Optimizer>{{"gd", Optimizer::gd},
                                                                     {"momentum", Optimizer::momentum},
                                                                     {"nesterov", Optimizer::nesterov},
                                                                     {"adam", Optimizer::adam},
                                                                     {"auto", Optimizer::automatic}},
                                     name, value);
  } else if (name == "schedule") {
    f.schedule = choice<Schedule>(std::map<std::string, Schedule>{{"constant", Schedule::constant},
                                                                  {"invscaling", Schedule::inverse_scaling},
                                                                  {"exponential", Schedule::exponential},
                                                                  {"step", Schedule::step},
                                                                  {"adaptive", Schedule::adaptive}},
                                  name, value);
  } else if (name == "device") {
    f.device = choice<Device>(
        std::map<std::string, Device>{{"auto", Device::automatic}, {"cpu", Device::cpu}, {"cuda", Device::cuda}}, name,
        value);
  } else if (name == "solver") {
    f.solver = choice<Solver>(
        std::map<std::string, Solver>{{"auto", Solver::automatic}, {"residual", Solver::residual}, {"gram", Solver::gram}},
        name, value);
  } else if (name == "history") {
    f.history = choice<HistoryMode>(
        std::map<std::string, HistoryMode>{{"exact", HistoryMode::exact}, {"running", HistoryMode::running_average}}, name,
        value);
  } else if ((name == "learning_rate" || name == "momentum") && value == "auto") {
    (name == "learning_rate" ? f.auto_learning_rate : f.auto_momentum) = true;
  } else {
    unknown("text option", name, "optimizer, schedule, device, solver, history; learning_rate or momentum \"auto\"");
  }
}

double result_real(const steepest_result& r, const std::string& name) {
  const FitResult& f = r.fit;
  const std::map<std::string, double> values = {
      {"bias", f.bias},
      {"final_mse", f.final_mse},
      {"heldout_mse", f.heldout_mse},
      {"learning_rate", f.learning_rate},
      {"final_learning_rate", f.final_learning_rate},
      {"curvature", f.curvature},
      {"min_curvature", f.min_curvature},
      {"condition_number", f.condition_number},
      {"momentum", f.momentum},
      {"wall_seconds", f.wall_seconds},
      {"setup_seconds", f.setup_seconds},
      {"gram_seconds", f.gram_seconds}};
  const auto it = values.find(name);
  if (it == values.end()) unknown("real result", name, names(values));
  return it->second;
}

std::int64_t result_int(const steepest_result& r, const std::string& name) {
  const FitResult& f = r.fit;
  const std::map<std::string, std::int64_t> values = {{"n_weights", static_cast<std::int64_t>(f.weights.size())},
                                                      {"epochs_run", f.epochs_run},
                                                      {"steps_into_epoch", f.steps_into_epoch},
                                                      {"heldout_rows", f.heldout_rows},
                                                      {"expected_epochs", f.expected_epochs},
                                                      {"validation_passed", f.validation.passed ? 1 : 0}};
  const auto it = values.find(name);
  if (it == values.end()) unknown("integer result", name, names(values));
  return it->second;
}

const std::string& result_text(const steepest_result& r, const std::string& name) {
  const FitResult& f = r.fit;
  if (name == "stop_reason") return r.stop_reason;
  const std::map<std::string, const std::string*> values = {{"message", &f.message},
                                                             {"backend", &f.backend},
                                                             {"device_name", &f.device_name},
                                                             {"solver", &f.solver},
                                                             {"optimizer", &f.optimizer}};
  const auto it = values.find(name);
  if (it == values.end()) unknown("text result", name, "stop_reason, " + names(values));
  return *it->second;
}

const std::vector<double>& result_history(const steepest_result& r, const std::string& name) {
  if (name == "loss") return r.fit.loss_history;
  if (name == "heldout_loss") return r.fit.heldout_loss_history;
  unknown("history", name, "loss, heldout_loss");
}

}  // namespace steepest::detail
