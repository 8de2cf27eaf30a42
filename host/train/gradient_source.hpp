// Internal: the seam where a full-batch loss and gradient come from.
//
// A full-batch epoch is: step with the gradient of the last pass, then the held-out loss
// (when rows are held out), then the training loss, which also leaves the gradient of the
// next step in the backend.  The trainer asks a GradientSource for those two losses and
// never runs the full-batch passes itself.  Today the only source is ResidualPasses: one
// fused residual pass over the rows (Backend::compute).  Gram mode plugs in here: a source
// that forms G = [X 1]^T W [X 1] and c = [X 1]^T W y once and then gives the loss and
// gradient of any parameters in O(d^2), handing the gradient to the backend's step
// (docs/ARCHITECTURE.md, "Seams").  Mini-batch passes stay residual passes.
#pragma once

#include <cstdint>
#include <limits>

#include "backend/backend.hpp"

namespace steepest::detail {

class GradientSource {
 public:
  virtual ~GradientSource() = default;
  /// "residual", or the name of another source.
  virtual const char* name() const noexcept = 0;
  /// MSE over the training rows at the backend's current parameters; leaves its gradient
  /// where the next Backend::step reads it.
  virtual double training_loss() = 0;
  /// MSE over the held-out rows (NaN when none are held out); replaces the backend's
  /// gradient, so it runs before training_loss().
  virtual double heldout_loss() = 0;
};

/// Full-batch losses by fused residual passes: positions [0, n_train) of the row order for
/// the training rows and [n_train, n) for the held-out ones, or the natural order when
/// nothing is held out.
class ResidualPasses final : public GradientSource {
 public:
  ResidualPasses(Backend& be, std::int64_t n_train, bool held_out) noexcept
      : be_(be), n_train_(n_train), held_out_(held_out) {}
  const char* name() const noexcept override { return "residual"; }
  double training_loss() override {
    be_.compute(0, n_train_, held_out_);
    return be_.loss();
  }
  double heldout_loss() override {
    if (!held_out_) return std::numeric_limits<double>::quiet_NaN();
    be_.compute(n_train_, be_.rows(), true);
    return be_.loss();
  }

 private:
  Backend& be_;
  std::int64_t n_train_;
  bool held_out_;
};

}  // namespace steepest::detail
