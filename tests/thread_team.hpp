// Test support: a Communicator whose "processes" are threads of this process, so that the
// distributed code paths (Team, its Reduction, agreed errors) run in every build, with or
// without MPI, and under the sanitizers.
#pragma once

#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "steepest/communicator.hpp"

namespace steepest::testing {

/// Where the ranks of one run meet: every collective deposits each rank's bytes, waits for
/// all, copies them out, and waits again before anyone may deposit anew.
class Hub {
 public:
  explicit Hub(int size) : size_(size), slots_(static_cast<std::size_t>(size)) {}

  void exchange(int rank, const void* send, std::size_t bytes, void* recv) {
    const auto* p = static_cast<const char*>(send);
    slots_[static_cast<std::size_t>(rank)].assign(p, p + bytes);
    barrier();
    auto* out = static_cast<char*>(recv);
    for (const auto& slot : slots_) {
      if (!slot.empty()) std::memcpy(out, slot.data(), slot.size());
      out += slot.size();
    }
    barrier();
  }

 private:
  void barrier() {
    std::unique_lock<std::mutex> lock(m_);
    const std::uint64_t generation = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != generation; });
    }
  }

  int size_;
  std::vector<std::vector<char>> slots_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  std::uint64_t generation_ = 0;
};

class ThreadCommunicator final : public Communicator {
 public:
  ThreadCommunicator(Hub& hub, int rank, int size) : hub_(hub), rank_(rank), size_(size) {}
  int rank() const noexcept override { return rank_; }
  int size() const noexcept override { return size_; }
  int node_rank() const noexcept override { return rank_; }
  void allgather(const void* send, std::size_t bytes, void* recv) const override {
    hub_.exchange(rank_, send, bytes, recv);
  }
  void allgatherv(const void* send, void* recv, const std::vector<std::size_t>& counts) const override {
    hub_.exchange(rank_, send, counts[static_cast<std::size_t>(rank_)], recv);
  }
  std::string library() const override { return "threads"; }

 private:
  Hub& hub_;
  int rank_, size_;
};

/// Runs body(rank, communicator) on \p size threads; rethrows the first rank's exception
/// (by rank) after all have finished.
inline void run_ranks(int size, const std::function<void(int, std::shared_ptr<const Communicator>)>& body) {
  Hub hub(size);
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(size));
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r)
    threads.emplace_back([&, r] {
      try {
        body(r, std::make_shared<ThreadCommunicator>(hub, r, size));
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace steepest::testing
