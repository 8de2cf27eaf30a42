// The CPU kernels compiled with AVX-512 (F, VL, DQ, BW; CMake adds the flags to this file
// only, with -mprefer-vector-width=256 so that the `omp simd` loops keep the AVX2 set's
// vector width, and so its grouping of sums); called only when the CPU reports all four
// (host/cpu/cpu_dispatch.cpp).  The same source as the other sets: the same bits.
#define STEEPEST_CPU_ISA avx512
#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_gram.hpp"
