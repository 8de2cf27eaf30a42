/// \file
/// \brief A Communicator from an MPI communicator (library steepest::mpi, built with
/// -DSTEEPEST_ENABLE_MPI).  The only steepest header that includes <mpi.h>.
///
///     MPI_Init(&argc, &argv);
///     steepest::FitOptions opt;
///     opt.communicator = steepest::mpi_communicator(MPI_COMM_WORLD);
///     auto r = steepest::fit(my_rows_X, my_rows_y, opt);   // the same r on every rank
///
/// Every rank passes its own rows (any split, a rank may have none); the rows of the fit
/// are rank 0's, then rank 1's, and so on.
#pragma once
#include "steepest/export.h"

#include <memory>

#include <mpi.h>

#include "steepest/communicator.hpp"

namespace steepest {

/// Wraps \p comm (duplicated, so steepest's messages never meet the caller's; freed with
/// the last copy of the pointer, which must happen before MPI_Finalize).
STEEPEST_API std::shared_ptr<const Communicator> mpi_communicator(MPI_Comm comm);

}  // namespace steepest
