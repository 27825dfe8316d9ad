// Byte-level BPE (GPT-2 style, as LLaMA-3's tokenizer.json): special tokens are cut out first,
// each remaining segment is split into pre-tokens by the LLaMA-3 regex, and each pre-token's
// bytes are encoded by BPE over the GPT-2 byte alphabet. Results equal Hugging Face
// `tokenizers` 0.23 with `ignore_merges` (tiktoken's rule: a pre-token that is itself in the
// vocabulary is emitted whole).
#include <algorithm>
#include <array>
#include <cstring>
#include <queue>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace ingot::runtime {

namespace {

using format::Status;
using format::StatusCode;
using unicode::CharClass;

// The one split regex this file implements (LLaMA-3, tiktoken cl100k-like with \p{N}{1,3}).
// A container naming another pattern is refused rather than tokenized differently.
constexpr std::string_view kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// GPT-2's bytes_to_unicode: printable bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for
// themselves; the other 68 bytes map, in byte order, to U+0100, U+0101, ...
std::array<uint32_t, 256> byte_to_code_point() {
  std::array<uint32_t, 256> map{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    map[b] = printable ? b : next++;
  }
  return map;
}

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(char(cp));
  } else if (cp < 0x800) {
    out->push_back(char(0xC0 | (cp >> 6)));
    out->push_back(char(0x80 | (cp & 0x3F)));
  } else {  // the byte alphabet stays below U+0144
    out->push_back(char(0xE0 | (cp >> 12)));
    out->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(char(0x80 | (cp & 0x3F)));
  }
}

// The bytes a byte-level piece stands for ("Ġworld" -> " world"); false when a character of the
// piece is outside the byte alphabet.
bool piece_to_bytes(std::string_view piece, const std::unordered_map<uint32_t, uint8_t>& code_point_to_byte,
                    std::string* out) {
  out->clear();
  for (size_t i = 0; i < piece.size();) {
    uint32_t cp = 0;
    i += unicode::decode_utf8(piece, i, &cp);
    const auto it = code_point_to_byte.find(cp);
    if (it == code_point_to_byte.end()) return false;
    out->push_back(char(it->second));
  }
  return true;
}

// Lets the byte map be searched with a string_view (no allocation per pre-token).
struct BytesHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

// One unit of a segment for the pre-tokenizer: a code point, or one ill-formed byte (class other).
struct Unit {
  uint32_t cp;
  size_t offset;  // of its first byte in the segment
  CharClass cls;
};

bool is_cr_lf(const Unit& u) { return u.cp == '\r' || u.cp == '\n'; }
uint32_t ascii_lower(uint32_t cp) { return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp; }

// Length in units of the match of kLlama3Pattern at u[i] (i < n). Oniguruma tries the
// alternatives in order and backtracks inside each; every unit starts some match (each class is
// covered by an alternative), so the split never leaves gaps and never matches empty.
size_t match_llama3(const Unit* u, size_t n, size_t i) {
  const auto run = [&](size_t from, CharClass cls) {
    size_t j = from;
    while (j < n && u[j].cls == cls) ++j;
    return j;
  };
  const Unit& c = u[i];
  // (?i:'s|'t|'re|'ve|'m|'ll|'d): ASCII case folding only (Oniguruma does not fold U+017F here).
  if (c.cp == '\'' && i + 1 < n) {
    const uint32_t a = ascii_lower(u[i + 1].cp);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 < n) {
      const uint32_t b = ascii_lower(u[i + 2].cp);
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c.cls == CharClass::letter) return run(i, CharClass::letter) - i;
  if (c.cls != CharClass::number && !is_cr_lf(c) && i + 1 < n && u[i + 1].cls == CharClass::letter) {
    return run(i + 1, CharClass::letter) - i;
  }
  // \p{N}{1,3}
  if (c.cls == CharClass::number) return std::min<size_t>(run(i, CharClass::number) - i, 3);
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  size_t start = n;
  if (c.cls == CharClass::other) {
    start = i;
  } else if (c.cp == ' ' && i + 1 < n && u[i + 1].cls == CharClass::other) {
    start = i + 1;
  }
  if (start != n) {
    size_t j = run(start, CharClass::other);
    while (j < n && is_cr_lf(u[j])) ++j;
    return j - i;
  }
  // c is whitespace from here on.
  const size_t end = run(i, CharClass::space);
  // \s*[\r\n]+: up to and including the last \r or \n of the whitespace run.
  for (size_t k = end; k > i; --k) {
    if (is_cr_lf(u[k - 1])) return k - i;
  }
  // \s+(?!\S): the run, less its last unit when a non-space follows; else \s+.
  if (end == n || end - i == 1) return end - i;
  return end - i - 1;
}

