// SentencePiece BPE, reproducing libsentencepiece (SentencePieceProcessor::Encode/Decode with a BPE
// model and an identity normalizer) id for id, from the data in fb::Tokenizer alone.
//
// Encoding, as sentencepiece does it:
//   1. normalize (normalizer.cc): malformed UTF-8 bytes become U+FFFD one byte at a time; with
//      remove_extra_whitespaces, leading, trailing and repeated spaces go; a "▁" (U+2581) is
//      prepended when add_dummy_prefix; every ' ' becomes "▁". User-defined pieces are copied as-is.
//   2. split into characters (user-defined pieces are single, frozen symbols) and merge the adjacent
//      pair whose merged piece has the highest score, leftmost first on ties (bpe_model.cc), with a
//      priority queue over a linked list of symbols: O(n log n).
//   3. map pieces to ids; an unknown piece becomes its UTF-8 bytes <0xXX> with byte_fallback, else
//      <unk> (consecutive unknowns collapse into one).
// remove_extra_whitespaces comes from fb::Tokenizer; when a file lacks it, it is inferred from the
// vocabulary by the rule compiler/src/import/sentencepiece_model.h (infer_remove_extra_whitespaces)
// documents.
#include <algorithm>
#include <array>
#include <queue>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "ingot/format/token_pieces.h"
#include "tokenizer/tokenizer.h"

