// End-to-end tests of the steepest command-line tool (see cli_support.hpp): numerical results of the CLI paths.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cli_support.hpp"

namespace {

using namespace cli_test;
namespace fs = std::filesystem;

double model_number(const std::string& model_path, const std::string& key) {
  bool found = false;
  const double v = json_number(read_all(model_path), key, &found);
  EXPECT_TRUE(found) << key << " in " << model_path;
  return v;
}

// Issue 11, item 12: every --standardize fit runs the on_epoch mapping the CLI installs
// (AddressSanitizer reported a vector used after its scope there; the ASan CI stage runs
// this test).
TEST_F(Cli, StandardizedFitRunsThroughTheCliPath) {
  std::string text = "a,b,y\n";
  for (int i = 0; i < 40; ++i) {
    const double a = 100.0 + i, b = 0.01 * ((i * 7) % 13);
    text += std::to_string(a) + "," + std::to_string(b) + "," + std::to_string(2.0 * a - 300.0 * b + 5.0) + "\n";
  }
  const std::string data = csv("s.csv", text), model = out_ + "/m.json", trace = out_ + "/t.csv";
  const Result r = run({"fit", data, "--standardize", "--lr", "auto", "--epochs", "3000", "--device", "cpu",
                        "--trace", trace, "-o", model});
  ASSERT_EQ(r.code, 0) << r;
  const std::string m = read_all(model);
  const auto w = m.find("\"weights\"");
  ASSERT_NE(w, std::string::npos) << m;
  bool found = false;
  EXPECT_NEAR(json_number(m.substr(w), "weights", &found), 2.0, 1e-8) << m;
  EXPECT_NEAR(model_number(model, "bias"), 5.0, 1e-6) << m;
  EXPECT_TRUE(contains(read_all(trace), "3000,")) << "the trace holds the mapped epochs";
}

// Issue 11, item 1: --standardize --no-intercept scales without centring (NIST NoInt1/2).
TEST_F(Cli, StandardizeWithoutInterceptReachesTheCertifiedNoIntValues) {
  for (const auto& [name, b1] : {std::pair<std::string, double>{"NoInt1", 2.07438016528926},
                                 {"NoInt2", 0.727272727272727}}) {
    const std::string model = out_ + "/" + name + ".json";
    const Result r = run({"fit", nist(name), "--standardize", "--no-intercept", "--lr", "auto", "--epochs", "200",
                          "--device", "cpu", "-q", "-o", model});
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_NEAR(model_number(model, "weights"), b1, 1e-13 * b1) << name;
    EXPECT_EQ(model_number(model, "bias"), 0.0) << name;
  }
}

// Issue 11, item 5: lr auto includes the L2 penalty's curvature.
TEST_F(Cli, LrAutoWithL2DoesNotDiverge) {
  std::mt19937_64 gen(5);
  std::normal_distribution<double> e(0.0, 1.0);
  std::string text = "x,y\n";
  for (int i = 0; i < 300; ++i) {
    const double x = e(gen);
    text += std::to_string(x) + "," + std::to_string(3.0 * x + 1.0 + 0.1 * e(gen)) + "\n";
  }
  const std::string data = csv("l2.csv", text), model = out_ + "/m.json";
  const Result r = run({"fit", data, "--lr", "auto", "--l2", "10", "--epochs", "500", "--device", "cpu", "-q",
                        "-o", model});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(read_all(model), "\"stop_reason\": \"max_epochs\"")) << read_all(model);
  EXPECT_GT(model_number(model, "curvature"), 20.0);
}

// Issue 11, item 6: a held-out part (or training part) whose weights sum to zero.
TEST_F(Cli, HeldOutSplitWithZeroWeightIsRefused) {
  std::string text = "x,w,y\n";
  for (int i = 0; i < 10; ++i) text += std::to_string(i) + "," + (i == 3 ? "1" : "0") + "," + std::to_string(2 * i) + "\n";
  const std::string data = csv("w.csv", text);
  const Result r = expect_bad_input({"fit", data, "--weight-column", "w", "--validation-fraction", "0.2",
                                     "--tol", "0.001", "--device", "cpu"});
  EXPECT_TRUE(contains(r.err, "0.2")) << r;
  EXPECT_TRUE(contains(r.err, "zero")) << r;
}

