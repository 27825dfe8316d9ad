// ingot_session_*: a KV cache on a shared model; eval and streaming generation.
#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "capi/boundary.h"
#include "generate.h"

using ingot::capi::fail;
using ingot::capi::from_status;
using ingot::capi::guard;

namespace {

// Tokens held plus `n` more must fit the cache.
ingot_status check_room(const char* fn, const ingot_session& s, size_t n) {
  const size_t held = s.session->position() + (s.pending >= 0 ? 1 : 0);
  if (held + n > s.session->context()) {
    return fail(fn, INGOT_STATUS_CONTEXT_FULL,
                std::to_string(held) + " tokens in the session + " + std::to_string(n) + " new exceed its context of " +
                    std::to_string(s.session->context()));
  }
  return INGOT_STATUS_OK;
}

// Generation after the prompt `tokens` is known (shared by ingot_session_generate and
// ingot_session_generate_from_start). from_start: `tokens` is the whole text from position 0 and
// the cached positions it starts with are reused; otherwise it continues the session.
ingot_status run_generate(const char* fn, ingot_session* session, const std::vector<int32_t>& tokens,
                          const ingot_generate_params& params, ingot_generate_stats* stats, bool from_start) {
  ingot::runtime::Session& s = *session->session;
  if (from_start && tokens.size() > s.context()) {
    return fail(fn, INGOT_STATUS_CONTEXT_FULL,
                std::to_string(tokens.size()) + " prompt tokens exceed the session's context of " +
                    std::to_string(s.context()));
  }
  if (!from_start) {
    // `tokens` already holds the pending token: count room against the cache alone.
    const size_t held = s.position();
    if (held + tokens.size() > s.context()) {
      return fail(fn, INGOT_STATUS_CONTEXT_FULL,
                  std::to_string(held + (session->pending >= 0 ? 1 : 0)) + " tokens in the session + " +
                      std::to_string(tokens.size() - (session->pending >= 0 ? 1 : 0)) +
                      " prompt tokens exceed its context of " + std::to_string(s.context()));
    }
  }
  ingot::runtime::GenerateParams gp;
  gp.n_predict = params.n_predict;
  gp.sampler.temperature = params.sampler.temperature;
  gp.sampler.top_k = params.sampler.top_k;
  gp.sampler.top_p = params.sampler.top_p;
  gp.sampler.min_p = params.sampler.min_p;
  gp.sampler.repeat_penalty = params.sampler.repeat_penalty;
  gp.sampler.repeat_last_n = params.sampler.repeat_last_n;
  gp.sampler.seed = params.sampler.seed;
  gp.hooks = session->script != nullptr ? session->script->script.get() : nullptr;
  gp.reuse_cache = from_start;
  ingot_generate_stats st{};
  st.stop_reason = INGOT_STOP_LENGTH;
  if (params.n_predict == 0) {
    // Nothing to sample: just feed the prompt.
    ingot::capi::use_threads(session->n_threads);
    const size_t kept = from_start ? s.keep_common_prefix(tokens) : 0;
    const std::span<const int32_t> rest = std::span<const int32_t>(tokens).subspan(kept);
    if (ingot_status r = from_status(fn, s.eval(rest, nullptr)); r != INGOT_STATUS_OK) return r;
    session->pending = -1;
    st.n_prompt = int32_t(rest.size());
    if (stats != nullptr) *stats = st;
    return INGOT_STATUS_OK;
  }
  int32_t last = -1;
  bool stopped_by_callback = false;
  const auto on_token = [&](int32_t id, const std::string& piece) {
    last = id;
    if (params.on_token != nullptr && !params.on_token(id, piece.data(), piece.size(), params.user_data)) {
      stopped_by_callback = true;
      return false;
    }
    return true;
  };
  ingot::capi::use_threads(session->n_threads);
  const int32_t pending_before = session->pending;
  ingot::runtime::GenerateStats rs;
  const ingot::format::Status status = ingot::runtime::generate(s, tokens, gp, on_token, &rs);
  // The prompt (pending token included) is in the cache once generation started; the last
  // sampled token is not: it waits for the next call.
  session->pending = rs.n_generated > 0 && !rs.stopped_at_eos ? last : -1;
  if (rs.stopped_at_eos) {
    st.stop_reason = INGOT_STOP_EOS;
  } else if (stopped_by_callback) {
    st.stop_reason = INGOT_STOP_CALLBACK;
  }
  st.n_prompt = int32_t(rs.n_prompt - rs.n_prompt_cached);
  st.n_generated = int32_t(rs.n_generated);
  st.prompt_seconds = rs.prompt_seconds;
  st.generate_seconds = rs.generate_seconds;
  if (stats != nullptr) *stats = st;
  if (!status.ok()) {
    if (status.code() == ingot::format::StatusCode::script_error) {
      // Hooks run only after the prompt and every streamed token were evaluated, so the cache
      // holds exactly the text so far. Its last token is made pending again, as after a normal
      // end, so that the next call (even with an empty prompt) has logits to sample from.
      if (s.position() > 0) {
        session->pending = rs.n_generated > 0 ? last : tokens.back();
        s.rewind(s.position() - 1);
      } else {
        session->pending = -1;
      }
      return from_status(fn, status);
    }
    if (rs.n_generated > 0 && s.position() >= s.context()) {
      return fail(fn, INGOT_STATUS_CONTEXT_FULL, status.message());
    }
    if (rs.n_generated == 0) session->pending = pending_before;  // the prompt failed: nothing changed
    return from_status(fn, status);
  }
  return INGOT_STATUS_OK;
}

}  // namespace