namespace ingot::runtime {

namespace {

using format::Status;
using format::StatusCode;

constexpr std::string_view kSpaceSymbol = "\xe2\x96\x81";       // U+2581 LOWER ONE EIGHTH BLOCK
constexpr std::string_view kReplacementChar = "\xef\xbf\xbd";   // U+FFFD
constexpr std::string_view kUnkSurface = " \xe2\x81\x87 ";      // sentencepiece's default unk_surface " ⁇ "

// Bytes of the UTF-8 character starting with `lead`, from the lead byte alone (string_util::OneCharLen).
size_t one_char_len(char lead) { return size_t("\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[uint8_t(lead) >> 4]); }

bool is_trail(char c) { return (uint8_t(c) & 0xc0) == 0x80; }
bool is_valid_codepoint(uint32_t c) { return c < 0xd800 || (c >= 0xe000 && c <= 0x10ffff); }

// Length of the well-formed UTF-8 character at the start of non-empty `s`, or 0 if it is malformed,
// with sentencepiece's exact rules (string_util::DecodeUTF8: no overlongs, no surrogates, <= U+10FFFF).
size_t valid_char_len(std::string_view s) {
  const auto b = [&](size_t i) { return uint32_t(uint8_t(s[i])); };
  if (b(0) < 0x80) return 1;
  if (s.size() >= 2 && (b(0) & 0xe0) == 0xc0) {
    const uint32_t cp = (b(0) & 0x1f) << 6 | (b(1) & 0x3f);
    return is_trail(s[1]) && cp >= 0x80 ? 2 : 0;
  }
  if (s.size() >= 3 && (b(0) & 0xf0) == 0xe0) {
    const uint32_t cp = (b(0) & 0x0f) << 12 | (b(1) & 0x3f) << 6 | (b(2) & 0x3f);
    return is_trail(s[1]) && is_trail(s[2]) && cp >= 0x800 && is_valid_codepoint(cp) ? 3 : 0;
  }
  if (s.size() >= 4 && (b(0) & 0xf8) == 0xf0) {
    const uint32_t cp = (b(0) & 0x07) << 18 | (b(1) & 0x3f) << 12 | (b(2) & 0x3f) << 6 | (b(3) & 0x3f);
    return is_trail(s[1]) && is_trail(s[2]) && is_trail(s[3]) && cp >= 0x10000 && is_valid_codepoint(cp) ? 4 : 0;
  }
  return 0;
}


// Longest match among a few strings (user-defined pieces, special tokens), bucketed by first byte.
class PrefixSet {
 public:
  void add(std::string_view s, int32_t id) {
    by_first_[uint8_t(s[0])].emplace_back(s, id);
    empty_ = false;
  }
  void finish() {
    for (auto& bucket : by_first_) {
      std::stable_sort(bucket.begin(), bucket.end(),
                       [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    }
  }
  bool empty() const { return empty_; }
  // Length of the longest entry that prefixes non-empty `s` (0: none) and its id.
  size_t match(std::string_view s, int32_t* id) const {
    for (const auto& [entry, entry_id] : by_first_[uint8_t(s[0])]) {
      if (s.starts_with(entry)) {
        *id = entry_id;
        return entry.size();
      }
    }
    return 0;
  }

 private:
  std::array<std::vector<std::pair<std::string_view, int32_t>>, 256> by_first_;
  bool empty_ = true;
};

class SentencePieceBpe final : public Tokenizer {
 public:
  Status init(const fb::Tokenizer& data);

  std::vector<int32_t> encode(std::string_view text, bool parse_special) const override;
  std::string decode_token(int32_t previous, int32_t id) const override;
  size_t n_vocab() const override { return pieces_.size(); }
  std::string_view piece(int32_t id) const override {
    return id >= 0 && size_t(id) < pieces_.size() ? std::string_view(pieces_[size_t(id)]) : std::string_view();
  }

 private:
  std::string normalize(std::string_view input) const;
  void encode_normalized(std::string_view normalized, std::vector<int32_t>* out) const;
  void encode_text(std::string_view text, std::vector<int32_t>* out) const {
    encode_normalized(normalize(text), out);
  }
  // ModelInterface::PieceToId: reserved pieces first, then the others, else <unk>.
  int32_t piece_to_id(std::string_view p) const {
    if (auto it = reserved_ids_.find(p); it != reserved_ids_.end()) return it->second;
    if (auto it = normal_ids_.find(p); it != normal_ids_.end()) return it->second;
    return unk_id_;
  }
  fb::TokenType type(int32_t id) const { return types_[size_t(id)]; }

  std::vector<std::string> pieces_;  // (vocab); the maps below view these strings
  std::vector<float> scores_;        // (vocab)
  std::vector<fb::TokenType> types_; // (vocab)
  // Normal, UserDefined and Unused pieces (the only ones BPE merges may produce), and the rest.
  std::unordered_map<std::string_view, int32_t> normal_ids_;
  std::unordered_map<std::string_view, int32_t> reserved_ids_;
  PrefixSet user_defined_;  // matched atomically by the normalizer and the model
  PrefixSet specials_;      // Control/Unknown special tokens, for parse_special
  std::array<int32_t, 256> byte_ids_{};  // id of <0xXX> per byte, with byte_fallback
  std::vector<int16_t> byte_of_id_;      // (vocab) the byte a Byte piece stands for, else -1
  int32_t unk_id_ = -1;
  bool add_dummy_prefix_ = false;
  bool remove_extra_whitespaces_ = false;
  bool byte_fallback_ = false;
  bool has_unused_ = false;
};

Status SentencePieceBpe::init(const fb::Tokenizer& data) {
  auto bad = [](auto&&... args) {
    return format::fail(StatusCode::invalid_argument, "sentencepiece tokenizer: ", args...);
  };
  if (data.kind() != fb::TokenizerKind::SentencePieceBpe) {
    return bad("kind is ", format::tokenizer_kind_name(data.kind()), ", not SentencePieceBpe");
  }
  const size_t n = data.pieces() == nullptr ? 0 : data.pieces()->size();
  if (n == 0) return bad("no pieces");
  if (n > size_t(INT32_MAX)) return bad(n, " pieces exceed the int32 id range");
  if (data.scores() == nullptr || data.scores()->size() != n) {
    return bad(data.scores() == nullptr ? 0 : data.scores()->size(), " scores for ", n, " pieces (BPE needs one each)");
  }
  if (data.types() == nullptr || data.types()->size() != n) {
    return bad(data.types() == nullptr ? 0 : data.types()->size(), " token types for ", n, " pieces");
  }
  add_dummy_prefix_ = data.add_dummy_prefix();
  byte_fallback_ = data.byte_fallback();

  pieces_.reserve(n);
  scores_.reserve(n);
  types_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const flatbuffers::String* s = data.pieces()->Get(flatbuffers::uoffset_t(i));
    if (s == nullptr || s->size() == 0) return bad("piece ", i, " is empty");
    pieces_.emplace_back(s->string_view());
    scores_.push_back(data.scores()->Get(flatbuffers::uoffset_t(i)));
    const fb::TokenType t = data.types()->Get(flatbuffers::uoffset_t(i));
    if (uint8_t(t) > uint8_t(fb::TokenType::MAX)) return bad("piece ", i, " has unknown type ", int(t));
    types_.push_back(t);
  }

  // Same checks as libsentencepiece's ModelInterface::InitializePieces; pieces_ no longer moves.
  normal_ids_.reserve(n);
  byte_of_id_.assign(n, -1);
  std::array<bool, 256> byte_found{};
  bool repeated_space = false;
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = pieces_[i];
    const int32_t id = int32_t(i);
    if (p.find('\0') != std::string::npos) return bad("piece ", i, " contains a NUL byte");
    auto& map = format::is_reserved_token_type(types_[i]) ? reserved_ids_ : normal_ids_;
    if (!map.emplace(p, id).second) return bad("piece ", i, " '", p, "' is defined twice");
    switch (types_[i]) {
      case fb::TokenType::Unknown:
        if (unk_id_ >= 0) return bad("pieces ", unk_id_, " and ", i, " are both of type Unknown");
        unk_id_ = id;
        break;
      case fb::TokenType::UserDefined: user_defined_.add(p, id); break;
      case fb::TokenType::Unused: has_unused_ = true; break;
      case fb::TokenType::Byte: {
        const int b = format::byte_of_piece(p);
        if (b < 0) return bad("byte piece ", i, " '", p, "' is not spelled <0xXX>");
        if (!byte_fallback_) return bad("byte piece ", i, " '", p, "' without byte_fallback");
        byte_found[size_t(b)] = true;
        byte_of_id_[i] = int16_t(b);
        break;
      }
      default: break;
    }
    if ((types_[i] == fb::TokenType::Normal || types_[i] == fb::TokenType::Unused) &&
        p.find("\xe2\x96\x81\xe2\x96\x81") != std::string::npos) {
      repeated_space = true;
    }
  }
  if (unk_id_ < 0) return bad("no piece has type Unknown");
  if (byte_fallback_) {
    for (size_t b = 0; b < 256; ++b) {
      if (!byte_found[b]) return bad("byte_fallback is on but byte piece ", b, " is missing");
    }
  }
  // Stored by the compiler since the field exists; older files: a model normalized with
  // remove_extra_whitespaces never saw "▁▁" (see the file comment).
  remove_extra_whitespaces_ = data.remove_extra_whitespaces().has_value() ? *data.remove_extra_whitespaces()
                                                                          : !repeated_space;

  for (size_t b = 0; b < 256; ++b) {
    static const char* const kHex = "0123456789ABCDEF";
    const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    byte_ids_[b] = piece_to_id(std::string_view(name, sizeof name));
  }

  if (data.special_tokens() != nullptr) {
    for (const fb::SpecialToken* s : *data.special_tokens()) {
      if (s == nullptr || s->content() == nullptr) return bad("a special token has no content");
      const int64_t id = s->id();
      if (id < 0 || id >= int64_t(n)) return bad("special token id ", id, " is outside the vocabulary");
      if (s->content()->string_view() != pieces_[size_t(id)]) {
        return bad("special token '", s->content()->string_view(), "' does not match piece ", id, " '",
                   pieces_[size_t(id)], "'");
      }
      // User-defined pieces are already atomic in every encoding; parse_special adds the rest.
      if (types_[size_t(id)] != fb::TokenType::UserDefined) specials_.add(pieces_[size_t(id)], int32_t(id));
    }
  }
  user_defined_.finish();
  specials_.finish();
  return Status::success();
}

std::string SentencePieceBpe::normalize(std::string_view input) const {
  std::string out;
  if (input.empty()) return out;

  // normalizer::Normalizer::NormalizePrefix for an identity normalizer: the next user-defined piece
  // or UTF-8 character as-is, or U+FFFD for one malformed byte. Returns the text and bytes consumed.
  auto next = [this](std::string_view in) -> std::pair<std::string_view, size_t> {
    int32_t id = 0;
    if (!user_defined_.empty()) {
      if (const size_t n = user_defined_.match(in, &id); n > 0) return {in.substr(0, n), n};
    }
    const size_t n = valid_char_len(in);
    if (n == 0) return {kReplacementChar, 1};
    return {in.substr(0, n), n};
  };

  if (remove_extra_whitespaces_) {
    while (!input.empty()) {
      const auto [text, consumed] = next(input);
      if (text != " ") break;
      input.remove_prefix(consumed);
    }
    if (input.empty()) return out;
  }

  out.reserve(input.size() * 3 + kSpaceSymbol.size());
  if (add_dummy_prefix_) out += kSpaceSymbol;
  bool is_prev_space = remove_extra_whitespaces_;
  while (!input.empty()) {
    auto [text, consumed] = next(input);
    while (is_prev_space && !text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (!text.empty()) {
      for (char c : text) {
        if (c == ' ') {
          out += kSpaceSymbol;
        } else {
          out += c;
        }
      }
      is_prev_space = text.back() == ' ';
    }
    input.remove_prefix(consumed);
    if (!remove_extra_whitespaces_) is_prev_space = false;
  }
  if (remove_extra_whitespaces_) {
    while (std::string_view(out).ends_with(kSpaceSymbol)) out.resize(out.size() - kSpaceSymbol.size());
  }
  return out;
}

void SentencePieceBpe::encode_normalized(std::string_view normalized, std::vector<int32_t>* out) const {
  if (normalized.empty()) return;
  // Symbols are indexed and offset with 32 bits.
  if (normalized.size() > size_t(INT32_MAX)) throw std::length_error("sentencepiece: text of 2 GiB or more");

  struct Symbol {
    int32_t prev;   // -1 at the start
    int32_t next;   // -1 at the end
    uint32_t begin; // byte offset into `normalized`
    uint32_t size;  // bytes; 0 once merged into the symbol on its left
    bool freeze;    // a user-defined piece: never merged
  };
  struct Pair {
    float score;  // of the merged piece
    int32_t left, right;
    uint32_t size;  // bytes of the merged piece when queued; a mismatch later means the pair is stale
  };
  // sentencepiece's SymbolPairComparator: the highest score first, then the leftmost.
  struct PairOrder {
    bool operator()(const Pair& a, const Pair& b) const {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
  };

  std::vector<Symbol> symbols;
  symbols.reserve(normalized.size());
  for (size_t pos = 0; pos < normalized.size();) {
    int32_t id = 0;
    size_t len = user_defined_.empty() ? 0 : user_defined_.match(normalized.substr(pos), &id);
    const bool freeze = len > 0;
    if (!freeze) len = std::min(one_char_len(normalized[pos]), normalized.size() - pos);
    const int32_t index = int32_t(symbols.size());
    const int32_t next = pos + len < normalized.size() ? index + 1 : -1;
    symbols.push_back({index - 1, next, uint32_t(pos), uint32_t(len), freeze});
    pos += len;
  }

  auto view = [&](const Symbol& s) { return normalized.substr(s.begin, s.size); };
  // Merged unused pieces are split back into what they were made of (resegmentation).
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> rev_merge;

  std::vector<Pair> storage;
  storage.reserve(symbols.size());
  std::priority_queue<Pair, std::vector<Pair>, PairOrder> agenda(PairOrder{}, std::move(storage));
  auto maybe_add_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || symbols[size_t(left)].freeze || symbols[size_t(right)].freeze) return;
    const Symbol& l = symbols[size_t(left)];
    const Symbol& r = symbols[size_t(right)];
    const std::string_view merged = normalized.substr(l.begin, l.size + r.size);
    const auto it = normal_ids_.find(merged);
    if (it == normal_ids_.end()) return;
    agenda.push({scores_[size_t(it->second)], left, right, uint32_t(merged.size())});
    if (has_unused_ && type(it->second) == fb::TokenType::Unused) rev_merge[merged] = {view(l), view(r)};
  };

  for (size_t i = 1; i < symbols.size(); ++i) maybe_add_pair(int32_t(i - 1), int32_t(i));

  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    Symbol& l = symbols[size_t(top.left)];
    Symbol& r = symbols[size_t(top.right)];
    if (l.size == 0 || r.size == 0 || l.size + r.size != top.size) continue;  // stale
    l.size += r.size;
    l.next = r.next;
    if (r.next >= 0) symbols[size_t(r.next)].prev = top.left;
    r.size = 0;
    maybe_add_pair(l.prev, top.left);
    maybe_add_pair(top.left, l.next);
  }

  // PopulateSentencePieceText: ids, byte fallback, runs of <unk> collapsed.
  bool prev_unk = false;
  auto emit = [&](std::string_view w, int32_t id) {
    const fb::TokenType t = type(id);
    const bool is_unk = t == fb::TokenType::Unknown;
    if (t == fb::TokenType::Control) {
      out->push_back(id);
    } else if (is_unk && byte_fallback_) {
      for (char c : w) out->push_back(byte_ids_[uint8_t(c)]);
    } else if (!(prev_unk && is_unk)) {
      out->push_back(id);
    }
    prev_unk = is_unk;
  };
  // Recursion depth is bounded by the length of the longest piece.
  auto resegment = [&](auto&& self, std::string_view w) -> void {
    const int32_t id = piece_to_id(w);
    if (type(id) == fb::TokenType::Unused) {
      if (const auto it = rev_merge.find(w); it != rev_merge.end()) {
        self(self, it->second.first);
        self(self, it->second.second);
        return;
      }
    }
    emit(w, id);
  };
  for (int32_t i = 0; i != -1; i = symbols[size_t(i)].next) resegment(resegment, view(symbols[size_t(i)]));
}

std::vector<int32_t> SentencePieceBpe::encode(std::string_view text, bool parse_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (!parse_special || specials_.empty()) {
    encode_text(text, &ids);
    return ids;
  }
  // Special-token text becomes its id; the text between is encoded as if it stood alone (so each
  // segment gets its dummy prefix, as when a prompt is assembled from separately encoded parts).
  size_t start = 0;
  for (size_t pos = 0; pos < text.size();) {
    int32_t id = 0;
    if (const size_t n = specials_.match(text.substr(pos), &id); n > 0) {
      encode_text(text.substr(start, pos - start), &ids);
      ids.push_back(id);
      pos += n;
      start = pos;
    } else {
      ++pos;
    }
  }
  encode_text(text.substr(start), &ids);
  return ids;
}

std::string SentencePieceBpe::decode_token(int32_t previous, int32_t id) const {
  if (id < 0 || size_t(id) >= pieces_.size()) return {};
  switch (type(id)) {
    case fb::TokenType::Control: return {};
    case fb::TokenType::Unknown: return std::string(kUnkSurface);
    case fb::TokenType::Byte: return std::string(1, char(byte_of_id_[size_t(id)]));
    default: break;
  }
  std::string_view p = pieces_[size_t(id)];
  // sentencepiece drops the dummy-prefix space of the first piece of the text; "first" here means
  // at the start or right after a control token (BOS).
  const bool at_start = previous < 0 || (size_t(previous) < pieces_.size() && type(previous) == fb::TokenType::Control);
  if (at_start && (add_dummy_prefix_ || remove_extra_whitespaces_) && p.starts_with(kSpaceSymbol)) {
    p.remove_prefix(kSpaceSymbol.size());
  }
  std::string text;
  text.reserve(p.size());
  while (!p.empty()) {
    if (p.starts_with(kSpaceSymbol)) {
      text += ' ';
      p.remove_prefix(kSpaceSymbol.size());
    } else {
      text += p.front();
      p.remove_prefix(1);
    }
  }
  return text;
}

}  // namespace

Status make_sentencepiece_bpe(const fb::Tokenizer& data, std::unique_ptr<Tokenizer>* out) {
  auto t = std::make_unique<SentencePieceBpe>();
  INGOT_RETURN_IF_ERROR(t->init(data));
  *out = std::move(t);
  return Status::success();
}

}  // namespace ingot::runtime