// Issue 11, item 14: absurd thread counts are refused before any work.
TEST_F(Cli, AbsurdThreadCountsAreRefused) {
  const Result r = expect_bad_input({"fit", tutorial(), "--threads", "100000", "--device", "cpu"});
  EXPECT_TRUE(contains(r.err, "threads")) << r;
  EXPECT_TRUE(contains(r.err, "100000")) << r;
}

// ---- STEEPEST_CPU_PREFETCH: rows in order asked for ahead, a hint that changes no bit ---------

/// The text of "weights": [...] in \p model_path.
std::string weights_text(const std::string& model_path) {
  const std::string m = read_all(model_path);
  const auto at = m.find("\"weights\"");
  return at == std::string::npos ? std::string() : m.substr(at, m.find(']', at) - at);
}

TEST_F(Cli, InfoNamesTheCpuPrefetchDistance) {
  const Result off = run({"info"}, "env STEEPEST_CPU_PREFETCH=0");
  ASSERT_EQ(off.code, 0) << off;
  EXPECT_TRUE(contains(off.out, "cpu prefetch   off")) << off;
  const Result on = run({"info"}, "env STEEPEST_CPU_PREFETCH=2048");
  ASSERT_EQ(on.code, 0) << on;
  EXPECT_TRUE(contains(on.out, "cpu prefetch   rows in order, 2048 bytes ahead")) << on;
  // Not a number: the machine's default, as with no setting at all.
  const Result junk = run({"info"}, "env STEEPEST_CPU_PREFETCH=lots");
  const Result none = run({"info"}, "env -u STEEPEST_CPU_PREFETCH");
  ASSERT_EQ(junk.code, 0) << junk;
  EXPECT_EQ(junk.out, none.out);
}

// Every kernel that streams rows in order (float32 d = 4 and 16 rows, float64 d = 2 and 12
// rows, the Gram pass at d = 4) gives the same bits with the prefetches off, 64 bytes ahead
// (inside every chunk) and 4 KB ahead.
TEST_F(Cli, CpuPrefetchDistanceChangesNoBit) {
  const std::vector<std::vector<std::string>> sets = {{"f4.npy", "4", "float32"},
                                                      {"f16.npy", "16", "float32"},
                                                      {"d2.npy", "2", "float64"},
                                                      {"d12.npy", "12", "float64"}};
  for (const auto& s : sets) {
    const Result g = run({"gen", "-o", dir_ + "/" + s[0], "--rows", "60000", "--features", s[1], "--dtype", s[2],
                          "--seed", "7", "-q"});
    ASSERT_EQ(g.code, 0) << g;
  }
  for (const auto& s : sets) {
    for (const std::string solver : {"residual", "gram"}) {
      if (solver == "gram" && s[0] != "f4.npy") continue;
      std::vector<std::string> got;
      for (const std::string bytes : {"0", "64", "4096"}) {
        const std::string model = out_ + "/" + s[0] + solver + bytes + ".json";
        const std::string history = out_ + "/" + s[0] + solver + bytes + ".csv";
        const Result r = run({"fit", dir_ + "/" + s[0], "--solver", solver, "--epochs", "4", "--lr", "0.05",
                              "--device", "cpu", "--threads", "2", "-o", model, "--history", history, "-q"},
                             "env STEEPEST_CPU_PREFETCH=" + bytes);
        ASSERT_EQ(r.code, 0) << r;
        got.push_back(weights_text(model) + "\n" + read_all(history));
        ASSERT_GT(got.back().size(), 20u) << got.back();
      }
      EXPECT_EQ(got[0], got[1]) << s[0] << " " << solver << ": 64 bytes ahead";
      EXPECT_EQ(got[0], got[2]) << s[0] << " " << solver << ": 4096 bytes ahead";
    }
  }
}

// ---- checkpoints (item 13) -----------------------------------------------------------------

/// \p text with the JSON value of "key" (a scalar or an array) replaced by \p value.
std::string with_value(std::string text, const std::string& key, const std::string& value) {
  const std::string k = "\"" + key + "\": ";
  const auto at = text.find(k);
  EXPECT_NE(at, std::string::npos) << key;
  if (at == std::string::npos) return text;
  const std::size_t begin = at + k.size();
  std::size_t end = begin;
  if (text[begin] == '[') {
    end = text.find(']', begin) + 1;
  } else if (text[begin] == '"') {
    end = text.find('"', begin + 1) + 1;
  } else {
    while (end < text.size() && text[end] != ',' && text[end] != '\n') ++end;
  }
  return text.replace(begin, end - begin, value);
}

