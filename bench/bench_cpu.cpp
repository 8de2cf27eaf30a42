// CPU benchmarks: one fused loss+gradient pass (evaluate) against a read-only pass over the
// same bytes (the ceiling), on random data larger than the caches.
//   build/bench/bench_cpu --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "backend.hpp"
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
  state.SetBytesProcessed(state.iterations() * bytes_of(c));
  state.SetItemsProcessed(state.iterations() * c.X.rows);
}

// The read ceiling: a vectorised sum over the same bytes, same threads.
void BM_ReadCeiling(benchmark::State& state) {
  const std::int64_t n = state.range(0) * (state.range(1) + 1);
  const bool f32 = state.range(2) != 0;
  std::vector<double> v64(f32 ? 0 : static_cast<std::size_t>(n), 1.0);
  std::vector<float> v32(f32 ? static_cast<std::size_t>(n) : 0, 1.0f);
  for (auto _ : state) {
    double s = 0.0;
    if (f32) {
#pragma omp parallel for simd reduction(+ : s) schedule(static)
      for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(v32[static_cast<std::size_t>(i)]);
    } else {
#pragma omp parallel for simd reduction(+ : s) schedule(static)
      for (std::int64_t i = 0; i < n; ++i) s += v64[static_cast<std::size_t>(i)];
    }
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(state.iterations() * n * (f32 ? 4 : 8));
}

void shapes(benchmark::internal::Benchmark* b) {
  for (std::int64_t d : {1, 4, 16, 64, 256})
    for (std::int64_t f32 : {0, 1})
      b->Args({(std::int64_t{1} << 25) / (d + 1), d, f32, 0});
  b->Args({(std::int64_t{1} << 25) / 17, 16, 1, 1});
  b->Args({(std::int64_t{1} << 25) / 17, 16, 0, 1});
  b->ArgNames({"rows", "d", "f32", "colmajor"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_FusedPass)->Apply(shapes);
BENCHMARK(BM_ReadCeiling)->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
