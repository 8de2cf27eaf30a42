// Golden outputs: the model, history, trace, checkpoint and prediction files of a fixed set
// of CPU runs, byte for byte as committed in tests/data/golden/<run>/.  A refactor that
// changes no behaviour keeps every byte; a change that moves a result fails here first.
//
// Only what cannot be the same twice is masked: the two timings, the version and (in
// checkpoints) the commit of the build.  Each run is made with every CPU kernel set (avx512,
// avx2 and baseline; STEEPEST_CPU_KERNELS=avx2 or =baseline caps the set on a wider machine;
// a set this machine does not run is skipped).  The baseline and the others may
// differ in the last bits in general, but give the same bytes on these runs, so one set of
// files serves every set; should a change make them differ here, give each set its own folder.
// Not among the runs: one feature stored contiguously, whose `omp simd` loop groups its
// sums by the vector width the compiler picks: its last bits differ between the kernel sets
// in a -O3 release build, and between that build and CI's -O2 sanitizer build.
//
// Regenerating (only for a change whose new results were checked on their own):
//   STEEPEST_UPDATE_GOLDEN=1 ctest --test-dir build -R Golden
// rewrites the files; review the diff before committing it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli_support.hpp"

namespace {

using namespace cli_test;

struct GoldenRun {
  const char* name;
  std::vector<std::string> args;           // after "fit DATA"; the outputs are added
  const char* data = "d.csv";              // made by setup()
  std::vector<std::string> outputs = {"model.json", "history.csv", "trace.csv"};
};

/// Replaces the value after each "key": in JSON text by 0 (timings, the version and the
/// commit a checkpoint records).
std::string mask(std::string json) {
  for (const std::string key : {"setup_seconds", "wall_seconds", "gram_seconds", "version", "commit"}) {
    const std::string quoted = "\"" + key + "\":";
    for (std::size_t at = json.find(quoted); at != std::string::npos; at = json.find(quoted, at + 1)) {
      std::size_t v = at + quoted.size();
      while (v < json.size() && json[v] == ' ') ++v;
      std::size_t end = v;
      if (end < json.size() && json[end] == '"') {
        end = json.find('"', end + 1) + 1;
      } else {
        while (end < json.size() && std::strchr("+-.0123456789eE", json[end]) != nullptr) ++end;
      }
      json.replace(v, end - v, "0");
    }
  }
  return json;
}

class Golden : public Cli, public ::testing::WithParamInterface<const char*> {
 protected:
  /// The CLI run with the working directory in the test's folder (relative paths in the
  /// files) and the kernel set of this test.
  Result in_dir(const std::vector<std::string>& args) const {
    // No GPU is visible, so commands without --device (evaluate) run on the CPU too.
    return run(args, "cd " + quote(dir_) + " && env " + quote(std::string("STEEPEST_CPU_KERNELS=") + GetParam()) +
                         " CUDA_VISIBLE_DEVICES=");
  }

  /// Skips when this machine does not run the kernel set \p GetParam().
  void require_kernels() {
    const Result info = in_dir({"info"});
    ASSERT_EQ(info.code, 0) << info;
    const std::string want = std::string("cpu kernels    ") + GetParam() + "\n";
    if (info.out.find(want) == std::string::npos)
      GTEST_SKIP() << "this machine does not run the " << GetParam() << " kernels; their golden files are "
                   << "checked on one that does (CI's x86-64 machines run both)";
  }

  void make_data() {
    for (const auto& g : std::vector<std::vector<std::string>>{
             {"gen", "-o", "d.csv", "--rows", "3000", "--features", "4", "--seed", "11", "-q"},
             {"gen", "-o", "s.csv", "--rows", "2000", "--features", "3", "--seed", "5", "--scales", "1,100,0.01", "-q"},
             {"gen", "-o", "f32.npy", "--rows", "2500", "--features", "5", "--seed", "3", "--dtype", "float32", "-q"},
             {"gen", "-o", "f32w.npy", "--rows", "1501", "--features", "21", "--seed", "8", "--dtype", "float32",
              "-q"}}) {
      const Result r = in_dir(g);
      ASSERT_EQ(r.code, 0) << r;
    }
    // Weights 1, 2, 3, 1, 2, 3, ... one per row of d.csv.
    std::string w;
    for (int i = 0; i < 3000; ++i) w += std::to_string(1 + i % 3) + "\n";
    write_all(dir_ + "/w.txt", w);

  }

