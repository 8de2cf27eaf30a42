# Tests of the CUDA backend; included by tests/CMakeLists.txt after steepest_add_test().
#
# test_kernel_launch_plan: plain C++ (grid sizing, row partition, feature buckets, the
# fixed reduction order) so it runs in every build, the CPU-only one included.
steepest_add_test(test_kernel_launch_plan ${CMAKE_CURRENT_LIST_DIR}/test_kernel_launch_plan.cpp)

# test_cuda_backend launches kernels: CUDA builds only.  Without a usable GPU its GPU tests
# skip, unless STEEPEST_REQUIRE_GPU=1 (the device check) turns that into a failure.
if(STEEPEST_HAVE_CUDA)
  steepest_add_test(test_cuda_backend ${CMAKE_CURRENT_LIST_DIR}/test_cuda_backend.cpp)
endif()
