// `steepest predict` and `steepest evaluate`: a model file applied to data.
#include <charconv>
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/model_file.hpp"
#include "cli/ranks.hpp"
#include "io/atomic_file.hpp"
#include "io/npy.hpp"

namespace steepest::cli {
namespace {

struct ModelArgs {
  std::string model;
  DataArgs in;
  std::string output;
  bool quiet = false;
};

Expect expectation(const Model& m, bool need_target) {
  Expect e;
  e.target = need_target;
  e.target_optional = !need_target;
  e.features = static_cast<std::int64_t>(m.weights.size());
  e.feature_names = m.feature_names;
  e.target_name = m.target;
  e.columns = m.columns;
  return e;
}

int run_predict(ModelArgs& a) {
  if (!a.output.empty()) io::check_writable(a.output, "--output");
  auto inputs = input_files(a.in);
  inputs.push_back({"MODEL", a.model});
  io::check_distinct_files({{"--output", a.output}}, inputs);
  const Model m = read_model(a.model);
  const Loaded data = load_data(a.in, expectation(m, false));
  std::vector<double> yhat(static_cast<std::size_t>(data.X.rows));
  predict(data.X, m.weights, m.bias, yhat.data());

  if (ends_with(a.output, ".npy")) {
    io::write_npy(a.output, make_vector_view(yhat.data(), data.X.rows));
    return kOk;
  }
  // CSV (file or stdout): header, then the shortest text that reads back bit for bit.
  std::string text = "prediction\n";
  text.reserve(text.size() + yhat.size() * 20);
  char buf[32];
  for (double v : yhat) {
    text.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    text += '\n';
  }
  // A failed write to stdout leaves its error flag set: run() reports it and exits 1.
  if (a.output.empty()) std::fwrite(text.data(), 1, text.size(), stdout);
  else io::write_file_atomically(a.output, text);
  return kOk;
}

int run_evaluate(ModelArgs& a) {
  // Across MPI ranks: each rank reads its own rows, and rank 0 reports on all of them.
  const detail::Team team(Ranks::communicator());
  Model m;
  std::string error;
  try {
    m = read_model(a.model);
  } catch (const Error& e) {
    error = e.what();
  }
  team.agree(error);
  const Loaded data = load_own_rows(a.in, expectation(m, true), team);
  EvaluateOptions options;
  options.communicator = Ranks::communicator();
  const Metrics s = score(data.X, data.y, data.weights, m.weights, m.bias, options);
  const std::int64_t rows = team.sum(data.X.rows);
  if (Ranks::rank() != 0) return kOk;
  std::printf("rows  %lld\n", static_cast<long long>(rows));
  if (data.weights.data != nullptr) std::printf("sample weights  %s (metrics weighted)\n", data.weight_name.c_str());
  std::printf("mse   %.10g\nrmse  %.10g\nmae   %.10g\nr2    %.10g\n", s.mse, s.rmse, s.mae, s.r2);
  return kOk;
}

CLI::App* add_model_command(CLI::App& app, const char* name, const char* help, ModelArgs& a, bool weights) {
  auto* cmd = app.add_subcommand(name, help);
  cmd->add_option("MODEL", a.model, "Model file written by steepest fit --output")->required();
  add_data_options(*cmd, a.in, /*allow_xy_files=*/true, weights);
  return cmd;
}

}  // namespace

void add_predict_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<ModelArgs>();
  auto* cmd = add_model_command(app, "predict", "Write predictions of a model for data (one per row)", *a, false);
  cmd->add_option("--output,-o", a->output, "Predictions file (.npy or CSV); default: CSV on stdout");
  cmd->callback([&action, a] { action = [a] { return run_predict(*a); }; });
}

void add_evaluate_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<ModelArgs>();
  auto* cmd = add_model_command(app, "evaluate", "Print MSE, RMSE, MAE and R^2 of a model on data", *a, true);
  cmd->callback([&action, a] { action = [a] { return run_evaluate(*a); }; });
}

}  // namespace steepest::cli
