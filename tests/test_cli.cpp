// End-to-end tests of the steepest command-line tool: the built binary is run with
// std::system, its stdout and stderr captured to files, and its exit code, messages and
// output files checked (0 ok, 1 other failure, 2 bad input or usage, 3 diverged).
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "cli_support.hpp"
#include "steepest/device.hpp"
#include "steepest/version.hpp"

namespace {

using namespace cli_test;
namespace fs = std::filesystem;

TEST(CliData, RepositoryDataIsFound) {
  EXPECT_TRUE(fs::exists(nist("NoInt2"))) << nist("NoInt2");
}

TEST_F(Cli, VersionPrintsTheVersion) {
  const Result r = run({"--version"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, STEEPEST_VERSION_STRING));
  EXPECT_TRUE(contains(r.out, "steepest"));
}

TEST_F(Cli, InfoSaysWhetherCudaIsCompiled) {
  const Result r = run({"info"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, STEEPEST_VERSION_STRING));
  const bool compiled = steepest::build_info().cuda_compiled;
  EXPECT_TRUE(contains(r.out, compiled ? "cuda backend   compiled" : "cuda backend   not compiled"));
  EXPECT_TRUE(contains(r.out, "cuda device"));
}

TEST_F(Cli, NoSubcommandIsAUsageError) {
  const Result r = run({});
  EXPECT_EQ(r.code, 2) << r;
}

TEST_F(Cli, FitNoInt2WritesTheCertifiedModelAndTheHistory) {
  const std::string model = out_ + "/M.json";
  const std::string history = out_ + "/H.csv";
  const Result r = run({"fit", nist("NoInt2"), "--no-intercept", "--lr", "0.01", "--epochs", "200",
                        "--output", model, "--history", history, "--quiet"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(r.out.empty()) << r;  // --quiet
  EXPECT_EQ(out_entries(), (std::set<std::string>{"M.json", "H.csv"}));

  const std::string json = read_all(model);
  for (const char* key : {"\"weights\"", "\"bias\"", "\"epochs_run\"", "\"stop_reason\"",
                          "\"final_mse\"", "\"loss_history\"", "\"backend\""})
    EXPECT_TRUE(contains(json, key));
  EXPECT_TRUE(contains(json, "\"max_epochs\""));

  bool found = false;
  const double w = json_number(json, "weights", &found);
  ASSERT_TRUE(found) << json;
  EXPECT_NEAR(w, 0.727272727272727, 1e-9);  // NIST certified B1
  const double b = json_number(json, "bias", &found);
  ASSERT_TRUE(found) << json;
  EXPECT_EQ(b, 0.0);  // --no-intercept keeps the bias at 0
  const double epochs = json_number(json, "epochs_run", &found);
  ASSERT_TRUE(found) << json;
  EXPECT_EQ(epochs, 200.0);
  const double mse = json_number(json, "final_mse", &found);
  ASSERT_TRUE(found) << json;
  EXPECT_NEAR(mse, 0.272727272727273 / 3.0, 1e-12);  // certified residual SS / n

  std::istringstream lines(read_all(history));
  std::string line;
  ASSERT_TRUE(static_cast<bool>(std::getline(lines, line)));
  EXPECT_EQ(line, "epoch,mse");
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), 201u);
  EXPECT_EQ(rows.front().rfind("0,", 0), 0u) << rows.front();
  EXPECT_EQ(rows.back().rfind("200,", 0), 0u) << rows.back();
  // The first entry is the MSE at w = 0: mean(y^2) = (9 + 16 + 16) / 3.
  EXPECT_NEAR(std::strtod(rows.front().c_str() + 2, nullptr), 41.0 / 3.0, 1e-12);
  // The last entry is the final MSE of the model (the fit runs gram: its history is the
  // Gram formula's, final_mse an exact pass, equal to rounding).
  EXPECT_NEAR(std::strtod(rows.back().c_str() + 4, nullptr), mse, 1e-13 * mse);
}

TEST_F(Cli, MissingDataFileNamesTheFile) {
  const std::string missing = dir_ + "/no-such-data.csv";
  const Result r = expect_bad_input({"fit", missing});
  EXPECT_TRUE(contains(r.err, missing));
}

TEST_F(Cli, UnknownOptionIsAUsageError) {
  expect_bad_input({"fit", nist("NoInt2"), "--no-such-option"});
  EXPECT_EQ(run({"--no-such-option"}).code, 2);
  EXPECT_EQ(run({"nosuchcommand"}).code, 2);
}

TEST_F(Cli, BadDeviceValueIsAUsageError) {
  expect_bad_input({"fit", nist("NoInt2"), "--device", "gpu"});
}

TEST_F(Cli, NonPositiveLearningRateIsAUsageError) {
  expect_bad_input({"fit", nist("NoInt2"), "--lr", "0"});
  expect_bad_input({"fit", nist("NoInt2"), "--lr", "-1"});
  expect_bad_input({"fit", nist("NoInt2"), "--lr=-1"});
  expect_bad_input({"fit", nist("NoInt2"), "--lr", "abc"});
}

TEST_F(Cli, RaggedCsvNamesTheLine) {
  const std::string data = csv("ragged.csv", "x,y\n1,2\n3\n4,5\n");
  const Result r = expect_bad_input({"fit", data});
  EXPECT_TRUE(names_line(r.err, data, 3)) << r;
}

TEST_F(Cli, NonNumericCellNamesLineAndColumn) {
  const std::string data = csv("words.csv", "x,y\n1,2\n3,abc\n");
  const Result r = expect_bad_input({"fit", data});
  EXPECT_TRUE(names_line(r.err, data, 3)) << r;
  EXPECT_TRUE(contains(r.err, "column 2"));
  EXPECT_TRUE(contains(r.err, "abc"));
}

TEST_F(Cli, UnknownTargetColumnIsBadInput) {
  const Result r = expect_bad_input({"fit", nist("NoInt2"), "--target", "nosuch"});
  EXPECT_TRUE(contains(r.err, "nosuch"));
}

TEST_F(Cli, InitWeightsWithTheWrongCountIsBadInput) {
  expect_bad_input({"fit", nist("NoInt2"), "--init-weights", "1,2"});
}

TEST_F(Cli, InitWeightsThatAreNotNumbersAreBadInput) {
  const Result r = expect_bad_input({"fit", nist("NoInt2"), "--init-weights", "abc"});
  EXPECT_TRUE(contains(r.err, "abc"));
  expect_bad_input({"fit", nist("NoInt2"), "--init-weights", "0.5x"});
  expect_bad_input({"fit", nist("NoInt2"), "--init-weights", "nan"});
}

TEST_F(Cli, OutputInAMissingDirectoryIsRefusedAndNothingIsCreated) {
  const std::string missing = dir_ + "/missing";
  const std::string model = missing + "/M.json";
  const Result r = run({"fit", nist("NoInt2"), "--epochs", "5", "--output", model, "--quiet"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, model));
  EXPECT_FALSE(fs::exists(missing));
  EXPECT_FALSE(fs::exists(model));

  const Result h = run({"fit", nist("NoInt2"), "--epochs", "5", "--history", missing + "/H.csv",
                        "--output", out_ + "/M.json", "--quiet"});
  EXPECT_EQ(h.code, 2) << h;
  EXPECT_FALSE(fs::exists(missing));
  EXPECT_TRUE(out_entries().empty()) << "the refused run wrote its model";
}

TEST_F(Cli, DivergenceExitsThreeAndWritesNoModel) {
  const std::string model = out_ + "/M.json";
  const Result r = run({"fit", tutorial(), "--lr", "5", "--epochs", "200", "--output", model});
  EXPECT_EQ(r.code, 3) << r;
  EXPECT_TRUE(contains(r.err, "diverged"));
  EXPECT_FALSE(fs::exists(model));
  EXPECT_TRUE(out_entries().empty());
}

TEST_F(Cli, TutorialConvergesWithASmallLearningRate) {
  // The same data as the divergence test fits y = 2x + 1 with a stable step.
  const std::string model = out_ + "/M.json";
  const Result r =
      run({"fit", tutorial(), "--lr", "0.1", "--epochs", "5000", "--output", model, "--quiet"});
  ASSERT_EQ(r.code, 0) << r;
  const std::string json = read_all(model);
  bool found = false;
  EXPECT_NEAR(json_number(json, "weights", &found), 2.0, 1e-9);
  EXPECT_TRUE(found);
  EXPECT_NEAR(json_number(json, "bias", &found), 1.0, 1e-9);
  EXPECT_TRUE(found);
}

TEST_F(Cli, FailedFitLeavesAnExistingModelIntact) {
  const std::string model = out_ + "/M.json";
  std::string old = "{\"old\": \"model\"}\n";
  old.push_back('\0');
  old += "\xff trailing bytes";
  write_all(model, old);

  const Result diverged =
      run({"fit", tutorial(), "--lr", "5", "--epochs", "200", "--output", model, "--quiet"});
  EXPECT_EQ(diverged.code, 3) << diverged;
  EXPECT_EQ(read_all(model), old);

  const std::string bad = csv("bad.csv", "x,y\n1,2\n3,oops\n");
  const Result refused = run({"fit", bad, "--output", model, "--quiet"});
  EXPECT_EQ(refused.code, 2) << refused;
  EXPECT_EQ(read_all(model), old);

  EXPECT_EQ(out_entries(), (std::set<std::string>{"M.json"}));  // no temporary left
}

TEST_F(Cli, SuccessfulFitReplacesAnExistingModel) {
  const std::string model = out_ + "/M.json";
  write_all(model, "old\n");
  const Result r = run({"fit", nist("NoInt2"), "--epochs", "3", "--output", model, "--quiet"});
  ASSERT_EQ(r.code, 0) << r;
  const std::string json = read_all(model);
  EXPECT_TRUE(contains(json, "\"weights\""));
  EXPECT_EQ(out_entries(), (std::set<std::string>{"M.json"}));
}

TEST_F(Cli, DeviceCudaWithoutAUsableGpuIsBadInput) {
  const Result info = run({"info"});
  ASSERT_EQ(info.code, 0) << info;
  const bool no_gpu = info.out.find("cuda devices   none") != std::string::npos;
  const std::string model = out_ + "/M.json";
  const Result r = run({"fit", nist("NoInt2"), "--device", "cuda", "--epochs", "5", "--output",
                        model, "--quiet"});
  if (no_gpu) {
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_TRUE(r.err.find("cuda") != std::string::npos ||
                r.err.find("CUDA") != std::string::npos)
        << r;
    EXPECT_FALSE(fs::exists(model));
  } else {
    EXPECT_EQ(r.code, 0) << r;
    EXPECT_TRUE(contains(read_all(model), "\"cuda\""));
  }
}

TEST_F(Cli, DemoRuns) {
  const std::string model = out_ + "/demo.json";
  const Result r = run({"demo", "--rows", "1000", "--features", "3", "--epochs", "50", "--quiet",
                        "--output", model});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(r.out.empty()) << r;
  const std::string json = read_all(model);
  EXPECT_TRUE(contains(json, "\"x3\""));
  bool found = false;
  EXPECT_EQ(json_number(json, "epochs_run", &found), 50.0);
  EXPECT_TRUE(found);
}

TEST_F(Cli, DemoRefusesZeroRows) {
  const Result r = run({"demo", "--rows", "0", "--quiet"});
  EXPECT_EQ(r.code, 2) << r;
}

}  // namespace

