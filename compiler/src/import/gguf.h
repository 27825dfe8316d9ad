// Importing LLaMA GGUF files (llama.cpp's convert_hf_to_gguf.py output, f32/f16/bf16 or quantized by
// llama-quantize to the legacy and k-quant block types) into a SourceModel. The file is read by gguf_file.h; here its keys and
// tensors are mapped:
//   general.architecture "llama"; llama.{embedding_length, block_count, feed_forward_length,
//   attention.head_count, attention.head_count_kv, attention.key_length, attention.layer_norm_rms_epsilon,
//   context_length, rope.freq_base, rope.dimension_count, rope.scaling.{type, factor,
//   original_context_length}, vocab_size}
//   tokenizer.ggml.{model, tokens, scores, token_type, merges, pre, bos/eos/unknown/padding/eot_token_id,
//   add_bos_token, add_eos_token, add_space_prefix, remove_extra_whitespaces}, tokenizer.chat_template
//   token_embd.weight          tok_embeddings.weight       (ggml ne [dim, vocab] = rows of dim)
//   blk.N.attn_norm.weight     layers.N.attention_norm.weight
//   blk.N.attn_{q,k,v,output}.weight  layers.N.attention.w{q,k,v,o}.weight
//   blk.N.ffn_norm.weight      layers.N.ffn_norm.weight
//   blk.N.ffn_{gate,down,up}.weight   layers.N.feed_forward.w{1,2,3}.weight
//   output_norm.weight         norm.weight
//   output.weight              output.weight (absent: tied to the embeddings)
// llama.cpp's converter stores q/k rows in Meta's interleaved RoPE order (it undoes transformers'
// permutation), so config.rope_form = Interleaved. Tensors may be F32, F16, BF16 or one of the
// block-quantized types of gguf_dequant.h (Q4_0 ... Q6_K), which are dequantized exactly to f32
// here (SourceTensor::source_type keeps the GGUF type; SourceModel::quantized_source is set);
// other ggml types (IQ*, TQ*, ...) are refused naming the type and the tensor.
// rope_freqs.weight (Llama 3.1+) becomes the llama3 RoPE scaling rule when one reproduces it.
// Byte-level tokenizers (tokenizer.ggml.model "gpt2") take their pre-tokenizer from
// tokenizer.ggml.pre (llama.cpp's names onto ingot/format/pre_tokenizers.h; a name ingot does not
// implement is an error listing the ones it does). Any key value that the model cannot use as
// given (partial rotary, per-layer head counts) is refused.
#pragma once

#include <string>

#include "import/source_model.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

// Whether `path` starts with the GGUF magic.
bool looks_like_gguf(const std::string& path);

// Maps `path` and imports it into `out` (tensors view the mapping, which `out` keeps).
format::Status import_gguf(const std::string& path, SourceModel* out);

}  // namespace ingot::compiler
