// The subcommands of the steepest tool.  Only the CLI turns exceptions into exit codes.
#pragma once

#include "cli/common.hpp"
#include "io/atomic_file.hpp"

#include <limits>

namespace steepest::cli {

/// Exit codes of the CLI.
enum ExitCode : int {
  kOk = 0,
  kFailure = 1,
  kBadInput = 2,
  kDiverged = 3,
  kValidationFailed = 4,  ///< --validate found the GPU off the CPU reference
  kInputChanged = 5,      ///< SIGBUS: a mapped input file was truncated while being read
  kIllConditioned = 6,    ///< the spectrum's parameters were asked for data past float64: no epoch ran
  kInterrupted = 130,     ///< SIGINT (128 + 2)
  kTerminated = 143,      ///< SIGTERM (128 + 15)
};

/// Each adds its subcommand to \p app; when it is the one parsed, \p action is set.
void add_fit_command(CLI::App& app, Action& action);
void add_demo_command(CLI::App& app, Action& action);
void add_gen_command(CLI::App& app, Action& action);
void add_predict_command(CLI::App& app, Action& action);
void add_evaluate_command(CLI::App& app, Action& action);
void add_info_command(CLI::App& app, Action& action);
void add_bench_command(CLI::App& app, Action& action);
void add_plot_command(CLI::App& app, Action& action);

/// The input files named by \p a (DATA, --x, --y, --weight-file), for check_distinct_files.
std::vector<io::NamedPath> input_files(const DataArgs& a);

/// Validators of integer options.  CLI11 reads integers with strtoll/strtoull in base 0:
/// "-1" becomes 2^64 - 1 for an unsigned option, out-of-range values saturate silently and
/// "010" is octal.  These accept plain decimal digits only (a minus sign only where \p lo is
/// negative), refuse values outside [lo, hi] naming the range, and hand CLI11 the value in
/// canonical form.
CLI::Validator integer_in(std::int64_t lo, std::int64_t hi);
CLI::Validator any_unsigned();  ///< [0, 2^64 - 1], for seeds

/// Validator of a real option: a finite number in [lo, hi] (1e400 and "inf" refused), the
/// range printed in %g (CLI11's own range validators print DBL_MAX with 309 digits).
CLI::Validator real_in(double lo, double hi = std::numeric_limits<double>::max());

/// Parse the command line, run the subcommand, return the exit code.  Never throws.
int run(int argc, char** argv);

}  // namespace steepest::cli
