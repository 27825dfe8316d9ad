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

void pre_tokenize(PreTokenizer p, const Unit* u, size_t n, std::vector<std::pair<size_t, size_t>>* out) {
  out->clear();
  switch (p) {
    case PreTokenizer::llama3:
      split_with(u, 0, n, [](const Unit* v, size_t m, size_t i) { return match_llama3(v, m, i, 3); }, out);
      return;
    case PreTokenizer::qwen2:
      split_with(u, 0, n, [](const Unit* v, size_t m, size_t i) { return match_llama3(v, m, i, 1); }, out);
      return;
    case PreTokenizer::gpt2:
      split_with(u, 0, n, match_gpt2, out);
      return;
    case PreTokenizer::starcoder:
      // Digits(individual_digits): every \p{N} alone; the runs between them go through the
      // GPT-2 pattern on their own (a space before a digit stays a pre-token by itself).
      for (size_t i = 0; i < n;) {
        if (u[i].cls == CharClass::number) {
          out->emplace_back(i, i + 1);
          ++i;
          continue;
        }
        size_t j = i;
        while (j < n && u[j].cls != CharClass::number) ++j;
        split_with(u, i, j, match_gpt2, out);
        i = j;
      }
      return;
  }
}

}  // namespace ingot::runtime
