// Byte-level BPE pre-tokenizers (ingot/format/pre_tokenizers.h): a segment of text (no special
// tokens inside) split into pre-tokens, each then encoded by BPE on its own. Each split regex is
// matched by hand-written code that follows Oniguruma's leftmost-alternative backtracking for
// that one pattern (Hugging Face tokenizers uses Oniguruma), so no regex engine is needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "ingot/format/pre_tokenizers.h"
#include "tokenizer/unicode.h"

namespace ingot::runtime {

// One unit of a segment: a code point, or one ill-formed byte (class other).
struct Unit {
  uint32_t cp;
  size_t offset;  // of its first byte in the segment
  unicode::CharClass cls;
};

// Decodes `segment` into units (one per code point; one per ill-formed byte).
void to_units(std::string_view segment, std::vector<Unit>* units);

// The pre-tokens of `segment` (decoded into units[0..n) by to_units) as (first byte, end byte)
// ranges, in order, covering every byte. Byte ranges, not unit ranges: Falcon's steps after
// ByteLevel may split inside a code point.
void pre_tokenize(format::PreTokenizer p, std::string_view segment, const Unit* u, size_t n,
                  std::vector<std::pair<size_t, size_t>>* out);

}  // namespace ingot::runtime
