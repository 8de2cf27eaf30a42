// `steepest fit` and `steepest demo`: train, report, write the model and history.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/checkpoint_file.hpp"
#include "cli/commands.hpp"
#include "cli/model_file.hpp"
#include "cli/ranks.hpp"
#include "io/atomic_file.hpp"
#include "io/synthetic.hpp"
#include "train/spectrum.hpp"

namespace steepest::cli {
namespace {

// SIGINT/SIGTERM ask the fit to stop after its current step (it then writes the checkpoint
// and the outputs); a second signal removes the temporary files of the outputs being
// written and ends the process at once, the default way.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void on_signal(int sig) {
  if (g_signal != 0) {
    io::remove_temporaries();
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal = sig;
  g_stop.store(true);
}

/// Options of a training run, shared by fit and demo.
struct TrainArgs {
  FitOptions fit;
  std::string lr = "0.01";
  std::string schedule = "constant";
  std::string optimizer = "gd";
  std::string momentum = "0.9";
  const CLI::Option* lr_option = nullptr;  // whether --lr was given
  std::string device = "auto";
  std::string solver = "auto";
  std::string history_mode = "exact";
  std::string init_weights;
  std::string output;
  std::string history;
  std::string trace;
  std::string checkpoint;
  std::string resume;
  bool quiet = false;
  bool validate = false;
  /// Across MPI ranks only rank 0 writes files and prints; the others run the same fit.
  bool writer = true;
  bool trace_steps = false;
  /// Set while running: why the last checkpoint (or the trace written with it) failed,
  /// empty when it was written; and whether any output could not be written.
  std::string checkpoint_error;
  bool write_failed = false;
};

/// Epochs and the step: learning rate and its schedule, feature scaling, update rule, penalties.
void add_step_options(CLI::App& cmd, TrainArgs& a) {
  cmd.add_option("--epochs", a.fit.epochs, "Maximum number of epochs")
      ->capture_default_str()->check(integer_in(0, INT64_MAX));
  a.lr_option = cmd.add_option("--lr", a.lr,
                                "Learning rate (step size), or 'auto': 1/L from a power-iteration estimate of the "
                                "curvature (batch-size aware)")
                    ->capture_default_str();
  cmd.add_option("--schedule", a.schedule,
                 "Learning-rate schedule over epochs t = 1, 2, ...: constant, invscaling (lr / t^power_t), "
                 "exponential (lr decay^(t-1)), step (lr decay^floor((t-1)/step-epochs)), adaptive "
                 "(lr / 5 after n-iter-no-change epochs without improvement)")
      ->capture_default_str()
      ->check(CLI::IsMember({"constant", "invscaling", "exponential", "step", "adaptive"}));
  cmd.add_flag("--standardize", a.fit.standardize,
               "Fit on standardised features (mean 0, sd 1; with --no-intercept scaled to root mean "
               "square 1, not centred) and report the model in original units");
  cmd.add_option("--optimizer", a.optimizer,
                 "Update rule: gd, momentum (v = m v + g; w -= lr v), nesterov, adam, or auto: from the "
                 "Hessian's extreme eigenvalues, the heavy ball with the rate and momentum of --momentum auto "
                 "(full batch; mini-batch: lr auto and momentum 0.5)")
      ->capture_default_str()->check(CLI::IsMember({"gd", "momentum", "nesterov", "adam", "auto"}));
  cmd.add_option("--momentum", a.momentum,
                 "momentum/nesterov coefficient in [0, 1), or 'auto': the rate and momentum that are optimal "
                 "for a quadratic with the Hessian's extreme eigenvalues L and mu (Lanczos)")
      ->capture_default_str();
  cmd.add_flag("--condition", a.fit.estimate_condition,
               "Estimate the Hessian's extreme eigenvalues and condition number (Lanczos, at most d + 1 "
               "passes; the gram solver and the auto optimizer always do)");
  cmd.add_option("--beta1", a.fit.beta1, "adam first-moment decay")->capture_default_str()->check(real_in(0.0, 1.0));
  cmd.add_option("--beta2", a.fit.beta2, "adam second-moment decay")->capture_default_str()->check(real_in(0.0, 1.0));
  cmd.add_option("--l2", a.fit.l2, "L2 penalty: objective MSE + l2 |w|^2 (bias not penalised)")
      ->capture_default_str()->check(real_in(0.0));
  cmd.add_option("--l1", a.fit.l1, "L1 penalty: objective + l1 |w|_1, by soft-thresholding (exact zeros); with --l2: elastic net")
      ->capture_default_str()->check(real_in(0.0));
  cmd.add_option("--power-t", a.fit.power_t, "invscaling exponent")->capture_default_str()->check(real_in(0.0));
  cmd.add_option("--decay", a.fit.decay, "exponential/step factor in (0, 1]")->capture_default_str()->check(real_in(0.0, 1.0));
  cmd.add_option("--step-epochs", a.fit.step_epochs, "step: epochs between decays")->capture_default_str()->check(integer_in(1, INT64_MAX));
  cmd.add_option("--n-iter-no-change", a.fit.n_iter_no_change, "adaptive: epochs without improvement")
      ->capture_default_str()->check(integer_in(1, INT64_MAX));
}

/// Mini-batches, early stopping and the held-out split.
void add_batch_options(CLI::App& cmd, TrainArgs& a) {
  cmd.add_option("--batch-size", a.fit.batch_size, "Rows per mini-batch; 0 = full batch")
      ->capture_default_str()->check(integer_in(0, INT64_MAX));
  cmd.add_option("--seed", a.fit.seed, "Seed of the mini-batch row order")->capture_default_str()->check(any_unsigned());
  cmd.add_flag("--no-shuffle{false}", a.fit.shuffle, "Mini-batches in file order, not shuffled");
  cmd.add_option("--shuffle-block", a.fit.shuffle_block,
                 "Shuffle runs of this many consecutive rows, not single rows: batches read whole runs "
                 "(much faster on large data), but each run keeps its rows together and in order")
      ->capture_default_str()->check(integer_in(1, INT64_MAX));
  cmd.add_option("--tol", a.fit.tol,
                 "Early stopping: stop after n-iter-no-change epochs that each fail to lower the best "
                 "loss by more than tol x best; 0 = off")
      ->capture_default_str()->check(real_in(0.0));
  cmd.add_option("--validation-fraction", a.fit.validation_fraction,
                 "Hold out this fraction of the rows (a seeded split); early stopping and the adaptive "
                 "schedule then watch their MSE; 0 = off")
      ->capture_default_str()->check(real_in(0.0, 1.0));
}

/// Where the fit starts, and whether it learns the bias.
void add_start_options(CLI::App& cmd, TrainArgs& a) {
  cmd.add_option("--init-weights", a.init_weights, "Initial weights w1,w2,... (default zeros)");
  cmd.add_option("--init-bias", a.fit.init_bias, "Initial bias")->capture_default_str()->check(real_in(-std::numeric_limits<double>::max()));
  cmd.add_flag("--no-intercept{false}", a.fit.fit_intercept, "Do not learn the bias (keep --init-bias)");
}

/// How the fit runs: device, loss history, threads, and the --validate checks against the CPU.
void add_run_options(CLI::App& cmd, TrainArgs& a) {
  cmd.add_option("--device", a.device, "auto (GPU if usable, else CPU; under mpirun the CPU), cpu or cuda")
      ->capture_default_str()->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd.add_option("--cuda-device", a.fit.cuda_device,
                 "CUDA device index (-1: the current device; under mpirun the node-local rank's, modulo the "
                 "devices)")
      ->capture_default_str()->check(CLI::Range(-1, 1 << 20));
  cmd.add_option("--solver", a.solver,
                 "Losses and gradients: residual (a pass over the data per epoch), gram (one pass for "
                 "the Gram sums, then O(d^2) per epoch; with --batch-size, every batch's sums, then "
                 "O(d^2) a step; d <= 512) or auto (gram when d <= 512, epochs > d and the batch is full, "
                 "or fixed (--no-shuffle) on the CPU)")
      ->capture_default_str()->check(CLI::IsMember({"auto", "residual", "gram"}));
  cmd.add_option("--history-mode", a.history_mode,
                 "Mini-batch loss history: exact (one extra pass per epoch) or running (free)")
      ->capture_default_str()->check(CLI::IsMember({"exact", "running"}));
  cmd.add_option("--threads", a.fit.threads,
                 "CPU threads; 0 = all (never changes the result); at most 4 x the hardware threads "
                 "(64 always allowed, 1024 at most)")
      ->capture_default_str()->check(integer_in(0, INT32_MAX));
  cmd.add_flag("--validate", a.validate,
               "Run the CPU reference beside the GPU and compare loss and gradient (exit 4 if "
               "they deviate beyond the tolerance)");
  a.fit.validate_every = 100;
  cmd.add_option("--validate-every", a.fit.validate_every, "Epochs between --validate checks")
      ->capture_default_str()->check(integer_in(1, INT64_MAX));
}

/// The files the run writes (model, history, trace, checkpoint), --resume from a checkpoint, --quiet.
void add_output_options(CLI::App& cmd, TrainArgs& a) {
  cmd.add_option("--output,-o", a.output, "Write the model as JSON to this file");
  cmd.add_option("--history", a.history, "Write the loss per epoch as CSV to this file");
  cmd.add_option("--trace", a.trace,
                 "Write epoch, learning rate, MSE, bias and every weight per epoch as CSV (the path "
                 "of gradient descent over the loss surface)");
  cmd.add_flag("--trace-steps", a.trace_steps,
               "--trace every optimizer step instead of every epoch (epoch,step,learning_rate,"
               "batch_mse,bias,w...; batch_mse before the step): the path of stochastic gradient "
               "descent, for small runs");
  cmd.add_option("--checkpoint", a.checkpoint,
                 "Write the training state to this file (atomically) every --checkpoint-every epochs, "
                 "on SIGINT/SIGTERM (after the current step) and at the end");
  cmd.add_option("--checkpoint-every", a.fit.checkpoint_every,
                 "Epochs between checkpoints; 0 = only on a signal and at the end")
      ->capture_default_str()->check(integer_in(0, INT64_MAX));
  cmd.add_option("--resume", a.resume,
                 "Continue from this checkpoint: give the data and options of the run that wrote it "
                 "(--epochs may grow); the result is bitwise that of an uninterrupted run on the same "
                 "backend");
  cmd.add_flag("--quiet,-q", a.quiet, "Print nothing but errors");
}

/// Every option of a training run, in the order --help lists them.
void add_training_options(CLI::App& cmd, TrainArgs& a) {
  add_step_options(cmd, a);
  add_batch_options(cmd, a);
  add_start_options(cmd, a);
  add_run_options(cmd, a);
  add_output_options(cmd, a);
}

/// Resolve the string options into FitOptions and check the outputs before any work:
/// writable, and no output the same file as another or as one of \p inputs.
void finish_options(TrainArgs& a, const std::vector<io::NamedPath>& inputs) {
  if (a.lr == "auto") {
    a.fit.auto_learning_rate = true;
  } else {
    const auto v = parse_numbers(a.lr, "--lr");
    if (v.size() != 1 || !(v[0] > 0.0)) throw InvalidArgument("--lr must be a number > 0 or 'auto', got '" + a.lr + "'");
    a.fit.learning_rate = v[0];
  }
  a.fit.optimizer = a.optimizer == "momentum"   ? Optimizer::momentum
                    : a.optimizer == "nesterov" ? Optimizer::nesterov
                    : a.optimizer == "adam"     ? Optimizer::adam
                    : a.optimizer == "auto"     ? Optimizer::automatic
                                                : Optimizer::gd;
  if (a.momentum == "auto") {
    a.fit.auto_momentum = true;
  } else {
    const auto v = parse_numbers(a.momentum, "--momentum");
    if (v.size() != 1 || !(v[0] >= 0.0 && v[0] < 1.0))
      throw InvalidArgument("--momentum must be a number in [0, 1) or 'auto', got '" + a.momentum + "'");
    a.fit.momentum = v[0];
  }
  if ((a.fit.auto_momentum || a.fit.optimizer == Optimizer::automatic) && a.lr_option && a.lr_option->count() > 0)
    throw InvalidArgument(std::string(a.fit.auto_momentum ? "--momentum auto" : "--optimizer auto") +
                          " chooses the rate from the Hessian's spectrum: drop --lr");
  a.fit.schedule = a.schedule == "invscaling"    ? Schedule::inverse_scaling
                   : a.schedule == "exponential" ? Schedule::exponential
                   : a.schedule == "step"        ? Schedule::step
                   : a.schedule == "adaptive"    ? Schedule::adaptive
                                                 : Schedule::constant;
  a.fit.device = a.device == "cpu" ? Device::cpu : a.device == "cuda" ? Device::cuda : Device::automatic;
  a.fit.solver = a.solver == "gram" ? Solver::gram : a.solver == "residual" ? Solver::residual : Solver::automatic;
  a.fit.history = a.history_mode == "running" ? HistoryMode::running_average : HistoryMode::exact;
  a.fit.init_weights = a.init_weights.empty() ? std::vector<double>{} : parse_numbers(a.init_weights, "--init-weights");
  if (!a.validate) a.fit.validate_every = 0;
  if (!a.output.empty()) io::check_writable(a.output, "--output");
  if (!a.history.empty()) io::check_writable(a.history, "--history");
  if (!a.trace.empty()) io::check_writable(a.trace, "--trace");
  if (!a.checkpoint.empty()) io::check_writable(a.checkpoint, "--checkpoint");
  io::check_distinct_files({{"--output", a.output}, {"--history", a.history}, {"--trace", a.trace},
                            {"--checkpoint", a.checkpoint}},
                           inputs);
  // The checkpoint a run resumes from is an input of every output but --checkpoint, which
  // naming the same file is how a run goes on.
  io::check_distinct_files({{"--output", a.output}, {"--history", a.history}, {"--trace", a.trace}},
                           {{"--resume", a.resume}});
  if (a.fit.checkpoint_every > 0 && a.checkpoint.empty())
    throw InvalidArgument("--checkpoint-every needs --checkpoint FILE");
  if (a.trace_steps && a.trace.empty()) throw InvalidArgument("--trace-steps needs --trace FILE");
  if (a.trace_steps && (!a.checkpoint.empty() || !a.resume.empty()))
    throw InvalidArgument("--trace-steps is for small runs: it cannot be combined with --checkpoint or --resume");
  if (!a.resume.empty()) a.fit.resume = std::make_shared<TrainingState>(read_checkpoint(a.resume));
}

std::string history_csv(const FitResult& r) {
  const bool held = !r.heldout_loss_history.empty();
  std::string out = held ? "epoch,mse,heldout_mse\n" : "epoch,mse\n";
  char buf[96];
  for (std::size_t k = 0; k < r.loss_history.size(); ++k) {
    if (held)
      std::snprintf(buf, sizeof buf, "%zu,%.17g,%.17g\n", k, r.loss_history[k], r.heldout_loss_history[k]);
    else
      std::snprintf(buf, sizeof buf, "%zu,%.17g\n", k, r.loss_history[k]);
    out += buf;
  }
  return out;
}

/// One CSV line of the trace: epoch[, step], rate, mse, bias, w1..wd (shortest round-trip
/// text); \p step < 0 leaves the step column out.
void append_trace(std::string& out, std::int64_t epoch, double rate, double mse, double bias,
                  const std::vector<double>& w, std::int64_t step = -1) {
  char buf[32];
  out += std::to_string(epoch);
  if (step >= 0) out += ',' + std::to_string(step);
  for (double v : {rate, mse, bias}) {
    out += ',';
    out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  }
  for (double v : w) {
    out += ',';
    out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  }
  out += '\n';
}

/// The --trace file: a header, epoch 0, then one line per epoch as the fit reports them.
/// A resumed fit keeps the lines up to the checkpoint's epoch from the file it finds.
class Trace {
 public:
  Trace(const TrainArgs& a, std::int64_t cols) : a_(a) {
    if (a.trace.empty()) return;
    header_ = a.trace_steps ? "epoch,step,learning_rate,batch_mse,bias" : "epoch,learning_rate,mse,bias";
    for (std::int64_t k = 0; k < cols; ++k) header_ += ",w" + std::to_string(k + 1);
    header_ += '\n';
    if (a.fit.resume) keep_earlier_lines(*a.fit.resume, cols);
  }

