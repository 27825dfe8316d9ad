// Reading source files: read-only mappings and digests for provenance.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "import/source_model.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

// Maps `path` read-only. An empty file maps to an empty span. Every file mapped is recorded for
// files_read().
format::Status map_file(const std::string& path, std::unique_ptr<Mapping>* out);

// The files map_file() has opened in this process, in first-read order, each once: the inputs a
// build depended on (ingotc --depfile).
std::vector<std::string> files_read();

// An invalid_argument Status "'<path>': <message>", for errors found in a source file.
template <typename... Args>
format::Status file_error(const std::string& path, Args&&... args) {
  return format::fail(format::StatusCode::invalid_argument, "'", path, "': ", std::forward<Args>(args)...);
}

// "[a, b, c]", for messages.
std::string shape_string(const std::vector<uint64_t>& shape);

// XXH3-64 and size of a mapped file, named by its file name (no directories, for reproducibility).
std::unique_ptr<fb::DigestT> digest(const std::string& path, const Mapping& m);

}  // namespace ingot::compiler
