#include "tokenizer/pre_tokenizer.h"

#include <algorithm>

namespace ingot::runtime {

namespace {

using format::PreTokenizer;
using unicode::CharClass;

bool is_cr_lf(const Unit& u) { return u.cp == '\r' || u.cp == '\n'; }
uint32_t ascii_lower(uint32_t cp) { return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp; }

size_t run_of(const Unit* u, size_t n, size_t from, CharClass cls) {
  size_t j = from;
  while (j < n && u[j].cls == cls) ++j;
  return j;
}

// `\s+(?!\S)|\s+` at a whitespace unit u[i]: the run, less its last unit when a non-space
// follows it (that unit then starts the next match, e.g. " word"); a single space before a
// non-space is matched by \s+ alone.
size_t trailing_space(const Unit* u, size_t n, size_t i) {
  const size_t end = run_of(u, n, i, CharClass::space);
  if (end == n || end - i == 1) return end - i;
  return end - i - 1;
}

// The LLaMA-3 pattern (max_digits 3) or Qwen2's (max_digits 1):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//   \s*[\r\n]+|\s+(?!\S)|\s+
// Length in units of the match at u[i] (i < n); every unit starts some match, so the split has
// no gaps and never matches empty.
size_t match_llama3(const Unit* u, size_t n, size_t i, size_t max_digits) {
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
  if (c.cls == CharClass::letter) return run_of(u, n, i, CharClass::letter) - i;
  if (c.cls != CharClass::number && !is_cr_lf(c) && i + 1 < n && u[i + 1].cls == CharClass::letter) {
    return run_of(u, n, i + 1, CharClass::letter) - i;
  }
  // \p{N}{1,max}
  if (c.cls == CharClass::number) return std::min(run_of(u, n, i, CharClass::number) - i, max_digits);
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  size_t start = n;
  if (c.cls == CharClass::other) {
    start = i;
  } else if (c.cp == ' ' && i + 1 < n && u[i + 1].cls == CharClass::other) {
    start = i + 1;
  }
  if (start != n) {
    size_t j = run_of(u, n, start, CharClass::other);
    while (j < n && is_cr_lf(u[j])) ++j;
    return j - i;
  }
  // c is whitespace from here on. \s*[\r\n]+: up to and including the last \r or \n of the run.
  const size_t end = run_of(u, n, i, CharClass::space);
  for (size_t k = end; k > i; --k) {
    if (is_cr_lf(u[k - 1])) return k - i;
  }
  return trailing_space(u, n, i);
}

// GPT-2's pattern: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (contractions case-sensitive; an optional space, U+0020 only, before a run of one class).
size_t match_gpt2(const Unit* u, size_t n, size_t i) {
  const Unit& c = u[i];
  if (c.cp == '\'' && i + 1 < n) {
    const uint32_t a = u[i + 1].cp;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 < n) {
      const uint32_t b = u[i + 2].cp;
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
  }
  const size_t start = (c.cp == ' ' && i + 1 < n && u[i + 1].cls != CharClass::space) ? i + 1 : i;
  const CharClass cls = u[start].cls;
  if (cls != CharClass::space) return run_of(u, n, start, cls) - i;
  return trailing_space(u, n, i);
}

template <typename Match>
void split_with(const Unit* u, size_t begin, size_t end, Match match, std::vector<std::pair<size_t, size_t>>* out) {
  for (size_t i = begin; i < end;) {
    const size_t len = match(u + begin, end - begin, i - begin);
    out->emplace_back(i, i + len);
    i += len;
  }
}

using Pieces = std::vector<std::pair<size_t, size_t>>;  // (first, end) unit or byte ranges

// One Split step with behavior "Isolated" over every piece of `*pieces`: each match is a piece and
// so is each gap between matches. match(v, m, i) is the length of the match at v[i] of the piece
// v[0..m), 0 for none (regex search: the leftmost position that matches, then on after it).
template <typename T, typename Match>
void isolate(const T* u, Match match, Pieces* pieces) {
  Pieces out;
  out.reserve(pieces->size());
  for (const auto& [b, e] : *pieces) {
    size_t gap = b;
    for (size_t i = b; i < e;) {
      const size_t len = match(u + b, e - b, i - b);
      if (len == 0) {
        ++i;
        continue;
      }
      if (gap < i) out.emplace_back(gap, i);
      out.emplace_back(i, i + len);
      i += len;
      gap = i;
    }
    if (gap < e) out.emplace_back(gap, e);
  }
  *pieces = std::move(out);
}

// A run of units from v[i] that `in` accepts: its length (0: v[i] is not in it).
template <typename In>
size_t run(const Unit* v, size_t m, size_t i, In in) {
  size_t j = i;
  while (j < m && in(v[j])) ++j;
  return j - i;
}

// `\s?C+` (C a class of code points): an optional whitespace unit, then a run of C.
template <typename In>
size_t space_then_run(const Unit* v, size_t m, size_t i, In in) {
  if (v[i].cls == CharClass::space && i + 1 < m && in(v[i + 1])) return 1 + run(v, m, i + 1, in);
  return run(v, m, i, in);
}

struct CpRange {
  uint32_t first, last;  // inclusive
};
template <size_t N>
bool in_ranges(const CpRange (&r)[N], uint32_t cp) {
  const CpRange* it = std::lower_bound(std::begin(r), std::end(r), cp, [](const CpRange& a, uint32_t c) { return a.last < c; });
  return it != std::end(r) && it->first <= cp;
}

// DeepSeek LLM's letter class, as its tokenizer.json (and llama.cpp's llama-vocab.cpp) spell it:
// [A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-Ֆ...𞤀-𞥃], as ascending ranges.
constexpr CpRange kDeepseekLetters[] = {
    {0x0041, 0x005A}, {0x0061, 0x007A}, {0x00B5, 0x00B5}, {0x00C0, 0x00D6}, {0x00D8, 0x00F6}, {0x00F8, 0x01BA},
    {0x01BC, 0x01BF}, {0x01C4, 0x0293}, {0x0295, 0x02AF}, {0x0370, 0x0373}, {0x0376, 0x0377}, {0x037B, 0x037D},
    {0x037F, 0x037F}, {0x0386, 0x0386}, {0x0388, 0x038A}, {0x038C, 0x038C}, {0x038E, 0x03A1}, {0x03A3, 0x03F5},
    {0x03F7, 0x0481}, {0x048A, 0x052F}, {0x0531, 0x0556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4},
    {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC},
    {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124},
    {0x2126, 0x2126}, {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F},
    {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E},
    {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F},
    {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF},
    {0x1E900, 0x1E943},
};
// [!-/:-~！-／：-～‘-‟　-。] (ASCII 0x3A..0x7E includes the letters: a letter piece of the step
// before is matched again whole).
constexpr CpRange kDeepseekPunct[] = {{0x21, 0x2F},     {0x3A, 0x7E},     {0x2018, 0x201F},
                                      {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}};
// [一-龥ࠀ-一가-퟿]: U+4E00..U+9FA5 and U+0800..U+4E00 overlap into one range, and Hangul.
constexpr CpRange kDeepseekCjk[] = {{0x0800, 0x9FA5}, {0xAC00, 0xD7FF}};

bool is_punct(const Unit& u) { return u.cp != unicode::kInvalid && unicode::gc_group(u.cp) == unicode::GcGroup::P; }
bool is_ascii_punct(uint32_t cp) {
  return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) || (cp >= 0x7B && cp <= 0x7E);
}

// DeepSeek's first step, [\r\n]: each CR or LF alone.
size_t match_cr_lf(const Unit* v, size_t, size_t i) { return is_cr_lf(v[i]) ? 1 : 0; }

void deepseek(bool coder, const Unit* u, size_t n, Pieces* pieces) {
  pieces->assign(n == 0 ? 0 : 1, {0, n});
  isolate(u, match_cr_lf, pieces);
  const auto cjk = [](const Unit* v, size_t m, size_t i) {
    return run(v, m, i, [](const Unit& x) { return in_ranges(kDeepseekCjk, x.cp); });
  };
  if (coder) {
    isolate(u, [](const Unit* v, size_t m, size_t i) {
      return space_then_run(v, m, i, [](const Unit& x) { return x.cls == CharClass::letter; });
    }, pieces);
    isolate(u, [](const Unit* v, size_t m, size_t i) { return space_then_run(v, m, i, is_punct); }, pieces);
    isolate(u, cjk, pieces);
    // Digits(individual_digits true): each \p{N} alone.
    isolate(u, [](const Unit* v, size_t, size_t i) { return v[i].cls == CharClass::number ? size_t(1) : size_t(0); }, pieces);
    return;
  }
  isolate(u, [](const Unit* v, size_t m, size_t i) {
    return space_then_run(v, m, i, [](const Unit& x) { return in_ranges(kDeepseekLetters, x.cp); });
  }, pieces);
  isolate(u, [](const Unit* v, size_t m, size_t i) {
    return space_then_run(v, m, i, [](const Unit& x) { return in_ranges(kDeepseekPunct, x.cp); });
  }, pieces);
  // \s+$: a whitespace run reaching the end of the piece ($ also holds before a \n, but [\r\n]
  // pieces are single units by now).
  isolate(u, [](const Unit* v, size_t m, size_t i) {
    const size_t r = run(v, m, i, [](const Unit& x) { return x.cls == CharClass::space; });
    return (r > 0 && (i + r == m || v[i + r].cp == '\n')) ? r : 0;
  }, pieces);
  isolate(u, cjk, pieces);
  // Digits(individual_digits false): each run of \p{N}.
  isolate(u, [](const Unit* v, size_t m, size_t i) { return run(v, m, i, [](const Unit& x) { return x.cls == CharClass::number; }); },
          pieces);
}

// `[0-9][0-9][0-9]` over bytes (ASCII digits are themselves in the byte mapping).
size_t match_three_digits(const uint8_t* v, size_t m, size_t i) {
  const auto d = [&](size_t k) { return k < m && v[k] >= '0' && v[k] <= '9'; };
  return (d(i) && d(i + 1) && d(i + 2)) ? 3 : 0;
}

// ByteLevel maps each byte to a code point (printable Latin-1 bytes to themselves, the others to
// U+0100 on): the bytes whose image is \p{N} (Rust's char::is_numeric), which Falcon's Digits step,
// running after ByteLevel, splits on: 0-9, 0xB2 0xB3 0xB9 (superscripts), 0xBC..0xBE (fractions).
bool byte_maps_to_number(uint8_t b) { return (b >= '0' && b <= '9') || b == 0xB2 || b == 0xB3 || b == 0xB9 || (b >= 0xBC && b <= 0xBE); }

// Tekken's classes: X = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], Y = [\p{Ll}\p{Lm}\p{Lo}\p{M}].
using unicode::GcGroup;
GcGroup gc_of(const Unit& u) { return u.cp == unicode::kInvalid ? GcGroup::none : unicode::gc_group(u.cp); }
bool tekken_x(GcGroup g) { return g == GcGroup::Lu || g == GcGroup::Lt || g == GcGroup::Lm || g == GcGroup::Lo || g == GcGroup::M; }
bool tekken_y(GcGroup g) { return g == GcGroup::Ll || g == GcGroup::Lm || g == GcGroup::Lo || g == GcGroup::M; }

// The tekken pattern (pre_tokenizers.h) at v[i], with the groups of v in g.
size_t match_tekken(const Unit* v, const GcGroup* g, size_t m, size_t i) {
  const auto x_run_end = [&](size_t s) {
    while (s < m && tekken_x(g[s])) ++s;
    return s;
  };
  const auto y_run_end = [&](size_t s) {
    while (s < m && tekken_y(g[s])) ++s;
    return s;
  };
  // X*Y+ from s: X* backs off from its longest run until a Y follows; 0 when none does.
  const auto upper_then_lower = [&](size_t s) -> size_t {
    for (size_t k = x_run_end(s) + 1; k-- > s;) {
      if (k < m && tekken_y(g[k])) return y_run_end(k);
    }
    return 0;
  };
  // X+Y* from s.
  const auto upper_run = [&](size_t s) -> size_t {
    const size_t e = x_run_end(s);
    return e == s ? 0 : y_run_end(e);
  };
  // [^\r\n\p{L}\p{N}]? : tried with the prefix first, then without.
  const bool prefix = !is_cr_lf(v[i]) && v[i].cls != CharClass::letter && v[i].cls != CharClass::number && i + 1 < m;
  if (prefix) {
    if (const size_t e = upper_then_lower(i + 1)) return e - i;
  }
  if (const size_t e = upper_then_lower(i)) return e - i;
  if (prefix) {
    if (const size_t e = upper_run(i + 1)) return e - i;
  }
  if (const size_t e = upper_run(i)) return e - i;
  if (v[i].cls == CharClass::number) return 1;
  // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
  size_t start = m;
  if (v[i].cls == CharClass::other) {
    start = i;
  } else if (v[i].cp == ' ' && i + 1 < m && v[i + 1].cls == CharClass::other) {
    start = i + 1;
  }
  if (start != m) {
    size_t j = run_of(v, m, start, CharClass::other);
    while (j < m && (is_cr_lf(v[j]) || v[j].cp == '/')) ++j;
    return j - i;
  }
  // Whitespace: as in the LLaMA-3 pattern.
  const size_t end = run_of(v, m, i, CharClass::space);
  for (size_t k = end; k > i; --k) {
    if (is_cr_lf(v[k - 1])) return k - i;
  }
  return trailing_space(v, m, i);
}

// Unit ranges to byte ranges of the segment.
void to_bytes(std::string_view segment, const Unit* u, size_t n, const Pieces& units, Pieces* out) {
  out->clear();
  for (const auto& [first, end] : units) out->emplace_back(u[first].offset, end < n ? u[end].offset : segment.size());
}

}  // namespace