  void add(const EpochReport& r) {
    if (!a_.trace.empty() && !a_.trace_steps) append_trace(body_, r.epoch, r.learning_rate, r.loss, r.bias, *r.weights);
  }
  void add(const StepReport& r) {
    append_trace(body_, r.epoch, r.learning_rate, r.batch_loss, r.bias, *r.weights, r.step);
  }

  /// Writes the file; \p lr0 and \p loss0 give epoch 0 (known once the fit has started).
  void write(double lr0, double loss0, std::int64_t cols) const {
    if (a_.trace.empty()) return;
    std::string text = header_;
    if (!a_.fit.resume) {  // a resumed trace takes epoch 0 from the kept lines, if at all
      append_trace(text, 0, lr0, loss0, a_.fit.init_bias,
                   a_.fit.init_weights.empty() ? std::vector<double>(static_cast<std::size_t>(cols), 0.0)
                                               : a_.fit.init_weights,
                   a_.trace_steps ? 0 : -1);
    }
    text += kept_;
    text += body_;
    io::write_file_atomically(a_.trace, text);
  }

 private:
  // Lines of epochs 0..epoch from an existing trace written by the interrupted run; without
  // one the trace starts after the checkpoint (said on stderr).  The trace is written in
  // step with the checkpoint, so a line is the run's own only when its MSE is the
  // checkpoint's loss_history[k] to the bit, and the last line holds the checkpoint's
  // parameters after that epoch (in original units under --standardize, where the
  // checkpoint's are standardised: there the MSEs alone decide).
  void keep_earlier_lines(const TrainingState& s, std::int64_t cols) {
    const std::int64_t epoch = s.epoch;
    std::ifstream in(a_.trace, std::ios::binary);
    std::string line;
    std::int64_t next = 0;
    if (in && std::getline(in, line) && line + '\n' == header_) {
      while (next <= epoch && std::getline(in, line)) {
        if (!run_line(line, next, s, cols)) break;
        kept_ += line + '\n';
        ++next;
      }
    }
    if (next != epoch + 1) {
      kept_.clear();
      if (!a_.quiet)
        std::fprintf(stderr, "steepest: --trace %s does not hold epochs 0..%lld of the interrupted run; "
                             "the trace starts after the checkpoint\n",
                     a_.trace.c_str(), static_cast<long long>(epoch));
    }
  }

