/// \file
/// \brief The processes of a distributed fit, without naming a message-passing library.
///
/// A fit across processes gives every process's fit() its own rows and one shared
/// Communicator; see steepest/mpi.hpp for the one made from an MPI communicator.  The core
/// library only ever calls the collectives below, in the same order on every process.
#pragma once
#include "steepest/export.h"

#include <cstddef>
#include <string>
#include <vector>

namespace steepest {

class STEEPEST_API Communicator {
 public:
  virtual ~Communicator() = default;
  /// This process's index in 0..size()-1, and the number of processes.
  virtual int rank() const noexcept = 0;
  virtual int size() const noexcept = 0;
  /// Collective: every process gives \p bytes bytes (the same count everywhere); \p recv
  /// receives size() x bytes, process 0's first.
  virtual void allgather(const void* send, std::size_t bytes, void* recv) const = 0;
  /// Collective: process r gives counts[r] bytes (every process passes the same counts);
  /// \p recv receives their concatenation in rank order.
  virtual void allgatherv(const void* send, void* recv, const std::vector<std::size_t>& counts) const = 0;
  /// The library and its version, e.g. "Open MPI v4.1.4".
  virtual std::string library() const = 0;
  /// This process's device among the processes on its node, for choosing a GPU (0 when
  /// the library cannot tell).
  virtual int node_rank() const noexcept = 0;
  /// Collective: bytes from every process to every process.  This process sends
  /// \p send_counts[q] bytes to process q (\p send holds them in rank order) and receives
  /// \p recv_counts[q] bytes from process q into \p recv, in rank order; recv_counts[q] must
  /// be what q sends here.  Used where each process needs a different part of the others'
  /// data (a shuffled fit's row order, train/local_order.hpp), so that no process handles
  /// the whole.  The default is built on allgather and allgatherv, correct for any
  /// Communicator but moving every process's whole send buffer to every process: a
  /// Communicator over a message-passing library should override it (mpi_communicator()
  /// does, with point-to-point messages).
  virtual void alltoallv(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                         const std::vector<std::size_t>& recv_counts) const;
};

}  // namespace steepest
