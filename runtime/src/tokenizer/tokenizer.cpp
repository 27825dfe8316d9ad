#include "tokenizer/tokenizer.h"

namespace ingot::runtime {

format::Status Tokenizer::create(const fb::Tokenizer& data, std::unique_ptr<Tokenizer>* out) {
  switch (data.kind()) {
    case fb::TokenizerKind::SentencePieceBpe: return make_sentencepiece_bpe(data, out);
    case fb::TokenizerKind::ByteLevelBpe: return make_byte_level_bpe(data, out);
    default:
      return format::fail(format::StatusCode::invalid_argument, "the container has no tokenizer (kind ",
                          format::tokenizer_kind_name(data.kind()), ")");
  }
}

}  // namespace ingot::runtime