class ByteLevelBpe final : public Tokenizer {
 public:
  Status init(const fb::Tokenizer& data);

  std::vector<int32_t> encode(std::string_view text, bool parse_special) const override;
  std::string decode_token(int32_t /*previous*/, int32_t id) const override {
    return (id >= 0 && size_t(id) < bytes_.size()) ? bytes_[size_t(id)] : std::string();
  }
  size_t n_vocab() const override { return pieces_.size(); }
  std::string_view piece(int32_t id) const override {
    return (id >= 0 && size_t(id) < pieces_.size()) ? std::string_view(pieces_[size_t(id)]) : std::string_view();
  }

 private:
  struct Merge {
    int32_t rank;
    int32_t id;  // the merged piece
  };
  struct Special {
    std::string content;
    int32_t id;
    bool always;  // a non-special added token (UserDefined): matched even without parse_special
  };

  static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

  void encode_segment(std::string_view segment, std::vector<Unit>* units, std::vector<int32_t>* out) const;
  void encode_pre_token(std::string_view bytes, std::vector<int32_t>* out) const;

  std::vector<std::string> pieces_;  // (vocab) as stored
  std::vector<std::string> bytes_;   // (vocab) decoded bytes of each piece
  std::unordered_map<std::string, int32_t, BytesHash, std::equal_to<>> bytes_to_id_;  // model vocabulary by bytes
  std::array<int32_t, 256> byte_id_{};          // the single-byte piece of every byte
  std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) -> rank, merged id
  std::vector<Special> specials_;               // longest first
  std::array<bool, 256> special_first_byte_{};
  bool ignore_merges_ = true;
};

