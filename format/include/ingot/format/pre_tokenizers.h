// The byte-level BPE pre-tokenizers (how text is split before BPE), by the name a container
// records in fb::Tokenizer::pre_tokenizer. The compiler maps its sources' spellings onto these
// (GGUF tokenizer.ggml.pre, a tokenizer.json pre_tokenizer section); the runtime implements each
// (runtime/src/tokenizer/pre_tokenizer.cpp). Split regexes, as Hugging Face tokenizers and
// llama.cpp spell them:
//   gpt2       ByteLevel's own regex (GPT-2, MPT, OLMo, Phi-2, RoBERTa, ...):
//              's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   llama3     LLaMA-3 (llama.cpp "llama-bpe"; also DBRX, Smaug, Falcon3, Pixtral):
//              (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//              \s*[\r\n]+|\s+(?!\S)|\s+
//   qwen2      Qwen2 (also StableLM-2, DeepSeek-R1-Qwen): llama3 with \p{N} single digits
//   starcoder  StarCoder (also SmolLM, Refact, Command-R, CodeShell, EXAONE): Digits
//              (individual_digits) then the gpt2 regex
// and these, each a sequence of steps (every Split "Isolated": matches and the gaps between them
// are pieces; each step splits the pieces of the one before):
//   default         llama.cpp's split for a GGUF without tokenizer.ggml.pre (or "default"); no
//                   tokenizer.json has it: [\p{P}\$\+<=>\^~\|]+, the gpt2 regex, \p{N}+, [0-9]{3}
//   deepseek-llm    DeepSeek LLM: [\r\n], \s?[Latin/Greek/Cyrillic/... letter ranges]+,
//                   \s?[ASCII and full-width punctuation ranges]+, \s+$, [CJK and Hangul ranges]+,
//                   Digits (\p{N}+)
//   deepseek-coder  DeepSeek Coder: [\r\n], \s?\p{L}+, \s?\p{P}+, [CJK and Hangul ranges]+,
//                   Digits (individual_digits: each \p{N})
//   falcon          Falcon: Punctuation (contiguous runs of ASCII punctuation or \p{P}), ByteLevel
//                   with the gpt2 regex, then on the byte-mapped text Digits (runs of the bytes
//                   that map to a \p{N} character: 0-9 and 0xB2 0xB3 0xB9 0xBC..0xBE) and [0-9]{3}
//   tekken          Mistral's Tekken (Mistral-Nemo, Pixtral-12B's base):
//              [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|
//              [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}|
//              ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ingot::format {

// Appended only: the names are what containers record.
enum class PreTokenizer { gpt2, llama3, qwen2, starcoder, llamacpp_default, deepseek_llm, deepseek_coder, falcon, tekken };

inline constexpr std::string_view kPreTokenizerNames[] = {"gpt2",         "llama3",         "qwen2",
                                                          "starcoder",    "default",        "deepseek-llm",
                                                          "deepseek-coder", "falcon",       "tekken"};
static_assert(std::size(kPreTokenizerNames) == size_t(PreTokenizer::tekken) + 1);

inline const char* pre_tokenizer_name(PreTokenizer p) { return kPreTokenizerNames[int(p)].data(); }

inline std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name) {
  for (int i = 0; i < int(std::size(kPreTokenizerNames)); ++i) {
    if (kPreTokenizerNames[i] == name) return PreTokenizer(i);
  }
  return std::nullopt;
}

// "gpt2, llama3, ...": every name, for messages.
inline const std::string& pre_tokenizer_list() {
  static const std::string list = [] {
    std::string s;
    for (std::string_view n : kPreTokenizerNames) s += (s.empty() ? "" : ", ") + std::string(n);
    return s;
  }();
  return list;
}

// The split regexes (the LLaMA-3 one is also what containers written before the pre_tokenizer
// field record in pre_tokenizer_pattern).
inline constexpr std::string_view kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
inline constexpr std::string_view kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
inline constexpr std::string_view kTekkenPattern =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
inline constexpr std::string_view kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

}  // namespace ingot::format
