// Internal: the small interface every backend implements.  The trainer (host/train/trainer.cpp)
// owns the algorithm; a backend only owns data, parameters and the named steps below.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "backend/gram.hpp"
#include "backend/reduction.hpp"
#include "steepest/data.hpp"
#include "train/step_rule.hpp"

namespace steepest::detail {

/// A row order for ordered passes (Backend::set_row_order).  Either the whole order
/// (\p part false): rows[p] is the row of the fit at position p, for every position
/// p < count = n; or, across processes, only this process's part of it (train/local_order.hpp):
/// its rows in the order's order, rows[k] at a position whose batch starts at keys[k] (keys
/// never decrease; a part may be empty).  A pass over positions [begin, end) of a part takes the entries whose key
/// lies in [begin, end), so begin and end must be batch edges of the order (a multiple of
/// the batch size below the training rows' end, that end, or n), as every pass the trainer
/// asks for is.  A part costs O(this process's rows), the whole order O(n) on every process.
struct RowOrder {
  const std::int64_t* rows = nullptr;
  const std::int64_t* keys = nullptr;  // a part's
  std::int64_t count = 0;
  bool part = false;
  /// The caller keeps rows (and keys) alive and unchanged until the next set_row_order, so a
  /// backend may read them in place instead of copying them (the CPU backend of one process
  /// does: the trainer's orders, 8 bytes a row, are not held twice).
  bool lent = false;
  /// > 1: the whole order in runs (the trainer's --shuffle-block batches, given only to a
  /// backend that takes_runs()): rows[0..count) are run numbers, position p < count run is
  /// row rows[p / run] run + p % run, and positions from count run on are their own rows.
  std::int64_t run = 1;
};

/// A backend holds the data (uploaded once), the parameters (w, b) and the gradient of the
/// last compute().  Calls may be asynchronous; loss(), running_loss(), gradient() and
/// get_parameters() are the only synchronisation points.
class Backend {
 public:
  virtual ~Backend() = default;
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  /// "cpu" or "cuda".
  virtual const char* name() const noexcept = 0;
  /// Human-readable device, e.g. "CPU (2 threads)".
  virtual std::string device_name() const = 0;

  /// Number of rows n of the fit (over every process: see RowShare) and features d.
  virtual std::int64_t rows() const noexcept = 0;
  virtual std::int64_t cols() const noexcept = 0;

  /// Replace the parameters: w has cols() entries.
  virtual void set_parameters(const double* w, double b) = 0;
  /// Read the parameters back: w has room for cols() entries.
  virtual void get_parameters(double* w, double* b) = 0;

  /// Allocate what ordered computes need (an index for each of this process's rows), so
  /// that a fit that will shuffle fails before its first epoch, not in it.  Throws
  /// DeviceUnavailable when it cannot.
  virtual void reserve_row_order() = 0;
  /// Row order used by ordered computes (RowOrder), copied by the backend unless lent.
  virtual void set_row_order(const RowOrder& order) = 0;
  /// Whether set_row_order takes an order in runs (RowOrder::run > 1), with the bits of the
  /// same order written out.
  virtual bool takes_runs() const noexcept { return false; }
  /// The whole order: a permutation of 0..n-1 (n = rows()).
  void set_row_order(const std::int64_t* order) { set_row_order(RowOrder{order, nullptr, rows(), false}); }

  /// One fused pass over m = end - begin rows, taken from the natural order or, when
  /// \p ordered, from positions begin..end of the row order:
  ///   r_i = x_i . w + b - y_i,   loss = (1/m) sum r_i^2,
  ///   grad_w = (2/m) X^T r,      grad_b = (2/m) sum r_i,
  /// all accumulated in float64.  Also adds sum r_i^2 and m to the running loss.
  virtual void compute(std::int64_t begin, std::int64_t end, bool ordered) = 0;

  /// Update the parameters with the gradient of the last compute() by \p rule
  /// (apply_step_rule in host/train/step_rule.hpp, per coordinate; the bias only when
  /// rule.update_bias).  Optimizer state starts at zero with the backend.
  virtual void step(const StepRule& rule) = 0;
  /// Plain gradient descent: w -= lr grad_w (and b -= lr grad_b when \p update_bias).
  void plain_step(double lr, bool update_bias) {
    StepRule rule;
    rule.lr = lr;
    rule.update_bias = update_bias;
    step(rule);
  }

