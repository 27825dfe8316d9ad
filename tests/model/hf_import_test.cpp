// The Hugging Face importer (config.json + safetensors) and the llama2.c headers, end to end.
//
// References independent of the importers: the shared stories260K-hf directory and the README's
// perplexity and greedy ids; and files written here straight from the format descriptions
// (safetensors: 8-byte length, JSON header, data; HF q/k rows permuted as transformers'
// convert_llama_weights_to_hf.py does; llama2.c export.py's version-1 "ak42" and legacy layouts)
// from stories260K.bin's weights, read here from its documented layout.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "emit.h"
#include "generate.h"
#include "import/hf.h"
#include "import/llama2c.h"
#include "import/safetensors.h"
#include "import/tokenizer_files.h"
#include "safetensors_writer.h"
#include "sample_container.h"
#include "shared_assets.h"

namespace ingot::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

const char* kBin = "models/stories260K/stories260K.bin";
const char* kTokenizer = "models/stories260K/tok512.model";
const char* kHfDir = "models/stories260K-hf";

// ---- stories260K.bin, read from the llama2.c legacy layout (shared/models/README.md) ----

struct Weights {
  int32_t dim = 0, hidden = 0, n_layers = 0, n_heads = 0, n_kv = 0, vocab = 0, seq = 0;
  std::vector<float> emb;        // (vocab, dim)
  std::vector<float> rms_att;    // (layer, dim)
  std::vector<float> wq;         // (layer, n_heads * hs, dim)
  std::vector<float> wk, wv;     // (layer, n_kv * hs, dim)
  std::vector<float> wo;         // (layer, dim, n_heads * hs)
  std::vector<float> rms_ffn;    // (layer, dim)
  std::vector<float> w1, w3;     // (layer, hidden, dim)
  std::vector<float> w2;         // (layer, dim, hidden)
  std::vector<float> rms_final;  // (dim)
  int32_t hs() const { return dim / n_heads; }
};

const Weights& stories() {
  static const Weights w = [] {
    Weights w;
    std::ifstream in(shared_path(kBin), std::ios::binary);
    int32_t h[7];
    in.read(reinterpret_cast<char*>(h), sizeof h);
    w.dim = h[0], w.hidden = h[1], w.n_layers = h[2], w.n_heads = h[3], w.n_kv = h[4], w.vocab = h[5], w.seq = h[6];
    const size_t D = size_t(w.dim), H = size_t(w.hidden), L = size_t(w.n_layers), kvd = size_t(w.n_kv * w.hs());
    const auto take = [&](std::vector<float>* v, size_t n) {
      v->resize(n);
      in.read(reinterpret_cast<char*>(v->data()), std::streamsize(n * 4));
    };
    take(&w.emb, size_t(w.vocab) * D);
    take(&w.rms_att, L * D);
    take(&w.wq, L * D * D);
    take(&w.wk, L * kvd * D);
    take(&w.wv, L * kvd * D);
    take(&w.wo, L * D * D);
    take(&w.rms_ffn, L * D);
    take(&w.w1, L * H * D);
    take(&w.w2, L * D * H);
    take(&w.w3, L * H * D);
    take(&w.rms_final, D);
    EXPECT_TRUE(in.good()) << "cannot read " << shared_path(kBin);
    return w;
  }();
  return w;
}

std::span<const float> layer(const std::vector<float>& all, int32_t n_layers, int32_t l) {
  const size_t n = all.size() / size_t(n_layers);
  return {all.data() + size_t(l) * n, n};
}

void append(std::vector<uint8_t>* out, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out->insert(out->end(), b, b + n);
}
void append(std::vector<uint8_t>* out, std::span<const float> v) { append(out, v.data(), v.size() * 4); }

// ---- llama2.c files, as export.py writes them ----

// version1_export: 256-byte header (magic "ak42", version 1, 7 params, shared_classifier), then
// all attention norms, all ffn norms, the final norm, the embeddings, all wq, wk, wv, wo, w1,
// w2, w3, and the classifier when it is not shared.
void write_llama2c_v1(const std::string& path, const Weights& w, const std::vector<float>* output) {
  std::vector<uint8_t> b;
  const uint32_t magic = 0x616b3432;
  const int32_t version = 1;
  const int32_t params[7] = {w.dim, w.hidden, w.n_layers, w.n_heads, w.n_kv, w.vocab, w.seq};
  append(&b, &magic, 4);
  append(&b, &version, 4);
  append(&b, params, sizeof params);
  b.push_back(output == nullptr ? 1 : 0);
  b.resize(256, 0);
  for (const auto* v :
       {&w.rms_att, &w.rms_ffn, &w.rms_final, &w.emb, &w.wq, &w.wk, &w.wv, &w.wo, &w.w1, &w.w2, &w.w3}) {
    append(&b, *v);
  }
  if (output != nullptr) append(&b, *output);
  write_file(path, b);
}

// legacy_export: 7 int32 (vocab negative when the classifier is not shared), the weights in
// run.c's order, the RoPE tables (seq, hs/2) cos and sin, then the classifier if not shared.
void write_llama2c_legacy(const std::string& path, const Weights& w, const std::vector<float>* output) {
  std::vector<uint8_t> b;
  const int32_t params[7] = {w.dim, w.hidden, w.n_layers, w.n_heads, w.n_kv, output ? -w.vocab : w.vocab, w.seq};
  append(&b, params, sizeof params);
  for (const auto* v :
       {&w.emb, &w.rms_att, &w.wq, &w.wk, &w.wv, &w.wo, &w.rms_ffn, &w.w1, &w.w2, &w.w3, &w.rms_final}) {
    append(&b, *v);
  }
  std::vector<float> cos, sin;
  for (int32_t pos = 0; pos < w.seq; ++pos) {
    for (int32_t i = 0; i < w.hs() / 2; ++i) {
      const double a = pos / std::pow(10000.0, 2.0 * i / w.hs());
      cos.push_back(float(std::cos(a)));
      sin.push_back(float(std::sin(a)));
    }
  }
  append(&b, cos);
  append(&b, sin);
  if (output != nullptr) append(&b, *output);
  write_file(path, b);
}

// ---- safetensors (writer: tests/support/safetensors_writer.h) ----

