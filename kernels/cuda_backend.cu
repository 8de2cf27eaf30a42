// The CUDA backend: owns the device copy of X and y, the parameters, the gradient and the
// stream.  Data is uploaded once; after that compute() and step() only enqueue kernels, and
// nothing comes back to the host but what loss(), gradient(), get_parameters() and
// running_loss() ask for.
//
// Sample weights, when given, are uploaded once beside y, packed and in their storage type
// (float32 weights stay 4 bytes a row: the fused pass is bound by memory traffic, and the
// kernels widen each weight to float64 as they read it, which is exact).  They select the
// weighted kernels at construction; an unweighted backend allocates and launches nothing new.
//
// Launch overhead: a compute() is two launches (fused pass, fixed-order reduction) and a
// step() one, all on one stream, with no host synchronisation in between.  A CUDA Graph
// was considered for compute+step, but (begin, end, lr) change with every mini-batch, so
// each replay would first need cudaGraphExecKernelNodeSetParams on three nodes, which costs
// about what the three plain launches cost.  Measure on a GPU before revisiting.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "backend/gram.hpp"
#include "backend/reduction.hpp"
#include "cuda_backend.cuh"
#include "cuda_check.cuh"
#include "device_buffer.cuh"
#include "gram_sums.cuh"
#include "launch_plan.hpp"
#include "loss_gradient.cuh"
#include "steepest/device.hpp"
#include "steepest/error.hpp"

#ifndef STEEPEST_CUDA_ARCHITECTURES
#define STEEPEST_CUDA_ARCHITECTURES "unknown"
#endif

namespace steepest {
namespace detail {
namespace {

/// Why no device is usable ("" when one is).  Any error from cudaGetDeviceCount counts as
/// zero devices.  Cached: the answer cannot change within a process, and the probe loads
/// the module once.
const std::string& unavailable_reason() {
  static const std::string reason = [] {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      return std::string("CUDA runtime: ") + cudaGetErrorString(err);
    }
    if (count <= 0) return std::string("no CUDA device found");
    const cudaError_t probe = probe_kernel_image();
    if (probe != cudaSuccess) {
      (void)cudaGetLastError();
      return std::string("CUDA device cannot run this build's kernels (built for ") +
             STEEPEST_CUDA_ARCHITECTURES + "): " + cudaGetErrorString(probe);
    }
    return std::string();
  }();
  return reason;
}

/// Copies \p count segments (rows, columns or elements) of \p seg_bytes each, \p src_pitch
/// bytes apart on the host, into a packed device buffer, on \p stream (the caller
/// synchronises it).  plan::upload_path picks the copy (see there): one copy, one per large
/// segment (column-major columns: any pitch), one cudaMemcpy2DAsync only where the pitch
/// and width are within \p max_pitch (cudaDeviceProp::memPitch), or packing on the host.
/// A pageable copy may return before its DMA lands, and the legacy default stream does not
/// order a non-blocking stream, hence the backend's stream here, never plain cudaMemcpy.
/// The staging vector may be refilled at once: a pageable copy returns only after its
/// source has been staged.
/// Whether uploads take the pinned pipeline (STEEPEST_CUDA_UPLOAD=pinned): not yet the
/// default, until a GPU run has measured it and checked its bits (the device check runs
/// CudaBackend.PinnedUploadGivesThePageableBits and bench_gpu's BM_Upload).
bool pinned_upload_requested() {
  const char* mode = std::getenv("STEEPEST_CUDA_UPLOAD");
  return mode != nullptr && std::strcmp(mode, "pinned") == 0;
}

/// The pinned pipeline of plan::kPinnedBuffers buffers (launch_plan.hpp, "pinned upload"):
/// chunk c of the packed stream is gathered by host threads into buffer c % buffers once
/// the DMA that last read that buffer is done (its event), then sent by cudaMemcpyAsync on
/// \p stream.  The destructor waits for the last copies before it frees the buffers.
class PinnedUpload {
 public:
  explicit PinnedUpload(cudaStream_t stream) : stream_(stream) {
    try {
      for (int b = 0; b < plan::kPinnedBuffers; ++b) {
        STEEPEST_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&buffer_[b]),
                                          static_cast<std::size_t>(plan::kPinnedChunkBytes), cudaHostAllocDefault));
        STEEPEST_CUDA_CHECK(cudaEventCreateWithFlags(&done_[b], cudaEventDisableTiming));
      }
    } catch (...) {
      release();
      throw;
    }
  }
  ~PinnedUpload() { release(); }
  PinnedUpload(const PinnedUpload&) = delete;
  PinnedUpload& operator=(const PinnedUpload&) = delete;

  /// The packed stream of \p count segments of \p seg_bytes (\p src_pitch apart) into \p dst.
  void send(unsigned char* dst, const unsigned char* src, std::int64_t count, std::int64_t seg_bytes,
            std::int64_t src_pitch) {
    const std::int64_t total = count * seg_bytes;
    for (std::int64_t c = 0; c < plan::pinned_chunks(total); ++c) {
      const int b = static_cast<int>(c % plan::kPinnedBuffers);
      const std::int64_t offset = c * plan::kPinnedChunkBytes;
      const std::int64_t len = std::min(plan::kPinnedChunkBytes, total - offset);
      if (c >= plan::kPinnedBuffers) STEEPEST_CUDA_CHECK(cudaEventSynchronize(done_[b]));
      gather(buffer_[b], src, seg_bytes, src_pitch, offset, len);
      STEEPEST_CUDA_CHECK(cudaMemcpyAsync(dst + offset, buffer_[b], static_cast<std::size_t>(len),
                                          cudaMemcpyHostToDevice, stream_));
      STEEPEST_CUDA_CHECK(cudaEventRecord(done_[b], stream_));
    }
  }

 private:
  /// plan::gather_packed_bytes split across host threads (a memcpy of tens of MB from one
  /// thread is well below the bus): parts of at least 4 MiB, at most 8 threads.
  static void gather(unsigned char* dst, const unsigned char* src, std::int64_t seg_bytes, std::int64_t src_pitch,
                     std::int64_t offset, std::int64_t len) {
    constexpr std::int64_t kMinPart = std::int64_t{4} << 20;
    const auto hw = static_cast<std::int64_t>(std::max(1u, std::thread::hardware_concurrency()));
    const std::int64_t parts = std::max<std::int64_t>(1, std::min({hw, std::int64_t{8}, len / kMinPart}));
    std::vector<std::thread> threads;
    for (std::int64_t p = 1; p < parts; ++p) {
      const std::int64_t lo = len * p / parts, hi = len * (p + 1) / parts;
      threads.emplace_back(plan::gather_packed_bytes, dst + lo, src, seg_bytes, src_pitch, offset + lo, hi - lo);
    }
    plan::gather_packed_bytes(dst, src, seg_bytes, src_pitch, offset, len / parts);
    for (std::thread& t : threads) t.join();
  }

  /// Waits for the copies still reading the buffers, then frees them.
  void release() noexcept {
    STEEPEST_CUDA_CHECK_NOTHROW(cudaStreamSynchronize(stream_));
    for (int b = 0; b < plan::kPinnedBuffers; ++b) {
      if (done_[b] != nullptr) STEEPEST_CUDA_CHECK_NOTHROW(cudaEventDestroy(done_[b]));
      if (buffer_[b] != nullptr) STEEPEST_CUDA_CHECK_NOTHROW(cudaFreeHost(buffer_[b]));
      done_[b] = nullptr;
      buffer_[b] = nullptr;
    }
  }

  cudaStream_t stream_;
  unsigned char* buffer_[plan::kPinnedBuffers] = {};
  cudaEvent_t done_[plan::kPinnedBuffers] = {};
};

