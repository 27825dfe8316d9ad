// What `ingot run` and `ingot chat` share: the model with its tokenizer, sampling options, the
// --script options, and the options and start of a generating command built from them.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "ingot/scripting/script.h"
#include "model/model.h"
#include "sampling/sampler.h"

namespace ingot::cli {

// Loads a model that has a tokenizer; on failure prints "<command>: <message>" to stderr and
// returns false.
bool load_text_model(const char* command, const std::string& path, std::unique_ptr<runtime::Model>* out,
                     const runtime::LoadOptions& options = {});

// --activations int8|f32 into *value (left empty: the process default, INGOT_QUANT_ACT's).
void add_activations_option(CLI::App* cmd, std::string* value);
// The LoadOptions::activations that add_activations_option's value names.
cpu::Activations activations_of(const std::string& value);

// --temp, --top-k, --top-p, --repeat-penalty, --seed.
void add_sampling_options(CLI::App* cmd, runtime::SamplerParams* s);

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

// The options of a command that generates, and what its callback starts from.
struct GenerationArgs {
  std::string model;
  int32_t n = 256;
  runtime::SamplerParams sampler;
  int threads = 0;
  size_t ctx = 0;
  std::string backend = "cpu";  // --backend cpu|cuda
  std::string activations;      // --activations int8|f32; empty: the default
  ScriptArgs script;
};

// MODEL, -n/--n-predict (described by n_help), the sampling options, --threads, --ctx, --backend,
// --activations and the --script options.
void add_generation_options(CLI::App* cmd, GenerationArgs* a, const char* n_help);

// Sets the CPU threads, loads the model and the script (when given); on failure prints
// "<command>: <message>" to stderr and returns false.
bool load_generation(const char* command, GenerationArgs& a, std::unique_ptr<runtime::Model>* model,
                     std::unique_ptr<scripting::Script>* script);

}  // namespace ingot::cli
