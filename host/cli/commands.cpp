#include "cli/commands.hpp"
#include "cli/ranks.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace steepest::cli {
namespace {

// SIGINT, SIGTERM, SIGHUP outside a fit (which handles the first SIGINT/SIGTERM itself):
// remove the temporary files of the outputs being written, then die of the signal.
extern "C" void on_fatal_signal(int sig) {
  io::remove_temporaries();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// SIGBUS: a memory-mapped input (.npy, CSV) was truncated under the run; reading past the
// new end of the file faults.  Say so, instead of dying of a "Bus error".
extern "C" void on_sigbus(int sig, siginfo_t* info, void*) {
  if (info == nullptr || info->si_code != BUS_ADRERR) {  // not a file that shrank
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  io::remove_temporaries();
  static const char kMessage[] =
      "steepest: an input file changed (was truncated or rewritten) while it was being read\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  ::_exit(kInputChanged);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_fatal_signal;
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  struct sigaction bus {};
  sigemptyset(&bus.sa_mask);
  bus.sa_sigaction = on_sigbus;
  bus.sa_flags = SA_SIGINFO;
  ::sigaction(SIGBUS, &bus, nullptr);
}

// A closed standard stream would let the next open() take its descriptor, and the output
// meant for stdout would land in that file.  A read-only /dev/null in its place makes every
// write to it fail instead (and the failure is reported at the end).
void keep_standard_streams_open() {
  for (const int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO})
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      const int got = ::open("/dev/null", O_RDONLY);
      if (got >= 0 && got != fd) ::close(got);  // not the lowest free descriptor: leave it
    }
}

/// Everything printed must have reached stdout: a full disk or a closed pipe is an error
/// (exit 1), not a success with a truncated output.
int finish_stdout(int code) {
  errno = 0;
  std::cout.flush();  // synchronised with stdio: this flushes stdout already
  const bool flushed = std::fflush(stdout) == 0;
  const int err = errno;
  if (flushed && std::ferror(stdout) == 0 && !std::cout.bad()) return code;
  std::fprintf(stderr, "steepest: error: cannot write to standard output%s%s\n", err != 0 ? ": " : "",
               err != 0 ? std::strerror(err) : "");
  return code == kOk ? kFailure : code;
}

int parse_and_run(int argc, char** argv) {
  CLI::App app{"steepest: linear regression by gradient descent on the mean squared error, "
               "on the CPU or an NVIDIA GPU.\nObjective: MSE = (1/n) sum_i (x_i . w + b - y_i)^2.",
               "steepest"};
  app.set_version_flag("--version", std::string("steepest ") + STEEPEST_VERSION_STRING);
  app.require_subcommand(1);
  Action action;
  add_fit_command(app, action);
  add_demo_command(app, action);
  add_gen_command(app, action);
  add_predict_command(app, action);
  add_evaluate_command(app, action);
  add_info_command(app, action);
  add_bench_command(app, action);
  add_plot_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kBadInput;
  }
  if (!action) return kFailure;
  if (Ranks::size() > 1 && !app.got_subcommand("fit") && !app.got_subcommand("evaluate") && !app.got_subcommand("info")) {
    if (Ranks::rank() == 0)
      std::cerr << "steepest: error: under mpirun steepest runs fit, evaluate and info; run "
                << app.get_subcommands().front()->get_name() << " in one process\n";
    return kBadInput;
  }
  // Across MPI ranks the library's errors are every rank's (they are agreed, or follow from
  // numbers every rank shares): rank 0 says it once.  Any other failure is this rank's
  // alone, and the others would wait for it forever: it ends the job.
  const bool say = Ranks::rank() == 0;
  try {
    return action();
  } catch (const io::WriteError& e) {  // the work was done; an output could not be written
    std::cerr << "steepest: error: " << e.what() << "\n";
    return kFailure;
  } catch (const InvalidArgument& e) {
    if (say) std::cerr << "steepest: error: " << e.what() << "\n";
    return kBadInput;
  } catch (const DeviceUnavailable& e) {
    if (say) std::cerr << "steepest: error: " << e.what() << "\n";
    return kBadInput;
  } catch (const std::exception& e) {
    std::cerr << "steepest: error: " << e.what() << "\n";
    if (Ranks::size() > 1) Ranks::abort(kFailure);
    return kFailure;
  }
}

/// The decimal integer \p s as T: "" when it is one in [lo, hi], else why not.
template <typename T>
std::string check_integer(std::string& s, T lo, T hi) {
  const std::string range = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  T v{};
  const char* end = s.data() + s.size();
  const auto res = std::from_chars(s.data(), end, v);
  if (s.empty() || res.ptr != end || (res.ec != std::errc() && res.ec != std::errc::result_out_of_range) ||
      (std::is_unsigned_v<T> && s[0] == '-'))
    return "'" + s + "' is not " + range;
  if (res.ec == std::errc::result_out_of_range || v < lo || v > hi) return s + " is out of range: give " + range;
  s = std::to_string(v);
  return {};
}

}  // namespace

CLI::Validator integer_in(std::int64_t lo, std::int64_t hi) {
  return CLI::Validator([lo, hi](std::string& s) { return check_integer<std::int64_t>(s, lo, hi); },
                        "INT in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

CLI::Validator any_unsigned() {
  return CLI::Validator(
      [](std::string& s) { return check_integer<std::uint64_t>(s, 0, UINT64_MAX); }, "UINT64");
}

CLI::Validator real_in(double lo, double hi) {
  auto g = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  const bool open_above = hi == std::numeric_limits<double>::max();
  const std::string range = open_above ? "a finite number >= " + g(lo) : "a number in [" + g(lo) + ", " + g(hi) + "]";
  const std::string type = open_above ? "REAL >= " + g(lo) : "REAL in [" + g(lo) + ", " + g(hi) + "]";
  return CLI::Validator(
      [lo, hi, range](std::string& s) -> std::string {
        const char* begin = s.c_str();
        char* end = nullptr;
        const double v = std::strtod(begin, &end);
        if (s.empty() || end != begin + s.size() || !std::isfinite(v) || v < lo || v > hi)
          return "'" + s + "' is not " + range;
        return {};
      },
      type);
}

std::vector<io::NamedPath> input_files(const DataArgs& a) {
  return {{"DATA", a.path}, {"--x", a.x_path}, {"--y", a.y_path}, {"--weight-file", a.weight_file}};
}

int run(int argc, char** argv) {
  keep_standard_streams_open();
  Ranks::start(&argc, &argv);  // before our handlers: MPI may install its own
  install_signal_handlers();
  const int code = finish_stdout(parse_and_run(argc, argv));
  Ranks::stop();
  return code;
}

}  // namespace steepest::cli