Status ByteLevelBpe::init(const fb::Tokenizer& data) {
  const auto bad = [](auto&&... args) {
    return format::fail(StatusCode::invalid_index, "byte-level BPE tokenizer: ", args...);
  };
  ignore_merges_ = data.ignore_merges();
  const std::string_view pattern =
      data.pre_tokenizer_pattern() != nullptr ? data.pre_tokenizer_pattern()->string_view() : std::string_view();
  if (pattern != kLlama3Pattern) {
    return bad("pre-tokenizer pattern '", pattern, "' is not supported (only the LLaMA-3 split regex '", kLlama3Pattern,
               "' is implemented)");
  }
  if (data.pieces() == nullptr || data.pieces()->size() == 0) return bad("no pieces");
  const size_t n = data.pieces()->size();
  if (n > size_t(INT32_MAX)) return bad(n, " pieces exceed the int32 id range");
  if (data.types() != nullptr && data.types()->size() != 0 && data.types()->size() != n) {
    return bad(data.types()->size(), " token types for ", n, " pieces");
  }
  const auto type = [&](size_t id) {
    return (data.types() != nullptr && data.types()->size() == n) ? data.types()->Get(flatbuffers::uoffset_t(id))
                                                                  : fb::TokenType::Normal;
  };

  // Added tokens (special or not) stand outside the BPE model's vocabulary, as in tokenizers.
  std::vector<bool> added(n, false);
  if (data.special_tokens() != nullptr) {
    for (const fb::SpecialToken* s : *data.special_tokens()) {
      const std::string_view content = s->content()->string_view();
      if (s->id() < 0 || size_t(s->id()) >= n) {
        return bad("special token '", content, "' has id ", s->id(), ", outside the ", n, " pieces");
      }
      if (content.empty()) return bad("special token ", s->id(), " has empty text");
      added[size_t(s->id())] = true;
      specials_.push_back({std::string(content), s->id(), type(size_t(s->id())) == fb::TokenType::UserDefined});
      special_first_byte_[uint8_t(content[0])] = true;
    }
  }
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const Special& a, const Special& b) { return a.content.size() > b.content.size(); });
  for (size_t id = 0; id < n; ++id) {
    const fb::TokenType t = type(id);
    if (t == fb::TokenType::Control || t == fb::TokenType::UserDefined) added[id] = true;
  }

  const std::array<uint32_t, 256> to_cp = byte_to_code_point();
  std::unordered_map<uint32_t, uint8_t> to_byte;
  for (uint32_t b = 0; b < 256; ++b) to_byte[to_cp[b]] = uint8_t(b);

  // Pieces, their bytes, and the model vocabulary by piece text (for the merges) and by bytes.
  pieces_.resize(n);
  bytes_.resize(n);
  std::unordered_map<std::string_view, int32_t> piece_to_id;
  piece_to_id.reserve(n);
  std::string raw;
  for (size_t id = 0; id < n; ++id) {
    const flatbuffers::String* p = data.pieces()->Get(flatbuffers::uoffset_t(id));
    pieces_[id] = p != nullptr ? p->str() : std::string();
    const bool byte_level = piece_to_bytes(pieces_[id], to_byte, &raw);
    // Like the ByteLevel decoder: a piece with characters outside the byte alphabet (an added
    // token such as "<|eot_id|>" is inside it) decodes to its own UTF-8 text.
    bytes_[id] = byte_level ? raw : pieces_[id];
    if (added[id]) continue;
    if (pieces_[id].empty()) return bad("piece ", id, " is empty");
    if (!piece_to_id.emplace(p->string_view(), int32_t(id)).second) {
      return bad("piece '", pieces_[id], "' appears twice (ids ", piece_to_id[p->string_view()], " and ", id, ")");
    }
    if (byte_level) bytes_to_id_.emplace(raw, int32_t(id));
  }

  for (uint32_t b = 0; b < 256; ++b) {
    std::string s;
    append_utf8(to_cp[b], &s);
    const auto it = piece_to_id.find(s);
    if (it == piece_to_id.end()) return bad("no piece for byte 0x", std::hex, b, " ('", s, "')");
    byte_id_[b] = it->second;
  }

  if (data.merges() != nullptr) {
    if (data.merges()->size() > size_t(INT32_MAX)) return bad("too many merges");
    merges_.reserve(data.merges()->size());
    std::string joined;
    for (flatbuffers::uoffset_t rank = 0; rank < data.merges()->size(); ++rank) {
      const flatbuffers::String* m = data.merges()->Get(rank);
      const std::string_view text = m != nullptr ? m->string_view() : std::string_view();
      const size_t space = text.find(' ');
      if (space == std::string_view::npos || space == 0 || space + 1 == text.size() ||
          text.find(' ', space + 1) != std::string_view::npos) {
        return bad("merge ", rank, " '", text, "' is not two pieces separated by one space");
      }
      const std::string_view left = text.substr(0, space);
      const std::string_view right = text.substr(space + 1);
      const auto l = piece_to_id.find(left);
      const auto r = piece_to_id.find(right);
      if (l == piece_to_id.end() || r == piece_to_id.end()) {
        const std::string_view unknown = l == piece_to_id.end() ? left : right;
        return bad("merge ", rank, " '", text, "' names the unknown piece '", unknown, "'");
      }
      joined.assign(left).append(right);
      const auto j = piece_to_id.find(joined);
      if (j == piece_to_id.end()) {
        return bad("merge ", rank, " '", text, "' makes '", joined, "', which is not a piece");
      }
      // A repeated pair keeps its last rank, as tokenizers' HashMap collect does.
      merges_[pair_key(l->second, r->second)] = Merge{int32_t(rank), j->second};
    }
  }
  return Status::success();
}

