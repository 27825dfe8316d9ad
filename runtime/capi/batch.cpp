// ingot_session_eval_batch: several sessions of one model stepped in one forward pass.
#include <string>
#include <vector>

#include "capi/boundary.h"

using ingot::capi::fail;
using ingot::capi::from_status;
using ingot::capi::guard;

ingot_status ingot_session_eval_batch(ingot_session* const* sessions, size_t n_sessions, const int32_t* const* tokens,
                                      const size_t* n_tokens, float* logits) {
  static const char* fn = "ingot_session_eval_batch";
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, sessions != nullptr && n_sessions > 0, "no sessions");
    INGOT_CAPI_REQUIRE(fn, tokens != nullptr && n_tokens != nullptr, "tokens or n_tokens is NULL");
    std::vector<ingot::runtime::Session*> ss(n_sessions);
    std::vector<std::vector<int32_t>> feed(n_sessions);
    const ingot_model* model = nullptr;
    size_t n_fed = 0;
    for (size_t i = 0; i < n_sessions; ++i) {
      const ingot_session* s = sessions[i];
      const std::string which = "session " + std::to_string(i);
      INGOT_CAPI_REQUIRE(fn, s != nullptr, which + " is NULL");
      INGOT_CAPI_REQUIRE(fn, n_tokens[i] == 0 || tokens[i] != nullptr, which + ": tokens is NULL");
      if (model == nullptr) model = s->model;
      INGOT_CAPI_REQUIRE(fn, s->model == model, which + " is of another model than session 0");
      for (size_t j = 0; j < i; ++j) INGOT_CAPI_REQUIRE(fn, sessions[j] != s, which + " is also session " + std::to_string(j));
      // The pending token of an earlier generate (if any) goes first, as in ingot_session_eval.
      if (n_tokens[i] > 0 && s->pending >= 0) feed[i].push_back(s->pending);
      if (n_tokens[i] > 0) feed[i].insert(feed[i].end(), tokens[i], tokens[i] + n_tokens[i]);
      const size_t held = s->session->position() + (s->pending >= 0 ? 1 : 0);
      if (held + n_tokens[i] > s->session->context()) {
        return fail(fn, INGOT_STATUS_CONTEXT_FULL,
                    which + ": " + std::to_string(held) + " tokens in the session + " + std::to_string(n_tokens[i]) +
                        " new exceed its context of " + std::to_string(s->session->context()));
      }
      ss[i] = s->session.get();
      n_fed += n_tokens[i] > 0 ? 1 : 0;
    }
    INGOT_CAPI_REQUIRE(fn, n_fed > 0, "no session has tokens");
    ingot::capi::use_threads(sessions[0]->n_threads);
    std::vector<float> rows;
    if (ingot_status r = from_status(fn, ingot::runtime::eval_sessions(ss, feed, &rows)); r != INGOT_STATUS_OK) {
      return r;
    }
    for (size_t i = 0; i < n_sessions; ++i) {
      if (n_tokens[i] > 0) sessions[i]->pending = -1;
    }
    if (logits != nullptr) std::copy(rows.begin(), rows.end(), logits);
    return INGOT_STATUS_OK;
  });
}
