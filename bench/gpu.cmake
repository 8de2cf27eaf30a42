# The GPU suite (bench_gpu.cu): the CUDA backend against the device's copy and reduce
# ceilings and against cuBLAS, mini- against full-batch epochs.  Included by
# bench/CMakeLists.txt when CUDA is on.
#
# cuBLAS is linked shared: the toolkit here ships no static cuBLAS, and libcublasLt alone is
# over 500 MB, far beyond what travels to the GPU machine.  That machine has the same CUDA
# 13 toolkit; the build tree's RUNPATH names the toolkit's library folder, and
# scripts/device-check.sh also puts the toolkit found beside nvcc on LD_LIBRARY_PATH.
find_package(CUDAToolkit REQUIRED)
add_executable(bench_gpu bench_gpu.cu)
target_link_libraries(bench_gpu PRIVATE steepest::steepest steepest_io benchmark::benchmark
                      CUDA::cublas)
target_include_directories(bench_gpu PRIVATE ${PROJECT_SOURCE_DIR}/host)
# One CUDA runtime in the binary: the one steepest_lib links.
if(STEEPEST_CUDA_STATIC_RUNTIME)
  set_target_properties(bench_gpu PROPERTIES CUDA_RUNTIME_LIBRARY Static)
else()
  set_target_properties(bench_gpu PROPERTIES CUDA_RUNTIME_LIBRARY Shared)
endif()
target_compile_options(bench_gpu PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wshadow>
  $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${STEEPEST_WERROR}>>:-Xcompiler=-Werror>)