// A file with `header` as its JSON text, `data_size` data bytes, and a header length of
// `length` (default: the header's own).
std::vector<uint8_t> raw_safetensors(const std::string& header, size_t data_size,
                                     std::optional<uint64_t> length = std::nullopt) {
  const uint64_t n = length.value_or(header.size());
  std::vector<uint8_t> b;
  for (int i = 0; i < 8; ++i) b.push_back(uint8_t(n >> (8 * i)));
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + data_size, 0x3c);
  return b;
}

std::vector<uint8_t> encode(std::span<const float> v, const std::string& dtype) {
  std::vector<uint8_t> out;
  for (float f : v) {
    if (dtype == "F32") {
      append(&out, &f, 4);
    } else if (dtype == "F64") {
      const double d = f;
      append(&out, &d, 8);
    } else if (dtype == "F16") {
      const _Float16 h = static_cast<_Float16>(f);  // round to nearest even
      append(&out, &h, 2);
    } else {  // BF16: the top 16 bits, rounded to nearest even (no NaN here)
      uint32_t u;
      std::memcpy(&u, &f, 4);
      const uint16_t b = uint16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16);
      append(&out, &b, 2);
    }
  }
  return out;
}

// Meta's interleaved RoPE rows -> transformers' rotate-half rows, per head: row 2i -> i,
// row 2i+1 -> i + hs/2 (convert_llama_weights_to_hf.py's permute).
std::vector<float> permute_rows(std::span<const float> w, int32_t n_heads, int32_t hs, int32_t cols) {
  std::vector<float> out(w.size());
  for (int32_t h = 0; h < n_heads; ++h) {
    for (int32_t r = 0; r < hs; ++r) {
      const int32_t from = h * hs + r, to = h * hs + (r % 2 == 0 ? r / 2 : r / 2 + hs / 2);
      std::copy_n(w.data() + size_t(from) * size_t(cols), cols, out.data() + size_t(to) * size_t(cols));
    }
  }
  return out;
}

struct HfOptions {
  std::string dtype = "F32";                    // of every tensor
  bool norms_f32 = false;                       // 1-D tensors F32 whatever `dtype` is
  int shards = 1;                               // > 1: model-0000k-of-0000n.safetensors + model.safetensors.index.json
  const std::vector<float>* lm_head = nullptr;  // untied classifier (tie_word_embeddings false)
  json config = json::object();                 // merged over the generated config.json
  std::vector<std::string> drop;                // HF tensor names left out
  std::vector<StTensor> extra;                  // further tensors
  bool tokenizer = true;                        // copy tok512.model as tokenizer.model
};

std::vector<StTensor> hf_tensors(const Weights& w, const HfOptions& o) {
  const int32_t D = w.dim, H = w.hidden, L = w.n_layers;
  std::vector<StTensor> t;
  const auto add = [&](const std::string& name, std::vector<uint64_t> shape, std::span<const float> v) {
    if (std::find(o.drop.begin(), o.drop.end(), name) != o.drop.end()) return;
    const std::string dt = shape.size() == 1 && o.norms_f32 ? "F32" : o.dtype;
    t.push_back({name, dt, std::move(shape), encode(v, dt)});
  };
  const uint64_t d = uint64_t(D), h = uint64_t(H), kvd = uint64_t(w.n_kv * w.hs());
  add("model.embed_tokens.weight", {uint64_t(w.vocab), d}, w.emb);
  for (int32_t l = 0; l < L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {d}, layer(w.rms_att, L, l));
    add(p + "self_attn.q_proj.weight", {d, d}, permute_rows(layer(w.wq, L, l), w.n_heads, w.hs(), D));
    add(p + "self_attn.k_proj.weight", {kvd, d}, permute_rows(layer(w.wk, L, l), w.n_kv, w.hs(), D));
    add(p + "self_attn.v_proj.weight", {kvd, d}, layer(w.wv, L, l));
    add(p + "self_attn.o_proj.weight", {d, d}, layer(w.wo, L, l));
    add(p + "post_attention_layernorm.weight", {d}, layer(w.rms_ffn, L, l));
    add(p + "mlp.gate_proj.weight", {h, d}, layer(w.w1, L, l));
    add(p + "mlp.down_proj.weight", {d, h}, layer(w.w2, L, l));
    add(p + "mlp.up_proj.weight", {h, d}, layer(w.w3, L, l));
  }
  add("model.norm.weight", {d}, w.rms_final);
  if (o.lm_head != nullptr) add("lm_head.weight", {uint64_t(w.vocab), d}, *o.lm_head);
  for (const StTensor& e : o.extra) t.push_back(e);
  return t;
}

void write_text(const fs::path& path, const std::string& text) {
  write_file(path.string(), std::vector<uint8_t>(text.begin(), text.end()));
}

json hf_config(const Weights& w) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", w.dim},
          {"intermediate_size", w.hidden},
          {"num_hidden_layers", w.n_layers},
          {"num_attention_heads", w.n_heads},
          {"num_key_value_heads", w.n_kv},
          {"hidden_act", "silu"},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 10000.0},
          {"max_position_embeddings", w.seq},
          {"vocab_size", w.vocab},
          {"tie_word_embeddings", true},
          {"bos_token_id", 1},
          {"eos_token_id", 2}};
}

void write_hf_dir(const fs::path& dir, const Weights& w, const HfOptions& o = {}) {
  fs::create_directories(dir);
  json config = hf_config(w);
  config["tie_word_embeddings"] = o.lm_head == nullptr;
  config.update(o.config);
  write_text(dir / "config.json", config.dump(2));
  const std::vector<StTensor> tensors = hf_tensors(w, o);
  if (o.shards <= 1) {
    write_file((dir / "model.safetensors").string(), safetensors_bytes(tensors, {{"format", "pt"}}));
  } else {
    json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
    uint64_t total = 0;
    const size_t per = (tensors.size() + size_t(o.shards) - 1) / size_t(o.shards);
    for (int s = 0; s < o.shards; ++s) {
      char name[64];
      std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, o.shards);
      std::vector<StTensor> part;
      for (size_t i = size_t(s) * per; i < std::min(tensors.size(), size_t(s + 1) * per); ++i) {
        part.push_back(tensors[i]);
        index["weight_map"][tensors[i].name] = name;
        total += tensors[i].data.size();
      }
      write_file((dir / name).string(), safetensors_bytes(part, {{"format", "pt"}}));
    }
    index["metadata"]["total_size"] = total;
    write_text(dir / "model.safetensors.index.json", index.dump(2));
  }
  if (o.tokenizer) fs::copy_file(shared_path(kTokenizer), dir / "tokenizer.model");
}

