// Writing a byte-level BPE fb::TokenizerT (LLaMA-3) back as a Hugging Face `tokenizer.json`, in
// the one form import/hf_tokenizer.h accepts: model BPE (vocab of the Normal pieces, merges,
// ignore_merges), added_tokens for the Control (special) and UserDefined pieces, no normalizer,
// pre_tokenizer Sequence [Split {Regex, Isolated}, ByteLevel {use_regex false}], ByteLevel
// decoder and post_processor. BOS/EOS insertion is said by tokenizer_config.json (add_bos_token).
#pragma once

#include <string>

#include "ingot/format/constants.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

format::Status write_hf_tokenizer_json(const fb::TokenizerT& tokenizer, std::string* out);

}  // namespace ingot::compiler
