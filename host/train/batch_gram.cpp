#include "train/batch_gram.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/gram.hpp"
#include "backend/host_state.hpp"
#include "train/affine_epoch.hpp"

namespace steepest::detail {
namespace {

class BatchGramBackend final : public HostStateBackend {
 public:
  BatchGramBackend(Backend& data, std::int64_t n_train, std::int64_t batch, std::vector<double> shift,
                   GramMoments train, GramMoments heldout, GramMoments all, std::int64_t window_bytes, std::int64_t run,
                   std::vector<double> run_sums)
      : HostStateBackend(data.cols()), data_(data), n_(data.rows()), d_(data.cols()), n_train_(n_train), batch_(batch),
        batches_((n_train + batch - 1) / batch), width_(static_cast<std::int64_t>(gram_width(data.cols()))),
        window_(std::clamp<std::int64_t>(window_bytes / (width_ * 8), 1, std::max<std::int64_t>(batches_, 1))),
        run_(run), shift_(std::move(shift)), train_(std::move(train)), heldout_(std::move(heldout)),
        all_(std::move(all)) {
    if (run > 1 && (batch % run != 0 || !run_sums_fit(n_train, d_, run, window_bytes)))
      throw std::logic_error("batch Gram backend: runs of " + std::to_string(run) + " rows do not make batches of " +
                             std::to_string(batch) + " or their sums do not fit");
    if (run <= 1) return;
    run_sums_ = run_sums.empty() ? run_gram_sums(data, n_train, run, shift_.data()) : std::move(run_sums);
    if (static_cast<std::int64_t>(run_sums_.size()) != (n_train / run + 1) * width_)
      throw std::logic_error("batch Gram backend: " + std::to_string(run_sums_.size()) + " values of run sums for " +
                             std::to_string(n_train / run) + " runs and the rows after them");
  }

  const char* name() const noexcept override { return data_.name(); }
  std::string device_name() const override { return data_.device_name(); }
  std::int64_t rows() const noexcept override { return n_; }
  std::int64_t cols() const noexcept override { return d_; }
  void reserve_row_order() override { data_.reserve_row_order(); }
  bool takes_runs() const noexcept override { return run_ > 1 || data_.takes_runs(); }
  void set_row_order(const RowOrder& order) override {
    runs_ = nullptr;
    if (run_ > 1 && order.run == run_) {  // the batches' sums from the runs' (kept)
      take_runs(order);
      return;
    }
    if (order.run > 1 && !data_.takes_runs())
      throw std::logic_error("batch Gram backend: an order in runs of " + std::to_string(order.run) +
                             " rows, neither its own (" + std::to_string(run_) + ") nor its data backend's");
    data_.set_row_order(order);
    count_ = 0;  // the sums kept were of the old order's batches
  }

  void compute(std::int64_t begin, std::int64_t end, bool ordered) override {
    const GramMoments& g = moments_of(begin, end, ordered);
    loss_ = gram_loss_gradient(g, w_.data(), b_, gw_.data(), &gb_, scratch_);
    running_sse_ += loss_ * g.weight;
    running_rows_ += g.weight;
  }
  void gram_sums(std::int64_t, std::int64_t, bool, const double*, double*) override {
    throw std::logic_error("batch Gram backend: the sums are made by the data backend");
  }

  /// run_affine_epoch(): the epoch's map, composed from every batch's sums (kept while the
  /// sums and the rule stay the same), applied to the parameters and the velocity.
  bool affine_epoch(const StepRule& rule, bool ordered) {
    if (!affine_rule(rule) || batches_ > window_) return false;
    if (count_ < batches_ || first_ != 0 || ordered != ordered_) sum_window(0, ordered);
    const bool same_rule = map_rule_.optimizer == rule.optimizer && map_rule_.lr == rule.lr &&
                           map_rule_.momentum == rule.momentum && map_rule_.l2 == rule.l2 &&
                           map_rule_.update_bias == rule.update_bias;
    if (map_sums_ != sums_made_ || !same_rule) {
      map_ = epoch_map(
          batches_,
          [&](std::int64_t k, AffineMap& out) {
            GramMoments g;
            gram_moments(sums_.data() + k * width_, shift_.data(), d_, g);
            step_map(g, shift_.data(), rule, out);
          },
          0);
      map_rule_ = rule;
      map_sums_ = sums_made_;
    }
    apply_map(map_, shift_.data(), w_, b_, s1_);
    return true;
  }

 private:
  /// The moments of the training, held-out or all rows, or of the batch at \p begin (its
  /// window of batches summed first when not kept).
  const GramMoments& moments_of(std::int64_t begin, std::int64_t end, bool ordered) {
    if (begin == 0 && end == n_train_) return train_;
    if (begin == n_train_ && end == n_) return heldout_;
    if (begin == 0 && end == n_) return all_;
    const std::int64_t k = begin / batch_;
    if (begin % batch_ != 0 || begin >= n_train_ || end != std::min(n_train_, begin + batch_))
      throw std::logic_error("batch Gram backend: rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                             ") are not a batch of " + std::to_string(batch_));
    if (runs_ != nullptr && ordered) {
      gram_moments(batch_sums_of_runs(k), shift_.data(), d_, batch_moments_);
      return batch_moments_;
    }
    if (count_ == 0 || ordered != ordered_ || k < first_ || k >= first_ + count_) sum_window(k, ordered);
    gram_moments(sums_.data() + (k - first_) * width_, shift_.data(), d_, batch_moments_);
    return batch_moments_;
  }

