// model.json: what `fit` writes and `predict` / `evaluate` read.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/csv.hpp"
#include "steepest/steepest.hpp"

namespace steepest::cli {

/// The parts of a model file that predict and evaluate need.
struct Model {
  std::vector<double> weights;
  double bias = 0.0;
  std::vector<std::string> feature_names;  ///< may be empty
  std::string target;                      ///< may be empty
  /// The columns of the file it was fitted on ("columns"); unset in files written before
  /// it was recorded, and for --x/--y fits.
  std::optional<io::ColumnLayout> columns;
};

/// What fit() ran with, recorded beside the result.
struct ModelContext {
  const FitOptions* options = nullptr;
  std::string history_mode;
  std::string schedule;
  std::vector<std::string> feature_names;
  std::string target;
  std::string data;
  std::string sample_weight;  ///< the weight column or file; empty when unweighted
  std::optional<io::ColumnLayout> columns = std::nullopt;  ///< Loaded::columns
  int ranks = 1;  ///< MPI ranks the fit ran on
};

/// The model file text (JSON): weights, bias, epochs_run, stop_reason, final_mse,
/// loss_history, backend, and the context.  Names and paths that are not valid UTF-8 are
/// written with \xNN for each invalid byte (io::utf8_safe).
std::string model_json(const FitResult& r, const ModelContext& ctx);

/// Read and check a model file; InvalidArgument names the file and the bad key (wrong
/// types, non-finite numbers, column records that do not fit the weights).
Model read_model(const std::string& path);

}  // namespace steepest::cli
