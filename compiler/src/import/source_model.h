// What an importer hands to the compiler: the model's config, tokenizer and tensors in ingot's
// canonical naming (below), with tensor bytes viewed in place (mmap) where the source allows.
//
// Canonical tensor names and shapes (a linear weight is (out, in), row-major, as nn.Linear):
//   tok_embeddings.weight                (vocab, dim)
//   layers.{i}.attention_norm.weight     (dim)
//   layers.{i}.attention.wq.weight       (n_head * head_dim, dim)
//   layers.{i}.attention.wk.weight       (n_head_kv * head_dim, dim)
//   layers.{i}.attention.wv.weight       (n_head_kv * head_dim, dim)
//   layers.{i}.attention.wo.weight       (dim, n_head * head_dim)
//   layers.{i}.ffn_norm.weight           (dim)
//   layers.{i}.feed_forward.w1.weight    (ffn_dim, dim)   gate
//   layers.{i}.feed_forward.w2.weight    (dim, ffn_dim)   down
//   layers.{i}.feed_forward.w3.weight    (ffn_dim, dim)   up
//   norm.weight                          (dim)
//   output.weight                        (vocab, dim)     absent when config.tied_embeddings
// q/k rows stay in the order the source uses; config.rope_form records which RoPE pairing that
// order implies (llama2.c/Meta: Interleaved; Hugging Face: Half).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ingot/format/constants.h"

namespace ingot::compiler {

// A weight already quantized and packed in the canonical GPTQ layout (spec/quant-layouts.md).
struct PackedQuant {
  fb::QuantMethod method = fb::QuantMethod::GPTQ;
  uint32_t bits = 4;
  int32_t group_size = 128;       // -1: one group per output channel
  bool symmetric = true;
  bool act_order = false;
  bool static_groups = false;
  std::vector<uint32_t> qweight;  // (ceil(in·bits/32), out) GptqPackedK words
  std::vector<uint16_t> scales;   // (n_groups, out) f16
  std::vector<uint32_t> zeros;    // (n_groups, ceil(out·bits/32)) packed real zeros; empty: 2^(bits-1)
  std::vector<int32_t> g_idx;     // (in) group of every input column; empty: k / group_size
  // (in) non-empty: layout GptqPackedKSorted, qweight's stored column j is input column order[j]
  // and groups are j / group_size (g_idx is then empty). spec/quant-layouts.md §2.3.
  std::vector<int32_t> order;
};

struct SourceTensor {
  std::string name;
  fb::DType dtype = fb::DType::F32;  // F32, F16 or BF16
  std::vector<uint64_t> shape;
  std::span<const uint8_t> bytes;    // into a mapping owned by SourceModel, or into `owned`
  std::vector<uint8_t> owned;
  std::string source_type;           // the source's own type name when it was not `dtype` ("Q4_1"); else ""
  std::unique_ptr<PackedQuant> quant;  // set once quantized: `bytes` is then unused
};

// Keeps a read-only mapping alive for as long as tensors view it.
class Mapping {
 public:
  virtual ~Mapping() = default;
  virtual std::span<const uint8_t> bytes() const = 0;
};

struct SourceModel {
  fb::ModelConfigT config;
  fb::TokenizerT tokenizer;
  std::vector<SourceTensor> tensors;
  std::vector<std::unique_ptr<fb::DigestT>> sources;  // every file read, for provenance
  std::vector<std::unique_ptr<fb::DigestT>> calibration;  // calibration files, for provenance
  std::vector<std::unique_ptr<fb::LayerLossT>> layer_losses;  // per quantized tensor
  std::vector<std::unique_ptr<Mapping>> mappings;
  std::vector<std::string> notes;  // decisions an importer made that the user should hear about
  // The weights were quantized in the source (e.g. a Q4_1 GGUF dequantized at import): quantizing
  // them again compounds the error of both grids.
  bool quantized_source = false;
};

}  // namespace ingot::compiler
