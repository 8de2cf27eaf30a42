#include "cli/commands.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "io/atomic_file.hpp"
#include "io/csv.hpp"
#include "io/synthetic.hpp"
#include "steepest/steepest.hpp"

namespace steepest::cli {
namespace {

// Set by SIGINT/SIGTERM; the fit finishes its current epoch and stops as cancelled.
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int sig) { g_signal = sig; }

/// Options shared by `fit` and `demo`.
struct TrainArgs {
  FitOptions fit;
  std::string device = "auto";
  std::string history_mode = "exact";
  std::string init_weights;
  std::string output;
  std::string history;
  bool quiet = false;
  bool validate = false;
};

/// How to read a data file (CSV today).
struct DataArgs {
  std::string target;
  std::string features;
  std::string delimiter = ",";
  std::string dtype = "float64";
  bool header = false;
  bool no_header = false;
};

struct FitArgs : TrainArgs {
  std::string data;
  DataArgs in;
};

struct DemoArgs : TrainArgs {
  io::SyntheticSpec spec;
};

void add_data_options(CLI::App& cmd, DataArgs& a) {
  cmd.add_option("--target", a.target,
                 "Target column: a header name or a 0-based index (default: the last column)");
  cmd.add_option("--features", a.features,
                 "Feature columns, comma-separated names or indices (default: all but the target)");
  cmd.add_option("--delimiter", a.delimiter, "Field delimiter: one character, or 'tab'")
      ->capture_default_str();
  cmd.add_option("--dtype", a.dtype, "Storage of X and y in memory: float64, or float32 for half the memory")
      ->capture_default_str()->check(CLI::IsMember({"float64", "float32"}));
  auto* h = cmd.add_flag("--header", a.header, "The first line names the columns (default: detected)");
  cmd.add_flag("--no-header", a.no_header, "The first line is data (default: detected)")->excludes(h);
}

io::CsvOptions csv_options(const DataArgs& a) {
  io::CsvOptions o;
  if (a.header) o.header = true;
  if (a.no_header) o.header = false;
  o.target = a.target;
  std::stringstream ss(a.features);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) o.features.push_back(item);
  if (a.delimiter == "tab" || a.delimiter == "\\t") o.delimiter = '\t';
  else if (a.delimiter.size() == 1) o.delimiter = a.delimiter[0];
  else throw InvalidArgument("--delimiter must be one character or 'tab', got '" + a.delimiter + "'");
  o.dtype = a.dtype == "float32" ? DType::float32 : DType::float64;
  return o;
}

void add_training_options(CLI::App& cmd, TrainArgs& a) {
  cmd.add_option("--epochs", a.fit.epochs, "Maximum number of epochs")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--lr", a.fit.learning_rate, "Learning rate (step size)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--batch-size", a.fit.batch_size, "Rows per mini-batch; 0 = full batch")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--seed", a.fit.seed, "Seed of the mini-batch row order")->capture_default_str();
  cmd.add_flag("--no-shuffle{false}", a.fit.shuffle, "Mini-batches in file order, not shuffled");
  cmd.add_option("--tol", a.fit.tol,
                 "Stop when an epoch lowers the MSE by at most tol x the previous MSE; 0 = off")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--init-weights", a.init_weights, "Initial weights w1,w2,... (default zeros)");
  cmd.add_option("--init-bias", a.fit.init_bias, "Initial bias")->capture_default_str();
  cmd.add_flag("--no-intercept{false}", a.fit.fit_intercept, "Do not learn the bias (keep --init-bias)");
  cmd.add_option("--device", a.device, "auto (GPU if usable, else CPU), cpu or cuda")
      ->capture_default_str()->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd.add_option("--history-mode", a.history_mode,
                 "Mini-batch loss history: exact (one extra pass per epoch) or running (free)")
      ->capture_default_str()->check(CLI::IsMember({"exact", "running"}));
  cmd.add_option("--threads", a.fit.threads, "CPU threads; 0 = all (never changes the result)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_flag("--validate", a.validate,
               "Run the CPU reference beside the GPU and compare loss and gradient (exit 4 if "
               "they deviate beyond the tolerance)");
  a.fit.validate_every = 100;
  cmd.add_option("--validate-every", a.fit.validate_every, "Epochs between --validate checks")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--output,-o", a.output, "Write the model as JSON to this file");
  cmd.add_option("--history", a.history, "Write the loss per epoch as CSV to this file");
  cmd.add_flag("--quiet,-q", a.quiet, "Print nothing but errors");
}

