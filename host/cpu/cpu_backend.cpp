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
#include "backend/host_state.hpp"
#include "backend/index_vector.hpp"
#include "backend/reduction.hpp"
#include "cpu/cpu_chunk.hpp"
#include "steepest/error.hpp"

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

class CpuBackend final : public HostStateBackend {
 public:
  CpuBackend(const MatrixView& X, const VectorView& y, const VectorView& weights,
             std::int32_t threads, const RowShare& share)
      : HostStateBackend(X.cols), X_(X), y_(y), weights_(weights), threads_(threads > 0 ? threads : default_threads()),
        first_(share.first), total_(share.total < 0 ? X.rows : share.total), plan_(plan_data(total_, X.cols)),
        reduction_(share.reduction != nullptr ? *share.reduction : local_reduction()) {}

  const char* name() const noexcept override { return "cpu"; }
  /// One process, d > 1: a run read as consecutive rows gives the bits of the same rows
  /// listed (tests/test_cpu_backend.cpp); one feature in order streams by another loop.
  bool takes_runs() const noexcept override { return holds_all() && X_.cols > 1; }
  std::string device_name() const override {
    return "CPU (" + std::to_string(threads_) + (threads_ == 1 ? " thread)" : " threads)");
  }
  std::int64_t rows() const noexcept override { return total_; }
  std::int64_t cols() const noexcept override { return X_.cols; }

  // One process is lent the trainer's orders (nothing to reserve); a part is copied.
  void reserve_row_order() override {
    if (!holds_all()) order_.reserve(static_cast<std::size_t>(X_.rows));
  }
  /// Kept as local row indices (row - first).  A part, or a whole order given to a process
  /// that holds part of the rows (keyed by position), is kept as this process's entries and
  /// the runs of equal keys: where each starts (one per batch of a part).
  void set_row_order(const RowOrder& order) override {
    const std::int64_t m = X_.rows;
    keyed_ = order.part || !holds_all();
    run_keys_.clear();
    run_starts_.clear();
    run_ = order.run;  // > 1: the runs alone, mapped to positions by cut_runs
    if (run_ > 1 && (!takes_runs() || order.part))
      throw InvalidArgument("set_row_order: an order in runs this backend does not take");
    run_count_ = run_ > 1 ? order.count : 0;
    if (!keyed_) {
      if (order.lent) {
        order_ = IndexVector();  // a copy of an earlier order is not needed any more
        rows_ = order.rows;
      } else {
        copy_order(order.rows, run_ > 1 ? order.count : total_, 0);
      }
      return;
    }
    if (!order.part) {
      order_.clear();
      for (std::int64_t p = 0; p < total_; ++p) {
        const std::int64_t local = order.rows[p] - first_;
        if (local < 0 || local >= m) continue;
        run_keys_.push_back(p);
        run_starts_.push_back(static_cast<std::int64_t>(order_.size()));
        order_.push_back(local);
      }
    } else {
      if (order.count > m) {
        throw InvalidArgument("set_row_order: " + std::to_string(order.count) + " entries for a process of " +
                              std::to_string(m) + " rows");
      }
      copy_order(order.rows, order.count, first_);
      for (std::int64_t k = 0; k < order.count; ++k) {
        if (k > 0 && order.keys[k] == order.keys[k - 1]) continue;
        run_keys_.push_back(order.keys[k]);
        run_starts_.push_back(k);
      }
    }
    run_starts_.push_back(static_cast<std::int64_t>(order_.size()));
    rows_ = order_.data();
  }

