# host/backend/: What the trainer drives and every backend shares: the interface, its factories
# and selection, the Reduction seam, the team of processes.
# Included by the top-level CMakeLists.txt into steepest_lib; sets STEEPEST_BACKEND_SOURCES.
set(STEEPEST_BACKEND_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/reduction.cpp
  ${CMAKE_CURRENT_LIST_DIR}/select.cpp
  ${CMAKE_CURRENT_LIST_DIR}/team.cpp
)
