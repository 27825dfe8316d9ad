// ingot_script_*: sandboxed Lua scripts (scripting/) loaded, attached to a session and asked for
// chat prompts. Script itself reports every Lua error and limit as a Status, so only its Status
// and C++ exceptions (caught by guard) reach this boundary.
#include <string>
#include <vector>

#include "capi/boundary.h"

using ingot::capi::copy_out;
using ingot::capi::fail;
using ingot::capi::from_status;
using ingot::capi::guard;

namespace {

ingot::scripting::Limits limits_of(const ingot_script_params& p) {
  ingot::scripting::Limits l;
  l.max_instructions = p.max_instructions;
  l.max_memory = p.max_memory;
  return l;
}

// Makes ctx describe `model` (a no-op when it already does).
ingot::format::Status describe_model(ingot_script& script, const ingot::runtime::Model* model) {
  if (script.model == model) return ingot::format::Status::success();
  INGOT_RETURN_IF_ERROR(script.script->attach(model));
  script.model = model;
  return ingot::format::Status::success();
}

}  // namespace

extern "C" {

ingot_script_params ingot_script_default_params(void) {
  const ingot::scripting::Limits d;
  ingot_script_params p;
  p.max_instructions = d.max_instructions;
  p.max_memory = d.max_memory;
  return p;
}

ingot_status ingot_script_load_file(const char* path, ingot_script_params params, ingot_script** out) {
  static const char* fn = "ingot_script_load_file";
  if (out != nullptr) *out = nullptr;
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, out != nullptr, "out is NULL");
    INGOT_CAPI_REQUIRE(fn, path != nullptr, "path is NULL");
    auto s = std::make_unique<ingot_script>();
    const ingot::format::Status st = ingot::scripting::Script::load_file(path, limits_of(params), &s->script);
    if (!st.ok()) return from_status(fn, st);
    *out = s.release();
    return INGOT_STATUS_OK;
  });
}

ingot_status ingot_script_load_string(const char* code, size_t code_len, const char* name, ingot_script_params params,
                                      ingot_script** out) {
  static const char* fn = "ingot_script_load_string";
  if (out != nullptr) *out = nullptr;
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, out != nullptr, "out is NULL");
    INGOT_CAPI_REQUIRE(fn, code != nullptr || code_len == 0, "code is NULL");
    INGOT_CAPI_REQUIRE(fn, name != nullptr && name[0] != '\0', "name is NULL or empty");
    auto s = std::make_unique<ingot_script>();
    const ingot::format::Status st = ingot::scripting::Script::load_string(
        std::string_view(code != nullptr ? code : "", code_len), name, limits_of(params), &s->script);
    if (!st.ok()) return from_status(fn, st);
    *out = s.release();
    return INGOT_STATUS_OK;
  });
}

void ingot_script_free(ingot_script* script) {
  if (script == nullptr) return;
  if (ingot_session* s = script->session.load()) s->script = nullptr;
  delete script;
}

bool ingot_script_has_hook(const ingot_script* script, const char* hook) {
  if (script == nullptr || hook == nullptr) return false;
  return script->script->has_hook(hook);
}

ingot_status ingot_session_set_script(ingot_session* session, ingot_script* script) {
  static const char* fn = "ingot_session_set_script";
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, session != nullptr, "session is NULL");
    if (script == session->script) return INGOT_STATUS_OK;
    if (script != nullptr) {
      ingot_session* expected = nullptr;
      if (!script->session.compare_exchange_strong(expected, session)) {
        return fail(fn, INGOT_STATUS_INVALID_ARGUMENT,
                    "script '" + script->script->name() +
                        "' is attached to another session (a script serves one session; load one per session)");
      }
      const ingot::format::Status st = describe_model(*script, session->model->model.get());
      if (!st.ok()) {
        script->session.store(nullptr);
        return from_status(fn, st);
      }
    }
    if (session->script != nullptr) session->script->session.store(nullptr);
    session->script = script;
    return INGOT_STATUS_OK;
  });
}

ingot_status ingot_script_format_prompt(ingot_script* script, const ingot_model* model,
                                        const ingot_chat_message* messages, size_t n_messages, char* buf,
                                        size_t capacity, size_t* n_bytes) {
  static const char* fn = "ingot_script_format_prompt";
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, script != nullptr, "script is NULL");
    INGOT_CAPI_REQUIRE(fn, messages != nullptr || n_messages == 0, "messages is NULL");
    INGOT_CAPI_REQUIRE(fn, n_bytes != nullptr, "n_bytes is NULL");
    INGOT_CAPI_REQUIRE(fn, buf != nullptr || capacity == 0, "buf is NULL with a non-zero capacity");
    std::vector<ingot::scripting::ChatMessage> history(n_messages);
    for (size_t i = 0; i < n_messages; ++i) {
      if (messages[i].role == nullptr || messages[i].content == nullptr) {
        return fail(fn, INGOT_STATUS_INVALID_ARGUMENT,
                    "message " + std::to_string(i) + " has a NULL " + (messages[i].role == nullptr ? "role" : "content"));
      }
      history[i] = {messages[i].role, messages[i].content};
    }
    if (model != nullptr) {
      if (ingot_status s = from_status(fn, describe_model(*script, model->model.get())); s != INGOT_STATUS_OK) return s;
    }
    std::string text;
    if (ingot_status s = from_status(fn, script->script->format_prompt(history, &text)); s != INGOT_STATUS_OK) return s;
    return copy_out(fn, text, buf, capacity, n_bytes);
  });
}

}  // extern "C"