extern "C" {

ingot_session_params ingot_session_default_params(void) {
  ingot_session_params p;
  p.n_ctx = 0;
  p.n_threads = 0;
  return p;
}

ingot_status ingot_session_new(ingot_model* model, ingot_session_params params, ingot_session** out) {
  static const char* fn = "ingot_session_new";
  if (out != nullptr) *out = nullptr;
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, out != nullptr, "out is NULL");
    INGOT_CAPI_REQUIRE(fn, model != nullptr, "model is NULL");
    INGOT_CAPI_REQUIRE(fn, params.n_ctx >= 0, "n_ctx is negative");
    INGOT_CAPI_REQUIRE(fn, params.n_threads >= 0, "n_threads is negative");
    const size_t context = model->model->dims().context;
    if (size_t(params.n_ctx) > context) {
      return fail(fn, INGOT_STATUS_INVALID_ARGUMENT,
                  "n_ctx " + std::to_string(params.n_ctx) + " exceeds the model's context length " + std::to_string(context));
    }
    auto s = std::make_unique<ingot_session>();
    s->model = model;
    s->n_threads = params.n_threads != 0 ? params.n_threads : model->n_threads;
    s->session = std::make_unique<ingot::runtime::Session>(*model->model, size_t(params.n_ctx));
    *out = s.release();
    return INGOT_STATUS_OK;
  });
}

void ingot_session_free(ingot_session* session) {
  if (session == nullptr) return;
  if (session->script != nullptr) session->script->session.store(nullptr);  // free to attach elsewhere
  delete session;
}

void ingot_session_reset(ingot_session* session) {
  if (session == nullptr) return;
  session->session->reset();
  session->pending = -1;
}

int32_t ingot_session_position(const ingot_session* s) {
  return s != nullptr ? int32_t(s->session->position() + (s->pending >= 0 ? 1 : 0)) : 0;
}

int32_t ingot_session_n_ctx(const ingot_session* s) { return s != nullptr ? int32_t(s->session->context()) : 0; }

