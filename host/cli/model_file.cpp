#include "cli/model_file.hpp"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace steepest::cli {

namespace {

const char* optimizer_name(Optimizer o) {
  switch (o) {
    case Optimizer::momentum: return "momentum";
    case Optimizer::nesterov: return "nesterov";
    case Optimizer::adam: return "adam";
    case Optimizer::gd: break;
  }
  return "gd";
}

}  // namespace

std::string model_json(const FitResult& r, const ModelContext& ctx) {
  const FitOptions& o = *ctx.options;
  nlohmann::json j;
  j["format"] = "steepest-model";
  j["version"] = STEEPEST_VERSION_STRING;
  j["objective"] = "MSE = (1/n) sum_i (x_i . w + b - y_i)^2";
  j["weights"] = r.weights;
  j["bias"] = r.bias;
  j["feature_names"] = ctx.feature_names;
  j["target"] = ctx.target;
  j["epochs_run"] = r.epochs_run;
  j["stop_reason"] = to_string(r.stop_reason);
  j["final_mse"] = r.final_mse;
  j["loss_history"] = r.loss_history;
  j["backend"] = r.backend;
  j["device"] = r.device_name;
  j["wall_seconds"] = r.wall_seconds;
  j["setup_seconds"] = r.setup_seconds;
  j["data"] = ctx.data;
  if (!ctx.sample_weight.empty()) j["sample_weight"] = ctx.sample_weight;
  j["learning_rate_used"] = r.learning_rate;
  j["final_learning_rate"] = r.final_learning_rate;
  if (r.curvature > 0) j["curvature"] = r.curvature;
  if (r.heldout_rows > 0) {
    j["heldout_rows"] = r.heldout_rows;
    j["heldout_mse"] = r.heldout_mse;
    j["heldout_loss_history"] = r.heldout_loss_history;
  }
  j["options"] = {{"learning_rate", o.auto_learning_rate ? nlohmann::json("auto") : nlohmann::json(o.learning_rate)},
                  {"schedule", ctx.schedule},                {"epochs", o.epochs},
                  {"optimizer", optimizer_name(o.optimizer)}, {"l1", o.l1}, {"l2", o.l2},
                  {"batch_size", o.batch_size},       {"seed", o.seed},
                  {"shuffle", o.shuffle},             {"tol", o.tol},
                  {"fit_intercept", o.fit_intercept}, {"history_mode", ctx.history_mode},
                  {"init_bias", o.init_bias},         {"init_weights", o.init_weights},
                  {"validation_fraction", o.validation_fraction}, {"standardize", o.standardize}};
  if (r.validation.checks > 0)
    j["validation"] = {{"checks", r.validation.checks},
                       {"max_loss_deviation", r.validation.max_loss_deviation},
                       {"max_gradient_deviation", r.validation.max_gradient_deviation},
                       {"tolerance", r.validation.tolerance},
                       {"passed", r.validation.passed}};
  return j.dump(2) + "\n";
}

Model read_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument(path + ": cannot open the model file");
  std::stringstream buf;
  buf << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(buf.str());
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(path + ": not a JSON model file (" + e.what() + ")");
  }
  auto bad = [&](const std::string& what) { return InvalidArgument(path + ": " + what); };
  if (!j.is_object() || j.value("format", "") != "steepest-model")
    throw bad("not a steepest model (no \"format\": \"steepest-model\")");
  Model m;
  if (!j.contains("weights") || !j["weights"].is_array() || j["weights"].empty())
    throw bad("\"weights\" must be a non-empty array of numbers");
  for (const auto& w : j["weights"]) {
    if (!w.is_number()) throw bad("\"weights\" must be a non-empty array of numbers");
    m.weights.push_back(w.get<double>());
    if (!std::isfinite(m.weights.back())) throw bad("\"weights\" holds a non-finite value");
  }
  if (!j.contains("bias") || !j["bias"].is_number()) throw bad("\"bias\" must be a number");
  m.bias = j["bias"].get<double>();
  if (j.contains("feature_names") && j["feature_names"].is_array()) {
    for (const auto& n : j["feature_names"])
      if (n.is_string()) m.feature_names.push_back(n.get<std::string>());
    if (!m.feature_names.empty() && m.feature_names.size() != m.weights.size())
      throw bad("\"feature_names\" and \"weights\" differ in length");
  }
  if (j.contains("target") && j["target"].is_string()) m.target = j["target"].get<std::string>();
  return m;
}

}  // namespace steepest::cli
