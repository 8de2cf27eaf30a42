// End-to-end tests of the steepest command-line tool (see cli_support.hpp): what happens to
// files: outputs that are inputs, special files as outputs, write errors, signals during the
// writes, inputs changed during a run, and the integer options.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>

#include "cli_support.hpp"

namespace {

using namespace cli_test;
namespace fs = std::filesystem;

/// Exit status of a /bin/sh script (the shell's $? convention: 128 + N for signal N).
int sh(const std::string& script) {
  const int status = std::system(("sh -c " + quote(script)).c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// The steepest command line of \p args, quoted for /bin/sh.
std::string command(const std::vector<std::string>& args) {
  std::string cmd = quote(STEEPEST_CLI_PATH);
  for (const auto& a : args) cmd += " " + quote(a);
  return cmd;
}

/// A little-endian float64 .npy file of \p shape ("(3,)" or "(3, 2)") holding \p values.
void write_npy(const std::string& path, const std::string& shape, const std::vector<double>& values) {
  std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(dict.size() & 0xff);
  bytes += static_cast<char>(dict.size() >> 8);
  bytes += dict;
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
  write_all(path, bytes);
}

bool is_char_device(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

bool is_fifo(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}

bool has_temporary(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) return true;
  return false;
}

class CliFiles : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    data_ = csv("d.csv", "x,y\n1,3\n2,5\n3,7.5\n4,8.5\n");
    original_ = read_all(data_);
  }

  /// A model of the data in out_/m.json.
  std::string model() const {
    const std::string m = out_ + "/m.json";
    const Result r = run({"fit", data_, "--epochs", "50", "--lr", "0.05", "-q", "-o", m});
    EXPECT_EQ(r.code, 0) << r;
    return m;
  }

  /// A refused run: exit 2, a message naming \p name, nothing changed.
  void expect_refused(const std::vector<std::string>& args, const std::string& name) const {
    SCOPED_TRACE(::testing::PrintToString(args));
    const Result r = run(args);
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_TRUE(contains(r.err, name)) << r;
    EXPECT_TRUE(contains(r.err, "same file")) << r;
    EXPECT_EQ(read_all(data_), original_) << "the input was overwritten";
  }

  std::string data_, original_;
};

// --- item 8: an output that is an input -----------------------------------------------------

TEST_F(CliFiles, AFitRefusesToWriteAnyOutputOverItsData) {
  for (const std::string opt : {"--output", "--history", "--trace", "--checkpoint"})
    expect_refused({"fit", data_, "--epochs", "5", opt, data_}, data_);
}

TEST_F(CliFiles, TheSameOutputSpelledTwoWaysIsRefused) {
  const Result r = run({"fit", data_, "--epochs", "5", "-o", out_ + "/m.json", "--history", out_ + "/./m.json"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "same file")) << r;
  EXPECT_FALSE(fs::exists(out_ + "/m.json"));
  // An existing file, reached through a parent-directory detour.
  write_all(out_ + "/h.csv", "keep");
  const Result s = run({"fit", data_, "--epochs", "5", "--trace", out_ + "/h.csv", "--history",
                        out_ + "/../out/h.csv"});
  EXPECT_EQ(s.code, 2) << s;
  EXPECT_EQ(read_all(out_ + "/h.csv"), "keep");
}

TEST_F(CliFiles, LinksToTheDataCountAsTheData) {
  fs::create_hard_link(data_, out_ + "/hard.csv");
  fs::create_symlink(data_, out_ + "/soft.csv");
  expect_refused({"fit", data_, "--epochs", "5", "-o", out_ + "/hard.csv"}, "hard.csv");
  expect_refused({"fit", data_, "--epochs", "5", "--history", out_ + "/soft.csv"}, "soft.csv");
  // And a link given as the data, the file itself as the output.
  expect_refused({"fit", out_ + "/soft.csv", "--epochs", "5", "-o", data_}, data_);
}

TEST_F(CliFiles, PredictRefusesToOverwriteItsDataOrItsModel) {
  const std::string m = model();
  const std::string before = read_all(m);
  expect_refused({"predict", m, data_, "-o", data_}, data_);
  expect_refused({"predict", m, data_, "-o", m}, m);
  EXPECT_EQ(read_all(m), before);
  // Another output beside them is fine.
  const Result ok = run({"predict", m, data_, "-o", out_ + "/p.csv"});
  EXPECT_EQ(ok.code, 0) << ok;
}

TEST_F(CliFiles, TheResumedCheckpointIsNoOtherOutput) {
  const std::string ck = out_ + "/ck.json";
  ASSERT_EQ(run({"fit", data_, "--epochs", "5", "-q", "--checkpoint", ck}).code, 0);
  const std::string state = read_all(ck);
  for (const std::string opt : {"--output", "--history", "--trace"}) {
    const Result r = run({"fit", data_, "--epochs", "8", "--resume", ck, opt, ck});
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_TRUE(contains(r.err, "same file")) << r;
    EXPECT_EQ(read_all(ck), state) << opt;
  }
  // --resume and --checkpoint naming one file is how a run goes on.
  const Result ok = run({"fit", data_, "--epochs", "8", "-q", "--resume", ck, "--checkpoint", ck});
  EXPECT_EQ(ok.code, 0) << ok;
}

TEST_F(CliFiles, NpyInputsAndTheWeightFileAreNoOutputs) {
  const std::string x = dir_ + "/x.npy", y = dir_ + "/y.npy", w = dir_ + "/w.txt";
  write_npy(x, "(4, 1)", {1, 2, 3, 4});
  write_npy(y, "(4,)", {3, 5, 7.5, 8.5});
  write_all(w, "1\n1\n2\n1\n");
  const std::string xs = read_all(x), ys = read_all(y), ws = read_all(w);
  for (const auto& target : {x, y}) {
    const Result r = run({"fit", "--x", x, "--y", y, "--epochs", "5", "-o", target});
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_TRUE(contains(r.err, "same file")) << r;
  }
  const Result r = run({"fit", data_, "--weight-file", w, "--epochs", "5", "--history", w});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "--weight-file")) << r;
  EXPECT_EQ(read_all(x), xs);
  EXPECT_EQ(read_all(y), ys);
  EXPECT_EQ(read_all(w), ws);
}

