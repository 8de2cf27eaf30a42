# host/api/: The public entry points: fit, evaluate, predict, score, argument checks, build info.
# Included by the top-level CMakeLists.txt into steepest_lib; sets STEEPEST_API_SOURCES.
set(STEEPEST_API_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/build_info.cpp
  ${CMAKE_CURRENT_LIST_DIR}/c_api.cpp
  ${CMAKE_CURRENT_LIST_DIR}/c_api_names.cpp
  ${CMAKE_CURRENT_LIST_DIR}/fit.cpp
  ${CMAKE_CURRENT_LIST_DIR}/predict.cpp
  ${CMAKE_CURRENT_LIST_DIR}/state_bytes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/validate.cpp
)
