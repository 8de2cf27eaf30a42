#include "cli/model_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/text.hpp"

namespace steepest::cli {

namespace {

/// An integer in [lo, hi], or nullopt (wrong type, fraction, out of range).
std::optional<std::int64_t> integer_in(const nlohmann::json& v, std::int64_t lo, std::int64_t hi) {
  if (!v.is_number_integer()) return std::nullopt;
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) return std::nullopt;
  const auto x = v.get<std::int64_t>();
  if (x < lo || x > hi) return std::nullopt;
  return x;
}

/// "columns": {"header": bool, "width": n, "target": t, "features": [...]}, checked against
/// the weights and names already read.
template <class Bad>
io::ColumnLayout read_columns(const nlohmann::json& c, const Model& m, const Bad& bad) {
  const auto d = static_cast<std::int64_t>(m.weights.size());
  const std::string form =
      "\"columns\" must be {\"header\": true/false, \"width\": n, \"target\": i, \"features\": [i, ...]} "
      "with distinct 0-based indices below width, one feature index per weight";
  if (!c.is_object() || !c.contains("header") || !c["header"].is_boolean() || !c.contains("width") ||
      !c.contains("target") || !c.contains("features") || !c["features"].is_array())
    throw bad(form);
  io::ColumnLayout rec;
  rec.header = c["header"].get<bool>();
  const auto width = integer_in(c["width"], 2, std::numeric_limits<std::int64_t>::max());
  if (!width) throw bad(form);
  rec.width = *width;
  const auto target = integer_in(c["target"], 0, rec.width - 1);
  if (!target) throw bad(form);
  rec.target = *target;
  for (const auto& f : c["features"]) {
    const auto k = integer_in(f, 0, rec.width - 1);
    if (!k || *k == rec.target || std::find(rec.features.begin(), rec.features.end(), *k) != rec.features.end())
      throw bad(form);
    rec.features.push_back(*k);
  }
  if (static_cast<std::int64_t>(rec.features.size()) != d) throw bad(form);
  if (rec.header && (static_cast<std::int64_t>(m.feature_names.size()) != d || m.target.empty()))
    throw bad("\"columns\" says the file had a header, but \"feature_names\" or \"target\" is missing");
  return rec;
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
  std::vector<std::string> names;
  for (const auto& n : ctx.feature_names) names.push_back(io::utf8_safe(n));
  j["feature_names"] = names;
  j["target"] = io::utf8_safe(ctx.target);
  if (ctx.columns && ctx.columns->target >= 0)
    j["columns"] = {{"header", ctx.columns->header},
                    {"width", ctx.columns->width},
                    {"target", ctx.columns->target},
                    {"features", ctx.columns->features}};
  j["epochs_run"] = r.epochs_run;
  j["stop_reason"] = to_string(r.stop_reason);
  j["final_mse"] = r.final_mse;
  j["loss_history"] = r.loss_history;
  j["backend"] = r.backend;
  j["device"] = r.device_name;
  j["solver"] = r.solver;
  if (r.solver == "gram") j["gram_seconds"] = r.gram_seconds;
  j["ranks"] = ctx.ranks;
  j["wall_seconds"] = r.wall_seconds;
  j["setup_seconds"] = r.setup_seconds;
  j["data"] = io::utf8_safe(ctx.data);
  if (!ctx.sample_weight.empty()) j["sample_weight"] = io::utf8_safe(ctx.sample_weight);
  j["learning_rate_used"] = r.learning_rate;
  j["final_learning_rate"] = r.final_learning_rate;
  if (r.curvature > 0) j["curvature"] = r.curvature;
  j["optimizer"] = r.optimizer;
  if (r.optimizer == "momentum" || r.optimizer == "nesterov") j["momentum"] = r.momentum;
  if (r.condition_number != 0.0) {  // JSON has no infinity: a singular Hessian is null
    j["condition_number"] = std::isfinite(r.condition_number) ? nlohmann::json(r.condition_number) : nlohmann::json();
    j["min_curvature"] = r.min_curvature;
    if (r.expected_epochs != 0) j["expected_epochs"] = r.expected_epochs;
  }
  if (r.heldout_rows > 0) {
    j["heldout_rows"] = r.heldout_rows;
    j["heldout_mse"] = r.heldout_mse;
    j["heldout_loss_history"] = r.heldout_loss_history;
  }
  j["options"] = {{"learning_rate", o.auto_learning_rate ? nlohmann::json("auto") : nlohmann::json(o.learning_rate)},
                  {"schedule", ctx.schedule},                {"epochs", o.epochs},
                  {"optimizer", to_string(o.optimizer)}, {"l1", o.l1}, {"l2", o.l2},
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
  // Every string above is valid UTF-8; replace is the guard for any that is not (a device
  // name), so that a finished fit never ends in a JSON exception.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
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
    // The parser's message quotes the file's bytes: escaped and cut.
    throw InvalidArgument(path + ": not a JSON model file (" + io::printable(e.what(), 200) + ")");
  }
  auto bad = [&](const std::string& what) { return InvalidArgument(path + ": " + what); };
  if (!j.is_object() || !j.contains("format") || j["format"] != "steepest-model")
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
  if (!std::isfinite(m.bias)) throw bad("\"bias\" is not finite");
  if (j.contains("feature_names")) {
    const auto& names = j["feature_names"];
    if (!names.is_array()) throw bad("\"feature_names\" must be an array of strings");
    for (const auto& n : names) {
      if (!n.is_string()) throw bad("\"feature_names\" must be an array of strings");
      m.feature_names.push_back(n.get<std::string>());
    }
    if (!m.feature_names.empty() && m.feature_names.size() != m.weights.size())
      throw bad("\"feature_names\" and \"weights\" differ in length");
  }
  if (j.contains("target")) {
    if (!j["target"].is_string()) throw bad("\"target\" must be a string");
    m.target = j["target"].get<std::string>();
  }
  if (j.contains("columns")) m.columns = read_columns(j["columns"], m, bad);
  return m;
}

}  // namespace steepest::cli
