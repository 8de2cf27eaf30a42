// `steepest bench`: CPU against GPU on generated data, one command.  For each backend: the
// fused loss+gradient pass (GB/s, rows/s, fraction of that device's measured ceiling), the
// time of a full-batch and a mini-batch epoch, and the time to bring the MSE within 1e-6
// (relative) of the least-squares optimum; the Gram pass (Backend::gram_sums: seconds, GB/s,
// float64 multiply-adds per second) and a full-batch fit of --solver-epochs epochs with each
// solver (residual, gram), with their ratio.  Everything is measured in this one run.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "backend/backend.hpp"
#include "backend/gram.hpp"
#include "backend/view_access.hpp"
#include "cli/commands.hpp"
#include "cli/svg.hpp"
#include "backend/device_probe.hpp"
#include "io/atomic_file.hpp"
#include "io/least_squares.hpp"
#include "io/synthetic.hpp"
#include "io/text.hpp"

namespace steepest::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  io::SyntheticSpec spec;
  std::string dtype = "float32";
  std::string device = "all";
  std::int64_t epochs = 10;
  std::int64_t batch = 1024;
  std::int64_t tts_epochs = 300;
  std::int64_t solver_epochs = 100;
  int threads = 0;
  std::string json;
  std::string plot;
  bool quiet = false;
};

struct Measured {
  std::string backend, device;
  double pass_s = 0, gbs = 0, rows_per_s = 0, ceiling_gbs = 0;
  double full_epoch_s = 0, mini_epoch_s = 0;
  double setup_s = 0;  // FitResult::setup_seconds of the full-batch fit: backend, upload, first pass
  double tts_full_s = -1, tts_mini_s = -1;  // -1: not reached
  std::int64_t tts_full_epochs = 0, tts_mini_epochs = 0;
  // The Gram pass, and a fit of --solver-epochs with each solver (wall seconds, incl.
  // set-up); -1: not measured (--solver-epochs 0), see gram_error when it failed.
  double gram_pass_s = -1, gram_gbs = 0, gram_gfmas = 0;
  double fit_residual_s = -1, fit_gram_s = -1, fit_gram_pass_s = 0;
  double fit_residual_mse = 0, fit_gram_mse = 0;
  std::string gram_error;
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// Best time of one fused pass over all rows (after a warm-up), at least 0.5 s of repetitions.
double time_pass(detail::Backend& be) {
  std::vector<double> w(static_cast<std::size_t>(be.cols()), 0.01);
  be.set_parameters(w.data(), 0.0);
  be.compute(0, be.rows(), false);
  (void)be.loss();  // warm-up, and the synchronisation point
  double best = 1e300, total = 0;
  for (int rep = 0; rep < 50 && (rep < 3 || total < 0.5); ++rep) {
    const auto t = Clock::now();
    be.compute(0, be.rows(), false);
    (void)be.loss();
    const double s = seconds_since(t);
    best = std::min(best, s);
    total += s;
  }
  return best;
}

/// Mean epoch time of a fit, from the epoch callbacks (set-up and upload excluded); its
/// set-up (FitResult::setup_seconds) into \p setup_s when given.
double epoch_time(const MatrixView& X, const VectorView& y, FitOptions o, double* setup_s = nullptr) {
  std::vector<Clock::time_point> at;
  o.on_epoch = [&at](const EpochReport&) {
    at.push_back(Clock::now());
    return true;
  };
  const FitResult r = fit(X, y, o);
  if (setup_s != nullptr) *setup_s = r.setup_seconds;
  if (at.size() < 2) return 0.0;
  return std::chrono::duration<double>(at.back() - at.front()).count() / static_cast<double>(at.size() - 1);
}

/// Wall time (including set-up) until the full-data MSE is within 1e-6 of \p optimum.
std::pair<double, std::int64_t> time_to_solution(const MatrixView& X, const VectorView& y, FitOptions o,
                                                 double optimum) {
  bool reached = false;
  std::int64_t epochs = 0;
  o.on_epoch = [&](const EpochReport& r) {
    epochs = r.epoch;
    reached = r.loss <= optimum * (1.0 + 1e-6);
    return !reached;
  };
  const auto t = Clock::now();
  fit(X, y, o);
  const double s = seconds_since(t);
  return {reached ? s : -1.0, epochs};
}

/// The shift of a Gram pass as the trainer takes it: the mean of [x y] over the first rows.
std::vector<double> first_rows_mean(const MatrixView& X, const VectorView& y) {
  const std::int64_t d = X.cols, m = std::min<std::int64_t>(X.rows, 1024);
  std::vector<double> s(static_cast<std::size_t>(d + 1), 0.0);
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t k = 0; k < d; ++k) s[static_cast<std::size_t>(k)] += detail::value_at(X, i, k);
    s[static_cast<std::size_t>(d)] += detail::value_at(y, i);
  }
  for (double& v : s) v /= static_cast<double>(m);
  return s;
}