  void compute(std::int64_t begin, std::int64_t end, bool ordered) override {
    const bool weighted = weights_.data != nullptr;
    // grad_w, sse, sum_r (and sum_w when weighted), written by the kernels; then the
    // group's row count, so that a Reduction across processes also totals the rows.
    const std::size_t width = static_cast<std::size_t>(X_.cols) + (weighted ? 4 : 3);
    local_groups(begin, end, ordered);
    const auto count = static_cast<std::int64_t>(groups_.size());
    partials_.resize(groups_.size() * width);
    std::int64_t rows_in_groups = 0;
    for (const RowGroup& g : groups_) rows_in_groups += g.hi - g.lo;

    const Params p{w_.data(), b_};
    auto run_group = [&](std::int64_t g) {
      const RowGroup& group = groups_[static_cast<std::size_t>(g)];
      double* out = partials_.data() + static_cast<std::size_t>(g) * width;
      std::fill(out, out + width, 0.0);
      if (weighted) {
        weighted_kernel_(X_, y_, weights_, p, group.rows, group.lo, group.hi, out);
      } else {
        kernel_(X_, y_, p, group.rows, group.lo, group.hi, out);
      }
      out[width - 1] = static_cast<double>(group.hi - group.lo);
    };
    // A shuffled batch holds a few rows of each shard: the kernels' own look-ahead stops at
    // the end of a group, so here a cursor asks for rows kLookAhead ahead across groups.
    const bool gathered = ordered && rows_in_groups <= kSmallGroup * count;
    auto run_groups = [&](std::int64_t first, std::int64_t last) {
      if (!gathered) {
        for (std::int64_t g = first; g < last; ++g) run_group(g);
        return;
      }
      // (In the loop itself: GCC drops the prefetches of a helper it deems pure.)
      const std::int64_t x_size = dtype_size(X_.dtype), y_size = dtype_size(y_.dtype);
      const std::int64_t w_size = dtype_size(weights_.dtype), row_bytes = X_.cols * x_size;
      const bool row_major = X_.layout == Layout::row_major;
      const auto* x0 = static_cast<const char*>(X_.data);
      const auto* y0 = static_cast<const char*>(y_.data);
      const auto* w0 = static_cast<const char*>(weights_.data);
      std::int64_t cg = first, pos = last > first ? groups_[static_cast<std::size_t>(first)].lo : 0, pending = 0;
      for (std::int64_t g = first; g < last; ++g) {
        const std::int64_t size = groups_[static_cast<std::size_t>(g)].hi - groups_[static_cast<std::size_t>(g)].lo;
        while (pending < size + kLookAhead && cg < last) {
          const RowGroup& at = groups_[static_cast<std::size_t>(cg)];
          if (pos == at.hi) {
            if (++cg < last) pos = groups_[static_cast<std::size_t>(cg)].lo;
            continue;
          }
          const std::int64_t i = at.rows != nullptr ? at.rows[pos] : pos;
          ++pos;
          ++pending;
          if (row_major)
            for (std::int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(x0 + i * X_.stride * x_size + b);
          __builtin_prefetch(y0 + i * y_.stride * y_size);
          if (weighted) __builtin_prefetch(w0 + i * weights_.stride * w_size);
        }
        run_group(g);
        pending -= size;
      }
    };
    const int teams =
        count <= 1 || rows_in_groups * X_.cols < (gathered ? kParallelGathered : kParallelElements)
            ? 1
            : static_cast<int>(std::min<std::int64_t>(threads_, count));
    if (teams == 1) {
      // Small batches: no parallel region at all (its start-up costs more than the work).
      run_groups(0, count);
    } else {
      // Each thread a contiguous run of groups (a group's bits never depend on which).
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(static, 1) num_threads(teams)
#endif
      for (int t = 0; t < teams; ++t) run_groups(count * t / teams, count * (t + 1) / teams);
    }
    finish_pass(count, width, weighted);
  }

  /// One row of sums per shard (its groups summed in order by one thread), combined by the
  /// Reduction in shard order: at most 64 rows of gram_width(d), whatever the chunk count.
  void gram_sums(std::int64_t begin, std::int64_t end, bool ordered, const double* shift, double* totals) override {
    const std::size_t width = gram_width(X_.cols);
    local_groups(begin, end, ordered);
    const std::vector<std::size_t> runs = shard_runs(groups_);
    const auto shards = static_cast<std::int64_t>(runs.size()) - 1;
    std::vector<double> rows(static_cast<std::size_t>(shards) * width, 0.0);
    const GramChunkFn kernel = best_gram_chunk();
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_) if (shards > 1)
#endif
    for (std::int64_t s = 0; s < shards; ++s)
      shard_gram(kernel, groups_, runs, s, shift, rows.data() + static_cast<std::size_t>(s) * width);
    std::fill(totals, totals + width, 0.0);
    reduction_.combine(rows.data(), shards, width, totals);
  }

