// The GGUF importer: a GGUF file written here from stories260K by a small writer that follows the
// published format (tests/support/gguf_writer.h, from ggml docs/gguf.md), imported
// and compared with the llama2.c import of the same weights; then corrupt files, each of which
// must give a clear error and never a crash.
#include <gtest/gtest.h>

#include <random>

#include "cpu/rope.h"
#include "generate.h"
#include "import/gguf.h"
#include "import/gguf_file.h"
#include "import/hf_tokenizer.h"
#include "gguf_writer.h"
#include "interop_support.h"

namespace ingot::test {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> encode(std::span<const uint8_t> f32_bytes, uint32_t type) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 4 <= f32_bytes.size(); i += 4) {
    float f;
    std::memcpy(&f, f32_bytes.data() + i, 4);
    if (type == 0) {
      out.insert(out.end(), f32_bytes.data() + i, f32_bytes.data() + i + 4);
    } else if (type == 1) {
      const _Float16 h = static_cast<_Float16>(f);
      const auto* p = reinterpret_cast<const uint8_t*>(&h);
      out.insert(out.end(), p, p + 2);
    } else {  // BF16, round to nearest even (no NaN here)
      uint32_t u;
      std::memcpy(&u, &f, 4);
      const uint16_t h = uint16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16);
      out.push_back(uint8_t(h)), out.push_back(uint8_t(h >> 8));
    }
  }
  return out;
}

// llama.cpp's tensor names for the canonical ones.
std::string gguf_name(const std::string& canonical) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"attention_norm.weight", "attn_norm.weight"}, {"attention.wq.weight", "attn_q.weight"},
      {"attention.wk.weight", "attn_k.weight"},      {"attention.wv.weight", "attn_v.weight"},
      {"attention.wo.weight", "attn_output.weight"}, {"ffn_norm.weight", "ffn_norm.weight"},
      {"feed_forward.w1.weight", "ffn_gate.weight"}, {"feed_forward.w2.weight", "ffn_down.weight"},
      {"feed_forward.w3.weight", "ffn_up.weight"}};
  if (canonical == "tok_embeddings.weight") return "token_embd.weight";
  if (canonical == "norm.weight") return "output_norm.weight";
  if (canonical == "output.weight") return "output.weight";
  const size_t dot = canonical.find('.', 7);
  for (const auto& [ours, theirs] : kMap) {
    if (canonical.substr(dot + 1) == ours) return "blk." + canonical.substr(7, dot - 7) + "." + theirs;
  }
  return canonical;
}

// llama.cpp's llama_token_type numbers.
int32_t gguf_token_type(fb::TokenType t) {
  switch (t) {
    case fb::TokenType::Unknown: return 2;
    case fb::TokenType::Control: return 3;
    case fb::TokenType::UserDefined: return 4;
    case fb::TokenType::Unused: return 5;
    case fb::TokenType::Byte: return 6;
    default: return 1;
  }
}

std::vector<Kv> stories_kvs() {
  const fb::TokenizerT& tok = stories_llama2c().tokenizer;
  std::vector<int32_t> types;
  for (fb::TokenType t : tok.types) types.push_back(gguf_token_type(t));
  return {kv_str("general.architecture", "llama"),
          kv_str("general.name", "stories260K"),
          kv_u32("general.alignment", 32),
          kv_u32("llama.context_length", 512),
          kv_u32("llama.embedding_length", 64),
          kv_u32("llama.block_count", 5),
          kv_u32("llama.feed_forward_length", 172),
          kv_u32("llama.attention.head_count", 8),
          kv_u32("llama.attention.head_count_kv", 4),
          kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f),
          kv_f32("llama.rope.freq_base", 10000.0f),
          kv_u32("llama.rope.dimension_count", 8),
          kv_str("tokenizer.ggml.model", "llama"),
          kv_strs("tokenizer.ggml.tokens", tok.pieces),
          kv_f32s("tokenizer.ggml.scores", tok.scores),
          kv_i32s("tokenizer.ggml.token_type", types),
          kv_u32("tokenizer.ggml.bos_token_id", 1),
          kv_u32("tokenizer.ggml.eos_token_id", 2),
          kv_u32("tokenizer.ggml.unknown_token_id", 0),
          kv_bool("tokenizer.ggml.add_bos_token", true),
          kv_str("tokenizer.chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}")};
}

