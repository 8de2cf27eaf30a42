// The CPU kernels for the x86-64 baseline (or whatever the compiler targets by default).
#define STEEPEST_CPU_ISA baseline
#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_gram.hpp"

const steepest::detail::KernelSet steepest::detail::baseline::kernel_set{&fused_chunk, &weighted_chunk, &gram_chunk};
