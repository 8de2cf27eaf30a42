// CPU benchmarks: one fused loss+gradient pass (evaluate) against a read-only pass over the
// same bytes (the ceiling), on random data larger than the caches; the Gram pass
// (Backend::gram_sums) against that read ceiling and a float64 FMA peak probe; and a fit of
// 1000 epochs with each solver against one fused pass (bench/README.md, "Gram pass"); the
// epoch order's cost, and the floor of a shuffled single-row mini-batch epoch (a gather).
//   build/bench/bench_cpu --benchmark_counters_tabular=true
//   build/bench/bench_cpu --benchmark_filter='Gram|FmaPeak|Solver'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <numeric>
#include <memory>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define STEEPEST_BENCH_X86 1
#endif

#include "backend/backend.hpp"
#include "backend/device_probe.hpp"
#include "backend/gram.hpp"
#include "backend/view_access.hpp"
#include "io/synthetic.hpp"
#include "steepest/device.hpp"
#include "steepest/fit.hpp"
#include "train/permutation.hpp"
#include "train/standardize.hpp"

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

// ---- Is the machine busy? ----------------------------------------------------------------
// A 2-thread pass ends with its slower thread: a process sharing one of the 2 cores slows
// the ceiling probe and the pass alike, by chance not by the same amount, and their ratio
// means little.  What other processes took is measured, not guessed from the load average
// (which counts this benchmark's own threads): the machine's busy CPU time from /proc/stat
// (steal included: on a VM, time the host gave to others) less this process's own
// (getrusage), over the same interval, as a share of all CPUs.

/// The machine's busy CPU seconds (all CPUs) and this process's CPU seconds, now.
struct CpuTimes {
  double machine = 0, self = 0;
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
};

CpuTimes cpu_times_now() {
  CpuTimes t;
  if (std::FILE* f = std::fopen("/proc/stat", "r")) {
    unsigned long long v[8] = {};  // user nice system idle iowait irq softirq steal
    if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                    &v[5], &v[6], &v[7]) == 8) {
      const double busy_ticks = static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
      t.machine = busy_ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
    std::fclose(f);
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  t.self = static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  return t;
}

/// Percent of all CPUs used by other processes since \p since (0 = idle; clamped at 0:
/// /proc/stat counts in 10 ms ticks).
double others_cpu_pct(const CpuTimes& since) {
  const CpuTimes now = cpu_times_now();
  const double wall = std::chrono::duration<double>(now.wall - since.wall).count();
  const double cpus = static_cast<double>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  if (wall <= 0) return 0;
  return std::max(0.0, 100.0 * ((now.machine - since.machine) - (now.self - since.self)) / (wall * cpus));
}

constexpr double kBusyPct = 10;  // others above 10 % of the CPUs: the row is flagged busy

/// "idle", or "BUSY: ..." for a row whose timing saw other processes use \p pct of the CPUs.
std::string busy_label(double pct) {
  char buf[96];
  if (pct <= kBusyPct) return "idle";
  std::snprintf(buf, sizeof buf, "BUSY: other processes used %.0f%% of the CPUs", pct);
  return buf;
}