// stories260K's tensors (llama2.c's interleaved q/k rows are llama.cpp's order too); matrices
// in `type`, norms F32 as llama.cpp's converter keeps them.
std::vector<GgTensor> stories_tensors(uint32_t type) {
  std::vector<GgTensor> out;
  for (const compiler::SourceTensor& t : stories_llama2c().tensors) {
    const uint32_t ty = t.shape.size() == 1 ? 0 : type;
    out.push_back({gguf_name(t.name), {t.shape.rbegin(), t.shape.rend()}, ty, encode(t.bytes, ty)});
  }
  return out;
}

format::Status import_file(const std::string& path, compiler::SourceModel* m) { return compiler::import_gguf(path, m); }

TEST(GgufStories260K, LogitsEqualTheLlama2cImport) {
  REQUIRE_STORIES_BIN();
  for (const auto& [type, dtype] : {std::pair{0u, fb::DType::F32}, std::pair{1u, fb::DType::F16},
                                    std::pair{30u, fb::DType::BF16}}) {
    SCOPED_TRACE(format::dtype_name(dtype));
    TempDir tmp;
    write_file(tmp.file("s.gguf"), gguf_bytes(stories_kvs(), stories_tensors(type)));
    EXPECT_TRUE(compiler::looks_like_gguf(tmp.file("s.gguf")));
    compiler::SourceModel m;
    const format::Status s = import_file(tmp.file("s.gguf"), &m);
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
    EXPECT_EQ(c.rope_form, fb::RopeForm::Interleaved);
    EXPECT_TRUE(c.tied_embeddings);
    EXPECT_EQ(c.bos_id, 1);
    EXPECT_EQ(c.eos_id, 2);
    EXPECT_EQ(m.tokenizer.kind, fb::TokenizerKind::SentencePieceBpe);
    EXPECT_EQ(m.tokenizer.pieces, stories_llama2c().tokenizer.pieces);
    EXPECT_EQ(m.tokenizer.scores, stories_llama2c().tokenizer.scores);
    EXPECT_EQ(m.tokenizer.types, stories_llama2c().tokenizer.types);
    EXPECT_TRUE(m.tokenizer.byte_fallback);
    EXPECT_EQ(m.tokenizer.chat_template, "{% for m in messages %}{{ m.content }}{% endfor %}");
    auto gguf = compile_model(std::move(m), tmp.file("g.ingot"), dtype);
    auto l2c = compile_model(copy_model(stories_llama2c()), tmp.file("l.ingot"), dtype);
    ASSERT_TRUE(gguf && l2c);
    EXPECT_EQ(logits(*gguf), logits(*l2c));  // the same weights, bit for bit
    EXPECT_EQ(runtime::prompt_tokens(*gguf, "Once upon a time"), (std::vector<int32_t>{1, 403, 407, 261, 378}));
  }
}

TEST(GgufStories260K, IngotcBuildsAGgufFile) {
  REQUIRE_STORIES_BIN();
  TempDir tmp;
  write_file(tmp.file("s.gguf"), gguf_bytes(stories_kvs(), stories_tensors(1)));
  const std::string cmd = std::string(INGOTC_BIN) + " build " + tmp.file("s.gguf") + " -o " + tmp.file("s.ingot") +
                          " > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::unique_ptr<runtime::Model> m;
  ASSERT_TRUE(runtime::Model::load(tmp.file("s.ingot"), {}, &m).ok());
}

