#include "export/hf_tokenizer_writer.h"

#include <nlohmann/json.hpp>

namespace ingot::compiler {

format::Status write_hf_tokenizer_json(const fb::TokenizerT& t, std::string* out) {
  using json = nlohmann::ordered_json;
  if (t.kind != fb::TokenizerKind::ByteLevelBpe) {
    return format::fail(format::StatusCode::invalid_argument, "only byte-level BPE tokenizers are written as tokenizer.json");
  }
  json vocab = json::object(), added = json::array();
  for (size_t i = 0; i < t.pieces.size(); ++i) {
    const fb::TokenType type = i < t.types.size() ? t.types[i] : fb::TokenType::Normal;
    if (type == fb::TokenType::Control || type == fb::TokenType::UserDefined) {
      added.push_back({{"id", i}, {"content", t.pieces[i]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", type == fb::TokenType::UserDefined},
                       {"special", type == fb::TokenType::Control}});
    } else {
      vocab[t.pieces[i]] = i;
    }
  }
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}};
  const json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", t.pre_tokenizer_pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
          byte_level}}}},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
        {"ignore_merges", t.ignore_merges}, {"vocab", vocab}, {"merges", t.merges}}}};
  *out = j.dump(1) + "\n";
  return format::Status::success();
}

}  // namespace ingot::compiler