// args: rows, cols, float32?, column-major?  Each timed pass is followed (timing paused) by
// a read-only pass over the same bytes, X's buffer then y's: the ceiling is their mean GB/s
// under the same conditions as the passes, and pct_ceiling the passes' mean GB/s over it.
// others_cpu_pct: what other processes took of the CPUs meanwhile; label "idle", or
// "BUSY: ..." above kBusyPct (the ratio of such a run means little).
void BM_FusedPass(benchmark::State& state) {
  const auto layout = state.range(3) ? steepest::Layout::col_major : steepest::Layout::row_major;
  const Case c = make_case(state.range(0), state.range(1), state.range(2) != 0, layout);
  auto be = steepest::detail::make_cpu_backend(c.X, c.y, 0);
  std::vector<double> w(static_cast<std::size_t>(c.X.cols), 0.1);
  be->set_parameters(w.data(), 0.0);
  const std::int64_t bytes = bytes_of(c), x_bytes = c.X.rows * c.X.cols * steepest::dtype_size(c.X.dtype);
  be->compute(0, c.X.rows, false);  // warm-up: threads started, pages touched
  steepest::detail::cpu_read_seconds(c.X.data, x_bytes, 0);
  double read_s = 0;
  const CpuTimes since = cpu_times_now();
  for (auto _ : state) {
    be->compute(0, c.X.rows, false);
    benchmark::DoNotOptimize(be->loss());
    state.PauseTiming();
    read_s += steepest::detail::cpu_read_seconds(c.X.data, x_bytes, 0) +
              steepest::detail::cpu_read_seconds(c.y.data, bytes - x_bytes, 0);
    state.ResumeTiming();
  }
  const double others = others_cpu_pct(since);
  const double ceiling = static_cast<double>(bytes) * static_cast<double>(state.iterations()) / read_s / 1e9;
  state.SetBytesProcessed(state.iterations() * bytes);
  state.SetItemsProcessed(state.iterations() * c.X.rows);
  // Achieved GB/s over the ceiling, both in this run: 100 = at the read ceiling.
  state.counters["pct_ceiling"] = benchmark::Counter(static_cast<double>(bytes) / 1e9 / ceiling * 100.0,
                                                     benchmark::Counter::kIsIterationInvariantRate);
  state.counters["ceiling_GBps"] = ceiling;
  state.counters["others_cpu_pct"] = others;
  state.SetLabel(busy_label(others));
}

// The read ceiling: a vectorised read-only pass over the same number of bytes, same
// threads (steepest::detail::cpu_read_bandwidth); reported through manual time, flagged
// busy as BM_FusedPass.
void BM_ReadCeiling(benchmark::State& state) {
  const std::int64_t bytes = state.range(0) * (state.range(1) + 1) * (state.range(2) ? 4 : 8);
  std::vector<std::uint64_t> data(static_cast<std::size_t>(bytes / 8));
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = i * 0x9E3779B97F4A7C15ull;
  const CpuTimes since = cpu_times_now();
  for (auto _ : state) {
    const double gbs = steepest::detail::cpu_read_bandwidth(data.data(), bytes, 0);
    state.SetIterationTime(static_cast<double>(bytes) / (gbs * 1e9));
  }
  state.SetBytesProcessed(state.iterations() * bytes);
  const double others = others_cpu_pct(since);
  state.counters["others_cpu_pct"] = others;
  state.SetLabel(busy_label(others));
}

void shapes(benchmark::internal::Benchmark* b) {
  for (std::int64_t d : {1, 4, 16, 64, 256})
    for (std::int64_t f32 : {0, 1})
      b->Args({(std::int64_t{1} << 25) / (d + 1), d, f32, 0});
  for (std::int64_t d : {24, 48})  // float32 rows of no compile-time kernel (f32_rows_wide)
    b->Args({(std::int64_t{1} << 25) / (d + 1), d, 1, 0});
  for (std::int64_t d : {4, 16, 64})  // column-major X (MatrixView with a column stride)
    for (std::int64_t f32 : {0, 1})
      b->Args({(std::int64_t{1} << 25) / (d + 1), d, f32, 1});
  b->ArgNames({"rows", "d", "f32", "colmajor"})->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_FusedPass)->Apply(shapes)->UseRealTime();
BENCHMARK(BM_ReadCeiling)->Apply(shapes)->UseManualTime()->Iterations(3);

// ---- Gram pass ------------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int bench_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();  // what make_cpu_backend(..., 0) and the read probe use
#else
  return 1;
#endif
}

/// The last case built, kept for the next benchmark of the same shape (building 256 MB of
/// data takes longer than the passes timed on it).
const Case& cached_case(std::int64_t n, std::int64_t d, bool f32, steepest::Layout layout) {
  static std::unique_ptr<Case> kept;
  static std::array<std::int64_t, 4> key{};
  const std::array<std::int64_t, 4> want{n, d, f32 ? 1 : 0, static_cast<std::int64_t>(layout)};
  if (!kept || key != want) {
    kept.reset();  // free the old one first
    kept = std::make_unique<Case>(make_case(n, d, f32, layout));
    key = want;
  }
  return *kept;
}