// --- gen, predict, evaluate, .npy input ----------------------------------------------------

namespace {

/// The numbers of the JSON array under \p key.
std::vector<double> json_array(const std::string& json, const std::string& key) {
  std::vector<double> out;
  auto p = json.find("\"" + key + "\"");
  if (p == std::string::npos) return out;
  p = json.find('[', p);
  const auto end = json.find(']', p);
  const char* c = json.c_str() + p + 1;
  while (c < json.c_str() + end) {
    char* next = nullptr;
    const double v = std::strtod(c, &next);
    if (next == c) {
      ++c;
      continue;
    }
    out.push_back(v);
    c = next;
  }
  return out;
}

TEST_F(Cli, GenThenFitRecoversThePlantedModelFromCsvAndNpy) {
  for (const std::string ext : {".csv", ".npy"}) {
    SCOPED_TRACE(ext);
    const std::string data = out_ + "/d" + ext;
    Result r = run({"gen", "--rows", "20000", "--features", "3", "--noise", "0.001", "--seed", "5", "-o", data});
    ASSERT_EQ(r.code, 0) << r;
    ASSERT_TRUE(fs::exists(data + ".planted.json")) << r;
    const auto planted = json_array(read_all(data + ".planted.json"), "weights");
    ASSERT_EQ(planted.size(), 3u);
    const std::string model = out_ + "/m" + ext + ".json";
    r = run({"fit", data, "--lr", "0.5", "--epochs", "400", "-o", model, "-q"});
    ASSERT_EQ(r.code, 0) << r;
    const auto fitted = json_array(read_all(model), "weights");
    ASSERT_EQ(fitted.size(), 3u);
    // noise 0.001 over 20000 rows: the least-squares estimate is within ~1e-5 of the plant.
    for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(fitted[k], planted[k], 1e-4) << k;
  }
}

TEST_F(Cli, GenIsDeterministicAndCsvAndNpyHoldTheSameValues) {
  const std::string a = out_ + "/a.csv", b = out_ + "/b.csv";
  ASSERT_EQ(run({"gen", "--rows", "40000", "--features", "2", "--seed", "9", "-o", a, "-q"}).code, 0);
  ASSERT_EQ(run({"gen", "--rows", "40000", "--features", "2", "--seed", "9", "-o", b, "-q"}).code, 0);
  EXPECT_EQ(read_all(a), read_all(b));
  const std::string c = out_ + "/c.csv";
  ASSERT_EQ(run({"gen", "--rows", "40000", "--features", "2", "--seed", "10", "-o", c, "-q"}).code, 0);
  EXPECT_NE(read_all(a), read_all(c));
}

TEST_F(Cli, PredictAndEvaluateUseTheModel) {
  // y = 2 x1 - 3 x2 + 1 exactly, so predictions and metrics are known.
  const std::string data = out_ + "/exact.csv";
  write_all(data, "x1,x2,y\n1,0,3\n0,1,-2\n2,2,-1\n-1,1,-4\n");
  const std::string model = out_ + "/m.json";
  write_all(model, "{\"format\": \"steepest-model\", \"weights\": [2, -3], \"bias\": 1,"
                   " \"feature_names\": [\"x1\", \"x2\"], \"target\": \"y\"}");
  Result r = run({"predict", model, data});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "prediction\n3\n-2\n-1\n-4\n");
  r = run({"evaluate", model, data});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "mse   0\n")) << r;
  EXPECT_TRUE(contains(r.out, "r2    1\n")) << r;
  // Feature columns found by name, in another order, without a target column.
  const std::string shuffled = out_ + "/shuffled.csv";
  write_all(shuffled, "x2,x1\n0,1\n1,0\n");
  r = run({"predict", model, shuffled, "-o", out_ + "/p.csv"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(read_all(out_ + "/p.csv"), "prediction\n3\n-2\n");
}

TEST_F(Cli, EvaluateMetricsOnANonExactFit) {
  const std::string data = out_ + "/d.csv";
  write_all(data, "x,y\n0,1\n1,1\n2,4\n");
  const std::string model = out_ + "/m.json";
  write_all(model, "{\"format\": \"steepest-model\", \"weights\": [1], \"bias\": 0}");
  const Result r = run({"evaluate", model, data});
  ASSERT_EQ(r.code, 0) << r;
  // residuals x - y = -1, 0, -2: mse 5/3, mae 1; mean y 2, sst 6, r2 = 1 - 5/6.
  EXPECT_TRUE(contains(r.out, "mse   1.666666667")) << r;
  EXPECT_TRUE(contains(r.out, "mae   1\n")) << r;
  EXPECT_TRUE(contains(r.out, "r2    0.1666666667")) << r;
}

TEST_F(Cli, ModelAndDataThatDisagreeAreRefused) {
  const std::string data = out_ + "/d.csv";
  write_all(data, "a,b,c,y\n1,2,3,4\n");
  const std::string model = out_ + "/m.json";
  write_all(model, "{\"format\": \"steepest-model\", \"weights\": [1, 2], \"bias\": 0}");
  Result r = run({"evaluate", model, data});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "the model has 2 features")) << r;
  write_all(model, "{\"weights\": [1]}");
  r = run({"predict", model, data});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "not a steepest model")) << r;
  write_all(model, "not json");
  EXPECT_EQ(run({"predict", model, data}).code, 2);
  EXPECT_EQ(run({"predict", out_ + "/missing.json", data}).code, 2);
}