TEST_F(CliFiles, GenRefusesAnOutputThatIsItsOwnPlantedFile) {
  // FILE.planted.json is an output too: a link from it to FILE would have gen overwrite FILE.
  const std::string data = out_ + "/g.csv";
  write_all(data, "old");
  fs::create_symlink(data, data + ".planted.json");
  const Result r = run({"gen", "-o", data, "--rows", "10", "--features", "2", "-q"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "same file")) << r;
  EXPECT_EQ(read_all(data), "old");
}

// --- item 9: outputs that are not regular files ----------------------------------------------

TEST_F(CliFiles, AFifoOutputIsWrittenIntoNotReplaced) {
  const std::string m = model();
  const std::string fifo = out_ + "/pipe.csv", got = dir_ + "/got.csv";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0) << std::strerror(errno);
  // A reader on the FIFO (timeout: a test that fails must not hang).
  const std::string script = "timeout 10 cat " + quote(fifo) + " >" + quote(got) + " & reader=$!; " +
                             command({"predict", m, data_, "-o", fifo}) + "; code=$?; wait $reader; exit $code";
  EXPECT_EQ(sh(script), 0);
  EXPECT_TRUE(is_fifo(fifo)) << "the FIFO was replaced";
  const Result direct = run({"predict", m, data_});
  EXPECT_EQ(read_all(got), direct.out);
  EXPECT_FALSE(has_temporary(out_));
}

