// The --script options shared by `ingot run` and `ingot chat`.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "ingot/scripting/script.h"
#include "model/model.h"

namespace ingot::cli {

struct ScriptArgs {
  std::string path;  // empty: no script
  scripting::Limits limits;
  size_t max_memory_mib = scripting::Limits{}.max_memory >> 20;
};

void add_script_options(CLI::App* cmd, ScriptArgs* a);

// Loads a.path (when set) and attaches `model`; on failure prints "<command>: <message>" to
// stderr and returns false.
bool load_script(const char* command, ScriptArgs& a, const runtime::Model& model,
                 std::unique_ptr<scripting::Script>* out);

}  // namespace ingot::cli