std::vector<double> parse_weights(const std::string& text) {
  std::vector<double> w;
  if (text.empty()) return w;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t used = 0;
    double v = 0.0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size())
      throw InvalidArgument("--init-weights: '" + item + "' is not a number");
    w.push_back(v);
  }
  return w;
}

/// Resolve the string options into FitOptions and check outputs before any work.
void finish_options(TrainArgs& a) {
  a.fit.device = a.device == "cpu" ? Device::cpu : a.device == "cuda" ? Device::cuda : Device::automatic;
  a.fit.history = a.history_mode == "running" ? HistoryMode::running_average : HistoryMode::exact;
  a.fit.init_weights = parse_weights(a.init_weights);
  if (!a.validate) a.fit.validate_every = 0;
  if (!a.output.empty()) io::check_writable(a.output, "--output");
  if (!a.history.empty()) io::check_writable(a.history, "--history");
  if (!a.output.empty() && a.output == a.history)
    throw InvalidArgument("--output and --history name the same file");
}

/// Progress on stderr when it is a terminal: epochs done, rate, ETA.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO) != 0) {}
  bool operator()(const EpochReport& r) {
    if (g_signal != 0) return false;
    if (!enabled_) return true;
    const auto now = std::chrono::steady_clock::now();
    if (r.epoch != r.max_epochs && now - last_ < std::chrono::milliseconds(250)) return true;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(r.epoch) / secs : 0.0;
    const double eta = rate > 0 ? static_cast<double>(r.max_epochs - r.epoch) / rate : 0.0;
    std::fprintf(stderr, "\repoch %lld/%lld  mse %.6g  %.1f epochs/s  eta %.0fs   ",
                 static_cast<long long>(r.epoch), static_cast<long long>(r.max_epochs), r.loss, rate, eta);
    shown_ = true;
    return true;
  }
  ~Progress() {
    if (shown_) std::fputc('\n', stderr);
  }

 private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = start_;
};

std::string model_json(const FitResult& r, const TrainArgs& a,
                       const std::vector<std::string>& features, const std::string& target,
                       const std::string& data) {
  nlohmann::json j;
  j["format"] = "steepest-model";
  j["version"] = STEEPEST_VERSION_STRING;
  j["objective"] = "MSE = (1/n) sum_i (x_i . w + b - y_i)^2";
  j["weights"] = r.weights;
  j["bias"] = r.bias;
  j["feature_names"] = features;
  j["target"] = target;
  j["epochs_run"] = r.epochs_run;
  j["stop_reason"] = to_string(r.stop_reason);
  j["final_mse"] = r.final_mse;
  j["loss_history"] = r.loss_history;
  j["backend"] = r.backend;
  j["device"] = r.device_name;
  j["wall_seconds"] = r.wall_seconds;
  if (r.validation.checks > 0)
    j["validation"] = {{"checks", r.validation.checks},
                       {"max_loss_deviation", r.validation.max_loss_deviation},
                       {"max_gradient_deviation", r.validation.max_gradient_deviation},
                       {"tolerance", r.validation.tolerance},
                       {"passed", r.validation.passed}};
  j["data"] = data;
  j["options"] = {{"learning_rate", a.fit.learning_rate}, {"epochs", a.fit.epochs},
                  {"batch_size", a.fit.batch_size},       {"seed", a.fit.seed},
                  {"shuffle", a.fit.shuffle},             {"tol", a.fit.tol},
                  {"fit_intercept", a.fit.fit_intercept}, {"history_mode", a.history_mode},
                  {"init_bias", a.fit.init_bias},         {"init_weights", a.fit.init_weights}};
  return j.dump(2) + "\n";
}