TEST_F(CliFiles, DeviceOutputsStayDevices) {
  // A copy of /dev/null in the temporary directory shows the failure without risking the
  // real one; the real one is tried below, after the copy passed.
  const std::string null = out_ + "/null";
  if (::mknod(null.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) GTEST_SKIP() << "mknod: " << std::strerror(errno);
  const Result r = run({"fit", data_, "--epochs", "5", "-q", "-o", null, "--history", out_ + "/h.csv"});
  EXPECT_EQ(r.code, 0) << r;
  ASSERT_TRUE(is_char_device(null)) << "the device node was replaced by a regular file";
  EXPECT_TRUE(fs::exists(out_ + "/h.csv"));

  // gen writes FILE.planted.json beside FILE: only a regular FILE makes sense.
  const Result g = run({"gen", "-o", null, "--rows", "100", "--features", "2", "-q"});
  EXPECT_EQ(g.code, 2) << g;
  EXPECT_TRUE(contains(g.err, "regular file")) << g;
  EXPECT_FALSE(fs::exists(null + ".planted.json"));
  const Result real = run({"fit", data_, "--epochs", "5", "-q", "-o", "/dev/null", "--history", "/dev/null",
                           "--trace", "/dev/null"});
  EXPECT_EQ(real.code, 0) << real;
  EXPECT_TRUE(is_char_device("/dev/null"));
  const Result p = run({"predict", model(), data_, "-o", "/dev/null"});
  EXPECT_EQ(p.code, 0) << p;
  EXPECT_TRUE(is_char_device("/dev/null"));
}

// --- item 10: write errors --------------------------------------------------------------------

TEST_F(CliFiles, AFullDeviceAsAnOutputIsAnError) {
  const std::string full = out_ + "/full";
  if (::mknod(full.c_str(), S_IFCHR | 0666, makedev(1, 7)) != 0) GTEST_SKIP() << "mknod: " << std::strerror(errno);
  const std::string m = model();
  const Result p = run({"predict", m, data_, "-o", full});
  EXPECT_NE(p.code, 0) << p;
  EXPECT_TRUE(contains(p.err, full)) << p;
  EXPECT_TRUE(is_char_device(full));
  // A failed --history still leaves the model written.
  const Result f = run({"fit", data_, "--epochs", "5", "-q", "-o", out_ + "/f.json", "--history", full});
  EXPECT_NE(f.code, 0) << f;
  EXPECT_TRUE(contains(f.err, full)) << f;
  EXPECT_TRUE(fs::exists(out_ + "/f.json"));
  EXPECT_TRUE(is_char_device(full));
  const Result real = run({"predict", m, data_, "-o", "/dev/full"});
  EXPECT_NE(real.code, 0) << real;
  EXPECT_TRUE(is_char_device("/dev/full"));
}

TEST_F(CliFiles, WriteErrorsOnStandardOutputAreErrors) {
  const std::string m = model();
  const std::string err = dir_ + "/err.txt";
  for (const auto& args : std::vector<std::vector<std::string>>{{"predict", m, data_},
                                                                 {"evaluate", m, data_},
                                                                 {"fit", data_, "--epochs", "5"},
                                                                 {"info"},
                                                                 {"gen", "-o", out_ + "/g.csv", "--rows", "5"},
                                                                 {"--help"}}) {
    SCOPED_TRACE(::testing::PrintToString(args));
    EXPECT_EQ(sh(command(args) + " >/dev/full 2>" + quote(err)), 1);
    EXPECT_TRUE(contains(read_all(err), "standard output")) << read_all(err);
  }
  // A closed standard output likewise.
  EXPECT_EQ(sh(command({"predict", m, data_}) + " >&- 2>" + quote(err)), 1);
}

// --- item 11: signals, failed checkpoints, long names -----------------------------------------

TEST_F(CliFiles, ASignalDuringGenLeavesNoTemporaryFile) {
  for (const auto& [sig, code] : {std::pair<std::string, int>{"INT", 130}, {"TERM", 143}, {"HUP", 129}}) {
    SCOPED_TRACE(sig);
    const std::string out = out_ + "/big.npy";
    // Wait until the temporary file exists, then signal.
    const std::string script = command({"gen", "-o", out, "--rows", "200000000", "--features", "4", "-q"}) +
                               " & pid=$!; while ! ls -a " + quote(out_) +
                               " | grep -q '\\.tmp\\.'; do kill -0 $pid || exit 99; sleep 0.01; done; sleep 0.2; kill -" +
                               sig + " $pid; wait $pid";
    EXPECT_EQ(sh(script), code);
    EXPECT_FALSE(has_temporary(out_));
    EXPECT_FALSE(fs::exists(out));
  }
}

TEST_F(CliFiles, AFailedPeriodicCheckpointWarnsAndTheFitGoesOn) {
  // The checkpoint's directory goes away mid-run (root ignores permissions, so a directory
  // made unwritable would not do; renamed in one step, as rm -r could race with a write):
  // the checkpoints fail, the fit goes on, the model is written.
  const std::string ckdir = dir_ + "/ck", ck = ckdir + "/state.json", err = dir_ + "/err.txt";
  fs::create_directory(ckdir);
  const std::string script =
      command({"fit", data_, "--epochs", "100000000", "--checkpoint", ck, "--checkpoint-every", "1", "-q", "-o",
               out_ + "/m.json"}) +
      " 2>" + quote(err) + " & pid=$!; while [ ! -f " + quote(ck) +
      " ]; do kill -0 $pid || exit 99; sleep 0.01; done; mv " + quote(ckdir) + " " + quote(ckdir + ".gone") +
      "; sleep 0.5; kill -INT $pid; wait $pid";
  EXPECT_EQ(sh(script), 130) << read_all(err);
  const std::string text = read_all(err);
  EXPECT_TRUE(contains(text, "warning")) << text;
  EXPECT_TRUE(contains(text, ck)) << text;
  EXPECT_TRUE(contains(text, "cannot be resumed")) << text;
  EXPECT_TRUE(fs::exists(out_ + "/m.json")) << text;
}

TEST_F(CliFiles, LongOutputNamesWorkOrAreRefusedBeforeTheFit) {
  // 250 bytes: the file fits the 255-byte limit, so must the way it is written.
  const std::string name = out_ + "/" + std::string(245, 'm') + ".json";
  const Result ok = run({"fit", data_, "--epochs", "5", "-q", "-o", name});
  EXPECT_EQ(ok.code, 0) << ok;
  EXPECT_TRUE(fs::exists(name));
  EXPECT_FALSE(has_temporary(out_));
  // 256 bytes cannot exist: refused before the fit, so --output is not written either.
  const Result r = expect_bad_input({"fit", data_, "--epochs", "5", "--history", out_ + "/" + std::string(256, 'h')});
  EXPECT_TRUE(contains(r.err, "--history")) << r;
}

TEST_F(CliFiles, UnwritableOutputPlacesAreRefusedBeforeTheFit) {
  // /proc accepts no new files, whatever the permissions say to root.
  const Result r = expect_bad_input({"fit", data_, "--epochs", "5", "--history", "/proc/steepest-history.csv"});
  EXPECT_TRUE(contains(r.err, "/proc/steepest-history.csv")) << r;
  const Result d = expect_bad_input({"fit", data_, "--epochs", "5", "--trace", out_});
  EXPECT_TRUE(contains(d.err, "directory")) << d;
  const Result b = run({"bench", "--rows", "100", "--epochs", "2", "--tts-epochs", "0", "--device", "cpu",
                        "--json", "/proc/bench.json"});
  EXPECT_EQ(b.code, 2) << b;
  EXPECT_TRUE(b.out.empty()) << "refused after the benchmark ran: " << b;
}

// --- item 16: an input changed while it is read ------------------------------------------------

TEST_F(CliFiles, AnInputTruncatedDuringTheFitIsReported) {
  const std::string npy = dir_ + "/big.npy", err = dir_ + "/err.txt", ck = out_ + "/ck.json";
  ASSERT_EQ(run({"gen", "-o", npy, "--rows", "200000", "--features", "4", "-q"}).code, 0);
  // The first checkpoint shows that the data is mapped and the fit runs; then the file is cut.
  const std::string script =
      // Residual: it reads the data every epoch (a Gram fit reads it once, then at the end).
      command({"fit", npy, "--epochs", "100000000", "-q", "--checkpoint", ck, "--checkpoint-every", "1", "--solver",
               "residual"}) +
      " 2>" +
      quote(err) + " & pid=$!; while [ ! -f " + quote(ck) +
      " ]; do kill -0 $pid || exit 99; sleep 0.01; done; truncate -s 128 " + quote(npy) + "; wait $pid";
  EXPECT_EQ(sh(script), 5) << read_all(err);
  EXPECT_TRUE(contains(read_all(err), "an input file changed (was truncated or rewritten) while it was being read"))
      << read_all(err);
}

// --- item 7: resumed traces and gen's range ---------------------------------------------------

TEST_F(CliFiles, AResumeKeepsOnlyTheTraceLinesOfTheInterruptedRun) {
  const std::string ck = out_ + "/ck.json", trace = out_ + "/t.csv", straight = out_ + "/s.csv";
  ASSERT_EQ(run({"fit", data_, "--epochs", "6", "--lr", "0.02", "-q", "--trace", straight}).code, 0);
  ASSERT_EQ(run({"fit", data_, "--epochs", "3", "--lr", "0.02", "-q", "--trace", trace, "--checkpoint", ck}).code, 0);
  const std::string genuine = read_all(trace);
  // The genuine trace is continued into the straight run's bytes.
  const std::string ck_copy = out_ + "/ck2.json";
  fs::copy_file(ck, ck_copy);
  Result r = run({"fit", data_, "--epochs", "6", "--lr", "0.02", "-q", "--trace", trace, "--resume", ck,
                  "--checkpoint", ck});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(read_all(trace), read_all(straight));

  // A trace of another run with the same header: one number changed in each variant.
  const auto header_end = genuine.find('\n') + 1;
  for (int variant = 0; variant < 3; ++variant) {
    SCOPED_TRACE(variant);
    std::string foreign = genuine;
    if (variant == 0) foreign.insert(foreign.find(",", foreign.find("\n1,") + 3) + 1, "9");  // mse of epoch 1
    if (variant == 1) foreign.insert(foreign.rfind(',') + 1, "1");                          // last weight
    if (variant == 2) foreign = genuine.substr(0, header_end) + "0,1,2,3,4\n1,1,2,3,4\n2,1,2,3,4\n3,1,2,3,4\n";
    ASSERT_NE(foreign, genuine);
    write_all(trace, foreign);
    fs::copy_file(ck_copy, ck, fs::copy_options::overwrite_existing);
    r = run({"fit", data_, "--epochs", "6", "--lr", "0.02", "--trace", trace, "--resume", ck, "--checkpoint", ck});
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_TRUE(contains(r.err, "the trace starts after the checkpoint")) << r;
    const std::string got = read_all(trace);
    const std::string tail = read_all(straight).substr(read_all(straight).find("\n4,") + 1);
    EXPECT_EQ(got, genuine.substr(0, header_end) + tail);
  }
}

TEST_F(CliFiles, GenRefusesScalesAndNoiseThatOverflow) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--scales", "1e308"},
           {"--noise", "1e308"},
           {"--scales", "1e38", "--dtype", "float32"},
           {"--noise", "1e38", "--dtype", "float32"},
           {"--scales", "1e300,1e300,1e308", "--features", "3"}}) {
    SCOPED_TRACE(::testing::PrintToString(args));
    std::vector<std::string> cmd{"gen", "-o", out_ + "/g.csv", "--rows", "1000", "-q"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    const Result r = run(cmd);
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_TRUE(contains(r.err, args[0])) << r;
    EXPECT_TRUE(out_entries().empty());
  }
  // Large but representable: every value finite.
  const Result ok = run({"gen", "-o", out_ + "/g.csv", "--rows", "1000", "--features", "2", "-q", "--scales",
                         "1e307", "--noise", "1e300"});
  ASSERT_EQ(ok.code, 0) << ok;
  EXPECT_FALSE(contains(read_all(out_ + "/g.csv"), "inf"));
  const Result f32 = run({"gen", "-o", out_ + "/f.csv", "--rows", "1000", "--features", "2", "-q", "--scales",
                          "1e37", "--dtype", "float32"});
  ASSERT_EQ(f32.code, 0) << f32;
  EXPECT_FALSE(contains(read_all(out_ + "/f.csv"), "inf"));
}

