#include "import/hf_tokenizer.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "import/file.h"
#include "ingot/format/pre_tokenizers.h"

namespace ingot::compiler {

namespace {

using format::Status;
using format::StatusCode;
using nlohmann::json;

template <typename... Args>
Status bad(Args&&... args) {
  return format::fail(StatusCode::invalid_argument, "tokenizer.json: ", std::forward<Args>(args)...);
}
template <typename... Args>
Status bad_config(Args&&... args) {
  return format::fail(StatusCode::invalid_argument, "tokenizer_config.json: ", std::forward<Args>(args)...);
}

// The value of `key`, or null when the key is absent.
const json& field(const json& object, const char* key) {
  static const json null_value;
  if (!object.is_object()) return null_value;
  const auto it = object.find(key);
  return it == object.end() ? null_value : *it;
}

std::string type_of(const json& step) {
  const json& t = field(step, "type");
  return t.is_string() ? t.get<std::string>() : std::string("(no type)");
}

bool flag(const json& object, const char* key) {
  const json& v = field(object, key);
  return v.is_boolean() && v.get<bool>();
}

// The steps of a component that may be a "Sequence" of steps (pre_tokenizers, normalizers, ...).
std::vector<const json*> steps(const json& component, const char* list_key) {
  std::vector<const json*> out;
  if (component.is_null()) return out;
  if (type_of(component) == "Sequence" && field(component, list_key).is_array()) {
    for (const json& s : field(component, list_key)) out.push_back(&s);
  } else {
    out.push_back(&component);
  }
  return out;
}

// Why the file is a SentencePiece-style tokenizer.json (Metaspace "▁", byte fallback), or "".
std::string sentencepiece_style(const json& root) {
  const json& model = field(root, "model");
  if (flag(model, "byte_fallback")) return "model.byte_fallback is true";
  for (const json* s : steps(field(root, "pre_tokenizer"), "pretokenizers")) {
    if (type_of(*s) == "Metaspace") return "pre_tokenizer Metaspace";
  }
  for (const json* s : steps(field(root, "normalizer"), "normalizers")) {
    const std::string t = type_of(*s);
    const json& content = field(*s, "content");
    const json& prepend = field(*s, "prepend");
    if ((t == "Replace" && content.is_string() && content.get<std::string>() == "\u2581") ||
        (t == "Prepend" && prepend.is_string() && prepend.get<std::string>() == "\u2581")) {
      return "normalizer " + t + " with \"\u2581\"";
    }
  }
  for (const json* s : steps(field(root, "decoder"), "decoders")) {
    const std::string t = type_of(*s);
    if (t == "Metaspace" || t == "ByteFallback") return "decoder " + t;
  }
  return "";
}

// An id read from the file: an integer in [0, INT32_MAX].
bool read_id(const json& v, int32_t* id) {
  if (!v.is_number_integer()) return false;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int32_t>::max())) return false;
    *id = int32_t(u);
    return true;
  }
  const int64_t s = v.get<int64_t>();
  if (s < 0 || s > std::numeric_limits<int32_t>::max()) return false;
  *id = int32_t(s);
  return true;
}

// One pre_tokenizer step in a comparable form: "Split/Isolated/<regex>", "Digits/individual" or
// "Digits/runs", "ByteLevel/regex" or "ByteLevel/bytes" (add_prefix_space false only),
// "Punctuation/Contiguous"; "?" for anything else.
std::string step_signature(const json& step) {
  const std::string type = type_of(step);
  if (type == "Split") {
    const json& regex = field(field(step, "pattern"), "Regex");
    const json& behavior = field(step, "behavior");
    if (!regex.is_string() || !behavior.is_string() || flag(step, "invert")) return "?";
    return "Split/" + behavior.get<std::string>() + "/" + regex.get<std::string>();
  }
  if (type == "Digits") return flag(step, "individual_digits") ? "Digits/individual" : "Digits/runs";
  if (type == "ByteLevel") {
    if (flag(step, "add_prefix_space")) return "?";
    const json& v = field(step, "use_regex");
    return (v.is_null() || (v.is_boolean() && v.get<bool>())) ? "ByteLevel/regex" : "ByteLevel/bytes";
  }
  if (type == "Punctuation") {
    const json& behavior = field(step, "behavior");
    return "Punctuation/" + (behavior.is_string() ? behavior.get<std::string>() : std::string("Isolated"));
  }
  return "?";
}

