// End-to-end tests of the steepest command-line tool (see cli_support.hpp): numerical results of the CLI paths.
#include <gtest/gtest.h>

#include "cli_support.hpp"

namespace {

using namespace cli_test;
namespace fs = std::filesystem;

}  // namespace