  /// The Gram sums (backend/gram.hpp) of the rows at positions begin..end, taken as
  /// compute() takes them, with the shift \p shift (d + 1 values), through the backend's
  /// Reduction: \p totals (gram_width(cols()) values) is the same on every process.  Leaves
  /// the parameters, the gradient and the running sums as they were.  Deterministic for a
  /// given backend and data plan (the CPU's: for any thread count and any processes holding
  /// whole shards); the CPU and CUDA backends may differ in the last bits.
  virtual void gram_sums(std::int64_t begin, std::int64_t end, bool ordered, const double* shift,
                         double* totals) = 0;
  /// gram_sums() of each batch of positions [begin, end) cut every \p batch positions (the
  /// last may be shorter), one row of gram_width(cols()) values per batch in \p totals: the
  /// same bits as gram_sums() of that batch alone.  This default calls gram_sums() per batch
  /// (across processes: one Reduction per batch); the CPU backend sums a process's batches
  /// in parallel.  Mini-batch Gram mode (train/batch_gram.hpp) reads an epoch's batches so.
  virtual void batch_gram_sums(std::int64_t begin, std::int64_t end, std::int64_t batch, bool ordered,
                               const double* shift, double* totals) {
    const std::size_t width = gram_width(cols());
    for (std::int64_t lo = begin; lo < end; lo += batch, totals += width)
      gram_sums(lo, std::min(end, lo + batch), ordered, shift, totals);
  }

  /// MSE of the last compute().
  virtual double loss() = 0;
  /// Gradient of the last compute(): gw has room for cols() entries.
  virtual void gradient(double* gw, double* gb) = 0;

  /// Running loss: sum of r_i^2 over all computes since the reset, divided by their rows.
  virtual void reset_running_loss() = 0;
  virtual double running_loss() = 0;

  /// The running loss's two accumulators (sum r_i^2, rows), read and restored exactly:
  /// with the parameters and the optimizer state they are all a checkpoint needs from a
  /// backend to continue mid-epoch with the same bits.
  virtual void get_running_sums(double* sse, double* rows) = 0;
  virtual void set_running_sums(double sse, double rows) = 0;

  /// Optimizer state, 2 (cols() + 1) values: s1 of w_1..w_d and b, then s2 likewise
  /// (velocity, or Adam's first and second moments; see apply_step_rule).
  virtual void get_optimizer_state(double* state) = 0;
  virtual void set_optimizer_state(const double* state) = 0;
};

// Sample weights: \p weights (one per row of X, following the rows like y; any stride,
// float32 or float64; finite and >= 0, which the caller checks) make every compute()
// weighted: with W = sum w_i over the batch, loss = sum w_i r_i^2 / W,
// grad_w = (2/W) sum w_i r_i x_i, grad_b = (2/W) sum w_i r_i, and the running sums add
// (sum w_i r_i^2, W).  A batch with W = 0 gives loss 0 and gradient 0 and adds nothing.
// weights.data == nullptr is the unweighted backend, bit for bit the overloads without it.

/// This process's share of the rows of a fit: its rows X are rows [first, first + X.rows)
/// of \p total (total < 0: X is every row), and \p reduction (null: local_reduction())
/// combines the partial sums of every process in chunk order.  Positions and row indices
/// given to a backend (compute, set_row_order) count the rows of the whole fit.
struct RowShare {
  std::int64_t first = 0;
  std::int64_t total = -1;
  Reduction* reduction = nullptr;
};

/// The CPU reference backend (host/cpu/cpu_backend.cpp).  \p threads 0 = OpenMP default.
/// \p weights is read in place, like X and y.  Every pass sums each chunk of the data plan
/// (plan_chunks(total, d)) on its own and combines them in chunk order (\p share's
/// Reduction), so the bits do not depend on the thread count, nor on the number of
/// processes when each holds whole chunks.  Ordered passes need each run of positions
/// begin..end of the row order ascending (the trainer sorts every batch).
std::unique_ptr<Backend> make_cpu_backend(const MatrixView& X, const VectorView& y,
                                          const VectorView& weights, std::int32_t threads,
                                          const RowShare& share = {});
std::unique_ptr<Backend> make_cpu_backend(const MatrixView& X, const VectorView& y,
                                          std::int32_t threads);

/// The CUDA backend (kernels/), or the stub that throws DeviceUnavailable when CUDA was not
/// compiled.  Throws DeviceUnavailable when no device is usable or the data does not fit.
/// \p weights is uploaded once with X and y.
std::unique_ptr<Backend> make_cuda_backend(const MatrixView& X, const VectorView& y,
                                           const VectorView& weights);
/// The same on device \p device_index (-1: the current device; one past the last is
/// InvalidArgument) with \p share: across processes (a Reduction), each pass's sums of this
/// process's rows come to the host, are combined with every process's in rank order and
/// the pass is finished there (d + 4 values down, d + 1 up per pass).  Deterministic for a
/// given split of the rows; not the bits of one process (the device sums each process's
/// rows in its own order).  A process with no rows is refused (InvalidArgument).
std::unique_ptr<Backend> make_cuda_backend(const MatrixView& X, const VectorView& y, const VectorView& weights,
                                           const RowShare& share, int device_index);
std::unique_ptr<Backend> make_cuda_backend(const MatrixView& X, const VectorView& y);

/// Whether make_cuda_backend() can succeed on this machine (compiled and a device usable).
bool cuda_usable() noexcept;
/// CUDA devices visible to this process (cudaGetDeviceCount; no context is made), 0 without.
int cuda_device_count() noexcept;

}  // namespace steepest::detail