  /// In one process each batch is summed by one thread exactly as gram_sums() sums it (its
  /// shards' rows, then combined in shard order), the batches spread over the threads.
  void batch_gram_sums(std::int64_t begin, std::int64_t end, std::int64_t batch, bool ordered, const double* shift,
                       double* totals) override {
    if (&reduction_ != &local_reduction()) {  // across processes: every batch a collective
      Backend::batch_gram_sums(begin, end, batch, ordered, shift, totals);
      return;
    }
    const std::int64_t batches = end > begin ? (end - begin + batch - 1) / batch : 0;
    const std::size_t width = gram_width(X_.cols);
    const GramChunkFn kernel = best_gram_chunk();
    const std::int64_t x_size = dtype_size(X_.dtype), y_size = dtype_size(y_.dtype);
    const std::int64_t w_size = dtype_size(weights_.dtype), row_bytes = X_.cols * x_size;
    const auto* x0 = static_cast<const char*>(X_.data);
    const auto* y0 = static_cast<const char*>(y_.data);
    const auto* w0 = static_cast<const char*>(weights_.data);
    const bool row_major = X_.layout == Layout::row_major;
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel num_threads(threads_) if (batches > 1)
#endif
    {
      std::vector<RowGroup> groups;
      std::vector<std::int64_t> scratch;
      std::vector<double> rows;
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
      for (std::int64_t k = 0; k < batches; ++k) {
        const std::int64_t lo = begin + k * batch;
        groups.clear();
        groups_of(lo, std::min(end, lo + batch), ordered, scratch, groups);
        // A shuffled batch is a cache miss a row: ask for all of its rows first, so that
        // their misses overlap.  (In the loop itself: GCC drops the prefetches of a helper
        // it deems pure.)
        for (const RowGroup& g : groups)
          for (std::int64_t p = g.lo; ordered && p < g.hi; ++p) {
            const std::int64_t i = g.rows != nullptr ? g.rows[p] : p;
            if (row_major)
              for (std::int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(x0 + i * X_.stride * x_size + b);
            __builtin_prefetch(y0 + i * y_.stride * y_size);
            if (w0 != nullptr) __builtin_prefetch(w0 + i * weights_.stride * w_size);
          }
        const std::vector<std::size_t> runs = shard_runs(groups);
        const auto shards = static_cast<std::int64_t>(runs.size()) - 1;
        rows.assign(static_cast<std::size_t>(shards) * width, 0.0);
        for (std::int64_t s = 0; s < shards; ++s)
          shard_gram(kernel, groups, runs, s, shift, rows.data() + static_cast<std::size_t>(s) * width);
        double* out = totals + static_cast<std::size_t>(k) * width;
        std::fill(out, out + width, 0.0);
        local_reduction().combine(rows.data(), shards, width, out);
      }
    }
  }

 private:
  // Passes of fewer elements run on one thread.  A gathered pass (a shuffled batch: a cache
  // miss a row) splits sooner: two threads keep twice the misses in flight, which outweighs
  // the parallel region's start from ~512 rows of 4 features (B = 1024 at 4e7 x 4 float32 on
  // the 2-core VM: 1.27 s -> 0.91 s an epoch; 1e6 x 4: 26 -> 19 ms).
  static constexpr std::int64_t kParallelElements = 16384;
  static constexpr std::int64_t kParallelGathered = 2048;

  // Rows asked for ahead of the one being summed, in a pass over gathered rows whose groups
  // hold at most kSmallGroup rows on average.
  static constexpr std::int64_t kLookAhead = 16;
  static constexpr std::int64_t kSmallGroup = 64;

  /// The groups of this process's rows among positions [begin, end) of the pass: chunks of
  /// rows [begin, end) of the fit in the natural order, else shards of the row order
  /// (backend/chunk_plan.hpp).
  void local_groups(std::int64_t begin, std::int64_t end, bool ordered) {
    groups_.clear();
    groups_of(begin, end, ordered, scratch_, groups_);
  }
  void groups_of(std::int64_t begin, std::int64_t end, bool ordered, std::vector<std::int64_t>& scratch,
                 std::vector<RowGroup>& groups) const {
    const std::int64_t m = X_.rows;
    if (ordered && run_ > 1) {
      cut_runs(begin, end, scratch, groups);
    } else if (ordered) {
      if (keyed_) {  // this process's entries: those keyed in [begin, end)
        auto entry = [&](std::int64_t p) {
          const auto run = std::lower_bound(run_keys_.begin(), run_keys_.end(), p) - run_keys_.begin();
          return run_starts_[static_cast<std::size_t>(run)];
        };
        begin = entry(begin);
        end = entry(end);
      }
      cut_into_shards(rows_, begin, end, first_, m, total_, plan_.rows_per_shard, scratch, groups);
    } else {
      cut_into_chunks(std::clamp<std::int64_t>(begin - first_, 0, m), std::clamp<std::int64_t>(end - first_, 0, m),
                      first_, plan_.chunk.rows_per_chunk, groups);
    }
  }

  /// Positions [begin, end) of an order in runs: the groups cut_into_shards makes of the
  /// same order written out, one per shard in shard order (a batch's runs ascend), but a
  /// shard's rows that are one range stay a range (rows null); others are listed in
  /// \p scratch.
  void cut_runs(std::int64_t begin, std::int64_t end, std::vector<std::int64_t>& scratch,
                std::vector<RowGroup>& groups) const {
    scratch.clear();
    const std::int64_t per_shard = plan_.rows_per_shard, ranged = run_count_ * run_;
    std::vector<std::size_t> listed;  // groups in scratch (its storage may move)
    std::int64_t shard = -1;          // of groups.back(), when it is this pass's
    const std::size_t first_group = groups.size();
    auto add = [&](std::int64_t lo, std::int64_t hi) {  // rows [lo, hi) of one shard
      const bool same = groups.size() > first_group && lo / per_shard == shard;
      const bool is_listed = !listed.empty() && listed.back() == groups.size() - 1;
      if (same && !is_listed && groups.back().hi == lo) {
        groups.back().hi = hi;
        return;
      }
      if (same) {
        RowGroup& g = groups.back();
        if (!is_listed) {  // the range so far, listed
          const auto at = static_cast<std::int64_t>(scratch.size());
          for (std::int64_t r = g.lo; r < g.hi; ++r) scratch.push_back(r);
          g = {nullptr, at, static_cast<std::int64_t>(scratch.size())};
          listed.push_back(groups.size() - 1);
        }
        for (std::int64_t r = lo; r < hi; ++r) scratch.push_back(r);
        g.hi = static_cast<std::int64_t>(scratch.size());
        return;
      }
      groups.push_back({nullptr, lo, hi});
      shard = lo / per_shard;
    };
    for (std::int64_t p = begin; p < end;) {
      const bool in_run = p < ranged;
      const std::int64_t row = in_run ? rows_[p / run_] * run_ + p % run_ : p;
      const std::int64_t len = in_run ? std::min(run_ - p % run_, end - p) : end - p;
      for (std::int64_t lo = row; lo < row + len;) {
        const std::int64_t hi = std::min(row + len, (lo / per_shard + 1) * per_shard);
        add(lo, hi);
        lo = hi;
      }
      p += len;
    }
    for (const std::size_t g : listed) groups[g].rows = scratch.data();
  }

  /// runs[s]..runs[s + 1]: the groups of the s-th shard among \p groups (a last entry closes).
  std::vector<std::size_t> shard_runs(const std::vector<RowGroup>& groups) const {
    std::vector<std::size_t> runs;
    std::int64_t last_shard = -1;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const std::int64_t row = groups[g].rows != nullptr ? groups[g].rows[groups[g].lo] : groups[g].lo;
      const std::int64_t shard = (row + first_) / plan_.rows_per_shard;
      if (shard != last_shard) runs.push_back(g);
      last_shard = shard;
    }
    runs.push_back(groups.size());
    return runs;
  }

