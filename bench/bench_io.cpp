// Loader throughput: CSV text (in memory, so the disk is not measured) parsed to float64
// and float32, per parser thread count.  Target: >= 200 MB/s per core on numeric files.
//   build/bench/bench_io
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "io/csv.hpp"
#include "io/synthetic.hpp"

namespace {

/// ~100 MB of 8 features + target, 9 significant digits, as a user's export looks.
const std::string& csv_text() {
  static const std::string text = [] {
    steepest::io::SyntheticSpec spec;
    spec.rows = 1'000'000;
    spec.cols = 8;
    const auto data = steepest::io::make_synthetic(spec);
    std::string t = "x1,x2,x3,x4,x5,x6,x7,x8,y\n";
    char buf[32];
    for (std::int64_t i = 0; i < spec.rows; ++i) {
      for (std::int64_t k = 0; k < spec.cols; ++k) {
        std::snprintf(buf, sizeof buf, "%.9g,", 100.0 * data.X[static_cast<std::size_t>(i * spec.cols + k)]);
        t += buf;
      }
      std::snprintf(buf, sizeof buf, "%.9g\n", data.y[static_cast<std::size_t>(i)]);
      t += buf;
    }
    return t;
  }();
  return text;
}

// args: threads, float32?
void BM_CsvParse(benchmark::State& state) {
  const std::string& text = csv_text();
  steepest::io::CsvOptions opt;
  opt.threads = static_cast<int>(state.range(0));
  opt.dtype = state.range(1) ? steepest::DType::float32 : steepest::DType::float64;
  for (auto _ : state) {
    auto ds = steepest::io::parse_csv(text, "bench.csv", opt);
    benchmark::DoNotOptimize(ds.rows);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
  state.counters["MB/s/thread"] = benchmark::Counter(
      static_cast<double>(text.size()) / 1e6 / static_cast<double>(state.range(0)),
      benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CsvParse)->ArgsProduct({{1, 2}, {0, 1}})->ArgNames({"threads", "f32"})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
