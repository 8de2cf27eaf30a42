#include "cli/checkpoint_file.hpp"
#include "train/run_state.hpp"
#include "steepest/version.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace steepest::cli {
namespace {

using nlohmann::json;

constexpr int kCheckpointVersion = 2;  // 2: the data fingerprint hashes the chunks of the data plan

json number(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
}

json numbers(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(number(x));
  return a;
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

/// Reads the keys of one checkpoint object, naming the file and key in every error.
class Reader {
 public:
  Reader(const json& j, const std::string& path) : j_(j), path_(path) {}

  [[noreturn]] void fail(const std::string& what) const { throw InvalidArgument(path_ + ": " + what); }

  const json& at(const char* key) const {
    if (!j_.contains(key)) fail(std::string("missing \"") + key + "\"");
    return j_.at(key);
  }
  double real(const json& v, const char* key) const {
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
      const auto s = v.get<std::string>();
      if (s == "inf") return std::numeric_limits<double>::infinity();
      if (s == "-inf") return -std::numeric_limits<double>::infinity();
      if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    }
    fail(std::string("\"") + key + "\" must be a number");
  }
  double real(const char* key) const { return real(at(key), key); }
  std::vector<double> reals(const char* key) const {
    const json& a = at(key);
    if (!a.is_array()) fail(std::string("\"") + key + "\" must be an array of numbers");
    std::vector<double> out;
    out.reserve(a.size());
    for (const auto& v : a) out.push_back(real(v, key));
    return out;
  }
  std::int64_t integer(const char* key) const {
    const json& v = at(key);
    if (!v.is_number_integer()) fail(std::string("\"") + key + "\" must be an integer");
    // An unsigned value above the largest int64 would wrap to a negative one.
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail(std::string("\"") + key + "\" is out of range");
    return v.get<std::int64_t>();
  }
  bool boolean(const char* key) const {
    const json& v = at(key);
    if (!v.is_boolean()) fail(std::string("\"") + key + "\" must be true or false");
    return v.get<bool>();
  }
  std::string text(const char* key) const {
    const json& v = at(key);
    if (!v.is_string()) fail(std::string("\"") + key + "\" must be a string");
    return v.get<std::string>();
  }
  /// A string field that files written before it existed lack.
  std::string text_or(const char* key, const char* missing) const {
    return j_.contains(key) ? text(key) : std::string(missing);
  }
  std::uint64_t hex64(const char* key) const {
    const std::string s = text(key);
    std::uint64_t v = 0;
    if (s.empty() || s.size() > 16 || s.find_first_not_of("0123456789abcdef") != std::string::npos)
      fail(std::string("\"") + key + "\" must be 1 to 16 lower-case hex digits");
    for (char c : s) v = v * 16 + static_cast<std::uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
    return v;
  }

 private:
  const json& j_;
  const std::string& path_;
};

}  // namespace

std::string checkpoint_json(const TrainingState& s, const std::string& data) {
  json j;
  j["format"] = "steepest-checkpoint";
  j["format_version"] = kCheckpointVersion;
  j["steepest"] = {{"version", STEEPEST_VERSION_STRING}, {"commit", STEEPEST_GIT_COMMIT}};
  j["data"] = data;
  j["epoch"] = s.epoch;
  j["batch"] = s.batch;
  j["steps"] = s.steps;
  j["converged"] = s.converged;
  j["weights"] = numbers(s.weights);
  j["bias"] = number(s.bias);
  j["epoch_weights"] = numbers(s.epoch_weights);
  j["epoch_bias"] = number(s.epoch_bias);
  j["optimizer_state"] = numbers(s.optimizer_state);
  j["running_sse"] = number(s.running_sse);
  j["running_rows"] = number(s.running_rows);
  j["learning_rate"] = number(s.learning_rate);
  j["rate"] = number(s.rate);
  j["last_epoch_rate"] = number(s.last_epoch_rate);
  j["best_loss"] = number(s.best_loss);
  j["stalled"] = s.stalled;
  j["curvature"] = number(s.curvature);
  j["loss_history"] = numbers(s.loss_history);
  j["heldout_loss_history"] = numbers(s.heldout_loss_history);
  j["seed"] = std::to_string(s.seed);  // a string: 64-bit seeds exceed a double's integers
  j["backend"] = s.backend;
  j["solver"] = s.solver;
  j["rows"] = s.rows;
  j["cols"] = s.cols;
  j["data_fingerprint"] = hex(s.data_fingerprint);
  j["options_signature"] = s.options_signature;
  // Invalid UTF-8 in the data's name (a path's bytes) becomes U+FFFD instead of
  // nlohmann's type_error 316 at the end of a finished fit: the name is for people only.
  return j.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

TrainingState read_checkpoint(const std::string& path) {
  // A device or FIFO (/dev/zero, a pipe) would be read forever: checkpoints are regular files.
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    throw InvalidArgument(path + ": not a regular file, so not a checkpoint file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument(path + ": cannot open the checkpoint file");
  std::stringstream buf;
  buf << in.rdbuf();
  json j;
  try {
    j = json::parse(buf.str());
  } catch (const json::exception& e) {
    throw InvalidArgument(path + ": not a JSON checkpoint file (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("format") || !j["format"].is_string() ||
      j["format"].get<std::string>() != "steepest-checkpoint")
    throw InvalidArgument(path + ": not a steepest checkpoint (no \"format\": \"steepest-checkpoint\")");
  const Reader r(j, path);
  if (r.integer("format_version") != kCheckpointVersion)
    r.fail("checkpoint format version " + std::to_string(r.integer("format_version")) +
           ", this steepest reads version " + std::to_string(kCheckpointVersion));
  TrainingState s;
  s.epoch = r.integer("epoch");
  s.batch = r.integer("batch");
  s.steps = r.integer("steps");
  s.converged = r.boolean("converged");
  s.weights = r.reals("weights");
  s.bias = r.real("bias");
  s.epoch_weights = r.reals("epoch_weights");
  s.epoch_bias = r.real("epoch_bias");
  s.optimizer_state = r.reals("optimizer_state");
  s.running_sse = r.real("running_sse");
  s.running_rows = r.real("running_rows");
  s.learning_rate = r.real("learning_rate");
  s.rate = r.real("rate");
  s.last_epoch_rate = r.real("last_epoch_rate");
  s.best_loss = r.real("best_loss");
  s.stalled = r.integer("stalled");
  s.curvature = r.real("curvature");
  s.loss_history = r.reals("loss_history");
  s.heldout_loss_history = r.reals("heldout_loss_history");
  const std::string seed = r.text("seed");
  if (seed.empty() || seed.size() > 20 || seed.find_first_not_of("0123456789") != std::string::npos)
    r.fail("\"seed\" must be a decimal string");
  try {
    s.seed = std::stoull(seed);
  } catch (const std::exception&) {
    r.fail("\"seed\" is out of range");
  }
  s.backend = r.text("backend");
  s.solver = r.text_or("solver", "residual");  // checkpoints from before Gram mode
  s.rows = r.integer("rows");
  s.cols = r.integer("cols");
  s.data_fingerprint = r.hex64("data_fingerprint");
  s.options_signature = r.text("options_signature");
  // Ranges and consistency (counts >= 0, lengths of cols, 2 (cols + 1) and epoch + 1,
  // finite values), before anything (the trace, the resume) uses the state.
  try {
    detail::validate_state(s);
  } catch (const InvalidArgument& e) {
    r.fail(e.what());
  }
  return s;
}

}  // namespace steepest::cli