// A one-layer model of dim 8 with the LLaMA-3 vocabulary (tokenizer.ggml.model "gpt2", pre
// "llama-bpe", as llama.cpp's converter writes it): the tokenizer must equal the one imported
// from tokenizer.json.
TEST(GgufTokenizer, Llama3ByteLevelBpeEqualsTheTokenizerJsonImport) {
  INGOT_REQUIRE_SHARED(kLlama3Json);
  fb::TokenizerT hf;
  compiler::HfTokenizerIds ids;
  ASSERT_TRUE(compiler::load_hf_tokenizer(shared_path(kLlama3Json), shared_path(kLlama3Config), &hf, &ids, nullptr).ok());
  const uint64_t vocab = hf.pieces.size(), dim = 8, ffn = 16;
  std::vector<int32_t> types;
  for (fb::TokenType t : hf.types) types.push_back(gguf_token_type(t));
  const std::vector<Kv> kvs = {kv_str("general.architecture", "llama"), kv_u32("llama.context_length", 64),
                               kv_u32("llama.embedding_length", 8), kv_u32("llama.block_count", 1),
                               kv_u32("llama.feed_forward_length", 16), kv_u32("llama.attention.head_count", 2),
                               kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f),
                               kv_f32("llama.rope.freq_base", 500000.0f), kv_str("tokenizer.ggml.model", "gpt2"),
                               kv_str("tokenizer.ggml.pre", "llama-bpe"), kv_strs("tokenizer.ggml.tokens", hf.pieces),
                               kv_i32s("tokenizer.ggml.token_type", types), kv_strs("tokenizer.ggml.merges", hf.merges),
                               kv_u32("tokenizer.ggml.bos_token_id", 128000), kv_u32("tokenizer.ggml.eos_token_id", 128001),
                               kv_u32("tokenizer.ggml.eot_token_id", 128009)};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-0.1f, 0.1f);
  const auto tensor = [&](const std::string& name, std::vector<uint64_t> ne) {
    size_t n = 1;
    for (uint64_t d : ne) n *= size_t(d);
    std::vector<float> v(n);
    for (float& x : v) x = u(rng);
    return GgTensor{name, std::move(ne), 1, encode({reinterpret_cast<const uint8_t*>(v.data()), n * 4}, 1)};
  };
  std::vector<GgTensor> tensors = {tensor("token_embd.weight", {dim, vocab}), tensor("blk.0.attn_norm.weight", {dim}),
                                   tensor("blk.0.attn_q.weight", {dim, dim}), tensor("blk.0.attn_k.weight", {dim, dim}),
                                   tensor("blk.0.attn_v.weight", {dim, dim}), tensor("blk.0.attn_output.weight", {dim, dim}),
                                   tensor("blk.0.ffn_norm.weight", {dim}), tensor("blk.0.ffn_gate.weight", {dim, ffn}),
                                   tensor("blk.0.ffn_down.weight", {ffn, dim}), tensor("blk.0.ffn_up.weight", {dim, ffn}),
                                   tensor("output_norm.weight", {dim})};
  TempDir tmp;
  write_file(tmp.file("l3.gguf"), gguf_bytes(kvs, tensors));
  compiler::SourceModel m;
  const format::Status s = import_file(tmp.file("l3.gguf"), &m);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(m.tokenizer.kind, fb::TokenizerKind::ByteLevelBpe);
  EXPECT_EQ(m.tokenizer.pieces, hf.pieces);
  EXPECT_EQ(m.tokenizer.merges, hf.merges);
  EXPECT_EQ(m.tokenizer.types, hf.types);
  EXPECT_EQ(m.tokenizer.pre_tokenizer_pattern, hf.pre_tokenizer_pattern);
  EXPECT_EQ(m.config.vocab_size, 128256u);
  EXPECT_EQ(m.config.bos_id, 128000);
  EXPECT_EQ(m.config.extra_eos_ids, (std::vector<int32_t>{128009}));
  EXPECT_FLOAT_EQ(m.config.rope_theta, 500000.0f);
  EXPECT_EQ(encode_with(m.tokenizer, kTokenizerText), encode_with(hf, kTokenizerText));
  auto model = compile_model(std::move(m), tmp.file("l3.ingot"), fb::DType::F16);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(runtime::prompt_tokens(*model, "Hello world").front(), 128000);
}

// A Llama 3.1-style GGUF: no rope scaling keys, the llama3 rule as rope_freqs.weight, written as
// llama.cpp's converter does (LlamaModel.generate_extra_tensors: float32 torch frequencies
// base^(-2i/d), then per frequency 1, factor, or 1 / ((1 - smooth) / factor + smooth)). The import
// must record the rule, so the runtime's frequencies equal base frequencies / divisors.
std::vector<float> converter_rope_freqs(float base, size_t dim, double factor, double low, double high, double old_ctx) {
  std::vector<float> out;
  for (size_t i = 0; i < dim; i += 2) {
    const float freq = 1.0f / std::pow(base, float(i) / float(dim));
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < old_ctx / high) {
      out.push_back(1);
    } else if (wavelen > old_ctx / low) {
      out.push_back(float(factor));
    } else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      out.push_back(float(1 / ((1 - smooth) / factor + smooth)));
    }
  }
  return out;
}

