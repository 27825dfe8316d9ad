// Text generation and scoring on top of a Session: streaming generation, perplexity, timing.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "model/session.h"
#include "sampling/sampler.h"

namespace ingot::runtime {

struct GenerateParams {
  int32_t n_predict = 128;  // tokens to generate at most (stops earlier at EOS)
  SamplerParams sampler;
};

struct GenerateStats {
  size_t n_prompt = 0, n_generated = 0;
  double prompt_seconds = 0, generate_seconds = 0;
  bool stopped_at_eos = false;
};

// Evaluates `prompt` (already holding BOS if wanted) as one batch, then samples up to n_predict
// tokens. `on_token(id, text)` sees each generated token with its decoded text (empty text
// when the model has no tokenizer) and returns false to stop. Fails on context overflow.
format::Status generate(Session& session, const std::vector<int32_t>& prompt, const GenerateParams& params,
                        const std::function<bool(int32_t, const std::string&)>& on_token, GenerateStats* stats);

// Prompt tokens for text: BOS (when the tokenizer asks for it and the model has one) + encode(text).
std::vector<int32_t> prompt_tokens(const Model& model, const std::string& text);

struct PerplexityResult {
  double ppl = 0;          // exp(mean NLL)
  double mean_nll = 0;
  size_t n_scored = 0;     // tokens scored
  size_t n_chunks = 0;     // windows evaluated
  std::vector<double> chunk_nll;  // mean NLL of each window
};

// The GPTQ paper's protocol: `tokens` split into non-overlapping windows of `ctx` tokens (a
// partial last window is dropped), each evaluated from an empty cache; every token after the
// first of a window is scored. max_chunks 0: all windows. NLLs accumulate in double.
format::Status perplexity(const Model& model, const std::vector<int32_t>& tokens, size_t ctx, size_t max_chunks,
                          const std::function<void(size_t done, size_t total, double ppl)>& progress,
                          PerplexityResult* out);

}  // namespace ingot::runtime
