// GPTQ-quantized Hugging Face checkpoints (AutoGPTQ / GPTQModel / transformers GPTQConfig), read
// into the canonical GPTQ layout without re-quantization (spec/quant-layouts.md §5, docs/interop.md).
//
// Per quantized linear `prefix` (out, in), b = bits:
//   prefix.qweight  I32 (ceil(in·b/32), out)     b-bit values along the input dimension, low bits first
//   prefix.qzeros   I32 (n_groups, ceil(out·b/32)) zero points packed along the output dimension
//   prefix.scales   F16 (n_groups, out)
//   prefix.g_idx    I32 (in), optional           group of every input column
//   prefix.bias     optional; refused unless all zero (LLaMA has no biases)
// The settings come from quantize_config.json, else config.json["quantization_config"].
//
// Zero points: checkpoint_format "gptq" (v1, the default) stores zero − 1, "gptq_v2" the real zero.
// The importer checks the label against the stored values where they decide it (symmetric
// checkpoints: every real zero is 2^(b−1)) and says in SourceModel::notes what it decided.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "import/safetensors.h"
#include "import/source_model.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

enum class GptqZeroFormat { v1, v2 };

struct GptqCheckpointConfig {
  uint32_t bits = 4;
  int32_t group_size = 128;  // -1: one group per output channel
  bool desc_act = false;
  bool sym = true;
  bool static_groups = false;
  GptqZeroFormat format = GptqZeroFormat::v1;  // as labelled; see decide_gptq_zero_format
  std::string path;                            // the file it came from, for messages
};

// Reads the GPTQ settings of `dir`: quantize_config.json when present (digest appended to
// `sources`), else `config`["quantization_config"]. *found is false when neither exists; a
// quantization_config of another method is an error naming it.
format::Status read_gptq_config(const std::filesystem::path& dir, const nlohmann::json& config,
                                GptqCheckpointConfig* out, bool* found,
                                std::vector<std::unique_ptr<fb::DigestT>>* sources);

// A quantized linear of the checkpoint: its tensor-name prefix and logical shape (out, in).
struct GptqLinear {
  std::string prefix;  // "model.layers.0.self_attn.q_proj"
  uint64_t out = 0, in = 0;
};

// Checks the zero-point label against the stored qzeros of every linear and returns the format
// to read them with; appends what was decided to `notes`. Fails when shapes or dtypes are wrong.
format::Status decide_gptq_zero_format(const SafetensorsCheckpoint& ck, const std::vector<GptqLinear>& linears,
                                       const GptqCheckpointConfig& config, GptqZeroFormat* format,
                                       std::vector<std::string>* notes);

// Reads one linear into `packed` (real zeros, g_idx dropped when it is k / group_size, act_order
// = desc_act), checking
// every shape, dtype and g_idx value. Marks the tensors read in `used`. Counts v1 overflow
// (a stored field of 2^b − 1) into `overflow_fields` and AutoGPTQ's sign spill into `spill_words`.
struct GptqOverflow {
  size_t overflow_fields = 0;  // v1 fields holding 2^b − 1: a real zero of 0
  size_t spill_words = 0;      // words whose fields above such a field were overwritten with ones
};
format::Status take_gptq_linear(const SafetensorsCheckpoint& ck, const GptqLinear& linear,
                                const GptqCheckpointConfig& config, GptqZeroFormat format, PackedQuant* packed,
                                std::set<std::string>* used, GptqOverflow* overflow);

// v1 stored zero fields of one group row (n values of b bits, `words` holding them) -> real zeros.
// Each field f reads as (f + 1) mod 2^b plus the carry of the field below it in the same word
// (b ∈ {2, 4, 8}), which undoes a whole-word subtraction (GPTQModel's v2→v1); a word in which a
// field of 2^b − 1 has only one-bits above it is AutoGPTQ's packer having ORed −1 << shift, and
// is read field by field as AutoGPTQ's dequantization reads it. Exposed for the tests.
void gptq_v1_zeros_to_real(const uint32_t* words, size_t n, uint32_t bits, uint8_t* real, GptqOverflow* overflow);

}  // namespace ingot::compiler
