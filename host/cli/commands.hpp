#pragma once

namespace steepest::cli {

/// Exit codes of the CLI.
enum ExitCode : int {
  kOk = 0,
  kFailure = 1,
  kBadInput = 2,
  kDiverged = 3,
  kValidationFailed = 4,  ///< --validate found the GPU off the CPU reference
  kInterrupted = 130,  ///< SIGINT (128 + 2)
  kTerminated = 143,   ///< SIGTERM (128 + 15)
};

/// Parse the command line, run the subcommand, return the exit code.  Never throws.
int run(int argc, char** argv);

}  // namespace steepest::cli