TEST(GgufImport, RopeFreqsOfLlama31BecomeTheLlama3Rule) {
  REQUIRE_STORIES_BIN();
  // Head dimension 8 and theta 500000: the four frequencies fall in all three regions (kept,
  // blended, divided by the factor) for Llama 3.1's factor 8, low 1, high 4, original 8192.
  const std::vector<float> divisors = converter_rope_freqs(500000.0f, 8, 8.0, 1.0, 4.0, 8192.0);
  ASSERT_EQ(divisors.size(), 4u);
  EXPECT_EQ(divisors[0], 1.0f);
  EXPECT_EQ(divisors[3], 8.0f);
  EXPECT_GT(divisors[2], 1.0f);
  EXPECT_LT(divisors[2], 8.0f);
  std::vector<GgTensor> tensors = stories_tensors(0);
  std::vector<uint8_t> bytes(16);
  std::memcpy(bytes.data(), divisors.data(), 16);
  tensors.push_back({"rope_freqs.weight", {4}, 0, bytes});
  TempDir tmp;
  std::vector<Kv> kvs = stories_kvs();
  for (Kv& kv : kvs) {
    if (kv.key == "llama.rope.freq_base") kv = kv_f32("llama.rope.freq_base", 500000.0f);
  }
  write_file(tmp.file("r.gguf"), gguf_bytes(kvs, tensors));
  compiler::SourceModel m;
  const format::Status s = import_file(tmp.file("r.gguf"), &m);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_TRUE(m.config.rope_scaling);
  EXPECT_EQ(m.config.rope_scaling->type, fb::RopeScalingType::Llama3);
  cpu::RopeParams p;
  p.head_dim = 8;
  p.theta = 500000.0f;
  p.scaling = fb::RopeScalingType::Llama3;
  p.factor = m.config.rope_scaling->factor;
  p.low_freq_factor = m.config.rope_scaling->low_freq_factor;
  p.high_freq_factor = m.config.rope_scaling->high_freq_factor;
  p.original_context_length = float(m.config.rope_scaling->original_context_length);
  const std::vector<float> ours = cpu::rope_inv_freq(p);
  for (size_t i = 0; i < 4; ++i) {
    const double llama_cpp = 1.0 / std::pow(500000.0, double(2 * i) / 8.0) / divisors[i];  // freq / divisor
    EXPECT_NEAR(ours[i], llama_cpp, 1e-6 * llama_cpp) << i;
  }
  // Compiles and runs like any model.
  EXPECT_NE(compile_model(std::move(m), tmp.file("r.ingot"), fb::DType::F32), nullptr);
}

// ---- metadata and tensors the importer refuses ----

void expect_import_error(const std::vector<Kv>& kvs, const std::vector<GgTensor>& tensors,
                         std::initializer_list<const char*> parts) {
  TempDir tmp;
  write_file(tmp.file("x.gguf"), gguf_bytes(kvs, tensors));
  compiler::SourceModel m;
  const format::Status s = import_file(tmp.file("x.gguf"), &m);
  ASSERT_FALSE(s.ok()) << "expected an error mentioning " << *parts.begin();
  for (const char* p : parts) EXPECT_NE(s.message().find(p), std::string::npos) << p << " not in: " << s.message();
}

std::vector<Kv> with(std::vector<Kv> kvs, const Kv& replace) {
  for (Kv& kv : kvs) {
    if (kv.key == replace.key) {
      kv = replace;
      return kvs;
    }
  }
  kvs.push_back(replace);
  return kvs;
}