  /// The Gram sums of the s-th shard's groups into \p out (zeroed by the caller).
  void shard_gram(GramChunkFn kernel, const std::vector<RowGroup>& groups, const std::vector<std::size_t>& runs,
                  std::int64_t s, const double* shift, double* out) const {
    for (std::size_t g = runs[static_cast<std::size_t>(s)]; g < runs[static_cast<std::size_t>(s) + 1]; ++g)
      kernel(X_, y_, weights_, shift, groups[g].rows, groups[g].lo, groups[g].hi, out);
  }

  /// The groups' partials combined in chunk order (backend/reduction.hpp), then divided
  /// by the total weight, or the total row count unweighted.
  void finish_pass(std::int64_t count, std::size_t width, bool weighted) {
    const std::size_t d = gw_.size();
    totals_.assign(width, 0.0);
    reduction_.combine(partials_.data(), count, width, totals_.data());
    std::copy(totals_.begin(), totals_.begin() + static_cast<std::ptrdiff_t>(d), gw_.begin());
    const double sse = totals_[d], sum_r = totals_[d + 1], sum_w = weighted ? totals_[d + 2] : 0.0;
    // The weights' total plays the row count's part; with unit weights it is the row count,
    // exact (integers below 2^53).
    const double total = weighted ? sum_w : totals_[width - 1];
    if (total == 0.0) {
      // No rows, or every weight in the batch zero: no data, so no loss and no step.
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

  MatrixView X_;
  VectorView y_;
  VectorView weights_;  // data == nullptr: unweighted
  int threads_;
  std::int64_t first_;  // local row 0 is row first_ of the fit
  std::int64_t total_;  // rows of the fit, over every process
  DataPlan plan_;       // chunks and shards of the fit's rows
  Reduction& reduction_;
  /// Whether this process holds every row of the fit (one process, or all on one rank).
  bool holds_all() const noexcept { return first_ == 0 && total_ == X_.rows; }

  std::int64_t run_ = 1, run_count_ = 0;  // an order in runs (RowOrder::run): its run length and runs
  IndexVector order_;                   // a copy of the order, when it was not lent
  const std::int64_t* rows_ = nullptr;  // the order in use: order_, or the lent rows
  /// order_[k] = rows[k] - first for k < count, on every thread (first touch included).
  void copy_order(const std::int64_t* rows, std::int64_t count, std::int64_t first) {
    order_.resize(static_cast<std::size_t>(count));  // uninitialised: first touched below
    std::int64_t* out = order_.data();
#if defined(STEEPEST_HAVE_OPENMP)
#pragma omp parallel for schedule(static) num_threads(threads_) if (count >= kParallelElements)
#endif
    for (std::int64_t k = 0; k < count; ++k) out[k] = rows[k] - first;
    rows_ = out;
  }

  // keyed_: order_ holds this process's entries only; run r of equal keys (a batch of a part,
  // or one entry's position) starts at entry run_starts_[r] (a last entry closes).
  bool keyed_ = false;
  std::vector<std::int64_t> run_keys_, run_starts_;
  std::vector<RowGroup> groups_;  // of the current pass, chunk (shard) order
  std::vector<std::int64_t> scratch_;  // local rows of shards this process holds in part
  std::vector<double> partials_;  // groups x width, chunk order
  std::vector<double> totals_;    // width
  FusedChunkFn kernel_ = best_fused_chunk();
  WeightedChunkFn weighted_kernel_ = best_weighted_chunk();
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const MatrixView& X, const VectorView& y,
                                          const VectorView& weights, std::int32_t threads,
                                          const RowShare& share) {
  return std::make_unique<CpuBackend>(X, y, weights, threads, share);
}

std::unique_ptr<Backend> make_cpu_backend(const MatrixView& X, const VectorView& y,
                                          std::int32_t threads) {
  return make_cpu_backend(X, y, VectorView{}, threads);
}

}  // namespace steepest::detail