// The families whose published tokenizer.json has more than two pre_tokenizer steps, or the
// tekken regex, by those steps (pre_tokenizers.h describes each):
//   deepseek-llm    deepseek-ai/deepseek-llm-7b-base      deepseek-coder  deepseek-ai/deepseek-coder-6.7b-base
//   falcon          tiiuae/falcon-7b                      tekken          mistralai/Mistral-Nemo-Base-2407
//   default         llama.cpp's regex list as Split steps (no model publishes it; accepted for symmetry)
std::optional<format::PreTokenizer> multi_step_family(const std::vector<const json*>& s) {
  static const std::string kCrLf = "Split/Isolated/[\r\n]";
  static const std::string kCjk = "Split/Isolated/[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+";
  static const std::pair<format::PreTokenizer, std::vector<std::string>> kFamilies[] = {
      {format::PreTokenizer::deepseek_llm,
       {kCrLf,
        "Split/Isolated/\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
        "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481"
        "\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b"
        "\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d"
        "\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec"
        "\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d"
        "\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2"
        "\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17"
        "\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2"
        "\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+",
        "Split/Isolated/\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+", "Split/Isolated/\\s+$", kCjk,
        "Digits/runs", "ByteLevel/bytes"}},
      {format::PreTokenizer::deepseek_coder,
       {kCrLf, "Split/Isolated/\\s?\\p{L}+", "Split/Isolated/\\s?\\p{P}+", kCjk, "Digits/individual", "ByteLevel/bytes"}},
      {format::PreTokenizer::falcon,
       {"Punctuation/Contiguous", "ByteLevel/regex", "Digits/runs", "Split/Isolated/[0-9][0-9][0-9]"}},
      {format::PreTokenizer::tekken, {"Split/Isolated/" + std::string(format::kTekkenPattern), "ByteLevel/bytes"}},
      {format::PreTokenizer::llamacpp_default,
       {"Split/Isolated/[\\p{P}\\$\\+<=>\\^~\\|]+",
        "Split/Isolated/'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
        "Split/Isolated/\\p{N}+", "Split/Isolated/[0-9][0-9][0-9]", "ByteLevel/bytes"}},
  };
  std::vector<std::string> got;
  for (const json* step : s) got.push_back(step_signature(*step));
  for (const auto& [p, want] : kFamilies) {
    if (got == want) return p;
  }
  return std::nullopt;
}

