// Writing a quantized .ingot container as a Hugging Face GPTQ directory (AutoGPTQ / GPTQModel /
// transformers GPTQConfig), the inverse of import/gptq_checkpoint.h (docs/interop.md):
//   config.json            LlamaForCausalLM config + quantization_config
//   quantize_config.json   bits, group_size, desc_act, sym, static_groups, checkpoint_format
//   model.safetensors      per linear prefix.qweight/qzeros/scales/g_idx (I32/I32/F16/I32), the
//                          rest (embeddings, norms, an unquantized lm_head) in their container dtype
//   tokenizer.model        SentencePiece tokenizers (a ModelProto written here)
//   tokenizer.json         byte-level BPE tokenizers (LLaMA-3)
//   tokenizer_config.json  add_bos_token/add_eos_token, special tokens, chat_template
// q/k rows in Meta's interleaved RoPE order (llama2.c imports) are permuted to transformers'
// rotate-half order, quantized or not (a permutation of output columns, exact).
// The directory appears whole or not at all: everything is written into a temporary directory
// beside it, synced, then renamed.
#pragma once

#include <string>
#include <vector>

#include "ingot/format/status.h"

namespace ingot::compiler {

struct GptqExportOptions {
  // "gptq" (v1: stored zero = zero − 1, what every GPTQ loader reads), "gptq_v2" (real zeros), or
  // "auto": v1 unless a real zero of 0 exists, which v1 cannot store (then v2, with a note).
  std::string checkpoint_format = "auto";
};

// Exports `model_path` to the directory `dir`, which must not exist or be empty. `notes` receives
// what was decided (the zero-point format and why).
format::Status export_gptq(const std::string& model_path, const std::string& dir, const GptqExportOptions& options,
                           std::vector<std::string>* notes);

}  // namespace ingot::compiler