// ---- importing, compiling, running ----

void expect_error(const format::Status& s, std::initializer_list<const char*> parts) {
  ASSERT_FALSE(s.ok()) << "expected an error mentioning '" << *parts.begin() << "'";
  for (const char* p : parts)
    EXPECT_NE(s.message().find(p), std::string::npos) << "'" << p << "' not in: " << s.message();
}

format::Status import_dir(const fs::path& dir, compiler::SourceModel* out = nullptr,
                          const compiler::HfImportOptions& options = {}) {
  compiler::SourceModel m;
  return compiler::import_hf_directory(dir.string(), out != nullptr ? out : &m, options);
}

compiler::SourceModel import_llama2c(const std::string& path, bool tokenizer = true) {
  compiler::SourceModel m;
  format::Status s = compiler::import_llama2c(path, &m);
  EXPECT_TRUE(s.ok()) << s.to_string();
  if (tokenizer) {
    s = compiler::import_tokenizer_file(shared_path(kTokenizer), &m);
    EXPECT_TRUE(s.ok()) << s.to_string();
  }
  return m;
}

std::unique_ptr<runtime::Model> compile(compiler::SourceModel m, const std::string& path,
                                        fb::DType dtype = fb::DType::F32) {
  compiler::EmitOptions opt;
  opt.dtype = dtype;
  format::Status s = compiler::emit(m, path, opt);
  EXPECT_TRUE(s.ok()) << s.to_string();
  std::unique_ptr<runtime::Model> model;
  // f32 KV pages: the two models compared here differ in the last bits of their projections, which
  // f16 pages could round to neighbouring values (tests/model/batch_test.cpp covers f16 pages).
  s = runtime::Model::load(path, {.verify_checksums = true, .progress = {}, .kv_dtype = runtime::KvDtype::f32}, &model);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return model;
}

std::unique_ptr<runtime::Model> compile_dir(const fs::path& dir, const std::string& path,
                                            fb::DType dtype = fb::DType::F32) {
  compiler::SourceModel m;
  const format::Status s = import_dir(dir, &m);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return compile(std::move(m), path, dtype);
}

// 20 tokens: BOS and the start of the model's greedy story.
const std::vector<int32_t> kTokens = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376,
                                      298, 315, 421, 395, 317, 426, 338, 401, 396, 267};

std::vector<float> logits(const runtime::Model* m, const std::vector<int32_t>& tokens = kTokens) {
  std::vector<float> all;
  if (m == nullptr) return all;
  runtime::Session s(*m);
  const format::Status st = s.eval(tokens, nullptr, &all);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return all;
}

// max |a - b| / max(1, |b|) over all positions and the vocabulary.
double max_rel(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(double(a[i]) - b[i]) / std::max(1.0, std::fabs(double(b[i]))));
  }
  return worst;
}

// ||a - b|| / ||b||
double rel_rms(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += double(a[i] - b[i]) * (a[i] - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / den);
}

#define REQUIRE_STORIES()           \
  INGOT_REQUIRE_SHARED(kBin);       \
  INGOT_REQUIRE_SHARED(kTokenizer); \
  INGOT_REQUIRE_SHARED(kHfDir)

// ---- the shared stories260K-hf directory ----

