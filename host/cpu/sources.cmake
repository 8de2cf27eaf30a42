# host/cpu/: The CPU reference backend and its baseline kernels (the AVX2 and AVX-512 sets
# are added by the top-level CMakeLists.txt where the compiler can target them).
# Included by the top-level CMakeLists.txt into steepest_lib; sets STEEPEST_CPU_SOURCES.
set(STEEPEST_CPU_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/cpu_backend.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu_dispatch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu_kernels_baseline.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cpu_probe.cpp
)
