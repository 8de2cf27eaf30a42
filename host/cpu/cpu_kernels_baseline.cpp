// The CPU kernels for the x86-64 baseline (or whatever the compiler targets by default).
#define STEEPEST_CPU_ISA baseline
#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_gram.hpp"
