// `steepest gen`: synthetic data with planted parameters, streamed to CSV or .npy in blocks
// generated in parallel, written in order; the planted model goes to FILE.planted.json.
#include <cfloat>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.hpp"
#include "io/atomic_file.hpp"
#include "io/npy.hpp"
#include "io/synthetic.hpp"

namespace steepest::cli {
namespace {

struct GenArgs {
  io::SyntheticSpec spec;
  std::string scales;
  std::string output;
  std::string dtype = "float64";
  bool quiet = false;
};

constexpr std::int64_t kRowsPerTask = 1 << 14;

/// Shortest text that reads back as the same value (of the stored type).
void append_number(std::string& out, double v, bool f32) {
  char buf[32];
  const auto res = f32 ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v))
                       : std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

/// Rows [lo, hi) in the output encoding: CSV text or raw little-endian values, target last.
std::string encode(const io::SyntheticSpec& spec, const io::Planted& model, std::int64_t lo,
                   std::int64_t hi, bool csv, bool f32) {
  const auto d = static_cast<std::size_t>(spec.cols);
  const auto m = static_cast<std::size_t>(hi - lo);
  std::vector<double> X(m * d), y(m);
  io::synthetic_rows(spec, model, lo, hi, X.data(), y.data());
  std::string out;
  if (csv) {
    out.reserve(m * (d + 1) * 12);
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t k = 0; k < d; ++k) {
        append_number(out, X[i * d + k], f32);
        out += ',';
      }
      append_number(out, y[i], f32);
      out += '\n';
    }
  } else {
    const std::size_t es = f32 ? 4 : 8;
    out.resize(m * (d + 1) * es);
    char* p = out.data();
    auto put = [&](double v) {
      if (f32) {
        const auto f = static_cast<float>(v);
        std::memcpy(p, &f, 4);
      } else {
        std::memcpy(p, &v, 8);
      }
      p += es;
    };
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t k = 0; k < d; ++k) put(X[i * d + k]);
      put(y[i]);
    }
  }
  return out;
}

int run_gen(GenArgs& a) {
  const bool csv = !ends_with(a.output, ".npy");
  const bool f32 = a.dtype == "float32";
  if (!a.scales.empty()) {
    a.spec.scales = parse_numbers(a.scales, "--scales");
    if (a.spec.scales.size() == 1) a.spec.scales.assign(static_cast<std::size_t>(a.spec.cols), a.spec.scales[0]);
  }
  const std::string planted_path = a.output + ".planted.json";
  io::check_writable(a.output, "--output");
  if (io::writes_in_place(a.output))
    throw InvalidArgument("--output '" + a.output + "': gen writes FILE and FILE.planted.json beside it, so FILE "
                          "must be a regular file (or a new one), not a device or a pipe");
  io::check_writable(planted_path, "the planted model");
  io::check_distinct_files({{"--output", a.output}, {"the planted model", planted_path}}, {});
  // Every value written must be finite in the stored type (float32 overflows at 3.4e38).
  const double top = io::largest_value(a.spec), limit = f32 ? FLT_MAX : DBL_MAX;
  if (!(top <= limit / (1.0 + 1e-6))) {
    char msg[256];
    std::snprintf(msg, sizeof msg,
                  "--scales and --noise: generated values could reach %.3g, beyond the largest %s (%.3g); "
                  "give smaller --scales or --noise",
                  top, f32 ? "float32" : "float64", limit);
    throw InvalidArgument(msg);
  }
  const io::Planted model = io::planted_model(a.spec);  // validates the spec

  io::AtomicFile out(a.output);
  if (csv) {
    std::string header;
    for (std::int64_t k = 0; k < a.spec.cols; ++k) header += "x" + std::to_string(k + 1) + ",";
    out.write(header + "y\n");
  } else {
    out.write(io::npy_header(f32 ? DType::float32 : DType::float64, false, {a.spec.rows, a.spec.cols + 1}));
  }
  // Rounds of one task per core, encoded in parallel, written in row order.
  const auto cores = static_cast<std::int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  Progress progress(!a.quiet, "rows");
  std::vector<std::string> parts(static_cast<std::size_t>(cores));
  for (std::int64_t lo = 0; lo < a.spec.rows; lo += cores * kRowsPerTask) {
    std::vector<std::thread> pool;
    for (std::int64_t t = 0; t < cores; ++t) {
      const std::int64_t b = lo + t * kRowsPerTask, e = std::min(a.spec.rows, b + kRowsPerTask);
      parts[static_cast<std::size_t>(t)].clear();
      if (b < e) pool.emplace_back([&, t, b, e] { parts[static_cast<std::size_t>(t)] = encode(a.spec, model, b, e, csv, f32); });
    }
    for (auto& th : pool) th.join();
    for (const auto& p : parts) out.write(p);
    progress.update(std::min(a.spec.rows, lo + cores * kRowsPerTask), a.spec.rows);
  }

  nlohmann::json j;
  j["weights"] = model.weights;
  j["bias"] = model.bias;
  j["noise"] = a.spec.noise;
  j["seed"] = a.spec.seed;
  j["rows"] = a.spec.rows;
  j["features"] = a.spec.cols;
  j["scales"] = a.spec.scales;
  j["data"] = a.output;
  j["columns"] = "x1..xd then y";
  out.commit();
  io::write_file_atomically(planted_path, j.dump(2) + "\n");
  if (!a.quiet) {
    std::printf("wrote %s: %lld rows x %lld features + target (%s)\n", a.output.c_str(),
                static_cast<long long>(a.spec.rows), static_cast<long long>(a.spec.cols),
                csv ? "CSV" : (f32 ? ".npy float32" : ".npy float64"));
    std::printf("planted weights");
    for (double w : model.weights) std::printf(" %g", w);
    std::printf(", bias %g, noise sd %g (in %s)\n", model.bias, a.spec.noise, planted_path.c_str());
  }
  return kOk;
}

}  // namespace

void add_gen_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<GenArgs>();
  auto* cmd = app.add_subcommand("gen", "Write synthetic regression data with planted weights (CSV or .npy)");
  cmd->add_option("--output,-o", a->output, "Output file; .npy writes one matrix (target last), else CSV")->required();
  cmd->add_option("--rows", a->spec.rows, "Rows")->capture_default_str()->check(integer_in(1, INT64_MAX));
  cmd->add_option("--features", a->spec.cols, "Feature columns")->capture_default_str()->check(integer_in(1, INT64_MAX));
  cmd->add_option("--noise", a->spec.noise, "Noise standard deviation")->capture_default_str()->check(real_in(0.0));
  cmd->add_option("--seed", a->spec.seed, "Seed of the planted model and the data")->capture_default_str()->check(any_unsigned());
  cmd->add_option("--scales", a->scales, "Feature k uniform in [-s_k, s_k): one value or one per feature");
  cmd->add_option("--dtype", a->dtype, "Stored type: float64, or float32 (values rounded once)")
      ->capture_default_str()->check(CLI::IsMember({"float64", "float32"}));
  cmd->add_flag("--quiet,-q", a->quiet, "Print nothing but errors");
  cmd->callback([&action, a] { action = [a] { return run_gen(*a); }; });
}

}  // namespace steepest::cli
