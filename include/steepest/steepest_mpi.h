/* \file
 * \brief The C API's MPI part (with steepest/steepest.h): a fit across the processes of a
 * communicator, each passing its own rows (see FitOptions::communicator in
 * steepest/options.hpp).  In the library built with MPI (libsteepest.so then links MPI;
 * the static steepest::mpi target for CMake users). */
#ifndef STEEPEST_STEEPEST_MPI_H
#define STEEPEST_STEEPEST_MPI_H

#include <mpi.h>

#include "steepest/steepest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fit, evaluate and score over the processes of comm (duplicated: the caller's stays free
 * for its own messages).  Every process must set the same options. */
STEEPEST_API steepest_status steepest_options_set_mpi_comm(steepest_options* options, MPI_Comm comm);
/* The same for Fortran's communicator handle (an integer, e.g. MPI_COMM_WORLD of mpif.h). */
STEEPEST_API steepest_status steepest_options_set_mpi_fcomm(steepest_options* options, MPI_Fint comm);

#ifdef __cplusplus
}
#endif

#endif /* STEEPEST_STEEPEST_MPI_H */