  /// The sums of batches k, k + 1, ... (window_ of them, or to the last).
  void sum_window(std::int64_t k, bool ordered) {
    const std::int64_t count = std::min(window_, batches_ - k);
    sums_.resize(static_cast<std::size_t>(count * width_));
    data_.batch_gram_sums(k * batch_, std::min(n_train_, (k + count) * batch_), batch_, ordered, shift_.data(),
                          sums_.data());
    first_ = k;
    count_ = count;
    ordered_ = ordered;
    ++sums_made_;
  }

  /// An order in runs of run_ rows: its run numbers, lent or copied (RowOrder::lent).
  void take_runs(const RowOrder& order) {
    if (order.part || order.count != n_train_ / run_)
      throw std::logic_error("batch Gram backend: an order of " + std::to_string(order.count) + " runs for " +
                             std::to_string(n_train_) + " rows in runs of " + std::to_string(run_));
    if (order.lent) {
      runs_ = order.rows;
    } else {
      run_copy_.assign(order.rows, order.rows + order.count);
      runs_ = run_copy_.data();
    }
  }

  /// Batch k's sums in an order in runs: the sums of its runs (those at positions k per ..,
  /// per = batch / run) added in position order, then those of the rows after the last
  /// whole run when it is the last batch (run_gram_sums' rows, kept since construction).
  const double* batch_sums_of_runs(std::int64_t k) {
    const std::int64_t runs = n_train_ / run_, per = batch_ / run_;
    const std::int64_t lo = std::min(runs, k * per), hi = std::min(runs, lo + per);
    const bool tail = k == batches_ - 1 && runs * run_ < n_train_;
    const double* tail_sums = run_sums_.data() + runs * width_;
    const double* first = lo < hi ? run_sums_.data() + runs_[lo] * width_ : tail_sums;
    if (hi - lo + (tail ? 1 : 0) == 1) return first;  // one run (or the tail alone): as kept
    batch_sums_.assign(first, first + width_);
    auto add = [&](const double* part) {
      for (std::int64_t j = 0; j < width_; ++j) batch_sums_[static_cast<std::size_t>(j)] += part[j];
    };
    for (std::int64_t p = lo + 1; p < hi; ++p) add(run_sums_.data() + runs_[p] * width_);
    if (tail && lo < hi) add(tail_sums);
    return batch_sums_.data();
  }

  Backend& data_;
  std::int64_t n_, d_, n_train_, batch_, batches_, width_, window_, run_;
  std::vector<double> shift_;
  GramMoments train_, heldout_, all_, batch_moments_;
  std::vector<double> sums_;  // count_ rows of Gram sums: batches first_, first_ + 1, ...
  std::int64_t first_ = 0, count_ = 0;
  bool ordered_ = false;
  std::vector<double> scratch_;
  std::int64_t sums_made_ = 0, map_sums_ = -1;  // windows summed so far; the one map_ is of
  AffineMap map_;
  StepRule map_rule_;
  const std::int64_t* runs_ = nullptr;  // the epoch's run numbers (an order in runs), or null
  std::vector<std::int64_t> run_copy_;  // ... when not lent
  std::vector<double> run_sums_, batch_sums_;  // run_gram_sums' rows; a batch's sums
};

}  // namespace

bool run_sums_fit(std::int64_t n_train, std::int64_t d, std::int64_t run, std::int64_t budget) noexcept {
  return run > 1 && (n_train / run + 1) * static_cast<std::int64_t>(gram_width(d)) * 8 <= budget;
}

std::vector<double> run_gram_sums(Backend& data, std::int64_t n_train, std::int64_t run, const double* shift) {
  const std::int64_t runs = n_train / run, width = static_cast<std::int64_t>(gram_width(data.cols()));
  std::vector<double> sums(static_cast<std::size_t>((runs + 1) * width), 0.0);
  data.batch_gram_sums(0, runs * run, run, false, shift, sums.data());
  if (runs * run < n_train) data.gram_sums(runs * run, n_train, false, shift, sums.data() + runs * width);
  return sums;
}

void pairwise_total(const double* parts, std::int64_t count, std::size_t width, double* total) {
  std::fill(total, total + width, 0.0);
  if (count <= 8) {
    for (std::int64_t c = 0; c < count; ++c)
      for (std::size_t k = 0; k < width; ++k) total[k] += parts[static_cast<std::size_t>(c) * width + k];
    return;
  }
  const std::int64_t half = count / 2;
  std::vector<double> right(width);
  pairwise_total(parts, half, width, total);
  pairwise_total(parts + static_cast<std::size_t>(half) * width, count - half, width, right.data());
  for (std::size_t k = 0; k < width; ++k) total[k] += right[k];
}

bool run_affine_epoch(Backend& backend, const StepRule& rule, bool ordered) {
  auto* batches = dynamic_cast<BatchGramBackend*>(&backend);
  return batches != nullptr && batches->affine_epoch(rule, ordered);
}

std::unique_ptr<Backend> make_batch_gram_backend(Backend& data, std::int64_t n_train, std::int64_t batch,
                                                 std::vector<double> shift, GramMoments train, GramMoments heldout,
                                                 GramMoments all, std::int64_t window_bytes, std::int64_t run,
                                                 std::vector<double> run_sums) {
  return std::make_unique<BatchGramBackend>(data, n_train, batch, std::move(shift), std::move(train),
                                            std::move(heldout), std::move(all), window_bytes, run, std::move(run_sums));
}

}  // namespace steepest::detail
