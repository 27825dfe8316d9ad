#include "import/sentencepiece_model.h"

#include <array>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "import/file.h"
#include "ingot/format/token_pieces.h"

namespace ingot::compiler {

using format::Status;
using format::StatusCode;

namespace {

// Field numbers from sentencepiece's src/sentencepiece_model.proto (proto2):
//   ModelProto     { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
//                    NormalizerSpec normalizer_spec = 3; SelfTestData self_test_data = 4;
//                    NormalizerSpec denormalizer_spec = 5; }
//   SentencePiece  { string piece = 1; float score = 2; Type type = 3 [default NORMAL]; }
//                    Type: NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6
//   TrainerSpec    { ModelType model_type = 3 [default UNIGRAM]; bool treat_whitespace_as_suffix = 24;
//                    bool byte_fallback = 35; int32 unk_id = 40 [0]; int32 bos_id = 41 [1];
//                    int32 eos_id = 42 [2]; int32 pad_id = 43 [-1]; }
//                    ModelType: UNIGRAM 1, BPE 2, WORD 3, CHAR 4
//   NormalizerSpec { string name = 1; bytes precompiled_charsmap = 2; bool add_dummy_prefix = 3 [true];
//                    bool remove_extra_whitespaces = 4 [true]; bool escape_whitespaces = 5 [true]; }
// Every other field (training options, self-test data, extensions) is skipped.
constexpr uint32_t kModelPieces = 1, kModelTrainerSpec = 2, kModelNormalizerSpec = 3, kModelDenormalizerSpec = 5;
constexpr uint32_t kPiecePiece = 1, kPieceScore = 2, kPieceType = 3;
constexpr uint32_t kTrainerModelType = 3, kTrainerTreatWhitespaceAsSuffix = 24, kTrainerByteFallback = 35,
                   kTrainerUnkId = 40, kTrainerBosId = 41, kTrainerEosId = 42, kTrainerPadId = 43;
constexpr uint32_t kNormName = 1, kNormCharsmap = 2, kNormAddDummyPrefix = 3, kNormRemoveExtraWhitespaces = 4,
                   kNormEscapeWhitespaces = 5;
constexpr uint64_t kModelTypeBpe = 2;

enum class Wire : uint8_t { varint = 0, fixed64 = 1, len = 2, group_start = 3, group_end = 4, fixed32 = 5 };

const char* wire_name(Wire w) {
  switch (w) {
    case Wire::varint: return "varint";
    case Wire::fixed64: return "fixed64";
    case Wire::len: return "length-delimited";
    case Wire::group_start: return "group start";
    case Wire::group_end: return "group end";
    case Wire::fixed32: return "fixed32";
  }
  return "?";
}

const char* model_type_name(uint64_t t) {
  switch (t) {
    case 1: return "UNIGRAM";
    case 2: return "BPE";
    case 3: return "WORD";
    case 4: return "CHAR";
    default: return "unknown";
  }
}

// A cursor over one message's bytes. `where` names the message in errors ("ModelProto.pieces[7]").
class WireReader {
 public:
  WireReader(std::span<const uint8_t> bytes, std::string where) : p_(bytes), where_(std::move(where)) {}

  bool done() const { return pos_ == p_.size(); }
  const std::string& where() const { return where_; }

  Status key(uint32_t* field, Wire* wire) {
    const size_t at = pos_;
    uint64_t k = 0;
    INGOT_RETURN_IF_ERROR(varint(&k, "field key"));
    const uint64_t number = k >> 3;
    const uint8_t w = uint8_t(k & 7);
    if (number == 0 || number > (uint64_t{1} << 29) - 1) {
      return format::fail(StatusCode::invalid_argument, where_, ": invalid field number ", number, " at byte ",
                          at);
    }
    if (w > 5) {
      return format::fail(StatusCode::invalid_argument, where_, ": field ", number, " has invalid wire type ",
                          int(w), " at byte ", at);
    }
    *field = uint32_t(number);
    *wire = Wire(w);
    return Status::success();
  }

