#include "import/llama2c_tokenizer.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "import/file.h"

namespace ingot::compiler {

using format::Status;
using format::StatusCode;

namespace {

constexpr std::string_view kSpaceSymbol = "\xe2\x96\x81";  // U+2581, SentencePiece's escaped space

bool is_byte_piece(std::string_view p) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return p.size() == 6 && p.substr(0, 3) == "<0x" && hex(p[3]) && hex(p[4]) && p[5] == '>';
}

// Undoes llama2.c's export spelling (export.py: bos/eos wrapped in newlines, then '▁' -> ' ').
std::string to_sentencepiece(std::string_view stored) {
  if (stored == "\n<s>\n") return "<s>";
  if (stored == "\n</s>\n") return "</s>";
  std::string p;
  p.reserve(stored.size() + 8);
  for (char c : stored) {
    if (c == ' ') {
      p += kSpaceSymbol;
    } else {
      p += c;
    }
  }
  return p;
}

}  // namespace

Status parse_llama2c_tokenizer(std::span<const uint8_t> bytes, int32_t n_vocab, fb::TokenizerT* out,
                               SentencePieceInfo* info) {
  if (n_vocab < 3) {
    return format::fail(StatusCode::invalid_argument, "vocab size ", n_vocab,
                        " is too small for <unk>, <s> and </s> at ids 0..2");
  }
  size_t pos = 0;
  auto read_u32 = [&](const char* what, size_t token, uint32_t* v) -> Status {
    if (bytes.size() - pos < 4) {
      return format::fail(StatusCode::truncated, "token ", token, ": ", what, " at byte ", pos,
                          " runs past the end of the file (", bytes.size(), " bytes; vocab size ", n_vocab, ")");
    }
    const uint8_t* b = bytes.data() + pos;
    *v = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
    pos += 4;
    return Status::success();
  };

  uint32_t max_len_bits = 0;
  INGOT_RETURN_IF_ERROR(read_u32("max_token_length", 0, &max_len_bits));
  const int32_t max_token_length = int32_t(max_len_bits);
  if (max_token_length <= 0) {
    return format::fail(StatusCode::invalid_argument, "max_token_length is ", max_token_length);
  }

  fb::TokenizerT t;
  t.kind = fb::TokenizerKind::SentencePieceBpe;
  // Each token takes at least 9 bytes; bound the reservation by the file, not by the caller's number.
  const size_t reserve = std::min<size_t>(size_t(n_vocab), bytes.size() / 9 + 1);
  t.pieces.reserve(reserve);
  t.scores.reserve(reserve);
  t.types.reserve(reserve);
  size_t n_byte_pieces = 0;
  for (int32_t i = 0; i < n_vocab; ++i) {
    uint32_t score_bits = 0, len_bits = 0;
    INGOT_RETURN_IF_ERROR(read_u32("score", size_t(i), &score_bits));
    INGOT_RETURN_IF_ERROR(read_u32("length", size_t(i), &len_bits));
    const int32_t len = int32_t(len_bits);
    if (len <= 0 || len > max_token_length) {
      return format::fail(StatusCode::invalid_argument, "token ", i, ": length ", len, " outside 1..",
                          max_token_length, " (max_token_length)");
    }
    if (bytes.size() - pos < size_t(len)) {
      return format::fail(StatusCode::truncated, "token ", i, ": ", len, " bytes at byte ", pos,
                          " run past the end of the file (", bytes.size(), " bytes)");
    }
    float score = 0.0f;
    std::memcpy(&score, &score_bits, sizeof score);
    t.pieces.push_back(to_sentencepiece({reinterpret_cast<const char*>(bytes.data() + pos), size_t(len)}));
    pos += size_t(len);
    t.scores.push_back(score);

    fb::TokenType type = fb::TokenType::Normal;
    if (i == 0) {
      type = fb::TokenType::Unknown;
    } else if (i == 1 || i == 2) {
      type = fb::TokenType::Control;
    } else if (is_byte_piece(t.pieces.back())) {
      type = fb::TokenType::Byte;
      ++n_byte_pieces;
    }
    t.types.push_back(type);
  }
  if (pos != bytes.size()) {
    return format::fail(StatusCode::invalid_argument, bytes.size() - pos, " bytes left after ", n_vocab,
                        " tokens: the vocab size does not match this tokenizer.bin");
  }

  for (int32_t id : {1, 2}) {
    auto s = std::make_unique<fb::SpecialTokenT>();
    s->content = t.pieces[size_t(id)];
    s->id = id;
    t.special_tokens.push_back(std::move(s));
  }
  t.add_bos = true;
  t.add_eos = false;
  t.add_dummy_prefix = true;
  t.byte_fallback = n_byte_pieces > 0;  // check_sentencepiece_vocab then requires all 256
  INGOT_RETURN_IF_ERROR(check_sentencepiece_vocab(t));

  t.remove_extra_whitespaces = infer_remove_extra_whitespaces(t.pieces, t.types);  // the file does not say
  if (info != nullptr) {
    info->unk_id = 0;
    info->bos_id = 1;
    info->eos_id = 2;
    info->pad_id = -1;
    info->normalizer_name = "identity";
    info->add_dummy_prefix = true;
    info->remove_extra_whitespaces = infer_remove_extra_whitespaces(t.pieces, t.types);
    info->escape_whitespaces = true;
  }
  *out = std::move(t);
  return Status::success();
}

Status read_llama2c_tokenizer(const std::string& path, int32_t n_vocab, fb::TokenizerT* out, SentencePieceInfo* info,
                              std::unique_ptr<fb::DigestT>* digest_out) {
  std::unique_ptr<Mapping> m;
  INGOT_RETURN_IF_ERROR(map_file(path, &m));
  const Status s = parse_llama2c_tokenizer(m->bytes(), n_vocab, out, info);
  if (!s.ok()) return Status(s.code(), "'" + path + "': " + s.message());
  if (digest_out != nullptr) *digest_out = digest(path, *m);
  return Status::success();
}

}  // namespace ingot::compiler