// --- integer options --------------------------------------------------------------------------

TEST_F(CliFiles, IntegerOptionsRefuseValuesOutOfTheirRange) {
  const std::vector<std::vector<std::string>> cases{
      {"fit", data_, "--seed", "-1"},
      {"fit", data_, "--seed", "18446744073709551616"},
      {"fit", data_, "--epochs", "1e30"},
      {"fit", data_, "--epochs", "-3"},
      {"fit", data_, "--epochs", "99999999999999999999"},
      {"fit", data_, "--batch-size", "-1"},
      {"fit", data_, "--threads", "4294967297"},
      {"fit", data_, "--checkpoint-every", "-2", "--checkpoint", out_ + "/ck.json"},
      {"fit", data_, "--n-iter-no-change", "2.5"},
      {"demo", "--rows", "-5"},
      {"demo", "--data-seed", "-1"},
      {"gen", "-o", out_ + "/g.csv", "--rows", "1e30"},
      {"gen", "-o", out_ + "/g.csv", "--rows", "-1"},
      {"gen", "-o", out_ + "/g.csv", "--rows", "9223372036854775807"},
      {"gen", "-o", out_ + "/g.csv", "--features", "4611686018427387904"},
      {"gen", "-o", out_ + "/g.csv", "--seed", "-1"},
      {"bench", "--rows", "-1"},
      {"bench", "--rows", "9223372036854775807"},
      {"bench", "--threads", "-1"},
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(::testing::PrintToString(args));
    const Result r = run(args);
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_FALSE(r.err.empty()) << r;
    EXPECT_TRUE(out_entries().empty());
  }
  // The largest seed is a seed.
  const Result ok = run({"fit", data_, "--epochs", "2", "-q", "--seed", "18446744073709551615"});
  EXPECT_EQ(ok.code, 0) << ok;
}

