// The CPU kernels compiled with AVX-512 (F, VL, DQ, BW; CMake adds the flags to this file
// only, with -mprefer-vector-width=256 so that the `omp simd` loops keep the AVX2 set's
// vector width, and so its grouping of sums, and with GCC's integer spills kept out of the
// vector registers); called only when the CPU reports all four (host/cpu/cpu_dispatch.cpp).
// The same source as the other sets: the same bits.  What the set gains is the 32 vector
// registers (fewer spills: the Gram pass at d = 4); see
// bench/results/avx512-kernels-cpu-vm-2026-12-02.md.
#define STEEPEST_CPU_ISA avx512
#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_gram.hpp"

const steepest::detail::KernelSet steepest::detail::avx512::kernel_set{&fused_chunk, &weighted_chunk, &gram_chunk};