TEST_F(Cli, SeparateXAndYFilesMustAgreeInLength) {
  const std::string d = out_ + "/d.npy";
  ASSERT_EQ(run({"gen", "--rows", "100", "--features", "2", "-o", d, "-q"}).code, 0);
  // A 1-D y of 100 values: predictions of any 3-weight model on the 100 x 3 matrix.
  const std::string model = out_ + "/m.json";
  write_all(model, "{\"format\": \"steepest-model\", \"weights\": [1, 1, 1], \"bias\": 0}");
  ASSERT_EQ(run({"predict", model, d, "-o", out_ + "/y.npy"}).code, 0);  // 100 values
  const std::string small = out_ + "/small.npy";
  ASSERT_EQ(run({"gen", "--rows", "50", "--features", "2", "-o", small, "-q"}).code, 0);
  const Result r = run({"fit", "--x", small, "--y", out_ + "/y.npy", "--epochs", "1"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "100 values")) << r;
}

TEST_F(Cli, GenRefusesBadOptionsAndWritesNothing) {
  EXPECT_EQ(run({"gen", "--rows", "0", "-o", out_ + "/a.csv"}).code, 2);
  EXPECT_EQ(run({"gen", "--rows", "10", "--features", "2", "--scales", "1,2,3", "-o", out_ + "/a.csv"}).code, 2);
  EXPECT_EQ(run({"gen", "--rows", "10", "--scales", "-1", "-o", out_ + "/a.csv"}).code, 2);
  EXPECT_EQ(run({"gen", "--rows", "10", "-o", out_ + "/no/such/dir/a.csv"}).code, 2);
  EXPECT_TRUE(out_entries().empty());
}

}  // namespace

