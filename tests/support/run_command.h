// Runs a shell command line for the CLI tests: its exit code and everything it printed on the
// streams the command line captures (append "2>&1" to get stderr too).
#pragma once

#include <string>

namespace ingot::test {

struct CommandResult {
  int exit_code = -1;  // -1: did not exit normally (signal) or could not start
  std::string out;
};

CommandResult run_command(const std::string& command_line);

}  // namespace ingot::test
