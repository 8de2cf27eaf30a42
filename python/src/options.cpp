// FitOptions and FitResult as Python classes: plain fields read and written as they are,
// the enumerations as the lower-case names the CLI uses.
#include <stdexcept>
#include <string>

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"
#include "steepest/steepest.hpp"

namespace nb = nanobind;

namespace steepest::python {
namespace {

template <typename E>
struct Names {
  const char* name;
  E value;
};

const Names<Optimizer> kOptimizers[] = {{"gd", Optimizer::gd}, {"momentum", Optimizer::momentum},
                                        {"nesterov", Optimizer::nesterov}, {"adam", Optimizer::adam},
                                        {"auto", Optimizer::automatic}};
const Names<Schedule> kSchedules[] = {{"constant", Schedule::constant}, {"invscaling", Schedule::inverse_scaling},
                                      {"exponential", Schedule::exponential}, {"step", Schedule::step},
                                      {"adaptive", Schedule::adaptive}};
const Names<Device> kDevices[] = {{"auto", Device::automatic}, {"cpu", Device::cpu}, {"cuda", Device::cuda}};
const Names<Solver> kSolvers[] = {{"auto", Solver::automatic}, {"residual", Solver::residual}, {"gram", Solver::gram}};
const Names<HistoryMode> kHistory[] = {{"exact", HistoryMode::exact}, {"running", HistoryMode::running_average}};

template <typename E, std::size_t N>
E parse(const Names<E> (&names)[N], const std::string& s, const char* what) {
  std::string known;
  for (const auto& n : names) {
    if (s == n.name) return n.value;
    known += known.empty() ? n.name : std::string(", ") + n.name;
  }
  throw nb::value_error((std::string(what) + ": '" + s + "' is not one of " + known).c_str());
}

template <typename E, std::size_t N>
std::string name_of(const Names<E> (&names)[N], E e) {
  for (const auto& n : names)
    if (n.value == e) return n.name;
  return "unknown";
}

/// A string property of FitOptions over the enumeration member `field`.
#define STEEPEST_ENUM_PROPERTY(cls, pyname, field, table)                                         \
  cls.def_prop_rw(                                                                                \
      pyname, [](const FitOptions& o) { return name_of(table, o.field); },                      \
      [](FitOptions& o, const std::string& s) { o.field = parse(table, s, pyname); })

void bind_fit_options(nb::module_& m) {
  nb::class_<FitOptions> c(m, "FitOptions", "steepest::FitOptions (see include/steepest/options.hpp)");
  c.def(nb::init<>())
      .def_rw("learning_rate", &FitOptions::learning_rate)
      .def_rw("auto_learning_rate", &FitOptions::auto_learning_rate)
      .def_rw("standardize", &FitOptions::standardize)
      .def_rw("momentum", &FitOptions::momentum)
      .def_rw("auto_momentum", &FitOptions::auto_momentum)
      .def_rw("beta1", &FitOptions::beta1)
      .def_rw("beta2", &FitOptions::beta2)
      .def_rw("epsilon", &FitOptions::epsilon)
      .def_rw("l2", &FitOptions::l2)
      .def_rw("l1", &FitOptions::l1)
      .def_rw("power_t", &FitOptions::power_t)
      .def_rw("decay", &FitOptions::decay)
      .def_rw("step_epochs", &FitOptions::step_epochs)
      .def_rw("n_iter_no_change", &FitOptions::n_iter_no_change)
      .def_rw("epochs", &FitOptions::epochs)
      .def_rw("batch_size", &FitOptions::batch_size)
      .def_rw("seed", &FitOptions::seed)
      .def_rw("shuffle", &FitOptions::shuffle)
      .def_rw("shuffle_block", &FitOptions::shuffle_block)
      .def_rw("tol", &FitOptions::tol)
      .def_rw("validation_fraction", &FitOptions::validation_fraction)
      .def_rw("init_weights", &FitOptions::init_weights)
      .def_rw("init_bias", &FitOptions::init_bias)
      .def_rw("fit_intercept", &FitOptions::fit_intercept)
      .def_rw("threads", &FitOptions::threads)
      .def_rw("cuda_device", &FitOptions::cuda_device);
  STEEPEST_ENUM_PROPERTY(c, "optimizer", optimizer, kOptimizers);
  STEEPEST_ENUM_PROPERTY(c, "schedule", schedule, kSchedules);
  STEEPEST_ENUM_PROPERTY(c, "device", device, kDevices);
  STEEPEST_ENUM_PROPERTY(c, "solver", solver, kSolvers);
  STEEPEST_ENUM_PROPERTY(c, "history_mode", history, kHistory);
}

void bind_fit_result(nb::module_& m) {
  nb::class_<FitResult>(m, "FitResult", "steepest::FitResult (see include/steepest/result.hpp)")
      .def_ro("weights", &FitResult::weights)
      .def_ro("bias", &FitResult::bias)
      .def_ro("epochs_run", &FitResult::epochs_run)
      .def_ro("steps_into_epoch", &FitResult::steps_into_epoch)
      .def_prop_ro("stop_reason", [](const FitResult& r) { return std::string(to_string(r.stop_reason)); })
      .def_ro("loss_history", &FitResult::loss_history)
      .def_ro("final_mse", &FitResult::final_mse)
      .def_ro("heldout_loss_history", &FitResult::heldout_loss_history)
      .def_ro("heldout_mse", &FitResult::heldout_mse)
      .def_ro("backend", &FitResult::backend)
      .def_ro("device_name", &FitResult::device_name)
      .def_ro("solver", &FitResult::solver)
      .def_ro("wall_seconds", &FitResult::wall_seconds)
      .def_ro("message", &FitResult::message)
      .def_ro("learning_rate", &FitResult::learning_rate)
      .def_ro("final_learning_rate", &FitResult::final_learning_rate)
      .def_ro("curvature", &FitResult::curvature)
      .def_ro("optimizer", &FitResult::optimizer)
      .def_ro("momentum", &FitResult::momentum)
      .def_ro("condition_number", &FitResult::condition_number);
}

}  // namespace

void bind_options(nb::module_& m) {
  bind_fit_options(m);
  bind_fit_result(m);
}

}  // namespace steepest::python
