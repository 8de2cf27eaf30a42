// The public entry points that run passes: fit() (arguments checked, then the trainer, on
// standardised features when asked) and evaluate() (one pass at given parameters).
#include <string>
#include <vector>

#include "api/validate.hpp"
#include "backend/select.hpp"
#include "steepest/error.hpp"
#include "steepest/fit.hpp"
#include "train/standardize.hpp"
#include "train/trainer.hpp"

namespace steepest {

FitResult fit(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
              const FitOptions& opt) {
  detail::Team team(opt.communicator, opt.stop_requested);
  detail::validate_on_team(X, y, sample_weight, &opt, team);
  return opt.standardize ? detail::fit_standardized(X, y, sample_weight, opt, team)
                         : detail::fit_unscaled(X, y, sample_weight, opt, team);
}

FitResult fit(const MatrixView& X, const VectorView& y, const FitOptions& opt) {
  return fit(X, y, VectorView{}, opt);
}

Evaluation evaluate(const MatrixView& X, const VectorView& y, const std::vector<double>& weights,
                    double bias, const EvaluateOptions& options) {
  return evaluate(X, y, VectorView{}, weights, bias, options);
}

Evaluation evaluate(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                    const std::vector<double>& weights, double bias, const EvaluateOptions& options) {
  detail::Team team(options.communicator);
  detail::validate_on_team(X, y, sample_weight, nullptr, team);
  detail::validate_threads(options.threads, "evaluate");
  if (options.device != Device::automatic && options.device != Device::cpu && options.device != Device::cuda)
    throw InvalidArgument("evaluate: unknown device");
  if (static_cast<std::int64_t>(weights.size()) != X.cols)
    throw InvalidArgument("evaluate: " + std::to_string(weights.size()) + " weights given for " +
                          std::to_string(X.cols) + " feature columns");
  const detail::RowShare share = team.alone() ? detail::RowShare{} : team.share(X.rows);
  auto selected =
      detail::select_backend_agreed(team, options.device, X, y, sample_weight, options.threads, /*ordered=*/false,
                                    share, detail::cuda_device_for(-1, options.device, team));
  detail::Backend& be = *selected.backend;
  be.set_parameters(weights.data(), bias);
  be.compute(0, be.rows(), /*ordered=*/false);
  Evaluation ev;
  ev.mse = be.loss();
  ev.grad_weights.resize(weights.size());
  be.gradient(ev.grad_weights.data(), &ev.grad_bias);
  ev.backend = be.name();
  return ev;
}

}  // namespace steepest
