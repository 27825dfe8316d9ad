// Reading source files: read-only mappings and digests for provenance.
#pragma once

#include <memory>
#include <string>

#include "import/source_model.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

// Maps `path` read-only. An empty file maps to an empty span.
format::Status map_file(const std::string& path, std::unique_ptr<Mapping>* out);

// XXH3-64 and size of a mapped file, named by its file name (no directories, for reproducibility).
std::unique_ptr<fb::DigestT> digest(const std::string& path, const Mapping& m);

}  // namespace ingot::compiler
