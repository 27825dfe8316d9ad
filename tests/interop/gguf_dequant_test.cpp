// The GGUF dequantizer (compiler/src/import/gguf_dequant.cpp) against gguf-py's
// gguf.quants.dequantize, bit for bit:
//   - random blocks of all ten types in a GGUF written by gguf-py's GGUFWriter (Q4_0 ... Q8_0
//     quantized by gguf-py's own quantizers, k-quants random bytes with finite f16 scales), made
//     at test time by tests/oracle/gguf_blocks.py;
//   - every tensor of the shared SmolLM2-135M-Instruct Q4_1 file (210 Q4_1, 1 Q8_0, 61 F32);
// then the importer's handling of quantized files: dequantized f32 tensors, the source types
// recorded, refused types named, truncated or mis-shaped quantized tensors refused.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "gguf_writer.h"
#include "import/gguf.h"
#include "import/gguf_dequant.h"
#include "import/gguf_file.h"
#include "python_oracle.h"
#include "run_command.h"
#include "sample_container.h"
#include "shared_assets.h"

namespace ingot::test {
namespace {

constexpr const char* kSmol = "models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf";

// The first mismatch of our dequantization of `t` with the f32 file `expected_path`; "" if equal.
std::string compare_tensor(const compiler::GgufTensor& t, const std::string& expected_path) {
  const std::vector<uint8_t> expected = read_file(expected_path);
  uint64_t n = 1;
  for (uint64_t d : t.ne) n *= d;
  if (expected.size() != n * 4) {
    return "gguf-py gave " + std::to_string(expected.size() / 4) + " values, the shape holds " + std::to_string(n);
  }
  std::vector<float> ours(static_cast<size_t>(n));
  if (compiler::is_dequantizable_ggml_type(t.type)) {
    compiler::dequantize_ggml(t.type, t.bytes, ours);
  } else if (t.type == compiler::kGgmlF32) {
    std::memcpy(ours.data(), t.bytes.data(), size_t(n) * 4);
  } else {
    return "not a type this test covers";
  }
  if (std::memcmp(ours.data(), expected.data(), expected.size()) == 0) return "";
  for (size_t i = 0; i < ours.size(); ++i) {
    float e;
    std::memcpy(&e, expected.data() + 4 * i, 4);
    uint32_t a, b;
    std::memcpy(&a, &ours[i], 4), std::memcpy(&b, &e, 4);
    if (a != b) {
      std::ostringstream s;
      s.precision(9);
      s << "value " << i << " (block " << i / compiler::ggml_block_type(t.type)->block_size << "): ours " << ours[i]
        << " (0x" << std::hex << a << "), gguf-py " << e << " (0x" << b << ")";
      return s.str();
    }
  }
  return "";
}

TEST(GgufDequant, RandomBlocksOfEveryTypeEqualGgufPy) {
  INGOT_REQUIRE_ORACLE(python);
  TempDir tmp;
  const CommandResult made =
      run_command("'" + python + "' '" + oracle_script("gguf_blocks.py") + "' random '" + tmp.path().string() + "' 2>&1");
  ASSERT_EQ(made.exit_code, 0) << made.out;
  const std::vector<uint8_t> bytes = read_file(tmp.file("blocks.gguf"));
  compiler::GgufFile f;
  const format::Status s = compiler::parse_gguf(bytes, "blocks.gguf", &f);  // a file gguf-py wrote
  ASSERT_TRUE(s.ok()) << s.to_string();
  std::map<std::string, int> seen;
  for (const compiler::GgufTensor& t : f.tensors) {
    SCOPED_TRACE(t.name);
    ASSERT_TRUE(compiler::is_dequantizable_ggml_type(t.type)) << compiler::ggml_type_name(t.type);
    ASSERT_FALSE(t.bytes.empty());
    EXPECT_EQ(compare_tensor(t, tmp.file(t.name + ".f32")), "");
    ++seen[std::string(compiler::ggml_type_name(t.type))];
  }
  for (const char* type : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"}) {
    EXPECT_EQ(seen[type], 1) << type;
  }
}

TEST(GgufDequant, EveryTensorOfSmolLM2EqualsGgufPy) {
  INGOT_REQUIRE_SHARED(kSmol);
  INGOT_REQUIRE_ORACLE(python);
  TempDir tmp;
  const CommandResult made = run_command("'" + python + "' '" + oracle_script("gguf_blocks.py") + "' dequant '" +
                                         shared_path(kSmol) + "' '" + tmp.path().string() + "' 2>&1");
  ASSERT_EQ(made.exit_code, 0) << made.out;
  const std::vector<uint8_t> bytes = read_file(shared_path(kSmol));
  compiler::GgufFile f;
  const format::Status s = compiler::parse_gguf(bytes, kSmol, &f);
  ASSERT_TRUE(s.ok()) << s.to_string();
  std::map<std::string, int> by_type;
  for (const compiler::GgufTensor& t : f.tensors) {
    SCOPED_TRACE(t.name);
    EXPECT_EQ(compare_tensor(t, tmp.file(t.name + ".f32")), "");
    ++by_type[std::string(compiler::ggml_type_name(t.type))];
  }
  EXPECT_EQ(by_type, (std::map<std::string, int>{{"F32", 61}, {"Q4_1", 210}, {"Q8_0", 1}}));
}

// ---- the importer on quantized files (synthetic, no oracle needed) ----

// A one-layer LLaMA of dim 32 (ffn 64, 2 heads, vocabulary of 32 SentencePiece-like pieces)
// whose matrices are `type` blocks of random bytes with finite scales (bytes given by `fill`).
struct Tiny {
  std::vector<Kv> kvs;
  std::vector<GgTensor> tensors;
};

uint64_t bytes_of(uint32_t type, uint64_t n) {
  uint64_t b = 0;
  EXPECT_TRUE(compiler::ggml_tensor_bytes(type, n, &b));
  return b;
}

Tiny tiny_model(uint32_t type) {
  const uint64_t dim = type >= 10 && type <= 14 ? 256 : 32, ffn = 2 * dim, vocab = 32;
  std::vector<std::string> pieces = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  for (int i = 3; i < int(vocab); ++i) pieces.push_back(std::string(1, char('a' + i - 3))), scores.push_back(-float(i)), types.push_back(1);
  Tiny t;
  t.kvs = {kv_str("general.architecture", "llama"), kv_u32("llama.context_length", 64),
           kv_u32("llama.embedding_length", uint32_t(dim)), kv_u32("llama.block_count", 1),
           kv_u32("llama.feed_forward_length", uint32_t(ffn)), kv_u32("llama.attention.head_count", 2),
           kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f), kv_str("tokenizer.ggml.model", "llama"),
           kv_strs("tokenizer.ggml.tokens", pieces), kv_f32s("tokenizer.ggml.scores", scores),
           kv_i32s("tokenizer.ggml.token_type", types), kv_u32("tokenizer.ggml.bos_token_id", 1),
           kv_u32("tokenizer.ggml.eos_token_id", 2)};
  std::mt19937 rng(3);
  const auto matrix = [&](const std::string& name, uint64_t in, uint64_t out) {
    std::vector<uint8_t> b(size_t(bytes_of(type, in * out)));
    for (uint8_t& x : b) x = uint8_t(rng() & 0x3b);  // bit 14 of every half clear: no inf/nan
    return GgTensor{name, {in, out}, type, b};
  };
  const auto norm = [&](const std::string& name) {
    std::vector<uint8_t> b(size_t(dim) * 4);
    for (size_t i = 0; i < dim; ++i) {
      const float one = 1.0f;
      std::memcpy(b.data() + 4 * i, &one, 4);
    }
    return GgTensor{name, {dim}, 0, b};
  };
  t.tensors = {matrix("token_embd.weight", dim, vocab),    norm("blk.0.attn_norm.weight"),
               matrix("blk.0.attn_q.weight", dim, dim),     matrix("blk.0.attn_k.weight", dim, dim),
               matrix("blk.0.attn_v.weight", dim, dim),     matrix("blk.0.attn_output.weight", dim, dim),
               norm("blk.0.ffn_norm.weight"),               matrix("blk.0.ffn_gate.weight", dim, ffn),
               matrix("blk.0.ffn_down.weight", ffn, dim),   matrix("blk.0.ffn_up.weight", dim, ffn),
               norm("output_norm.weight")};
  return t;
}

format::Status import_bytes(const std::vector<uint8_t>& bytes, compiler::SourceModel* m) {
  TempDir tmp;
  write_file(tmp.file("q.gguf"), bytes);
  return compiler::import_gguf(tmp.file("q.gguf"), m);
}

TEST(GgufQuantizedImport, EveryTypeImportsAsItsDequantization) {
  for (uint32_t type : {2u, 3u, 6u, 7u, 8u, 10u, 11u, 12u, 13u, 14u}) {
    const std::string name(compiler::ggml_type_name(type));
    SCOPED_TRACE(name);
    const Tiny t = tiny_model(type);
    compiler::SourceModel m;
    const format::Status s = import_bytes(gguf_bytes(t.kvs, t.tensors), &m);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(m.quantized_source);
    ASSERT_EQ(m.tensors.size(), t.tensors.size());
    for (size_t i = 0; i < m.tensors.size(); ++i) {
      const compiler::SourceTensor& st = m.tensors[i];
      EXPECT_EQ(st.dtype, fb::DType::F32);
      const GgTensor& g = t.tensors[i];  // the importer keeps the file's order here
      EXPECT_EQ(st.source_type, g.type == 0 ? "F32" : name) << st.name;
      if (g.type == 0) continue;
      std::vector<float> want(st.bytes.size() / 4);
      compiler::dequantize_ggml(type, g.data, want);
      EXPECT_EQ(std::memcmp(want.data(), st.bytes.data(), st.bytes.size()), 0) << st.name;
    }
    ASSERT_FALSE(m.notes.empty());
    EXPECT_NE(m.notes.back().find("dequantized 8 block-quantized"), std::string::npos) << m.notes.back();
  }
}

void expect_error(const std::vector<uint8_t>& bytes, std::initializer_list<const char*> parts) {
  compiler::SourceModel m;
  const format::Status s = import_bytes(bytes, &m);
  ASSERT_FALSE(s.ok()) << "expected an error mentioning " << *parts.begin();
  for (const char* p : parts) EXPECT_NE(s.message().find(p), std::string::npos) << p << " not in: " << s.message();
}

TEST(GgufQuantizedImport, UnsupportedTruncatedAndMisshapenTensorsAreClearErrors) {
  Tiny t = tiny_model(8);
  // Types ggml defines but this importer does not read are refused by name.
  for (const auto& [type, name] : {std::pair{16u, "IQ2_XXS"}, std::pair{23u, "IQ4_XS"}, std::pair{35u, "TQ2_0"},
                                   std::pair{9u, "Q8_1"}, std::pair{15u, "Q8_K"}, std::pair{39u, "MXFP4"},
                                   std::pair{24u, "I8"}}) {
    Tiny u = t;
    u.tensors[2].type = type;
    expect_error(gguf_bytes(u.kvs, u.tensors), {name, "blk.0.attn_q.weight", "Q4_K"});
  }
  // A row that is not a whole number of blocks: Q8_0 blocks of 32 over rows of 48.
  {
    Tiny u = t;
    u.tensors[2].ne = {48, 32};
    expect_error(gguf_bytes(u.kvs, u.tensors), {"blk.0.attn_q.weight", "rows of 48", "32-weight blocks"});
  }
  // The last tensor's blocks cut short: the file ends inside them.
  {
    Tiny u = t;
    std::swap(u.tensors[2], u.tensors.back());  // a quantized tensor last
    std::vector<uint8_t> b = gguf_bytes(u.kvs, u.tensors);
    b.resize(b.size() - 40);
    expect_error(b, {"blk.0.attn_q.weight", "runs past the end"});
  }
  // Dimensions whose byte size overflows 64 bits although the weight count does not.
  {
    Tiny u = t;
    u.tensors[2].ne = {uint64_t(1) << 40, uint64_t(1) << 21};
    expect_error(gguf_bytes(u.kvs, u.tensors), {"blk.0.attn_q.weight"});
  }
}

TEST(GgufQuantizedImport, ByteSizesOfEveryType) {
  // ggml's type_traits (blck_size, type_size), as gguf-py's GGML_QUANT_SIZES lists them.
  const std::map<uint32_t, std::pair<uint32_t, uint32_t>> ggml = {
      {0, {1, 4}},     {1, {1, 2}},     {30, {1, 2}},     {2, {32, 18}},    {3, {32, 20}},
      {6, {32, 22}},   {7, {32, 24}},   {8, {32, 34}},    {10, {256, 84}},  {11, {256, 110}},
      {12, {256, 144}}, {13, {256, 176}}, {14, {256, 210}}};
  for (const auto& [type, geometry] : ggml) {
    const compiler::GgmlBlockType* b = compiler::ggml_block_type(type);
    ASSERT_NE(b, nullptr) << type;
    EXPECT_EQ(b->block_size, geometry.first) << type;
    EXPECT_EQ(b->type_size, geometry.second) << type;
  }
  uint64_t n = 0;
  EXPECT_FALSE(compiler::ggml_tensor_bytes(8, 33, &n));
  EXPECT_FALSE(compiler::ggml_tensor_bytes(16, 256, &n));  // IQ2_XXS: no geometry here
  EXPECT_FALSE(compiler::ggml_tensor_bytes(8, ~uint64_t(0) / 32 * 32, &n));  // 2^59 blocks of 34 bytes
  EXPECT_TRUE(compiler::ggml_tensor_bytes(14, 512, &n));
  EXPECT_EQ(n, 420u);
}

}  // namespace
}  // namespace ingot::test
