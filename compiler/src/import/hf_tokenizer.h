// Importing a Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) as a byte-level BPE
// tokenizer (fb::TokenizerT, kind ByteLevelBpe), as LLaMA-3 ships it.
//
// Accepted: model BPE (vocab piece -> id, possibly sparse ids but no gaps; merges as "a b" strings
// or [a, b] pairs; ignore_merges), added_tokens (special -> Control, else UserDefined), no
// normalizer, a pre_tokenizer section that is one of the runtime's pre-tokenizers
// (ingot/format/pre_tokenizers.h, recorded by name in fb::Tokenizer::pre_tokenizer):
//   ByteLevel{use_regex true}                                  gpt2 (add_prefix_space honoured)
//   Sequence[Digits{individual_digits}, ByteLevel{use_regex}]  starcoder (StarCoder, SmolLM)
//   Sequence[Split{LLaMA-3 / Qwen2 / GPT-2 regex, Isolated}, ByteLevel{use_regex false}]
//                                                              llama3 / qwen2 / gpt2
//   Sequence[Split{Tekken regex}, ByteLevel{use_regex false}]  tekken
//   the published sequences of DeepSeek LLM / Coder and Falcon   deepseek-llm / deepseek-coder / falcon
//   llama.cpp's default regex list as Split steps               default
// ByteLevel decoder, post_processor ByteLevel / TemplateProcessing (leading BOS, trailing EOS only).
// A vocabulary may lack bytes outside printable ASCII (tokenizers then drops them).
// Anything else is refused with an error naming the field, rather than imported into a
// tokenizer that would encode differently. A SentencePiece-style tokenizer.json (Metaspace "▁",
// byte_fallback: LLaMA-2 on the Hub) is recognised and refused as not supported yet.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/format/constants.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

// What the model config takes from the tokenizer files (-1: none).
struct HfTokenizerIds {
  int32_t bos_id = -1;  // tokenizer_config.json bos_token
  int32_t eos_id = -1;  // tokenizer_config.json eos_token
  int32_t pad_id = -1;  // tokenizer_config.json pad_token
  int32_t unk_id = -1;  // tokenizer_config.json unk_token, else model.unk_token
};

// Parses the two files' text. `tokenizer_config_json` may be empty (no config: no chat template,
// no BOS/EOS ids; add_bos then follows the post_processor).
// add_bos: tokenizer_config.json add_bos_token when present; else whether a TemplateProcessing
// post_processor prepends the BOS token; else true when a bos_token is named (LLaMA models are
// trained with BOS first, and the LLaMA-3 files without a TemplateProcessing state nothing).
format::Status import_hf_tokenizer(std::string_view tokenizer_json, std::string_view tokenizer_config_json,
                                   fb::TokenizerT* out, HfTokenizerIds* ids);

// Reads the files and imports them. `tokenizer_config_path` may be "" (none). Appends a digest of
// every file read to `sources` when it is not null.
format::Status load_hf_tokenizer(const std::string& tokenizer_json_path, const std::string& tokenizer_config_path,
                                 fb::TokenizerT* out, HfTokenizerIds* ids,
                                 std::vector<std::unique_ptr<fb::DigestT>>* sources);

}  // namespace ingot::compiler