/// Best time of one Gram pass over all rows (after a warm-up; the totals come back to the
/// host, so each call is complete when it returns), at least 0.25 s of repetitions.
double time_gram_pass(detail::Backend& be, const std::vector<double>& shift) {
  std::vector<double> totals(detail::gram_width(be.cols()));
  be.gram_sums(0, be.rows(), false, shift.data(), totals.data());
  double best = 1e300, total = 0;
  for (int rep = 0; rep < 50 && (rep < 3 || total < 0.25); ++rep) {
    const auto t = Clock::now();
    be.gram_sums(0, be.rows(), false, shift.data(), totals.data());
    const double s = seconds_since(t);
    best = std::min(best, s);
    total += s;
  }
  return best;
}

/// A full-batch fit of \p o.epochs with \p solver: wall seconds (incl. set-up) into \p s;
/// a note into \p note when it ran another solver or stopped early (the time then says little).
FitResult timed_fit(const MatrixView& X, const VectorView& y, FitOptions o, Solver solver, double& s,
                    std::string& note) {
  const char* name = solver == Solver::gram ? "gram" : "residual";
  o.solver = solver;
  o.on_epoch = nullptr;
  const auto t = Clock::now();
  FitResult r = fit(X, y, o);
  s = seconds_since(t);
  if (r.solver != name && note.empty()) note = std::string("the ") + name + " fit ran solver '" + r.solver + "'";
  if (r.epochs_run != o.epochs && note.empty())
    note = std::string("the ") + name + " fit stopped after " + std::to_string(r.epochs_run) + " epochs: " + r.message;
  return r;
}

/// The Gram pass of \p gpu's backend and a fit of a.solver_epochs with each solver, into \p m.
/// What keeps the Gram solver from running (d > 512, a backend without it, an error of the
/// pass or the fits) goes to m.gram_error, and the bench reports the rest.
void measure_gram(bool gpu, const MatrixView& X, const VectorView& y, const BenchArgs& a, double bytes,
                  const FitOptions& base, Measured& m) {
  if (a.solver_epochs == 0) return;
  if (a.spec.cols > detail::kGramMaxFeatures) {
    m.gram_error = "d > " + std::to_string(detail::kGramMaxFeatures) + ": no Gram solver";
    return;
  }
  try {
    {
      auto be = gpu ? detail::make_cuda_backend(X, y) : detail::make_cpu_backend(X, y, a.threads);
      m.gram_pass_s = time_gram_pass(*be, first_rows_mean(X, y));
    }
    m.gram_gbs = bytes / m.gram_pass_s / 1e9;
    m.gram_gfmas = static_cast<double>(a.spec.rows) * static_cast<double>(detail::gram_packed(a.spec.cols)) /
                   m.gram_pass_s / 1e9;
    FitOptions o = base;
    o.epochs = a.solver_epochs;
    const FitResult g = timed_fit(X, y, o, Solver::gram, m.fit_gram_s, m.gram_error);
    m.fit_gram_pass_s = g.gram_seconds;
    m.fit_gram_mse = g.final_mse;
    m.fit_residual_mse = timed_fit(X, y, o, Solver::residual, m.fit_residual_s, m.gram_error).final_mse;
  } catch (const Error& e) {  // InvalidArgument, DeviceUnavailable, CudaError: noted, not fatal
    m.gram_error = e.what();
  }
}