/// A shift as the trainer takes it: the mean of [x y] over the first rows (at most 1024).
std::vector<double> first_rows_mean(const Case& c) {
  const std::int64_t d = c.X.cols, m = std::min<std::int64_t>(c.X.rows, 1024);
  std::vector<double> s(static_cast<std::size_t>(d + 1), 0.0);
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t k = 0; k < d; ++k) s[static_cast<std::size_t>(k)] += steepest::detail::value_at(c.X, i, k);
    s[static_cast<std::size_t>(d)] += steepest::detail::value_at(c.y, i);
  }
  for (double& v : s) v /= static_cast<double>(m);
  return s;
}

constexpr int kChains = 12;  // independent accumulators: > FMA latency x FMAs issued per cycle

#if defined(STEEPEST_BENCH_X86)
/// \p iters rounds of kChains independent 4-wide float64 FMA chains held in registers
/// (vfmadd231pd ymm): 4 kChains iters multiply-adds.  a = a m + c stays finite (-> c/(1-m)).
__attribute__((target("avx2,fma"))) double fma_chains_avx2(std::int64_t iters) {
  const __m256d m = _mm256_set1_pd(0.999999), c = _mm256_set1_pd(1e-6);
  __m256d a[kChains];
  for (int k = 0; k < kChains; ++k) a[k] = _mm256_set1_pd(1.0 + k);
  for (std::int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int k = 0; k < kChains; ++k) a[k] = _mm256_fmadd_pd(a[k], m, c);
  }
  __m256d t = a[0];
  for (int k = 1; k < kChains; ++k) t = _mm256_add_pd(t, a[k]);
  alignas(32) double out[4];
  _mm256_store_pd(out, t);
  return out[0] + out[1] + out[2] + out[3];
}
#endif

/// The same arithmetic without AVX2 (whatever the compiler makes of it): 4 kChains values.
double fma_chains_generic(std::int64_t iters) {
  double a[4 * kChains];
  for (int k = 0; k < 4 * kChains; ++k) a[k] = 1.0 + k;
  for (std::int64_t i = 0; i < iters; ++i) {
#pragma omp simd
    for (int k = 0; k < 4 * kChains; ++k) a[k] = a[k] * 0.999999 + 1e-6;
  }
  double t = 0;
  for (double v : a) t += v;
  return t;
}

bool have_avx2_fma() {
#if defined(STEEPEST_BENCH_X86)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

/// One timing of \p iters rounds on every thread: float64 multiply-adds per second.
double fma_rate_once(std::int64_t iters, int threads) {
  const bool avx2 = have_avx2_fma();
  double sink = 0;
  const auto t = Clock::now();
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads) reduction(+ : sink)
#endif
  {
#if defined(STEEPEST_BENCH_X86)
    sink += avx2 ? fma_chains_avx2(iters) : fma_chains_generic(iters);
#else
    sink += fma_chains_generic(iters);
#endif
  }
  const double s = seconds_since(t);
  benchmark::DoNotOptimize(sink);
  (void)avx2;
  return 4.0 * kChains * static_cast<double>(iters) * threads / s;
}

/// The float64 FMA peak of this machine with the benches' thread count: best of 5 after a
/// warm-up, measured once per run.
double fma_peak_per_s() {
  static const double peak = [] {
    const int threads = bench_threads();
    const std::int64_t iters = std::int64_t{1} << 24;  // ~0.8e9 multiply-adds a thread
    double best = 0;
    for (int rep = 0; rep < 6; ++rep) {
      const double r = fma_rate_once(iters, threads);
      if (rep > 0) best = std::max(best, r);
    }
    return best;
  }();
  return peak;
}

