// Internal: the part of a backend that lives on the host: parameters, the gradient and loss
// of the last compute(), the running sums and the optimizer state, with the Backend calls
// that only read or write them.  The CPU backend and the Gram backend derive from it; a
// derived compute() writes gw_, gb_, loss_ and adds to the running sums.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"

namespace steepest::detail {

class HostStateBackend : public Backend {
 public:
  explicit HostStateBackend(std::int64_t d)
      : w_(static_cast<std::size_t>(d), 0.0), gw_(w_.size(), 0.0), s1_(w_.size() + 1, 0.0), s2_(w_.size() + 1, 0.0) {}

  void set_parameters(const double* w, double b) override {
    std::copy(w, w + w_.size(), w_.begin());
    b_ = b;
  }
  void get_parameters(double* w, double* b) override {
    std::copy(w_.begin(), w_.end(), w);
    *b = b_;
  }
  /// apply_step_rule per coordinate (host/train/step_rule.hpp); the bias when rule.update_bias.
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

 protected:
  std::vector<double> w_;
  double b_ = 0.0;
  std::vector<double> gw_;
  double gb_ = 0.0;
  double loss_ = 0.0;
  double running_sse_ = 0.0;
  double running_rows_ = 0.0;  // rows, or the weights' total: exact for integer counts < 2^53
  std::vector<double> s1_, s2_;  // optimizer state, w then b
};

}  // namespace steepest::detail