  Status varint(uint64_t* v, const char* what) {
    uint64_t r = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos_ >= p_.size()) {
        return format::fail(StatusCode::truncated, where_, ": ", what, ": varint runs past the end");
      }
      const uint8_t b = p_[pos_++];
      if (i == 9 && b > 1) {
        return format::fail(StatusCode::invalid_argument, where_, ": ", what, ": varint overflows 64 bits");
      }
      r |= uint64_t(b & 0x7f) << (7 * i);
      if (b < 0x80) {
        *v = r;
        return Status::success();
      }
    }
    return format::fail(StatusCode::invalid_argument, where_, ": ", what, ": varint longer than 10 bytes");
  }

  Status fixed32(uint32_t* v, const char* what) {
    if (p_.size() - pos_ < 4) {
      return format::fail(StatusCode::truncated, where_, ": ", what, ": 4-byte value runs past the end");
    }
    *v = uint32_t(p_[pos_]) | uint32_t(p_[pos_ + 1]) << 8 | uint32_t(p_[pos_ + 2]) << 16 |
         uint32_t(p_[pos_ + 3]) << 24;
    pos_ += 4;
    return Status::success();
  }

  Status len(std::span<const uint8_t>* out, const char* what) {
    uint64_t n = 0;
    INGOT_RETURN_IF_ERROR(varint(&n, what));
    if (n > p_.size() - pos_) {
      return format::fail(StatusCode::truncated, where_, ": ", what, ": length ", n, " exceeds the ",
                          p_.size() - pos_, " bytes left");
    }
    *out = p_.subspan(pos_, size_t(n));
    pos_ += size_t(n);
    return Status::success();
  }

  // Skips the value of an unknown field. Groups (deprecated, unused by sentencepiece) are refused.
  Status skip(uint32_t field, Wire wire) {
    std::span<const uint8_t> ignored;
    uint64_t v = 0;
    uint32_t v32 = 0;
    switch (wire) {
      case Wire::varint: return varint(&v, "skipped field");
      case Wire::fixed32: return fixed32(&v32, "skipped field");
      case Wire::fixed64:
        if (p_.size() - pos_ < 8) {
          return format::fail(StatusCode::truncated, where_, ": field ", field, ": 8-byte value runs past the end");
        }
        pos_ += 8;
        return Status::success();
      case Wire::len: return len(&ignored, "skipped field");
      default:
        return format::fail(StatusCode::invalid_argument, where_, ": field ", field, " uses the ", wire_name(wire),
                            " wire type, which sentencepiece models never use");
    }
  }

  // The error for a known field read with another wire type than the proto declares.
  Status wrong_wire(const char* name, Wire got, Wire want) const {
    return format::fail(StatusCode::invalid_argument, where_, ".", name, ": wire type ", wire_name(got),
                        ", expected ", wire_name(want));
  }

 private:
  std::span<const uint8_t> p_;
  size_t pos_ = 0;
  std::string where_;
};

// Reads a known field's value; `name` is the proto field name for errors.
Status read_bool(WireReader& r, const char* name, Wire wire, bool* out) {
  if (wire != Wire::varint) return r.wrong_wire(name, wire, Wire::varint);
  uint64_t v = 0;
  INGOT_RETURN_IF_ERROR(r.varint(&v, name));
  *out = v != 0;
  return Status::success();
}

Status read_int32(WireReader& r, const char* name, Wire wire, int32_t* out) {
  if (wire != Wire::varint) return r.wrong_wire(name, wire, Wire::varint);
  uint64_t v = 0;
  INGOT_RETURN_IF_ERROR(r.varint(&v, name));
  *out = int32_t(uint32_t(v));  // protobuf int32: negative values are sign-extended to 10 bytes
  return Status::success();
}

Status read_string(WireReader& r, const char* name, Wire wire, std::string* out) {
  if (wire != Wire::len) return r.wrong_wire(name, wire, Wire::len);
  std::span<const uint8_t> b;
  INGOT_RETURN_IF_ERROR(r.len(&b, name));
  out->assign(reinterpret_cast<const char*>(b.data()), b.size());
  return Status::success();
}