void to_units(std::string_view segment, std::vector<Unit>* units) {
  units->clear();
  for (size_t i = 0; i < segment.size();) {
    uint32_t cp = 0;
    const size_t len = unicode::decode_utf8(segment, i, &cp);
    units->push_back({cp, i, cp == unicode::kInvalid ? CharClass::other : unicode::char_class(cp)});
    i += len;
  }
}

void pre_tokenize(PreTokenizer p, std::string_view segment, const Unit* u, size_t n, std::vector<std::pair<size_t, size_t>>* out) {
  Pieces pieces;
  switch (p) {
    case PreTokenizer::llama3:
      split_with(u, 0, n, [](const Unit* v, size_t m, size_t i) { return match_llama3(v, m, i, 3); }, &pieces);
      break;
    case PreTokenizer::qwen2:
      split_with(u, 0, n, [](const Unit* v, size_t m, size_t i) { return match_llama3(v, m, i, 1); }, &pieces);
      break;
    case PreTokenizer::gpt2:
      split_with(u, 0, n, match_gpt2, &pieces);
      break;
    case PreTokenizer::starcoder:
      // Digits(individual_digits): every \p{N} alone; the runs between them go through the
      // GPT-2 pattern on their own (a space before a digit stays a pre-token by itself).
      for (size_t i = 0; i < n;) {
        if (u[i].cls == CharClass::number) {
          pieces.emplace_back(i, i + 1);
          ++i;
          continue;
        }
        size_t j = i;
        while (j < n && u[j].cls != CharClass::number) ++j;
        split_with(u, i, j, match_gpt2, &pieces);
        i = j;
      }
      break;
    case PreTokenizer::llamacpp_default:
      // llama.cpp's regex list, each step on the pieces of the one before.
      pieces.assign(n == 0 ? 0 : 1, {0, n});
      isolate(u, [](const Unit* v, size_t m, size_t i) {
        return run(v, m, i, [](const Unit& x) {
          return is_punct(x) || x.cp == '$' || x.cp == '+' || x.cp == '<' || x.cp == '=' || x.cp == '>' ||
                 x.cp == '^' || x.cp == '~' || x.cp == '|';
        });
      }, &pieces);
      isolate(u, match_gpt2, &pieces);
      isolate(u, [](const Unit* v, size_t m, size_t i) { return run(v, m, i, [](const Unit& x) { return x.cls == CharClass::number; }); },
              &pieces);
      isolate(u, [](const Unit* v, size_t m, size_t i) {
        const auto d = [&](size_t k) { return k < m && v[k].cp >= '0' && v[k].cp <= '9'; };
        return (d(i) && d(i + 1) && d(i + 2)) ? size_t(3) : size_t(0);
      }, &pieces);
      break;
    case PreTokenizer::deepseek_llm:
    case PreTokenizer::deepseek_coder:
      deepseek(p == PreTokenizer::deepseek_coder, u, n, &pieces);
      break;
    case PreTokenizer::tekken: {
      std::vector<GcGroup> g(n);
      for (size_t i = 0; i < n; ++i) g[i] = gc_of(u[i]);
      split_with(u, 0, n, [&](const Unit* v, size_t m, size_t i) { return match_tekken(v, g.data(), m, i); }, &pieces);
      break;
    }
    case PreTokenizer::falcon: {
      // Punctuation (behavior Contiguous): runs of ASCII punctuation or \p{P} (Rust's
      // is_ascii_punctuation || is_punctuation); then ByteLevel's GPT-2 regex in each piece.
      pieces.assign(n == 0 ? 0 : 1, {0, n});
      isolate(u, [](const Unit* v, size_t m, size_t i) {
        return run(v, m, i, [](const Unit& x) { return is_ascii_punct(x.cp) || is_punct(x); });
      }, &pieces);
      Pieces split;
      for (const auto& [b, e] : pieces) split_with(u, b, e, match_gpt2, &split);
      // Then on bytes, as the byte-mapped text: Digits (individual_digits false, Contiguous),
      // and [0-9]{3}.
      to_bytes(segment, u, n, split, out);
      const auto* bytes = reinterpret_cast<const uint8_t*>(segment.data());
      isolate(bytes, [](const uint8_t* v, size_t m, size_t i) {
        size_t j = i;
        while (j < m && byte_maps_to_number(v[j])) ++j;
        return j - i;
      }, out);
      isolate(bytes, match_three_digits, out);
      return;
    }
  }
  to_bytes(segment, u, n, pieces, out);
}

}  // namespace ingot::runtime
