// Shared helpers of the interop suites: stories260K as the llama2.c importer reads it, a
// safetensors writer and reader written from the format description, Hugging Face names,
// compiling and evaluating a model.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emit.h"
#include "import/llama2c.h"
#include "import/tokenizer_files.h"
#include "model/model.h"
#include "model/session.h"
#include "sample_container.h"
#include "safetensors_writer.h"
#include "shared_assets.h"
#include "tokenizer/tokenizer.h"

namespace ingot::test {

inline const char* kStoriesBin = "models/stories260K/stories260K.bin";
inline const char* kStoriesTokenizer = "models/stories260K/tok512.model";

#define REQUIRE_STORIES_BIN()                     \
  INGOT_REQUIRE_SHARED(::ingot::test::kStoriesBin); \
  INGOT_REQUIRE_SHARED(::ingot::test::kStoriesTokenizer)

// stories260K.bin + tok512.model through the llama2.c importer (f32, Meta's interleaved q/k rows).
inline const compiler::SourceModel& stories_llama2c() {
  static const compiler::SourceModel m = [] {
    compiler::SourceModel m;
    EXPECT_TRUE(compiler::import_llama2c(shared_path(kStoriesBin), &m).ok());
    EXPECT_TRUE(compiler::import_tokenizer_file(shared_path(kStoriesTokenizer), &m).ok());
    return m;
  }();
  return m;
}

// A deep copy (tensors get their own bytes).
inline compiler::SourceModel copy_model(const compiler::SourceModel& s) {
  compiler::SourceModel m;
  m.config = s.config;
  m.tokenizer = s.tokenizer;
  for (const compiler::SourceTensor& t : s.tensors) {
    compiler::SourceTensor c;
    c.name = t.name, c.dtype = t.dtype, c.shape = t.shape;
    c.owned.assign(t.bytes.begin(), t.bytes.end());
    c.bytes = c.owned;
    if (t.quant) c.quant = std::make_unique<compiler::PackedQuant>(*t.quant);
    m.tensors.push_back(std::move(c));
  }
  return m;
}

// Canonical name -> transformers' LLaMA name.
inline std::string hf_name(const std::string& canonical) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"attention_norm.weight", "input_layernorm.weight"}, {"attention.wq.weight", "self_attn.q_proj.weight"},
      {"attention.wk.weight", "self_attn.k_proj.weight"},  {"attention.wv.weight", "self_attn.v_proj.weight"},
      {"attention.wo.weight", "self_attn.o_proj.weight"},  {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"feed_forward.w1.weight", "mlp.gate_proj.weight"},  {"feed_forward.w2.weight", "mlp.down_proj.weight"},
      {"feed_forward.w3.weight", "mlp.up_proj.weight"}};
  if (canonical == "tok_embeddings.weight") return "model.embed_tokens.weight";
  if (canonical == "norm.weight") return "model.norm.weight";
  if (canonical == "output.weight") return "lm_head.weight";
  const size_t dot = canonical.find('.', 7);  // "layers.N."
  const std::string rest = canonical.substr(dot + 1);
  for (const auto& [ours, theirs] : kMap) {
    if (rest == ours) return "model." + canonical.substr(0, dot + 1) + theirs;
  }
  return canonical;
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  write_file(path.string(), std::vector<uint8_t>(text.begin(), text.end()));
}

// A transformers LLaMA directory of stories260K's shape holding `tensors`; `quantization_config`
// goes into config.json and `quantize_config` into quantize_config.json unless null.
inline void write_gptq_dir(const std::filesystem::path& dir, const std::vector<StTensor>& tensors,
                           const nlohmann::ordered_json& quantization_config,
                           const nlohmann::ordered_json& quantize_config) {
  std::filesystem::create_directories(dir);
  nlohmann::ordered_json c = {{"architectures", {"LlamaForCausalLM"}},
                              {"model_type", "llama"},
                              {"hidden_size", 64},
                              {"intermediate_size", 172},
                              {"num_hidden_layers", 5},
                              {"num_attention_heads", 8},
                              {"num_key_value_heads", 4},
                              {"hidden_act", "silu"},
                              {"rms_norm_eps", 1e-5},
                              {"rope_theta", 10000.0},
                              {"max_position_embeddings", 512},
                              {"vocab_size", 512},
                              {"tie_word_embeddings", true},
                              {"bos_token_id", 1},
                              {"eos_token_id", 2}};
  if (!quantization_config.is_null()) c["quantization_config"] = quantization_config;
  write_text(dir / "config.json", c.dump(2));
  std::filesystem::remove(dir / "quantize_config.json");
  if (!quantize_config.is_null()) write_text(dir / "quantize_config.json", quantize_config.dump(2));
  write_file((dir / "model.safetensors").string(), safetensors_bytes(tensors, {{"format", "pt"}}));
  std::filesystem::copy_file(shared_path(kStoriesTokenizer), dir / "tokenizer.model",
                             std::filesystem::copy_options::overwrite_existing);
}

inline std::unique_ptr<runtime::Model> compile_model(compiler::SourceModel m, const std::string& path,
                                                     fb::DType dtype = fb::DType::F32) {
  compiler::EmitOptions opt;
  opt.dtype = dtype;
  format::Status s = compiler::emit(m, path, opt);
  EXPECT_TRUE(s.ok()) << s.to_string();
  std::unique_ptr<runtime::Model> model;
  // f32 KV pages and f32 activations: the models compared here differ in the last bits of their
  // projections, which f16 pages could round to neighbouring values and int8 activations to
  // neighbouring steps (tests/model/batch_test.cpp covers f16 pages, tests/quant/quant_int8_test.cpp
  // and quantized_runtime_test the int8 path's error). These tests are about the import, not the kernels.
  runtime::LoadOptions load;
  load.verify_checksums = true;
  load.kv_dtype = runtime::KvDtype::f32;
  load.activations = cpu::Activations::f32;
  s = runtime::Model::load(path, load, &model);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return model;
}

// Logits of BOS and the start of stories260K's greedy story, every position.
inline std::vector<float> logits(const runtime::Model& m) {
  static const std::vector<int32_t> kTokens = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395};
  std::vector<float> all;
  runtime::Session s(m);
  const format::Status st = s.eval(kTokens, nullptr, &all);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return all;
}

// ||a − b|| / ||b||
inline double rel_rms(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += double(a[i] - b[i]) * (a[i] - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / den);
}

// Encodes `text` with a tokenizer as the runtime builds it from the container's table.
inline std::vector<int32_t> encode_with(const fb::TokenizerT& t, const std::string& text) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(fb::Tokenizer::Pack(fbb, &t));
  std::unique_ptr<runtime::Tokenizer> tok;
  const format::Status s = runtime::Tokenizer::create(*flatbuffers::GetRoot<fb::Tokenizer>(fbb.GetBufferPointer()), &tok);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return tok ? tok->encode(text, true) : std::vector<int32_t>{};
}

inline const char* kLlama3Json = "models/llama3-tokenizer/tokenizer.json";
inline const char* kLlama3Config = "models/llama3-tokenizer/tokenizer_config.json";
inline const char* kTokenizerText = "Hello world! It's 2024, and 12345 tokens<|eot_id|> are  enough\n\n ok";

}  // namespace ingot::test
