// Byte-level BPE: tokenizer.json import, the runtime tokenizer built from the packed
// fb::Tokenizer, ids equal to Hugging Face `tokenizers` (llama3_reference_ids.json, made by
// make_llama3_reference.py), lossless round trips over the shared data files, and clear errors
// for malformed or unsupported tokenizer.json files.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "import/hf_tokenizer.h"
#include "shared_assets.h"
#include "tokenizer/tokenizer.h"

namespace ingot::test {
namespace {

using compiler::HfTokenizerIds;
using nlohmann::json;
using runtime::Tokenizer;

constexpr const char* kTokenizerJson = "models/llama3-tokenizer/tokenizer.json";
constexpr const char* kTokenizerConfig = "models/llama3-tokenizer/tokenizer_config.json";
constexpr std::string_view kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Packs `t` as a container index would hold it and builds the runtime tokenizer from the result.
format::Status build(const fb::TokenizerT& t, std::unique_ptr<Tokenizer>* out) {
  flatbuffers::FlatBufferBuilder b;
  b.Finish(fb::Tokenizer::Pack(b, &t));
  flatbuffers::Verifier v(b.GetBufferPointer(), b.GetSize());
  if (!v.VerifyBuffer<fb::Tokenizer>(nullptr)) {
    return format::fail(format::StatusCode::corrupt_index, "does not verify");
  }
  return runtime::make_byte_level_bpe(*flatbuffers::GetRoot<fb::Tokenizer>(b.GetBufferPointer()), out);
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

// ---- the real LLaMA-3 tokenizer ---------------------------------------------------------------

struct Llama3 {
  fb::TokenizerT data;
  HfTokenizerIds ids;
  std::unique_ptr<Tokenizer> tok;
};

// Imported once for the whole suite (about a second: 128,256 pieces and 280,147 merges).
const Llama3* llama3() {
  static const std::unique_ptr<Llama3> loaded = [] {
    auto l = std::make_unique<Llama3>();
    const auto t0 = std::chrono::steady_clock::now();
    const format::Status s = compiler::load_hf_tokenizer(shared_path(kTokenizerJson), shared_path(kTokenizerConfig),
                                                         &l->data, &l->ids, nullptr);
    if (!s.ok()) {
      ADD_FAILURE() << s.to_string();
      return std::unique_ptr<Llama3>();
    }
    const double t_import = seconds_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    const format::Status b = build(l->data, &l->tok);
    if (!b.ok()) {
      ADD_FAILURE() << b.to_string();
      return std::unique_ptr<Llama3>();
    }
    std::printf("[ timing   ] import tokenizer.json %.2f s, build runtime tokenizer %.2f s\n", t_import,
                seconds_since(t1));
    return l;
  }();
  return loaded.get();
}

#define REQUIRE_LLAMA3()                  \
  INGOT_REQUIRE_SHARED(kTokenizerJson);   \
  INGOT_REQUIRE_SHARED(kTokenizerConfig); \
  const Llama3* l3 = llama3();            \
  ASSERT_NE(l3, nullptr);                 \
  const Tokenizer& tok = *l3->tok

TEST(ByteLevelBpe, ImportsLlama3TokenizerJson) {
  REQUIRE_LLAMA3();
  const fb::TokenizerT& t = l3->data;
  EXPECT_EQ(t.kind, fb::TokenizerKind::ByteLevelBpe);
  EXPECT_EQ(t.pieces.size(), 128256u);
  EXPECT_EQ(t.types.size(), 128256u);
  EXPECT_EQ(t.merges.size(), 280147u);
  EXPECT_EQ(t.merges[0], "\u0120 \u0120");
  EXPECT_EQ(t.special_tokens.size(), 256u);
  EXPECT_EQ(t.pre_tokenizer_pattern, kLlama3Pattern);
  EXPECT_TRUE(t.add_bos);
  EXPECT_FALSE(t.add_eos);
  EXPECT_NE(t.chat_template.find("<|start_header_id|>"), std::string::npos);
  EXPECT_EQ(l3->ids.bos_id, 128000);
  EXPECT_EQ(l3->ids.eos_id, 128001);
  EXPECT_EQ(t.pieces[1917], "\u0120world");
  EXPECT_EQ(t.types[1917], fb::TokenType::Normal);
  EXPECT_EQ(t.types[128009], fb::TokenType::Control);
  EXPECT_EQ(tok.n_vocab(), 128256u);
  EXPECT_EQ(tok.piece(1917), "\u0120world");
  EXPECT_EQ(tok.piece(128009), "<|eot_id|>");
  EXPECT_EQ(tok.piece(-1), "");
  EXPECT_EQ(tok.piece(128256), "");
}

TEST(ByteLevelBpe, KnownIds) {
  REQUIRE_LLAMA3();
  EXPECT_EQ(tok.encode("Hello"), std::vector<int32_t>{9906});
  EXPECT_EQ(tok.encode(" world"), std::vector<int32_t>{1917});
  EXPECT_EQ(tok.encode("Hello world"), (std::vector<int32_t>{9906, 1917}));
  EXPECT_EQ(tok.encode(" the"), std::vector<int32_t>{279});
  EXPECT_EQ(tok.encode("!"), std::vector<int32_t>{0});
  EXPECT_EQ(tok.encode("<|begin_of_text|>", true), std::vector<int32_t>{128000});
  EXPECT_EQ(tok.encode("<|end_of_text|>", true), std::vector<int32_t>{128001});
  EXPECT_EQ(tok.encode("<|eot_id|>", true), std::vector<int32_t>{128009});
  EXPECT_EQ(tok.encode(""), std::vector<int32_t>{});
  EXPECT_EQ(tok.decode_token(-1, 1917), " world");
  EXPECT_EQ(tok.decode_token(9906, 128009), "<|eot_id|>");
  EXPECT_EQ(tok.decode_token(-1, 128256), "");
  EXPECT_EQ(tok.decode({9906, 1917, 0}), "Hello world!");

  // Without parse_special, special-token text is ordinary text and round-trips as such.
  const std::vector<int32_t> plain = tok.encode("<|eot_id|>", false);
  EXPECT_GT(plain.size(), 1u);
  for (int32_t id : plain) EXPECT_LT(id, 128000);
  EXPECT_EQ(tok.decode(plain), "<|eot_id|>");
  // A special token mid-text ends the pre-token before it.
  EXPECT_EQ(tok.encode("Hello<|eot_id|> world", true), (std::vector<int32_t>{9906, 128009, 1917}));
}

TEST(ByteLevelBpe, MatchesHuggingFaceTokenizers) {
  REQUIRE_LLAMA3();
  const std::string path = std::string(INGOT_TOKENIZER_TEST_DIR) + "/llama3_reference_ids.json";
  const json doc = json::parse(read_all(path), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << path;
  ASSERT_TRUE(doc.contains("cases")) << path;
  size_t n_cases = 0;
  size_t n_plain = 0;
  size_t n_ids = 0;
  size_t n_wrong = 0;
  for (const json& c : doc["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const std::vector<int32_t> want = c["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = tok.encode(text, /*parse_special=*/true);
    if (got != want && ++n_wrong <= 10) {
      ADD_FAILURE() << "text " << json(text).dump() << "\n  tokenizers: " << show(want)
                    << "\n  ingot:      " << show(got);
    }
    EXPECT_EQ(tok.decode(got), text) << json(text).dump();
    const std::vector<int32_t> want_plain = c.contains("ids_plain") ? c["ids_plain"].get<std::vector<int32_t>>() : want;
    const std::vector<int32_t> got_plain = tok.encode(text, /*parse_special=*/false);
    if (got_plain != want_plain && ++n_wrong <= 10) {
      ADD_FAILURE() << "text (special tokens as text) " << json(text).dump() << "\n  tokenizers: " << show(want_plain)
                    << "\n  ingot:      " << show(got_plain);
    }
    EXPECT_EQ(tok.decode(got_plain), text) << json(text).dump();
    ++n_cases;
    n_plain += c.contains("ids_plain") ? 1 : 0;
    n_ids += want.size();
  }
  EXPECT_EQ(n_wrong, 0u);
  EXPECT_GE(n_cases, 200u);
  std::printf("[ counts   ] %zu reference strings (%zu with special-token text), %zu ids; %zu mismatches\n", n_cases,
              n_plain, n_ids, n_wrong);
}

// decode(encode(x)) == x for every line of the shared data files, and for each whole file.
TEST(ByteLevelBpe, RoundTripsDataFiles) {
  REQUIRE_LLAMA3();
  struct File {
    const char* path;
    bool json_lines;    // C4: one {"text": ...} record per line
    size_t n_expected;  // lines or records
  };
  const File files[] = {{"data/wikitext-2-raw-v1/test.txt", false, 7248},
                        {"data/tinystories/tinystories_val.txt", false, 8659},
                        {"data/c4/c4_sample.json", true, 200}};
  for (const File& f : files) {
    if (!shared_exists(f.path)) {
      std::printf("[ skipped  ] %s is absent\n", shared_path(f.path).c_str());
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::string all = read_all(shared_path(f.path));
    size_t n = 0;
    size_t n_tokens = 0;
    size_t n_bytes = 0;
    size_t n_wrong = 0;
    for (size_t begin = 0; begin < all.size();) {
      size_t end = all.find('\n', begin);
      end = end == std::string::npos ? all.size() : end + 1;
      std::string text = all.substr(begin, end - begin);  // the line with its '\n'
      begin = end;
      if (f.json_lines) {
        const json record = json::parse(text, nullptr, false);
        ASSERT_FALSE(record.is_discarded()) << f.path << " record " << n;
        text = record["text"].get<std::string>();
      }
      const std::vector<int32_t> ids = tok.encode(text);
      if (tok.decode(ids) != text && ++n_wrong <= 5) {
        ADD_FAILURE() << f.path << " line " << n + 1 << " does not round-trip";
      }
      ++n;
      n_tokens += ids.size();
      n_bytes += text.size();
    }
    EXPECT_EQ(n_wrong, 0u) << f.path;
    EXPECT_EQ(n, f.n_expected) << f.path;
    const std::vector<int32_t> whole = tok.encode(all);
    EXPECT_EQ(tok.decode(whole), all) << f.path << " as one text";
    std::printf(
        "[ counts   ] %s: %zu %s round-trip, %zu bytes -> %zu tokens (%.2f bytes/token); whole file %zu "
        "tokens; %.2f s\n",
        f.path, n, f.json_lines ? "records" : "lines", n_bytes, n_tokens, double(n_bytes) / double(n_tokens),
        whole.size(), seconds_since(t0));
  }
}

TEST(ByteLevelBpe, IllFormedUtf8RoundTrips) {
  REQUIRE_LLAMA3();
  const std::string inputs[] = {"\xff\xfe",
                                "\xc3",
                                "abc\x80"
                                "def",
                                "\xed\xa0\x80 surrogate",
                                "\xc0\xaf overlong",
                                "\xf4\x90\x80\x80",
                                "caf\xc3",
                                "\xe4\xbd truncated",
                                std::string("nul\0inside", 10)};
  for (const std::string& s : inputs) {
    const std::vector<int32_t> ids = tok.encode(s);
    EXPECT_FALSE(ids.empty());
    EXPECT_EQ(tok.decode(ids), s) << json::binary({s.begin(), s.end()}).dump();
  }
  // Every single byte is a token of its own.
  for (int b = 0; b < 256; ++b) {
    const std::string s(1, char(b));
    const std::vector<int32_t> ids = tok.encode(s);
    ASSERT_EQ(ids.size(), 1u) << b;
    EXPECT_EQ(tok.decode(ids), s) << b;
  }
}

TEST(ByteLevelBpe, RefusesAnotherPreTokenizerPattern) {
  fb::TokenizerT t;
  t.kind = fb::TokenizerKind::ByteLevelBpe;
  t.pieces = {"a"};
  t.pre_tokenizer_pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
  std::unique_ptr<Tokenizer> out;
  const format::Status s = build(t, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("pre-tokenizer pattern"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("not supported"), std::string::npos) << s.message();
}

// ---- small hand-made tokenizer.json files ----------------------------------------------------

// GPT-2's byte -> character mapping, as UTF-8 text.
std::string byte_piece(int b) {
  int next = 256;
  for (int x = 0; x < 256; ++x) {
    const bool printable = (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE;
    const int cp = printable ? x : next++;
    if (x != b) continue;
    std::string s;
    if (cp < 0x80) {
      s.push_back(char(cp));
    } else {
      s.push_back(char(0xC0 | (cp >> 6)));
      s.push_back(char(0x80 | (cp & 0x3F)));
    }
    return s;
  }
  return "";
}

// A valid LLaMA-3-shaped tokenizer.json: the 256 byte pieces (ids listed in reverse, so the
// object is not in id order), merges "a b" -> 256 "ab", "ab c" -> 257 "abc", "Ġ w" -> 258 "Ġw",
// one special added token <|s|> = 259, one non-special <x> = 260, and the piece "xyz" = 261 that
// no merge makes (reachable only through ignore_merges).
json tiny_tokenizer_json() {
  json vocab = json::object();
  for (int b = 255; b >= 0; --b) vocab[byte_piece(b)] = b;
  vocab["ab"] = 256;
  vocab["abc"] = 257;
  vocab["\u0120w"] = 258;
  vocab["xyz"] = 261;
  return json{
      {"version", "1.0"},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array(
             {{{"type", "Split"},
               {"pattern", {{"Regex", std::string(kLlama3Pattern)}}},
               {"behavior", "Isolated"},
               {"invert", false}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}})}}},
      {"post_processor", {{"type", "ByteLevel"}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"added_tokens", json::array({{{"id", 259}, {"content", "<|s|>"}, {"special", true}},
                                    {{"id", 260}, {"content", "<x>"}, {"special", false}}})},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"ignore_merges", true},
        {"vocab", vocab},
        {"merges", json::array({"a b", json::array({"ab", "c"}), "\u0120 w"})}}}};
}

format::Status import(const json& tokenizer, const json& config = json(), fb::TokenizerT* out = nullptr,
                      HfTokenizerIds* ids = nullptr) {
  fb::TokenizerT t;
  HfTokenizerIds i;
  return compiler::import_hf_tokenizer(tokenizer.dump(), config.is_null() ? "" : config.dump(), out ? out : &t,
                                       ids ? ids : &i);
}

TEST(ByteLevelBpe, ImportsSmallTokenizerJson) {
  fb::TokenizerT t;
  HfTokenizerIds ids;
  const json config = {{"bos_token", {{"content", "<|s|>"}, {"lstrip", false}}},
                       {"eos_token", "<x>"},
                       {"add_bos_token", false},
                       {"chat_template", json::array({{{"name", "tool_use"}, {"template", "T"}},
                                                      {{"name", "default"}, {"template", "D"}}})}};
  const format::Status s = import(tiny_tokenizer_json(), config, &t, &ids);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_EQ(t.pieces.size(), 262u);
  EXPECT_EQ(t.pieces[0], byte_piece(0));
  EXPECT_EQ(t.pieces[257], "abc");
  EXPECT_EQ(t.merges, (std::vector<std::string>{"a b", "ab c", "\u0120 w"}));
  EXPECT_EQ(t.types[259], fb::TokenType::Control);
  EXPECT_EQ(t.types[260], fb::TokenType::UserDefined);
  EXPECT_EQ(ids.bos_id, 259);
  EXPECT_EQ(ids.eos_id, 260);
  EXPECT_FALSE(t.add_bos);
  EXPECT_EQ(t.chat_template, "D");

  std::unique_ptr<Tokenizer> tok;
  const format::Status b = build(t, &tok);
  ASSERT_TRUE(b.ok()) << b.to_string();
  EXPECT_EQ(tok->encode("abc"), std::vector<int32_t>{257});
  EXPECT_EQ(tok->encode("abcab"), (std::vector<int32_t>{257, 256}));
  EXPECT_EQ(tok->encode("cabab"), (std::vector<int32_t>{'c', 256, 256}));  // lowest rank, leftmost first
  // ignore_merges: a pre-token that is a piece is emitted whole, even if no merge makes it.
  EXPECT_EQ(tok->encode("xyz"), std::vector<int32_t>{261});
  EXPECT_EQ(tok->encode("xyzx"), (std::vector<int32_t>{'x', 'y', 'z', 'x'}));
  EXPECT_EQ(tok->encode("xab"), (std::vector<int32_t>{'x', 256}));
  EXPECT_EQ(tok->encode(" wab"), (std::vector<int32_t>{258, 256}));
  // The special token only with parse_special; the non-special added token always.
  EXPECT_EQ(tok->encode("<|s|>", true), std::vector<int32_t>{259});
  EXPECT_EQ(tok->encode("<|s|>", false).size(), 5u);
  EXPECT_EQ(tok->encode("a<x>b", false), (std::vector<int32_t>{'a', 260, 'b'}));
  EXPECT_EQ(tok->decode(tok->encode("a<x>b<|s|>", true)), "a<x>b<|s|>");

  // add_bos follows a TemplateProcessing post_processor when the config does not say.
  json with_template = tiny_tokenizer_json();
  with_template["post_processor"] = {{"type", "TemplateProcessing"},
                                     {"single", json::array({{{"SpecialToken", {{"id", "<|s|>"}, {"type_id", 0}}}},
                                                             {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})}};
  fb::TokenizerT t2;
  HfTokenizerIds ids2;
  ASSERT_TRUE(import(with_template, json(), &t2, &ids2).ok());
  EXPECT_TRUE(t2.add_bos);
  EXPECT_EQ(ids2.bos_id, 259);

  // A lone ByteLevel pre-tokenizer with use_regex stands for GPT-2's regex: imported as the gpt2
  // pre-tokenizer (its ids against Hugging Face are in pre_tokenizer_test.cpp).
  json gpt2 = tiny_tokenizer_json();
  gpt2["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  fb::TokenizerT t3;
  ASSERT_TRUE(import(gpt2, json(), &t3).ok());
  EXPECT_EQ(t3.pre_tokenizer_pattern.substr(0, 24), "'s|'t|'re|'ve|'m|'ll|'d|");
  EXPECT_EQ(t3.pre_tokenizer, "gpt2");
  std::unique_ptr<Tokenizer> gpt2_tok;
  ASSERT_TRUE(build(t3, &gpt2_tok).ok());
  // GPT-2's split keeps " w" apart from "ab" and does not fold "'S": unlike LLaMA-3's.
  EXPECT_EQ(gpt2_tok->encode("ab wx"), (std::vector<int32_t>{256, 258, 'x'}));
}

// Each malformed or unsupported file fails with a message naming what is wrong.
TEST(ByteLevelBpe, WithoutIgnoreMergesOnlyMergesBuildPieces) {
  json j = tiny_tokenizer_json();
  j["model"]["ignore_merges"] = false;
  fb::TokenizerT t;
  ASSERT_TRUE(import(j, json(), &t).ok());
  EXPECT_FALSE(t.ignore_merges);
  std::unique_ptr<Tokenizer> tok;
  ASSERT_TRUE(build(t, &tok).ok());
  // "xyz" is a piece no merge makes: bytes stay bytes; merges still apply.
  EXPECT_EQ(tok->encode("xyz"), (std::vector<int32_t>{'x', 'y', 'z'}));
  EXPECT_EQ(tok->encode("abc"), std::vector<int32_t>{257});
}

TEST(ByteLevelBpe, MalformedTokenizerJsonFails) {
  struct Case {
    const char* what;
    void (*edit)(json&);
    const char* expected;  // a part of the message
  };
  const Case cases[] = {
      {"missing model", [](json& j) { j.erase("model"); }, "no \"model\""},
      {"unknown model type", [](json& j) { j["model"]["type"] = "WordPiece"; },
       "model type \"WordPiece\" is not supported"},
      {"merge naming an unknown piece", [](json& j) { j["model"]["merges"].push_back("ab zz"); }, "unknown piece 'zz'"},
      {"merge making a missing piece", [](json& j) { j["model"]["merges"].push_back("b c"); }, "makes 'bc'"},
      {"malformed merge", [](json& j) { j["model"]["merges"].push_back("abc"); }, "not two pieces"},
      {"vocab id gap", [](json& j) { j["model"]["vocab"].erase("abc"); }, "no token has id 257"},
      {"vocab id beyond the count", [](json& j) { j["model"]["vocab"]["abc"] = 5000; },
       "no token has id 257 (ids run to 5000)"},
      {"duplicate vocab id", [](json& j) { j["model"]["vocab"]["abc"] = 256; }, "used by both"},
      {"negative id", [](json& j) { j["model"]["vocab"]["abc"] = -1; }, "not in [0, 2^31)"},
      {"vocab not an object", [](json& j) { j["model"]["vocab"] = json::array(); }, "model.vocab is not an object"},
      {"missing byte piece",
       [](json& j) {
         j["model"]["vocab"].erase("a");
         j["model"]["vocab"]["zzz"] = int('a');
       },
       "no piece for byte 0x61"},
      {"dropout", [](json& j) { j["model"]["dropout"] = 0.1; }, "model.dropout"},
      {"normalizer",
       [](json& j) {
         j["normalizer"] = {{"type", "NFC"}};
       },
       "normalizer NFC is not supported"},
      {"Split behavior", [](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed"; }, "behavior"},
      {"Split with a string",
       [](json& j) {
         j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"String", " "}};
       },
       "Regex"},
      {"Digits pre-tokenizer",
       [](json& j) {
         j["pre_tokenizer"] = {{"type", "Digits"}};
       },
       "pre_tokenizer [Digits]"},
      {"decoder",
       [](json& j) {
         j["decoder"] = {{"type", "WordPiece"}};
       },
       "decoder WordPiece"},
      {"added token lstrip", [](json& j) { j["added_tokens"][0]["lstrip"] = true; }, "lstrip"},
      {"added token id clash", [](json& j) { j["added_tokens"][0]["id"] = 5; }, "already"},
      {"SentencePiece style (Metaspace)",
       [](json& j) {
         j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}};
       },
       "SentencePiece-style tokenizer.json (pre_tokenizer Metaspace; LLaMA-2 style) is not supported yet"},
      {"SentencePiece style (byte_fallback)", [](json& j) { j["model"]["byte_fallback"] = true; }, "not supported yet"},
      {"wrong JSON type", [](json& j) { j["model"]["merges"] = 3; }, "model.merges is not an array"},
      {"ids as strings", [](json& j) { j["added_tokens"][0]["id"] = "259"; }, "has id \"259\""},
  };
  for (const Case& c : cases) {
    json j = tiny_tokenizer_json();
    c.edit(j);
    const format::Status s = import(j);
    ASSERT_FALSE(s.ok()) << c.what;
    EXPECT_NE(s.message().find(c.expected), std::string::npos) << c.what << ": " << s.message();
  }
  // Not JSON at all, and a config naming an unknown token.
  fb::TokenizerT t;
  HfTokenizerIds ids;
  const format::Status not_json = compiler::import_hf_tokenizer("{\"model\": ", "", &t, &ids);
  EXPECT_NE(not_json.message().find("not valid JSON"), std::string::npos) << not_json.message();
  const format::Status bad_bos = import(tiny_tokenizer_json(), json{{"bos_token", "<s>"}});
  EXPECT_NE(bad_bos.message().find("tokenizer_config.json: bos_token '<s>' is not a token"), std::string::npos)
      << bad_bos.message();
  const format::Status missing = compiler::load_hf_tokenizer("/nonexistent/tokenizer.json", "", &t, &ids, nullptr);
  EXPECT_EQ(missing.code(), format::StatusCode::io_error) << missing.to_string();
}

// The runtime re-checks what it reads from a container.
TEST(ByteLevelBpe, RuntimeRefusesInconsistentData) {
  fb::TokenizerT good;
  ASSERT_TRUE(import(tiny_tokenizer_json(), json(), &good).ok());
  struct Case {
    const char* what;
    void (*edit)(fb::TokenizerT&);
    const char* expected;
  };
  const Case cases[] = {
      {"merge naming an unknown piece", [](fb::TokenizerT& t) { t.merges.push_back("a zz"); }, "unknown piece 'zz'"},
      {"merge making a missing piece", [](fb::TokenizerT& t) { t.merges.push_back("b c"); }, "makes 'bc'"},
      {"merge without a space", [](fb::TokenizerT& t) { t.merges.push_back("abc"); }, "not two pieces"},
      {"missing byte piece", [](fb::TokenizerT& t) { t.pieces['a'] = "zzz"; }, "no piece for byte 0x61"},
      {"duplicate piece", [](fb::TokenizerT& t) { t.pieces[257] = "ab"; }, "appears twice"},
      {"special token out of range", [](fb::TokenizerT& t) { t.special_tokens[0]->id = 9999; }, "outside"},
      {"types of the wrong length", [](fb::TokenizerT& t) { t.types.pop_back(); }, "token types"},
      {"no pieces",
       [](fb::TokenizerT& t) {
         t.pieces.clear();
         t.types.clear();
         t.special_tokens.clear();
       },
       "no pieces"},
  };
  for (const Case& c : cases) {
    fb::TokenizerT t;
    ASSERT_TRUE(import(tiny_tokenizer_json(), json(), &t).ok());
    c.edit(t);
    std::unique_ptr<Tokenizer> tok;
    const format::Status s = build(t, &tok);
    ASSERT_FALSE(s.ok()) << c.what;
    EXPECT_NE(s.message().find(c.expected), std::string::npos) << c.what << ": " << s.message();
  }
  fb::TokenizerT sp;
  sp.kind = fb::TokenizerKind::SentencePieceBpe;
  flatbuffers::FlatBufferBuilder b;
  b.Finish(fb::Tokenizer::Pack(b, &sp));
  std::unique_ptr<Tokenizer> tok;
  EXPECT_FALSE(runtime::make_byte_level_bpe(*flatbuffers::GetRoot<fb::Tokenizer>(b.GetBufferPointer()), &tok).ok());
}

}  // namespace
}  // namespace ingot::test
