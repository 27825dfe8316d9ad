// Byte-level BPE pre-tokenizers (runtime/src/tokenizer/pre_tokenizer.cpp) against Hugging Face
// `tokenizers`: tests/oracle/hf_pretokenizers.py builds, from SmolLM2's vocabulary and merges, one
// tokenizer per family with the pre_tokenizer section that family publishes (gpt2, llama3, qwen2,
// starcoder = SmolLM's, deepseek-llm, deepseek-coder, falcon, tekken; llama.cpp's default, which no
// tokenizer.json has, as its regex list in Split steps) and encodes every line of the three shared texts, edge cases,
// special-token text and ChatML conversations. ingot must give the same ids:
//   - importing each family's tokenizer.json (the HF importer recognises the section);
//   - importing GGUFs whose tokenizer.ggml.pre names the family (llama.cpp's names), including
//     the shared SmolLM2 file itself ("smollm", add_bos_token false).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "gguf_writer.h"
#include "import/gguf.h"
#include "import/hf_tokenizer.h"
#include "ingot/format/pre_tokenizers.h"
#include "python_oracle.h"
#include "sample_container.h"
#include "shared_assets.h"
#include "tokenizer/tokenizer.h"

namespace ingot::test {
namespace {

using nlohmann::json;

constexpr const char* kSmol = "models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
// The oracle's families (hf_pretokenizers.py FAMILIES): each one a pre-tokenizer name but
// gpt2_prefix (gpt2 with add_prefix_space).
const std::vector<std::string> kFamilies = {"gpt2",         "gpt2_prefix",    "llama3", "qwen2",  "starcoder",
                                            "deepseek-llm", "deepseek-coder", "falcon", "tekken", "default"};
constexpr const char* kTexts[] = {"data/wikitext-2-raw-v1/test.txt", "data/tinystories/tinystories_val.txt",
                                  "data/c4/c4_sample.json"};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

format::Status build(const fb::TokenizerT& t, std::unique_ptr<runtime::Tokenizer>* out) {
  flatbuffers::FlatBufferBuilder b;
  b.Finish(fb::Tokenizer::Pack(b, &t));
  flatbuffers::Verifier v(b.GetBufferPointer(), b.GetSize());
  if (!v.VerifyBuffer<fb::Tokenizer>(nullptr)) return format::fail(format::StatusCode::corrupt_index, "does not verify");
  return runtime::Tokenizer::create(*flatbuffers::GetRoot<fb::Tokenizer>(b.GetBufferPointer()), out);
}

// The oracle's output, made once for the suite.
struct Oracle {
  TempDir dir;
  std::vector<std::string> strings;
  std::map<std::string, std::vector<std::vector<int32_t>>> ids;  // family -> per string
  std::string skip;                                              // why there is none
};

const Oracle& oracle() {
  static const std::unique_ptr<Oracle> o = [] {
    auto r = std::make_unique<Oracle>();
    for (const char* t : kTexts) {
      if (!shared_exists(t)) r->skip = "shared asset " + shared_path(t) + " is absent";
    }
    if (!shared_exists(kSmol)) r->skip = "shared asset " + shared_path(kSmol) + " is absent";
    if (!r->skip.empty()) return r;
    const std::string python = oracle_python(&r->skip);
    if (python.empty()) return r;
    const CommandResult made = run_command("'" + python + "' '" + oracle_script("hf_pretokenizers.py") + "' '" +
                                           shared_path(kSmol) + "' '" + shared_path("") + "' '" +
                                           r->dir.path().string() + "' 2>&1");
    if (made.exit_code != 0) {
      ADD_FAILURE() << "hf_pretokenizers.py failed: " << made.out;
      r->skip = "the oracle failed";
      return r;
    }
    r->strings = json::parse(read_text(r->dir.file("strings.json"))).get<std::vector<std::string>>();
    for (const std::string& f : kFamilies) {
      r->ids[f] = json::parse(read_text(r->dir.file(std::string(f) + ".ids.json"))).get<std::vector<std::vector<int32_t>>>();
    }
    return r;
  }();
  return *o;
}

#define REQUIRE_ORACLE()                                  \
  if (!oracle().skip.empty()) GTEST_SKIP() << oracle().skip

// Every string encoded by `tok` (special-token text parsed) equals the oracle's ids for `family`.
void expect_same_ids(const runtime::Tokenizer& tok, const std::string& family) {
  const Oracle& o = oracle();
  const auto& want = o.ids.at(family);
  ASSERT_EQ(want.size(), o.strings.size());
  size_t wrong = 0;
  for (size_t i = 0; i < o.strings.size(); ++i) {
    const std::vector<int32_t> got = tok.encode(o.strings[i], /*parse_special=*/true);
    if (got == want[i]) continue;
    if (++wrong <= 3) {
      ADD_FAILURE() << family << ": string " << i << " " << json(o.strings[i]).dump().substr(0, 200) << "\n  ours "
                    << json(got).dump().substr(0, 300) << "\n  HF   " << json(want[i]).dump().substr(0, 300);
    }
  }
  EXPECT_EQ(wrong, 0u) << family << ": " << wrong << " of " << o.strings.size() << " strings differ";
}

TEST(PreTokenizer, OracleCoversTheSharedTextsAndChat) {
  REQUIRE_ORACLE();
  const Oracle& o = oracle();
  EXPECT_GT(o.strings.size(), 10000u);  // every non-empty line of the three texts
  size_t chats = 0;
  for (const std::string& s : o.strings) chats += s.find("<|im_start|>assistant\n") != std::string::npos;
  EXPECT_GE(chats, 2u);
}

TEST(PreTokenizer, EachFamilysTokenizerJsonEncodesAsHuggingFace) {
  REQUIRE_ORACLE();
  for (const std::string& family : kFamilies) {
    SCOPED_TRACE(family);
    fb::TokenizerT t;
    compiler::HfTokenizerIds ids;
    const format::Status s =
        compiler::load_hf_tokenizer(oracle().dir.file(family + ".tokenizer.json"), "", &t, &ids, nullptr);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(t.pre_tokenizer, family == "gpt2_prefix" ? "gpt2" : family);
    EXPECT_EQ(t.add_dummy_prefix, family == "gpt2_prefix");
    std::unique_ptr<runtime::Tokenizer> tok;
    const format::Status b = build(t, &tok);
    ASSERT_TRUE(b.ok()) << b.to_string();
    expect_same_ids(*tok, family);
  }
}

// The shared SmolLM2 GGUF's tokenizer header (tokens, types, merges, ids) with another pre name,
// on a one-layer dim-8 model (F32 tensors) so the importer takes it.
std::vector<uint8_t> smol_tokenizer_gguf(const std::string& pre, bool add_space_prefix = false) {
  static const compiler::SourceModel smol = [] {
    compiler::SourceModel m;
    EXPECT_TRUE(compiler::import_gguf(shared_path(kSmol), &m).ok());
    return m;
  }();
  const fb::TokenizerT& t = smol.tokenizer;
  std::vector<int32_t> types;
  for (fb::TokenType ty : t.types) types.push_back(ty == fb::TokenType::Control ? 3 : ty == fb::TokenType::UserDefined ? 4 : 1);
  const uint64_t vocab = t.pieces.size(), dim = 8, ffn = 16;
  std::vector<Kv> kvs = {kv_str("general.architecture", "llama"), kv_u32("llama.context_length", 64),
                               kv_u32("llama.embedding_length", 8), kv_u32("llama.block_count", 1),
                               kv_u32("llama.feed_forward_length", 16), kv_u32("llama.attention.head_count", 2),
                               kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f), kv_str("tokenizer.ggml.model", "gpt2"),
                               kv_str("tokenizer.ggml.pre", pre), kv_strs("tokenizer.ggml.tokens", t.pieces),
                               kv_i32s("tokenizer.ggml.token_type", types), kv_strs("tokenizer.ggml.merges", t.merges),
                               kv_u32("tokenizer.ggml.bos_token_id", 1), kv_u32("tokenizer.ggml.eos_token_id", 2),
                               kv_bool("tokenizer.ggml.add_bos_token", false),
                               kv_bool("tokenizer.ggml.add_space_prefix", add_space_prefix)};
  if (pre.empty()) {  // "": a file without the key
    kvs.erase(std::find_if(kvs.begin(), kvs.end(), [](const Kv& k) { return k.key == "tokenizer.ggml.pre"; }));
  }
  const auto tensor = [](const std::string& name, std::vector<uint64_t> ne) {
    size_t n = 1;
    for (uint64_t d : ne) n *= size_t(d);
    return GgTensor{name, std::move(ne), 0, std::vector<uint8_t>(n * 4, 0)};
  };
  return gguf_bytes(kvs, {tensor("token_embd.weight", {dim, vocab}), tensor("blk.0.attn_norm.weight", {dim}),
                          tensor("blk.0.attn_q.weight", {dim, dim}), tensor("blk.0.attn_k.weight", {dim, dim}),
                          tensor("blk.0.attn_v.weight", {dim, dim}), tensor("blk.0.attn_output.weight", {dim, dim}),
                          tensor("blk.0.ffn_norm.weight", {dim}), tensor("blk.0.ffn_gate.weight", {dim, ffn}),
                          tensor("blk.0.ffn_down.weight", {ffn, dim}), tensor("blk.0.ffn_up.weight", {dim, ffn}),
                          tensor("output_norm.weight", {dim})});
}

TEST(PreTokenizer, GgufPreNamesEncodeAsHuggingFace) {
  REQUIRE_ORACLE();
  // llama.cpp's tokenizer.ggml.pre values, by the family whose published section they stand for.
  // gpt2 with add_space_prefix true: Hugging Face's ByteLevel add_prefix_space.
  // A file without the key: llama.cpp's default.
  for (const auto& [pre, family] : {std::pair{"gpt2", "gpt2"}, std::pair{"gpt2+space", "gpt2_prefix"},
                                    std::pair{"llama-bpe", "llama3"}, std::pair{"qwen2", "qwen2"},
                                    std::pair{"starcoder", "starcoder"}, std::pair{"smollm", "starcoder"},
                                    std::pair{"deepseek-llm", "deepseek-llm"}, std::pair{"deepseek-coder", "deepseek-coder"},
                                    std::pair{"falcon", "falcon"}, std::pair{"tekken", "tekken"},
                                    std::pair{"default", "default"}, std::pair{"", "default"}}) {
    SCOPED_TRACE(pre);
    const std::string name = pre;
    const bool space = name == "gpt2+space";
    TempDir tmp;
    write_file(tmp.file("t.gguf"), smol_tokenizer_gguf(space ? "gpt2" : name, space));
    compiler::SourceModel m;
    const format::Status s = compiler::import_gguf(tmp.file("t.gguf"), &m);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(m.tokenizer.pre_tokenizer, space ? "gpt2" : family);
    EXPECT_EQ(m.tokenizer.add_dummy_prefix, space);
    EXPECT_EQ(m.tokenizer.ignore_merges, name == "llama-bpe" || name == "tekken");
    std::unique_ptr<runtime::Tokenizer> tok;
    ASSERT_TRUE(build(m.tokenizer, &tok).ok());
    expect_same_ids(*tok, family);
  }
}

TEST(PreTokenizer, TheSharedSmolLM2FileItself) {
  REQUIRE_ORACLE();
  compiler::SourceModel m;
  const format::Status s = compiler::import_gguf(shared_path(kSmol), &m);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(m.tokenizer.pre_tokenizer, "starcoder");
  EXPECT_FALSE(m.tokenizer.add_bos);  // tokenizer.ggml.add_bos_token = false
  EXPECT_FALSE(m.tokenizer.add_eos);
  EXPECT_FALSE(m.tokenizer.add_dummy_prefix);
  EXPECT_EQ(m.config.bos_id, 1);
  EXPECT_EQ(m.config.eos_id, 2);
  std::unique_ptr<runtime::Tokenizer> tok;
  ASSERT_TRUE(build(m.tokenizer, &tok).ok());
  expect_same_ids(*tok, "starcoder");
}

TEST(PreTokenizer, UnknownOrUnimplementedNamesAreClearErrors) {
  INGOT_REQUIRE_SHARED(kSmol);
  for (const auto& [pre, says] : {std::pair{"deepseek-v3", "does not implement yet"}, std::pair{"chatglm-bpe", "does not implement yet"},
                                  std::pair{"no-such-pre", "is not a pre-tokenizer ingot knows"}}) {
    TempDir tmp;
    write_file(tmp.file("t.gguf"), smol_tokenizer_gguf(pre));
    compiler::SourceModel m;
    const format::Status s = compiler::import_gguf(tmp.file("t.gguf"), &m);
    ASSERT_FALSE(s.ok()) << pre;
    // The list names every value the importer takes.
    for (const char* part : {pre, says, "smollm", "llama-bpe", "qwen2", "gpt2", "default", "deepseek-llm", "deepseek-coder",
                             "falcon", "tekken", "starcoder", "refact", "exaone"}) {
      EXPECT_NE(s.message().find(part), std::string::npos) << part << " not in: " << s.message();
    }
  }
  // A container naming a pre-tokenizer this runtime lacks is refused when the model loads.
  fb::TokenizerT t;
  t.kind = fb::TokenizerKind::ByteLevelBpe;
  t.pre_tokenizer = "tekken-v9";
  for (int b = 0; b < 256; ++b) t.pieces.push_back(std::string(1, char(b)));
  std::unique_ptr<runtime::Tokenizer> tok;
  const format::Status s = build(t, &tok);
  ASSERT_FALSE(s.ok());
  for (const std::string_view name : format::kPreTokenizerNames) {
    EXPECT_NE(s.message().find("'tekken-v9'"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(name), std::string::npos) << name << " not in: " << s.message();
  }
}

}  // namespace
}  // namespace ingot::test
