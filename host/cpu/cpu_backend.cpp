// The CPU reference backend: one fused pass over the rows computes residuals, the sum of
// squared residuals and the gradient, accumulated in float64 whatever the storage type.
//
// Determinism: rows are cut into chunks whose size depends only on (rows, cols), never on
// the thread count; each chunk is summed by one thread in row order, and chunk partials
// are combined serially in chunk order by the backend's Reduction (backend/reduction.hpp;
// local_reduction() in one process).  Any thread count therefore gives the same bits.
//
// Sample weights (optional, a view like y, never copied): every row's terms are multiplied
// by its weight w_i and the pass divides by W = sum w_i instead of m, by a second set of
// kernels (best_weighted_chunk) so the unweighted pass runs exactly the code it ran before.
// A batch with W = 0 has loss 0 and gradient 0 and adds nothing to the running sums.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/reduction.hpp"
#include "cpu/cpu_chunk.hpp"

#if defined(STEEPEST_HAVE_OPENMP)
#include <omp.h>
#endif

namespace steepest::detail {
namespace {

int default_threads() noexcept {
#if defined(STEEPEST_HAVE_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

class CpuBackend final : public Backend {
 public:
  CpuBackend(const MatrixView& X, const VectorView& y, const VectorView& weights,
             std::int32_t threads, Reduction& reduction)
      : X_(X), y_(y), weights_(weights), threads_(threads > 0 ? threads : default_threads()), reduction_(reduction),
        w_(static_cast<std::size_t>(X.cols), 0.0), gw_(w_.size(), 0.0) {}

  const char* name() const noexcept override { return "cpu"; }
  std::string device_name() const override {
    return "CPU (" + std::to_string(threads_) + (threads_ == 1 ? " thread)" : " threads)");
  }
  std::int64_t rows() const noexcept override { return X_.rows; }
  std::int64_t cols() const noexcept override { return X_.cols; }

  void set_parameters(const double* w, double b) override {
    std::copy(w, w + X_.cols, w_.begin());
    b_ = b;
  }
  void get_parameters(double* w, double* b) override {
    std::copy(w_.begin(), w_.end(), w);
    *b = b_;
  }
  void reserve_row_order() override { order_.reserve(static_cast<std::size_t>(X_.rows)); }
  void set_row_order(const std::int64_t* order) override {
    order_.assign(order, order + X_.rows);
  }

  void compute(std::int64_t begin, std::int64_t end, bool ordered) override {
    const std::int64_t* rows = ordered ? order_.data() + begin : nullptr;
    const std::int64_t first = ordered ? 0 : begin;
    const std::int64_t m = end - begin;
    const ChunkPlan plan = plan_chunks(m, X_.cols);
    const bool weighted = weights_.data != nullptr;
    // grad_w, sse, sum_r (and sum_w when weighted), written by the kernels; then the
    // chunk's row count, so that a Reduction across processes also totals the rows.
    const std::size_t width = static_cast<std::size_t>(X_.cols) + (weighted ? 4 : 3);
    partials_.assign(static_cast<std::size_t>(plan.chunks) * width, 0.0);

    const Params p{w_.data(), b_};
    auto run_chunk = [&](std::int64_t c) {
      const std::int64_t lo = c * plan.rows_per_chunk;
      const std::int64_t hi = std::min(m, lo + plan.rows_per_chunk);
      double* out = partials_.data() + static_cast<std::size_t>(c) * width;
      if (weighted) {
        weighted_kernel_(X_, y_, weights_, p, rows, first + lo, first + hi, out);
      } else {
        kernel_(X_, y_, p, rows, first + lo, first + hi, out);
      }
      out[width - 1] = static_cast<double>(hi - lo);
    };
    if (plan.chunks == 1 || threads_ == 1) {
      // Small batches: no parallel region at all (its start-up costs more than the work).
      for (std::int64_t c = 0; c < plan.chunks; ++c) run_chunk(c);
    } else {
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(static) num_threads(threads_)
#endif
      for (std::int64_t c = 0; c < plan.chunks; ++c) run_chunk(c);
    }

    // The chunk partials combined in a fixed order (chunk 0, 1, 2, ... in one process) by
    // the seam of backend/reduction.hpp, then divided by the total weight.
    const std::size_t d = gw_.size();
    totals_.assign(width, 0.0);
    reduction_.combine(partials_.data(), plan.chunks, width, totals_.data());
    std::copy(totals_.begin(), totals_.begin() + static_cast<std::ptrdiff_t>(d), gw_.begin());
    const double sse = totals_[d], sum_r = totals_[d + 1], sum_w = weighted ? totals_[d + 2] : 0.0;
    // The weights' total plays the row count's part; with unit weights it is the row count,
    // exact (integers below 2^53): m in one process.
    const double total = weighted ? sum_w : totals_[width - 1];
    if (weighted && total == 0.0) {
      // Every weight in the batch is zero: no data, so no loss and no step.
      std::fill(gw_.begin(), gw_.end(), 0.0);
      gb_ = 0.0;
      loss_ = 0.0;
      return;
    }
    const double inv_m = 1.0 / total;
    for (double& g : gw_) g *= 2.0 * inv_m;
    gb_ = 2.0 * inv_m * sum_r;
    loss_ = sse * inv_m;
    running_sse_ += sse;
    running_rows_ += total;
  }

  void step(const StepRule& rule) override {
    for (std::size_t k = 0; k < w_.size(); ++k) apply_step_rule(rule, false, w_[k], gw_[k], s1_[k], s2_[k]);
    if (rule.update_bias) apply_step_rule(rule, true, b_, gb_, s1_.back(), s2_.back());
  }

  double loss() override { return loss_; }
  void gradient(double* gw, double* gb) override {
    std::copy(gw_.begin(), gw_.end(), gw);
    *gb = gb_;
  }
  void reset_running_loss() override {
    running_sse_ = 0.0;
    running_rows_ = 0.0;
  }
  double running_loss() override {
    return running_rows_ > 0.0 ? running_sse_ / running_rows_ : 0.0;
  }
  void get_running_sums(double* sse, double* rows) override {
    *sse = running_sse_;
    *rows = running_rows_;
  }
  void set_running_sums(double sse, double rows) override {
    running_sse_ = sse;
    running_rows_ = rows;
  }
  void get_optimizer_state(double* state) override {
    std::copy(s1_.begin(), s1_.end(), state);
    std::copy(s2_.begin(), s2_.end(), state + s1_.size());
  }
  void set_optimizer_state(const double* state) override {
    std::copy(state, state + s1_.size(), s1_.begin());
    std::copy(state + s1_.size(), state + 2 * s1_.size(), s2_.begin());
  }

 private:
  MatrixView X_;
  VectorView y_;
  VectorView weights_;  // data == nullptr: unweighted
  int threads_;
  Reduction& reduction_;
  std::vector<double> w_;
  double b_ = 0.0;
  std::vector<double> gw_;
  std::vector<double> s1_ = std::vector<double>(w_.size() + 1, 0.0);  // optimizer state, w then b
  std::vector<double> s2_ = std::vector<double>(w_.size() + 1, 0.0);
  double gb_ = 0.0;
  double loss_ = 0.0;
  double running_sse_ = 0.0;
  double running_rows_ = 0.0;  // rows, or the weights' total: exact for integer counts < 2^53
  std::vector<std::int64_t> order_;
  std::vector<double> partials_;  // chunks x width, chunk order
  std::vector<double> totals_;    // width
  FusedChunkFn kernel_ = best_fused_chunk();
  WeightedChunkFn weighted_kernel_ = best_weighted_chunk();
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const MatrixView& X, const VectorView& y,
                                          const VectorView& weights, std::int32_t threads,
                                          Reduction& reduction) {
  return std::make_unique<CpuBackend>(X, y, weights, threads, reduction);
}

std::unique_ptr<Backend> make_cpu_backend(const MatrixView& X, const VectorView& y,
                                          std::int32_t threads) {
  return make_cpu_backend(X, y, VectorView{}, threads);
}

}  // namespace steepest::detail