void upload_packed(void* dst, const void* src, std::int64_t count, std::int64_t seg_bytes,
                   std::int64_t src_pitch, bool column_segments, std::size_t max_pitch,
                   cudaStream_t stream) {
  const auto* in = static_cast<const unsigned char*>(src);
  auto* out = static_cast<unsigned char*>(dst);
  if (pinned_upload_requested() && count * seg_bytes >= plan::kPinnedMinBytes) {
    PinnedUpload(stream).send(out, in, count, seg_bytes, src_pitch);
    return;
  }
  const std::int64_t pitch_limit =
      static_cast<std::int64_t>(std::min<std::size_t>(max_pitch, std::size_t{1} << 62));
  switch (plan::upload_path(count, seg_bytes, src_pitch, column_segments, pitch_limit)) {
    case plan::UploadPath::contiguous:
      STEEPEST_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(count * seg_bytes),
                                          cudaMemcpyHostToDevice, stream));
      return;
    case plan::UploadPath::per_segment:
      for (std::int64_t s = 0; s < count; ++s) {
        STEEPEST_CUDA_CHECK(cudaMemcpyAsync(out + s * seg_bytes, in + s * src_pitch,
                                            static_cast<std::size_t>(seg_bytes),
                                            cudaMemcpyHostToDevice, stream));
      }
      return;
    case plan::UploadPath::pitched_2d:
      STEEPEST_CUDA_CHECK(cudaMemcpy2DAsync(dst, static_cast<std::size_t>(seg_bytes), src,
                                            static_cast<std::size_t>(src_pitch),
                                            static_cast<std::size_t>(seg_bytes),
                                            static_cast<std::size_t>(count),
                                            cudaMemcpyHostToDevice, stream));
      return;
    case plan::UploadPath::staged:
      break;
  }
  const std::int64_t per_chunk = plan::staging_segments(count, seg_bytes);
  std::vector<unsigned char> staging(static_cast<std::size_t>(per_chunk * seg_bytes));
  for (std::int64_t first = 0; first < count; first += per_chunk) {
    const std::int64_t segs = std::min(per_chunk, count - first);
    for (std::int64_t r = 0; r < segs; ++r) {
      std::memcpy(staging.data() + r * seg_bytes, in + (first + r) * src_pitch,
                  static_cast<std::size_t>(seg_bytes));
    }
    STEEPEST_CUDA_CHECK(cudaMemcpyAsync(out + first * seg_bytes, staging.data(),
                                        static_cast<std::size_t>(segs * seg_bytes),
                                        cudaMemcpyHostToDevice, stream));
  }
}

