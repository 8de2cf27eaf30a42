// GPU benchmarks: the CUDA backend's fused loss+gradient pass and its Gram pass against two
// ceilings measured in the same run (a device-to-device copy and a CUB reduction over the
// same bytes), against cuBLAS on the same data, and a mini-batch epoch against a full-batch one.
//
// Every time is GPU time from CUDA events (manual time), after a warm-up, on pseudo-random
// data (never zeros) that is made on the host and uploaded once per shape: 0.8 to 13.6 GB
// per shape, far beyond the L2 (H100: 50 MB; H200: 60 MB).  A shape's data stays on the device while
// its benchmark repeats and is freed before the next shape's is made.
//
// The whole suite took about 2 minutes on an H100, most of it making and uploading data,
// before the Gram pass rows (five more shapes, not yet timed on a GPU).
// Recipes (Google Benchmark 1.7: --benchmark_min_time is seconds, a plain number):
//   bench_gpu --benchmark_counters_tabular=true                       everything
//   bench_gpu --benchmark_filter='GpuFusedPass/.*/f32:1/colmajor:0'   fused pass, float32 row-major
//   bench_gpu --benchmark_filter='GpuFusedPass/rows:[0-9]+/d:16/'     one d, every dtype and layout
//   bench_gpu --benchmark_filter=GpuGramPass                          Gram pass (float32 row-major)
//   bench_gpu --benchmark_filter=Ceiling                              the copy and reduce ceilings
//   bench_gpu --benchmark_filter=Cublas                               steepest against cuBLAS
//   bench_gpu --benchmark_filter=Epoch                                mini-batch against full-batch
//   bench_gpu --benchmark_min_time=0.1 ...                            quicker, noisier
//   bench_gpu --benchmark_out=gpu.json --benchmark_out_format=json    keep every number
//
// Columns:
//   bytes_per_second  bytes of X and y read per second (each pass reads them once); for
//                     BM_CopyCeiling, bytes read + bytes written, as the copy ceiling counts
//   items_per_second  rows per second
//   copy_pct          bytes_per_second as a % of the copy ceiling (cuda_copy_bandwidth over
//                     the same bytes, best of 10, measured once per size in this run)
//   reduce_pct        the same against the CUB reduce ceiling (cuda_reduce_bandwidth)
//   *_ms              mean milliseconds per iteration of each side of a comparison
//   gram_over_fused   a Gram pass's time over a fused pass's on the same data
//   the label         the comparison in words, for the console
#include <benchmark/benchmark.h>
#include <cub/device/device_reduce.cuh>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.hpp"
#include "backend/device_probe.hpp"
#include "backend/gram.hpp"
#include "train/permutation.hpp"
#include "steepest/data.hpp"
#include "steepest/device.hpp"

namespace {

using steepest::detail::Backend;
using steepest::detail::cuda_time_ms;

// --- error checks and small owners -----------------------------------------------------------

void cuda_ok(cudaError_t err, const char* call) {
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string(call) + " failed: " + cudaGetErrorString(err));
  }
}
void cublas_ok(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string(call) + " failed: " + cublasGetStatusString(status));
  }
}
#define CUDA_OK(call) cuda_ok((call), #call)
#define CUBLAS_OK(call) cublas_ok((call), #call)

template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(std::int64_t count) : count_(count) { CUDA_OK(cudaMalloc(&ptr_, bytes())); }
  ~DeviceArray() {
    if (ptr_ != nullptr) (void)cudaFree(ptr_);
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const noexcept { return ptr_; }
  std::size_t bytes() const noexcept { return static_cast<std::size_t>(count_) * sizeof(T); }

 private:
  T* ptr_ = nullptr;
  std::int64_t count_ = 0;
};