// --- bench, and inputs left untouched ------------------------------------------------------

namespace {

TEST_F(Cli, BenchSaysWhyItSkipsTheTimeToSolution) {
  const Result off = run({"bench", "--rows", "500", "--features", "3", "--epochs", "2", "--tts-epochs", "0",
                          "--device", "cpu"});
  ASSERT_EQ(off.code, 0) << off;
  EXPECT_TRUE(contains(off.out, "no time to solution (--tts-epochs 0)")) << off;
  const Result wide = run({"bench", "--rows", "300", "--features", "257", "--epochs", "2", "--device", "cpu"});
  ASSERT_EQ(wide.code, 0) << wide;
  EXPECT_TRUE(contains(wide.out, "no time to solution (d > 256)")) << wide;
}

TEST_F(Cli, BenchRunsEveryUsableBackendAndWritesJson) {
  const std::string json = out_ + "/bench.json";
  const Result r = run({"bench", "--rows", "20000", "--features", "3", "--epochs", "3", "--tts-epochs", "40",
                        "--json", json});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "rows/s")) << r;
  EXPECT_TRUE(contains(r.out, "time to solution")) << r;
  const std::string text = read_all(json);
  for (const char* key : {"\"machine\"", "\"commit\"", "\"results\"", "\"gb_per_s\"", "\"ceiling_gb_per_s\"",
                          "\"tts_full_seconds\"", "\"optimum_mse\"", "\"cpu_kernels\"", "\"cpu_prefetch_bytes\""})
    EXPECT_TRUE(contains(text, key)) << key;
  EXPECT_TRUE(contains(text, "\"backend\": \"cpu\""));
  // lr 0.5 on features in [-1, 1) reaches the optimum well within 40 full-batch epochs.
  bool found = false;
  const double tts = json_number(text, "tts_full_seconds", &found);
  ASSERT_TRUE(found);
  EXPECT_GT(tts, 0.0) << text;
}