// The FMA peak probe on its own, as a row of the report (FMA_per_s).
void BM_FmaPeak(benchmark::State& state) {
  const int threads = bench_threads();
  const std::int64_t iters = std::int64_t{1} << 24;
  fma_rate_once(iters, threads);  // warm-up
  for (auto _ : state) {
    const double r = fma_rate_once(iters, threads);
    state.SetIterationTime(4.0 * kChains * static_cast<double>(iters) * threads / r);
  }
  state.counters["FMA_per_s"] = benchmark::Counter(4.0 * kChains * static_cast<double>(iters) * threads,
                                                   benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = threads;
  state.SetLabel(have_avx2_fma() ? "avx2 vfmadd231pd" : "generic (no AVX2+FMA)");
}

/// The label of a Gram pass: its target and whether this run met it.
std::string gram_target(std::int64_t d, double pct_read, double pct_fma) {
  char buf[96];
  if (d <= 4)
    std::snprintf(buf, sizeof buf, "target >= 80%% of read ceiling: %s", pct_read >= 80 ? "met" : "MISSED");
  else if (d >= 16)
    std::snprintf(buf, sizeof buf, "target >= 50%% of FMA peak: %s", pct_fma >= 50 ? "met" : "MISSED");
  else
    std::snprintf(buf, sizeof buf, "no target (between the bounds)");
  return buf;
}

// One Gram pass over every row (float32, row-major); args: rows, cols.  Counters: bytes/s of
// X and y read, float64 multiply-adds per second ((d+1)(d+2)/2 a row: S2's packed triangle),
// and both as % of the read ceiling and of the FMA peak, measured in this run.
void BM_GramPass(benchmark::State& state) {
  const Case& c = cached_case(state.range(0), state.range(1), true, steepest::Layout::row_major);
  const std::int64_t n = c.X.rows, d = c.X.cols;
  auto be = steepest::detail::make_cpu_backend(c.X, c.y, 0);
  const std::vector<double> shift = first_rows_mean(c);
  std::vector<double> totals(steepest::detail::gram_width(d));
  be->gram_sums(0, n, false, shift.data(), totals.data());  // warm-up
  double seconds = 0;
  for (auto _ : state) {
    const auto t = Clock::now();
    be->gram_sums(0, n, false, shift.data(), totals.data());
    benchmark::DoNotOptimize(totals.data());
    seconds += seconds_since(t);
  }
  const auto iters = static_cast<double>(state.iterations());
  const double bytes = static_cast<double>(bytes_of(c));
  const double fmas = static_cast<double>(n) * static_cast<double>(steepest::detail::gram_packed(d));
  state.SetBytesProcessed(state.iterations() * bytes_of(c));
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["FMA_per_s"] = benchmark::Counter(fmas, benchmark::Counter::kIsIterationInvariantRate);
  const std::int64_t x_bytes = n * d * steepest::dtype_size(c.X.dtype);
  const double pct_read = 100.0 * bytes * iters / seconds / 1e9 / ceiling_gbs(c.X.data, x_bytes);
  const double pct_fma = 100.0 * fmas * iters / seconds / fma_peak_per_s();
  state.counters["pct_read_ceiling"] = pct_read;
  state.counters["pct_fma_peak"] = pct_fma;
  state.SetLabel(gram_target(d, pct_read, pct_fma));
}

void gram_shapes(benchmark::internal::Benchmark* b) {
  // X + y = 2^26 float32 values (256 MB): X between 128 and 252 MB.
  for (std::int64_t d : {1, 2, 4, 8, 16, 32, 64}) b->Args({(std::int64_t{1} << 26) / (d + 1), d});
  b->ArgNames({"rows", "d"})->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_FmaPeak)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GramPass)->Apply(gram_shapes)->UseRealTime();

// The unweighted column moments of a weighted --standardize Gram fit (train/standardize.hpp),
// on GramPass's data: arg 0 = unweighted_column_moments (one pass of shifted sums, the
// diagonal of an unweighted Gram pass), 1 = column_scaling (the copy path's three passes).
// Against GramPass/d of the same run: the unweighted Gram pass the moments could also come
// from.  pct_read_ceiling as GramPass's.
void BM_StandardizeMoments(benchmark::State& state) {
  const Case& c = cached_case(state.range(0), state.range(1), true, steepest::Layout::row_major);
  const std::int64_t n = c.X.rows, d = c.X.cols;
  const std::vector<double> shift = first_rows_mean(c);
  steepest::detail::Team alone;
  auto once = [&] {
    if (state.range(2) == 0)
      benchmark::DoNotOptimize(steepest::detail::unweighted_column_moments(c.X, c.y, shift.data(), {}, alone));
    else
      benchmark::DoNotOptimize(steepest::detail::column_scaling(c.X, true));
  };
  once();  // warm-up
  double seconds = 0;
  for (auto _ : state) {
    const auto t = Clock::now();
    once();
    seconds += seconds_since(t);
  }
  const double bytes = static_cast<double>(bytes_of(c));
  state.SetBytesProcessed(state.iterations() * bytes_of(c));
  state.counters["pct_read_ceiling"] = 100.0 * bytes * static_cast<double>(state.iterations()) / seconds / 1e9 /
                                       ceiling_gbs(c.X.data, n * d * steepest::dtype_size(c.X.dtype));
}

