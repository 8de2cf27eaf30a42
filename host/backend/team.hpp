// Internal: the processes of one fit — this process alone, or the ranks of a Communicator
// (steepest/communicator.hpp).  Every collective here is called by every process in the same
// order; results that combine numbers from several processes combine them in rank order,
// never in an order set by timing.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/reduction.hpp"
#include "steepest/communicator.hpp"

namespace steepest::detail {

class Team {
 public:
  /// \p stop: the caller's stop flag, shared with the other processes in every pass.
  explicit Team(std::shared_ptr<const Communicator> comm = nullptr, const std::atomic<bool>* stop = nullptr);
  ~Team();
  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;

  /// True without a communicator: no collective does anything.
  bool alone() const noexcept { return comm_ == nullptr; }
  int rank() const noexcept { return comm_ ? comm_->rank() : 0; }
  int size() const noexcept { return comm_ ? comm_->size() : 1; }
  const Communicator* communicator() const noexcept { return comm_.get(); }

  /// One value from every process, in rank order.
  std::vector<std::int64_t> gather(std::int64_t v) const;
  std::int64_t sum(std::int64_t v) const;
  double max(double v) const;
  /// Sums of a few doubles over the processes, added in rank order.
  std::vector<double> sum(const std::vector<double>& v) const;
  /// Rows of \p width doubles from every process, concatenated in rank order; \p sizes
  /// (when given) receives each process's number of doubles.
  std::vector<double> gather_rows(const double* rows, std::int64_t count, std::size_t width,
                                  std::vector<std::int64_t>* sizes = nullptr) const;
  /// 64-bit words from every process, concatenated in rank order.
  std::vector<std::uint64_t> gather_words(const std::vector<std::uint64_t>& words) const;
  /// Items to and from every process (Communicator::alltoallv): \p send holds
  /// send_counts[q] items for process q, in rank order; \p recv is resized to and receives
  /// what every process sent here, in rank order, recv_counts[q] items from q (which the
  /// caller must know).
  template <class Vector>
  void exchange(const typename Vector::value_type* send, const std::vector<std::size_t>& send_counts, Vector& recv,
                const std::vector<std::size_t>& recv_counts) const {
    std::size_t total = 0;
    for (const std::size_t c : recv_counts) total += c;
    recv.resize(total);
    exchange_bytes(send, send_counts, recv.data(), recv_counts, sizeof(typename Vector::value_type));
  }
  /// Every process passes the error it found ("" for none); when any found one, every
  /// process throws InvalidArgument with the message of the lowest such rank (prefixed
  /// with "rank R: " when there are several processes).
  void agree(const std::string& error) const;

  /// This process's rows among the rows of the fit (rank 0's first), with the Reduction
  /// that combines every process's partial sums in chunk order (none when alone).
  RowShare share(std::int64_t local_rows);
  /// The reduction alone: local_reduction() when alone.
  Reduction& reduction() noexcept;
  /// Whether any process's stop flag was set at its last pass (carried by the reduction,
  /// so every process sees the same answer after the same pass); the flag itself when
  /// alone.
  bool stop_seen() const noexcept;
  /// Whether any process's stop flag is set now: a collective of its own, for fits that
  /// make no pass between their checks (Gram mode).
  bool any_stop() const;

 private:
  class Carrier;
  void exchange_bytes(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                      const std::vector<std::size_t>& recv_counts, std::size_t item) const;
  std::shared_ptr<const Communicator> comm_;
  const std::atomic<bool>* stop_;
  std::unique_ptr<Carrier> carrier_;
};

}  // namespace steepest::detail