  /// Whether \p line is epoch \p k of the run that wrote \p s: epoch,rate,mse,bias,w1..wd.
  bool run_line(const std::string& line, std::int64_t k, const TrainingState& s, std::int64_t cols) const {
    std::vector<double> v;
    std::size_t at = 0;
    for (;;) {
      const std::size_t end = std::min(line.find(',', at), line.size());
      double x = 0.0;
      const auto res = std::from_chars(line.data() + at, line.data() + end, x);
      if (res.ec != std::errc() || res.ptr != line.data() + end) return false;
      v.push_back(x);
      if (end == line.size()) break;
      at = end + 1;
    }
    const auto same = [](double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; };
    if (static_cast<std::int64_t>(v.size()) != 4 + cols || v[0] != static_cast<double>(k)) return false;
    if (static_cast<std::size_t>(k) >= s.loss_history.size() || !same(v[2], s.loss_history[static_cast<std::size_t>(k)]))
      return false;
    if (k < s.epoch || a_.fit.standardize) return true;
    if (!same(v[3], s.epoch_bias) || s.epoch_weights.size() != static_cast<std::size_t>(cols)) return false;
    for (std::int64_t j = 0; j < cols; ++j)
      if (!same(v[static_cast<std::size_t>(4 + j)], s.epoch_weights[static_cast<std::size_t>(j)])) return false;
    return true;
  }