struct Piece {
  std::string piece;
  float score = 0.0f;
  uint64_t type = 1;  // NORMAL
};

struct TrainerSpec {
  uint64_t model_type = 1;  // UNIGRAM
  bool treat_whitespace_as_suffix = false;
  bool byte_fallback = false;
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
};

struct NormalizerSpec {
  std::string name;
  size_t charsmap_size = 0;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

Status parse_piece(std::span<const uint8_t> bytes, size_t index, Piece* out) {
  WireReader r(bytes, "ModelProto.pieces[" + std::to_string(index) + "]");
  while (!r.done()) {
    uint32_t field = 0;
    Wire wire{};
    INGOT_RETURN_IF_ERROR(r.key(&field, &wire));
    switch (field) {
      case kPiecePiece: INGOT_RETURN_IF_ERROR(read_string(r, "piece", wire, &out->piece)); break;
      case kPieceScore: {
        if (wire != Wire::fixed32) return r.wrong_wire("score", wire, Wire::fixed32);
        uint32_t bits = 0;
        INGOT_RETURN_IF_ERROR(r.fixed32(&bits, "score"));
        std::memcpy(&out->score, &bits, sizeof(float));
        break;
      }
      case kPieceType: {
        if (wire != Wire::varint) return r.wrong_wire("type", wire, Wire::varint);
        INGOT_RETURN_IF_ERROR(r.varint(&out->type, "type"));
        if (out->type < 1 || out->type > 6) {
          return format::fail(StatusCode::invalid_argument, r.where(), ".type: unknown value ", out->type);
        }
        break;
      }
      default: INGOT_RETURN_IF_ERROR(r.skip(field, wire));
    }
  }
  return Status::success();
}

// Fields of a message seen twice are merged (later scalars win), as protobuf does.
Status parse_trainer_spec(std::span<const uint8_t> bytes, TrainerSpec* t) {
  WireReader r(bytes, "ModelProto.trainer_spec");
  while (!r.done()) {
    uint32_t field = 0;
    Wire wire{};
    INGOT_RETURN_IF_ERROR(r.key(&field, &wire));
    switch (field) {
      case kTrainerModelType:
        if (wire != Wire::varint) return r.wrong_wire("model_type", wire, Wire::varint);
        INGOT_RETURN_IF_ERROR(r.varint(&t->model_type, "model_type"));
        break;
      case kTrainerTreatWhitespaceAsSuffix:
        INGOT_RETURN_IF_ERROR(read_bool(r, "treat_whitespace_as_suffix", wire, &t->treat_whitespace_as_suffix));
        break;
      case kTrainerByteFallback: INGOT_RETURN_IF_ERROR(read_bool(r, "byte_fallback", wire, &t->byte_fallback)); break;
      case kTrainerUnkId: INGOT_RETURN_IF_ERROR(read_int32(r, "unk_id", wire, &t->unk_id)); break;
      case kTrainerBosId: INGOT_RETURN_IF_ERROR(read_int32(r, "bos_id", wire, &t->bos_id)); break;
      case kTrainerEosId: INGOT_RETURN_IF_ERROR(read_int32(r, "eos_id", wire, &t->eos_id)); break;
      case kTrainerPadId: INGOT_RETURN_IF_ERROR(read_int32(r, "pad_id", wire, &t->pad_id)); break;
      default: INGOT_RETURN_IF_ERROR(r.skip(field, wire));
    }
  }
  return Status::success();
}

Status parse_normalizer_spec(std::span<const uint8_t> bytes, const char* where, NormalizerSpec* n) {
  WireReader r(bytes, where);
  while (!r.done()) {
    uint32_t field = 0;
    Wire wire{};
    INGOT_RETURN_IF_ERROR(r.key(&field, &wire));
    switch (field) {
      case kNormName: INGOT_RETURN_IF_ERROR(read_string(r, "name", wire, &n->name)); break;
      case kNormCharsmap: {
        if (wire != Wire::len) return r.wrong_wire("precompiled_charsmap", wire, Wire::len);
        std::span<const uint8_t> b;
        INGOT_RETURN_IF_ERROR(r.len(&b, "precompiled_charsmap"));
        n->charsmap_size = b.size();
        break;
      }
      case kNormAddDummyPrefix:
        INGOT_RETURN_IF_ERROR(read_bool(r, "add_dummy_prefix", wire, &n->add_dummy_prefix));
        break;
      case kNormRemoveExtraWhitespaces:
        INGOT_RETURN_IF_ERROR(read_bool(r, "remove_extra_whitespaces", wire, &n->remove_extra_whitespaces));
        break;
      case kNormEscapeWhitespaces:
        INGOT_RETURN_IF_ERROR(read_bool(r, "escape_whitespaces", wire, &n->escape_whitespaces));
        break;
      default: INGOT_RETURN_IF_ERROR(r.skip(field, wire));
    }
  }
  return Status::success();
}

}  // namespace

