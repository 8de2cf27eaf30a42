// The CPU kernels compiled with -mavx2 (CMake adds the flag to this file only); called
// only when the CPU reports AVX2 (host/cpu/cpu_dispatch.cpp).
#define STEEPEST_CPU_ISA avx2
#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_gram.hpp"
