// Hugging Face checkpoint directories (transformers' save_pretrained layout):
//   config.json                        LlamaForCausalLM or MistralForCausalLM
//   model.safetensors                  or model.safetensors.index.json + its shards
//   tokenizer.model                    SentencePiece; else tokenizer.json (+ tokenizer_config.json)
//   tokenizer_config.json              chat_template, add_bos_token/add_eos_token (for tokenizer.model)
//   generation_config.json             optional: its eos_token_id(s) also end generation
// Weights may be F32, F16 or BF16 (mixed is fine); q/k rows stay as stored, which for
// transformers' LLaMA is the rotate-half order (config.rope_form = Half). Names are mapped to the
// canonical ones of source_model.h:
//   model.embed_tokens.weight                       tok_embeddings.weight
//   model.layers.N.input_layernorm.weight           layers.N.attention_norm.weight
//   model.layers.N.self_attn.{q,k,v,o}_proj.weight  layers.N.attention.w{q,k,v,o}.weight
//   model.layers.N.post_attention_layernorm.weight  layers.N.ffn_norm.weight
//   model.layers.N.mlp.{gate,down,up}_proj.weight   layers.N.feed_forward.w{1,2,3}.weight
//   model.norm.weight                               norm.weight
//   lm_head.weight                                  output.weight (shape-checked, then dropped when tied)
// A GPTQ checkpoint (quantize_config.json, or config.json's quantization_config with quant_method
// "gptq") has `prefix.qweight/qzeros/scales/g_idx` in place of a linear's `prefix.weight`: those are
// read by gptq_checkpoint.h into PackedQuant without re-quantization; its decisions go to notes.
// Buffers that older transformers saved (rotary_emb.inv_freq and its cos/sin caches) are skipped;
// any other tensor is an error, so that no weight is silently lost.
#pragma once

#include <string>

#include "import/source_model.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

struct HfImportOptions {
  // A tokenizer file to use instead of the directory's own (import_tokenizer_file's rules).
  std::string tokenizer_path;
};

// Reads the directory `dir` into `out`: config, tensors (viewing the mapped shards), tokenizer,
// and a digest of every file read in out->sources.
format::Status import_hf_directory(const std::string& dir, SourceModel* out, const HfImportOptions& options = {});

}  // namespace ingot::compiler