TEST_F(Cli, InputFilesAreNeverModified) {
  const std::string csv = out_ + "/d.csv", npy = out_ + "/d.npy";
  ASSERT_EQ(run({"gen", "--rows", "3000", "--features", "2", "-o", csv, "-q"}).code, 0);
  ASSERT_EQ(run({"gen", "--rows", "3000", "--features", "2", "-o", npy, "-q"}).code, 0);
  const std::string before_csv = read_all(csv), before_npy = read_all(npy);
  const auto mtime_csv = fs::last_write_time(csv), mtime_npy = fs::last_write_time(npy);
  ASSERT_EQ(run({"fit", csv, "--epochs", "5", "-q", "-o", out_ + "/m.json"}).code, 0);
  ASSERT_EQ(run({"fit", npy, "--epochs", "5", "-q"}).code, 0);
  ASSERT_EQ(run({"predict", out_ + "/m.json", csv, "-o", out_ + "/p.npy"}).code, 0);
  ASSERT_EQ(run({"evaluate", out_ + "/m.json", npy}).code, 0);
  EXPECT_EQ(read_all(csv), before_csv);
  EXPECT_EQ(read_all(npy), before_npy);
  EXPECT_EQ(fs::last_write_time(csv), mtime_csv);
  EXPECT_EQ(fs::last_write_time(npy), mtime_npy);
}

}  // namespace

namespace {

TEST_F(Cli, TraceRecordsThePathOfGradientDescent) {
  const std::string data = out_ + "/t.csv", trace = out_ + "/trace.csv";
  write_all(data, "x,y\n1,3\n2,5\n");
  // Residual: the tutorial's arithmetic, digit for digit (gram agrees to rounding).
  const Result r = run({"fit", data, "--lr", "0.1", "--epochs", "3", "--init-weights", "-1", "--init-bias", "5",
                        "--trace", trace, "-q", "--solver", "residual"});
  ASSERT_EQ(r.code, 0) << r;
  // Epoch 0 is the start, epoch 1 the tutorial's first step (derived in test_tutorial.cpp).
  const std::string text = read_all(trace);
  EXPECT_EQ(text.substr(0, text.find('\n')), "epoch,learning_rate,mse,bias,w1");
  EXPECT_TRUE(contains(text, "\n0,0.1,2.5,5,-1\n")) << text;
  EXPECT_TRUE(contains(text, "\n1,0.1,1.8249999999999995,5.1,-0.7\n")) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5);
  // A diverging fit leaves no trace behind, like no model.
  const Result bad = run({"fit", data, "--lr", "5", "--trace", out_ + "/bad.csv"});
  EXPECT_EQ(bad.code, 3) << bad;
  EXPECT_FALSE(fs::exists(out_ + "/bad.csv"));
}

TEST_F(Cli, LrAutoAndSchedulesFromTheCommandLine) {
  Result r = run({"fit", nist("NoInt2"), "--no-intercept", "--lr", "auto", "--epochs", "100"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "auto: 1/L")) << r;
  EXPECT_TRUE(contains(r.out, "0.7272727")) << r;  // the certified B1
  r = run({"fit", nist("NoInt2"), "--no-intercept", "--lr", "0.01", "--schedule", "exponential", "--decay", "0.9",
           "--epochs", "10"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "final rate")) << r;
  EXPECT_EQ(run({"fit", nist("NoInt2"), "--lr", "fast"}).code, 2);
  EXPECT_EQ(run({"fit", nist("NoInt2"), "--schedule", "cosine"}).code, 2);
}

}  // namespace

