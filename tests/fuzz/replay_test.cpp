// Replays every saved fuzzer input (the seed corpus and each crash ever found, kept in
// tests/fuzz/regressions/) through the fuzz target, in the ordinary test run.  A crash or
// a sanitizer report (in the sanitizer build) fails the test.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

TEST(FuzzReplay, EverySavedInputIsHandled) {
  int replayed = 0;
  for (const char* dir : {FUZZ_CORPUS_DIR, FUZZ_REGRESSIONS_DIR}) {
    if (!std::filesystem::is_directory(dir)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
      SCOPED_TRACE(entry.path().string());
      EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), 0);
      ++replayed;
    }
  }
  EXPECT_GT(replayed, 0) << "no saved inputs found in " << FUZZ_CORPUS_DIR;
}

}  // namespace
