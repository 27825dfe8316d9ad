// Writes a SourceModel as a container: dtype conversion of float tensors, provenance, metadata.
#pragma once

#include <string>
#include <vector>

#include "import/source_model.h"
#include "ingot/format/status.h"
#include "ingot/format/writer.h"

namespace ingot::compiler {

struct EmitOptions {
  fb::DType dtype = fb::DType::F16;  // for matrices; 1-D tensors (norms) stay f32
  format::WriterOptions writer;
  // Recorded in the provenance, in this order (the command line as the user gave it).
  std::vector<std::pair<std::string, std::string>> options;
  bool progress = false;  // a progress line on stderr
};

format::Status emit(SourceModel& model, const std::string& path, const EmitOptions& options);

}  // namespace ingot::compiler