namespace {

/// The model file without its one line that differs between identical fits (the time).
std::string without_wall_time(const std::string& model) {
  std::istringstream in(model);
  std::string line, out;
  while (std::getline(in, line))
    if (line.find("\"wall_seconds\"") == std::string::npos && line.find("\"setup_seconds\"") == std::string::npos &&
        line.find("\"gram_seconds\"") == std::string::npos)
      out += line + "\n";
  return out;
}

class CliResume : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    data_ = out_ + "/d.npy";
    const Result g = run({"gen", "-o", data_, "--rows", "2000", "--features", "4", "--seed", "3", "--quiet"});
    ASSERT_EQ(g.code, 0) << g;
  }
  /// fit on the generated data: mini-batch Adam with a held-out part, then \p extra.
  Result fit(const std::string& tag, std::vector<std::string> extra) const {
    std::vector<std::string> args{"fit",    data_,   "--batch-size", "64",   "--optimizer", "adam", "--lr", "0.01",
                                  "--seed", "11",    "--validation-fraction", "0.1", "-q",
                                  "-o",     out_ + "/" + tag + ".json", "--history", out_ + "/" + tag + ".csv",
                                  "--trace", out_ + "/" + tag + ".trace"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  }
  void expect_same_outputs(const std::string& a, const std::string& b) const {
    EXPECT_EQ(without_wall_time(read_all(out_ + "/" + a + ".json")), without_wall_time(read_all(out_ + "/" + b + ".json")));
    EXPECT_EQ(read_all(out_ + "/" + a + ".csv"), read_all(out_ + "/" + b + ".csv"));
    EXPECT_EQ(read_all(out_ + "/" + a + ".trace"), read_all(out_ + "/" + b + ".trace"));
  }
  std::string data_;
};

