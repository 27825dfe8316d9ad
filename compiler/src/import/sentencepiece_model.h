// Reading a SentencePiece `tokenizer.model` (a serialized sentencepiece.ModelProto) into
// fb::TokenizerT, with a small hand-written protobuf wire-format reader (no protobuf dependency).
// Only BPE models with an identity normalizer are accepted (LLaMA-1/2, llama2.c's stories models):
// anything the runtime (runtime/src/tokenizer/sentencepiece_bpe.cpp) could not reproduce exactly
// is refused with a message naming the setting.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ingot/format/constants.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

// What the model says besides the pieces: special ids (-1: none) and the normalizer settings.
struct SentencePieceInfo {
  int32_t unk_id = -1;
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t pad_id = -1;
  std::string normalizer_name;          // "identity" for the models above
  bool add_dummy_prefix = true;         // NormalizerSpec defaults
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// Parses a serialized ModelProto. Fills `out` (kind SentencePieceBpe, pieces, scores, types,
// special_tokens = the Control and UserDefined pieces, add_bos, add_dummy_prefix, byte_fallback).
// Every length is checked; a malformed or unsupported model fails with a message naming the field.
format::Status parse_sentencepiece_model(std::span<const uint8_t> bytes, fb::TokenizerT* out,
                                         SentencePieceInfo* info);

// Maps `path` and parses it; `digest`, when given, receives the file's provenance digest.
format::Status read_sentencepiece_model(const std::string& path, fb::TokenizerT* out, SentencePieceInfo* info,
                                        std::unique_ptr<fb::DigestT>* digest = nullptr);

// The checks libsentencepiece makes when it loads a vocabulary (ModelInterface::InitializePieces):
// non-empty pieces without NUL and shorter than 8000 bytes, no duplicate, exactly one Unknown piece,
// Byte pieces spelled <0xXX> and only with byte_fallback, then all 256 of them. Used by both
// importers on what they produce.
format::Status check_sentencepiece_vocab(const fb::TokenizerT& t);

// fb::Tokenizer (format 1.0) has no field for SentencePiece's NormalizerSpec.remove_extra_whitespaces,
// so the runtime infers it from the vocabulary: a model trained with it never sees "▁▁" in its
// normalized text, so none of its Normal/Unused pieces contains "▁▁" (LLaMA-2 has "▁▁" pieces and
// keeps extra spaces; stories260K's tok512 has none and removes them). The importer refuses a model
// whose flag disagrees with this rule. runtime/src/tokenizer/sentencepiece_bpe.cpp applies the same rule.
bool infer_remove_extra_whitespaces(const std::vector<std::string>& pieces, const std::vector<fb::TokenType>& types);

}  // namespace ingot::compiler