TEST(HfStories260K, ImportsConfigTensorsTokenizerAndSources) {
  REQUIRE_STORIES();
  compiler::SourceModel m;
  const format::Status s = import_dir(shared_path(kHfDir), &m);
  ASSERT_TRUE(s.ok()) << s.to_string();
  const fb::ModelConfigT& c = m.config;
  EXPECT_EQ(c.dim, 64u);
  EXPECT_EQ(c.ffn_dim, 172u);
  EXPECT_EQ(c.n_layer, 5u);
  EXPECT_EQ(c.n_head, 8u);
  EXPECT_EQ(c.n_head_kv, 4u);
  EXPECT_EQ(c.head_dim, 8u);
  EXPECT_EQ(c.vocab_size, 512u);
  EXPECT_EQ(c.context_length, 512u);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
  EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.rope_scaling, nullptr);
  EXPECT_EQ(c.rope_form, fb::RopeForm::Half);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_id, 2);
  EXPECT_TRUE(c.extra_eos_ids.empty());
  EXPECT_EQ(m.tokenizer.kind, fb::TokenizerKind::SentencePieceBpe);
  EXPECT_EQ(m.tokenizer.pieces.size(), 512u);
  ASSERT_EQ(m.tensors.size(), 1u + 5u * 9u + 1u);  // no output.weight: tied
  EXPECT_EQ(m.tensors.front().name, "tok_embeddings.weight");
  EXPECT_EQ(m.tensors[3].name, "layers.0.attention.wk.weight");
  EXPECT_EQ(m.tensors[3].shape, (std::vector<uint64_t>{32, 64}));
  EXPECT_EQ(m.tensors.back().name, "norm.weight");
  std::vector<std::string> sources;
  for (const auto& d : m.sources) sources.push_back(d->name);
  EXPECT_EQ(sources, (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.model"}));
  EXPECT_EQ(m.sources[1]->size, fs::file_size(shared_path(kHfDir) + "/model.safetensors"));
}

TEST(HfStories260K, LogitsMatchTheLlama2cImport) {
  REQUIRE_STORIES();
  TempDir dir;
  auto hf = compile_dir(shared_path(kHfDir), dir.file("hf.ingot"));
  auto l2c = compile(import_llama2c(shared_path(kBin)), dir.file("l2c.ingot"));
  ASSERT_TRUE(hf && l2c);
  const std::vector<float> a = logits(hf.get()), b = logits(l2c.get());
  ASSERT_EQ(a.size(), kTokens.size() * 512u);
  EXPECT_LT(max_rel(a, b), 1e-4);
}

TEST(HfStories260K, GreedyIdsMatchTheReadme) {
  REQUIRE_STORIES();
  TempDir dir;
  auto m = compile_dir(shared_path(kHfDir), dir.file("hf.ingot"));
  ASSERT_NE(m, nullptr);
  const std::vector<int32_t> prompt = runtime::prompt_tokens(*m, "Once upon a time");
  EXPECT_EQ(prompt, (std::vector<int32_t>{1, 403, 407, 261, 378}));
  runtime::Session session(*m);
  runtime::GenerateParams p;
  p.n_predict = 16;
  p.sampler.temperature = 0;
  std::vector<int32_t> ids;
  const format::Status s = runtime::generate(
      session, prompt, p,
      [&](int32_t id, const std::string&) {
        ids.push_back(id);
        return true;
      },
      nullptr);
  ASSERT_TRUE(s.ok()) << s.to_string();
  // shared/models/README.md, stories260K-hf row.
  EXPECT_EQ(ids,
            (std::vector<int32_t>{432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337}));
}

TEST(HfStories260K, PerplexityMatchesTheReadme) {
  REQUIRE_STORIES();
  INGOT_REQUIRE_SHARED("data/tinystories/tinystories_val.txt");
  TempDir dir;
  auto m = compile_dir(shared_path(kHfDir), dir.file("hf.ingot"));
  ASSERT_NE(m, nullptr);
  std::ifstream in(shared_path("data/tinystories/tinystories_val.txt"), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<int32_t> tokens = runtime::prompt_tokens(*m, text.str());
  ASSERT_GE(tokens.size(), 200u * 256u);
  runtime::PerplexityResult r;
  ASSERT_TRUE(runtime::perplexity(*m, tokens, 256, 200, nullptr, &r).ok());
  EXPECT_EQ(r.n_chunks, 200u);
  // README: 4.1070 from an independent float32 PyTorch forward pass.
  EXPECT_NEAR(r.ppl / 4.1070, 1.0, 1e-3) << "ppl " << r.ppl;
}

// ---- directories written here from stories260K.bin ----

TEST(HfWritten, F32F16Bf16AndShardedImportsAgreeWithTheLlama2cImport) {
  INGOT_REQUIRE_SHARED(kBin);
  INGOT_REQUIRE_SHARED(kTokenizer);
  const Weights& w = stories();
  TempDir dir;
  const std::vector<float> ref = logits(compile(import_llama2c(shared_path(kBin)), dir.file("ref.ingot")).get());
  ASSERT_FALSE(ref.empty());

  struct Case {
    const char* name;
    HfOptions options;
    double max_rel_rms;
  };
  HfOptions f16, bf16, sharded, sharded_bf16;
  f16.dtype = "F16";
  bf16.dtype = "BF16";
  sharded.shards = 2;
  sharded_bf16.shards = 2;
  sharded_bf16.dtype = "BF16";
  // Every tensor rounded, norms and embeddings too: f16 keeps 11 significant bits, bf16 8
  // (measured: relative logit error 4e-4 and 3e-3).
  for (const Case& c : {Case{"f32", HfOptions{}, 1e-6}, Case{"f16", f16, 2e-3}, Case{"bf16", bf16, 1e-2},
                        Case{"sharded", sharded, 1e-6}, Case{"sharded_bf16", sharded_bf16, 1e-2}}) {
    SCOPED_TRACE(c.name);
    write_hf_dir(dir.path() / c.name, w, c.options);
    auto m = compile_dir(dir.path() / c.name, dir.file(std::string(c.name) + ".ingot"));
    const std::vector<float> got = logits(m.get());
    EXPECT_LT(rel_rms(got, ref), c.max_rel_rms);
    if (c.options.dtype == "F32") {
      EXPECT_LT(max_rel(got, ref), 1e-4);
    }
  }
}

// With matrices rounded the same way, an F16 or BF16 checkpoint is the llama2.c import compiled
// to that dtype: the importer neither reorders nor converts anything on the way.
TEST(HfWritten, HalfCheckpointsEqualTheLlama2cImportCompiledToTheSameDtype) {
  INGOT_REQUIRE_SHARED(kBin);
  INGOT_REQUIRE_SHARED(kTokenizer);
  TempDir dir;
  for (const auto& [dtype, fbtype] : {std::pair{"F16", fb::DType::F16}, std::pair{"BF16", fb::DType::BF16}}) {
    SCOPED_TRACE(dtype);
    HfOptions o;
    o.dtype = dtype;
    o.norms_f32 = true;  // as emit keeps norms
    write_hf_dir(dir.path() / dtype, stories(), o);
    compiler::SourceModel m;
    ASSERT_TRUE(import_dir(dir.path() / dtype, &m).ok());
    for (const compiler::SourceTensor& t : m.tensors) {
      EXPECT_EQ(t.dtype, t.shape.size() == 1 ? fb::DType::F32 : fbtype) << t.name;
    }
    const std::vector<float> got = logits(compile(std::move(m), dir.file(std::string(dtype) + ".ingot")).get());
    const std::vector<float> want =
        logits(compile(import_llama2c(shared_path(kBin)), dir.file(std::string(dtype) + "-l2c.ingot"), fbtype).get());
    EXPECT_LT(max_rel(got, want), 1e-4);
  }
}

TEST(HfWritten, UntiedClassifierMatchesLlama2cLegacyAndVersion1Files) {
  INGOT_REQUIRE_SHARED(kBin);
  INGOT_REQUIRE_SHARED(kTokenizer);
  const Weights& w = stories();
  std::vector<float> half = w.emb;
  for (float& v : half) v *= 0.5f;  // exactly half: logits halve
  TempDir dir;
  HfOptions o;
  o.lm_head = &half;
  write_hf_dir(dir.path() / "untied", w, o);
  write_llama2c_legacy(dir.file("legacy-untied.bin"), w, &half);
  write_llama2c_v1(dir.file("v1-untied.bin"), w, &half);

  compiler::SourceModel hf;
  ASSERT_TRUE(import_dir(dir.path() / "untied", &hf).ok());
  EXPECT_FALSE(hf.config.tied_embeddings);
  EXPECT_EQ(hf.tensors.back().name, "output.weight");
  const std::vector<float> tied = logits(compile(import_llama2c(shared_path(kBin)), dir.file("tied.ingot")).get());
  const std::vector<float> a = logits(compile(std::move(hf), dir.file("hf.ingot")).get());
  compiler::SourceModel legacy = import_llama2c(dir.file("legacy-untied.bin"));
  EXPECT_FALSE(legacy.config.tied_embeddings);
  const std::vector<float> b = logits(compile(std::move(legacy), dir.file("legacy.ingot")).get());
  compiler::SourceModel v1 = import_llama2c(dir.file("v1-untied.bin"));
  EXPECT_FALSE(v1.config.tied_embeddings);
  const std::vector<float> c = logits(compile(std::move(v1), dir.file("v1.ingot")).get());
  ASSERT_EQ(tied.size(), a.size());
  std::vector<float> halved = tied;
  for (float& v : halved) v *= 0.5f;
  EXPECT_LT(max_rel(a, halved), 1e-4);
  EXPECT_LT(max_rel(b, halved), 1e-5);
  EXPECT_LT(max_rel(c, halved), 1e-5);
}

TEST(Llama2cHeaders, Version1FileEqualsTheLegacyFile) {
  INGOT_REQUIRE_SHARED(kBin);
  INGOT_REQUIRE_SHARED(kTokenizer);
  TempDir dir;
  write_llama2c_v1(dir.file("v1.bin"), stories(), nullptr);
  EXPECT_TRUE(compiler::looks_like_llama2c(dir.file("v1.bin")));
  compiler::SourceModel v1 = import_llama2c(dir.file("v1.bin"));
  compiler::SourceModel legacy = import_llama2c(shared_path(kBin));
  ASSERT_EQ(v1.tensors.size(), legacy.tensors.size());
  for (const compiler::SourceTensor& t : legacy.tensors) {
    const auto it = std::find_if(v1.tensors.begin(), v1.tensors.end(), [&](const auto& u) { return u.name == t.name; });
    ASSERT_NE(it, v1.tensors.end()) << t.name;
    EXPECT_EQ(it->shape, t.shape) << t.name;
    EXPECT_TRUE(std::equal(t.bytes.begin(), t.bytes.end(), it->bytes.begin(), it->bytes.end())) << t.name;
  }
  EXPECT_TRUE(v1.config.tied_embeddings);
  EXPECT_EQ(v1.config.context_length, legacy.config.context_length);
  const std::vector<float> a = logits(compile(std::move(v1), dir.file("v1.ingot")).get());
  const std::vector<float> b = logits(compile(std::move(legacy), dir.file("legacy.ingot")).get());
  EXPECT_EQ(max_rel(a, b), 0.0);

  // A truncated version-1 file and an unknown version are refused.
  std::vector<uint8_t> bytes = read_file(dir.file("v1.bin"));
  bytes.erase(bytes.end() - 4, bytes.end());
  write_file(dir.file("short.bin"), bytes);
  compiler::SourceModel m;
  expect_error(compiler::import_llama2c(dir.file("short.bin"), &m), {"truncated"});
  bytes = read_file(dir.file("v1.bin"));
  bytes[4] = 2;
  write_file(dir.file("v2.bin"), bytes);
  expect_error(compiler::import_llama2c(dir.file("v2.bin"), &m), {"version 2"});
}

// ---- config.json variants ----

TEST(HfConfig, DefaultsRopeScalingIdsAndChatTemplate) {
  INGOT_REQUIRE_SHARED(kBin);
  INGOT_REQUIRE_SHARED(kTokenizer);
  TempDir dir;
  HfOptions o;
  o.config = {{"rope_scaling",
               {{"rope_type", "llama3"},
                {"factor", 8.0},
                {"low_freq_factor", 1.0},
                {"high_freq_factor", 4.0},
                {"original_max_position_embeddings", 256}}},
              {"eos_token_id", {2, 5, 2}},
              {"rms_norm_eps", nullptr},
              {"rope_theta", nullptr},
              {"num_key_value_heads", 4}};
  write_hf_dir(dir.path(), stories(), o);
  write_text(dir.path() / "tokenizer_config.json",
             R"({"chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}", "add_bos_token": true,
                 "add_eos_token": false})");
  write_text(dir.path() / "generation_config.json", R"({"eos_token_id": [2, 7]})");
  compiler::SourceModel m;
  const format::Status s = import_dir(dir.path(), &m);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_NE(m.config.rope_scaling, nullptr);
  EXPECT_EQ(m.config.rope_scaling->type, fb::RopeScalingType::Llama3);
  EXPECT_FLOAT_EQ(m.config.rope_scaling->factor, 8.0f);
  EXPECT_FLOAT_EQ(m.config.rope_scaling->high_freq_factor, 4.0f);
  EXPECT_EQ(m.config.rope_scaling->original_context_length, 256u);
  EXPECT_FLOAT_EQ(m.config.norm_eps, 1e-6f);  // LlamaConfig's default
  EXPECT_FLOAT_EQ(m.config.rope_theta, 10000.0f);
  EXPECT_EQ(m.config.eos_id, 2);
  EXPECT_EQ(m.config.extra_eos_ids, (std::vector<int32_t>{5, 7}));
  EXPECT_EQ(m.tokenizer.chat_template, "{% for m in messages %}{{ m.content }}{% endfor %}");
  EXPECT_TRUE(m.tokenizer.add_bos);
  std::vector<std::string> sources;
  for (const auto& d : m.sources) sources.push_back(d->name);
  EXPECT_EQ(sources, (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.model",
                                               "tokenizer_config.json", "generation_config.json"}));

  // Linear scaling, and Mistral with a window no smaller than the context.
  o.config = {{"rope_scaling", {{"type", "linear"}, {"factor", 2}}},
              {"architectures", {"MistralForCausalLM"}},
              {"sliding_window", 4096}};
  fs::remove_all(dir.path() / "b");
  write_hf_dir(dir.path() / "b", stories(), o);
  ASSERT_TRUE(import_dir(dir.path() / "b", &m).ok());
  EXPECT_EQ(m.config.rope_scaling->type, fb::RopeScalingType::Linear);
  EXPECT_FLOAT_EQ(m.config.rope_scaling->factor, 2.0f);
}

