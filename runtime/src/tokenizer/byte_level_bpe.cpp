// Byte-level BPE (GPT-2 style, as LLaMA-3's tokenizer.json): special tokens are cut out first,
// each remaining segment is split into pre-tokens by the container's pre-tokenizer
// (pre_tokenizer.h; ingot/format/pre_tokenizers.h lists them), and each pre-token's
// bytes are encoded by BPE over the GPT-2 byte alphabet. Results equal Hugging Face
// `tokenizers` 0.23 with `ignore_merges` (tiktoken's rule: a pre-token that is itself in the
// vocabulary is emitted whole).
#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace ingot::runtime {

namespace {

using format::Status;
using format::StatusCode;
using unicode::CharClass;

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
  format::PreTokenizer pre_ = format::PreTokenizer::llama3;
  bool add_prefix_space_ = false;  // ByteLevel add_prefix_space: " " before a segment lacking one
};

Status ByteLevelBpe::init(const fb::Tokenizer& data) {
  const auto bad = [](auto&&... args) {
    return format::fail(StatusCode::invalid_index, "byte-level BPE tokenizer: ", args...);
  };
  ignore_merges_ = data.ignore_merges();
  const std::string_view name =
      data.pre_tokenizer() != nullptr ? data.pre_tokenizer()->string_view() : std::string_view();
  const std::string_view pattern =
      data.pre_tokenizer_pattern() != nullptr ? data.pre_tokenizer_pattern()->string_view() : std::string_view();
  add_prefix_space_ = data.add_dummy_prefix();
  if (!name.empty()) {
    const std::optional<format::PreTokenizer> p = format::pre_tokenizer_from_name(name);
    if (!p) return bad("pre-tokenizer '", name, "' is not one this runtime implements (", format::pre_tokenizer_list(), ")");
    pre_ = *p;
  } else if (pattern != format::kLlama3Pattern) {  // containers from before the pre_tokenizer field
    return bad("pre-tokenizer pattern '", pattern, "' is not supported (only the LLaMA-3 split regex '",
               format::kLlama3Pattern, "' is implemented without a pre_tokenizer name)");
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
    // A vocabulary may lack a few bytes (controls, bytes UTF-8 never uses): like tokenizers' BPE
    // without an unknown token, encode then drops them. Printable ASCII must be there.
    if (it == piece_to_id.end() && b >= 0x20 && b <= 0x7E) return bad("no piece for byte 0x", std::hex, b, " ('", s, "')");
    byte_id_[b] = it == piece_to_id.end() ? -1 : it->second;
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
  std::string spaced;
  if (add_prefix_space_ && segment[0] != ' ') {
    spaced = " " + std::string(segment);
    segment = spaced;
  }
  to_units(segment, units);
  std::vector<std::pair<size_t, size_t>> pieces;
  pre_tokenize(pre_, segment, units->data(), units->size(), &pieces);
  for (const auto& [from, to] : pieces) encode_pre_token(segment.substr(from, to - from), out);
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
  // Bytes without a piece are dropped before merging (tokenizers' Word skips them), so the bytes
  // on either side may merge.
  std::vector<Symbol> sym;
  sym.reserve(bytes.size());
  for (const char ch : bytes) {
    const int32_t id = byte_id_[uint8_t(ch)];
    if (id >= 0) sym.push_back({id, int32_t(sym.size()) - 1, int32_t(sym.size()) + 1, true});
  }
  const int32_t n = int32_t(sym.size());
  if (n == 0) return;
  sym.back().next = -1;
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