std::string history_csv(const FitResult& r) {
  std::string out = "epoch,mse\n";
  char buf[64];
  for (std::size_t k = 0; k < r.loss_history.size(); ++k) {
    std::snprintf(buf, sizeof buf, "%zu,%.17g\n", k, r.loss_history[k]);
    out += buf;
  }
  return out;
}

FitResult run_fit(const MatrixView& X, const VectorView& y, TrainArgs& a) {
  Progress progress(!a.quiet);
  a.fit.on_epoch = [&progress](const EpochReport& r) { return progress(r); };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  FitResult r = fit(X, y, a.fit);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  return r;
}

/// Print the summary, write the outputs, map the result to an exit code.
int report(const FitResult& r, const TrainArgs& a, const std::vector<std::string>& features,
           const std::string& target, const std::string& data) {
  if (r.stop_reason == StopReason::diverged) {
    std::cerr << "steepest: " << r.message << "\nNo model written. Try a smaller --lr.\n";
    return kDiverged;
  }
  if (!a.output.empty()) io::write_file_atomically(a.output, model_json(r, a, features, target, data));
  if (!a.history.empty()) io::write_file_atomically(a.history, history_csv(r));
  if (!a.quiet) {
    std::printf("backend      %s (%s)\n", r.backend.c_str(), r.device_name.c_str());
    if (!r.message.empty()) std::printf("note         %s\n", r.message.c_str());
    std::printf("stop reason  %s after %lld epochs in %.3f s\n", to_string(r.stop_reason),
                static_cast<long long>(r.epochs_run), r.wall_seconds);
    std::printf("mse          %.10g (initial %.10g)\n", r.final_mse, r.loss_history.front());
    for (std::size_t k = 0; k < r.weights.size(); ++k)
      std::printf("%-12s %.10g\n", k < features.size() ? features[k].c_str() : "w", r.weights[k]);
    std::printf("%-12s %.10g\n", "bias", r.bias);
    if (!a.output.empty()) std::printf("model        %s\n", a.output.c_str());
  }
  const ValidationReport& v = r.validation;
  if (a.validate && !a.quiet) {
    if (v.checks == 0)
      std::printf("validate     no check ran: %s\n", v.note.c_str());
    else
      std::printf("validate     %lld checks against the CPU: max loss deviation %.3g, max gradient "
                  "deviation %.3g (tolerance %.3g): %s\n",
                  static_cast<long long>(v.checks), v.max_loss_deviation,
                  v.max_gradient_deviation, v.tolerance, v.passed ? "ok" : "FAILED");
  }
  if (!v.passed) {
    std::cerr << "steepest: validation failed: the " << r.backend
              << " backend deviates from the CPU reference beyond the tolerance\n";
    return kValidationFailed;
  }
  if (r.stop_reason == StopReason::cancelled && g_signal != 0)
    return g_signal == SIGTERM ? kTerminated : kInterrupted;
  return kOk;
}

int cmd_fit(FitArgs& a) {
  finish_options(a);
  const io::CsvDataset ds = io::read_csv(a.data, csv_options(a.in));
  const FitResult r = run_fit(ds.x_view(), ds.y_view(), a);
  return report(r, a, ds.feature_names, ds.target_name, a.data);
}