bool infer_remove_extra_whitespaces(const std::vector<std::string>& pieces, const std::vector<fb::TokenType>& types) {
  for (size_t i = 0; i < pieces.size(); ++i) {
    const fb::TokenType t = i < types.size() ? types[i] : fb::TokenType::Normal;
    if ((t == fb::TokenType::Normal || t == fb::TokenType::Unused) &&
        pieces[i].find("\xe2\x96\x81\xe2\x96\x81") != std::string::npos) {
      return false;
    }
  }
  return true;
}

Status check_sentencepiece_vocab(const fb::TokenizerT& t) {
  const size_t n = t.pieces.size();
  if (n == 0) return format::fail(StatusCode::invalid_argument, "the vocabulary has no pieces");
  if (n > size_t(INT32_MAX)) return format::fail(StatusCode::invalid_argument, "too many pieces: ", n);
  if (t.scores.size() != n || t.types.size() != n) {
    return format::fail(StatusCode::invalid_argument, n, " pieces but ", t.scores.size(), " scores and ",
                        t.types.size(), " types");
  }
  // libsentencepiece keeps Normal/UserDefined/Unused pieces and the reserved ones (Unknown, Control,
  // Byte) in two maps; a piece may not repeat within one.
  std::unordered_map<std::string_view, size_t> normal, reserved;
  normal.reserve(n);
  int64_t unk = -1;
  std::array<bool, 256> byte_found{};
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = t.pieces[i];
    if (p.empty()) return format::fail(StatusCode::invalid_argument, "piece ", i, " is empty");
    if (p.find('\0') != std::string::npos) {
      return format::fail(StatusCode::invalid_argument, "piece ", i, " contains a NUL byte");
    }
    if (p.size() >= 8000) {
      return format::fail(StatusCode::invalid_argument, "piece ", i, " is ", p.size(), " bytes long (limit 7999)");
    }
    const fb::TokenType type = t.types[i];
    auto& map = format::is_reserved_token_type(type) ? reserved : normal;
    if (const auto [it, fresh] = map.emplace(p, i); !fresh) {
      return format::fail(StatusCode::invalid_argument, "piece ", i, " '", p, "' repeats piece ", it->second);
    }
    if (type == fb::TokenType::Unknown) {
      if (unk >= 0) {
        return format::fail(StatusCode::invalid_argument, "pieces ", unk, " and ", i, " are both of type Unknown");
      }
      unk = int64_t(i);
    }
    if (type == fb::TokenType::Byte) {
      if (!t.byte_fallback) {
        return format::fail(StatusCode::invalid_argument, "byte piece ", i, " '", p,
                            "' in a model without byte_fallback");
      }
      const int b = format::byte_of_piece(p);
      if (b < 0) return format::fail(StatusCode::invalid_argument, "byte piece ", i, " '", p, "' is not <0xXX>");
      byte_found[size_t(b)] = true;
    }
  }
  if (unk < 0) return format::fail(StatusCode::invalid_argument, "no piece has type Unknown");
  if (t.byte_fallback) {
    for (size_t b = 0; b < 256; ++b) {
      if (!byte_found[b]) {
        return format::fail(StatusCode::invalid_argument, "byte_fallback is on but there is no byte piece <0x",
                            "0123456789ABCDEF"[b >> 4], "0123456789ABCDEF"[b & 15], ">");
      }
    }
  }
  return Status::success();
}

