// The CLI under mpirun (built with MPI only): the files of a fit on 1, 2, 3 and 4 ranks are
// those of the plain binary, byte for byte (but for the "ranks" it records, the thread count
// in its device name and the timings); a bad row on one rank fails every rank; a fit stopped
// by SIGTERM to one of its ranks resumes on another rank count with the bits of a run never
// stopped; a rank killed with -9 ends the job instead of hanging it.
//
// Runs mpirun with --oversubscribe (more ranks than this machine's cores) and the two
// OMPI_ALLOW_RUN_AS_ROOT variables (CI runs as root).
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "cli_support.hpp"

namespace {

using namespace cli_test;

/// The launcher for \p ranks processes, as shell text before the binary.
std::string mpirun(int ranks) {
  return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
         "timeout -k 10 120 " STEEPEST_MPIEXEC " " STEEPEST_MPIEXEC_NUMPROC_FLAG " " +
         std::to_string(ranks) + " " STEEPEST_MPIEXEC_PREFLAGS;
}

/// A model file without what may differ between runs that computed the same fit.
std::string comparable(std::string json) {
  for (const char* key : {"setup_seconds", "wall_seconds", "gram_seconds", "ranks", "device"})
    json = std::regex_replace(json, std::regex(std::string("\"") + key + "\": [^\n]*"), std::string("\"") + key + "\"");
  return json;
}

class Mpi : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    csv_ = dir_ + "/d.csv";
    npy_ = dir_ + "/d.npy";
    // 20000 rows: 9 shards of 2731 rows (d = 3), so every rank count splits unevenly.
    ASSERT_EQ(run({"gen", "-o", npy_, "--rows", "20000", "--features", "3", "--seed", "3", "-q"}).code, 0);
    ASSERT_EQ(run({"gen", "-o", csv_, "--rows", "20000", "--features", "3", "--seed", "4", "-q"}).code, 0);
  }

  /// The fit's files from the plain binary and from mpirun -np 1..4 must agree.
  void expect_identical(const std::string& data, std::vector<std::string> args) {
    auto files = [&](const std::string& tag) {
      std::vector<std::string> a = {"fit", data, "-q", "-o", out_ + "/" + tag + ".json", "--history",
                                    out_ + "/" + tag + ".csv", "--trace", out_ + "/" + tag + ".trace"};
      a.insert(a.end(), args.begin(), args.end());
      return a;
    };
    const Result plain = run(files("plain"));
    ASSERT_EQ(plain.code, 0) << plain;
    const std::string model = comparable(read_all(out_ + "/plain.json"));
    for (int ranks = 1; ranks <= 4; ++ranks) {
      SCOPED_TRACE(std::to_string(ranks) + " ranks");
      const std::string tag = "np" + std::to_string(ranks);
      const Result r = run(files(tag), mpirun(ranks));
      ASSERT_EQ(r.code, 0) << r;
      EXPECT_EQ(comparable(read_all(out_ + "/" + tag + ".json")), model);
      EXPECT_EQ(read_all(out_ + "/" + tag + ".csv"), read_all(out_ + "/plain.csv"));
      EXPECT_EQ(read_all(out_ + "/" + tag + ".trace"), read_all(out_ + "/plain.trace"));
      EXPECT_TRUE(contains(read_all(out_ + "/" + tag + ".json"), "\"ranks\": " + std::to_string(ranks)));
    }
  }

  std::string csv_, npy_;
};

TEST_F(Mpi, FullBatchIsByteIdenticalOnEveryRankCount) {
  expect_identical(npy_, {"--epochs", "30", "--lr", "0.3"});
}

TEST_F(Mpi, ShuffledBatchesFromCsvAreByteIdentical) {
  expect_identical(csv_, {"--epochs", "4", "--lr", "0.05", "--batch-size", "300", "--optimizer", "momentum"});
}

// Beyond kShuffleBucketRows (65536) training rows the ranks share the shuffle's work
// through the MPI communicator's alltoallv (train/shuffle_across.cpp): rows held out, and
// runs of 2 (more than 65536 runs, one of them across two ranks' rows when a rank's share
// is odd).
TEST_F(Mpi, ShuffledBatchesBeyondOneBucketAreByteIdentical) {
  const std::string big = dir_ + "/big.npy";
  ASSERT_EQ(run({"gen", "-o", big, "--rows", "150001", "--features", "2", "--seed", "5", "-q"}).code, 0);
  expect_identical(big, {"--epochs", "2", "--lr", "0.05", "--batch-size", "1000", "--validation-fraction", "0.1"});
  expect_identical(big, {"--epochs", "2", "--lr", "0.05", "--batch-size", "999", "--shuffle-block", "2"});
}

