#include "api/state_bytes.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

#include "steepest/error.hpp"
#include "train/run_state.hpp"

namespace steepest::detail {

namespace {

constexpr char kMagic[8] = {'S', 'T', 'P', 'S', 'T', 'A', 'T', 'E'};
constexpr std::uint32_t kVersion = 1;

class Writer {
 public:
  template <class T>
  void scalar(T v) {
    static_assert(sizeof(T) == 8);
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void reals(const std::vector<double>& v) {
    scalar(static_cast<std::uint64_t>(v.size()));
    out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
  }
  void text(const std::string& s) {
    scalar(static_cast<std::uint64_t>(s.size()));
    out += s;
  }
  std::string out;
};

class Reader {
 public:
  Reader(const unsigned char* p, std::size_t n) : p_(p), n_(n) {}
  template <class T>
  T scalar(const char* field) {
    T v;
    take(&v, sizeof v, field);
    return v;
  }
  std::vector<double> reals(const char* field) {
    const auto count = scalar<std::uint64_t>(field);
    if (count > (n_ - at_) / sizeof(double)) cut_short(field);
    std::vector<double> v(static_cast<std::size_t>(count));
    take(v.data(), v.size() * sizeof(double), field);
    return v;
  }
  std::string text(const char* field) {
    const auto count = scalar<std::uint64_t>(field);
    if (count > n_ - at_) cut_short(field);
    std::string s(reinterpret_cast<const char*>(p_ + at_), static_cast<std::size_t>(count));
    at_ += static_cast<std::size_t>(count);
    return s;
  }
  void take(void* dst, std::size_t bytes, const char* field) {
    if (bytes > n_ - at_) cut_short(field);
    if (bytes > 0) std::memcpy(dst, p_ + at_, bytes);
    at_ += bytes;
  }
  std::size_t left() const { return n_ - at_; }

 private:
  [[noreturn]] static void cut_short(const char* field) {
    throw InvalidArgument(std::string("checkpoint bytes: cut short in \"") + field + "\"");
  }
  const unsigned char* p_;
  std::size_t n_, at_ = 0;
};

}  // namespace

std::string state_to_bytes(const TrainingState& s) {
  Writer w;
  w.out.append(kMagic, sizeof kMagic);
  w.out.append(reinterpret_cast<const char*>(&kVersion), sizeof kVersion);
  w.scalar(s.epoch);
  w.scalar(s.batch);
  w.scalar(s.steps);
  w.scalar(static_cast<std::int64_t>(s.converged));
  w.reals(s.weights);
  w.scalar(s.bias);
  w.reals(s.epoch_weights);
  w.scalar(s.epoch_bias);
  w.reals(s.optimizer_state);
  for (double v : {s.running_sse, s.running_rows, s.learning_rate, s.rate, s.last_epoch_rate, s.best_loss})
    w.scalar(v);
  w.scalar(s.stalled);
  w.scalar(s.curvature);
  w.reals(s.loss_history);
  w.reals(s.heldout_loss_history);
  w.scalar(s.seed);
  w.text(s.backend);
  w.text(s.solver);
  w.scalar(s.rows);
  w.scalar(s.cols);
  w.scalar(s.data_fingerprint);
  w.text(s.options_signature);
  return std::move(w.out);
}

TrainingState state_from_bytes(const void* bytes, std::size_t size) {
  if (bytes == nullptr) throw InvalidArgument("checkpoint bytes: null pointer");
  Reader r(static_cast<const unsigned char*>(bytes), size);
  char magic[sizeof kMagic];
  if (size < sizeof kMagic + sizeof kVersion) throw InvalidArgument("checkpoint bytes: too short to be a state");
  r.take(magic, sizeof magic, "magic");
  if (std::memcmp(magic, kMagic, sizeof kMagic) != 0)
    throw InvalidArgument("checkpoint bytes: not a steepest state (no \"STPSTATE\" magic)");
  const auto version = r.scalar<std::uint32_t>("version");
  if (version != kVersion)
    throw InvalidArgument("checkpoint bytes: format version " + std::to_string(version) + ", this steepest reads " +
                          std::to_string(kVersion));
  TrainingState s;
  s.epoch = r.scalar<std::int64_t>("epoch");
  s.batch = r.scalar<std::int64_t>("batch");
  s.steps = r.scalar<std::int64_t>("steps");
  s.converged = r.scalar<std::int64_t>("converged") != 0;
  s.weights = r.reals("weights");
  s.bias = r.scalar<double>("bias");
  s.epoch_weights = r.reals("epoch_weights");
  s.epoch_bias = r.scalar<double>("epoch_bias");
  s.optimizer_state = r.reals("optimizer_state");
  s.running_sse = r.scalar<double>("running_sse");
  s.running_rows = r.scalar<double>("running_rows");
  s.learning_rate = r.scalar<double>("learning_rate");
  s.rate = r.scalar<double>("rate");
  s.last_epoch_rate = r.scalar<double>("last_epoch_rate");
  s.best_loss = r.scalar<double>("best_loss");
  s.stalled = r.scalar<std::int64_t>("stalled");
  s.curvature = r.scalar<double>("curvature");
  s.loss_history = r.reals("loss_history");
  s.heldout_loss_history = r.reals("heldout_loss_history");
  s.seed = r.scalar<std::uint64_t>("seed");
  s.backend = r.text("backend");
  s.solver = r.text("solver");
  s.rows = r.scalar<std::int64_t>("rows");
  s.cols = r.scalar<std::int64_t>("cols");
  s.data_fingerprint = r.scalar<std::uint64_t>("data_fingerprint");
  s.options_signature = r.text("options_signature");
  if (r.left() != 0) throw InvalidArgument("checkpoint bytes: " + std::to_string(r.left()) + " bytes after the state");
  validate_state(s);
  return s;
}

}  // namespace steepest::detail
