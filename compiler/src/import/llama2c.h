// llama2.c checkpoints: the legacy header (7 int32; a negative vocab size marks an untied
// classifier) and the versioned "ak42" header (version 1: fp32). Weights are f32, q/k rows in
// Meta's interleaved RoPE order.
#pragma once

#include <string>

#include "import/source_model.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

// Reads `path` into `out` (tensors view the mapping). No tokenizer: the caller adds one.
format::Status import_llama2c(const std::string& path, SourceModel* out);

// True if the file starts like a llama2.c checkpoint (either header).
bool looks_like_llama2c(const std::string& path);

}  // namespace ingot::compiler
