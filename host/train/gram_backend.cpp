#include "train/gram_backend.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "backend/gram.hpp"
#include "backend/host_state.hpp"

namespace steepest::detail {

GramMoments gram_moments(const double* sums, const double* shift, std::int64_t d) {
  GramMoments g;
  gram_moments(sums, shift, d, g);
  return g;
}

void gram_moments(const double* sums, const double* shift, std::int64_t d, GramMoments& g) {
  const auto m = static_cast<std::size_t>(d + 1);
  g.weight = sums[gram_weight(d)];
  if (g.weight == 0.0) {  // no rows, or zero weights: nothing to fit, loss 0
    g.mean.assign(m, 0.0);
    g.C.assign(m * m, 0.0);
    return;
  }
  g.mean.resize(m);  // every entry is written below (a batch's moments are made each step)
  g.C.resize(m * m);
  const double* s1 = sums + gram_s1(d);
  for (std::size_t k = 0; k < m; ++k) g.mean[k] = s1[k] / g.weight;  // the mean of z, for now
  const double* s2 = sums;  // the packed triangle, row by row: entry (j, k) at gram_index
  for (std::size_t j = 0; j < m; ++j)
    for (std::size_t k = j; k < m; ++k) {
      // C_jk = S2_jk - S1_j S1_k / W, formed as S2_jk - S1_j mean_k.
      const double c = *s2++ - s1[j] * g.mean[k];
      g.C[j * m + k] = c;
      g.C[k * m + j] = c;
    }
  for (std::size_t k = 0; k < m; ++k) g.mean[k] += shift[k];
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

class GramBackend final : public HostStateBackend {
 public:
  GramBackend(const Backend& data, std::int64_t n_train, GramMoments train, GramMoments heldout, GramMoments all)
      : HostStateBackend(data.cols()), name_(data.name()), device_(data.device_name()), n_(data.rows()), d_(data.cols()), n_train_(n_train),
        train_(std::move(train)), heldout_(std::move(heldout)), all_(std::move(all)) {}

  const char* name() const noexcept override { return name_; }
  std::string device_name() const override { return device_; }
  std::int64_t rows() const noexcept override { return n_; }
  std::int64_t cols() const noexcept override { return d_; }
  void reserve_row_order() override {}
  void set_row_order(const RowOrder&) override {}

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

 private:
  const char* name_;
  std::string device_;
  std::int64_t n_, d_, n_train_;
  GramMoments train_, heldout_, all_;
  std::vector<double> scratch_;
};

}  // namespace

std::unique_ptr<Backend> make_gram_backend(const Backend& data, std::int64_t n_train, GramMoments train,
                                           GramMoments heldout, GramMoments all) {
  return std::make_unique<GramBackend>(data, n_train, std::move(train), std::move(heldout), std::move(all));
}

}  // namespace steepest::detail
