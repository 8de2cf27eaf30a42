// The Communicator of an MPI communicator (include/steepest/mpi.hpp): the only code that
// calls MPI.  Every call checks its return code; with MPI's default error handler
// (MPI_ERRORS_ARE_FATAL) a failed peer ends the job instead of leaving the others waiting.
#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "steepest/error.hpp"
#include "steepest/mpi.hpp"

namespace steepest {
namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw std::runtime_error(std::string("MPI_") + what + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

int as_int(std::size_t bytes) {
  if (bytes > static_cast<std::size_t>(INT_MAX))
    throw std::runtime_error("steepest: an MPI message of " + std::to_string(bytes) + " bytes exceeds INT_MAX");
  return static_cast<int>(bytes);
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) throw InvalidArgument("mpi_communicator: MPI_Init has not been called");
    check(MPI_Comm_dup(comm, &comm_), "Comm_dup");
    check(MPI_Comm_rank(comm_, &rank_), "Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "Comm_size");
    MPI_Comm node;
    check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "Comm_split_type");
    check(MPI_Comm_rank(node, &node_rank_), "Comm_rank");
    MPI_Comm_free(&node);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const noexcept override { return rank_; }
  int size() const noexcept override { return size_; }
  int node_rank() const noexcept override { return node_rank_; }

  void allgather(const void* send, std::size_t bytes, void* recv) const override {
    check(MPI_Allgather(send, as_int(bytes), MPI_BYTE, recv, as_int(bytes), MPI_BYTE, comm_), "Allgather");
  }

  void allgatherv(const void* send, void* recv, const std::vector<std::size_t>& counts) const override {
    std::vector<int> sizes(counts.size()), displacements(counts.size());
    std::size_t at = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      sizes[r] = as_int(counts[r]);
      displacements[r] = as_int(at);
      at += counts[r];
    }
    check(MPI_Allgatherv(send, sizes[static_cast<std::size_t>(rank_)], MPI_BYTE, recv, sizes.data(),
                         displacements.data(), MPI_BYTE, comm_),
          "Allgatherv");
  }

  // Point-to-point: MPI_Alltoallv's int counts and displacements would cap a process's
  // whole receive buffer at 2 GiB.  Each message goes in pieces of at most kPiece bytes;
  // both ends know its size, so they cut it alike, and MPI keeps the pieces of one pair in
  // order.  This process's own part is copied.
  void alltoallv(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                 const std::vector<std::size_t>& recv_counts) const override {
    constexpr std::size_t kPiece = std::size_t{1} << 30;
    constexpr int kTag = 17;
    const auto p = static_cast<std::size_t>(size_), me = static_cast<std::size_t>(rank_);
    if (send_counts.size() != p || recv_counts.size() != p)
      throw InvalidArgument("Communicator::alltoallv: one count per process is expected");
    if (send_counts[me] != recv_counts[me])
      throw InvalidArgument("Communicator::alltoallv: this process's part for itself has two sizes");
    std::vector<MPI_Request> requests;
    // One request per piece of every other process's part; returns where this process's
    // own part lies in \p buffer.
    auto post = [&](auto* buffer, const std::vector<std::size_t>& counts, auto start, const char* what) {
      decltype(buffer) own = nullptr;
      for (std::size_t q = 0; q < p; buffer += counts[q], ++q) {
        if (q == me) own = buffer;
        for (std::size_t at = 0; q != me && at < counts[q]; at += kPiece) {
          requests.emplace_back();
          check(start(buffer + at, as_int(std::min(kPiece, counts[q] - at)), static_cast<int>(q), &requests.back()),
                what);
        }
      }
      return own;
    };
    char* own_in = post(static_cast<char*>(recv), recv_counts, [&](char* b, int c, int q, MPI_Request* r) {
      return MPI_Irecv(b, c, MPI_BYTE, q, kTag, comm_, r);
    }, "Irecv");
    const char* own_out = post(static_cast<const char*>(send), send_counts, [&](const char* b, int c, int q, MPI_Request* r) {
      return MPI_Isend(b, c, MPI_BYTE, q, kTag, comm_, r);
    }, "Isend");
    if (send_counts[me] > 0) std::memcpy(own_in, own_out, send_counts[me]);
    check(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE), "Waitall");
  }

  std::string library() const override {
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(text, &length);
    std::string s(text, static_cast<std::size_t>(length));
    // Open MPI: "Open MPI v4.1.4, package: ..., ident: ..., repo rev: ..., ..."; keep the name.
    const std::size_t cut = s.find_first_of(",\n");
    return cut == std::string::npos ? s : s.substr(0, cut);
  }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, node_rank_ = 0;
};

}  // namespace

std::shared_ptr<const Communicator> mpi_communicator(MPI_Comm comm) {
  return std::make_shared<MpiCommunicator>(comm);
}

}  // namespace steepest