TEST(GgufImport, UnsupportedContentIsAClearError) {
  REQUIRE_STORIES_BIN();
  const std::vector<Kv> kvs = stories_kvs();
  const auto named = [](std::vector<GgTensor>& t, const std::string& name) -> GgTensor& {
    return *std::find_if(t.begin(), t.end(), [&](const GgTensor& x) { return x.name == name; });
  };
  std::vector<GgTensor> q4k = stories_tensors(0);
  named(q4k, "blk.0.attn_q.weight").type = 12;  // Q4_K: rows of 64 are not whole 256-weight blocks
  expect_import_error(kvs, q4k, {"Q4_K", "blk.0.attn_q.weight", "256-weight blocks"});
  std::vector<GgTensor> iq = stories_tensors(0);
  named(iq, "blk.3.ffn_up.weight").type = 16;  // IQ2_XXS: a type the importer does not read
  expect_import_error(kvs, iq, {"IQ2_XXS", "blk.3.ffn_up.weight", "Q4_0"});
  expect_import_error(with(kvs, kv_str("general.architecture", "gemma")), stories_tensors(0), {"gemma"});
  expect_import_error(with(kvs, kv_u32("llama.rope.dimension_count", 4)), stories_tensors(0), {"partial rotary"});
  expect_import_error(with(kvs, kv_u32("llama.feed_forward_length", 128)), stories_tensors(0),
                      {"blk.0.ffn_gate.weight", "[172, 64]", "[128, 64]"});
  expect_import_error(with(kvs, kv_u32("tokenizer.ggml.bos_token_id", 512)), stories_tensors(0), {"bos_token_id"});
  expect_import_error(with(kvs, kv_str("tokenizer.ggml.model", "bert")), stories_tensors(0), {"bert"});
  expect_import_error(with(kvs, kv_f32s("tokenizer.ggml.scores", {1.0f})), stories_tensors(0),
                      {"tokenizer.ggml.scores", "1 elements"});
  expect_import_error(with(kvs, kv_str("llama.block_count", "5")), stories_tensors(0), {"llama.block_count"});
  std::vector<GgTensor> missing = stories_tensors(0);
  missing.erase(std::find_if(missing.begin(), missing.end(), [](const GgTensor& x) { return x.name == "blk.0.attn_k.weight"; }));
  expect_import_error(kvs, missing, {"blk.0.attn_k.weight", "missing"});
  std::vector<GgTensor> extra = stories_tensors(0);
  extra.push_back({"rope_freqs.weight", {4}, 0, std::vector<uint8_t>(16)});  // divisors of 0
  expect_import_error(kvs, extra, {"rope_freqs", "llama3 scaling"});
  extra.back().ne = {3};
  extra.back().data.resize(12);
  expect_import_error(kvs, extra, {"rope_freqs", "F32 [4]"});
  extra.back().ne = {4};
  extra.back().name = "blk.9.attn_q.weight";
  expect_import_error(kvs, extra, {"blk.9.attn_q.weight", "not part of"});
}

// ---- the reader on corrupt files ----

// A tiny file: two key-values (one an array) and two F32 tensors.
std::vector<uint8_t> tiny() {
  return gguf_bytes({kv_str("general.architecture", "llama"), kv_f32s("a", {1, 2, 3}), kv_u32("general.alignment", 32)},
                    {{"t0", {4, 2}, 0, std::vector<uint8_t>(32, 1)}, {"t1", {3}, 0, std::vector<uint8_t>(12, 2)}});
}

format::Status parse(const std::vector<uint8_t>& b, compiler::GgufFile* f = nullptr) {
  compiler::GgufFile ignored;
  return compiler::parse_gguf(b, "x.gguf", f != nullptr ? f : &ignored);
}

void expect_parse_error(const std::vector<uint8_t>& b, std::initializer_list<const char*> parts) {
  const format::Status s = parse(b);
  ASSERT_FALSE(s.ok()) << "expected an error mentioning " << *parts.begin();
  for (const char* p : parts) EXPECT_NE(s.message().find(p), std::string::npos) << p << " not in: " << s.message();
}

// Offsets in tiny(): magic 0, version 4, n_tensors 8, n_kv 16, first key at 24.
template <typename T>
std::vector<uint8_t> patched(std::vector<uint8_t> b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
  return b;
}
size_t find(const std::vector<uint8_t>& b, const std::string& s) {
  return size_t(std::search(b.begin(), b.end(), s.begin(), s.end()) - b.begin());
}

TEST(GgufReader, AWellFormedTinyFile) {
  compiler::GgufFile f;
  const std::vector<uint8_t> bytes = tiny();  // the parsed tensors view these bytes: keep them alive
  const format::Status s = parse(bytes, &f);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.kv.at("general.architecture").s, "llama");
  EXPECT_EQ(f.kv.at("a").numbers, (std::vector<double>{1, 2, 3}));
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[1].offset, 32u);
  EXPECT_EQ(f.tensors[1].bytes.size(), 12u);
  EXPECT_EQ(f.tensors[1].bytes[0], 2);
}

TEST(GgufReader, EveryTruncationIsAnError) {
  const std::vector<uint8_t> b = tiny();
  // Everything up to the last tensor's last byte is needed (its padding is not).
  for (size_t n = 0; n < b.size() - 20; ++n) {
    const format::Status s = parse(std::vector<uint8_t>(b.begin(), b.begin() + long(n)));
    EXPECT_FALSE(s.ok()) << "accepted a file cut to " << n << " of " << b.size() << " bytes";
  }
}

