#include "generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace ingot::runtime {

using format::fail;
using format::Status;
using format::StatusCode;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

Status GenerationHooks::sample(std::span<float>, const HookContext&, int32_t*) {
  return fail(StatusCode::invalid_argument, "GenerationHooks::sample called on hooks without a sampler");
}

std::vector<int32_t> prompt_tokens(const Model& model, const std::string& text, bool parse_special) {
  std::vector<int32_t> ids;
  if (model.has_tokenizer() && !text.empty()) ids = model.tokenizer().encode(text, parse_special);
  const fb::Tokenizer* t = model.container().index().tokenizer();
  const int32_t bos = model.dims().bos;
  const bool add_bos = (t == nullptr || t->add_bos()) && bos >= 0;
  if (add_bos && !(parse_special && !ids.empty() && ids[0] == bos)) ids.insert(ids.begin(), bos);
  return ids;
}

Status generate(Session& session, const std::vector<int32_t>& prompt, const GenerateParams& params,
                const std::function<bool(int32_t, const std::string&)>& on_token, GenerateStats* stats) {
  const Model& model = session.model();
  if (prompt.empty()) return fail(StatusCode::invalid_argument, "empty prompt (and the model has no BOS token)");
  GenerateStats st;
  st.n_prompt = prompt.size();
  std::vector<float> logits(model.dims().vocab);
  std::vector<int32_t> history = prompt;
  auto t0 = std::chrono::steady_clock::now();
  if (params.reuse_cache) {
    if (prompt.size() > session.context()) {
      return fail(StatusCode::invalid_argument, "prompt of ", prompt.size(), " tokens exceeds the context length ",
                  session.context());
    }
    st.n_prompt_cached = session.keep_common_prefix(prompt);
  }
  GenerationHooks* hooks = params.hooks;
  // Plain greedy sampling needs only the argmax: the backend computes it where the logits are
  // (on the device for CUDA), so the logits never cross. A repetition penalty or a Lua hook that
  // reads the logits needs them on the host.
  const SamplerParams& sp = params.sampler;
  const bool greedy = sp.temperature <= 0 && (sp.repeat_penalty == 1.0f || sp.repeat_last_n <= 0) &&
                      !(hooks != nullptr && (hooks->has_process_logits() || hooks->has_sample()));
  int32_t greedy_next = -1;
  // Top-k sampling needs only the row's best candidates (Sampler::candidates_needed): the
  // backend selects them where the logits are, and the sampler draws from them the token it would
  // draw from the whole row.
  Sampler sampler(params.sampler);
  const size_t need = greedy || (hooks != nullptr && (hooks->has_process_logits() || hooks->has_sample()))
                          ? 0
                          : sampler.candidates_needed(model.dims().vocab);
  const bool from_top = need > 0 && need <= model.backend().max_top_k();
  std::vector<Candidate> top;
  const auto eval = [&](std::span<const int32_t> tokens) {
    if (greedy) return session.eval_greedy(tokens, &greedy_next);
    if (from_top) return session.eval_top(tokens, need, &top);
    return session.eval(tokens, logits.data());
  };
  INGOT_RETURN_IF_ERROR(eval(std::span<const int32_t>(prompt).subspan(st.n_prompt_cached)));
  st.prompt_seconds = seconds_since(t0);
  HookContext hc;
  hc.model = &model;
  hc.n_prompt = prompt.size();
  hc.seed = params.sampler.seed;
  const auto context_now = [&] {
    hc.history = history;
    hc.n_generated = st.n_generated;
    hc.position = session.position();
    return hc;
  };
  // Ends generation with `s`, keeping the stats of what was done.
  const auto stop_with = [&](Status s) {
    st.generate_seconds = seconds_since(t0);
    if (stats) *stats = st;
    return s;
  };
  t0 = std::chrono::steady_clock::now();
  if (hooks != nullptr) {
    Status s = hooks->begin(context_now());
    if (!s.ok()) return stop_with(std::move(s));
  }
  const size_t vocab = logits.size();
  int32_t previous = prompt.back();
  for (int32_t i = 0; i < params.n_predict; ++i) {
    int32_t next = -1;
    if (greedy) {
      next = greedy_next;
    } else {
      if (hooks != nullptr && hooks->has_process_logits()) {
        Status s = hooks->process_logits(logits, context_now());
        if (!s.ok()) return stop_with(std::move(s));
        // A hook that masks every token leaves nothing to sample from; say so rather than pick 0.
        if (!std::any_of(logits.begin(), logits.end(), [](float v) { return v > -INFINITY; })) {
          return stop_with(fail(StatusCode::script_error, "process_logits left no token with a finite logit"));
        }
      }
      if (hooks != nullptr && hooks->has_sample()) {
        Status s = hooks->sample(logits, context_now(), &next);
        if (!s.ok()) return stop_with(std::move(s));
        if (next < 0 || size_t(next) >= vocab) {
          return stop_with(fail(StatusCode::script_error, "sample chose token ", next, ", outside the vocabulary [0, ",
                                vocab, ")"));
        }
      } else if (from_top) {
        next = sampler.sample_top(top, history);
      } else {
        next = sampler.sample(logits, history);
      }
    }
    if (model.is_eos(next)) {
      st.stopped_at_eos = true;
      break;
    }
    history.push_back(next);
    const std::string text = model.has_tokenizer() ? model.tokenizer().decode_token(previous, next) : std::string();
    previous = next;
    TokenAction action = TokenAction::keep;
    if (hooks != nullptr && hooks->has_on_token()) {
      Status s = hooks->on_token(next, text, context_now(), &action);
      if (!s.ok()) return stop_with(std::move(s));
    }
    if (action == TokenAction::drop_stop) {
      history.pop_back();
      st.stopped_by_hook = true;
      break;
    }
    ++st.n_generated;
    if (!on_token(next, text)) break;
    if (action == TokenAction::keep_stop) {
      st.stopped_by_hook = true;
      break;
    }
    if (i + 1 == params.n_predict) break;  // no need to evaluate a token nobody samples from
    if (session.position() >= session.context()) {
      return stop_with(fail(StatusCode::invalid_argument, "context length ", session.context(), " reached after ",
                            st.n_generated, " generated tokens"));
    }
    INGOT_RETURN_IF_ERROR(eval({&next, 1}));
  }
  st.generate_seconds = seconds_since(t0);
  if (stats) *stats = st;
  return Status::success();
}

