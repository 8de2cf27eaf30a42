// The subcommands of the steepest tool.  Only the CLI turns exceptions into exit codes.
#pragma once

#include "cli/common.hpp"

namespace steepest::cli {

/// Exit codes of the CLI.
enum ExitCode : int {
  kOk = 0,
  kFailure = 1,
  kBadInput = 2,
  kDiverged = 3,
  kValidationFailed = 4,  ///< --validate found the GPU off the CPU reference
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

/// Parse the command line, run the subcommand, return the exit code.  Never throws.
int run(int argc, char** argv);

}  // namespace steepest::cli
