// The Python oracles (gguf-py, Hugging Face tokenizers) for tests: tests/oracle/oracle_venv.sh
// makes (once) a virtual environment cached outside the repository with pinned versions and
// names its python. A test that needs it skips with the script's message when it cannot be
// made (PyPI unreachable, no venv module).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "run_command.h"

namespace ingot::test {

inline std::string oracle_script(const std::string& name) {
  return std::string(INGOT_SOURCE_DIR) + "/tests/oracle/" + name;
}

// The venv's python, or "" with *why set.
inline std::string oracle_python(std::string* why) {
  static const CommandResult r = run_command("'" + oracle_script("oracle_venv.sh") + "' 2>&1");
  if (r.exit_code != 0) {
    *why = "the Python oracle venv could not be made (tests/oracle/oracle_venv.sh exit " +
           std::to_string(r.exit_code) + "): " + r.out;
    return "";
  }
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  const size_t nl = out.rfind('\n');
  return nl == std::string::npos ? out : out.substr(nl + 1);
}

}  // namespace ingot::test

// Skips the current test when the oracle venv is unavailable; else declares `python` (its path).
#define INGOT_REQUIRE_ORACLE(python)                           \
  std::string python;                                          \
  do {                                                         \
    std::string why_;                                          \
    python = ::ingot::test::oracle_python(&why_);              \
    if (python.empty()) GTEST_SKIP() << why_;                  \
  } while (0)