// The pre_tokenizer section as one of the runtime's pre-tokenizers (ingot/format/pre_tokenizers.h),
// by the configurations those families publish in their tokenizer.json:
//   gpt2       ByteLevel (use_regex true)                                      GPT-2, RoBERTa, OLMo
//   llama3     Sequence [Split(LLaMA-3 regex, Isolated), ByteLevel(use_regex false)]  LLaMA-3
//   qwen2      Sequence [Split(Qwen2 regex, Isolated), ByteLevel(use_regex false)]    Qwen2
//   starcoder  Sequence [Digits(individual_digits true), ByteLevel(use_regex true)]  StarCoder, SmolLM
// and the longer sequences of multi_step_family().
Status check_pre_tokenizer(const json& root, fb::TokenizerT* t) {
  const json& pre = field(root, "pre_tokenizer");
  if (pre.is_null()) return bad("pre_tokenizer is null; a byte-level BPE needs ByteLevel");
  const std::vector<const json*> s = steps(pre, "pretokenizers");
  if (const std::optional<format::PreTokenizer> p = multi_step_family(s)) {
    t->pre_tokenizer = format::pre_tokenizer_name(*p);
    t->pre_tokenizer_pattern = *p == format::PreTokenizer::tekken ? std::string(format::kTekkenPattern) : std::string();
    return Status::success();
  }
  const auto use_regex = [](const json& byte_level) {
    const json& v = field(byte_level, "use_regex");
    return v.is_null() || (v.is_boolean() && v.get<bool>());
  };
  const auto set = [&](format::PreTokenizer p, std::string_view pattern) {
    t->pre_tokenizer = format::pre_tokenizer_name(p);
    t->pre_tokenizer_pattern = std::string(pattern);
    return Status::success();
  };
  std::string names;
  for (const json* step : s) names += (names.empty() ? "" : ", ") + type_of(*step);
  const auto unsupported = [&](const std::string& why) {
    return bad("pre_tokenizer [", names, "]: ", why,
               "; supported: ByteLevel (gpt2), [Digits individual, ByteLevel] (starcoder, smollm), "
               "[Split LLaMA-3, Qwen2 or Tekken regex, ByteLevel without regex] (llama3, qwen2, tekken), "
               "and the published sequences of deepseek-llm, deepseek-coder and falcon (and llama.cpp's default)");
  };
  const json& last = *s.back();
  if (type_of(last) != "ByteLevel") return unsupported("the last step is not ByteLevel");
  // ByteLevel with use_regex: GPT-2's regex, then the byte mapping.
  if (s.size() == 1) {
    if (!use_regex(last)) return unsupported("ByteLevel without a regex (use_regex false) and no Split");
    t->add_dummy_prefix = flag(last, "add_prefix_space");  // " " before each segment lacking one
    return set(format::PreTokenizer::gpt2, format::kGpt2Pattern);
  }
  if (flag(last, "add_prefix_space")) return unsupported("ByteLevel add_prefix_space true after another step");
  if (s.size() != 2) return unsupported("more than two steps");
  const json& first = *s[0];
  if (type_of(first) == "Digits") {
    if (!flag(first, "individual_digits")) return unsupported("Digits without individual_digits");
    if (!use_regex(last)) return unsupported("Digits then ByteLevel without its regex");
    return set(format::PreTokenizer::starcoder, format::kGpt2Pattern);
  }
  if (type_of(first) != "Split") return unsupported("the first step is neither Split nor Digits");
  const json& regex = field(field(first, "pattern"), "Regex");
  if (!regex.is_string()) return bad("pre_tokenizer Split: only a pattern {\"Regex\": ...} is supported");
  const json& behavior = field(first, "behavior");
  if (!behavior.is_string() || behavior.get<std::string>() != "Isolated") {
    return bad("pre_tokenizer Split behavior ", behavior.dump(), " is not supported (only \"Isolated\")");
  }
  if (flag(first, "invert")) return bad("pre_tokenizer Split invert true is not supported");
  if (use_regex(last)) return bad("pre_tokenizer ByteLevel use_regex true after a Split (two regexes) is not supported");
  const std::string pattern = regex.get<std::string>();
  if (pattern.empty()) return bad("pre_tokenizer Split has an empty regex");
  if (pattern == format::kLlama3Pattern) return set(format::PreTokenizer::llama3, pattern);
  if (pattern == format::kQwen2Pattern) return set(format::PreTokenizer::qwen2, pattern);
  if (pattern == format::kGpt2Pattern) return set(format::PreTokenizer::gpt2, pattern);
  return bad("pre_tokenizer Split regex '", pattern, "' is not one ingot implements (the LLaMA-3, Qwen2 and GPT-2 ones)");
}

Status check_normalizer_decoder(const json& root) {
  const json& normalizer = field(root, "normalizer");
  if (!normalizer.is_null()) return bad("normalizer ", type_of(normalizer), " is not supported (only null)");
  const json& decoder = field(root, "decoder");
  if (type_of(decoder) != "ByteLevel") {
    return bad("decoder ", decoder.is_null() ? std::string("null") : type_of(decoder),
               " is not supported (only ByteLevel)");
  }
  return Status::success();
}

