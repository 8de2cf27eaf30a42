// The steepest command-line tool.  Only this layer turns exceptions into exit codes:
// 0 success, 1 unexpected failure, 2 bad input or usage, 3 diverged, 4 --validate failed,
// 130/143 interrupted.
#include "cli/commands.hpp"

int main(int argc, char** argv) { return steepest::cli::run(argc, argv); }
