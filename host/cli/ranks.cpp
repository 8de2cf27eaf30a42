#include "cli/ranks.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(STEEPEST_HAVE_MPI)
#include <mpi.h>

#include "steepest/mpi.hpp"
#endif

namespace steepest::cli {
namespace {

struct State {
  bool active = false;
  int rank = 0, size = 1;
  std::shared_ptr<const Communicator> comm;
};

State& state() {
  static State s;
  return s;
}

#if defined(STEEPEST_HAVE_MPI)
bool launched_by_mpi() {
  const char* forced = std::getenv("STEEPEST_MPI");
  if (forced != nullptr && std::strcmp(forced, "0") == 0) return false;
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}
#endif

}  // namespace

void Ranks::start([[maybe_unused]] int* argc, [[maybe_unused]] char*** argv) {
#if defined(STEEPEST_HAVE_MPI)
  if (!launched_by_mpi()) return;
  int provided = 0;
  // Only the main thread calls MPI; OpenMP threads never do.
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  State& s = state();
  s.active = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &s.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &s.size);
  s.comm = mpi_communicator(MPI_COMM_WORLD);
#endif
}

void Ranks::stop() {
#if defined(STEEPEST_HAVE_MPI)
  State& s = state();
  if (!s.active) return;
  s.comm.reset();  // frees its duplicate of the communicator, before MPI ends
  MPI_Finalize();
  s.active = false;
#endif
}

void Ranks::abort(int code) {
#if defined(STEEPEST_HAVE_MPI)
  if (state().active) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
  }
#endif
  std::exit(code);
}

bool Ranks::active() noexcept { return state().active; }
int Ranks::rank() noexcept { return state().rank; }
int Ranks::size() noexcept { return state().size; }
std::shared_ptr<const Communicator> Ranks::communicator() { return state().comm; }

std::string Ranks::describe() {
#if defined(STEEPEST_HAVE_MPI)
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);  // allowed before MPI_Init
  std::string lib(text, static_cast<std::size_t>(length));
  const std::size_t cut = lib.find_first_of(",\n");
  if (cut != std::string::npos) lib.resize(cut);
  if (!state().active) return lib + " (not under mpirun: one process)";
  return lib + ", " + std::to_string(state().size) + (state().size == 1 ? " rank" : " ranks");
#else
  return "not built (configure with -DSTEEPEST_ENABLE_MPI=ON and an MPI library)";
#endif
}

}  // namespace steepest::cli