// A special-token value in tokenizer_config.json: "text", {"content": "text", ...} or null.
Status config_token(const json& config, const char* key, std::string* text, bool* present) {
  const json& v = field(config, key);
  *present = false;
  if (v.is_null()) return Status::success();
  const json& content = v.is_object() ? field(v, "content") : v;
  if (!content.is_string()) return bad_config(key, " is neither a string nor an object with a \"content\" string");
  *text = content.get<std::string>();
  *present = true;
  return Status::success();
}

struct Parsed {
  std::vector<std::string> pieces;                      // (vocab)
  std::vector<fb::TokenType> types;                     // (vocab)
  std::unordered_map<std::string, int32_t> by_content;  // added tokens
  std::unordered_map<std::string, int32_t> by_piece;    // model vocabulary
  bool ignore_merges = true;
};

Status parse_model(const json& root, Parsed* p, std::vector<std::string>* merges, int32_t* unk_id,
                   std::vector<std::unique_ptr<fb::SpecialTokenT>>* specials) {
  const json& model = field(root, "model");
  if (model.is_null()) return bad("no \"model\"");
  if (!model.is_object()) return bad("\"model\" is not an object");
  const json& type = field(model, "type");
  if (!type.is_null() && (!type.is_string() || type.get<std::string>() != "BPE")) {
    return bad("model type ", type.dump(), " is not supported (only \"BPE\")");
  }
  const json& dropout = field(model, "dropout");
  if (!dropout.is_null() && !(dropout.is_number() && dropout.get<double>() == 0.0)) {
    return bad("model.dropout ", dropout.dump(), " is not supported (only null)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json& v = field(model, key);
    if (!v.is_null() && !(v.is_string() && v.get<std::string>().empty())) {
      return bad("model.", key, " ", v.dump(), " is not supported (only null)");
    }
  }
  p->ignore_merges = flag(model, "ignore_merges");

  // Vocabulary and added tokens, placed by id.
  const json& vocab = field(model, "vocab");
  if (!vocab.is_object()) return bad("model.vocab is not an object of piece -> id");
  const json& added = field(root, "added_tokens");
  if (!added.is_null() && !added.is_array()) return bad("added_tokens is not an array");
  const size_t n_added = added.is_array() ? added.size() : 0;
  const size_t n_entries = vocab.size() + n_added;  // an upper bound on the vocabulary size
  std::vector<std::string> pieces(n_entries);
  std::vector<fb::TokenType> types(n_entries, fb::TokenType::Normal);
  std::vector<bool> seen(n_entries, false);
  int64_t max_id = -1;
  for (const auto& [piece, value] : vocab.items()) {
    int32_t id = 0;
    if (!read_id(value, &id)) return bad("model.vocab '", piece, "' has id ", value.dump(), ", not in [0, 2^31)");
    max_id = std::max<int64_t>(max_id, id);
    if (size_t(id) >= n_entries) continue;  // then some id below it has no token: reported below
    if (seen[size_t(id)]) {
      return bad("model.vocab id ", id, " is used by both '", pieces[size_t(id)], "' and '", piece, "'");
    }
    if (piece.empty()) return bad("model.vocab has an empty piece (id ", id, ")");
    seen[size_t(id)] = true;
    pieces[size_t(id)] = piece;
    p->by_piece.emplace(piece, id);
  }
  for (size_t i = 0; i < n_added; ++i) {
    const json& t = added[i];
    const json& content = field(t, "content");
    int32_t id = 0;
    if (!content.is_string() || content.get<std::string>().empty()) {
      return bad("added_tokens[", i, "] has no content string");
    }
    const std::string text = content.get<std::string>();
    if (!read_id(field(t, "id"), &id)) {
      return bad("added token '", text, "' has id ", field(t, "id").dump(), ", not in [0, 2^31)");
    }
    for (const char* key : {"lstrip", "rstrip", "single_word"}) {
      if (flag(t, key)) return bad("added token '", text, "' has ", key, " true, which is not supported");
    }
    max_id = std::max<int64_t>(max_id, id);
    if (size_t(id) >= n_entries) continue;
    if (const auto it = p->by_piece.find(text); it != p->by_piece.end() && it->second != id) {
      return bad("added token '", text, "' has id ", id, " but is the vocab piece with id ", it->second);
    }
    if (seen[size_t(id)] && pieces[size_t(id)] != text) {
      return bad("added token '", text, "' has id ", id, ", which is already '", pieces[size_t(id)], "'");
    }
    if (!p->by_content.emplace(text, id).second) return bad("added token '", text, "' appears twice");
    seen[size_t(id)] = true;
    pieces[size_t(id)] = text;
    types[size_t(id)] = flag(t, "special") ? fb::TokenType::Control : fb::TokenType::UserDefined;
    auto s = std::make_unique<fb::SpecialTokenT>();
    s->content = text;
    s->id = id;
    specials->push_back(std::move(s));
  }
  if (max_id < 0) return bad("model.vocab is empty");
  // Ids must be 0..max_id without gaps. There are n_entries tokens, so an id >= n_entries
  // leaves some id below n_entries unused; the first unused one is the gap to report.
  for (int64_t id = 0; id <= max_id; ++id) {
    if (id >= int64_t(n_entries) || !seen[size_t(id)]) {
      return bad("no token has id ", id, " (ids run to ", max_id, ")");
    }
  }
  pieces.resize(size_t(max_id) + 1);
  types.resize(size_t(max_id) + 1);
  p->pieces = std::move(pieces);
  p->types = std::move(types);

  const json& unk = field(model, "unk_token");
  if (unk.is_string()) {
    const auto it = p->by_piece.find(unk.get<std::string>());
    if (it == p->by_piece.end()) return bad("model.unk_token '", unk.get<std::string>(), "' is not in model.vocab");
    *unk_id = it->second;
  }

  // The GPT-2 byte alphabet must be complete, or some input bytes would have no token.
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    const uint32_t cp = printable ? b : next++;
    std::string s;
    if (cp < 0x80) {
      s.push_back(char(cp));
    } else {
      s.push_back(char(0xC0 | (cp >> 6)));
      s.push_back(char(0x80 | (cp & 0x3F)));
    }
    // Some vocabularies lack a few bytes (SmolLM2: some controls and bytes that never occur in
    // UTF-8); tokenizers then drops those bytes. Without printable ASCII it is not byte-level.
    if (p->by_piece.count(s) == 0 && b >= 0x20 && b <= 0x7E) {
      return bad("model.vocab has no piece for byte 0x", std::hex, b, std::dec, " ('", s,
                 "'); not a byte-level vocabulary");
    }
  }

  const json& m = field(model, "merges");
  if (!m.is_array()) return bad("model.merges is not an array");
  merges->reserve(m.size());
  for (size_t rank = 0; rank < m.size(); ++rank) {
    const json& e = m[rank];
    std::string left;
    std::string right;
    if (e.is_string()) {
      const std::string text = e.get<std::string>();
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        return bad("merge ", rank, " '", text, "' is not two pieces separated by one space");
      }
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      left = e[0].get<std::string>();
      right = e[1].get<std::string>();
      if (left.find(' ') != std::string::npos || right.find(' ') != std::string::npos) {
        return bad("merge ", rank, " [", e.dump(), "] has a piece with a space, which \"a b\" cannot store");
      }
    } else {
      return bad("merge ", rank, " ", e.dump(), " is neither \"a b\" nor [\"a\", \"b\"]");
    }
    for (const std::string* s : {&left, &right}) {
      if (p->by_piece.count(*s) == 0) {
        return bad("merge ", rank, " '", left, " ", right, "' names the unknown piece '", *s, "'");
      }
    }
    if (p->by_piece.count(left + right) == 0) {
      return bad("merge ", rank, " '", left, " ", right, "' makes '", left + right, "', which is not in model.vocab");
    }
    merges->push_back(left + " " + right);
  }
  return Status::success();
}

