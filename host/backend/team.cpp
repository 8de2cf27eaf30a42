#include "backend/team.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "steepest/error.hpp"

namespace steepest::detail {

/// The Reduction of a team: every process's group rows, plus its stop flag, gathered in
/// rank order (the groups of process r precede those of r + 1, as their chunks do) and
/// added in that order.
class Team::Carrier final : public Reduction {
 public:
  explicit Carrier(const Team& team) : team_(team) {}
  void combine(const double* partials, std::int64_t chunks, std::size_t width, double* total) override {
    send_.assign(partials, partials + static_cast<std::size_t>(chunks) * width);
    send_.push_back(team_.stop_ != nullptr && team_.stop_->load() ? 1.0 : 0.0);
    const std::vector<double> all =
        team_.gather_rows(send_.data(), static_cast<std::int64_t>(send_.size()), 1, &counts_);
    // all = rank 0's rows and flag, rank 1's, ...: the sizes say where each ends.
    std::size_t at = 0;
    stop_ = false;
    for (const std::int64_t count : counts_) {
      const std::size_t rows = (static_cast<std::size_t>(count) - 1) / width;
      for (std::size_t c = 0; c < rows; ++c, at += width)
        for (std::size_t k = 0; k < width; ++k) total[k] += all[at + k];
      stop_ = stop_ || all[at] != 0.0;
      ++at;
    }
  }
  bool stop_ = false;

 private:
  const Team& team_;
  std::vector<double> send_;
  std::vector<std::int64_t> counts_;  // doubles from each rank in the last gather
};

Team::Team(std::shared_ptr<const Communicator> comm, const std::atomic<bool>* stop)
    : comm_(std::move(comm)), stop_(stop), carrier_(comm_ ? std::make_unique<Carrier>(*this) : nullptr) {}

Team::~Team() = default;

std::vector<std::int64_t> Team::gather(std::int64_t v) const {
  if (alone()) return {v};
  std::vector<std::int64_t> all(static_cast<std::size_t>(size()));
  comm_->allgather(&v, sizeof v, all.data());
  return all;
}

std::int64_t Team::sum(std::int64_t v) const {
  std::int64_t s = 0;
  for (const std::int64_t x : gather(v)) s += x;
  return s;
}

double Team::max(double v) const {
  if (alone()) return v;
  std::vector<double> all(static_cast<std::size_t>(size()));
  comm_->allgather(&v, sizeof v, all.data());
  double m = all[0];
  for (const double x : all) m = std::max(m, x);  // NaN on rank 0 stays NaN, as alone
  return m;
}

std::vector<double> Team::sum(const std::vector<double>& v) const {
  if (alone()) return v;
  const std::vector<double> all = gather_rows(v.data(), 1, v.size());
  std::vector<double> total(v.size(), 0.0);
  for (std::size_t at = 0; at < all.size(); at += v.size())
    for (std::size_t k = 0; k < v.size(); ++k) total[k] += all[at + k];
  return total;
}

namespace {

/// Every rank's \p count items, concatenated in rank order; \p sizes gets each rank's count.
template <class T>
std::vector<T> gather_all(const Team& team, const Communicator& comm, const T* items, std::size_t count,
                          std::vector<std::int64_t>* sizes) {
  const std::vector<std::int64_t> counts = team.gather(static_cast<std::int64_t>(count));
  std::vector<std::size_t> bytes(counts.size());
  std::size_t all = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) {
    bytes[r] = static_cast<std::size_t>(counts[r]) * sizeof(T);
    all += static_cast<std::size_t>(counts[r]);
  }
  std::vector<T> out(all);
  comm.allgatherv(items, out.data(), bytes);
  if (sizes != nullptr) *sizes = counts;
  return out;
}

}  // namespace

std::vector<double> Team::gather_rows(const double* rows, std::int64_t count, std::size_t width,
                                      std::vector<std::int64_t>* sizes) const {
  const auto n = static_cast<std::size_t>(count) * width;
  if (alone()) return std::vector<double>(rows, rows + n);
  return gather_all(*this, *comm_, rows, n, sizes);
}

std::vector<std::uint64_t> Team::gather_words(const std::vector<std::uint64_t>& words) const {
  if (alone()) return words;
  return gather_all(*this, *comm_, words.data(), words.size(), nullptr);
}

