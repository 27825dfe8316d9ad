// Perplexity by llama.cpp's protocol (tools/perplexity/perplexity.cpp, `llama-perplexity -f FILE
// -c N [--chunks K]`, no --ppl-stride), so ingot's figure compares directly with llama.cpp's:
//   tokens = encode(whole text), plus BOS in front / EOS at the end when the tokenizer adds them
//            (tokenizer add_bos / add_eos; llama.cpp's common_tokenize with add_special);
//   chunks = tokens.size() / N (a partial last chunk is dropped), at most K;
//   chunk c is tokens [c·N, (c+1)·N), evaluated from an empty cache; when the tokenizer adds
//            BOS, the chunk's first token is replaced by BOS for the evaluation;
//   only the second half is scored: the tokens at positions N/2 + 1 .. N − 1 of each chunk, each
//            from the logits one position earlier (N − 1 − N/2 tokens per chunk);
//   ppl    = exp(sum of −log softmax over every scored token / their count).
// The other protocol (the GPTQ paper's, every token of each window) is runtime::perplexity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "generate.h"
#include "ingot/format/status.h"
#include "model/model.h"

namespace ingot::runtime {

// The tokens llama.cpp scores `text` from: encode(text) with BOS/EOS as the tokenizer asks.
std::vector<int32_t> llamacpp_tokens(const Model& model, const std::string& text);

// Scores `tokens` (from llamacpp_tokens) in chunks of `n_ctx`; max_chunks 0: all.
// out->chunk_nll holds each chunk's mean NLL over its scored tokens.
format::Status llamacpp_perplexity(const Model& model, const std::vector<int32_t>& tokens, size_t n_ctx,
                                   size_t max_chunks,
                                   const std::function<void(size_t done, size_t total, double ppl)>& progress,
                                   PerplexityResult* out);

}  // namespace ingot::runtime