TEST(HfConfig, TokenizerModelIsPreferredAndTokenizerJsonMustFitTheVocabulary) {
  INGOT_REQUIRE_SHARED(kBin);
  INGOT_REQUIRE_SHARED(kTokenizer);
  INGOT_REQUIRE_SHARED("models/llama3-tokenizer/tokenizer.json");
  TempDir dir;
  write_hf_dir(dir.path(), stories());
  fs::copy_file(shared_path("models/llama3-tokenizer/tokenizer.json"), dir.path() / "tokenizer.json");
  compiler::SourceModel m;
  ASSERT_TRUE(import_dir(dir.path(), &m).ok());
  EXPECT_EQ(m.tokenizer.kind, fb::TokenizerKind::SentencePieceBpe);
  // LLaMA-3's 128256 tokens do not fit stories260K's 512 embeddings.
  fs::remove(dir.path() / "tokenizer.model");
  expect_error(import_dir(dir.path()), {"tokenizer.json", "128256 pieces", "vocabulary is 512"});
  // Without any tokenizer the model imports with config.json's ids only.
  fs::remove(dir.path() / "tokenizer.json");
  ASSERT_TRUE(import_dir(dir.path(), &m).ok());
  EXPECT_EQ(m.tokenizer.kind, fb::TokenizerKind::None);
  EXPECT_EQ(m.config.bos_id, 1);
  EXPECT_EQ(m.config.eos_id, 2);
}