class CliCheckpoint : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    std::string text = "a,b,y\n";
    for (int i = 0; i < 200; ++i)
      text += std::to_string(0.01 * i) + "," + std::to_string((i * 37) % 11) + "," + std::to_string(i % 7) + "\n";
    data_ = csv("d.csv", text);
    ck_ = out_ + "/ck.json";
    const Result r = run(args({"--epochs", "3", "--checkpoint", ck_}));
    ASSERT_EQ(r.code, 0) << r;
    text_ = read_all(ck_);
  }
  std::vector<std::string> args(std::vector<std::string> extra) const {
    std::vector<std::string> a{"fit", data_, "--batch-size", "32", "--lr", "0.01", "--device", "cpu", "-q"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::string data_, ck_, text_;
};

TEST_F(CliCheckpoint, EditedCheckpointsAreRefusedNamingTheField) {
  struct Edit {
    std::string key, value, named;
  };
  const std::vector<Edit> edits = {
      {"batch", "9223372036854775807", "batch"},
      {"batch", "1000000000000", "batch"},
      {"batch", "7", "batch"},  // 7 x 32 rows: past the 200
      {"batch", "-1", "batch"},
      {"epoch", "-1", "epoch"},
      {"epoch", "1000000000000000000", "epoch"},
      {"steps", "18446744073709551615", "steps"},
      {"steps", "1.5", "steps"},
      {"steps", "\"7\"", "steps"},
      {"steps", "5", "steps"},
      {"stalled", "-3", "stalled"},
      {"weights", "[]", "weights"},
      {"weights", "[1, \"nan\"]", "weights"},
      {"weights", "[1, true]", "weights"},
      {"bias", "\"inf\"", "bias"},
      {"epoch_weights", "[1, 2, 3]", "epoch_weights"},
      {"optimizer_state", "[0, 0]", "optimizer_state"},
      {"running_sse", "-1", "running_sse"},
      {"running_rows", "\"nan\"", "running_rows"},
      {"learning_rate", "0", "learning_rate"},
      {"learning_rate", "-1e308", "learning_rate"},
      {"rate", "\"-inf\"", "rate"},
      {"best_loss", "\"nan\"", "best_loss"},
      {"curvature", "-1", "curvature"},
      {"loss_history", "[]", "loss_history"},
      {"loss_history", "[1, 2]", "loss_history"},
      {"heldout_loss_history", "[1, 2, 3, 4]", "heldout_loss_history"},
      {"rows", "-5", "rows"},
      {"rows", "9223372036854775807", "rows"},
      {"cols", "0", "cols"},
      {"backend", "\"gpu\"", "backend"},
      {"converged", "1", "converged"},
      {"seed", "\"5\"", "seed"},
      {"format", "5", "format"},
      {"format_version", "18446744073709551615", "format_version"},
  };
  for (std::size_t k = 0; k < edits.size(); ++k) {
    const Edit& e = edits[k];
    SCOPED_TRACE(e.key + " = " + e.value);
    const std::string path = out_ + "/edit" + std::to_string(k) + ".json";
    write_all(path, with_value(text_, e.key, e.value));
    const Result r = expect_bad_input(args({"--epochs", "6", "--resume", path}));
    EXPECT_TRUE(contains(r.err, "\"" + e.named + "\"")) << r;
    EXPECT_LT(r.err.size(), 600u) << r;
  }
  // The unedited checkpoint resumes.
  const Result ok = run(args({"--epochs", "6", "--resume", ck_}));
  EXPECT_EQ(ok.code, 0) << ok;
}

// A device or FIFO given as the checkpoint is refused, not read forever.
TEST_F(CliCheckpoint, NonRegularCheckpointFilesAreRefused) {
  const Result r = expect_bad_input(args({"--epochs", "6", "--resume", "/dev/zero"}));
  EXPECT_TRUE(contains(r.err, "not a regular file")) << r;
}

// Non-UTF-8 bytes in the data's path end up in the checkpoint's "data" string: they are
// replaced, not a JSON exception at the end of a finished fit.
TEST_F(CliCheckpoint, NonUtf8PathIsWrittenIntoTheCheckpoint) {
  const std::string odd = dir_ + "/d\xff\xfe.csv";
  fs::copy_file(data_, odd);
  const std::string ck = out_ + "/odd.json";
  Result r = run({"fit", odd, "--batch-size", "32", "--lr", "0.01", "--device", "cpu", "-q", "--epochs", "2",
                  "--checkpoint", ck});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(read_all(ck), "\"data\": \"")) << read_all(ck);
  r = run({"fit", odd, "--batch-size", "32", "--lr", "0.01", "--device", "cpu", "-q", "--epochs", "4", "--resume", ck});
  EXPECT_EQ(r.code, 0) << r;
}