Status parse_sentencepiece_model(std::span<const uint8_t> bytes, fb::TokenizerT* out, SentencePieceInfo* info) {
  std::vector<Piece> pieces;
  TrainerSpec trainer;
  NormalizerSpec normalizer, denormalizer;
  bool have_trainer = false;

  WireReader r(bytes, "ModelProto");
  while (!r.done()) {
    uint32_t field = 0;
    Wire wire{};
    INGOT_RETURN_IF_ERROR(r.key(&field, &wire));
    std::span<const uint8_t> sub;
    switch (field) {
      case kModelPieces:
        if (wire != Wire::len) return r.wrong_wire("pieces", wire, Wire::len);
        INGOT_RETURN_IF_ERROR(r.len(&sub, "pieces"));
        pieces.emplace_back();
        INGOT_RETURN_IF_ERROR(parse_piece(sub, pieces.size() - 1, &pieces.back()));
        break;
      case kModelTrainerSpec:
        if (wire != Wire::len) return r.wrong_wire("trainer_spec", wire, Wire::len);
        INGOT_RETURN_IF_ERROR(r.len(&sub, "trainer_spec"));
        INGOT_RETURN_IF_ERROR(parse_trainer_spec(sub, &trainer));
        have_trainer = true;
        break;
      case kModelNormalizerSpec:
        if (wire != Wire::len) return r.wrong_wire("normalizer_spec", wire, Wire::len);
        INGOT_RETURN_IF_ERROR(r.len(&sub, "normalizer_spec"));
        INGOT_RETURN_IF_ERROR(parse_normalizer_spec(sub, "ModelProto.normalizer_spec", &normalizer));
        break;
      case kModelDenormalizerSpec:
        if (wire != Wire::len) return r.wrong_wire("denormalizer_spec", wire, Wire::len);
        INGOT_RETURN_IF_ERROR(r.len(&sub, "denormalizer_spec"));
        INGOT_RETURN_IF_ERROR(parse_normalizer_spec(sub, "ModelProto.denormalizer_spec", &denormalizer));
        break;
      default: INGOT_RETURN_IF_ERROR(r.skip(field, wire));
    }
  }

  // What the runtime cannot reproduce, refused by name.
  if (!have_trainer) {
    return format::fail(StatusCode::invalid_argument, "ModelProto has no trainer_spec (model type unknown)");
  }
  if (trainer.model_type != kModelTypeBpe) {
    return format::fail(StatusCode::invalid_argument, "trainer_spec.model_type is ",
                        model_type_name(trainer.model_type),
                        " (", trainer.model_type, "); only BPE SentencePiece models are supported");
  }
  if (normalizer.charsmap_size != 0) {
    return format::fail(StatusCode::invalid_argument, "normalizer_spec '", normalizer.name, "' has a ",
                        normalizer.charsmap_size,
                        "-byte precompiled_charsmap (e.g. NFKC); only identity normalization is supported");
  }
  if (denormalizer.charsmap_size != 0) {
    return format::fail(StatusCode::invalid_argument, "denormalizer_spec '", denormalizer.name,
                        "' has a precompiled_charsmap; decoding with a denormalizer is not supported");
  }
  if (!normalizer.escape_whitespaces) {
    return format::fail(StatusCode::invalid_argument,
                        "normalizer_spec.escape_whitespaces is false; only models that escape spaces as U+2581 are "
                        "supported");
  }
  if (trainer.treat_whitespace_as_suffix) {
    return format::fail(StatusCode::invalid_argument,
                        "trainer_spec.treat_whitespace_as_suffix is true; only prefix whitespace is supported");
  }
  if (pieces.empty()) return format::fail(StatusCode::invalid_argument, "ModelProto has no pieces");

  fb::TokenizerT t;
  t.kind = fb::TokenizerKind::SentencePieceBpe;
  t.pieces.reserve(pieces.size());
  t.scores.reserve(pieces.size());
  t.types.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    t.pieces.push_back(std::move(pieces[i].piece));
    t.scores.push_back(pieces[i].score);
    t.types.push_back(format::token_type_from_sentencepiece(int64_t(pieces[i].type)));
    if (t.types.back() == fb::TokenType::Control || t.types.back() == fb::TokenType::UserDefined) {
      auto s = std::make_unique<fb::SpecialTokenT>();
      s->content = t.pieces.back();
      s->id = int32_t(i);
      t.special_tokens.push_back(std::move(s));
    }
  }
  t.add_bos = trainer.bos_id >= 0;  // LLaMA-family models start every sequence with <s>
  t.add_eos = false;
  t.add_dummy_prefix = normalizer.add_dummy_prefix;
  t.byte_fallback = trainer.byte_fallback;
  INGOT_RETURN_IF_ERROR(check_sentencepiece_vocab(t));

  t.remove_extra_whitespaces = normalizer.remove_extra_whitespaces;

  // Special ids: -1 means none; otherwise the piece must exist and have the type sentencepiece
  // requires (SentencePieceProcessor::bos_id() etc. return -1 for a piece of another type).
  const int64_t n = int64_t(t.pieces.size());
  struct Special {
    const char* name;
    int32_t id;
    fb::TokenType type;
  };
  const Special specials[] = {{"unk_id", trainer.unk_id, fb::TokenType::Unknown},
                              {"bos_id", trainer.bos_id, fb::TokenType::Control},
                              {"eos_id", trainer.eos_id, fb::TokenType::Control},
                              {"pad_id", trainer.pad_id, fb::TokenType::Control}};
  for (const Special& s : specials) {
    if (s.id < -1 || s.id >= n) {
      return format::fail(StatusCode::invalid_argument, "trainer_spec.", s.name, " ", s.id,
                          " is outside the vocabulary (", n, " pieces)");
    }
    if (s.id >= 0 && t.types[size_t(s.id)] != s.type) {
      return format::fail(StatusCode::invalid_argument, "trainer_spec.", s.name, " ", s.id, " names piece '",
                          t.pieces[size_t(s.id)], "' of type ", fb::EnumNameTokenType(t.types[size_t(s.id)]),
                          ", expected ", fb::EnumNameTokenType(s.type));
    }
  }
  if (trainer.unk_id < 0) return format::fail(StatusCode::invalid_argument, "trainer_spec.unk_id is -1");

  if (info != nullptr) {
    info->unk_id = trainer.unk_id;
    info->bos_id = trainer.bos_id;
    info->eos_id = trainer.eos_id;
    info->pad_id = trainer.pad_id;
    info->normalizer_name = normalizer.name;
    info->add_dummy_prefix = normalizer.add_dummy_prefix;
    info->remove_extra_whitespaces = normalizer.remove_extra_whitespaces;
    info->escape_whitespaces = normalizer.escape_whitespaces;
  }
  *out = std::move(t);
  return Status::success();
}

Status read_sentencepiece_model(const std::string& path, fb::TokenizerT* out, SentencePieceInfo* info,
                                std::unique_ptr<fb::DigestT>* digest_out) {
  std::unique_ptr<Mapping> m;
  INGOT_RETURN_IF_ERROR(map_file(path, &m));
  const Status s = parse_sentencepiece_model(m->bytes(), out, info);
  if (!s.ok()) return Status(s.code(), "'" + path + "': " + s.message());
  if (digest_out != nullptr) *digest_out = digest(path, *m);
  return Status::success();
}

}  // namespace ingot::compiler