BENCHMARK(BM_StandardizeMoments)
    ->Args({(std::int64_t{1} << 26) / 17, 16, 0})
    ->Args({(std::int64_t{1} << 26) / 17, 16, 1})
    ->ArgNames({"rows", "d", "column_scaling"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---- A fit with each solver against one fused pass -------------------------------------

constexpr std::int64_t kSolverRows = 2'000'000, kSolverCols = 16, kSolverEpochs = 1000;

/// Best times of this run: one fused pass, and a fit of kSolverEpochs with each solver.
struct SolverTimes {
  double pass_s = 0, gram_fit_s = 0, residual_fit_s = 0;
};
SolverTimes& solver_times() {
  static SolverTimes t;
  return t;
}

const Case& solver_case() { return cached_case(kSolverRows, kSolverCols, true, steepest::Layout::row_major); }

/// One fused pass over every row of \p be, timed.
double time_one_pass(steepest::detail::Backend& be) {
  const auto t = Clock::now();
  be.compute(0, be.rows(), false);
  benchmark::DoNotOptimize(be.loss());
  return seconds_since(t);
}

/// Best of 5 fused passes after a warm-up (for a ratio when BM_SolverPass was filtered out).
double best_pass_seconds(const Case& c) {
  auto be = steepest::detail::make_cpu_backend(c.X, c.y, 0);
  std::vector<double> w(static_cast<std::size_t>(c.X.cols), 0.1);
  be->set_parameters(w.data(), 0.0);
  time_one_pass(*be);
  double best = 1e300;
  for (int rep = 0; rep < 5; ++rep) best = std::min(best, time_one_pass(*be));
  return best;
}

/// A full-batch fit of kSolverEpochs epochs with \p solver on the CPU, wall seconds.
double time_fit(const Case& c, steepest::Solver solver, steepest::FitResult* out = nullptr) {
  steepest::FitOptions o;
  o.device = steepest::Device::cpu;
  o.solver = solver;
  o.epochs = kSolverEpochs;
  o.learning_rate = 0.5;  // features in [-1, 1): below 2/L
  const auto t = Clock::now();
  steepest::FitResult r = steepest::fit(c.X, c.y, o);
  const double s = seconds_since(t);
  if (out != nullptr) *out = std::move(r);
  return s;
}

// One fused residual pass (compute(0, n, false)) over 2e6 x 16 float32, row-major.
void BM_SolverPass(benchmark::State& state) {
  const Case& c = solver_case();
  auto be = steepest::detail::make_cpu_backend(c.X, c.y, 0);
  std::vector<double> w(static_cast<std::size_t>(c.X.cols), 0.1);
  be->set_parameters(w.data(), 0.0);
  time_one_pass(*be);  // warm-up
  double best = 1e300;
  for (auto _ : state) best = std::min(best, time_one_pass(*be));
  solver_times().pass_s = best;
  state.SetBytesProcessed(state.iterations() * bytes_of(c));
  state.counters["best_ms"] = 1e3 * best;
}

/// Why the fit \p r does not count (empty when it does): another solver, or cut short.
std::string fit_problem(const steepest::FitResult& r, const char* solver) {
  if (r.solver != solver) return "fit ran solver '" + r.solver + "', not " + solver;
  if (r.epochs_run != kSolverEpochs) return "fit stopped after " + std::to_string(r.epochs_run) + " epochs: " + r.message;
  return "";
}

// A fit of 1000 epochs, full batch, solver gram (arg 2) or residual (1), same data.  Gram:
// reports (gram fit) / (one fused pass), target <= 2.5; residual: (residual fit) / (gram
// fit), target >= 100; each against the other measured in this run.
void BM_SolverFit(benchmark::State& state) {
  const bool gram = state.range(0) == static_cast<std::int64_t>(steepest::Solver::gram);
  const Case& c = solver_case();
  steepest::FitResult r;
  double best = 1e300;
  for (auto _ : state) {
    const double s = time_fit(c, gram ? steepest::Solver::gram : steepest::Solver::residual, &r);
    state.SetIterationTime(s);
    best = std::min(best, s);
  }
  const std::string problem = fit_problem(r, gram ? "gram" : "residual");
  if (!problem.empty()) {
    state.SkipWithError(problem.c_str());
    return;
  }
  SolverTimes& t = solver_times();
  (gram ? t.gram_fit_s : t.residual_fit_s) = best;
  state.counters["best_ms"] = 1e3 * best;
  state.counters["final_mse"] = r.final_mse;
  char label[96];
  if (gram) {
    if (t.pass_s == 0) t.pass_s = best_pass_seconds(c);
    const double ratio = best / t.pass_s;
    state.counters["gram_pass_ms"] = 1e3 * r.gram_seconds;
    state.counters["fit_over_pass"] = ratio;
    std::snprintf(label, sizeof label, "target gram fit / fused pass <= 2.5: %s", ratio <= 2.5 ? "met" : "MISSED");
  } else {
    if (t.gram_fit_s == 0) t.gram_fit_s = time_fit(c, steepest::Solver::gram);
    const double ratio = best / t.gram_fit_s;
    state.counters["residual_over_gram"] = ratio;
    std::snprintf(label, sizeof label, "target residual fit / gram fit >= 100: %s", ratio >= 100 ? "met" : "MISSED");
  }
  state.SetLabel(label);
}

BENCHMARK(BM_SolverPass)->UseRealTime()->Unit(benchmark::kMillisecond);
// Gram first (best of 3), then residual (once: ~1000 passes).
BENCHMARK(BM_SolverFit)
    ->ArgName("solver")
    ->Arg(static_cast<std::int64_t>(steepest::Solver::gram))
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SolverFit)
    ->ArgName("solver")
    ->Arg(static_cast<std::int64_t>(steepest::Solver::residual))
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

// ---- the epoch order (host/train/permutation.hpp) ----------------------------------------
// 4e7 rows: the serial Fisher-Yates that orders up to 65536 rows, against the bucketed
// shuffle beyond, on 1 and 2 threads (same rows; the ratio of the two is the gain).
constexpr std::int64_t kOrderRows = 40'000'000;

void BM_EpochOrderSerialFisherYates(benchmark::State& state) {
  std::vector<std::int64_t> rows(kOrderRows);
  std::int64_t epoch = 0;
  for (auto _ : state) {
    std::iota(rows.begin(), rows.end(), std::int64_t{0});
    steepest::detail::SplitMix64 rng(steepest::detail::epoch_seed(1, epoch++));
    for (std::int64_t i = kOrderRows - 1; i > 0; --i)
      std::swap(rows[i], rows[steepest::detail::uniform_below(rng, static_cast<std::uint64_t>(i) + 1)]);
    benchmark::DoNotOptimize(rows.data());
  }
  state.counters["rows_per_s"] = benchmark::Counter(static_cast<double>(kOrderRows), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_EpochOrder(benchmark::State& state) {
  std::vector<std::int64_t> rows(kOrderRows);
  steepest::detail::IndexVector scratch(kOrderRows);
  std::int64_t epoch = 0;
  for (auto _ : state) {
    std::iota(rows.begin(), rows.end(), std::int64_t{0});
    steepest::detail::epoch_shuffle(1, epoch++, rows.data(), kOrderRows, static_cast<std::int32_t>(state.range(0)),
                                    scratch);
    benchmark::DoNotOptimize(rows.data());
  }
  state.counters["rows_per_s"] = benchmark::Counter(static_cast<double>(kOrderRows), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_EpochOrderSerialFisherYates)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_EpochOrder)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

// ---- the floor of a shuffled mini-batch epoch ----------------------------------------------
// A mini-batch epoch over single shuffled rows reads every row once, in the epoch's order:
// a cache miss a row, however the batches are then summed.  This probe reads each row's
// bytes (X's row and y's value) in epoch_permutation's order, kGatherAhead rows asked for
// ahead, on the threads the pass uses (each a share of the order), and compares it with one
// fused full-batch pass over the same data in the same run.  gather_over_pass is the least any shuffled
// single-row epoch can cost in full-batch epochs on this machine (bench/minibatch_cpu.sh
// measures the epochs themselves); ns_per_row the gather's rate.
constexpr std::int64_t kGatherAhead = 16;

/// Seconds to read the rows order[0, n) of \p c (X's row and y's value each), prefetched.
double gather_seconds(const Case& c, const std::int64_t* order, std::int64_t n, int threads) {
  const auto* x = static_cast<const unsigned char*>(c.X.data);
  const auto* y = static_cast<const unsigned char*>(c.y.data);
  const std::int64_t esize = steepest::dtype_size(c.X.dtype), row = c.X.cols * esize;
  std::vector<std::uint64_t> sums(static_cast<std::size_t>(threads) * 8, 0);
  const auto t0 = std::chrono::steady_clock::now();
#if defined(_OPENMP)
#pragma omp parallel for schedule(static, 1) num_threads(threads)
#endif
  for (int t = 0; t < threads; ++t) {
    const std::int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
    std::uint64_t acc = 0;
    for (std::int64_t k = lo; k < hi; ++k) {
      if (k + kGatherAhead < hi) {
        const std::int64_t a = order[k + kGatherAhead];
        for (std::int64_t b = 0; b < row; b += 64) __builtin_prefetch(x + a * row + b);
        __builtin_prefetch(y + a * esize);
      }
      const std::int64_t i = order[k];
      for (std::int64_t b = 0; b < row; b += 8) {  // every 8 bytes of the row, and y's value
        std::uint64_t v = 0;
        std::memcpy(&v, x + i * row + b, static_cast<std::size_t>(std::min<std::int64_t>(8, row - b)));
        acc += v;
      }
      std::uint32_t v = 0;
      std::memcpy(&v, y + i * esize, 4);
      acc += v;
    }
    sums[static_cast<std::size_t>(t) * 8] = acc;  // a line a thread
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  benchmark::DoNotOptimize(sums.data());
  return s;
}

// args: rows, cols, float32?  Each iteration a new epoch's order (not timed), its gather,
// then a full-batch pass.
void BM_ShuffledGatherFloor(benchmark::State& state) {
  const Case c = make_case(state.range(0), state.range(1), state.range(2) != 0, steepest::Layout::row_major);
  const std::int64_t n = c.X.rows;
  auto be = steepest::detail::make_cpu_backend(c.X, c.y, 0);
  std::vector<double> w(static_cast<std::size_t>(c.X.cols), 0.1);
  be->set_parameters(w.data(), 0.0);
  be->compute(0, n, false);  // warm-up: threads started, pages touched
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  int threads = 1;  // the backend's (0: every thread OpenMP has)
#if defined(_OPENMP)
  threads = omp_get_max_threads();
#endif
  double gather = 0, pass = 0;
  std::int64_t epoch = 0;
  const CpuTimes since = cpu_times_now();
  for (auto _ : state) {
    state.PauseTiming();
    steepest::detail::epoch_permutation(1, epoch++, order.data(), n);
    state.ResumeTiming();
    const double g = gather_seconds(c, order.data(), n, threads);
    const auto t0 = std::chrono::steady_clock::now();
    be->compute(0, n, false);
    benchmark::DoNotOptimize(be->loss());
    const double p = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(g);
    gather += g;
    pass += p;
  }
  const double others = others_cpu_pct(since);
  state.counters["gather_over_pass"] = gather / pass;
  state.counters["ns_per_row"] = gather / static_cast<double>(state.iterations() * n) * 1e9;
  state.counters["pass_ms"] = pass / static_cast<double>(state.iterations()) * 1e3;
  state.counters["others_cpu_pct"] = others;
  state.SetLabel(busy_label(others));
}

BENCHMARK(BM_ShuffledGatherFloor)
    ->Args({40'000'000, 4, 1})
    ->Args({10'000'000, 16, 1})
    ->ArgNames({"rows", "d", "f32"})
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

// The CPU kernel set and the row prefetch distance in the JSON's context, so that saved runs
// say what ran (both change with the machine: cpu_dispatch.cpp).
int main(int argc, char** argv) {
  const steepest::BuildInfo info = steepest::build_info();
  benchmark::AddCustomContext("steepest_cpu_kernels", info.cpu_kernels);
  benchmark::AddCustomContext("steepest_cpu_prefetch_bytes", std::to_string(info.cpu_prefetch_bytes));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