// add_bos/add_eos from a TemplateProcessing post_processor: its "single" template may hold one
// special token before the sequence and one after it.
Status check_post_processor(const json& root, const Parsed& p, bool* template_bos, bool* template_eos, int32_t* bos_id,
                            int32_t* eos_id) {
  *template_bos = false;
  *template_eos = false;
  for (const json* s : steps(field(root, "post_processor"), "processors")) {
    const std::string t = type_of(*s);
    if (t == "ByteLevel") continue;  // offsets only
    if (t != "TemplateProcessing") return bad("post_processor ", t, " is not supported");
    const json& single = field(*s, "single");
    if (!single.is_array()) return bad("post_processor TemplateProcessing has no \"single\" template");
    bool after_sequence = false;
    int n_sequence = 0;
    for (const json& piece : single) {
      if (piece.contains("Sequence")) {
        after_sequence = true;
        ++n_sequence;
        continue;
      }
      const json& name = field(field(piece, "SpecialToken"), "id");
      if (!name.is_string()) return bad("post_processor TemplateProcessing item ", piece.dump(), " is not supported");
      const auto it = p.by_content.find(name.get<std::string>());
      if (it == p.by_content.end()) {
        return bad("post_processor TemplateProcessing adds '", name.get<std::string>(),
                   "', which is not an added token");
      }
      bool& added = after_sequence ? *template_eos : *template_bos;
      if (added) return bad("post_processor TemplateProcessing adds more than one token on one side of the text");
      added = true;
      int32_t& id = after_sequence ? *eos_id : *bos_id;
      if (id < 0) id = it->second;
      if (id != it->second) {
        return bad("post_processor TemplateProcessing adds '", name.get<std::string>(), "', which is not the ",
                   after_sequence ? "eos" : "bos", " token");
      }
    }
    if (n_sequence != 1) return bad("post_processor TemplateProcessing \"single\" has ", n_sequence, " sequences");
  }
  return Status::success();
}