void validate_views(const MatrixView& X, const VectorView& y, const VectorView& weights) {
  if (X.data == nullptr || y.data == nullptr) throw InvalidArgument("CUDA backend: null data");
  if (X.rows < 1 || X.cols < 1) throw InvalidArgument("CUDA backend: X must be at least 1 x 1");
  if (y.size != X.rows) {
    throw InvalidArgument("CUDA backend: y has " + std::to_string(y.size) + " entries, X has " +
                          std::to_string(X.rows) + " rows");
  }
  const std::int64_t min_stride = X.layout == Layout::row_major ? X.cols : X.rows;
  if (X.stride < min_stride) {
    throw InvalidArgument("CUDA backend: X stride " + std::to_string(X.stride) + " < " +
                          std::to_string(min_stride));
  }
  if (y.stride < 1) throw InvalidArgument("CUDA backend: y stride must be >= 1");
  if (weights.data != nullptr && (weights.size != X.rows || weights.stride < 1)) {
    throw InvalidArgument("CUDA backend: the weights must have one entry per row (" +
                          std::to_string(weights.size) + " for " + std::to_string(X.rows) +
                          ") and a stride >= 1");
  }
}

class CudaBackend final : public Backend {
 public:
  /// \p device_index: the device to use (-1: the current one).  \p share with a Reduction:
  /// this process's rows of a fit across processes (see compute()).
  CudaBackend(const MatrixView& X, const VectorView& y, const VectorView& weights, const RowShare& share,
              int device_index)
      : n_(X.rows), d_(X.cols), x_dtype_(X.dtype), y_dtype_(y.dtype), w_dtype_(weights.dtype),
        weighted_(weights.data != nullptr), layout_(X.layout), first_(share.first),
        total_(share.total < 0 ? X.rows : share.total), reduction_(share.reduction) {
    if (device_index >= 0) STEEPEST_CUDA_CHECK(cudaSetDevice(device_index));
    STEEPEST_CUDA_CHECK(cudaGetDevice(&device_));
    cudaDeviceProp prop{};
    STEEPEST_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
    device_name_ = std::string(prop.name) + " (cc " + std::to_string(prop.major) + "." +
                   std::to_string(prop.minor) + ", " + std::to_string(prop.multiProcessorCount) +
                   " SMs)";
    plan_ = plan_fused_loss_gradient(d_, x_dtype_, layout_, weighted_, device_);

    const std::int64_t x_bytes = n_ * d_ * dtype_size(x_dtype_);
    const std::int64_t y_bytes = n_ * dtype_size(y_dtype_);
    const std::int64_t w_bytes = weighted_ ? n_ * dtype_size(w_dtype_) : 0;
    const std::int64_t partial_count = plan_.max_grid * plan::partial_columns(d_, weighted_);
    const std::int64_t work_bytes = 8 * (partial_count + 4 * (d_ + 1) + kStatCount);
    require_free_memory(x_bytes + y_bytes + w_bytes + work_bytes, x_bytes, y_bytes, w_bytes);

    X_ = DeviceBuffer<unsigned char>(x_bytes, "X");
    y_ = DeviceBuffer<unsigned char>(y_bytes, "y");
    if (weighted_) weights_ = DeviceBuffer<unsigned char>(w_bytes, "sample weights");
    params_ = DeviceBuffer<double>(d_ + 1, "parameters");
    grad_ = DeviceBuffer<double>(d_ + 1, "gradient");
    state_ = DeviceBuffer<double>(2 * (d_ + 1), "optimizer state");
    stats_ = DeviceBuffer<double>(kStatCount, "loss statistics");
    partials_ = DeviceBuffer<double>(partial_count, "partial sums");

    const std::int64_t elem = dtype_size(x_dtype_);
    if (layout_ == Layout::row_major) {
      upload_packed(X_.get(), X.data, n_, d_ * elem, X.stride * elem, false, prop.memPitch,
                    stream_);
    } else {
      upload_packed(X_.get(), X.data, d_, n_ * elem, X.stride * elem, true, prop.memPitch,
                    stream_);
    }
    const std::int64_t y_elem = dtype_size(y_dtype_);
    upload_packed(y_.get(), y.data, n_, y_elem, y.stride * y_elem, false, prop.memPitch, stream_);
    if (weighted_) {
      const std::int64_t w_elem = dtype_size(w_dtype_);
      upload_packed(weights_.get(), weights.data, n_, w_elem, weights.stride * w_elem, false,
                    prop.memPitch, stream_);
    }

    STEEPEST_CUDA_CHECK(cudaMemsetAsync(params_.get(), 0, static_cast<std::size_t>(params_.bytes()), stream_));
    STEEPEST_CUDA_CHECK(cudaMemsetAsync(grad_.get(), 0, static_cast<std::size_t>(grad_.bytes()), stream_));
    STEEPEST_CUDA_CHECK(cudaMemsetAsync(state_.get(), 0, static_cast<std::size_t>(state_.bytes()), stream_));
    STEEPEST_CUDA_CHECK(cudaMemsetAsync(stats_.get(), 0, static_cast<std::size_t>(stats_.bytes()), stream_));
    STEEPEST_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  // Pending kernels may still use the buffers: wait for them before the members go.
  ~CudaBackend() override { STEEPEST_CUDA_CHECK_NOTHROW(cudaStreamSynchronize(stream_)); }

  const char* name() const noexcept override { return "cuda"; }
  std::string device_name() const override { return device_name_; }
  std::int64_t rows() const noexcept override { return total_; }
  std::int64_t cols() const noexcept override { return d_; }

  void set_parameters(const double* w, double b) override {
    activate();
    host_params_.assign(w, w + d_);
    host_params_.push_back(b);
    // Pageable source: the call returns once the bytes are staged, so host_params_ may be
    // reused at once, and stream order keeps earlier computes on the old parameters.
    STEEPEST_CUDA_CHECK(cudaMemcpyAsync(params_.get(), host_params_.data(),
                                        static_cast<std::size_t>(params_.bytes()),
                                        cudaMemcpyHostToDevice, stream_));
  }

  void get_parameters(double* w, double* b) override {
    read_back(params_.get(), d_ + 1);
    std::copy(host_params_.begin(), host_params_.begin() + d_, w);
    *b = host_params_[static_cast<std::size_t>(d_)];
  }

  // Not part of the constructor's memory check: only fits that shuffle need it, and the
  // driver reserves it right after construction, where auto can still fall back.
  void reserve_row_order() override {
    activate();
    if (order_.size() != 0) return;
    const std::int64_t need = n_ * static_cast<std::int64_t>(sizeof(std::int64_t));
    std::size_t free_bytes = 0, total_bytes = 0;
    STEEPEST_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    if (need > static_cast<std::int64_t>(free_bytes)) {
      throw DeviceUnavailable("CUDA backend: the row order (" + std::to_string(n_) +
                              " 64-bit indices) needs " + gib(need) + " of device memory but only " +
                              gib(static_cast<std::int64_t>(free_bytes)) + " of " +
                              gib(static_cast<std::int64_t>(total_bytes)) + " are free on " +
                              device_name_ + " after the data; use the CPU backend, a smaller " +
                              "data set or no shuffling");
    }
    order_ = DeviceBuffer<std::int64_t>(n_, "row order");  // DeviceUnavailable if it fails
  }

  void set_row_order(const RowOrder& given) override {
    activate();
    if (given.rows == nullptr && given.count > 0) throw InvalidArgument("set_row_order: null order");
    if (given.run > 1) throw InvalidArgument("set_row_order: an order in runs this backend does not take");
    if (given.part && reduction_ == nullptr)
      throw InvalidArgument("set_row_order: a part of a row order needs a backend of several processes");
    reserve_row_order();  // no-op when reserved; else allocated now
    // Synchronous on purpose: the caller may overwrite the order (the next epoch's
    // permutation) as soon as we return, and kernels of the previous epoch may still read
    // the device copy, which stream order protects.
    const std::int64_t* order = given.rows;
    if (reduction_ != nullptr) {
      // Across processes: this process's rows of the fit's order (launch_plan.hpp).
      plan::local_row_order(given.rows, given.part ? given.keys : nullptr, given.count, first_, n_, local_order_,
                            local_keys_);
      order = local_order_.data();
    }
    const std::size_t count = reduction_ != nullptr ? local_order_.size() : static_cast<std::size_t>(n_);
    if (count > 0)
      STEEPEST_CUDA_CHECK(cudaMemcpyAsync(order_.get(), order, count * sizeof(std::int64_t), cudaMemcpyHostToDevice,
                                          stream_));
    STEEPEST_CUDA_CHECK(cudaStreamSynchronize(stream_));
    order_set_ = true;
  }

  void compute(std::int64_t begin, std::int64_t end, bool ordered) override {
    activate();
    if (begin < 0 || end > total_ || begin >= end) {
      throw InvalidArgument("compute: row range [" + std::to_string(begin) + ", " +
                            std::to_string(end) + ") is empty or outside [0, " +
                            std::to_string(total_) + ")");
    }
    // A reserved but never filled order would send the kernel to uninitialised indices.
    if (ordered && !order_set_) throw InvalidArgument("compute: no row order was set");
    if (reduction_ != nullptr) {
      compute_shared(begin, end, ordered);
      return;
    }
    enqueue_pass(begin, end, ordered, nullptr);
  }

  /// The fused pass over positions [begin, end) of this process's rows (local indices, or
  /// positions of the device's order) and its reduction: into grad_ and stats_, or with
  /// \p raw the sums alone into raw (launch_reduce_partials).
  void enqueue_pass(std::int64_t begin, std::int64_t end, bool ordered, double* raw) {
    const std::int64_t m = end - begin;
    const std::int64_t grid = plan::fused_grid(m, plan_.rows_per_iteration, plan_.max_grid);
    FusedArgs args;
    args.X = X_.get();
    args.y = y_.get();
    args.weights = weighted_ ? weights_.get() : nullptr;
    args.order = ordered ? order_.get() : nullptr;
    args.params = params_.get();
    args.partials = partials_.get();
    args.n = n_;
    args.d = d_;
    args.begin = begin;
    args.end = end;
    args.y_is_double = y_dtype_ == DType::float64 ? 1 : 0;
    args.weights_are_double = w_dtype_ == DType::float64 ? 1 : 0;
    args.tile_rows = plan_.tile_rows;
    // r = X w + b - y; partials of X^T r, sum r^2, sum r per block (weighted: of X^T (w r),
    // sum w r^2, sum w r and sum w).
    launch_fused_loss_gradient(plan_, args, grid, stream_);
    // grad = (2/m) [X^T r; sum r], loss = sum r^2 / m, running += (sum r^2, m); weighted,
    // W = sum w replaces m.
    launch_reduce_partials(partials_.get(), grid, d_, m, weighted_, grad_.get(), stats_.get(),
                           stream_, raw);
  }

  /// compute() across processes: this process's sums of its rows among positions
  /// [begin, end) come to the host (d + 4 values), the Reduction adds every process's in
  /// rank order, and the host finishes the pass as the CPU backend does (same expressions);
  /// the gradient goes back up for step().  Deterministic for a given split of the rows;
  /// how close to one process: docs/ARCHITECTURE.md, "GPU ranks".
  void compute_shared(std::int64_t begin, std::int64_t end, bool ordered) {
    const std::size_t width = static_cast<std::size_t>(d_) + (weighted_ ? 4 : 3);
    const auto [lo, hi] = local_range(begin, end, ordered);
    std::vector<double>& row = shared_row_;  // kept: a pass of every mini-batch allocates nothing
    std::vector<double>& totals = shared_totals_;
    row.assign(width, 0.0);
    totals.assign(width, 0.0);
    if (hi > lo) {
      reserve_raw();
      enqueue_pass(lo, hi, ordered, raw_.get());
      STEEPEST_CUDA_CHECK(cudaMemcpyAsync(row.data(), raw_.get(), (width - 1) * sizeof(double),
                                          cudaMemcpyDeviceToHost, stream_));
      STEEPEST_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    row[width - 1] = static_cast<double>(hi - lo);
    reduction_->combine(row.data(), 1, width, totals.data());
    const std::size_t d = static_cast<std::size_t>(d_);
    const double sse = totals[d], sum_r = totals[d + 1];
    const double total = weighted_ ? totals[d + 2] : totals[width - 1];
    shared_grad_.assign(d + 1, 0.0);
    shared_loss_ = 0.0;
    if (total != 0.0) {  // else no rows, or zero weights: no loss, no step, no running sums
      const double inv_m = 1.0 / total;
      for (std::size_t k = 0; k < d; ++k) shared_grad_[k] = totals[k] * (2.0 * inv_m);
      shared_grad_[d] = 2.0 * inv_m * sum_r;
      shared_loss_ = sse * inv_m;
      shared_running_sse_ += sse;
      shared_running_rows_ += total;
    }
    // Pageable source: staged before the call returns.
    STEEPEST_CUDA_CHECK(cudaMemcpyAsync(grad_.get(), shared_grad_.data(), (d + 1) * sizeof(double),
                                        cudaMemcpyHostToDevice, stream_));
  }

  /// Positions [begin, end) of the fit as this process's: a range of its compact order, or
  /// of its local rows in the natural order.
  std::pair<std::int64_t, std::int64_t> local_range(std::int64_t begin, std::int64_t end, bool ordered) const {
    if (ordered) return plan::local_span(local_keys_, begin, end);
    return {std::clamp<std::int64_t>(begin - first_, 0, n_), std::clamp<std::int64_t>(end - first_, 0, n_)};
  }

  void reserve_raw() {
    if (raw_.size() == 0) raw_ = DeviceBuffer<double>(d_ + 3, "raw sums");
  }

  // Its own buffers (allocated on the first call), its own kernels: the parameters, the
  // gradient, the loss statistics and the fused pass's partials are not touched.
  void gram_sums(std::int64_t begin, std::int64_t end, bool ordered, const double* shift,
                 double* totals) override {
    activate();
    if (begin < 0 || end > total_ || begin > end) {
      throw InvalidArgument("gram_sums: row range [" + std::to_string(begin) + ", " +
                            std::to_string(end) + ") is outside [0, " + std::to_string(total_) + "]");
    }
    if (shift == nullptr || totals == nullptr) throw InvalidArgument("gram_sums: null shift or totals");
    if (ordered && !order_set_) throw InvalidArgument("gram_sums: no row order was set");
    const std::size_t width = gram_width(d_);
    std::vector<double> row(width, 0.0);  // an empty range: zeros
    if (reduction_ != nullptr) std::tie(begin, end) = local_range(begin, end, ordered);
    if (end > begin) {
      reserve_gram();
      enqueue_gram(begin, end, ordered, shift);
      STEEPEST_CUDA_CHECK(cudaMemcpyAsync(row.data(), gram_out_.get(),
                                          static_cast<std::size_t>(gram_out_.bytes()),
                                          cudaMemcpyDeviceToHost, stream_));
      STEEPEST_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    row[static_cast<std::size_t>(gram_rows(d_))] = static_cast<double>(end - begin);
    // This process's row through the Reduction: every process's, in rank order.
    std::fill(totals, totals + width, 0.0);
    (reduction_ != nullptr ? *reduction_ : local_reduction()).combine(row.data(), 1, width, totals);
  }

  /// In one process: every batch's two Gram kernels queued on the stream (the kernels and
  /// arguments of gram_sums() of that batch, so its bits), one copy down, one wait.  Across
  /// processes the default: gram_sums() per batch, each through the Reduction.
  void batch_gram_sums(std::int64_t begin, std::int64_t end, std::int64_t batch, bool ordered, const double* shift,
                       double* totals) override {
    if (reduction_ != nullptr) {
      Backend::batch_gram_sums(begin, end, batch, ordered, shift, totals);
      return;
    }
    activate();
    if (begin < 0 || end > total_ || begin > end || batch < 1)
      throw InvalidArgument("batch_gram_sums: row range [" + std::to_string(begin) + ", " + std::to_string(end) +
                            ") outside [0, " + std::to_string(total_) + "] or batch " + std::to_string(batch) + " < 1");
    if (shift == nullptr || totals == nullptr) throw InvalidArgument("batch_gram_sums: null shift or totals");
    if (ordered && !order_set_) throw InvalidArgument("batch_gram_sums: no row order was set");
    const std::int64_t count = (end - begin + batch - 1) / batch;
    if (count == 0) return;
    reserve_gram();
    const std::int64_t entries = gram_plan_.entries;
    if (batch_out_.size() < count * entries) {
      batch_out_ = DeviceBuffer<double>();  // free the smaller one first
      batch_out_ = DeviceBuffer<double>(count * entries, "batch Gram sums");
    }
    upload_gram_shift(shift);
    for (std::int64_t k = 0; k < count; ++k) {
      const std::int64_t lo = begin + k * batch;
      launch_gram(lo, std::min(end, lo + batch), ordered, batch_out_.get() + k * entries);
    }
    std::vector<double> sums(static_cast<std::size_t>(count * entries));
    STEEPEST_CUDA_CHECK(cudaMemcpyAsync(sums.data(), batch_out_.get(), sums.size() * sizeof(double),
                                        cudaMemcpyDeviceToHost, stream_));
    STEEPEST_CUDA_CHECK(cudaStreamSynchronize(stream_));
    const std::size_t width = gram_width(d_);
    std::vector<double> row(width);
    for (std::int64_t k = 0; k < count; ++k) {  // as gram_sums() finishes one batch
      const double* from = sums.data() + k * entries;
      std::copy(from, from + entries, row.begin());
      row[static_cast<std::size_t>(gram_rows(d_))] = static_cast<double>(std::min(end - begin - k * batch, batch));
      double* out = totals + static_cast<std::size_t>(k) * width;
      std::fill(out, out + width, 0.0);
      local_reduction().combine(row.data(), 1, width, out);
    }
  }

  void step(const StepRule& rule) override {
    activate();
    // apply_step_rule per coordinate (host/train/step_rule.hpp), state on the device.
    launch_update_parameters(params_.get(), grad_.get(), state_.get(), d_, rule, stream_);
  }

  double loss() override {
    if (reduction_ != nullptr) return shared_loss_;
    read_stats();
    return host_stats_[kStatLoss];
  }

  void gradient(double* gw, double* gb) override {
    if (reduction_ != nullptr) {
      std::copy(shared_grad_.begin(), shared_grad_.begin() + d_, gw);
      *gb = shared_grad_.empty() ? 0.0 : shared_grad_[static_cast<std::size_t>(d_)];
      return;
    }
    read_back(grad_.get(), d_ + 1);
    std::copy(host_params_.begin(), host_params_.begin() + d_, gw);
    *gb = host_params_[static_cast<std::size_t>(d_)];
  }

  void reset_running_loss() override {
    shared_running_sse_ = shared_running_rows_ = 0.0;
    activate();
    STEEPEST_CUDA_CHECK(cudaMemsetAsync(stats_.get() + kStatRunningSse, 0, 2 * sizeof(double), stream_));
  }

  double running_loss() override {
    if (reduction_ != nullptr) return shared_running_rows_ > 0.0 ? shared_running_sse_ / shared_running_rows_ : 0.0;
    read_stats();
    const double rows = host_stats_[kStatRunningRows];
    return rows > 0.0 ? host_stats_[kStatRunningSse] / rows : 0.0;
  }

  void get_running_sums(double* sse, double* rows) override {
    if (reduction_ != nullptr) {
      *sse = shared_running_sse_;
      *rows = shared_running_rows_;
      return;
    }
    read_stats();
    *sse = host_stats_[kStatRunningSse];
    *rows = host_stats_[kStatRunningRows];
  }

  void set_running_sums(double sse, double rows) override {
    shared_running_sse_ = sse;
    shared_running_rows_ = rows;
    activate();
    // Pageable source: cudaMemcpyAsync returns once the two values are staged.
    const double sums[2] = {sse, rows};
    static_assert(kStatRunningRows == kStatRunningSse + 1, "running sums are adjacent");
    STEEPEST_CUDA_CHECK(cudaMemcpyAsync(stats_.get() + kStatRunningSse, sums, sizeof sums,
                                        cudaMemcpyHostToDevice, stream_));
    STEEPEST_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  void get_optimizer_state(double* state) override {
    read_back(state_.get(), 2 * (d_ + 1));
    std::copy(host_params_.begin(), host_params_.end(), state);
  }

  void set_optimizer_state(const double* state) override {
    activate();
    STEEPEST_CUDA_CHECK(cudaMemcpyAsync(state_.get(), state,
                                        static_cast<std::size_t>(2 * (d_ + 1)) * sizeof(double),
                                        cudaMemcpyHostToDevice, stream_));
    STEEPEST_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  /// For cuda_backend_stream(): the stream, with the device made current.
  cudaStream_t stream() const {
    activate();
    return stream_;
  }

 private:
  void activate() const { STEEPEST_CUDA_CHECK(cudaSetDevice(device_)); }

  void require_free_memory(std::int64_t need, std::int64_t x_bytes, std::int64_t y_bytes,
                           std::int64_t w_bytes) const {
    std::size_t free_bytes = 0, total_bytes = 0;
    STEEPEST_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    if (need > static_cast<std::int64_t>(free_bytes)) {
      throw DeviceUnavailable("CUDA backend: the data needs " + gib(need) + " of device memory (X " +
                              gib(x_bytes) + ", y " + gib(y_bytes) +
                              (w_bytes > 0 ? ", weights " + gib(w_bytes) : std::string()) +
                              ") but only " +
                              gib(static_cast<std::int64_t>(free_bytes)) + " of " +
                              gib(static_cast<std::int64_t>(total_bytes)) + " are free on " +
                              device_name_ + "; use the CPU backend or a smaller data set");
    }
  }

  // The Gram pass's plan and buffers, on its first call: the block partials (entries x the
  // most blocks along the rows), the shift and the totals.  DeviceUnavailable when short.
  void reserve_gram() {
    if (gram_out_.size() != 0) return;
    GramPlan plan = plan_gram_sums(d_, x_dtype_, y_dtype_, w_dtype_, layout_, weighted_, device_);
    const std::int64_t partial_count = plan.entries * plan.max_slices;
    const std::int64_t need = 8 * (partial_count + plan.entries + d_ + 1);
    std::size_t free_bytes = 0, total_bytes = 0;
    STEEPEST_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    if (need > static_cast<std::int64_t>(free_bytes)) {
      throw DeviceUnavailable("CUDA backend: the Gram sums of d = " + std::to_string(d_) +
                              " features need " + gib(need) + " of device memory (" +
                              std::to_string(plan.max_slices) + " blocks' partial sums) but only " +
                              gib(static_cast<std::int64_t>(free_bytes)) + " of " +
                              gib(static_cast<std::int64_t>(total_bytes)) + " are free on " +
                              device_name_ + " after the data; use the CPU backend or the " +
                              "residual passes");
    }
    DeviceBuffer<double> partials(partial_count, "Gram partial sums");
    DeviceBuffer<double> shift(d_ + 1, "Gram shift");
    DeviceBuffer<double> out(plan.entries, "Gram sums");
    gram_plan_ = plan;
    gram_partials_ = std::move(partials);
    gram_shift_ = std::move(shift);
    gram_out_ = std::move(out);
  }

  // Shift up (pageable: staged before the call returns), then the two kernels.
  void enqueue_gram(std::int64_t begin, std::int64_t end, bool ordered, const double* shift) {
    upload_gram_shift(shift);
    launch_gram(begin, end, ordered, gram_out_.get());
  }
  void upload_gram_shift(const double* shift) {
    STEEPEST_CUDA_CHECK(cudaMemcpyAsync(gram_shift_.get(), shift,
                                        static_cast<std::size_t>(gram_shift_.bytes()),
                                        cudaMemcpyHostToDevice, stream_));
  }
  // The Gram kernels of positions [begin, end) with totals into \p out (plan.entries values).
  void launch_gram(std::int64_t begin, std::int64_t end, bool ordered, double* out) {
    GramArgs args;
    args.X = X_.get();
    args.y = y_.get();
    args.weights = weighted_ ? weights_.get() : nullptr;
    args.order = ordered ? order_.get() : nullptr;
    args.shift = gram_shift_.get();
    args.partials = gram_partials_.get();
    args.n = n_;
    args.d = d_;
    args.begin = begin;
    args.end = end;
    args.y_is_double = y_dtype_ == DType::float64 ? 1 : 0;
    args.weights_are_double = w_dtype_ == DType::float64 ? 1 : 0;
    const std::int64_t slices = plan::fused_grid(end - begin, gram_plan_.tile_rows, gram_plan_.max_slices);
    launch_gram_sums(gram_plan_, args, slices, out, stream_);
  }

  // Device -> host_params_ (count doubles), then wait: these are the sync points.
  void read_back(const double* src, std::int64_t count) {
    activate();
    host_params_.resize(static_cast<std::size_t>(count));
    STEEPEST_CUDA_CHECK(cudaMemcpyAsync(host_params_.data(), src,
                                        static_cast<std::size_t>(count) * sizeof(double),
                                        cudaMemcpyDeviceToHost, stream_));
    STEEPEST_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  void read_stats() {
    activate();
    STEEPEST_CUDA_CHECK(cudaMemcpyAsync(host_stats_, stats_.get(), sizeof host_stats_,
                                        cudaMemcpyDeviceToHost, stream_));
    STEEPEST_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  std::int64_t n_;
  std::int64_t d_;
  DType x_dtype_;
  DType y_dtype_;
  DType w_dtype_;
  bool weighted_;
  Layout layout_;
  std::int64_t first_ = 0;          // this process's rows are rows [first_, first_ + n_)
  std::int64_t total_ = 0;          // of the fit's total_ (n_ in one process)
  Reduction* reduction_ = nullptr;  // across processes; null in one process
  int device_ = 0;
  std::string device_name_;
  FusedPlan plan_;
  CudaStream stream_owner_;  // destroyed after the buffers below
  cudaStream_t stream_ = stream_owner_.get();
  DeviceBuffer<unsigned char> X_;
  DeviceBuffer<unsigned char> y_;
  DeviceBuffer<unsigned char> weights_;  // empty when unweighted
  DeviceBuffer<std::int64_t> order_;  // reserve_row_order(); filled by set_row_order()
  bool order_set_ = false;
  DeviceBuffer<double> params_;  // w[0..d), b
  DeviceBuffer<double> grad_;    // grad_w[0..d), grad_b
  DeviceBuffer<double> state_;   // optimizer state: s1[0..d], then s2[0..d]
  DeviceBuffer<double> stats_;   // kStat*
  DeviceBuffer<double> partials_;
  GramPlan gram_plan_;                 // reserve_gram(), on the first gram_sums()
  DeviceBuffer<double> batch_out_;     // batch_gram_sums(): a window's sums, grown as needed
  DeviceBuffer<double> gram_partials_;
  DeviceBuffer<double> gram_shift_;
  DeviceBuffer<double> gram_out_;      // S2, S1, W: gram_rows(d) values
  std::vector<double> host_params_;  // staging for parameter and gradient transfers
  double host_stats_[kStatCount] = {};
  // Across processes (reduction_ set): the passes finish on the host (compute_shared),
  // which keeps the loss, gradient and running sums.
  std::vector<std::int64_t> local_order_, local_keys_;  // plan::local_row_order
  DeviceBuffer<double> raw_;                              // a pass's sums (d + 3)
  std::vector<double> shared_grad_, shared_row_, shared_totals_;
  double shared_loss_ = 0.0, shared_running_sse_ = 0.0, shared_running_rows_ = 0.0;
};

}  // namespace

bool cuda_usable() noexcept {
  try {
    return unavailable_reason().empty();
  } catch (...) {
    return false;
  }
}

int cuda_device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
}

std::unique_ptr<Backend> make_cuda_backend(const MatrixView& X, const VectorView& y, const VectorView& weights,
                                           const RowShare& share, int device_index) {
  if (!cuda_usable()) throw DeviceUnavailable("device cuda requested: " + cuda_unavailable_reason());
  int count = 0;
  STEEPEST_CUDA_CHECK(cudaGetDeviceCount(&count));
  if (device_index >= count)
    throw InvalidArgument("no CUDA device " + std::to_string(device_index) + ": this machine has " +
                          std::to_string(count) + " (devices 0.." + std::to_string(count - 1) + ")");
  if (share.reduction != nullptr && X.rows == 0)
    throw InvalidArgument("CUDA backend: this process holds no rows of the fit; give every process rows, "
                          "or use the CPU backend (which takes empty shares)");
  validate_views(X, y, weights);
  return std::make_unique<CudaBackend>(X, y, weights, share, device_index);
}

std::unique_ptr<Backend> make_cuda_backend(const MatrixView& X, const VectorView& y,
                                           const VectorView& weights) {
  return make_cuda_backend(X, y, weights, RowShare{}, -1);
}

std::unique_ptr<Backend> make_cuda_backend(const MatrixView& X, const VectorView& y) {
  return make_cuda_backend(X, y, VectorView{});
}

cudaStream_t cuda_backend_stream(Backend& backend) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  if (cuda == nullptr) {
    throw DeviceUnavailable(std::string("CUDA timing needs the CUDA backend, not the ") +
                            backend.name() + " backend");
  }
  return cuda->stream();
}

}  // namespace detail

std::vector<DeviceInfo> cuda_devices() {
  std::vector<DeviceInfo> devices;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return devices;
  }
  int current = 0;
  if (cudaGetDevice(&current) != cudaSuccess) current = 0;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    DeviceInfo info;
    info.index = i;
    info.name = prop.name;
    info.total_memory = static_cast<std::int64_t>(prop.totalGlobalMem);
    info.multiprocessors = prop.multiProcessorCount;
    info.compute_major = prop.major;
    info.compute_minor = prop.minor;
    std::size_t free_bytes = 0, total_bytes = 0;
    if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      info.free_memory = static_cast<std::int64_t>(free_bytes);
    }
    devices.push_back(std::move(info));
  }
  (void)cudaSetDevice(current);
  (void)cudaGetLastError();
  return devices;
}

std::string cuda_unavailable_reason() {
  try {
    return detail::unavailable_reason();
  } catch (...) {
    return "CUDA runtime: unknown error";
  }
}

}  // namespace steepest
