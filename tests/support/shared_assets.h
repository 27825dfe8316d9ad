// Where the shared test assets are: $INGOT_SHARED, else ../shared beside the repository
// (INGOT_SHARED_DEFAULT, set by tests/CMakeLists.txt). Tests skip with a message when absent.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace ingot::test {

inline std::string shared_path(const std::string& relative) {
  const char* env = std::getenv("INGOT_SHARED");
  const std::filesystem::path root = env != nullptr && env[0] != '\0' ? env : INGOT_SHARED_DEFAULT;
  return (root / relative).string();
}

inline bool shared_exists(const std::string& relative) { return std::filesystem::exists(shared_path(relative)); }

}  // namespace ingot::test

// Skips the current test when a shared asset is missing.
#define INGOT_REQUIRE_SHARED(relative)                                                            \
  do {                                                                                            \
    if (!::ingot::test::shared_exists(relative)) {                                                \
      GTEST_SKIP() << "shared asset " << ::ingot::test::shared_path(relative)                     \
                   << " is absent (set INGOT_SHARED to the shared/ folder)";                      \
    }                                                                                             \
  } while (0)
