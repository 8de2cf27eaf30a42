# CUDA sources of steepest_lib; included by the top-level CMakeLists.txt when CUDA is on.
set(STEEPEST_CUDA_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/cuda_backend.cu
  ${CMAKE_CURRENT_LIST_DIR}/cuda_bench.cu
  ${CMAKE_CURRENT_LIST_DIR}/gram_sums.cu
  ${CMAKE_CURRENT_LIST_DIR}/loss_gradient.cu
  ${CMAKE_CURRENT_LIST_DIR}/parameter_update.cu
)

# apply_step_rule must round like the CPU: no fused multiply-adds in the step kernel.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/parameter_update.cu PROPERTIES COMPILE_OPTIONS -fmad=false)