class Stream {
 public:
  Stream() { CUDA_OK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() {
    (void)cudaStreamSynchronize(stream_);
    (void)cudaStreamDestroy(stream_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const noexcept { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event() { CUDA_OK(cudaEventCreate(&event_)); }
  ~Event() { (void)cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const noexcept { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

/// Milliseconds of what \p enqueue puts on \p stream, between two events around it.  For
/// work that is not the backend's (cuda_time_ms times the backend's stream).
template <class F>
double stream_ms(cudaStream_t stream, F&& enqueue) {
  Event start, stop;
  CUDA_OK(cudaEventRecord(start.get(), stream));
  enqueue();
  CUDA_OK(cudaEventRecord(stop.get(), stream));
  CUDA_OK(cudaEventSynchronize(stop.get()));
  float ms = 0.0f;
  CUDA_OK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return static_cast<double>(ms);
}

// --- data ----------------------------------------------------------------------------------

/// SplitMix64's finaliser: a counter-based generator, so any element can be made alone.
std::uint64_t mix(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
/// Uniform in [-1, 1), a function of \p key alone.
double uniform(std::uint64_t key) {
  return static_cast<double>(mix(key) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
}

/// One benchmark shape: the args rows, d, f32 (0/1), colmajor (0/1).
struct Shape {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  bool f32 = true;
  bool col_major = false;

  bool operator==(const Shape& o) const {
    return rows == o.rows && cols == o.cols && f32 == o.f32 && col_major == o.col_major;
  }
  steepest::Layout layout() const {
    return col_major ? steepest::Layout::col_major : steepest::Layout::row_major;
  }
  /// Bytes of X and y: what one pass reads.
  std::int64_t bytes() const { return rows * (cols + 1) * (f32 ? 4 : 8); }
};

Shape shape_of(const benchmark::State& state) {
  return {state.range(0), state.range(1), state.range(2) != 0, state.range(3) != 0};
}

constexpr std::int64_t kFillRows = 4096;

/// Rows [lo, hi) (hi - lo <= kFillRows): x uniform in [-1, 1), y = x . w* + 0.1 + noise with
/// w* = (0.5, 0.25, 0, -0.25, 0.5, ...), so the loss and the gradient mean something.
template <class T>
void fill_rows(T* x, T* y, const Shape& s, std::int64_t lo, std::int64_t hi) {
  const std::int64_t n = s.rows, d = s.cols;
  double acc[kFillRows];
  for (std::int64_t i = lo; i < hi; ++i) acc[i - lo] = 0.0;
  auto weight = [](std::int64_t k) { return 0.5 - 0.25 * static_cast<double>(k % 4); };
  if (s.col_major) {  // column by column: each thread writes kFillRows contiguous values
    for (std::int64_t k = 0; k < d; ++k) {
      for (std::int64_t i = lo; i < hi; ++i) {
        const double v = uniform(static_cast<std::uint64_t>(i * d + k));
        x[k * n + i] = static_cast<T>(v);
        acc[i - lo] += weight(k) * v;
      }
    }
  } else {
    for (std::int64_t i = lo; i < hi; ++i) {
      for (std::int64_t k = 0; k < d; ++k) {
        const double v = uniform(static_cast<std::uint64_t>(i * d + k));
        x[i * d + k] = static_cast<T>(v);
        acc[i - lo] += weight(k) * v;
      }
    }
  }
  for (std::int64_t i = lo; i < hi; ++i) {
    y[i] = static_cast<T>(acc[i - lo] + 0.1 + 0.05 * uniform(~static_cast<std::uint64_t>(i)));
  }
}

/// X and y on the host, filled by every core (first touch included: the arrays are not
/// zeroed first).
struct HostData {
  Shape shape;
  std::unique_ptr<float[]> x32, y32;
  std::unique_ptr<double[]> x64, y64;

  explicit HostData(const Shape& s) : shape(s) {
    const auto nd = static_cast<std::size_t>(s.rows * s.cols);
    const auto n = static_cast<std::size_t>(s.rows);
    if (s.f32) {
      x32.reset(new float[nd]);
      y32.reset(new float[n]);
    } else {
      x64.reset(new double[nd]);
      y64.reset(new double[n]);
    }
    const std::int64_t blocks = (s.rows + kFillRows - 1) / kFillRows;
    const auto threads = static_cast<std::int64_t>(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (std::int64_t t = 0; t < std::min(threads, blocks); ++t) {
      pool.emplace_back([this, t, threads, blocks] {
        for (std::int64_t b = t; b < blocks; b += threads) {
          const std::int64_t lo = b * kFillRows, hi = std::min(shape.rows, lo + kFillRows);
          if (shape.f32) {
            fill_rows(x32.get(), y32.get(), shape, lo, hi);
          } else {
            fill_rows(x64.get(), y64.get(), shape, lo, hi);
          }
        }
      });
    }
    for (auto& th : pool) th.join();
  }

  steepest::MatrixView X() const {
    return shape.f32 ? steepest::make_matrix_view(x32.get(), shape.rows, shape.cols, shape.layout())
                     : steepest::make_matrix_view(x64.get(), shape.rows, shape.cols, shape.layout());
  }
  steepest::VectorView y() const {
    return shape.f32 ? steepest::make_vector_view(y32.get(), shape.rows)
                     : steepest::make_vector_view(y64.get(), shape.rows);
  }
};

// --- cuBLAS's version of the pass ------------------------------------------------------------

/// The same pass with cuBLAS on its own copy of X (float32, row-major) and y:
///   r = X w - y   (copy y to r, then gemv with beta = -1; row-major X is the column-major
///                  d x n matrix X^T, so this is CUBLAS_OP_T on it),
///   sse = r . r   (dot),
///   g = (2/n) X^T r (gemv, CUBLAS_OP_N on the d x n view).
/// It reads X twice and sums in float32, and has no bias: it does less than steepest's
/// pass, which reads X once and sums in float64.  Scalars live on the device (pointer mode
/// device), so nothing waits for the host.
class CublasPass {
 public:
  explicit CublasPass(const HostData& h)
      : n_(h.shape.rows),
        d_(h.shape.cols),
        X_(n_ * d_),
        y_(n_),
        w_(d_),
        r_(n_),
        g_(d_),
        scalars_(kScalars),
        sse_(1) {
    if (!h.shape.f32 || h.shape.col_major) {
      throw std::invalid_argument("CublasPass: float32 row-major data only");
    }
    cublasHandle_t handle = nullptr;
    CUBLAS_OK(cublasCreate(&handle));
    handle_.reset(handle);
    CUBLAS_OK(cublasSetStream(handle, stream_.get()));
    CUBLAS_OK(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_DEVICE));
    const std::vector<float> w(static_cast<std::size_t>(d_), kInitialWeight);
    const float scalars[kScalars] = {1.0f, -1.0f, 2.0f / static_cast<float>(n_), 0.0f};
    // On our (non-blocking) stream, then wait: a pageable copy may return before its DMA
    // lands, and the legacy default stream would not order our stream after it.
    CUDA_OK(cudaMemcpyAsync(X_.get(), h.x32.get(), X_.bytes(), cudaMemcpyHostToDevice, stream_.get()));
    CUDA_OK(cudaMemcpyAsync(y_.get(), h.y32.get(), y_.bytes(), cudaMemcpyHostToDevice, stream_.get()));
    CUDA_OK(cudaMemcpyAsync(w_.get(), w.data(), w_.bytes(), cudaMemcpyHostToDevice, stream_.get()));
    CUDA_OK(cudaMemcpyAsync(scalars_.get(), scalars, sizeof scalars, cudaMemcpyHostToDevice, stream_.get()));
    CUDA_OK(cudaStreamSynchronize(stream_.get()));
  }

  void enqueue() {
    cublasHandle_t h = handle_.get();
    const float* s = scalars_.get();
    CUDA_OK(cudaMemcpyAsync(r_.get(), y_.get(), r_.bytes(), cudaMemcpyDeviceToDevice, stream_.get()));
    CUBLAS_OK(cublasSgemv_64(h, CUBLAS_OP_T, d_, n_, s + kOne, X_.get(), d_, w_.get(), 1,
                             s + kMinusOne, r_.get(), 1));
    CUBLAS_OK(cublasSdot_64(h, n_, r_.get(), 1, r_.get(), 1, sse_.get()));
    CUBLAS_OK(cublasSgemv_64(h, CUBLAS_OP_N, d_, n_, s + kTwoOverN, X_.get(), d_, r_.get(), 1,
                             s + kZero, g_.get(), 1));
  }

  cudaStream_t stream() const noexcept { return stream_.get(); }

  static constexpr float kInitialWeight = 0.01f;

 private:
  enum : int { kOne = 0, kMinusOne = 1, kTwoOverN = 2, kZero = 3, kScalars = 4 };
  struct HandleDeleter {
    void operator()(cublasHandle_t h) const noexcept { (void)cublasDestroy(h); }
  };

  std::int64_t n_, d_;
  Stream stream_;  // destroyed last: after the handle and the arrays
  DeviceArray<float> X_, y_, w_, r_, g_, scalars_, sse_;
  std::unique_ptr<cublasContext, HandleDeleter> handle_;
};

// --- the shape in use, its ceilings --------------------------------------------------------------

constexpr double kInitialWeight = CublasPass::kInitialWeight;  // both sides start alike
constexpr double kLearningRate = 0.01;

/// One shape's data on the device: the backend, and cuBLAS's copy when asked for.  One at a
/// time: Google Benchmark calls a benchmark several times (to size its iteration count), so
/// the data is kept between those calls and freed when another shape is asked for.
struct GpuCase {
  Shape shape;
  bool with_cublas = false;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<CublasPass> cublas;
  std::vector<std::int64_t> order;  // mini-batch epochs: a permutation of the rows
  double order_upload_ms = 0.0;
};

std::unique_ptr<GpuCase>& current_case() {
  static std::unique_ptr<GpuCase> c;
  return c;
}
void release_case() { current_case().reset(); }

GpuCase& gpu_case(const Shape& s, bool with_cublas) {
  auto& current = current_case();
  if (current && current->shape == s && current->with_cublas == with_cublas) return *current;
  release_case();  // the previous shape's device memory goes first
  auto c = std::make_unique<GpuCase>();
  c->shape = s;
  c->with_cublas = with_cublas;
  {
    const HostData host(s);
    c->backend = steepest::detail::make_cuda_backend(host.X(), host.y());
    if (with_cublas) c->cublas = std::make_unique<CublasPass>(host);
  }  // the host copy is freed here
  const std::vector<double> w(static_cast<std::size_t>(s.cols), kInitialWeight);
  c->backend->set_parameters(w.data(), 0.0);
  c->backend->compute(0, s.rows, false);  // warm-up: module load, clocks up
  benchmark::DoNotOptimize(c->backend->loss());
  if (c->cublas) stream_ms(c->cublas->stream(), [&] { c->cublas->enqueue(); });
  current = std::move(c);
  return *current;
}

/// The ceilings over \p bytes, measured once per size in this run.
double copy_ceiling(std::int64_t bytes) {
  static std::map<std::int64_t, double> measured;
  auto it = measured.find(bytes);
  if (it == measured.end()) it = measured.emplace(bytes, steepest::detail::cuda_copy_bandwidth(bytes)).first;
  return it->second;
}
double reduce_ceiling(std::int64_t bytes) {
  static std::map<std::int64_t, double> measured;
  auto it = measured.find(bytes);
  if (it == measured.end()) it = measured.emplace(bytes, steepest::detail::cuda_reduce_bandwidth(bytes)).first;
  return it->second;
}

/// Rows that ended in an error: main's exit code is 1 when there were any.
int& failed_rows() {
  static int failed = 0;
  return failed;
}

/// Runs \p body unless no device is usable; an exception becomes the row's error (the
/// remaining rows still run).
template <class Body>
void guarded(benchmark::State& state, Body&& body) {
  if (!steepest::detail::cuda_usable()) {
    ++failed_rows();
    state.SkipWithError(("no usable CUDA device: " + steepest::cuda_unavailable_reason()).c_str());
    return;
  }
  try {
    body();
  } catch (const std::exception& e) {
    ++failed_rows();
    state.SkipWithError(e.what());
  }
}

void set_processed(benchmark::State& state, const Shape& s) {
  state.SetBytesProcessed(state.iterations() * s.bytes());
  state.SetItemsProcessed(state.iterations() * s.rows);
}

/// Mean of \p total_ms over the iterations, as a counter.
benchmark::Counter mean_ms(double total_ms) {
  return benchmark::Counter(total_ms, benchmark::Counter::kAvgIterations);
}

std::string format(const char* fmt, double a, double b, double c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

// --- the fused pass --------------------------------------------------------------------------

/// One backend->compute(0, n, false): r = Xw + b - y, loss, gradient, in one read of X and
/// y (two launches: the fused pass and its fixed-order reduction).
void BM_GpuFusedPass(benchmark::State& state) {
  guarded(state, [&] {
    const Shape s = shape_of(state);
    Backend& be = *gpu_case(s, false).backend;
    const double copy = copy_ceiling(s.bytes());
    const double reduce = reduce_ceiling(s.bytes());
    double total_ms = 0.0;
    for (auto _ : state) {
      const double ms = cuda_time_ms(be, [&] { be.compute(0, s.rows, false); });
      state.SetIterationTime(ms * 1e-3);
      total_ms += ms;
    }
    set_processed(state, s);
    const double gbps = static_cast<double>(s.bytes()) * static_cast<double>(state.iterations()) /
                        (total_ms * 1e6);
    state.counters["copy_pct"] = copy > 0.0 ? 100.0 * gbps / copy : 0.0;
    state.counters["reduce_pct"] = reduce > 0.0 ? 100.0 * gbps / reduce : 0.0;
    state.counters["copy_GBps"] = copy;
    state.counters["reduce_GBps"] = reduce;
  });
}

void fused_shapes(benchmark::internal::Benchmark* b) {
  // 1e8 rows up to d = 16 (0.8 to 6.8 GB in float32); about 1 GB in float32 beyond.
  const std::int64_t sizes[][2] = {{100'000'000, 1}, {100'000'000, 4}, {100'000'000, 16},
                                   {4'000'000, 64},  {1'000'000, 256}, {250'000, 1024}};
  for (const auto& s : sizes) b->Args({s[0], s[1], 1, 0});  // float32, row-major
  for (const auto& s : sizes) b->Args({s[0], s[1], 0, 0});  // float64, row-major
  // Column-major (for d = 1 it is the same bytes as row-major): float32, and one float64
  // shape of 3.4 GB (the register kernel's column-major loads, in float64).
  for (const auto& s : sizes) {
    if (s[1] > 1) b->Args({s[0], s[1], 1, 1});
  }
  b->Args({25'000'000, 16, 0, 1});
  b->ArgNames({"rows", "d", "f32", "colmajor"})->Unit(benchmark::kMillisecond)->UseManualTime();
}
BENCHMARK(BM_GpuFusedPass)->Apply(fused_shapes);

// --- the Gram pass ---------------------------------------------------------------------------

/// One backend->gram_sums(0, n, false, shift, totals): S2 = sum z z^T (packed), S1 and W of
/// the shifted rows z = (x - s_x, y - s_y), (d + 1)(d + 2) / 2 products a row, in one read
/// of X and y on FP64 tensor cores; as the backend runs it: the shift up, two launches, the
/// totals back to the host.  Timed like the fused pass; each iteration also times a fused
/// compute() on the same data (fused_ms, gram_over_fused: what a Gram solver's one pass
/// costs against one residual epoch).  Target: copy_pct >= 80 for d <= 32.
void BM_GpuGramPass(benchmark::State& state) {
  guarded(state, [&] {
    const Shape s = shape_of(state);
    Backend& be = *gpu_case(s, false).backend;
    const double copy = copy_ceiling(s.bytes());
    std::vector<double> shift(static_cast<std::size_t>(s.cols + 1), 0.03125);
    std::vector<double> totals(steepest::detail::gram_width(s.cols));
    be.gram_sums(0, s.rows, false, shift.data(), totals.data());  // warm-up: plan and buffers
    double gram_total = 0.0, fused_total = 0.0;
    for (auto _ : state) {
      const double ms = cuda_time_ms(be, [&] { be.gram_sums(0, s.rows, false, shift.data(), totals.data()); });
      state.SetIterationTime(ms * 1e-3);
      gram_total += ms;
      fused_total += cuda_time_ms(be, [&] { be.compute(0, s.rows, false); });
    }
    benchmark::DoNotOptimize(totals.data());
    set_processed(state, s);
    const double iters = static_cast<double>(state.iterations());
    const double gbps = static_cast<double>(s.bytes()) * iters / (gram_total * 1e6);
    state.counters["copy_pct"] = copy > 0.0 ? 100.0 * gbps / copy : 0.0;
    state.counters["copy_GBps"] = copy;
    state.counters["fused_ms"] = mean_ms(fused_total);
    state.counters["gram_over_fused"] = fused_total > 0.0 ? gram_total / fused_total : 0.0;
    state.SetLabel(format("Gram %.3f ms = %.1f%% of copy, %.2f x a fused pass", gram_total / iters,
                          copy > 0.0 ? 100.0 * gbps / copy : 0.0, gram_total / fused_total));
  });
}

void gram_shapes(benchmark::internal::Benchmark* b) {
  // float32 row-major: 1e8 rows up to d = 16 (0.8 to 6.8 GB), about 4 GB beyond.
  const std::int64_t sizes[][2] = {{100'000'000, 1}, {100'000'000, 4}, {100'000'000, 16},
                                   {30'000'000, 32}, {15'000'000, 64}};
  for (const auto& sz : sizes) b->Args({sz[0], sz[1], 1, 0});
  b->ArgNames({"rows", "d", "f32", "colmajor"})->Unit(benchmark::kMillisecond)->UseManualTime();
}
BENCHMARK(BM_GpuGramPass)->Apply(gram_shapes);

// --- the ceilings, as rows of their own ----------------------------------------------------------

/// A device-to-device cudaMemcpyAsync of `bytes`, timed per copy; bytes_per_second counts
/// bytes read + written, as cuda_copy_bandwidth does.  probe_GBps: cuda_copy_bandwidth over
/// the same size (the best of 10), the number the fused rows divide by.
void BM_CopyCeiling(benchmark::State& state) {
  guarded(state, [&] {
    release_case();
    const std::int64_t bytes = state.range(0);
    const auto size = static_cast<std::size_t>(bytes);
    Stream stream;
    DeviceArray<unsigned char> src(bytes), dst(bytes);
    CUDA_OK(cudaMemsetAsync(src.get(), 0x5A, size, stream.get()));
    auto copy = [&] {
      CUDA_OK(cudaMemcpyAsync(dst.get(), src.get(), size, cudaMemcpyDeviceToDevice, stream.get()));
    };
    stream_ms(stream.get(), copy);  // warm-up
    for (auto _ : state) state.SetIterationTime(stream_ms(stream.get(), copy) * 1e-3);
    state.SetBytesProcessed(state.iterations() * 2 * bytes);
    state.counters["probe_GBps"] = copy_ceiling(bytes);
  });
}

/// x[i] uniform in [-1, 1) from i alone.
__global__ void fill_uniform(float* __restrict__ x, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < count; i += stride) {
    std::uint64_t z = static_cast<std::uint64_t>(i) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    x[i] = static_cast<float>(static_cast<double>(z >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  }
}

/// cub::DeviceReduce::Sum over `bytes` of float data, timed per reduction; bytes_per_second
/// counts bytes read.  probe_GBps: cuda_reduce_bandwidth over the same size.
void BM_ReduceCeiling(benchmark::State& state) {
  guarded(state, [&] {
    release_case();
    const std::int64_t count = state.range(0) / static_cast<std::int64_t>(sizeof(float));
    Stream stream;
    DeviceArray<float> in(count), out(1);
    fill_uniform<<<1024, 256, 0, stream.get()>>>(in.get(), count);
    CUDA_OK(cudaGetLastError());
    std::size_t temp_bytes = 0;
    CUDA_OK(cub::DeviceReduce::Sum(nullptr, temp_bytes, in.get(), out.get(), count, stream.get()));
    DeviceArray<unsigned char> temp(static_cast<std::int64_t>(std::max<std::size_t>(temp_bytes, 1)));
    auto reduce = [&] {
      CUDA_OK(cub::DeviceReduce::Sum(temp.get(), temp_bytes, in.get(), out.get(), count, stream.get()));
    };
    stream_ms(stream.get(), reduce);  // warm-up
    for (auto _ : state) state.SetIterationTime(stream_ms(stream.get(), reduce) * 1e-3);
    state.SetBytesProcessed(state.iterations() * count * static_cast<std::int64_t>(sizeof(float)));
    state.counters["probe_GBps"] = reduce_ceiling(state.range(0));
  });
}

void ceiling_sizes(benchmark::internal::Benchmark* b) {
  // The float32 row-major fused shapes of d = 1, 4, 16 (X + y bytes).
  for (std::int64_t bytes : {800'000'000LL, 2'000'000'000LL, 6'800'000'000LL}) b->Arg(bytes);
  b->ArgName("bytes")->Unit(benchmark::kMillisecond)->UseManualTime();
}
BENCHMARK(BM_CopyCeiling)->Apply(ceiling_sizes);
BENCHMARK(BM_ReduceCeiling)->Apply(ceiling_sizes);

// --- steepest against cuBLAS -----------------------------------------------------------------

/// Per iteration, steepest's compute(0, n, false) and the cuBLAS pass (see CublasPass) on
/// the same float32 row-major data, one after the other, each timed by its own events.  The
/// row's time is cuBLAS's; steepest_ms, cublas_ms and steepest_over_cublas (time ratio:
/// below 1, steepest is faster) compare the two.
void BM_CublasGemvPlusLoss(benchmark::State& state) {
  guarded(state, [&] {
    const Shape s{state.range(0), state.range(1), true, false};
    GpuCase& c = gpu_case(s, true);
    Backend& be = *c.backend;
    CublasPass& cublas = *c.cublas;
    double steepest_total = 0.0, cublas_total = 0.0;
    for (auto _ : state) {
      steepest_total += cuda_time_ms(be, [&] { be.compute(0, s.rows, false); });
      const double ms = stream_ms(cublas.stream(), [&] { cublas.enqueue(); });
      state.SetIterationTime(ms * 1e-3);
      cublas_total += ms;
    }
    set_processed(state, s);
    state.counters["steepest_ms"] = mean_ms(steepest_total);
    state.counters["cublas_ms"] = mean_ms(cublas_total);
    state.counters["steepest_over_cublas"] = cublas_total > 0.0 ? steepest_total / cublas_total : 0.0;
    const double iters = static_cast<double>(state.iterations());
    state.SetLabel(format("steepest %.3f ms, cuBLAS %.3f ms: steepest/cuBLAS = %.2f",
                          steepest_total / iters, cublas_total / iters,
                          steepest_total / cublas_total));
  });
}
BENCHMARK(BM_CublasGemvPlusLoss)
    ->Args({100'000'000, 4})
    ->Args({100'000'000, 16})
    ->Args({4'000'000, 64})
    ->Args({1'000'000, 256})
    ->Args({250'000, 1024})
    ->ArgNames({"rows", "d"})
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

// --- epochs ----------------------------------------------------------------------------------

constexpr std::int64_t kEpochRows = 10'000'000;
constexpr std::int64_t kEpochCols = 16;
constexpr std::int64_t kBatch = 1024;
const Shape kEpochShape{kEpochRows, kEpochCols, true, false};

/// What the driver does in a full-batch epoch: a step with the last gradient, a pass.
void full_batch_epoch(Backend& be) {
  be.plain_step(kLearningRate, true);
  be.compute(0, kEpochRows, false);
}

/// What the driver does in a shuffled mini-batch epoch: upload the row order (the driver
/// uploads a new one each epoch; here always the same one, made once), then per batch of
/// kBatch rows a pass over those rows and a step.
void mini_batch_epoch(Backend& be, const std::vector<std::int64_t>& order) {
  be.set_row_order(order.data());
  be.reset_running_loss();
  for (std::int64_t lo = 0; lo < kEpochRows; lo += kBatch) {
    be.compute(lo, std::min(kEpochRows, lo + kBatch), true);
    be.plain_step(kLearningRate, true);
  }
}

/// n = 1e7, d = 16, float32: step + compute(0, n, false), timed by events around the
/// enqueueing; loss() (a sync) after the timed part.
void BM_FullBatchEpoch(benchmark::State& state) {
  guarded(state, [&] {
    Backend& be = *gpu_case(kEpochShape, false).backend;
    for (auto _ : state) {
      state.SetIterationTime(cuda_time_ms(be, [&] { full_batch_epoch(be); }) * 1e-3);
      benchmark::DoNotOptimize(be.loss());
    }
    set_processed(state, kEpochShape);
  });
}

/// The same data, B = 1024: set_row_order + n/B x (compute(lo, hi, true) + step) per epoch,
/// timed by events around the whole epoch (host launch time included wherever the GPU waits
/// for it), loss() after.  Each iteration also times a full-batch epoch, so that
/// minibatch_over_fullbatch compares the two in the same run (target: <= 10).
/// order_upload_ms: set_row_order alone, part of every mini-batch epoch.
void BM_MiniBatchEpoch(benchmark::State& state) {
  guarded(state, [&] {
    GpuCase& c = gpu_case(kEpochShape, false);
    Backend& be = *c.backend;
    if (c.order.empty()) {
      c.order.resize(static_cast<std::size_t>(kEpochRows));
      steepest::detail::epoch_permutation(42, 0, c.order.data(), kEpochRows);
      be.reserve_row_order();
      c.order_upload_ms = cuda_time_ms(be, [&] { be.set_row_order(c.order.data()); });
      mini_batch_epoch(be, c.order);  // warm-up
      benchmark::DoNotOptimize(be.loss());
    }
    double mini_total = 0.0, full_total = 0.0;
    for (auto _ : state) {
      const double ms = cuda_time_ms(be, [&] { mini_batch_epoch(be, c.order); });
      state.SetIterationTime(ms * 1e-3);
      mini_total += ms;
      benchmark::DoNotOptimize(be.loss());
      full_total += cuda_time_ms(be, [&] { full_batch_epoch(be); });
      benchmark::DoNotOptimize(be.loss());
    }
    set_processed(state, kEpochShape);
    const double ratio = full_total > 0.0 ? mini_total / full_total : 0.0;
    state.counters["minibatch_ms"] = mean_ms(mini_total);
    state.counters["fullbatch_ms"] = mean_ms(full_total);
    state.counters["minibatch_over_fullbatch"] = ratio;
    state.counters["order_upload_ms"] = c.order_upload_ms;
    state.counters["batches"] = static_cast<double>((kEpochRows + kBatch - 1) / kBatch);
    const double iters = static_cast<double>(state.iterations());
    state.SetLabel(format("mini-batch epoch %.2f ms = %.1f x full-batch %.3f ms", mini_total / iters,
                          ratio, full_total / iters) +
                   (ratio <= 10.0 ? " (target <= 10x: met)" : " (target <= 10x: MISSED)"));
  });
}

BENCHMARK(BM_FullBatchEpoch)->Unit(benchmark::kMillisecond)->UseManualTime();
BENCHMARK(BM_MiniBatchEpoch)->Unit(benchmark::kMillisecond)->UseManualTime();

// --- the upload (set-up) ----------------------------------------------------------------------

/// Host-to-device bandwidth from pinned memory over \p bytes (cudaHostAlloc, one
/// cudaMemcpy, best of 3): the bus's ceiling for an upload, measured once per size.
double pinned_h2d_ceiling(std::int64_t bytes) {
  static std::map<std::int64_t, double> measured;
  auto it = measured.find(bytes);
  if (it != measured.end()) return it->second;
  void* host = nullptr;
  void* dev = nullptr;
  if (cudaHostAlloc(&host, static_cast<std::size_t>(bytes), cudaHostAllocDefault) != cudaSuccess ||
      cudaMalloc(&dev, static_cast<std::size_t>(bytes)) != cudaSuccess) {
    (void)cudaFreeHost(host);
    throw std::runtime_error("pinned_h2d_ceiling: no room for " + std::to_string(bytes) + " bytes");
  }
  std::memset(host, 1, static_cast<std::size_t>(bytes));
  double best = 0.0;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    if (cudaMemcpy(dev, host, static_cast<std::size_t>(bytes), cudaMemcpyHostToDevice) != cudaSuccess)
      throw std::runtime_error("pinned_h2d_ceiling: cudaMemcpy failed");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(bytes) / s / 1e9);
  }
  (void)cudaFree(dev);
  (void)cudaFreeHost(host);
  return measured.emplace(bytes, best).first->second;
}

/// make_cuda_backend on pageable host data (as a user's arrays are): the allocations, the
/// upload of X and y and the first memsets, wall time; mode 0 the pageable copies (today's
/// default), mode 1 STEEPEST_CUDA_UPLOAD=pinned (kernels/cuda_backend.cu, PinnedUpload).
/// pct_pinned_h2d: the upload's GB/s over the pinned ceiling of the same bytes, in this run
/// (issue 17's target: >= 80).
void BM_Upload(benchmark::State& state) {
  guarded(state, [&] {
    release_case();
    const Shape s{state.range(1), 16, true, false};
    const HostData host(s);
    const bool pinned = state.range(0) != 0;
    setenv("STEEPEST_CUDA_UPLOAD", pinned ? "pinned" : "pageable", 1);
    double total_s = 0.0;
    for (auto _ : state) {
      const auto t0 = std::chrono::steady_clock::now();
      auto be = steepest::detail::make_cuda_backend(host.X(), host.y());
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      state.SetIterationTime(secs);
      total_s += secs;
      be.reset();
    }
    unsetenv("STEEPEST_CUDA_UPLOAD");
    set_processed(state, s);
    const double gbs = static_cast<double>(s.bytes()) * static_cast<double>(state.iterations()) / total_s / 1e9;
    const double ceiling = pinned_h2d_ceiling(s.bytes());
    state.counters["pinned_h2d_GBps"] = ceiling;
    state.counters["pct_pinned_h2d"] = 100.0 * gbs / ceiling;
    state.SetLabel(std::string(pinned ? "pinned pipeline" : "pageable") +
                   format(": %.1f GB/s, %.0f%% of the pinned H2D ceiling (%.1f GB/s)", gbs, 100.0 * gbs / ceiling,
                          ceiling));
  });
}
// 25e6 x 16 float32: 1.7 GB, a quarter of the issue's 6.8 GB set (the device check's time).
BENCHMARK(BM_Upload)
    ->Args({0, 25'000'000})
    ->Args({1, 25'000'000})
    ->ArgNames({"pinned", "rows"})
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

/// The card, for the report's context (not asked for when only listing the benchmarks).
std::string device_context() {
  const auto devices = steepest::cuda_devices();
  if (devices.empty()) return "none (" + steepest::cuda_unavailable_reason() + ")";
  const auto& d = devices.front();
  int l2 = 0;
  if (cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, d.index) != cudaSuccess) l2 = 0;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s (cc %d.%d, %d SMs, %.1f GiB, L2 %.0f MiB)", d.name.c_str(),
                d.compute_major, d.compute_minor, d.multiprocessors,
                static_cast<double>(d.total_memory) / (1024.0 * 1024.0 * 1024.0),
                static_cast<double>(l2) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--benchmark_list_tests", 22) == 0) listing = true;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!listing) benchmark::AddCustomContext("cuda_device", device_context());
  benchmark::RunSpecifiedBenchmarks();
  release_case();  // device memory and the cuBLAS handle go before the runtime's teardown
  benchmark::Shutdown();
  if (failed_rows() > 0) {
    std::fprintf(stderr, "bench_gpu: %d benchmark(s) failed (see ERROR OCCURRED above)\n", failed_rows());
    return 1;
  }
  return 0;
}
