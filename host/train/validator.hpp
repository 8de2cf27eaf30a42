// Internal: runs the CPU reference beside another backend (FitOptions::validate_every) and
// records how far the two disagree; see ValidationReport for the measure and its bound.
#pragma once

#include <memory>
#include <vector>

#include "backend/backend.hpp"
#include "backend/team.hpp"
#include "steepest/options.hpp"
#include "steepest/result.hpp"

namespace steepest::detail {

class Validator {
 public:
  /// Inactive (no checks) when validation is off or \p primary is the CPU backend itself.
  /// \p weights: the sample weights \p primary was built with (none by default); the
  /// reference gets the same, and the gradient scale becomes its weighted form (check()).
  /// Across processes, \p share and \p team: the reference holds this process's rows of
  /// the fit, and its passes and scales cover every process's.
  Validator(const MatrixView& X, const VectorView& y, const FitOptions& options,
            const Backend& primary, const VectorView& weights = VectorView{}, const RowShare& share = {},
            const Team* team = nullptr);

  /// Whether epoch \p epoch (0 = the initial parameters) is due for a check.
  bool due(std::int64_t epoch) const noexcept {
    return reference_ != nullptr && epoch % every_ == 0;
  }

  /// Evaluate both backends over all rows at \p primary's current parameters and record
  /// the deviations.  Leaves \p primary's last compute as that full pass.
  void check(Backend& primary);

  const ValidationReport& report() const noexcept { return report_; }

 private:
  std::unique_ptr<Backend> reference_;
  std::int64_t every_ = 0;
  std::vector<double> column_norms_;  // ||x_k||_2 (weighted: sqrt(sum w_i x_ik^2)), once
  double total_weight_ = 0.0;         // n, or sum w_i over all rows
  std::vector<double> w_, g_, g_ref_;
  ValidationReport report_;
};

}  // namespace steepest::detail