std::vector<int32_t> ByteLevelBpe::encode(std::string_view text, bool parse_special) const {
  std::vector<int32_t> out;
  std::vector<Unit> units;
  size_t begin = 0;  // start of the pending plain-text segment
  for (size_t i = 0; i < text.size();) {
    const Special* hit = nullptr;
    if (special_first_byte_[uint8_t(text[i])]) {
      // Leftmost-longest, as tokenizers' Aho-Corasick over added tokens.
      for (const Special& s : specials_) {
        if ((parse_special || s.always) && text.compare(i, s.content.size(), s.content) == 0) {
          hit = &s;
          break;
        }
      }
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    encode_segment(text.substr(begin, i - begin), &units, &out);
    out.push_back(hit->id);
    i += hit->content.size();
    begin = i;
  }
  encode_segment(text.substr(begin), &units, &out);
  return out;
}

void ByteLevelBpe::encode_segment(std::string_view segment, std::vector<Unit>* units, std::vector<int32_t>* out) const {
  if (segment.empty()) return;
  units->clear();
  for (size_t i = 0; i < segment.size();) {
    uint32_t cp = 0;
    const size_t len = unicode::decode_utf8(segment, i, &cp);
    units->push_back({cp, i, cp == unicode::kInvalid ? CharClass::other : unicode::char_class(cp)});
    i += len;
  }
  const size_t n = units->size();
  const Unit* u = units->data();
  for (size_t i = 0; i < n;) {
    const size_t len = match_llama3(u, n, i);
    const size_t from = u[i].offset;
    const size_t to = i + len < n ? u[i + len].offset : segment.size();
    encode_pre_token(segment.substr(from, to - from), out);
    i += len;
  }
}

// BPE over one pre-token, merging as tokenizers' Word::merge_all does: repeatedly the pair of
// lowest rank, leftmost first among equal ranks, until no adjacent pair has a merge.
void ByteLevelBpe::encode_pre_token(std::string_view bytes, std::vector<int32_t>* out) const {
  // ignore_merges: a pre-token that is a piece is emitted whole.
  if (ignore_merges_) {
    if (const auto it = bytes_to_id_.find(bytes); it != bytes_to_id_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  struct Symbol {
    int32_t id;
    int32_t prev;  // -1: none
    int32_t next;  // -1: none
    bool alive;
  };
  struct Candidate {
    int32_t rank;
    int32_t pos;                                // left symbol
    int32_t id;                                 // merged piece
    bool operator<(const Candidate& o) const {  // std::priority_queue pops the greatest
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  const int32_t n = int32_t(bytes.size());
  std::vector<Symbol> sym(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    sym[size_t(i)] = {byte_id_[uint8_t(bytes[size_t(i)])], i - 1, i + 1 < n ? i + 1 : -1, true};
  }
  std::priority_queue<Candidate> queue;
  const auto push = [&](int32_t left) {
    const int32_t right = sym[size_t(left)].next;
    if (right < 0) return;
    const auto it = merges_.find(pair_key(sym[size_t(left)].id, sym[size_t(right)].id));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = sym[size_t(top.pos)];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = sym[size_t(left.next)];
    // Skip an entry that a merge on either side has made stale.
    const auto it = merges_.find(pair_key(left.id, right.id));
    if (it == merges_.end() || it->second.id != top.id) continue;
    left.id = top.id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) sym[size_t(right.next)].prev = top.pos;
    if (left.prev >= 0) push(left.prev);
    push(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[size_t(i)].next) out->push_back(sym[size_t(i)].id);
}

}  // namespace

format::Status make_byte_level_bpe(const fb::Tokenizer& data, std::unique_ptr<Tokenizer>* out) {
  if (data.kind() != fb::TokenizerKind::ByteLevelBpe) {
    return format::fail(StatusCode::invalid_argument, "byte-level BPE tokenizer: the container's tokenizer is ",
                        format::tokenizer_kind_name(data.kind()));
  }
  auto t = std::make_unique<ByteLevelBpe>();
  INGOT_RETURN_IF_ERROR(t->init(data));
  *out = std::move(t);
  return format::Status::success();
}

}  // namespace ingot::runtime