std::string machine_name() {
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

/// Times one backend on \p X, \p y: its fused pass (and the ceiling of its device), a full-batch
/// and a mini-batch epoch, and with \p tts the time to bring the MSE within 1e-6 of \p optimum.
Measured measure(bool gpu, const MatrixView& X, const VectorView& y, const BenchArgs& a, double bytes, bool tts,
                 double optimum) {
  Measured m;
  {
    auto be = gpu ? detail::make_cuda_backend(X, y) : detail::make_cpu_backend(X, y, a.threads);
    m.backend = be->name();
    m.device = be->device_name();
    m.pass_s = time_pass(*be);
  }
  m.gbs = bytes / m.pass_s / 1e9;
  m.rows_per_s = static_cast<double>(a.spec.rows) / m.pass_s;
  m.ceiling_gbs = gpu ? detail::cuda_copy_bandwidth(static_cast<std::int64_t>(bytes))
                      : detail::cpu_read_bandwidth(X.data, static_cast<std::int64_t>(bytes - static_cast<double>(a.spec.rows * dtype_size(y.dtype))), a.threads);
  FitOptions o;
  o.device = gpu ? Device::cuda : Device::cpu;
  o.threads = a.threads;
  o.learning_rate = 0.5;  // features in [-1, 1): below 2/L for the full batch
  o.epochs = a.epochs;
  m.full_epoch_s = epoch_time(X, y, o, &m.setup_s);
  FitOptions mb = o;
  mb.batch_size = a.batch;
  mb.learning_rate = 0.05;
  mb.history = HistoryMode::running_average;
  mb.epochs = std::max<std::int64_t>(2, a.epochs / 5);
  m.mini_epoch_s = epoch_time(X, y, mb);
  if (tts) {
    o.epochs = a.tts_epochs;
    std::tie(m.tts_full_s, m.tts_full_epochs) = time_to_solution(X, y, o, optimum);
    mb.epochs = std::max<std::int64_t>(1, a.tts_epochs / 10);
    mb.history = HistoryMode::exact;
    std::tie(m.tts_mini_s, m.tts_mini_epochs) = time_to_solution(X, y, mb, optimum);
  }
  measure_gram(gpu, X, y, a, bytes, o, m);
  return m;
}

/// The Gram pass and the fits with each solver of every result (nothing with --solver-epochs 0).
void print_gram(const std::vector<Measured>& results, const BenchArgs& a) {
  if (a.solver_epochs == 0) return;
  std::printf("\ngram pass (S2, S1 of [X y] in float64, %lld multiply-adds a row) and a full-batch fit of %lld epochs "
              "with each solver (wall, incl. set-up):\n",
              static_cast<long long>(detail::gram_packed(a.spec.cols)), static_cast<long long>(a.solver_epochs));
  std::printf("%-5s %10s %8s %8s %12s %12s %14s\n", "", "gram ms", "GB/s", "GFMA/s", "residual s", "gram s",
              "residual/gram");
  for (const auto& m : results) {
    if (m.gram_pass_s < 0) {
      std::printf("%-5s not measured: %s\n", m.backend.c_str(), m.gram_error.c_str());
      continue;
    }
    std::printf("%-5s %10.3f %8.2f %8.2f", m.backend.c_str(), 1e3 * m.gram_pass_s, m.gram_gbs, m.gram_gfmas);
    if (m.fit_gram_s > 0 && m.fit_residual_s > 0)
      std::printf(" %12.3f %12.3f %13.1fx\n", m.fit_residual_s, m.fit_gram_s, m.fit_residual_s / m.fit_gram_s);
    else
      std::printf(" %12s %12s %14s\n", "-", "-", "-");
    if (!m.gram_error.empty()) std::printf("      note: %s\n", m.gram_error.c_str());
  }
}

/// The table of \p results (speed-up against the first) and, with \p tts, the times to solution.
void print_results(const std::vector<Measured>& results, const BenchArgs& a, bool tts) {
  const Measured& base = results.front();
  std::printf("\n%-5s %-34s %11s %8s %9s %10s %10s %11s %11s %8s\n", "", "device", "rows/s", "GB/s", "% ceiling",
              "pass ms", "setup ms", "epoch ms", "mb-epoch ms", "speed-up");
  for (const auto& m : results)
    std::printf("%-5s %-34.34s %11.4g %8.2f %8.0f%% %10.3f %10.3f %11.3f %11.3f %7.2fx\n", m.backend.c_str(),
                m.device.c_str(), m.rows_per_s, m.gbs, m.ceiling_gbs > 0 ? 100.0 * m.gbs / m.ceiling_gbs : 0.0,
                1e3 * m.pass_s, 1e3 * m.setup_s, 1e3 * m.full_epoch_s, 1e3 * m.mini_epoch_s, base.pass_s / m.pass_s);
  std::printf("ceiling: CPU = read-only pass over the same bytes; GPU = device-to-device copy. setup: a fit's set-up "
              "(backend, upload, first pass; not the CUDA context). mb-epoch: batch %lld, running loss.\n",
              static_cast<long long>(a.batch));
  if (tts) {
    std::printf("\ntime to solution (wall, incl. set-up):\n");
    for (const auto& m : results) {
      auto show = [](double s, std::int64_t e) {
        char buf[64];
        if (s < 0) std::snprintf(buf, sizeof buf, "not reached in %lld epochs", static_cast<long long>(e));
        else std::snprintf(buf, sizeof buf, "%.3f s (%lld epochs)", s, static_cast<long long>(e));
        return std::string(buf);
      };
      std::printf("%-5s full batch %-28s mini-batch %s\n", m.backend.c_str(),
                  show(m.tts_full_s, m.tts_full_epochs).c_str(), show(m.tts_mini_s, m.tts_mini_epochs).c_str());
    }
  }
}

/// The --json file: the machine, this build, the options and every result.
void write_json(const std::vector<Measured>& results, const BenchArgs& a, double bytes, double optimum) {
  const Measured& base = results.front();
  nlohmann::json j;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const BuildInfo info = build_info();
  j["machine"] = {{"cpu", machine_name()},
                  {"host", host},
                  {"cpu_threads", info.cpu_threads},
                  {"cpu_kernels", info.cpu_kernels},
                  {"cpu_prefetch_bytes", info.cpu_prefetch_bytes}};
  j["steepest"] = {{"version", STEEPEST_VERSION_STRING}, {"commit", STEEPEST_GIT_COMMIT}};
  j["options"] = {{"rows", a.spec.rows}, {"features", a.spec.cols}, {"dtype", a.dtype}, {"epochs", a.epochs},
                  {"batch_size", a.batch}, {"bytes", bytes}, {"optimum_mse", optimum},
                  {"solver_epochs", a.solver_epochs}};
  for (const auto& m : results) {
    nlohmann::json r = {{"backend", m.backend}, {"device", m.device}, {"pass_seconds", m.pass_s},
                        {"gb_per_s", m.gbs}, {"rows_per_s", m.rows_per_s}, {"ceiling_gb_per_s", m.ceiling_gbs},
                        {"setup_seconds", m.setup_s},
                        {"full_epoch_seconds", m.full_epoch_s}, {"minibatch_epoch_seconds", m.mini_epoch_s},
                        {"tts_full_seconds", m.tts_full_s}, {"tts_full_epochs", m.tts_full_epochs},
                        {"tts_minibatch_seconds", m.tts_mini_s}, {"tts_minibatch_epochs", m.tts_mini_epochs},
                        {"speedup_vs_first", base.pass_s / m.pass_s}};
    // The Gram pass and the fits with each solver: -1 seconds when not measured.
    r["gram_pass_seconds"] = m.gram_pass_s;
    r["gram_gb_per_s"] = m.gram_gbs;
    r["gram_gfma_per_s"] = m.gram_gfmas;
    r["fit_residual_seconds"] = m.fit_residual_s;
    r["fit_gram_seconds"] = m.fit_gram_s;
    r["fit_gram_pass_seconds"] = m.fit_gram_pass_s;
    r["fit_residual_over_gram"] = m.fit_gram_s > 0 && m.fit_residual_s > 0 ? m.fit_residual_s / m.fit_gram_s : 0.0;
    r["fit_residual_final_mse"] = m.fit_residual_mse;
    r["fit_gram_final_mse"] = m.fit_gram_mse;
    if (!m.gram_error.empty()) r["gram_error"] = m.gram_error;
    j["results"].push_back(std::move(r));
  }
  io::write_file_atomically(a.json, j.dump(2) + "\n");
}

/// Bars of \p value(m) for each result in \p groups, in a frame of its own (one colour a backend).
template <typename Value>
void bench_bars(svg::Picture& pic, const svg::Frame& f, const std::vector<Measured>& results,
                const std::vector<std::string>& groups, Value value) {
  const double share = 0.7 / static_cast<double>(results.size());
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (std::size_t k = 0; k < results.size(); ++k) {
      const double x0 = static_cast<double>(g) + 0.15 + share * static_cast<double>(k);
      pic.bar(f, x0, x0 + share, value(results[k], g), svg::colour(k), groups[g], results[k].backend);
    }
}

/// The --plot picture: milliseconds per epoch (full batch, mini-batch) and the fused pass's
/// percent of its device's ceiling, a bar a backend; without a GPU, the CPU's and a note.
std::string bench_svg(const std::vector<Measured>& results, const BenchArgs& a, const std::string& note,
                      const std::string& why) {
  char head[160];
  std::snprintf(head, sizeof head, "steepest bench: %lld rows x %lld features, %s", static_cast<long long>(a.spec.rows),
                static_cast<long long>(a.spec.cols), a.dtype.c_str());
  std::string devices;
  for (const auto& m : results) devices += (devices.empty() ? "" : "; ") + m.backend + ": " + m.device;
  svg::Picture pic(800, 600, head, devices);
  svg::Frame epochs, ceiling;
  epochs.id = "epoch-time", ceiling.id = "ceiling";
  epochs.left = 90, epochs.width = 330, ceiling.left = 540, ceiling.width = 200;
  double top_ms = 0;
  for (const auto& m : results) top_ms = std::max({top_ms, 1e3 * m.full_epoch_s, 1e3 * m.mini_epoch_s});
  epochs.x = {0, 2, false, "", {"full-batch epoch", "mini-batch (B=" + std::to_string(a.batch) + ")"}};
  epochs.y = {0, top_ms > 0 ? top_ms * 1.08 : 1, false, "milliseconds per epoch", {}};
  ceiling.x = {0, 1, false, "", {"fused loss+gradient pass"}};
  ceiling.y = {0, 100, false, "percent of the device's ceiling", {}};
  pic.axes(epochs);
  pic.axes(ceiling);
  bench_bars(pic, epochs, results, epochs.x.categories,
             [](const Measured& m, std::size_t g) { return 1e3 * (g == 0 ? m.full_epoch_s : m.mini_epoch_s); });
  bench_bars(pic, ceiling, results, ceiling.x.categories, [](const Measured& m, std::size_t) {
    return m.ceiling_gbs > 0 ? std::min(100.0, 100.0 * m.gbs / m.ceiling_gbs) : 0.0;
  });
  std::vector<svg::LegendEntry> legend;
  for (std::size_t k = 0; k < results.size(); ++k) legend.push_back({results[k].backend, svg::colour(k), false, true});
  pic.legend(ceiling.left + ceiling.width, ceiling.top + 8, legend);
  pic.text(400, 572, note, "middle", 13, "note");
  pic.text(400, 590, io::printable(why, 120), "middle", 10, "reason");
  return pic.finish();
}

int run_bench(BenchArgs& a) {
  if (!a.json.empty()) io::check_writable(a.json, "--json");
  if (!a.plot.empty()) io::check_writable(a.plot, "--plot");
  io::check_distinct_files({{"--json", a.json}, {"--plot", a.plot}}, {});
  const bool f32 = a.dtype == "float32";
  const bool want_cpu = a.device != "cuda", want_cuda = a.device != "cpu";
  if (a.device == "cuda" && !detail::cuda_usable())
    throw DeviceUnavailable("bench --device cuda: " + cuda_unavailable_reason());

  const io::SyntheticData data = io::make_synthetic(a.spec);
  std::vector<float> x32, y32;
  MatrixView X = data.x_view();
  VectorView y = data.y_view();
  if (f32) {
    x32.assign(data.X.begin(), data.X.end());
    y32.assign(data.y.begin(), data.y.end());
    X = make_matrix_view(x32.data(), a.spec.rows, a.spec.cols);
    y = make_vector_view(y32.data(), a.spec.rows);
  }
  const double bytes = static_cast<double>((a.spec.rows * a.spec.cols + a.spec.rows) * dtype_size(X.dtype));
  // Time to solution needs the least-squares optimum, solved here by normal equations (up
  // to 256 features), and an epoch cap above 0.
  const bool tts = a.spec.cols <= 256 && a.tts_epochs > 0;
  const double optimum = tts ? io::least_squares(X, y).mse : 0.0;
  const char* tts_note = tts                 ? "time to solution: MSE within 1e-6 of the least-squares optimum"
                         : a.tts_epochs == 0 ? "no time to solution (--tts-epochs 0)"
                                             : "no time to solution (d > 256)";
  if (!a.quiet)
    std::printf("bench: %lld rows x %lld features, %s, %.1f MB; %s\n", static_cast<long long>(a.spec.rows),
                static_cast<long long>(a.spec.cols), a.dtype.c_str(), bytes / 1e6, tts_note);

  std::vector<Measured> results;
  for (const bool gpu : {false, true}) {
    if (gpu ? !(want_cuda && detail::cuda_usable()) : !want_cpu) continue;
    results.push_back(measure(gpu, X, y, a, bytes, tts, optimum));
  }
  if (!a.quiet) {
    print_results(results, a, tts);
    print_gram(results, a);
  }
  if (!a.json.empty()) write_json(results, a, bytes, optimum);
  if (!a.plot.empty()) {
    const bool no_gpu = want_cuda && !detail::cuda_usable();
    const std::string note = no_gpu            ? "no usable GPU on this machine: CPU bars only"
                             : a.device == "cpu" ? "--device cpu: CPU bars only"
                                                 : "ceiling: CPU = read-only pass over the same bytes; GPU = device-to-device copy";
    io::write_file_atomically(a.plot, bench_svg(results, a, note, no_gpu ? cuda_unavailable_reason() : ""));
  }
  return kOk;
}

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<BenchArgs>();
  a->spec.rows = 2'000'000;
  a->spec.cols = 16;
  auto* cmd = app.add_subcommand("bench", "CPU against GPU on generated data: throughput, epochs, time to solution");
  cmd->add_option("--rows", a->spec.rows, "Rows")->capture_default_str()->check(integer_in(1, INT64_MAX));
  cmd->add_option("--features", a->spec.cols, "Feature columns")->capture_default_str()->check(integer_in(1, INT64_MAX));
  cmd->add_option("--dtype", a->dtype, "Storage type")->capture_default_str()->check(CLI::IsMember({"float32", "float64"}));
  cmd->add_option("--device", a->device, "all (every usable backend), cpu or cuda")
      ->capture_default_str()->check(CLI::IsMember({"all", "cpu", "cuda"}));
  cmd->add_option("--epochs", a->epochs, "Epochs timed for the per-epoch figures")->capture_default_str()->check(integer_in(2, 1000000));
  cmd->add_option("--batch-size", a->batch, "Mini-batch size")->capture_default_str()->check(integer_in(1, INT64_MAX));
  cmd->add_option("--tts-epochs", a->tts_epochs, "Epoch cap for time to solution (0 = skip)")->capture_default_str()->check(integer_in(0, INT64_MAX));
  cmd->add_option("--solver-epochs", a->solver_epochs,
                  "Epochs of the full-batch fits timed with each solver, residual and gram (0 = skip the Gram part)")
      ->capture_default_str()->check(integer_in(0, 1000000));
  cmd->add_option("--threads", a->threads, "CPU threads (0 = all)")->capture_default_str()->check(integer_in(0, INT32_MAX));
  cmd->add_option("--json", a->json, "Write the results as JSON (machine, device, commit, options)");
  cmd->add_option("--plot", a->plot, "Draw the results as an SVG bar chart (time per epoch, percent of each ceiling)");
  cmd->add_flag("--quiet,-q", a->quiet, "Print nothing but errors");
  cmd->callback([&action, a] { action = [a] { return run_bench(*a); }; });
}

}  // namespace steepest::cli
