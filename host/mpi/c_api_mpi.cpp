// steepest_mpi.h: the MPI part of the C API, beside the Communicator it wraps.
#include "steepest/steepest_mpi.h"

#include "api/c_api_handles.hpp"
#include "steepest/mpi.hpp"

extern "C" {

steepest_status steepest_options_set_mpi_comm(steepest_options* options, MPI_Comm comm) {
  return steepest::detail::guarded([&] {
    if (options == nullptr)
      throw steepest::detail::CApiError(STEEPEST_ERROR_INVALID_ARGUMENT, "options is a null pointer");
    options->fit.communicator = steepest::mpi_communicator(comm);
  });
}

steepest_status steepest_options_set_mpi_fcomm(steepest_options* options, MPI_Fint comm) {
  return steepest_options_set_mpi_comm(options, MPI_Comm_f2c(comm));
}

}  // extern "C"
