// Conventions for tokenizer pieces shared by the importers (compiler) and the tokenizers
// (runtime), so neither spells them again.
#pragma once

#include <cstdint>
#include <string_view>

#include "ingot/format/constants.h"

namespace ingot::format {

// The byte of a byte-fallback piece spelled "<0xXX>" (upper-case hex, as SentencePiece writes
// it), or -1 for any other piece.
inline int byte_of_piece(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int hi = hex(p[3]), lo = hex(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// Pieces that never come out of the text segmentation: unknown, control and byte pieces.
inline bool is_reserved_token_type(fb::TokenType t) {
  return t == fb::TokenType::Unknown || t == fb::TokenType::Control || t == fb::TokenType::Byte;
}

// A token type in SentencePiece's numbering (ModelProto.SentencePiece.Type: NORMAL 1, UNKNOWN 2,
// CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6), which GGUF's tokenizer.ggml.token_type reuses;
// anything else counts as normal.
inline fb::TokenType token_type_from_sentencepiece(int64_t t) {
  switch (t) {
    case 2: return fb::TokenType::Unknown;
    case 3: return fb::TokenType::Control;
    case 4: return fb::TokenType::UserDefined;
    case 5: return fb::TokenType::Unused;
    case 6: return fb::TokenType::Byte;
    default: return fb::TokenType::Normal;
  }
}

}  // namespace ingot::format
