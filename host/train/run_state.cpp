#include "train/run_state.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <type_traits>

#include "backend/chunk_plan.hpp"
#include "train/local_order.hpp"
#include "train/permutation.hpp"
#include "steepest/error.hpp"
#include "backend/view_access.hpp"

namespace steepest::detail {
namespace {

// One "name=value;" pair: doubles with 17 significant digits (they read back exactly).
template <class T>
void add(std::string& s, const char* name, T v) {
  s += name;
  s += '=';
  if constexpr (std::is_floating_point_v<T>) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    s += buf;
  } else {
    s += std::to_string(v);
  }
  s += ';';
}

std::map<std::string, std::string> pairs(const std::string& sig) {
  std::map<std::string, std::string> m;
  std::size_t at = 0;
  while (at < sig.size()) {
    const std::size_t end = sig.find(';', at);
    const std::string item = sig.substr(at, end == std::string::npos ? std::string::npos : end - at);
    const std::size_t eq = item.find('=');
    if (eq != std::string::npos) m[item.substr(0, eq)] = item.substr(eq + 1);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return m;
}

/// 64-bit word hashing (the round and avalanche of xxHash64): one multiply-rotate-multiply
/// per word, a few GB/s per core, where byte-wise FNV-1a manages a few hundred MB/s.
constexpr std::uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
constexpr std::uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;
constexpr std::uint64_t kPrime3 = 0x165667B19E3779F9ull;

inline std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

inline std::uint64_t round64(std::uint64_t acc, std::uint64_t word) {
  return rotl(acc + word * kPrime2, 31) * kPrime1;
}

inline std::uint64_t avalanche(std::uint64_t h) {
  h ^= h >> 33;
  h *= kPrime2;
  h ^= h >> 29;
  h *= kPrime3;
  return h ^ (h >> 32);
}

inline std::uint64_t bits(double v) {
  std::uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

std::string g6(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

/// InvalidArgument naming the checkpoint field, as the JSON key of the checkpoint file.
[[noreturn]] void bad_field(const char* field, const std::string& why) {
  throw InvalidArgument(std::string("the checkpoint's \"") + field + "\" " + why);
}

void check_count(const char* field, std::int64_t v) {
  if (v < 0) bad_field(field, "is " + std::to_string(v) + "; it counts, so it must be >= 0");
}

void check_real(const char* field, double v, bool positive = false) {
  if (!std::isfinite(v) || v < 0.0 || (positive && v == 0.0))
    bad_field(field, "is " + g6(v) + "; it must be a finite number " + (positive ? "> 0" : ">= 0"));
}

void check_values(const char* field, const std::vector<double>& v, bool nonnegative) {
  for (std::size_t k = 0; k < v.size(); ++k)
    if (!std::isfinite(v[k]) || (nonnegative && v[k] < 0.0))
      bad_field(field, "holds " + g6(v[k]) + " at position " + std::to_string(k + 1) + "; its values must be finite" +
                           (nonnegative ? " and >= 0" : ""));
}

// A second stream for the held-out split, so that it never coincides with an epoch's order.
constexpr std::uint64_t kHeldoutStream = 0x686f6c646f757421ull;  // "holdout!"

}  // namespace

std::string options_signature(const FitOptions& o) {
  std::string s;
  // With the spectrum choosing (optimizer automatic, momentum auto) the rate and the
  // momentum given are ignored: a function of the data, not of the options.
  const bool spectral = o.optimizer == Optimizer::automatic || o.auto_momentum;
  add(s, "lr_auto", static_cast<std::int64_t>(o.auto_learning_rate));
  if (!o.auto_learning_rate && !spectral) add(s, "learning_rate", o.learning_rate);
  add(s, "standardize", static_cast<std::int64_t>(o.standardize));
  add(s, "optimizer", static_cast<std::int64_t>(o.optimizer));
  if (o.auto_momentum) add(s, "momentum_auto", std::int64_t{1});
  if ((o.optimizer == Optimizer::momentum || o.optimizer == Optimizer::nesterov) && !spectral)
    add(s, "momentum", o.momentum);
  if (o.optimizer == Optimizer::adam) {
    add(s, "beta1", o.beta1);
    add(s, "beta2", o.beta2);
    add(s, "epsilon", o.epsilon);
  }
  add(s, "l2", o.l2);
  add(s, "l1", o.l1);
  add(s, "schedule", static_cast<std::int64_t>(o.schedule));
  add(s, "power_t", o.power_t);
  add(s, "decay", o.decay);
  add(s, "step_epochs", o.step_epochs);
  add(s, "n_iter_no_change", o.n_iter_no_change);
  add(s, "tol", o.tol);
  add(s, "batch_size", o.batch_size);
  add(s, "seed", o.seed);
  add(s, "shuffle", static_cast<std::int64_t>(o.shuffle));
  if (o.shuffle_block != 1) add(s, "shuffle_block", o.shuffle_block);  // (older checkpoints: rows)
  add(s, "fit_intercept", static_cast<std::int64_t>(o.fit_intercept));
  add(s, "history", static_cast<std::int64_t>(o.history));
  add(s, "validation_fraction", o.validation_fraction);
  return s;
}

std::uint64_t data_fingerprint(const MatrixView& X, const VectorView& y, const VectorView& weights,
                               const RowShare& share, const Team& team) {
  const bool weighted = weights.data != nullptr;
  const std::int64_t n = share.total < 0 ? X.rows : share.total, d = X.cols;
  // The chunks of the data plan (a function of the shape only), each hashed in row order
  // from a seed of its own, the chunk hashes combined in chunk order: the same value for
  // any thread count, and for any number of processes that hold whole chunks.
  const ChunkPlan plan = plan_chunks(n, d);
  std::vector<RowGroup> groups;
  cut_into_chunks(0, X.rows, share.first, plan.rows_per_chunk, groups);
  std::vector<std::uint64_t> local(groups.size());
#pragma omp parallel for schedule(static)
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto c = static_cast<std::uint64_t>((groups[g].lo + share.first) / plan.rows_per_chunk);
    std::uint64_t h = round64(kPrime3, c);
    for (std::int64_t i = groups[g].lo; i < groups[g].hi; ++i) {
      for (std::int64_t k = 0; k < d; ++k) h = round64(h, bits(value_at(X, i, k)));
      h = round64(h, bits(value_at(y, i)));
      if (weighted) h = round64(h, bits(value_at(weights, i)));
    }
    local[g] = h;
  }
  std::uint64_t h = kPrime1;
  for (const std::int64_t v : {n, d, static_cast<std::int64_t>(X.dtype), static_cast<std::int64_t>(y.dtype),
                               static_cast<std::int64_t>(weighted),
                               static_cast<std::int64_t>(weighted ? weights.dtype : DType::float64)})
    h = round64(h, static_cast<std::uint64_t>(v));
  for (const std::uint64_t c : team.gather_words(local)) h = round64(h, c);
  return avalanche(h);
}

void validate_state(const TrainingState& s) {
  check_count("epoch", s.epoch);
  check_count("batch", s.batch);
  check_count("steps", s.steps);
  check_count("stalled", s.stalled);
  if (s.rows < 1) bad_field("rows", "is " + std::to_string(s.rows) + "; it must be >= 1");
  if (s.cols < 1) bad_field("cols", "is " + std::to_string(s.cols) + "; it must be >= 1");
  const auto d = static_cast<std::uint64_t>(s.cols);
  auto check_length = [&](const char* field, std::size_t got, const std::string& want, std::uint64_t expected) {
    if (got != expected)
      bad_field(field, "holds " + std::to_string(got) + " values; it must hold " + want + " = " +
                           std::to_string(expected) + " (\"cols\" is " + std::to_string(s.cols) + ")");
  };
  check_length("weights", s.weights.size(), "cols", d);
  check_length("epoch_weights", s.epoch_weights.size(), "cols", d);
  // d = weights.size() here, so 2 (d + 1) does not overflow.
  check_length("optimizer_state", s.optimizer_state.size(), "2 (cols + 1)", 2 * (d + 1));
  if (s.loss_history.size() != static_cast<std::uint64_t>(s.epoch) + 1)
    bad_field("loss_history", "holds " + std::to_string(s.loss_history.size()) + " values; \"epoch\" " +
                                  std::to_string(s.epoch) + " needs epoch + 1 (epoch 0 and every epoch completed)");
  if (!s.heldout_loss_history.empty() && s.heldout_loss_history.size() != s.loss_history.size())
    bad_field("heldout_loss_history", "holds " + std::to_string(s.heldout_loss_history.size()) +
                                          " values; it must be empty or as long as \"loss_history\" (" +
                                          std::to_string(s.loss_history.size()) + ")");
  check_values("weights", s.weights, false);
  check_values("epoch_weights", s.epoch_weights, false);
  check_values("optimizer_state", s.optimizer_state, false);
  check_values("loss_history", s.loss_history, true);
  check_values("heldout_loss_history", s.heldout_loss_history, true);
  if (!std::isfinite(s.bias)) bad_field("bias", "is " + g6(s.bias) + "; it must be finite");
  if (!std::isfinite(s.epoch_bias)) bad_field("epoch_bias", "is " + g6(s.epoch_bias) + "; it must be finite");
  check_real("running_sse", s.running_sse);
  check_real("running_rows", s.running_rows);
  check_real("learning_rate", s.learning_rate, true);
  check_real("rate", s.rate);
  check_real("last_epoch_rate", s.last_epoch_rate);
  check_real("best_loss", s.best_loss);
  check_real("curvature", s.curvature);
  if (s.converged && s.batch > 0)
    bad_field("batch", "is " + std::to_string(s.batch) + " but \"converged\" is true: a converged run stops at an "
                       "epoch boundary (batch 0)");
  if (s.batch == 0 && (s.running_sse != 0.0 || s.running_rows != 0.0))
    bad_field("running_sse", "and \"running_rows\" must be 0 at an epoch boundary (\"batch\" 0)");
  if (s.backend != "cpu" && s.backend != "cuda")
    bad_field("backend", "is \"" + s.backend.substr(0, 40) + "\"; it must be \"cpu\" or \"cuda\"");
  if (s.solver != "residual" && s.solver != "gram")
    bad_field("solver", "is \"" + s.solver.substr(0, 40) + "\"; it must be \"residual\" or \"gram\"");
}

void check_resume(const TrainingState& s, const FitOptions& o, std::int64_t rows, std::int64_t cols,
                  std::uint64_t fingerprint) {
  auto fail = [](const std::string& what) { throw InvalidArgument("resume: " + what); };
  try {
    validate_state(s);
  } catch (const InvalidArgument& e) {
    fail(e.what());
  }
  if (s.rows != rows || s.cols != cols)
    fail("the checkpoint is of " + std::to_string(s.rows) + " x " + std::to_string(s.cols) +
         " data (its \"rows\" x \"cols\"), this fit has " + std::to_string(rows) + " x " + std::to_string(cols));
  if (s.data_fingerprint != fingerprint)
    fail("the data differ from the checkpoint's (same shape, other values: another file, "
         "column choice, dtype or sample weights?)");
  const std::string now = options_signature(o);
  if (s.options_signature != now) {
    const auto a = pairs(s.options_signature), b = pairs(now);
    std::string diff;
    for (const auto& [k, v] : b) {
      const auto it = a.find(k);
      const std::string was = it == a.end() ? "(unset)" : it->second;
      if (was != v) diff += (diff.empty() ? "" : ", ") + k + " " + v + " (checkpoint: " + was + ")";
    }
    for (const auto& [k, v] : a)
      if (b.find(k) == b.end()) diff += (diff.empty() ? "" : ", ") + k + " unset (checkpoint: " + v + ")";
    fail("the options differ from the checkpoint's: " + diff);
  }
  if (s.seed != o.seed)
    fail("the checkpoint's \"seed\" " + std::to_string(s.seed) + " is not this fit's seed " + std::to_string(o.seed));
  if (s.epoch > o.epochs || (s.epoch == o.epochs && s.batch > 0))
    fail("the checkpoint is at \"epoch\" " + std::to_string(s.epoch) + (s.batch > 0 ? " (within the next)" : "") +
         ", past the " + std::to_string(o.epochs) + " epochs asked for");
  // The position within an epoch: batch steps of batch_size rows each, within the training
  // rows (compared as counts, so that no batch x batch_size can overflow).
  const std::int64_t n_train = rows - heldout_count(rows, o.validation_fraction);
  const bool full_batch = o.batch_size == 0 || o.batch_size >= n_train;
  const std::int64_t per_epoch = full_batch ? 1 : (n_train - 1) / o.batch_size + 1;
  if (s.batch >= per_epoch)
    fail("the checkpoint's \"batch\" " + std::to_string(s.batch) + " is past the end of an epoch, which has " +
         std::to_string(per_epoch) + (full_batch ? " full-batch step" : " batches of " + std::to_string(o.batch_size) +
                                                                     " rows") +
         " (" + std::to_string(n_train) + " training rows)");
  // Every epoch takes per_epoch steps: steps = epoch x per_epoch + batch (epoch <= o.epochs).
  const bool steps_fit = s.epoch <= (std::numeric_limits<std::int64_t>::max() - s.batch) / per_epoch;
  if (!steps_fit || s.steps != s.epoch * per_epoch + s.batch)
    fail("the checkpoint's \"steps\" " + std::to_string(s.steps) + " does not match its \"epoch\" " +
         std::to_string(s.epoch) + " and \"batch\" " + std::to_string(s.batch) + " (" + std::to_string(per_epoch) +
         " steps per epoch)");
  const bool held = n_train < rows;
  if (held != !s.heldout_loss_history.empty())
    fail(std::string("the checkpoint's \"heldout_loss_history\" is ") + (held ? "empty" : "not empty") +
         " but this fit " + (held ? "holds rows out" : "holds no rows out"));
}

void check_split_weights(const VectorView& w, const std::int64_t* train, std::int64_t train_count,
                         const std::int64_t* heldout, std::int64_t heldout_count, std::int64_t n, std::int64_t held,
                         double fraction, std::int64_t first, const Team& team) {
  if (w.data == nullptr) return;
  // Only whether each side's total is > 0 matters, not its rounding.
  std::vector<double> sums(2, 0.0);  // training, held-out
  auto add = [&](const std::int64_t* rows, std::int64_t count, double& sum) {
    for (std::int64_t p = 0; p < count; ++p) {
      const std::int64_t i = rows[p] - first;
      if (i >= 0 && i < w.size) sum += value_at(w, i);
    }
  };
  add(train, train_count, sums[0]);
  add(heldout, heldout_count, sums[1]);
  sums = team.sum(sums);
  auto refuse = [&](const char* side, std::int64_t rows) {
    throw InvalidArgument("validation fraction " + g6(fraction) + ": the sample weights of the " + side + " rows (" +
                          std::to_string(rows) + " of " + std::to_string(n) +
                          ") sum to zero, so their MSE is undefined; choose another fraction or seed, or other "
                          "weights");
  };
  if (!(sums[0] > 0.0)) refuse("training", n - held);
  if (!(sums[1] > 0.0)) refuse("held-out", held);
}

std::int64_t heldout_count(std::int64_t n, double fraction) {
  if (!(fraction > 0.0)) return 0;
  if (n < 2)
    throw InvalidArgument("validation fraction " + g6(fraction) + ": holding rows out needs at least 2 rows, got " +
                          std::to_string(n));
  const auto held = static_cast<std::int64_t>(std::llround(fraction * static_cast<double>(n)));
  return std::clamp<std::int64_t>(held, 1, n - 1);
}

void heldout_split(std::uint64_t seed, std::int64_t n, std::int64_t held, std::int64_t* out) {
  epoch_permutation(seed ^ kHeldoutStream, 0, out, n);
  std::sort(out, out + (n - held));
  std::sort(out + (n - held), out + n);
}

void local_heldout_split(const Team& team, std::uint64_t seed, std::int64_t n, std::int64_t held, std::int64_t first, std::int64_t m,
                         std::int32_t threads, IndexVector& train, IndexVector& heldout) {
  // Rows [first, first + m) as epoch_permutation's order lists them: held out from n - held on.
  IndexVector pos(static_cast<std::size_t>(m)), at(static_cast<std::size_t>(m));
  ShuffleScratch scratch;
  shuffle_part(team, seed ^ kHeldoutStream, 0, n, first, first + m, pos.data(), at.data(), threads, scratch);
  std::vector<char> held_out(static_cast<std::size_t>(m), 0);
  for (std::int64_t j = 0; j < m; ++j)
    if (pos[static_cast<std::size_t>(j)] >= n - held) held_out[static_cast<std::size_t>(at[static_cast<std::size_t>(j)] - first)] = 1;
  train.clear();
  heldout.clear();
  for (std::int64_t k = 0; k < m; ++k) (held_out[static_cast<std::size_t>(k)] ? heldout : train).push_back(first + k);
}

}  // namespace steepest::detail
