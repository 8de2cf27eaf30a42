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
                   GramMoments train, GramMoments heldout, GramMoments all, std::int64_t window_bytes)
      : HostStateBackend(data.cols()), data_(data), n_(data.rows()), d_(data.cols()), n_train_(n_train), batch_(batch),
        batches_((n_train + batch - 1) / batch), width_(static_cast<std::int64_t>(gram_width(data.cols()))),
        window_(std::clamp<std::int64_t>(window_bytes / (width_ * 8), 1, std::max<std::int64_t>(batches_, 1))),
        shift_(std::move(shift)), train_(std::move(train)), heldout_(std::move(heldout)), all_(std::move(all)) {}

  const char* name() const noexcept override { return data_.name(); }
  std::string device_name() const override { return data_.device_name(); }
  std::int64_t rows() const noexcept override { return n_; }
  std::int64_t cols() const noexcept override { return d_; }
  void reserve_row_order() override { data_.reserve_row_order(); }
  bool takes_runs() const noexcept override { return data_.takes_runs(); }
  void set_row_order(const RowOrder& order) override {
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

  Backend& data_;
  std::int64_t n_, d_, n_train_, batch_, batches_, width_, window_;
  std::vector<double> shift_;
  GramMoments train_, heldout_, all_, batch_moments_;
  std::vector<double> sums_;  // count_ rows of Gram sums: batches first_, first_ + 1, ...
  std::int64_t first_ = 0, count_ = 0;
  bool ordered_ = false;
  std::vector<double> scratch_;
  std::int64_t sums_made_ = 0, map_sums_ = -1;  // windows summed so far; the one map_ is of
  AffineMap map_;
  StepRule map_rule_;
};

}  // namespace

bool run_affine_epoch(Backend& backend, const StepRule& rule, bool ordered) {
  auto* batches = dynamic_cast<BatchGramBackend*>(&backend);
  return batches != nullptr && batches->affine_epoch(rule, ordered);
}

std::unique_ptr<Backend> make_batch_gram_backend(Backend& data, std::int64_t n_train, std::int64_t batch,
                                                 std::vector<double> shift, GramMoments train, GramMoments heldout,
                                                 GramMoments all, std::int64_t window_bytes) {
  return std::make_unique<BatchGramBackend>(data, n_train, batch, std::move(shift), std::move(train),
                                            std::move(heldout), std::move(all), window_bytes);
}

}  // namespace steepest::detail