  const TrainArgs& a_;
  std::string header_, kept_, body_;
};

/// Runs \p write; a failure is reported on stderr and recorded in \p a, and the run goes on
/// (the other outputs are still written).
template <typename Write>
void attempt(TrainArgs& a, Write&& write) {
  try {
    write();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "steepest: error: %s\n", e.what());
    a.write_failed = true;
  }
}

/// What the spectrum says before the first epoch: digits the data cannot give, epochs the
/// fit needs beyond those it was given.
void warn_before_fit(const StartReport& s, double tol) {
  const double kappa = s.condition_number;
  if (kappa == 0.0) return;
  const double digits = detail::certifiable_digits(kappa);
  if (!(digits >= 13.0))  // kappa eps64 > 1e-3
    std::fprintf(stderr,
                 "steepest: warning: the Hessian's condition number is %.3g: the data cannot give the parameters "
                 "more than %d significant digits in float64\n",
                 kappa, std::max(0, static_cast<int>(std::floor(digits))));
  const std::string target = tol > 0.0 ? "to reach --tol" : "to reach the digits the data allow";
  if (s.expected_epochs < 0)
    std::fprintf(stderr, "steepest: note: with this rate and momentum some direction does not contract: the fit "
                         "will not reach its optimum\n");
  else if (s.expected_epochs > s.max_epochs)
    std::fprintf(stderr, "steepest: note: this fit needs ~%lld epochs %s (condition number %.3g); you gave %lld\n",
                 static_cast<long long>(s.expected_epochs), target.c_str(), kappa,
                 static_cast<long long>(s.max_epochs));
}

FitResult train(const MatrixView& X, const VectorView& y, const VectorView& sample_weight, TrainArgs& a,
                const std::string& source) {
  Progress progress(!a.quiet, "epoch");
  Trace trace(a, X.cols);
  a.fit.on_epoch = [&progress, &trace](const EpochReport& r) {
    trace.add(r);
    char mse[80];
    if (std::isnan(r.heldout_loss))
      std::snprintf(mse, sizeof mse, "mse %.6g", r.loss);
    else
      std::snprintf(mse, sizeof mse, "mse %.6g, held-out %.6g", r.loss, r.heldout_loss);
    progress.update(r.epoch, r.max_epochs, mse);
    return true;
  };
  if (a.trace_steps) a.fit.on_step = [&trace](const StepReport& r) { trace.add(r); };
  if (a.writer && !a.quiet) a.fit.on_start = [&a](const StartReport& s) { warn_before_fit(s, a.fit.tol); };
  if (!a.checkpoint.empty()) {
    // A checkpoint that cannot be written (a full disk, its directory gone) must not end a
    // long fit and lose its model: warn once, go on, and say when checkpoints work again.
    a.fit.on_checkpoint = [&a, &trace, &source, cols = X.cols](const TrainingState& s) {
      if (!a.writer) return;  // set on every rank all the same: its data hash is collective
      try {
        io::write_file_atomically(a.checkpoint, checkpoint_json(s, source));
        trace.write(s.learning_rate, s.loss_history.front(), cols);  // in step with the checkpoint
        if (!a.checkpoint_error.empty())
          std::fprintf(stderr, "steepest: checkpoint %s written again (epoch %lld)\n", a.checkpoint.c_str(),
                       static_cast<long long>(s.epoch));
        a.checkpoint_error.clear();
      } catch (const std::exception& e) {
        if (a.checkpoint_error.empty())
          std::fprintf(stderr, "steepest: warning: checkpoint at epoch %lld not written: %s; the fit goes on\n",
                       static_cast<long long>(s.epoch), e.what());
        a.checkpoint_error = e.what();
      }
    };
  }
  g_stop.store(false);
  a.fit.stop_requested = &g_stop;
  const auto previous_int = std::signal(SIGINT, on_signal);
  const auto previous_term = std::signal(SIGTERM, on_signal);
  FitResult r = fit(X, y, sample_weight, a.fit);
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  if (r.stop_reason != StopReason::diverged)
    attempt(a, [&] { trace.write(r.learning_rate, r.loss_history.front(), X.cols); });
  return r;
}

/// The fit's summary on stdout: backend, solver, optimizer and rate, the condition number
/// when known, the stop, the loss and the parameters.
void print_summary(const FitResult& r, const TrainArgs& a, const ModelContext& ctx) {
  std::printf("backend      %s (%s)\n", r.backend.c_str(), r.device_name.c_str());
  if (r.solver == "gram")
    std::printf("solver       gram (one pass for the Gram sums: %.3f s)\n", r.gram_seconds);
  else
    std::printf("solver       residual\n");
  if (!r.message.empty()) std::printf("note         %s\n", r.message.c_str());
  const bool spectral = a.fit.optimizer == Optimizer::automatic || a.fit.auto_momentum;
  if (spectral)
    std::printf("optimizer    %s (auto: momentum %.9g)\n", r.optimizer.c_str(), r.momentum);
  else if (r.optimizer == "momentum" || r.optimizer == "nesterov")
    std::printf("optimizer    %s (momentum %.6g)\n", r.optimizer.c_str(), r.momentum);
  else
    std::printf("optimizer    %s\n", r.optimizer.c_str());
  if (a.fit.auto_learning_rate)  // %g: std::to_string prints 1e300 with 301 digits and 1e-9 as 0
    std::printf("rate         %.6g (auto: 1/L, L = %.6g)\n", r.learning_rate, r.curvature);
  else if (spectral)
    std::printf("rate         %.9g (auto from the spectrum)\n", r.learning_rate);
  else
    std::printf("rate         %.6g\n", r.learning_rate);
  if (r.condition_number != 0.0)
    std::printf("condition    %.6g (Hessian eigenvalues %.6g to %.6g): at most %.1f significant digits\n",
                r.condition_number, r.min_curvature, r.curvature,
                std::max(0.0, detail::certifiable_digits(r.condition_number)));
  if (r.final_learning_rate != r.learning_rate)
    std::printf("final rate   %.6g (%s schedule)\n", r.final_learning_rate, a.schedule.c_str());
  std::printf("stop reason  %s after %lld epochs in %.3f s\n", to_string(r.stop_reason),
              static_cast<long long>(r.epochs_run), r.wall_seconds);
  std::printf("mse          %.10g (initial %.10g)\n", r.final_mse, r.loss_history.front());
  for (std::size_t k = 0; k < r.weights.size(); ++k)
    std::printf("%-12s %.10g\n", k < ctx.feature_names.size() ? ctx.feature_names[k].c_str() : "w",
                r.weights[k]);
  std::printf("%-12s %.10g\n", "bias", r.bias);
  if (!a.output.empty()) std::printf("model        %s\n", a.output.c_str());
}

/// Print the summary, write the outputs, map the result to an exit code.
int report(const FitResult& r, TrainArgs& a, const ModelContext& ctx) {
  if (r.stop_reason == StopReason::diverged) {
    if (a.writer) std::cerr << "steepest: " << r.message << "\nNo model written. Try a smaller --lr.\n";
    return kDiverged;
  }
  if (r.stop_reason == StopReason::ill_conditioned && r.epochs_run == 0) {
    if (a.writer) std::cerr << "steepest: " << r.message << "\nNo model written.\n";
    return kIllConditioned;
  }
  if (!a.output.empty()) attempt(a, [&] { io::write_file_atomically(a.output, model_json(r, ctx)); });
  if (!a.history.empty()) attempt(a, [&] { io::write_file_atomically(a.history, history_csv(r)); });
  if (!a.quiet) print_summary(r, a, ctx);
  const ValidationReport& v = r.validation;
  if (a.validate && !a.quiet) {
    if (v.checks == 0)
      std::printf("validate     no check ran: %s\n", v.note.c_str());
    else
      std::printf("validate     %lld checks against the CPU: max loss deviation %.3g, max gradient "
                  "deviation %.3g (tolerance %.3g): %s\n",
                  static_cast<long long>(v.checks), v.max_loss_deviation, v.max_gradient_deviation,
                  v.tolerance, v.passed ? "ok" : "FAILED");
  }
  if (!v.passed) {
    if (a.writer)
      std::cerr << "steepest: validation failed: the " << r.backend
              << " backend deviates from the CPU reference beyond the tolerance\n";
    return kValidationFailed;
  }
  if (r.stop_reason == StopReason::interrupted) {
    if (!a.writer) return g_signal == SIGTERM ? kTerminated : kInterrupted;
    // g_signal is 0 when the signal reached another MPI rank (its flag came with a reduction).
    const std::string within =
        r.steps_into_epoch > 0 ? " and " + std::to_string(r.steps_into_epoch) + " steps of the next" : "";
    std::fprintf(stderr, "steepest: stopped by %s after %lld epochs%s; ",
                 g_signal == SIGTERM ? "SIGTERM" : g_signal == SIGINT ? "SIGINT" : "a signal to another rank",
                 static_cast<long long>(r.epochs_run), within.c_str());
    if (a.checkpoint.empty())
      std::fprintf(stderr, "no --checkpoint was given, so this run cannot be resumed\n");
    else if (!a.checkpoint_error.empty())
      std::fprintf(stderr, "checkpoint %s could not be written (%s), so this run cannot be resumed\n",
                   a.checkpoint.c_str(), a.checkpoint_error.c_str());
    else
      std::fprintf(stderr, "checkpoint %s written: run the same command with --resume %s to go on\n",
                   a.checkpoint.c_str(), a.checkpoint.c_str());
    return g_signal == SIGTERM ? kTerminated : kInterrupted;
  }
  if (!a.checkpoint_error.empty()) {
    std::fprintf(stderr, "steepest: error: the last checkpoint was not written: %s\n", a.checkpoint_error.c_str());
    return kFailure;
  }
  return a.write_failed ? kFailure : kOk;
}

struct FitArgs : TrainArgs {
  DataArgs in;
};

struct DemoArgs : TrainArgs {
  io::SyntheticSpec spec;
};

int run_fit(FitArgs& a) {
  // Across MPI ranks: the same options everywhere (agreed), each rank its own rows, one fit.
  const detail::Team team(Ranks::communicator());
  std::string error;
  try {
    finish_options(a, input_files(a.in));
  } catch (const Error& e) {
    error = e.what();
  }
  team.agree(error);
  const Loaded data = load_own_rows(a.in, Expect{}, team);
  a.fit.communicator = Ranks::communicator();
  if (Ranks::rank() != 0) {
    a.writer = false;
    a.quiet = true;
    a.output.clear();
    a.history.clear();
    a.trace.clear();
  }
  const FitResult r = train(data.X, data.y, data.weights, a, data.source);
  return report(r, a, {&a.fit, a.history_mode, a.schedule, data.feature_names, data.target_name, data.source,
                     data.weight_name, data.columns, Ranks::size()});
}

int run_demo(DemoArgs& a) {
  finish_options(a, {});
  if (!a.quiet)
    std::printf("demo: %lld rows x %lld features, y = X w* + b* + N(0, %g^2), seed %llu\n",
                static_cast<long long>(a.spec.rows), static_cast<long long>(a.spec.cols), a.spec.noise,
                static_cast<unsigned long long>(a.spec.seed));
  const io::SyntheticData data = io::make_synthetic(a.spec);
  std::vector<std::string> names;
  for (std::int64_t k = 0; k < a.spec.cols; ++k) names.push_back("x" + std::to_string(k + 1));
  const FitResult r = train(data.x_view(), data.y_view(), VectorView{}, a, "synthetic");
  const int code = report(r, a, {&a.fit, a.history_mode, a.schedule, names, "y", "synthetic", ""});
  if (!a.quiet && code == kOk) {
    double worst = std::abs(r.bias - data.bias);
    for (std::size_t k = 0; k < r.weights.size(); ++k)
      worst = std::max(worst, std::abs(r.weights[k] - data.weights[k]));
    std::printf("planted      bias %.4g; largest |fitted - planted| parameter error %.3g (noise sd %g)\n",
                data.bias, worst, a.spec.noise);
  }
  return code;
}

}  // namespace