TEST_F(CliResume, AResumedFitWritesTheStraightFitsBytes) {
  ASSERT_EQ(fit("straight", {"--epochs", "40"}).code, 0);
  const std::string ck = out_ + "/ck.json";
  Result r = fit("split", {"--epochs", "15", "--checkpoint", ck, "--checkpoint-every", "4"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(read_all(ck), "\"epoch\": 15")) << "the last checkpoint is at the end";
  r = fit("split", {"--epochs", "40", "--resume", ck, "--checkpoint", ck});
  ASSERT_EQ(r.code, 0) << r;
  expect_same_outputs("straight", "split");
  const std::string history = read_all(out_ + "/straight.csv");
  EXPECT_EQ(history.substr(0, history.find('\n')), "epoch,mse,heldout_mse");
  EXPECT_TRUE(contains(read_all(out_ + "/straight.json"), "\"heldout_rows\": 200"));
}

// SIGINT and SIGTERM finish the current step, write the checkpoint and the outputs, and
// exit 130 / 143; resuming gives the straight run's bytes.
TEST_F(CliResume, ASignalWritesACheckpointAndTheResumeEndsWhereTheStraightRunDoes) {
  const std::string epochs = "20000";  // long enough that the signal lands within the fit
  ASSERT_EQ(fit("straight", {"--epochs", epochs}).code, 0);
  for (const auto& [sig, code] : {std::pair<std::string, int>{"INT", 130}, {"TERM", 143}}) {
    SCOPED_TRACE(sig);
    const std::string ck = out_ + "/ck-" + sig + ".json", tag = "sig-" + sig;
    fs::remove(ck);
    // The first checkpoint (epoch 1) shows that the handlers are in place; then the signal.
    std::string cmd = quote(STEEPEST_CLI_PATH);
    for (const auto& a : {std::string("fit"), data_, std::string("--batch-size"), std::string("64"),
                          std::string("--optimizer"), std::string("adam"), std::string("--lr"), std::string("0.01"),
                          std::string("--seed"), std::string("11"), std::string("--validation-fraction"),
                          std::string("0.1"), std::string("-q"), std::string("-o"), out_ + "/" + tag + ".json",
                          std::string("--history"), out_ + "/" + tag + ".csv", std::string("--trace"),
                          out_ + "/" + tag + ".trace", std::string("--epochs"), epochs, std::string("--checkpoint"), ck,
                          std::string("--checkpoint-every"), std::string("1")})
      cmd += " " + quote(a);
    const std::string script = cmd + " 2>" + quote(out_ + "/err.txt") + " & pid=$!; while [ ! -f " + quote(ck) +
                               " ]; do sleep 0.01; done; kill -" + sig + " $pid; wait $pid; echo $? >" +
                               quote(out_ + "/code.txt");
    ASSERT_EQ(std::system(("sh -c " + quote(script)).c_str()), 0);
    const std::string err = read_all(out_ + "/err.txt");
    ASSERT_EQ(std::stoi(read_all(out_ + "/code.txt")), code) << err;
    EXPECT_TRUE(contains(err, "--resume " + ck)) << err;
    // The message names the position the checkpoint holds: whole epochs, and the steps of
    // the next when the signal came within one.
    const std::string saved = read_all(ck);
    bool has_epoch = false, has_batch = false;
    const auto epoch = static_cast<long long>(json_number(saved, "epoch", &has_epoch));
    const auto batch = static_cast<long long>(json_number(saved, "batch", &has_batch));
    ASSERT_TRUE(has_epoch && has_batch) << saved;
    const std::string at = "after " + std::to_string(epoch) + " epochs" +
                           (batch > 0 ? " and " + std::to_string(batch) + " steps of the next; " : "; ");
    EXPECT_TRUE(contains(err, at)) << "expected \"" << at << "\" in: " << err;
    EXPECT_TRUE(fs::exists(out_ + "/" + tag + ".json")) << "the model of the interrupted run is written";
    EXPECT_TRUE(contains(read_all(out_ + "/" + tag + ".json"), "\"stop_reason\": \"interrupted\""));
    const Result r = fit(tag, {"--epochs", epochs, "--resume", ck});
    ASSERT_EQ(r.code, 0) << r;
    expect_same_outputs("straight", tag);
  }
}

TEST_F(CliResume, BadCheckpointsAndMismatchesAreRefused) {
  const std::string ck = out_ + "/ck.json";
  ASSERT_EQ(fit("a", {"--epochs", "5", "--checkpoint", ck}).code, 0);
  // Other options: named.
  Result r = run({"fit", data_, "--batch-size", "64", "--optimizer", "adam", "--lr", "0.02", "--seed", "11",
                  "--validation-fraction", "0.1", "--epochs", "10", "--resume", ck});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "learning_rate 0.02")) << r;
  // Other data.
  const std::string other = out_ + "/other.npy";
  ASSERT_EQ(run({"gen", "-o", other, "--rows", "2000", "--features", "4", "--seed", "4", "--quiet"}).code, 0);
  r = run({"fit", other, "--batch-size", "64", "--optimizer", "adam", "--lr", "0.01", "--seed", "11",
           "--validation-fraction", "0.1", "--epochs", "10", "--resume", ck});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "the data differ")) << r;
  // Missing, not JSON, not a checkpoint, a bad key.
  EXPECT_TRUE(contains(expect_bad_input({"fit", data_, "--resume", out_ + "/none.json"}).err, "none.json"));
  write_all(out_ + "/junk.json", "{not json");
  EXPECT_TRUE(contains(expect_bad_input({"fit", data_, "--resume", out_ + "/junk.json"}).err, "not a JSON"));
  write_all(out_ + "/model.json", "{\"format\": \"steepest-model\"}");
  EXPECT_TRUE(contains(expect_bad_input({"fit", data_, "--resume", out_ + "/model.json"}).err, "not a steepest checkpoint"));
  std::string text = read_all(ck);
  const auto at = text.find("\"steps\":");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 8, "\"stepz\":");
  write_all(out_ + "/broken.json", text);
  EXPECT_TRUE(contains(expect_bad_input({"fit", data_, "--resume", out_ + "/broken.json"}).err, "missing \"steps\""));
  // --checkpoint-every alone, and a checkpoint that is also the model.
  expect_bad_input({"fit", data_, "--checkpoint-every", "5"});
  expect_bad_input({"fit", data_, "--checkpoint", out_ + "/same.json", "-o", out_ + "/same.json"});
  expect_bad_input({"fit", data_, "--validation-fraction", "1"});
}

}  // namespace

