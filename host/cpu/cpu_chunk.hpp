// Internal: the CPU backend's per-chunk kernel entry points (host/cpu/cpu_kernels.hpp,
// compiled once per instruction set) and the choice between them.
#pragma once

#include <cstdint>

#include "backend/chunk_plan.hpp"
#include "steepest/data.hpp"

namespace steepest::detail {

/// Current parameters, read-only during a pass.
struct Params {
  const double* w;
  double b;
};

/// Add the partials of positions lo..hi (of \p rows when not null, else of the natural
/// order) to out = [X^T r (d entries), sum r^2, sum r].
using FusedChunkFn = void (*)(const MatrixView& X, const VectorView& y, Params p,
                              const std::int64_t* rows, std::int64_t lo, std::int64_t hi,
                              double* out);

/// The same with per-row sample weights w_i (entry i of \p weights, which follow the rows
/// of X): out = [X^T (w r) (d entries), sum w r^2, sum w r, sum w].  A separate entry point
/// (not a null check inside the one above) so the unweighted kernels stay exactly as they
/// were; each term is (w_i r_i) times r_i or x_ik, so unit weights give the same bits
/// (except in the d = 1 vectorised loop, whose lane grouping follows the weights' type and
/// stride: see host/cpu/cpu_kernels.hpp).
using WeightedChunkFn = void (*)(const MatrixView& X, const VectorView& y,
                                 const VectorView& weights, Params p, const std::int64_t* rows,
                                 std::int64_t lo, std::int64_t hi, double* out);

/// Add the Gram sums (backend/gram.hpp) of positions lo..hi, shifted by \p shift (d + 1
/// values), to out (gram_width(d) values); \p weights.data == nullptr: unweighted.
using GramChunkFn = void (*)(const MatrixView& X, const VectorView& y, const VectorView& weights,
                             const double* shift, const std::int64_t* rows, std::int64_t lo,
                             std::int64_t hi, double* out);

/// The entry points of one kernel set.
struct KernelSet {
  FusedChunkFn fused_chunk;
  WeightedChunkFn weighted_chunk;
  GramChunkFn gram_chunk;
};

/// The kernels compiled for the x86-64 baseline (SSE2) and, where the compiler can, AVX2
/// and AVX-512 (F, VL, DQ, BW): host/cpu/cpu_kernels_<isa>.cpp.  A set this build does not
/// compile holds the baseline's entry points (and is never selected).
namespace baseline {
extern const KernelSet kernel_set;
}
namespace avx2 {
extern const KernelSet kernel_set;
}
namespace avx512 {
extern const KernelSet kernel_set;
}

/// Whether this build has the AVX2 (AVX-512) kernel set and this CPU runs it, whatever
/// STEEPEST_CPU_KERNELS says (for tests comparing the sets).
bool cpu_runs_avx2_kernels() noexcept;
bool cpu_runs_avx512_kernels() noexcept;

/// Bytes of X ahead of the current row that the kernels ask for on rows in order
/// (cpu_kernels.hpp's prefetch_stream), 0 for none: STEEPEST_CPU_PREFETCH (bytes, 0 turns
/// them off) if set to a number, else 4096 on Intel CPUs, where they doubled several passes,
/// and 0 elsewhere (on an AMD EPYC they slowed most passes down).  Read once.  A hint to the
/// memory system only: it changes no bit of any result.
std::int64_t stream_ahead_bytes() noexcept;

/// The widest kernel set this CPU runs ("avx512", "avx2" or "baseline"; STEEPEST_CPU_KERNELS
/// = avx2 or baseline caps it), chosen once.  Results are deterministic for a given set;
/// the baseline set may differ from the others in the last bits where its omp simd loops
/// group the sums by a narrower vector; the AVX2 and AVX-512 sets share their vector width.
FusedChunkFn best_fused_chunk() noexcept;
WeightedChunkFn best_weighted_chunk() noexcept;
GramChunkFn best_gram_chunk() noexcept;
const char* best_fused_chunk_name() noexcept;

}  // namespace steepest::detail
