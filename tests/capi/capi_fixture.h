// Shared by the C API suites: stories260K compiled once per process with the ingotc under test
// (f32, so generations can be compared with llama2.c's run.c), and small file helpers.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "sample_container.h"
#include "shared_assets.h"

namespace ingot::test {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

inline int run_command(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  const int status = pclose(p);
  if (out != nullptr) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The path of stories260K compiled to f32 with its tokenizer (built on first use).
inline const std::string& stories_model() {
  static TempDir dir;
  static std::string path;
  if (path.empty()) {
    const std::string p = dir.file("stories260K.ingot");
    std::string out;
    const int rc = run_command(std::string(INGOTC_BIN) + " build " + shared_path("models/stories260K/stories260K.bin") +
                                   " --tokenizer " + shared_path("models/stories260K/tok512.model") + " --dtype f32 -o " +
                                   p + " 2>&1",
                               &out);
    if (rc != 0) ADD_FAILURE() << out;
    path = p;
  }
  return path;
}

// CPU threads per call: $INGOT_TEST_THREADS, else 0 (all). scripts/test.sh's ThreadSanitizer
// stage sets 1 to keep that stage short; the worker pool (kernels/cpu/worker_pool.h) is still
// checked there by capi_pool_test, which runs 8 threads of sessions through a 3-worker pool.
inline int32_t test_threads() {
  const char* env = std::getenv("INGOT_TEST_THREADS");
  return env != nullptr ? int32_t(std::atoi(env)) : 0;
}

// Length of the common prefix of two texts.
inline size_t common_prefix(const std::string& a, const std::string& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

}  // namespace ingot::test

#define INGOT_REQUIRE_STORIES() INGOT_REQUIRE_SHARED("models/stories260K/stories260K.bin")
