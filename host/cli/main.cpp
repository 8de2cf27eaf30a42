// The steepest command-line tool.  Only this layer turns exceptions into exit codes:
// 0 success, 1 unexpected failure (an output that could not be written included), 2 bad
// input or usage, 3 diverged, 4 --validate failed, 5 an input file changed while it was
// read, 130/143 interrupted.
#include "cli/commands.hpp"

int main(int argc, char** argv) { return steepest::cli::run(argc, argv); }
