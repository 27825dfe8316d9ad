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
#pragma once

#include <optional>
#include <string_view>

namespace ingot::format {

enum class PreTokenizer { gpt2, llama3, qwen2, starcoder };

inline constexpr std::string_view kPreTokenizerNames[] = {"gpt2", "llama3", "qwen2", "starcoder"};

inline const char* pre_tokenizer_name(PreTokenizer p) { return kPreTokenizerNames[int(p)].data(); }

inline std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name) {
  for (int i = 0; i < int(std::size(kPreTokenizerNames)); ++i) {
    if (kPreTokenizerNames[i] == name) return PreTokenizer(i);
  }
  return std::nullopt;
}

// "gpt2, llama3, qwen2, starcoder", for messages.
inline std::string_view pre_tokenizer_list() { return "gpt2, llama3, qwen2, starcoder"; }

// The split regexes (the LLaMA-3 one is also what containers written before the pre_tokenizer
// field record in pre_tokenizer_pattern).
inline constexpr std::string_view kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
inline constexpr std::string_view kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
inline constexpr std::string_view kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

}  // namespace ingot::format
