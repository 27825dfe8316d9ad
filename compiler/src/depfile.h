// Makefile-syntax dependency files (`ingotc --depfile`), read by Ninja (DEPFILE of CMake's
// add_custom_command) and Make, so a build reruns ingotc when any file it read changes.
#pragma once

#include <string>
#include <vector>

#include "ingot/format/status.h"

namespace ingot::compiler {

// "TARGET: INPUT..." with absolute paths, spaces, '#' and '$' escaped the way GNU Make and Ninja
// read them. Written to a temporary file and renamed, so a failed write leaves no partial file.
format::Status write_depfile(const std::string& path, const std::string& target, const std::vector<std::string>& inputs);

// The escaped form of one path (exposed for tests).
std::string depfile_escape(const std::string& path);

}  // namespace ingot::compiler