void Team::exchange_bytes(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                          const std::vector<std::size_t>& recv_counts, std::size_t item) const {
  const auto p = static_cast<std::size_t>(size());
  if (send_counts.size() != p || recv_counts.size() != p)
    throw std::logic_error("Team::exchange: one count per process is expected");
  if (alone()) {
    if (send_counts[0] != recv_counts[0]) throw std::logic_error("Team::exchange: alone, sent != received");
    if (send_counts[0] > 0) std::memcpy(recv, send, send_counts[0] * item);
    return;
  }
  std::vector<std::size_t> send_bytes(p), recv_bytes(p);
  for (std::size_t q = 0; q < p; ++q) {
    send_bytes[q] = send_counts[q] * item;
    recv_bytes[q] = recv_counts[q] * item;
  }
  comm_->alltoallv(send, send_bytes, recv, recv_bytes);
}

void Team::agree(const std::string& error) const {
  if (alone()) {
    if (!error.empty()) throw InvalidArgument(error);
    return;
  }
  const std::vector<std::int64_t> lengths = gather(error.empty() ? -1 : static_cast<std::int64_t>(error.size()));
  const auto first = std::find_if(lengths.begin(), lengths.end(), [](std::int64_t l) { return l >= 0; });
  if (first == lengths.end()) return;
  std::vector<std::size_t> bytes(lengths.size());
  std::size_t all = 0;
  for (std::size_t r = 0; r < lengths.size(); ++r) all += bytes[r] = static_cast<std::size_t>(std::max<std::int64_t>(0, lengths[r]));
  std::string text(all, '\0');
  comm_->allgatherv(error.data(), text.data(), bytes);
  const auto r = static_cast<std::size_t>(first - lengths.begin());
  std::size_t at = 0;
  for (std::size_t k = 0; k < r; ++k) at += bytes[k];
  const std::string message = text.substr(at, bytes[r]);
  throw InvalidArgument(size() > 1 ? "rank " + std::to_string(r) + ": " + message : message);
}

RowShare Team::share(std::int64_t local_rows) {
  const std::vector<std::int64_t> rows = gather(local_rows);
  RowShare s;
  s.total = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (static_cast<int>(r) < rank()) s.first += rows[r];
    s.total += rows[r];
  }
  s.reduction = carrier_.get();  // null alone: the backend's own local_reduction()
  return s;
}

Reduction& Team::reduction() noexcept {
  if (carrier_) return *carrier_;
  return local_reduction();
}

bool Team::stop_seen() const noexcept {
  if (carrier_) return carrier_->stop_;
  return stop_ != nullptr && stop_->load();
}

bool Team::any_stop() const {
  const bool mine = stop_ != nullptr && stop_->load();
  if (!comm_) return mine;
  const std::vector<std::int64_t> flags = gather(mine ? 1 : 0);
  return std::any_of(flags.begin(), flags.end(), [](std::int64_t f) { return f != 0; });
}

}  // namespace steepest::detail

namespace steepest {

// The portable alltoallv: every process's counts (p x p words), then every process's whole
// send buffer, from which each process keeps what was meant for it.
void Communicator::alltoallv(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                             const std::vector<std::size_t>& recv_counts) const {
  const auto p = static_cast<std::size_t>(size()), me = static_cast<std::size_t>(rank());
  if (send_counts.size() != p || recv_counts.size() != p)
    throw InvalidArgument("Communicator::alltoallv: one count per process is expected");
  std::vector<std::uint64_t> mine(send_counts.begin(), send_counts.end()), counts(p * p);
  allgather(mine.data(), p * sizeof(std::uint64_t), counts.data());
  std::vector<std::size_t> totals(p, 0);
  std::size_t all = 0;
  for (std::size_t r = 0; r < p; ++r) {
    for (std::size_t q = 0; q < p; ++q) totals[r] += static_cast<std::size_t>(counts[r * p + q]);
    all += totals[r];
  }
  std::vector<char> everything(all);
  allgatherv(send, everything.data(), totals);
  auto* out = static_cast<char*>(recv);
  std::size_t base = 0;
  for (std::size_t r = 0; r < p; ++r) {
    std::size_t at = base;
    for (std::size_t q = 0; q < me; ++q) at += static_cast<std::size_t>(counts[r * p + q]);
    const auto bytes = static_cast<std::size_t>(counts[r * p + me]);
    if (bytes != recv_counts[r])
      throw InvalidArgument("Communicator::alltoallv: process " + std::to_string(r) + " sends " +
                            std::to_string(bytes) + " bytes, " + std::to_string(recv_counts[r]) + " expected");
    if (bytes > 0) std::memcpy(out, everything.data() + at, bytes);
    out += bytes;
    base += totals[r];
  }
}

}  // namespace steepest
