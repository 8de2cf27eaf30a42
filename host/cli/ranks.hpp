// The processes of one `steepest` run: this process alone, or the ranks of MPI_COMM_WORLD
// when an MPI launcher (mpirun, mpiexec, srun with PMI) started it and MPI was built in.
#pragma once

#include <memory>
#include <string>

#include "steepest/communicator.hpp"

namespace steepest::cli {

class Ranks {
 public:
  /// Starts MPI when a launcher's environment says so (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
  /// PMIX_RANK); STEEPEST_MPI=0 keeps a run single even then.
  static void start(int* argc, char*** argv);
  /// Ends MPI (every rank must get here).
  static void stop();
  /// Ends the whole job with \p code: for an error only this rank saw, which would
  /// otherwise leave the others waiting for it.
  [[noreturn]] static void abort(int code);
  static bool active() noexcept;  ///< under MPI, with any number of ranks
  static int rank() noexcept;     ///< 0 when not under MPI
  static int size() noexcept;     ///< 1 when not under MPI
  /// The ranks as a Communicator for FitOptions; null when not under MPI.
  static std::shared_ptr<const Communicator> communicator();
  /// For `steepest info`: the MPI library and version built in, or why none.
  static std::string describe();
};

}  // namespace steepest::cli
