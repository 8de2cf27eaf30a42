# host/mpi/: the Communicator of an MPI communicator (include/steepest/mpi.hpp): the only
# code that includes <mpi.h>.  Built as its own library, steepest::mpi, when
# STEEPEST_ENABLE_MPI finds MPI; the core library never links MPI.
# Included by the top-level CMakeLists.txt; sets STEEPEST_MPI_SOURCES.
set(STEEPEST_MPI_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/c_api_mpi.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mpi_communicator.cpp
)
