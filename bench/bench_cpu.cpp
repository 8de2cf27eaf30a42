// CPU benchmarks: one fused loss+gradient pass (evaluate) against a read-only pass over the
// same bytes (the ceiling), on random data larger than the caches.
//   build/bench/bench_cpu --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <vector>

#include "backend/backend.hpp"
#include "backend/device_probe.hpp"
#include "io/synthetic.hpp"

namespace {

struct Case {
  steepest::io::SyntheticData data;
  std::vector<float> x32, y32;
  steepest::MatrixView X;
  steepest::VectorView y;
};

Case make_case(std::int64_t n, std::int64_t d, bool f32, steepest::Layout layout) {
  Case c;
  steepest::io::SyntheticSpec spec;
  spec.rows = n;
  spec.cols = d;
  spec.layout = layout;
  c.data = steepest::io::make_synthetic(spec);
  if (f32) {
    c.x32.assign(c.data.X.begin(), c.data.X.end());
    c.y32.assign(c.data.y.begin(), c.data.y.end());
    c.X = steepest::make_matrix_view(c.x32.data(), n, d, layout);
    c.y = steepest::make_vector_view(c.y32.data(), n);
  } else {
    c.X = c.data.x_view();
    c.y = c.data.y_view();
  }
  return c;
}

std::int64_t bytes_of(const Case& c) {
  return (c.X.rows * c.X.cols + c.y.size) * steepest::dtype_size(c.X.dtype);
}

/// The read ceiling over \p bytes, measured once per size in this run.
double ceiling_gbs(const void* data, std::int64_t bytes) {
  static std::map<std::int64_t, double> cache;
  auto it = cache.find(bytes);
  if (it == cache.end()) it = cache.emplace(bytes, steepest::detail::cpu_read_bandwidth(data, bytes, 0)).first;
  return it->second;
}

// args: rows, cols, float32?, column-major?
void BM_FusedPass(benchmark::State& state) {
  const auto layout = state.range(3) ? steepest::Layout::col_major : steepest::Layout::row_major;
  const Case c = make_case(state.range(0), state.range(1), state.range(2) != 0, layout);
  auto be = steepest::detail::make_cpu_backend(c.X, c.y, 0);
  std::vector<double> w(static_cast<std::size_t>(c.X.cols), 0.1);
  be->set_parameters(w.data(), 0.0);
  for (auto _ : state) {
    be->compute(0, c.X.rows, false);
    benchmark::DoNotOptimize(be->loss());
  }
  const std::int64_t bytes = bytes_of(c);
  state.SetBytesProcessed(state.iterations() * bytes);
  state.SetItemsProcessed(state.iterations() * c.X.rows);
  // Achieved GB/s over the ceiling, both in this run: 100 = at the read ceiling.
  // The ceiling is measured over X's own buffer (y's bytes are ~1/(d+1) of the total).
  const std::int64_t x_bytes = c.X.rows * c.X.cols * steepest::dtype_size(c.X.dtype);
  state.counters["pct_ceiling"] = benchmark::Counter(
      static_cast<double>(bytes) / 1e9 / ceiling_gbs(c.X.data, x_bytes) * 100.0,
      benchmark::Counter::kIsIterationInvariantRate);
}

// The read ceiling: a vectorised read-only pass over the same number of bytes, same
// threads (steepest::detail::cpu_read_bandwidth); reported through manual time.
void BM_ReadCeiling(benchmark::State& state) {
  const std::int64_t bytes = state.range(0) * (state.range(1) + 1) * (state.range(2) ? 4 : 8);
  std::vector<std::uint64_t> data(static_cast<std::size_t>(bytes / 8));
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = i * 0x9E3779B97F4A7C15ull;
  for (auto _ : state) {
    const double gbs = steepest::detail::cpu_read_bandwidth(data.data(), bytes, 0);
    state.SetIterationTime(static_cast<double>(bytes) / (gbs * 1e9));
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (std::int64_t d : {1, 4, 16, 64, 256})
    for (std::int64_t f32 : {0, 1})
      b->Args({(std::int64_t{1} << 25) / (d + 1), d, f32, 0});
  b->Args({(std::int64_t{1} << 25) / 17, 16, 1, 1});
  b->Args({(std::int64_t{1} << 25) / 17, 16, 0, 1});
  b->ArgNames({"rows", "d", "f32", "colmajor"})->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_FusedPass)->Apply(shapes)->UseRealTime();
BENCHMARK(BM_ReadCeiling)->Apply(shapes)->UseManualTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