TEST(GgufReader, HugeCountsAndSizes) {
  const std::vector<uint8_t> b = tiny();
  expect_parse_error(patched(b, 16, uint64_t(1) << 62), {"key-value pairs cannot fit"});
  expect_parse_error(patched(b, 8, ~uint64_t(0)), {"tensors cannot fit"});
  expect_parse_error(patched(b, 24, ~uint64_t(0)), {"key 0", "claims"});  // key length
  const size_t a = find(b, std::string("a", 1) + std::string("\x09\0\0\0", 4));  // key "a", type array
  expect_parse_error(patched(b, a + 1 + 8, ~uint64_t(0) / 2), {"array 'a'", "claims"});
  const size_t t0 = find(b, "t0");
  expect_parse_error(patched(b, t0 + 2, uint32_t(5)), {"'t0'", "5 dimensions"});
  expect_parse_error(patched(patched(b, t0 + 2 + 4, uint64_t(1) << 40), t0 + 2 + 12, uint64_t(1) << 40),
                     {"'t0'", "overflow"});
  expect_parse_error(patched(b, t0 + 2 + 4, uint64_t(1) << 20), {"'t0'", "runs past the end"});
  expect_parse_error(patched(b, t0 + 2 + 4, uint64_t(0)), {"'t0'", "zero"});
  const size_t t1 = find(b, "t1");
  expect_parse_error(patched(b, t1 + 2 + 4 + 8 + 4, ~uint64_t(0) - 31), {"'t1'", "past the end"});
  expect_parse_error(patched(b, t1 + 2 + 4 + 8 + 4, uint64_t(0)), {"overlap"});
  expect_parse_error(patched(b, t1 + 2 + 4 + 8 + 4, uint64_t(16)), {"'t1'", "multiple of the alignment"});
}

TEST(GgufReader, BadAlignmentTypesAndStructure) {
  const std::vector<uint8_t> b = tiny();
  const size_t al = find(b, "general.alignment") + 17;  // its type, then the value
  expect_parse_error(patched(b, al + 4, uint32_t(0)), {"alignment 0", "power of two"});
  expect_parse_error(patched(b, al + 4, uint32_t(48)), {"alignment 48"});
  expect_parse_error(patched(b, al, uint32_t(5)), {"general.alignment", "not a u32"});  // i32
  expect_parse_error(patched(b, al, uint32_t(13)), {"general.alignment", "unknown value type 13"});
  const size_t t0 = find(b, "t0");
  expect_parse_error(patched(b, t0 + 2 + 4 + 16, uint32_t(4)), {"'t0'", "unknown ggml type 4"});
  expect_parse_error(patched(b, t0 + 2 + 4 + 16, uint32_t(1000)), {"'t0'", "unknown ggml type 1000"});
  const size_t a = find(b, std::string("a", 1) + std::string("\x09\0\0\0", 4));
  expect_parse_error(patched(b, a + 5, uint32_t(9)), {"array 'a'", "arrays"});
  expect_parse_error(patched(b, 0, uint32_t(0x46554746)), {"not a GGUF file"});
  expect_parse_error(patched(b, 4, uint32_t(1)), {"version 1"});
  std::vector<uint8_t> twice = gguf_bytes({kv_u32("k", 1), kv_u32("k", 2)}, {});
  expect_parse_error(twice, {"'k' appears twice"});
  twice = gguf_bytes({}, {{"t", {1}, 0, std::vector<uint8_t>(4)}, {"t", {1}, 0, std::vector<uint8_t>(4)}});
  expect_parse_error(twice, {"'t' appears twice"});
  std::vector<uint8_t> flag = gguf_bytes({kv_bool("f", true)}, {});
  flag[find(flag, "f") + 5] = 7;
  expect_parse_error(flag, {"bool holds 7"});
}

TEST(GgufReader, RandomCorruptionNeverCrashes) {
  const std::vector<uint8_t> b = tiny();
  std::mt19937 rng(7);
  size_t rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> c = b;
    for (int j = 0; j < 1 + int(rng() % 4); ++j) c[rng() % c.size()] = uint8_t(rng());
    rejected += !parse(c).ok();
  }
  EXPECT_GT(rejected, 1000u);  // most flips in the metadata are caught; none crashes
}

}  // namespace
}  // namespace ingot::test
