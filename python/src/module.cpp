// steepest._core: fit() and predict() on NumPy arrays without a copy.
//
// Arrays arrive as nanobind ndarrays and are never converted (noconvert): float32 or
// float64, any layout the library's views can express (rows or columns at unit stride,
// the other dimension at any stride >= its extent).  steepest.GDRegressor makes the rare
// other array contiguous before it gets here.  The GIL is released while the library runs.
#include <atomic>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"
#include "steepest/steepest.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace steepest::python {
namespace {

using Array = nb::ndarray<nb::ro, nb::device::cpu>;
using Output = nb::ndarray<double, nb::ndim<1>, nb::device::cpu>;

DType dtype_of(const Array& a, const char* name) {
  if (a.dtype() == nb::dtype<double>()) return DType::float64;
  if (a.dtype() == nb::dtype<float>()) return DType::float32;
  throw nb::type_error((std::string(name) + ": a float32 or float64 array is expected").c_str());
}

/// The view of a 2-D array, row- or column-major; ValueError for any other strides.
MatrixView matrix_view(const Array& a) {
  if (a.ndim() != 2) throw nb::value_error("X: a 2-D array is expected");
  const auto n = static_cast<std::int64_t>(a.shape(0)), d = static_cast<std::int64_t>(a.shape(1));
  const std::int64_t s0 = a.stride(0), s1 = a.stride(1);
  MatrixView v{a.data(), n, d, 0, dtype_of(a, "X"), Layout::row_major};
  if ((s1 == 1 || d == 1) && (n == 1 || s0 >= d)) {
    v.stride = n == 1 ? d : s0;
  } else if ((s0 == 1 || n == 1) && (d == 1 || s1 >= n)) {
    v.layout = Layout::col_major;
    v.stride = d == 1 ? n : s1;
  } else {
    throw nb::value_error("X: neither rows nor columns are contiguous (make a contiguous copy)");
  }
  return v;
}

VectorView vector_view(const Array& a, const char* name) {
  if (a.ndim() != 1) throw nb::value_error((std::string(name) + ": a 1-D array is expected").c_str());
  const auto n = static_cast<std::int64_t>(a.shape(0));
  const std::int64_t s = n == 1 ? 1 : a.stride(0);
  if (s < 1) throw nb::value_error((std::string(name) + ": a positive stride is expected").c_str());
  return {a.data(), n, s, dtype_of(a, name)};
}

// SIGINT during a fit raises the library's stop flag; the fit returns after its current
// step (StopReason::interrupted) and Python's own handler is then run (deliver_interrupt()).
// g_pending keeps a SIGINT caught by the last fit until then, also one that came after the
// fit's last look at the flag.
std::atomic<bool> g_stop{false};
std::atomic<bool> g_pending{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
extern "C" void on_sigint(int) { g_stop.store(true); }

/// Installs on_sigint for its lifetime when Python's handler is the one in place (not
/// SIG_IGN or SIG_DFL: then SIGINT is left to do what the program asked for).
class SigintGuard {
 public:
  explicit SigintGuard(bool wanted) {
    struct sigaction current {};
    if (!wanted || sigaction(SIGINT, nullptr, &current) != 0) return;
    if (!(current.sa_flags & SA_SIGINFO) && (current.sa_handler == SIG_IGN || current.sa_handler == SIG_DFL))
      return;
    struct sigaction mine {};
    mine.sa_handler = on_sigint;
    sigemptyset(&mine.sa_mask);
    g_stop.store(false);
    g_pending.store(false);
    installed_ = sigaction(SIGINT, &mine, &previous_) == 0;
  }
  ~SigintGuard() {
    if (!installed_) return;
    sigaction(SIGINT, &previous_, nullptr);
    if (g_stop.load()) g_pending.store(true);
  }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;
  const std::atomic<bool>* flag() const { return installed_ ? &g_stop : nullptr; }

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
};

FitResult fit(const Array& X, const Array& y, const std::optional<Array>& sample_weight,
              FitOptions options, bool handle_sigint) {
  const MatrixView xv = matrix_view(X);
  const VectorView yv = vector_view(y, "y");
  std::optional<VectorView> wv;
  if (sample_weight) wv = vector_view(*sample_weight, "sample_weight");
  nb::gil_scoped_release release;
  SigintGuard guard(handle_sigint);
  options.stop_requested = guard.flag();
  return wv ? steepest::fit(xv, yv, *wv, options) : steepest::fit(xv, yv, options);
}

void predict(const Array& X, const std::vector<double>& weights, double bias, Output out) {
  const MatrixView xv = matrix_view(X);
  if (out.shape(0) != static_cast<std::size_t>(xv.rows) || out.stride(0) != 1)
    throw nb::value_error("out: a contiguous float64 array of one entry per row is expected");
  nb::gil_scoped_release release;
  steepest::predict(xv, weights, bias, out.data(), xv.rows);
}

/// When the last fit caught a SIGINT: runs Python's SIGINT handler now, as if the signal
/// had just arrived (by default it raises KeyboardInterrupt).
void deliver_interrupt() {
  if (!g_pending.exchange(false)) return;
#if PY_VERSION_HEX >= 0x030A0000
  if (PyErr_SetInterruptEx(SIGINT) != 0) return;
#else
  PyErr_SetInterrupt();  // SIGINT's handler, before Python 3.10
#endif
  if (PyErr_CheckSignals() != 0) throw nb::python_error();
}

nb::dict build_information() {
  const BuildInfo b = build_info();
  nb::dict d;
  d["version"] = b.version;
  d["cuda_compiled"] = b.cuda_compiled;
  d["cuda_architectures"] = b.cuda_architectures;
  d["openmp"] = b.openmp;
  d["cpu_threads"] = b.cpu_threads;
  d["cpu_kernels"] = b.cpu_kernels;
  d["cpu_prefetch_bytes"] = b.cpu_prefetch_bytes;
  d["cuda_devices"] = static_cast<int>(cuda_devices().size());
  d["cuda_unavailable_reason"] = cuda_unavailable_reason();
  return d;
}

void bind_functions(nb::module_& m) {
  m.def("fit", &fit, "X"_a.noconvert(), "y"_a.noconvert(), "sample_weight"_a.noconvert().none(),
        "options"_a, "handle_sigint"_a,
        "steepest::fit on the arrays as they are (no copy); the GIL is released meanwhile.");
  m.def("predict", &predict, "X"_a.noconvert(), "weights"_a, "bias"_a, "out"_a.noconvert(),
        "x_i . w + b for every row of X into out (float64, one entry per row).");
  m.def("deliver_interrupt", &deliver_interrupt,
        "When the last fit caught a SIGINT, run Python's SIGINT handler now (KeyboardInterrupt by default).");
  m.def("build_info", &build_information, "What this build of the library can run on.");
}

}  // namespace
}  // namespace steepest::python

NB_MODULE(_core, m) {
  m.doc() = "steepest's C++ library: fit and predict on NumPy arrays without a copy";
  static nb::exception<steepest::InvalidArgument> invalid(m, "InvalidArgument", PyExc_ValueError);
  static nb::exception<steepest::DeviceUnavailable> unavailable(m, "DeviceUnavailable", PyExc_RuntimeError);
  static nb::exception<steepest::CudaError> cuda(m, "CudaError", PyExc_RuntimeError);
  steepest::python::bind_options(m);
  steepest::python::bind_functions(m);
}