Status import(std::string_view tokenizer_json, std::string_view tokenizer_config_json, fb::TokenizerT* out,
              HfTokenizerIds* ids) {
  json root = json::parse(tokenizer_json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return bad("not valid JSON");
  if (!root.is_object()) return bad("not a JSON object");
  if (const std::string why = sentencepiece_style(root); !why.empty()) {
    return bad("a SentencePiece-style tokenizer.json (", why,
               "; LLaMA-2 style) is not supported yet; only byte-level BPE (LLaMA-3 style) is");
  }

  fb::TokenizerT t;
  t.kind = fb::TokenizerKind::ByteLevelBpe;
  HfTokenizerIds found;
  Parsed p;
  INGOT_RETURN_IF_ERROR(parse_model(root, &p, &t.merges, &found.unk_id, &t.special_tokens));
  t.ignore_merges = p.ignore_merges;
  INGOT_RETURN_IF_ERROR(check_pre_tokenizer(root, &t));
  INGOT_RETURN_IF_ERROR(check_normalizer_decoder(root));

  json config = json::object();
  if (!tokenizer_config_json.empty()) {
    config = json::parse(tokenizer_config_json, nullptr, /*allow_exceptions=*/false);
    if (config.is_discarded()) return bad_config("not valid JSON");
    if (!config.is_object()) return bad_config("not a JSON object");
  }
  const auto lookup = [&](const char* key, int32_t* id) {
    std::string text;
    bool present = false;
    INGOT_RETURN_IF_ERROR(config_token(config, key, &text, &present));
    if (!present) return Status::success();
    if (const auto it = p.by_content.find(text); it != p.by_content.end()) {
      *id = it->second;
    } else if (const auto jt = p.by_piece.find(text); jt != p.by_piece.end()) {
      *id = jt->second;
    } else {
      return bad_config(key, " '", text, "' is not a token of tokenizer.json");
    }
    return Status::success();
  };
  INGOT_RETURN_IF_ERROR(lookup("bos_token", &found.bos_id));
  INGOT_RETURN_IF_ERROR(lookup("eos_token", &found.eos_id));
  INGOT_RETURN_IF_ERROR(lookup("pad_token", &found.pad_id));
  INGOT_RETURN_IF_ERROR(lookup("unk_token", &found.unk_id));

  bool template_bos = false;
  bool template_eos = false;
  INGOT_RETURN_IF_ERROR(check_post_processor(root, p, &template_bos, &template_eos, &found.bos_id, &found.eos_id));
  const bool has_template = template_bos || template_eos;
  for (const auto& [key, from_template, fallback, target] :
       {std::tuple{"add_bos_token", template_bos, found.bos_id >= 0, &t.add_bos},
        std::tuple{"add_eos_token", template_eos, false, &t.add_eos}}) {
    const json& v = field(config, key);
    if (v.is_boolean()) {
      *target = v.get<bool>();
    } else if (!v.is_null()) {
      return bad_config(key, " is not a boolean");
    } else {
      *target = has_template ? from_template : fallback;
    }
  }
  if (t.add_bos && found.bos_id < 0) return bad_config("add_bos_token is true but no bos_token is named");
  if (t.add_eos && found.eos_id < 0) return bad_config("add_eos_token is true but no eos_token is named");

  const json& chat = field(config, "chat_template");
  if (chat.is_string()) {
    t.chat_template = chat.get<std::string>();
  } else if (chat.is_array()) {  // [{"name": ..., "template": ...}]: the one named "default"
    for (const json& c : chat) {
      if (field(c, "name") == "default" && field(c, "template").is_string()) {
        t.chat_template = field(c, "template").get<std::string>();
      }
    }
    if (t.chat_template.empty()) return bad_config("chat_template is a list without a \"default\" template");
  } else if (!chat.is_null()) {
    return bad_config("chat_template is neither a string nor a list of named templates");
  }

  t.pieces = std::move(p.pieces);
  t.types = std::move(p.types);
  *out = std::move(t);
  if (ids != nullptr) *ids = found;
  return Status::success();
}

}  // namespace

