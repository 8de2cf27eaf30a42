# host/train/: The algorithm: the trainer and what it uses (step size, divergence, run state,
# permutation, standardize, the --validate cross-check).
# Included by the top-level CMakeLists.txt into steepest_lib; sets STEEPEST_TRAIN_SOURCES.
set(STEEPEST_TRAIN_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/affine_epoch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/batch_gram.cpp
  ${CMAKE_CURRENT_LIST_DIR}/divergence.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gram_backend.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_order.cpp
  ${CMAKE_CURRENT_LIST_DIR}/permutation.cpp
  ${CMAKE_CURRENT_LIST_DIR}/run_state.cpp
  ${CMAKE_CURRENT_LIST_DIR}/shuffle_across.cpp
  ${CMAKE_CURRENT_LIST_DIR}/spectrum.cpp
  ${CMAKE_CURRENT_LIST_DIR}/standardize.cpp
  ${CMAKE_CURRENT_LIST_DIR}/step_size.cpp
  ${CMAKE_CURRENT_LIST_DIR}/trainer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/validator.cpp
)