TEST_F(Mpi, WeightsHeldOutRowsAndEarlyStoppingAreByteIdentical) {
  // The generated CSV's first feature column as sample weights (|x| in [0, ~1]).
  const std::string weighted = csv("w.csv", [&] {
    std::string text = read_all(csv_), out;
    std::size_t at = 0;
    bool header = true;
    while (at < text.size()) {
      const std::size_t nl = text.find('\n', at);
      std::string line = text.substr(at, nl - at);
      at = nl + 1;
      if (header) {
        out += line + ",w\n";
        header = false;
        continue;
      }
      const std::string first = line.substr(0, line.find(','));
      out += line + "," + (first[0] == '-' ? first.substr(1) : first) + "\n";
    }
    return out;
  }());
  expect_identical(weighted, {"--epochs", "25", "--lr", "0.2", "--weight-column", "w", "--target", "y",
                              "--validation-fraction", "0.2", "--tol", "1e-4", "--n-iter-no-change", "3"});
}

TEST_F(Mpi, AWeightFileBesideCsvIsByteIdentical) {
  std::string weights = "w\n";
  for (int i = 0; i < 20000; ++i) weights += std::to_string(1 + i % 3) + "\n";
  expect_identical(csv_, {"--epochs", "3", "--lr", "0.05", "--batch-size", "700", "--weight-file",
                          csv("w.txt", weights)});
}

TEST_F(Mpi, StandardizeAndLrAutoWithBatchesAreByteIdentical) {
  expect_identical(npy_, {"--epochs", "3", "--lr", "auto", "--standardize", "--batch-size", "1000"});
}

TEST_F(Mpi, StandardizeFromTheGramPassIsByteIdentical) {
  // Full batch, gram: the column moments come from the Gram sums, reduced across the ranks.
  expect_identical(npy_, {"--epochs", "30", "--lr", "auto", "--standardize", "--solver", "gram",
                          "--validation-fraction", "0.2"});
}

TEST_F(Mpi, WeightedStandardizeFromTheGramPassIsByteIdentical) {
  // Weighted: the unweighted column moments' pass and the weighted Gram sums, both reduced
  // across the ranks in chunk order.
  std::string weights = "w\n";
  for (int i = 0; i < 20000; ++i) weights += std::to_string(i % 7 == 3 ? 0.0 : 0.25 + 0.5 * (i % 5)) + "\n";
  expect_identical(npy_, {"--epochs", "30", "--lr", "auto", "--standardize", "--solver", "gram",
                          "--validation-fraction", "0.2", "--weight-file", csv("w.txt", weights)});
}

TEST_F(Mpi, MiniBatchGramModeIsByteIdentical) {
  // Shuffled batches with --solver gram (every batch's sums through the reduction), and
  // fixed batches under auto (gram, affine epochs with nesterov and exact history).
  expect_identical(csv_, {"--epochs", "3", "--lr", "0.05", "--batch-size", "500", "--solver", "gram",
                          "--optimizer", "momentum", "--history-mode", "running"});
  expect_identical(npy_, {"--epochs", "40", "--lr", "0.02", "--batch-size", "1000", "--no-shuffle",
                          "--optimizer", "nesterov", "--validation-fraction", "0.1"});
}

TEST_F(Mpi, AdamWithL1AreByteIdentical) {
  expect_identical(npy_, {"--epochs", "3", "--lr", "0.01", "--optimizer", "adam", "--l1", "0.001",
                          "--batch-size", "256"});
}

TEST_F(Mpi, ABadRowOnOneRankFailsEveryRankOnce) {
  // Line 18000 of 20001 (data row 17999) lies in the last of 3 ranks' rows (from 13655).
  std::string text = read_all(csv_);
  std::size_t at = 0;
  for (int line = 1; line < 18000; ++line) at = text.find('\n', at) + 1;
  text.replace(at, text.find('\n', at) - at, "1.0,oops,2.0,3.0");
  const std::string bad = csv("bad.csv", text);
  const Result r = run({"fit", bad, "--epochs", "2", "-o", out_ + "/m.json"}, mpirun(3));
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(names_line(r.err, "bad.csv", 18000)) << r;
  EXPECT_TRUE(contains(r.err, "rank 2: ")) << r;
  // Said once, by rank 0, not once per rank.
  EXPECT_EQ(r.err.find("steepest: error"), r.err.rfind("steepest: error")) << r;
  EXPECT_FALSE(fs::exists(out_ + "/m.json"));
}

