// Tokenizers the runtime runs from the data embedded in a container (fb::Tokenizer); no
// tokenizer library is needed at run time.
//   SentencePiece BPE (LLaMA-1/2, stories models): sentencepiece_bpe.cpp
//   byte-level BPE (GPT-2, LLaMA-3, Qwen2, StarCoder/SmolLM splits): byte_level_bpe.cpp, pre_tokenizer.cpp
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/format/constants.h"
#include "ingot/format/status.h"

namespace ingot::runtime {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Builds the tokenizer the container describes; fails with a message naming what is missing or
  // inconsistent (unknown kind, no pieces, a merge naming an unknown piece, ...).
  static format::Status create(const fb::Tokenizer& data, std::unique_ptr<Tokenizer>* out);

  // Token ids of `text`. Special-token text inside `text` is encoded as plain text unless
  // `parse_special` is set, in which case an exact special-token string becomes its id.
  // BOS is not added here (the caller decides, from fb::Tokenizer::add_bos or its own rule).
  virtual std::vector<int32_t> encode(std::string_view text, bool parse_special = false) const = 0;

  // The bytes of one token as it appears in decoded text. `previous` is the token before it
  // (-1 at the start), so SentencePiece can drop the leading space of the first word.
  virtual std::string decode_token(int32_t previous, int32_t id) const = 0;

  // Decodes a whole sequence; equals concatenating decode_token over it.
  std::string decode(const std::vector<int32_t>& ids) const {
    std::string out;
    int32_t previous = -1;
    for (int32_t id : ids) {
      out += decode_token(previous, id);
      previous = id;
    }
    return out;
  }

  virtual size_t n_vocab() const = 0;
  // The piece as stored (e.g. "▁the", "<0x0A>", "Ġworld"); "" for an id out of range.
  virtual std::string_view piece(int32_t id) const = 0;
};

// The two implementations; create() picks one by fb::Tokenizer::kind.
format::Status make_sentencepiece_bpe(const fb::Tokenizer& data, std::unique_ptr<Tokenizer>* out);
format::Status make_byte_level_bpe(const fb::Tokenizer& data, std::unique_ptr<Tokenizer>* out);

}  // namespace ingot::runtime
