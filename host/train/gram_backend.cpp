#include "train/gram_backend.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "backend/gram.hpp"

namespace steepest::detail {

GramMoments gram_moments(const double* sums, const double* shift, std::int64_t d) {
  const auto m = static_cast<std::size_t>(d + 1);
  GramMoments g;
  g.weight = sums[gram_weight(d)];
  g.mean.assign(m, 0.0);
  g.C.assign(m * m, 0.0);
  if (g.weight == 0.0) return g;  // no rows, or zero weights: nothing to fit, loss 0
  const double* s1 = sums + gram_s1(d);
  std::vector<double> mean_z(m);
  for (std::size_t k = 0; k < m; ++k) {
    mean_z[k] = s1[k] / g.weight;
    g.mean[k] = shift[k] + mean_z[k];
  }
  for (std::size_t j = 0; j < m; ++j)
    for (std::size_t k = j; k < m; ++k) {
      // C_jk = S2_jk - S1_j S1_k / W, formed as S2_jk - S1_j mean_k.
      const double c = sums[gram_index(d, static_cast<std::int64_t>(j), static_cast<std::int64_t>(k))] - s1[j] * mean_z[k];
      g.C[j * m + k] = c;
      g.C[k * m + j] = c;
    }
  return g;
}

double gram_loss_gradient(const GramMoments& g, const double* w, double b, double* gw, double* gb,
                          std::vector<double>& scratch) {
  const std::size_t m = g.mean.size(), d = m - 1;
  if (g.weight == 0.0) {
    std::fill(gw, gw + d, 0.0);
    *gb = 0.0;
    return 0.0;
  }
  using Wide = long double;
  Wide rbar = static_cast<Wide>(b) - g.mean[d];
  for (std::size_t k = 0; k < d; ++k) rbar += static_cast<Wide>(g.mean[k]) * w[k];
  scratch.resize(m);
  Wide aca = 0.0;
  for (std::size_t j = 0; j < m; ++j) {
    const double* row = g.C.data() + j * m;
    Wide v = -static_cast<Wide>(row[d]);
    for (std::size_t k = 0; k < d; ++k) v += static_cast<Wide>(row[k]) * w[k];
    scratch[j] = static_cast<double>(v);
    aca += (j < d ? static_cast<Wide>(w[j]) : -1.0L) * v;
  }
  const double inv_w = 1.0 / g.weight;
  const auto r = static_cast<double>(rbar);
  for (std::size_t k = 0; k < d; ++k) gw[k] = 2.0 * inv_w * scratch[k] + 2.0 * r * g.mean[k];
  *gb = 2.0 * r;
  const double mse = static_cast<double>(aca / g.weight + rbar * rbar);
  return mse < 0.0 ? 0.0 : mse;  // (not max(): NaN must stay NaN)
}

namespace {

class GramBackend final : public Backend {
 public:
  GramBackend(const Backend& data, std::int64_t n_train, GramMoments train, GramMoments heldout, GramMoments all)
      : name_(data.name()), device_(data.device_name()), n_(data.rows()), d_(data.cols()), n_train_(n_train),
        train_(std::move(train)), heldout_(std::move(heldout)), all_(std::move(all)),
        w_(static_cast<std::size_t>(d_), 0.0), gw_(w_.size(), 0.0), s1_(w_.size() + 1, 0.0), s2_(w_.size() + 1, 0.0) {}

  const char* name() const noexcept override { return name_; }
  std::string device_name() const override { return device_; }
  std::int64_t rows() const noexcept override { return n_; }
  std::int64_t cols() const noexcept override { return d_; }
  void set_parameters(const double* w, double b) override {
    std::copy(w, w + d_, w_.begin());
    b_ = b;
  }
  void get_parameters(double* w, double* b) override {
    std::copy(w_.begin(), w_.end(), w);
    *b = b_;
  }
  void reserve_row_order() override {}
  void set_row_order(const std::int64_t*) override {}

  void compute(std::int64_t begin, std::int64_t end, bool) override {
    const GramMoments* g = begin == 0 && end == n_train_ ? &train_
                           : begin == n_train_ && end == n_ ? &heldout_
                           : begin == 0 && end == n_  ? &all_
                                                      : nullptr;
    if (g == nullptr)
      throw std::logic_error("Gram backend: rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                             ") are not the training, held-out or all rows");
    loss_ = gram_loss_gradient(*g, w_.data(), b_, gw_.data(), &gb_, scratch_);
    running_sse_ += loss_ * g->weight;
    running_rows_ += g->weight;
  }
  void gram_sums(std::int64_t, std::int64_t, bool, const double*, double*) override {
    throw std::logic_error("Gram backend: the sums are made by the data backend");
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
  void reset_running_loss() override { running_sse_ = running_rows_ = 0.0; }
  double running_loss() override { return running_rows_ > 0.0 ? running_sse_ / running_rows_ : 0.0; }
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
  const char* name_;
  std::string device_;
  std::int64_t n_, d_, n_train_;
  GramMoments train_, heldout_, all_;
  std::vector<double> w_, gw_, s1_, s2_, scratch_;
  double b_ = 0.0, gb_ = 0.0, loss_ = 0.0, running_sse_ = 0.0, running_rows_ = 0.0;
};

}  // namespace

std::unique_ptr<Backend> make_gram_backend(const Backend& data, std::int64_t n_train, GramMoments train,
                                           GramMoments heldout, GramMoments all) {
  return std::make_unique<GramBackend>(data, n_train, std::move(train), std::move(heldout), std::move(all));
}

}  // namespace steepest::detail
