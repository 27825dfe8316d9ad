// Reading llama2.c's `tokenizer.bin` (its export of a SentencePiece vocabulary) into fb::TokenizerT,
// mapped back to SentencePiece's spelling so it matches the `tokenizer.model` it came from.
//
// Layout (little-endian): int32 max_token_length, then per token: float32 score, int32 length,
// `length` bytes. The file does not store the number of tokens: the caller passes the model's
// vocab size, and the file must be consumed exactly.
// llama2.c's export wrote "▁" (U+2581) as ' ', and <s>/</s> as "\n<s>\n"/"\n</s>\n"; both are undone.
// Types are inferred: ids 0/1/2 are <unk>/<s>/</s> (Unknown/Control/Control), pieces spelled <0xXX>
// are Byte, the rest Normal. byte_fallback is on when all 256 byte pieces are present.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "import/sentencepiece_model.h"

namespace ingot::compiler {

// `info` receives unk 0, bos 1, eos 2, pad -1 and the normalizer LLaMA-family models use
// (identity, dummy prefix, remove_extra_whitespaces inferred as the runtime does).
format::Status parse_llama2c_tokenizer(std::span<const uint8_t> bytes, int32_t n_vocab, fb::TokenizerT* out,
                                       SentencePieceInfo* info);

format::Status read_llama2c_tokenizer(const std::string& path, int32_t n_vocab, fb::TokenizerT* out,
                                      SentencePieceInfo* info, std::unique_ptr<fb::DigestT>* digest = nullptr);

}  // namespace ingot::compiler