Status perplexity(const Model& model, const std::vector<int32_t>& tokens, size_t ctx, size_t max_chunks,
                  const std::function<void(size_t, size_t, double)>& progress, PerplexityResult* out) {
  if (ctx < 2) return fail(StatusCode::invalid_argument, "--ctx must be at least 2");
  if (ctx > model.dims().context) {
    return fail(StatusCode::invalid_argument, "--ctx ", ctx, " exceeds the model's context length ",
                model.dims().context);
  }
  size_t n_chunks = tokens.size() / ctx;
  if (max_chunks > 0) n_chunks = std::min(n_chunks, max_chunks);
  if (n_chunks == 0) {
    return fail(StatusCode::invalid_argument, "the text has ", tokens.size(), " tokens, fewer than one window of ",
                ctx);
  }
  PerplexityResult r;
  Session session(model, ctx);
  std::vector<float> logits;
  const size_t vocab = model.dims().vocab;
  double total = 0;
  for (size_t c = 0; c < n_chunks; ++c) {
    session.reset();
    const std::span<const int32_t> window(tokens.data() + c * ctx, ctx);
    INGOT_RETURN_IF_ERROR(session.eval(window, nullptr, &logits));
    double chunk = 0;
    for (size_t i = 0; i + 1 < ctx; ++i) {
      const float* l = logits.data() + i * vocab;
      double max = l[0];
      for (size_t v = 1; v < vocab; ++v) max = std::max(max, double(l[v]));
      double sum = 0;
      for (size_t v = 0; v < vocab; ++v) sum += std::exp(double(l[v]) - max);
      chunk += (max + std::log(sum)) - double(l[size_t(window[i + 1])]);
    }
    total += chunk;
    r.n_scored += ctx - 1;
    r.chunk_nll.push_back(chunk / double(ctx - 1));
    if (progress) progress(c + 1, n_chunks, std::exp(total / double(r.n_scored)));
  }
  r.n_chunks = n_chunks;
  r.mean_nll = total / double(r.n_scored);
  r.ppl = std::exp(r.mean_nll);
  *out = std::move(r);
  return Status::success();
}

}  // namespace ingot::runtime
