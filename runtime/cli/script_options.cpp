#include "script_options.h"

#include <cstdio>

namespace ingot::cli {

void add_script_options(CLI::App* cmd, ScriptArgs* a) {
  cmd->add_option("--script", a->path, "Lua script with hooks (spec/scripting.md)");
  cmd->add_option("--script-instructions", a->limits.max_instructions,
                  "Lua instructions one hook call may execute")->capture_default_str();
  cmd->add_option("--script-memory", a->max_memory_mib, "MiB the script's Lua state may hold")->capture_default_str();
}

bool load_script(const char* command, ScriptArgs& a, const runtime::Model& model,
                 std::unique_ptr<scripting::Script>* out) {
  if (a.path.empty()) return true;
  a.limits.max_memory = a.max_memory_mib << 20;
  format::Status s = scripting::Script::load_file(a.path, a.limits, out);
  if (s.ok()) s = (*out)->attach(&model);
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", command, s.message().c_str());
    return false;
  }
  return true;
}

}  // namespace ingot::cli