format::Status import_hf_tokenizer(std::string_view tokenizer_json, std::string_view tokenizer_config_json,
                                   fb::TokenizerT* out, HfTokenizerIds* ids) {
  try {
    return import(tokenizer_json, tokenizer_config_json, out, ids);
  } catch (const json::exception& e) {  // a value of an unexpected JSON type somewhere
    return bad("unexpected content: ", e.what());
  } catch (const std::bad_alloc&) {
    return format::fail(StatusCode::out_of_memory, "tokenizer.json: out of memory");
  }
}

format::Status load_hf_tokenizer(const std::string& tokenizer_json_path, const std::string& tokenizer_config_path,
                                 fb::TokenizerT* out, HfTokenizerIds* ids,
                                 std::vector<std::unique_ptr<fb::DigestT>>* sources) {
  std::unique_ptr<Mapping> json_file;
  INGOT_RETURN_IF_ERROR(map_file(tokenizer_json_path, &json_file));
  std::unique_ptr<Mapping> config_file;
  if (!tokenizer_config_path.empty()) INGOT_RETURN_IF_ERROR(map_file(tokenizer_config_path, &config_file));
  const auto text = [](const Mapping* m) {
    return m == nullptr ? std::string_view()
                        : std::string_view(reinterpret_cast<const char*>(m->bytes().data()), m->bytes().size());
  };
  const Status s = import_hf_tokenizer(text(json_file.get()), text(config_file.get()), out, ids);
  if (!s.ok()) {
    return format::fail(
        s.code(), s.message(), " (",
        s.message().rfind("tokenizer_config.json", 0) == 0 ? tokenizer_config_path : tokenizer_json_path, ")");
  }
  if (sources != nullptr) {
    sources->push_back(digest(tokenizer_json_path, *json_file));
    if (config_file != nullptr) sources->push_back(digest(tokenizer_config_path, *config_file));
  }
  return Status::success();
}

}  // namespace ingot::compiler