int cmd_demo(DemoArgs& a) {
  finish_options(a);
  if (a.spec.rows < 1 || a.spec.cols < 1) throw InvalidArgument("--rows and --features must be >= 1");
  if (!a.quiet)
    std::printf("demo: %lld rows x %lld features, y = X w* + b* + N(0, %g^2), seed %llu\n",
                static_cast<long long>(a.spec.rows), static_cast<long long>(a.spec.cols),
                a.spec.noise, static_cast<unsigned long long>(a.spec.seed));
  const io::SyntheticData data = io::make_synthetic(a.spec);
  std::vector<std::string> names;
  for (std::int64_t k = 0; k < a.spec.cols; ++k) names.push_back("x" + std::to_string(k + 1));
  const FitResult r = run_fit(data.x_view(), data.y_view(), a);
  const int code = report(r, a, names, "y", "synthetic");
  if (!a.quiet && code == kOk) {
    double worst = std::abs(r.bias - data.bias);
    for (std::size_t k = 0; k < r.weights.size(); ++k)
      worst = std::max(worst, std::abs(r.weights[k] - data.weights[k]));
    std::printf("planted      bias %.4g; largest |fitted - planted| parameter error %.3g "
                "(noise sd %g)\n", data.bias, worst, a.spec.noise);
  }
  return code;
}

int cmd_info() {
  const BuildInfo b = build_info();
  std::printf("steepest %s\n", b.version.c_str());
  std::printf("cuda backend   %s%s\n", b.cuda_compiled ? "compiled" : "not compiled",
              b.cuda_compiled ? (" (architectures " + b.cuda_architectures + ")").c_str() : "");
  std::printf("openmp         %s, %d threads\n", b.openmp ? "yes" : "no", b.cpu_threads);
  const auto devices = cuda_devices();
  if (devices.empty()) {
    std::printf("cuda devices   none (%s)\n", cuda_unavailable_reason().c_str());
  } else {
    for (const auto& d : devices)
      std::printf("cuda device %d  %s, %.1f GiB (%.1f GiB free), %d SMs, compute capability %d.%d\n",
                  d.index, d.name.c_str(), static_cast<double>(d.total_memory) / (1 << 30),
                  static_cast<double>(d.free_memory) / (1 << 30), d.multiprocessors,
                  d.compute_major, d.compute_minor);
  }
  std::printf("device auto    %s\n", devices.empty() ? "cpu" : "cuda");
  return kOk;
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"steepest: linear regression by gradient descent on the mean squared error, "
               "on the CPU or an NVIDIA GPU.\nObjective: MSE = (1/n) sum_i (x_i . w + b - y_i)^2.",
               "steepest"};
  app.set_version_flag("--version", std::string("steepest ") + STEEPEST_VERSION_STRING);
  app.require_subcommand(1);

  FitArgs fa;
  auto* fit_cmd = app.add_subcommand("fit", "Fit a model to a CSV file (features, then the target)");
  fit_cmd->add_option("DATA", fa.data, "CSV file")->required();
  add_data_options(*fit_cmd, fa.in);
  add_training_options(*fit_cmd, fa);

  DemoArgs da;
  da.fit.learning_rate = 0.5;
  da.fit.epochs = 200;
  auto* demo_cmd = app.add_subcommand("demo", "Fit generated data with a planted solution (the built-in default job)");
  demo_cmd->add_option("--rows", da.spec.rows, "Rows to generate")->capture_default_str();
  demo_cmd->add_option("--features", da.spec.cols, "Feature columns")->capture_default_str();
  demo_cmd->add_option("--noise", da.spec.noise, "Noise standard deviation")->capture_default_str();
  demo_cmd->add_option("--data-seed", da.spec.seed, "Seed of the generated data")->capture_default_str();
  add_training_options(*demo_cmd, da);

  auto* info_cmd = app.add_subcommand("info", "Build features and CUDA devices");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kBadInput;
  }

  try {
    if (fit_cmd->parsed()) return cmd_fit(fa);
    if (demo_cmd->parsed()) return cmd_demo(da);
    if (info_cmd->parsed()) return cmd_info();
  } catch (const InvalidArgument& e) {
    std::cerr << "steepest: error: " << e.what() << "\n";
    return kBadInput;
  } catch (const DeviceUnavailable& e) {
    std::cerr << "steepest: error: " << e.what() << "\n";
    return kBadInput;
  } catch (const std::exception& e) {
    std::cerr << "steepest: error: " << e.what() << "\n";
    return kFailure;
  }
  return kFailure;
}

}  // namespace steepest::cli