TEST(HfConfig, WhatIsNotSupportedIsAClearError) {
  INGOT_REQUIRE_SHARED(kBin);
  INGOT_REQUIRE_SHARED(kTokenizer);
  TempDir dir;
  int n = 0;
  const auto check = [&](json config, std::initializer_list<const char*> parts) {
    HfOptions o;
    o.config = std::move(config);
    o.tokenizer = false;
    const fs::path d = dir.path() / std::to_string(n++);
    write_hf_dir(d, stories(), o);
    SCOPED_TRACE(o.config.dump());
    expect_error(import_dir(d), parts);
  };
  check({{"architectures", {"Qwen2ForCausalLM"}}}, {"config.json", "Qwen2ForCausalLM", "not supported"});
  check({{"architectures", nullptr}, {"model_type", "gpt2"}}, {"no architecture"});
  check({{"architectures", {"MistralForCausalLM"}}, {"sliding_window", 128}}, {"sliding_window 128", "512"});
  check({{"architectures", {"MistralForCausalLM"}}, {"max_position_embeddings", 8192}},
        {"sliding_window 4096", "default", "8192"});
  check({{"intermediate_size", 100}}, {"model.layers.0.mlp.gate_proj.weight", "[172, 64]", "[100, 64]"});
  check({{"num_key_value_heads", 8}}, {"model.layers.0.self_attn.k_proj.weight", "[32, 64]", "[64, 64]"});
  check({{"hidden_size", nullptr}}, {"hidden_size is missing"});
  check({{"num_attention_heads", 3}}, {"not a multiple"});
  check({{"num_hidden_layers", -1}}, {"num_hidden_layers", "positive integer"});
  check({{"hidden_act", "gelu"}}, {"hidden_act"});
  check({{"attention_bias", true}}, {"biases"});
  check({{"rope_scaling", {{"rope_type", "longrope"}, {"factor", 2}}}}, {"longrope"});
  check({{"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8}, {"original_max_position_embeddings", 256}}}},
        {"rope_scaling.low_freq_factor is missing"});
  check({{"rope_scaling", {{"rope_type", "linear"}, {"factor", 0}}}}, {"rope_scaling.factor", "positive"});
  check({{"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4}, {"beta_fast", 8}}}}, {"beta_fast"});
  check({{"eos_token_id", 9999}}, {"eos_token_id 9999", "outside the vocabulary"});
  check({{"quantization_config", {{"quant_method", "awq"}}}}, {"quantized checkpoints are not supported yet", "awq"});
  check({{"tie_word_embeddings", false}}, {"lm_head.weight"});

  // config.json itself unreadable, and no weights.
  fs::create_directories(dir.path() / "bad");
  write_text(dir.path() / "bad" / "config.json", "{\"hidden_size\": 64,");
  expect_error(import_dir(dir.path() / "bad"), {"config.json", "not valid JSON"});
  write_text(dir.path() / "bad" / "config.json", hf_config(stories()).dump());
  expect_error(import_dir(dir.path() / "bad"), {"neither model.safetensors nor model.safetensors.index.json"});
  write_text(dir.path() / "bad" / "pytorch_model.bin", "x");
  expect_error(import_dir(dir.path() / "bad"), {"pytorch_model.bin"});
  expect_error(import_dir(dir.path() / "absent"), {"not a directory"});
  expect_error(import_dir(dir.path()), {"no config.json"});
}

TEST(HfTensors, MissingExtraAndQuantizedTensors) {
  INGOT_REQUIRE_SHARED(kBin);
  INGOT_REQUIRE_SHARED(kTokenizer);
  TempDir dir;
  HfOptions o;
  o.tokenizer = false;
  o.drop = {"model.layers.3.mlp.up_proj.weight"};
  write_hf_dir(dir.path() / "missing", stories(), o);
  expect_error(import_dir(dir.path() / "missing"), {"model.layers.3.mlp.up_proj.weight", "missing"});

  // Buffers older transformers saved are skipped; anything else unknown is refused.
  o.drop.clear();
  o.extra = {{"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", {4}, encode(std::vector<float>(4, 1.0f), "F32")}};
  write_hf_dir(dir.path() / "inv_freq", stories(), o);
  compiler::SourceModel m;
  ASSERT_TRUE(import_dir(dir.path() / "inv_freq", &m).ok());
  EXPECT_EQ(m.tensors.size(), 47u);
  o.extra.push_back({"model.layers.0.self_attn.q_proj.bias", "F32", {64}, encode(std::vector<float>(64), "F32")});
  write_hf_dir(dir.path() / "bias", stories(), o);
  expect_error(import_dir(dir.path() / "bias"), {"model.layers.0.self_attn.q_proj.bias", "biases"});

  // A tied lm_head of the wrong shape.
  std::vector<float> head(512 * 64, 0.0f);
  o.extra = {{"lm_head.weight", "F32", {256, 128}, encode(head, "F32")}};
  o.config = {{"tie_word_embeddings", true}};
  write_hf_dir(dir.path() / "head", stories(), o);
  expect_error(import_dir(dir.path() / "head"), {"lm_head.weight", "[256, 128]", "[512, 64]"});

  // Other dtypes: GPTQ's I32 tensors, and a float type not imported.
  o.extra = {{"model.layers.0.mlp.up_proj.qweight", "I32", {8, 172}, std::vector<uint8_t>(8 * 172 * 4)}};
  o.config = json::object();
  write_hf_dir(dir.path() / "gptq", stories(), o);
  expect_error(import_dir(dir.path() / "gptq"),
               {"model.layers.0.mlp.up_proj.qweight", "I32", "quantized checkpoints are not supported yet"});
  o.extra.clear();
  o.dtype = "F64";
  write_hf_dir(dir.path() / "f64", stories(), o);
  expect_error(import_dir(dir.path() / "f64"), {"F64", "model.", "F32, F16 and BF16"});
}

// GPTQ directories are read by the GPTQ importer (tests/interop/gptq_import_test.cpp).
TEST(HfTensors, SharedGptqFixtureImports) {
  INGOT_REQUIRE_SHARED("models/stories260K-gptq-4b-g32");
  compiler::SourceModel m;
  const format::Status s = import_dir(shared_path("models/stories260K-gptq-4b-g32"), &m);
  EXPECT_TRUE(s.ok()) << s.to_string();
}

TEST(HfTensors, ShardIndexMustAgreeWithTheShards) {
  INGOT_REQUIRE_SHARED(kBin);
  INGOT_REQUIRE_SHARED(kTokenizer);
  TempDir dir;
  HfOptions o;
  o.shards = 2;
  o.tokenizer = false;
  const fs::path d = dir.path() / "sharded";
  write_hf_dir(d, stories(), o);
  compiler::SourceModel m;
  ASSERT_TRUE(import_dir(d, &m).ok());
  std::vector<std::string> sources;
  for (const auto& s : m.sources) sources.push_back(s->name);
  EXPECT_EQ(sources,
            (std::vector<std::string>{"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                                      "model-00002-of-00002.safetensors"}));
  const std::string index_text = [&] {
    const std::vector<uint8_t> b = read_file((d / "model.safetensors.index.json").string());
    return std::string(b.begin(), b.end());
  }();
  const auto with_index = [&](const std::function<void(json&)>& edit, std::initializer_list<const char*> parts) {
    json index = json::parse(index_text);
    edit(index);
    write_text(d / "model.safetensors.index.json", index.dump());
    expect_error(import_dir(d), parts);
  };
  // A tensor the index puts in the wrong shard, one it lists but no shard holds, a shard tensor
  // it does not list, a path outside the directory, and a missing shard.
  with_index([](json& j) { j["weight_map"]["model.norm.weight"] = "model-00001-of-00002.safetensors"; },
             {"model.norm.weight", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"});
  with_index([](json& j) { j["weight_map"]["model.extra.weight"] = "model-00002-of-00002.safetensors"; },
             {"model.extra.weight", "does not hold"});
  with_index([](json& j) { j["weight_map"].erase("model.norm.weight"); },
             {"model.norm.weight", "not in the weight_map"});
  with_index([](json& j) { j["weight_map"]["model.norm.weight"] = "../model-00002-of-00002.safetensors"; },
             {"not a file beside the index"});
  with_index([](json& j) { j["weight_map"]["model.norm.weight"] = "model-00003-of-00003.safetensors"; },
             {"model-00003-of-00003.safetensors", "cannot open"});
  with_index([](json& j) { j.erase("weight_map"); }, {"weight_map"});

  // The same tensor in both shards.
  write_text(d / "model.safetensors.index.json", index_text);
  const Weights& w = stories();
  std::vector<StTensor> all = hf_tensors(w, {});
  std::vector<StTensor> first(all.begin(), all.begin() + 24), second(all.begin() + 23, all.end());
  write_file((d / "model-00001-of-00002.safetensors").string(), safetensors_bytes(first));
  write_file((d / "model-00002-of-00002.safetensors").string(), safetensors_bytes(second));
  expect_error(import_dir(d), {all[23].name.c_str(), "is in both"});
}

// ---- malformed safetensors files ----

format::Status parse(const std::vector<uint8_t>& bytes, compiler::SafetensorsFile* out = nullptr) {
  compiler::SafetensorsFile f;
  return compiler::parse_safetensors(bytes, "bad.safetensors", out != nullptr ? out : &f);
}

TEST(Safetensors, AWellFormedFileWithMetadataAndAnyDtype) {
  std::vector<StTensor> t = {{"a", "F32", {2, 3}, std::vector<uint8_t>(24, 1)},
                             {"b", "I32", {4}, std::vector<uint8_t>(16, 2)},
                             {"c", "BF16", {0, 5}, {}},
                             {"d", "F4", {3, 2}, std::vector<uint8_t>(3, 3)}};
  compiler::SafetensorsFile f;
  const std::vector<uint8_t> bytes = safetensors_bytes(t, {{"format", "pt"}});  // the tensors view it
  const format::Status s = parse(bytes, &f);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(f.metadata.at("format"), "pt");
  ASSERT_EQ(f.tensors.size(), 4u);
  EXPECT_EQ(f.tensors[1].name, "b");
  EXPECT_EQ(f.tensors[1].shape, (std::vector<uint64_t>{4}));
  ASSERT_EQ(f.tensors[1].bytes.size(), 16u);
  EXPECT_EQ(f.tensors[1].bytes[0], 2);
  EXPECT_EQ(f.tensors[2].name, "c");  // empty, at offset 40, before d at [40, 43)
  EXPECT_TRUE(f.tensors[2].bytes.empty());
  EXPECT_EQ(f.tensors[3].dtype, "F4");
  EXPECT_EQ(f.tensors[3].bytes.size(), 3u);
  EXPECT_TRUE(parse(raw_safetensors("{}", 0)).ok());
  EXPECT_TRUE(parse(raw_safetensors("  {}  ", 0)).ok());
  EXPECT_EQ(compiler::safetensors_import_dtype("BF16"), fb::DType::BF16);
  EXPECT_FALSE(compiler::safetensors_import_dtype("I32").has_value());
}

TEST(Safetensors, MalformedFilesAreClearErrors) {
  const std::string entry = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  EXPECT_TRUE(parse(raw_safetensors(entry, 16)).ok());
  expect_error(parse({1, 2, 3}), {"bad.safetensors", "too small"});
  expect_error(parse(raw_safetensors(entry, 16, entry.size() + 17)), {"header length", "past the end"});
  expect_error(parse(raw_safetensors(entry, 16, 100'000'001)), {"header length 100000001", "limit"});
  expect_error(parse(raw_safetensors(entry, 16, UINT64_MAX)), {"limit"});
  expect_error(parse(raw_safetensors("{\"w\": {\"dtype\": ", 0)), {"not valid JSON"});
  expect_error(parse(raw_safetensors("[1, 2]", 0)), {"not a JSON object"});
  expect_error(parse(raw_safetensors(std::string("{\"a\xff\": 1}"), 0)), {"not valid JSON"});
  const auto two = [](const char* a, const char* b) {
    return std::string("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":") + a +
           "},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + b + "}}";
  };
  EXPECT_TRUE(parse(raw_safetensors(two("[8,16]", "[0,8]"), 16)).ok());  // any key order
  expect_error(parse(raw_safetensors(two("[0,8]", "[4,12]"), 12)), {"'b'", "overlaps tensor 'a'"});
  expect_error(parse(raw_safetensors(two("[0,8]", "[0,8]"), 8)), {"overlaps"});
  expect_error(parse(raw_safetensors(two("[0,8]", "[12,20]"), 20)), {"bytes [8, 12)", "no tensor", "'b'"});
  expect_error(parse(raw_safetensors(two("[4,12]", "[12,20]"), 20)), {"bytes [0, 4)"});
  expect_error(parse(raw_safetensors(two("[0,8]", "[8,16]"), 24)), {"cover 16 bytes", "holds 24"});
  expect_error(parse(raw_safetensors(two("[0,8]", "[8,16]"), 12)), {"tensor 'b'", "[8, 16]", "past the end"});
  expect_error(parse(raw_safetensors(two("[0,8]", "[16,8]"), 16)), {"tensor 'b'", "end before they begin"});
  expect_error(parse(raw_safetensors(two("[0,8]", "[8,20]"), 20)),
               {"tensor 'b'", "dtype F32 with shape [2] takes 8 bytes", "hold 12"});
  expect_error(parse(raw_safetensors(two("[0,8]", "[8]"), 16)), {"tensor 'b'", "data_offsets"});
  expect_error(parse(raw_safetensors(two("[0,8]", "[8,-16]"), 16)), {"tensor 'b'", "data_offsets"});
  expect_error(parse(raw_safetensors(R"({"q":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}})", 16)),
               {"tensor 'q'", "unknown dtype 'F128'"});
  expect_error(parse(raw_safetensors(R"({"q":{"shape":[1],"data_offsets":[0,4]}})", 4)), {"tensor 'q'", "dtype"});
  expect_error(parse(raw_safetensors(R"({"q":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4)),
               {"tensor 'q'", "shape"});
  expect_error(
      parse(raw_safetensors(R"({"q":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4)),
      {"tensor 'q'", "overflows"});
  expect_error(parse(raw_safetensors(R"({"q":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2)),
               {"tensor 'q'", "whole number of bytes"});
  expect_error(parse(raw_safetensors(R"({"q":[1,2]})", 0)), {"tensor 'q'", "not a JSON object"});
  expect_error(parse(raw_safetensors(R"({"__metadata__":{"k":1}})", 0)), {"__metadata__", "'k'"});
  expect_error(parse(raw_safetensors(R"({"__metadata__":[]})", 0)), {"__metadata__"});
  expect_error(parse(raw_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                                     16)),
               {"names 'a' twice"});
}

TEST(Safetensors, OpeningFilesNamesThem) {
  TempDir dir;
  compiler::SafetensorsCheckpoint c;
  expect_error(compiler::open_safetensors(dir.file("absent.safetensors"), &c), {"absent.safetensors"});
  write_file(dir.file("model.safetensors"),
             raw_safetensors(R"({"q":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}})", 2));
  expect_error(compiler::open_safetensors(dir.file("model.safetensors"), &c), {"model.safetensors", "tensor 'q'"});
  write_text(dir.path() / "x.index.json", "{\"weight_map\": {\"q\": 5}}");
  expect_error(compiler::open_safetensors(dir.file("x.index.json"), &c), {"x.index.json", "'q'", "not a file name"});
  write_text(dir.path() / "x.index.json", "not json");
  expect_error(compiler::open_safetensors(dir.file("x.index.json"), &c), {"x.index.json", "not valid JSON"});
}

// ---- ingotc build on a directory ----

int run(const std::string& cmd) { return std::system((cmd + " > /dev/null 2>&1").c_str()); }

TEST(HfCli, IngotcBuildsADirectory) {
  REQUIRE_STORIES();
  TempDir dir;
  const std::string ingotc = INGOTC_BIN;
  ASSERT_EQ(run(ingotc + " build " + shared_path(kHfDir) + "/ -o " + dir.file("a.ingot") + " --dtype f32"), 0);
  std::unique_ptr<runtime::Model> m;
  ASSERT_TRUE(runtime::Model::load(dir.file("a.ingot"), {.verify_checksums = true, .progress = {}}, &m).ok());
  EXPECT_EQ(m->rope().form, fb::RopeForm::Half);
  EXPECT_EQ(runtime::prompt_tokens(*m, "Once upon a time"), (std::vector<int32_t>{1, 403, 407, 261, 378}));
  // --tokenizer replaces the directory's own (here the llama2.c tokenizer.bin of the same vocabulary).
  ASSERT_EQ(run(ingotc + " build " + shared_path(kHfDir) + " -o " + dir.file("b.ingot") + " --tokenizer " +
                shared_path("models/stories260K/tok512.bin")),
            0);
  ASSERT_TRUE(runtime::Model::load(dir.file("b.ingot"), {}, &m).ok());
  EXPECT_EQ(runtime::prompt_tokens(*m, "Once upon a time"), (std::vector<int32_t>{1, 403, 407, 261, 378}));
  EXPECT_NE(run(ingotc + " build " + dir.path().string() + " -o " + dir.file("c.ingot")), 0);
}

}  // namespace
}  // namespace ingot::test
