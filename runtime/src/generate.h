// Text generation and scoring on top of a Session: streaming generation, perplexity, timing.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "model/session.h"
#include "sampling/sampler.h"

namespace ingot::runtime {

// What a hook sees of the generation in progress. Valid only during the hook call.
struct HookContext {
  const Model* model = nullptr;
  std::span<const int32_t> history;  // (n_prompt + n_generated) every token so far, prompt first
  size_t n_prompt = 0;
  size_t n_generated = 0;             // tokens generated (and kept) so far
  size_t position = 0;                // KV positions evaluated; the next token goes here
  uint64_t seed = 0;                  // the run's seed (SamplerParams::seed)
};

// What on_token asks generation to do with the token it was shown.
enum class TokenAction {
  keep,       // pass it on and continue
  keep_stop,  // pass it on, then stop
  drop_stop,  // stop without passing it on (e.g. the end of a stop sequence)
};

// Custom steps in generate(): shape the logits, choose the token, watch the stream. Whatever a
// hook set leaves out (has_* false) falls back to the built-in behaviour, so the runtime does not
// depend on whoever implements them (scripting/ implements them with Lua). A non-ok Status ends
// generation with that Status; the session stays usable (reset it or keep evaluating).
class GenerationHooks {
 public:
  virtual ~GenerationHooks() = default;
  // Once at the start of every generate() call, before any other hook (e.g. to seed an RNG).
  virtual format::Status begin(const HookContext&) { return format::Status::success(); }
  virtual bool has_process_logits() const { return false; }
  // Changes `logits` (vocab) in place before sampling.
  virtual format::Status process_logits(std::span<float>, const HookContext&) { return format::Status::success(); }
  virtual bool has_sample() const { return false; }
  // Chooses the next token instead of the built-in sampler; *token must be in [0, vocab).
  virtual format::Status sample(std::span<float>, const HookContext&, int32_t* token);
  virtual bool has_on_token() const { return false; }
  // Sees each generated token (not EOS) with its text before the caller's callback does.
  virtual format::Status on_token(int32_t, const std::string&, const HookContext&, TokenAction* action) {
    *action = TokenAction::keep;
    return format::Status::success();
  }
};

struct GenerateParams {
  int32_t n_predict = 128;  // tokens to generate at most (stops earlier at EOS)
  SamplerParams sampler;
  GenerationHooks* hooks = nullptr;  // not owned; null: the built-in sampler alone
  // false: the prompt continues at the session's current position. true: the prompt is the whole
  // text from position 0; the cached positions it starts with are kept (Session::keep_common_prefix)
  // and only the rest is evaluated (a chat re-sending its history each turn).
  bool reuse_cache = false;
};

struct GenerateStats {
  size_t n_prompt = 0, n_generated = 0;
  size_t n_prompt_cached = 0;  // prompt tokens taken from the cache (reuse_cache), not evaluated
  double prompt_seconds = 0, generate_seconds = 0;
  bool stopped_at_eos = false;
  bool stopped_by_hook = false;  // on_token asked to stop
};

// Evaluates `prompt` (already holding BOS if wanted) as one batch, then samples up to n_predict
// tokens. `on_token(id, text)` sees each generated token with its decoded text (empty text
// when the model has no tokenizer) and returns false to stop. Fails on context overflow.
format::Status generate(Session& session, const std::vector<int32_t>& prompt, const GenerateParams& params,
                        const std::function<bool(int32_t, const std::string&)>& on_token, GenerateStats* stats);

// Prompt tokens for text: BOS (when the tokenizer asks for it and the model has one) + encode(text).
// parse_special: special-token text ("<s>", "<|eot_id|>") becomes its id, as a chat template's
// output needs, and BOS is then added only when the text does not already start with it.
std::vector<int32_t> prompt_tokens(const Model& model, const std::string& text, bool parse_special = false);

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