void add_fit_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<FitArgs>();
  auto* cmd = app.add_subcommand(
      "fit", "Fit a model to data (CSV with the target last, .npy, or HDF5); under mpirun, across the ranks");
  add_data_options(*cmd, a->in, /*allow_xy_files=*/true, /*allow_weights=*/true);
  add_training_options(*cmd, *a);
  cmd->callback([&action, a] { action = [a] { return run_fit(*a); }; });
}

void add_demo_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<DemoArgs>();
  a->lr = "0.5";
  a->fit.epochs = 200;
  auto* cmd = app.add_subcommand("demo", "Fit generated data with a planted solution (the built-in default job)");
  cmd->add_option("--rows", a->spec.rows, "Rows to generate")->capture_default_str()->check(integer_in(1, INT64_MAX));
  cmd->add_option("--features", a->spec.cols, "Feature columns")->capture_default_str()->check(integer_in(1, INT64_MAX));
  cmd->add_option("--noise", a->spec.noise, "Noise standard deviation")->capture_default_str()->check(real_in(0.0));
  cmd->add_option("--data-seed", a->spec.seed, "Seed of the generated data")->capture_default_str()->check(any_unsigned());
  add_training_options(*cmd, *a);
  cmd->callback([&action, a] { action = [a] { return run_demo(*a); }; });
}

}  // namespace steepest::cli