// Real options: 1e400 (inf after parsing), "nan" and values out of range are usage errors
// whose message is short: CLI11's own range validators printed DBL_MAX with 309 digits.
TEST_F(CliFiles, RealOptionsRefuseNonFiniteAndOutOfRangeValuesBriefly) {
  const std::vector<std::vector<std::string>> cases{
      {"fit", data_, "--tol", "1e400"},      {"fit", data_, "--l2", "-1"},
      {"fit", data_, "--l1", "nan"},         {"fit", data_, "--power-t", "inf"},
      {"fit", data_, "--decay", "1.5"},      {"fit", data_, "--validation-fraction", "2"},
      {"fit", data_, "--momentum", "1e999"}, {"fit", data_, "--beta1", "-0.1"},
      {"fit", data_, "--init-bias", "1e400"}, {"demo", "--noise", "-inf"},
      {"gen", "-o", out_ + "/g.csv", "--noise", "1e400"},
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(::testing::PrintToString(args));
    const Result r = run(args);
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_FALSE(r.err.empty()) << r;
    EXPECT_LT(r.err.size(), 200u) << r;
    EXPECT_TRUE(out_entries().empty());
  }
  const Result ok = run({"fit", data_, "--epochs", "2", "-q", "--tol", "1e-400", "--init-bias", "-2.5"});
  EXPECT_EQ(ok.code, 0) << ok;
}

}  // namespace