namespace {

// Sample weights from a CSV column or a file: a zero weight removes a wild row.
TEST_F(Cli, SampleWeightsFromAColumnOrAFile) {
  const std::string data = csv("w.csv", "x1,w,x2,y\n1,1,0,3\n2,2,1,5\n3,0,5,100\n4,1,2,9\n0,3,3,1\n");
  const std::string m1 = out_ + "/col.json", m2 = out_ + "/txt.json", m3 = out_ + "/npy.json";
  Result r = run({"fit", data, "--weight-column", "w", "--lr", "0.05", "--epochs", "20000", "-q", "-o", m1});
  ASSERT_EQ(r.code, 0) << r;
  const std::string model = read_all(m1);
  EXPECT_TRUE(contains(model, "\"sample_weight\": \"w\"")) << model;
  EXPECT_TRUE(contains(model, "\"x1\",\n    \"x2\"")) << "the weight column is not a feature: " << model;
  // y = 2 x1 + 1 on every row with a weight; the row y = 100 has weight 0.
  bool found = false;
  EXPECT_NEAR(json_number(model, "bias", &found), 1.0, 1e-6);
  r = run({"evaluate", m1, data, "--weight-column", "w"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "metrics weighted")) << r;
  EXPECT_TRUE(contains(r.out, "r2    1")) << r;
  r = run({"evaluate", m1, data, "--features", "x1,x2"});  // unweighted: the wild row counts
  EXPECT_TRUE(contains(r.out, "r2    -")) << r;

  // The same weights from a text file and from a .npy give the same model.
  const std::string clean = csv("c.csv", "x1,x2,y\n1,0,3\n2,1,5\n3,5,100\n4,2,9\n0,3,1\n");
  const std::string wtxt = csv("w.txt", "weight\n1\n2\n0\n1\n3\n");
  r = run({"fit", clean, "--weight-file", wtxt, "--lr", "0.05", "--epochs", "20000", "-q", "-o", m2});
  ASSERT_EQ(r.code, 0) << r;
  const std::string wnpy = out_ + "/w.npy";
  ASSERT_EQ(run({"gen", "-o", out_ + "/unused.npy", "--rows", "5", "--features", "1", "--quiet"}).code, 0);
  {
    // A 1-D float64 .npy written by hand: magic, version 1.0, header, 5 little-endian doubles.
    std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }";
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    bytes += header;
    for (double v : {1.0, 2.0, 0.0, 1.0, 3.0}) bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
    write_all(wnpy, bytes);
  }
  r = run({"fit", clean, "--weight-file", wnpy, "--lr", "0.05", "--epochs", "20000", "-q", "-o", m3});
  ASSERT_EQ(r.code, 0) << r;
  // Text and .npy weights are the same contiguous float64 values: the same bits.  The
  // column's fit reads X from another file's parse: compared to rounding.
  for (const char* key : {"bias", "weights"}) {
    const std::string a = read_all(m1), b = read_all(m2), c = read_all(m3);
    EXPECT_EQ(json_number(b, key, &found), json_number(c, key, &found)) << key;
    EXPECT_NEAR(json_number(a, key, &found), json_number(b, key, &found), 1e-12) << key;
  }

  // Refusals: negative, wrong count, the target as weights, .npy data with a weight column.
  const std::string neg = csv("neg.txt", "1\n-2\n0\n1\n3\n");
  EXPECT_TRUE(contains(expect_bad_input({"fit", clean, "--weight-file", neg}).err, "weight 2"));
  const std::string few = csv("few.txt", "1\n2\n");
  EXPECT_TRUE(contains(expect_bad_input({"fit", clean, "--weight-file", few}).err, "2 weights"));
  expect_bad_input({"fit", data, "--weight-column", "y"});
  expect_bad_input({"fit", data, "--weight-column", "nope"});
  expect_bad_input({"fit", data, "--weight-column", "w", "--features", "x1,w"});
  expect_bad_input({"fit", out_ + "/unused.npy", "--weight-column", "0"});
  const std::string zeros = csv("zeros.txt", "0\n0\n0\n0\n0\n");
  EXPECT_TRUE(contains(expect_bad_input({"fit", clean, "--weight-file", zeros}).err, "all weights are zero"));
}

}  // namespace

namespace {

// --trace-steps: one row per optimizer step, checked by hand on the tutorial's two points
// with one-row batches in file order (lr 0.1, start w = -1, b = 5).
TEST_F(Cli, TraceStepsRecordsEveryStep) {
  const std::string data = csv("t.csv", "x,y\n1,3\n2,5\n"), trace = out_ + "/steps.csv";
  const Result r = run({"fit", data, "--lr", "0.1", "--epochs", "2", "--batch-size", "1", "--no-shuffle",
                        "--init-weights", "-1", "--init-bias", "5", "--trace", trace, "--trace-steps", "-q"});
  ASSERT_EQ(r.code, 0) << r;
  const std::string text = read_all(trace);
  EXPECT_EQ(text.substr(0, text.find('\n')), "epoch,step,learning_rate,batch_mse,bias,w1");
  EXPECT_TRUE(contains(text, "\n0,0,0.1,2.5,5,-1\n")) << text;
  // Row (1, 3): r = -1 + 5 - 3 = 1, MSE 1; grad (2, 2): w = -1.2, b = 4.8.
  EXPECT_TRUE(contains(text, "\n1,1,0.1,1,4.8,-1.2\n")) << text;
  // Row (2, 5): r = -2.4 + 4.8 - 5 = -2.6, MSE 6.76; grad (-10.4, -5.2): w = -0.16, b = 5.32.
  EXPECT_TRUE(contains(text, "\n1,2,0.1,6.76")) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 6);
  expect_bad_input({"fit", data, "--trace-steps"});
  expect_bad_input({"fit", data, "--trace", trace, "--trace-steps", "--checkpoint", out_ + "/ck.json"});
}

}  // namespace