// The summary prints the curvature of lr auto in %g: std::to_string printed 5e-12 as
// "0.000000" and 1e300 with 301 digits.
TEST_F(Cli, AutoRateSummaryPrintsTinyAndHugeCurvaturesReadably) {
  const Result tiny = run({"fit", csv("tiny.csv", "x,y\n1e-6,3e-6\n2e-6,5e-6\n"), "--lr", "auto", "--no-intercept",
                          "--epochs", "1", "--device", "cpu"});
  ASSERT_EQ(tiny.code, 0) << tiny;
  EXPECT_TRUE(contains(tiny.out, "e-12)")) << tiny;
  EXPECT_FALSE(contains(tiny.out, "0.000000")) << tiny;
  const Result huge = run({"fit", csv("huge.csv", "x,y\n1e150,3\n2e150,5\n"), "--lr", "auto", "--no-intercept",
                          "--epochs", "1", "--device", "cpu"});
  ASSERT_EQ(huge.code, 0) << huge;
  EXPECT_TRUE(contains(huge.out, "e+300)")) << huge;
}

}  // namespace

namespace {

// Issue 16: the spectrum through the CLI.
TEST_F(Cli, OptimizerAutoReportsTheConditionAndItsChoice) {
  const std::string model = out_ + "/w.json";
  const Result r = run({"fit", nist("Wampler1"), "--standardize", "--optimizer", "auto", "--epochs", "100000",
                        "--device", "cpu", "-o", model});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "optimizer    momentum (auto: momentum 0.99")) << r;
  EXPECT_TRUE(contains(r.out, "condition    2.66")) << r;
  EXPECT_TRUE(contains(r.err, "cannot give the parameters more than 9 significant digits")) << r;
  EXPECT_NEAR(model_number(model, "condition_number"), 2.66449e6, 0.01e6);
  EXPECT_GT(model_number(model, "expected_epochs"), 1000.0);
  EXPECT_NEAR(model_number(model, "bias"), 1.0, 1e-6);
}

TEST_F(Cli, TooFewEpochsAreNamedBeforeTheFit) {
  const Result r = run({"fit", nist("Longley"), "--standardize", "--lr", "auto", "--condition", "--epochs", "100",
                        "--device", "cpu", "--solver", "residual"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.err, "this fit needs ~")) << r;
  EXPECT_TRUE(contains(r.err, "; you gave 100")) << r;
}

TEST_F(Cli, FilipIsRefusedWithExitSixAndNoModel) {
  const std::string model = out_ + "/f.json";
  const Result r = run({"fit", nist("Filip"), "--standardize", "--optimizer", "auto", "--epochs", "1000",
                        "--device", "cpu", "-o", model});
  EXPECT_EQ(r.code, 6) << r;
  EXPECT_TRUE(contains(r.err, "no certain digit")) << r;
  EXPECT_TRUE(contains(r.err, "No model written")) << r;
  EXPECT_FALSE(fs::exists(model));
}

TEST_F(Cli, MomentumAutoIsCheckedAgainstItsOptimizerAndLr) {
  const Result gd = run({"fit", nist("Norris"), "--momentum", "auto", "--device", "cpu", "-q"});
  EXPECT_EQ(gd.code, 2) << gd;
  EXPECT_TRUE(contains(gd.err, "auto momentum applies to the momentum and nesterov optimizers")) << gd;
  const Result lr = run({"fit", nist("Norris"), "--optimizer", "auto", "--lr", "0.1", "--device", "cpu", "-q"});
  EXPECT_EQ(lr.code, 2) << lr;
  EXPECT_TRUE(contains(lr.err, "drop --lr")) << lr;
  const Result bad = run({"fit", nist("Norris"), "--momentum", "1.5", "--optimizer", "momentum", "-q"});
  EXPECT_EQ(bad.code, 2) << bad;
  const std::string model = out_ + "/n.json";
  const Result ok = run({"fit", nist("Norris"), "--standardize", "--optimizer", "nesterov", "--momentum", "auto",
                         "--epochs", "3000", "--device", "cpu", "-q", "-o", model});
  ASSERT_EQ(ok.code, 0) << ok;
  EXPECT_NEAR(model_number(model, "bias"), -0.262323073774029, 1e-9);
}

}  // namespace
