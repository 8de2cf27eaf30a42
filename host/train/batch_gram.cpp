#include "train/batch_gram.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/gram.hpp"
#include "backend/host_state.hpp"

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
  void set_row_order(const std::int64_t* order) override {
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
  }

  Backend& data_;
  std::int64_t n_, d_, n_train_, batch_, batches_, width_, window_;
  std::vector<double> shift_;
  GramMoments train_, heldout_, all_, batch_moments_;
  std::vector<double> sums_;  // count_ rows of Gram sums: batches first_, first_ + 1, ...
  std::int64_t first_ = 0, count_ = 0;
  bool ordered_ = false;
  std::vector<double> scratch_;
};

}  // namespace

std::unique_ptr<Backend> make_batch_gram_backend(Backend& data, std::int64_t n_train, std::int64_t batch,
                                                 std::vector<double> shift, GramMoments train, GramMoments heldout,
                                                 GramMoments all, std::int64_t window_bytes) {
  return std::make_unique<BatchGramBackend>(data, n_train, batch, std::move(shift), std::move(train),
                                            std::move(heldout), std::move(all), window_bytes);
}

}  // namespace steepest::detail
