#include "script_options.h"

#include <cstdio>

#include "cpu/threads.h"

namespace ingot::cli {

bool load_text_model(const char* command, const std::string& path, std::unique_ptr<runtime::Model>* out,
                     const runtime::LoadOptions& options) {
  const format::Status s = runtime::Model::load(path, options, out);
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", command, s.message().c_str());
    return false;
  }
  if (!(*out)->has_tokenizer()) {
    std::fprintf(stderr, "%s: '%s' has no tokenizer; compile it with --tokenizer\n", command, path.c_str());
    return false;
  }
  return true;
}

void add_sampling_options(CLI::App* cmd, runtime::SamplerParams* s) {
  cmd->add_option("--temp", s->temperature, "temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", s->top_k, "keep the k most likely tokens; 0 = all")->capture_default_str();
  cmd->add_option("--top-p", s->top_p, "nucleus: keep the most likely tokens up to this mass")->capture_default_str();
  cmd->add_option("--repeat-penalty", s->repeat_penalty, "penalty for recent tokens; 1 = off")->capture_default_str();
  cmd->add_option("--seed", s->seed, "random seed")->capture_default_str();
}

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

void add_activations_option(CLI::App* cmd, std::string* value) {
  cmd->add_option("--activations", *value,
                  "int8 (default: the 4/8-bit linears multiply int8-quantized activations) or f32 "
                  "(INGOT_QUANT_ACT sets the default)")
      ->check(CLI::IsMember({"int8", "f32"}));
}

cpu::Activations activations_of(const std::string& value) {
  if (value.empty()) return cpu::default_activations();
  return value == "f32" ? cpu::Activations::f32 : cpu::Activations::int8;
}

void add_generation_options(CLI::App* cmd, GenerationArgs* a, const char* n_help) {
  cmd->add_option("MODEL", a->model, "the .ingot file")->required();
  cmd->add_option("-n,--n-predict", a->n, n_help)->capture_default_str();
  add_sampling_options(cmd, &a->sampler);
  cmd->add_option("--threads", a->threads, "CPU threads; 0 = all")->capture_default_str();
  cmd->add_option("--ctx", a->ctx, "context length; 0 = the model's");
  cmd->add_option("--backend", a->backend, "cpu, or cuda (docs/cuda.md; not yet run on a GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  add_activations_option(cmd, &a->activations);
  add_script_options(cmd, &a->script);
}

bool load_generation(const char* command, GenerationArgs& a, std::unique_ptr<runtime::Model>* model,
                     std::unique_ptr<scripting::Script>* script) {
  cpu::set_threads(a.threads);
  runtime::LoadOptions options;
  options.backend = a.backend == "cuda" ? runtime::BackendKind::cuda : runtime::BackendKind::cpu;
  options.activations = activations_of(a.activations);
  return load_text_model(command, a.model, model, options) && load_script(command, a.script, **model, script);
}

}  // namespace ingot::cli
