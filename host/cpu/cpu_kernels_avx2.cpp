// The CPU kernels compiled with -mavx2 (CMake adds the flag to this file only); called
// only when the CPU reports AVX2 (host/cpu/cpu_dispatch.cpp).
#define STEEPEST_CPU_ISA avx2
#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_gram.hpp"

const steepest::detail::KernelSet steepest::detail::avx2::kernel_set{&fused_chunk, &weighted_chunk, &gram_chunk};