  /// Compares \p file of run \p run with its golden copy (or writes it when updating).
  void check(const std::string& run, const std::string& file) {
    const std::string got_path = dir_ + "/" + run + "." + file;
    ASSERT_TRUE(fs::exists(got_path)) << run << " did not write " << file;
    const std::string got = mask(read_all(got_path));
    const fs::path golden = fs::path(test_source_dir()) / "data" / "golden" / run / file;
    const char* update = std::getenv("STEEPEST_UPDATE_GOLDEN");
    if (update != nullptr && std::string(update) == "1") {
      fs::create_directories(golden.parent_path());
      write_all(golden.string(), got);
      std::printf("updated %s\n", golden.string().c_str());
      return;
    }
    ASSERT_TRUE(fs::exists(golden)) << golden << " is missing (STEEPEST_UPDATE_GOLDEN=1 writes it)";
    const std::string want = read_all(golden.string());
    if (got == want) return;
    std::size_t at = 0;
    while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
    const std::size_t from = at < 80 ? 0 : at - 80;
    ADD_FAILURE() << run << "/" << file << " differs from " << golden << " at byte " << at << ":\n--- golden ---\n"
                  << want.substr(from, 200) << "\n--- this build ---\n" << got.substr(from, 200);
  }

  /// `fit DATA ARGS --output RUN.model.json --history ... --trace ...`, then the checks.
  void fit_and_check(const GoldenRun& run, int expect_code = 0) {
    std::vector<std::string> args = {"fit", run.data, "--device", "cpu", "--threads", "2", "-q"};
    args.insert(args.end(), run.args.begin(), run.args.end());
    const std::string p = std::string(run.name) + ".";
    for (const auto& o : run.outputs) {
      if (o == "model.json") args.insert(args.end(), {"--output", p + o});
      if (o == "history.csv") args.insert(args.end(), {"--history", p + o});
      if (o == "trace.csv") args.insert(args.end(), {"--trace", p + o});
      if (o == "checkpoint.json") args.insert(args.end(), {"--checkpoint", p + o});
    }
    const Result r = in_dir(args);
    ASSERT_EQ(r.code, expect_code) << r;
    write_all(dir_ + "/" + p + "stderr.txt", r.err);
    for (const auto& o : run.outputs) check(run.name, o);
  }
};

TEST_P(Golden, FixedRunsKeepEveryByte) {
  require_kernels();
  if (IsSkipped()) return;
  make_data();
  const std::vector<GoldenRun> runs = {
      {"full_batch_lr_auto", {"--lr", "auto", "--epochs", "30"}},
      {"minibatch_momentum_running", {"--batch-size", "128", "--optimizer", "momentum", "--lr", "0.01",
                                      "--epochs", "8", "--seed", "7", "--history-mode", "running"}},
      {"nesterov_heldout_early_stop", {"--optimizer", "nesterov", "--momentum", "0.8", "--lr", "0.05",
                                       "--validation-fraction", "0.2", "--tol", "1e-3", "--epochs", "300",
                                       "--batch-size", "500", "--seed", "3"}},
      {"adam_elastic_invscaling", {"--optimizer", "adam", "--lr", "0.05", "--l1", "1e-3", "--l2", "1e-2",
                                   "--schedule", "invscaling", "--epochs", "40"}},
      {"standardize_adaptive", {"--standardize", "--lr", "0.3", "--schedule", "adaptive", "--tol", "1e-6",
                                "--epochs", "200"}, "s.csv"},
      {"weights_step_no_intercept", {"--weight-file", "w.txt", "--schedule", "step", "--decay", "0.7",
                                     "--step-epochs", "5", "--no-intercept", "--init-bias", "0.25",
                                     "--init-weights", "0.1,0.2,0.3,0.4", "--lr", "0.2", "--epochs", "25"}},
      {"trace_steps_unshuffled", {"--batch-size", "700", "--trace-steps", "--no-shuffle", "--epochs", "3",
                                  "--lr", "0.1", "--l2", "0.01", "--optimizer", "nesterov"}},
      {"float32_npy_lr_auto_batches", {"--lr", "auto", "--batch-size", "256", "--epochs", "5",
                                       "--validation-fraction", "0.1", "--schedule", "exponential",
                                       "--decay", "0.9"}, "f32.npy"},
      {"longley_standardized", {"--standardize", "--lr", "auto", "--optimizer", "nesterov", "--epochs", "400"},
       "LONGLEY"},
      // Runs of 32 rows shuffled (FitOptions::shuffle_block), and fixed batches that auto runs
      // in mini-batch Gram mode as affine epochs.
      {"shuffle_block_batches", {"--batch-size", "256", "--shuffle-block", "32", "--epochs", "4", "--lr", "0.05",
                                 "--seed", "5"}},
      {"minibatch_gram_fixed_affine", {"--batch-size", "250", "--no-shuffle", "--optimizer", "momentum",
                                       "--lr", "0.05", "--epochs", "30"}},
      // Float32 rows of d = 21, no compile-time kernel (f32_rows_wide): rows in order and
      // shuffled (gathered), one row-major pass an epoch each.
      {"float32_wide_residual", {"--solver", "residual", "--lr", "0.05", "--epochs", "12"}, "f32w.npy"},
      {"float32_wide_shuffled_batches", {"--solver", "residual", "--batch-size", "100", "--lr", "0.02",
                                         "--epochs", "3", "--seed", "4"}, "f32w.npy"},
  };
  fs::copy_file(nist("Longley"), dir_ + "/longley.csv");
  for (GoldenRun run : runs) {
    if (std::string(run.data) == "LONGLEY") run.data = "longley.csv";
    SCOPED_TRACE(run.name);
    fit_and_check(run);
  }
}

TEST_P(Golden, ResumeCheckpointAndPredictionKeepEveryByte) {
  require_kernels();
  if (IsSkipped()) return;
  make_data();
  // A mini-batch run cut at epoch 6 (its checkpoint) and resumed to 15, and what the
  // resumed model predicts.
  const std::vector<std::string> common = {"--batch-size", "300", "--optimizer", "adam", "--lr", "0.02",
                                           "--seed", "9", "--checkpoint-every", "2"};
  std::vector<std::string> first = common;
  first.insert(first.end(), {"--epochs", "6"});
  fit_and_check({"resume_first_part", first, "d.csv", {"checkpoint.json", "model.json"}});
  fs::copy_file(dir_ + "/resume_first_part.checkpoint.json", dir_ + "/resume_second_part.checkpoint.json");
  std::vector<std::string> second = common;
  second.insert(second.end(), {"--epochs", "15", "--resume", "resume_second_part.checkpoint.json"});
  fit_and_check({"resume_second_part", second, "d.csv", {"model.json", "history.csv", "trace.csv", "checkpoint.json"}});
  const Result p = in_dir({"predict", "resume_second_part.model.json", "d.csv", "-o", "resume_second_part.predictions.csv"});
  ASSERT_EQ(p.code, 0) << p;
  check("resume_second_part", "predictions.csv");
  const Result e = in_dir({"evaluate", "resume_second_part.model.json", "d.csv"});
  ASSERT_EQ(e.code, 0) << e;
  write_all(dir_ + "/resume_second_part.evaluate.txt", e.out);
  check("resume_second_part", "evaluate.txt");
}

TEST_P(Golden, DivergenceKeepsItsMessage) {
  require_kernels();
  if (IsSkipped()) return;
  make_data();
  // Nothing is written (a diverged fit keeps no model); the message is the output.
  fit_and_check({"diverged", {"--lr", "3", "--optimizer", "momentum", "--epochs", "100"}, "d.csv",
                 {"stderr.txt"}},
                /*expect_code=*/3);
}

INSTANTIATE_TEST_SUITE_P(Kernels, Golden, ::testing::Values("avx512", "avx2", "baseline"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
