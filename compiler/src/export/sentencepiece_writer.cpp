#include "export/sentencepiece_writer.h"

#include <cstring>
#include <string>

#include "import/sentencepiece_model.h"

namespace ingot::compiler {

namespace {

// Protobuf wire format: key = field << 3 | wire type; varints little-endian base 128; negative
// int32 values are sign-extended to 10 bytes.
void varint(std::vector<uint8_t>* b, uint64_t v) {
  while (v >= 0x80) {
    b->push_back(uint8_t(v | 0x80));
    v >>= 7;
  }
  b->push_back(uint8_t(v));
}
void key(std::vector<uint8_t>* b, uint32_t field, uint32_t wire) { varint(b, uint64_t(field) << 3 | wire); }
void put_varint(std::vector<uint8_t>* b, uint32_t field, int64_t v) {
  key(b, field, 0);
  varint(b, uint64_t(v));
}
void put_bytes(std::vector<uint8_t>* b, uint32_t field, const void* p, size_t n) {
  key(b, field, 2);
  varint(b, n);
  const auto* c = static_cast<const uint8_t*>(p);
  b->insert(b->end(), c, c + n);
}
void put_float(std::vector<uint8_t>* b, uint32_t field, float f) {
  key(b, field, 5);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  for (int i = 0; i < 4; ++i) b->push_back(uint8_t(u >> (8 * i)));
}

// sentencepiece.ModelProto.SentencePiece.Type
int32_t piece_type(fb::TokenType t) {
  switch (t) {
    case fb::TokenType::Unknown: return 2;
    case fb::TokenType::Control: return 3;
    case fb::TokenType::UserDefined: return 4;
    case fb::TokenType::Unused: return 5;
    case fb::TokenType::Byte: return 6;
    default: return 1;
  }
}

}  // namespace

format::Status write_sentencepiece_model(const fb::TokenizerT& t, const fb::ModelConfigT& c, std::vector<uint8_t>* out) {
  if (t.kind != fb::TokenizerKind::SentencePieceBpe) {
    return format::fail(format::StatusCode::invalid_argument, "only SentencePiece tokenizers are written as tokenizer.model");
  }
  std::vector<uint8_t> b, msg;
  int32_t unk = c.unk_id;
  for (size_t i = 0; i < t.pieces.size(); ++i) {
    msg.clear();
    put_bytes(&msg, 1, t.pieces[i].data(), t.pieces[i].size());
    put_float(&msg, 2, i < t.scores.size() ? t.scores[i] : 0.0f);
    const fb::TokenType type = i < t.types.size() ? t.types[i] : fb::TokenType::Normal;
    if (type == fb::TokenType::Unknown && unk < 0) unk = int32_t(i);
    put_varint(&msg, 3, piece_type(type));
    put_bytes(&b, 1, msg.data(), msg.size());
  }
  msg.clear();  // trainer_spec
  put_varint(&msg, 3, 2);  // model_type BPE
  put_varint(&msg, 35, t.byte_fallback ? 1 : 0);
  put_varint(&msg, 40, unk);
  put_varint(&msg, 41, c.bos_id);
  put_varint(&msg, 42, c.eos_id);
  put_varint(&msg, 43, c.pad_id);
  put_bytes(&b, 2, msg.data(), msg.size());
  msg.clear();  // normalizer_spec
  const std::string name = "identity";
  put_bytes(&msg, 1, name.data(), name.size());
  put_varint(&msg, 3, t.add_dummy_prefix ? 1 : 0);
  const bool remove = t.remove_extra_whitespaces.has_value() ? *t.remove_extra_whitespaces
                                                             : infer_remove_extra_whitespaces(t.pieces, t.types);
  put_varint(&msg, 4, remove ? 1 : 0);
  put_varint(&msg, 5, 1);  // escape_whitespaces
  put_bytes(&b, 3, msg.data(), msg.size());
  *out = std::move(b);
  return format::Status::success();
}

}  // namespace ingot::compiler