ingot_status ingot_session_eval(ingot_session* session, const int32_t* tokens, size_t n_tokens, float* logits) {
  static const char* fn = "ingot_session_eval";
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, session != nullptr, "session is NULL");
    INGOT_CAPI_REQUIRE(fn, tokens != nullptr && n_tokens > 0, "no tokens");
    if (ingot_status s = check_room(fn, *session, n_tokens); s != INGOT_STATUS_OK) return s;
    // The pending token (if any) goes first, in the same batch.
    std::vector<int32_t> batch(n_tokens + (session->pending >= 0 ? 1 : 0));
    size_t at = 0;
    if (session->pending >= 0) batch[at++] = session->pending;
    std::copy(tokens, tokens + n_tokens, batch.begin() + std::ptrdiff_t(at));
    ingot::capi::use_threads(session->n_threads);
    if (ingot_status s = from_status(fn, session->session->eval(batch, logits)); s != INGOT_STATUS_OK) return s;
    session->pending = -1;
    return INGOT_STATUS_OK;
  });
}

ingot_generate_params ingot_generate_default_params(void) {
  ingot_generate_params p;
  const ingot::runtime::SamplerParams d;
  p.n_predict = 128;
  p.sampler.temperature = d.temperature;
  p.sampler.top_k = d.top_k;
  p.sampler.top_p = d.top_p;
  p.sampler.min_p = d.min_p;
  p.sampler.repeat_penalty = d.repeat_penalty;
  p.sampler.repeat_last_n = d.repeat_last_n;
  p.sampler.seed = d.seed;
  p.on_token = nullptr;
  p.user_data = nullptr;
  p.parse_special = false;
  return p;
}

ingot_status ingot_session_generate(ingot_session* session, const char* prompt, ingot_generate_params params,
                                    ingot_generate_stats* stats) {
  static const char* fn = "ingot_session_generate";
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, session != nullptr, "session is NULL");
    INGOT_CAPI_REQUIRE(fn, params.n_predict >= 0, "n_predict is negative");
    const ingot::runtime::Model& model = *session->model->model;
    INGOT_CAPI_REQUIRE(fn, model.has_tokenizer() || prompt == nullptr || prompt[0] == '\0',
                       "the model has no tokenizer (compile it with --tokenizer)");
    const std::string text = prompt != nullptr ? prompt : "";
    ingot::runtime::Session& s = *session->session;
    std::vector<int32_t> tokens;
    if (session->pending >= 0) {
      tokens.push_back(session->pending);
    }
    if (s.position() == 0 && session->pending < 0) {
      tokens = ingot::runtime::prompt_tokens(model, text, params.parse_special);
    } else if (!text.empty()) {
      const std::vector<int32_t> enc = model.tokenizer().encode(text, params.parse_special);
      tokens.insert(tokens.end(), enc.begin(), enc.end());
    }
    if (tokens.empty()) {
      return fail(fn, INGOT_STATUS_INVALID_ARGUMENT,
                  s.position() == 0 ? "empty prompt and the model has no BOS token"
                                    : "empty prompt after ingot_session_eval: nothing to sample from");
    }
    return run_generate(fn, session, tokens, params, stats, /*from_start=*/false);
  });
}

ingot_status ingot_session_generate_from_start(ingot_session* session, const char* text, ingot_generate_params params,
                                               ingot_generate_stats* stats) {
  static const char* fn = "ingot_session_generate_from_start";
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, session != nullptr, "session is NULL");
    INGOT_CAPI_REQUIRE(fn, params.n_predict >= 0, "n_predict is negative");
    const ingot::runtime::Model& model = *session->model->model;
    INGOT_CAPI_REQUIRE(fn, model.has_tokenizer(), "the model has no tokenizer (compile it with --tokenizer)");
    // Tokenized as for an empty session; a pending token is not in the cache and the text
    // restates everything, so it is dropped.
    const std::vector<int32_t> tokens = ingot::runtime::prompt_tokens(model, text != nullptr ? text : "", params.parse_special);
    if (tokens.empty()) return fail(fn, INGOT_STATUS_INVALID_ARGUMENT, "empty text and the model has no BOS token");
    session->pending = -1;
    return run_generate(fn, session, tokens, params, stats, /*from_start=*/true);
  });
}

}  // extern "C"