TEST_F(Mpi, SigtermToOneRankThenResumeOnAnotherRankCountHasTheBitsOfOneRun) {
  const std::vector<std::string> fit = {"fit", npy_, "-q", "--epochs", "300", "--lr", "0.01", "--batch-size", "500",
                                        "--optimizer", "nesterov"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = fit;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  ASSERT_EQ(run(with({"-o", out_ + "/whole.json", "--history", out_ + "/whole.csv"})).code, 0);
  // Three ranks; once the first checkpoint exists, SIGTERM to one rank only (as a
  // scheduler's signal might reach one task first): the stop flag travels with the
  // reduction, so every rank stops after the same step and rank 0 writes the checkpoint.
  // (mpirun forwards a SIGTERM sent to it as well, but Open MPI's follows it with SIGKILL
  // after odls_base_sigkill_timeout, 1 s by default, which a loaded machine may not beat.)
  const std::string ck = out_ + "/ck.json";
  std::string cmd = mpirun(3) + " " + quote(STEEPEST_CLI_PATH);
  for (const auto& a : with({"--checkpoint", ck, "--checkpoint-every", "1", "-o", out_ + "/cut.json"}))
    cmd += " " + quote(a);
  const std::string script = "(" + cmd + " >/dev/null 2>" + quote(dir_ + "/cut.err") +
                             " & pid=$!; for i in $(seq 3000); do [ -f " + quote(ck) +
                             " ] && break; sleep 0.01; done; kill -TERM $(pgrep -P $(pgrep -P $pid) | tail -1); "
                             "wait $pid)";
  std::system(script.c_str());
  const std::string err = read_all(dir_ + "/cut.err");
  ASSERT_TRUE(contains(err, "stopped by ")) << err;
  ASSERT_TRUE(fs::exists(ck)) << err;
  // Resumed on two ranks.
  const Result r = run(with({"--checkpoint", ck, "--resume", ck, "-o", out_ + "/resumed.json", "--history",
                             out_ + "/resumed.csv"}),
                       mpirun(2));
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(read_all(out_ + "/resumed.csv"), read_all(out_ + "/whole.csv"));
  EXPECT_EQ(comparable(read_all(out_ + "/resumed.json")), comparable(read_all(out_ + "/whole.json")));
}

TEST_F(Mpi, ARankKilledEndsTheJob) {
  const std::string started = dir_ + "/started";
  std::string cmd = mpirun(3) + " " + quote(STEEPEST_CLI_PATH);
  for (const auto& a : std::vector<std::string>{"fit", npy_, "-q", "--epochs", "1000000", "--batch-size", "100",
                                                "--checkpoint", started, "--checkpoint-every", "1"})
    cmd += " " + quote(a);
  // Kill one rank (a child of mpirun, itself the child of `timeout`) once the fit runs;
  // mpirun must then end the job, well before `timeout` (120 s, then SIGKILL 10 s later) would.
  const std::string script = "(" + cmd + " >/dev/null 2>&1 & pid=$!; for i in $(seq 600); do [ -f " +
                             quote(started) + " ] && break; sleep 0.05; done; kill -9 $(pgrep -P $(pgrep -P $pid) | tail -1); " +
                             "start=$(date +%s); wait $pid; rc=$?; echo $rc $(( $(date +%s) - start )) > " +
                             quote(dir_ + "/ended") + ")";
  std::system(script.c_str());
  const std::string ended = read_all(dir_ + "/ended");
  int rc = -1, seconds = -1;
  ASSERT_EQ(std::sscanf(ended.c_str(), "%d %d", &rc, &seconds), 2) << ended;
  EXPECT_NE(rc, 0);
  EXPECT_NE(rc, 124) << "the job hung until timeout killed it";  // (137 is mpirun's own too: the time tells)
  EXPECT_LT(seconds, 60);
}

TEST_F(Mpi, EvaluateReportsOnEveryRanksRowsOnce) {
  ASSERT_EQ(run({"fit", csv_, "-q", "--epochs", "20", "--lr", "0.3", "-o", out_ + "/m.json"}).code, 0);
  const Result plain = run({"evaluate", out_ + "/m.json", csv_});
  ASSERT_EQ(plain.code, 0) << plain;
  for (const int ranks : {2, 3}) {
    const Result r = run({"evaluate", out_ + "/m.json", csv_}, mpirun(ranks));
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_EQ(r.out, plain.out);  // the same metrics to the printed digits, printed once
  }
  const Result predict = run({"predict", out_ + "/m.json", csv_}, mpirun(2));
  EXPECT_EQ(predict.code, 2) << predict;
  EXPECT_TRUE(contains(predict.err, "run predict in one process")) << predict;
  EXPECT_EQ(predict.err.find("steepest: error"), predict.err.rfind("steepest: error")) << predict;
}

TEST_F(Mpi, InfoNamesTheLibraryAndTheRanks) {
  const Result alone = run({"info"});
  EXPECT_TRUE(contains(alone.out, "mpi            ")) << alone;
  const Result two = run({"info"}, mpirun(2));
  ASSERT_EQ(two.code, 0) << two;
  EXPECT_TRUE(contains(two.out, ", 2 ranks")) << two;
  EXPECT_EQ(two.out.find("mpi  "), two.out.rfind("mpi  ")) << "one report for the job";
}

}  // namespace
