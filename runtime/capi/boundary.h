// The C API boundary: handles, the per-thread last error, the log sink, and `guard`, which turns
// every exception and format::Status into an ingot_status so none crosses into C.
#pragma once

#include <atomic>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "ingot/format/status.h"
#include "ingot/ingot.h"
#include "ingot/scripting/script.h"
#include "model/model.h"
#include "model/session.h"

struct ingot_model {
  std::unique_ptr<ingot::runtime::Model> model;
  int32_t n_threads = 0;  // 0: all cores
  // Container metadata, then provenance ("provenance.compiler", "provenance.<option>").
  std::vector<std::pair<std::string, std::string>> meta;
};

struct ingot_session {
  ingot_model* model = nullptr;
  std::unique_ptr<ingot::runtime::Session> session;
  int32_t n_threads = 0;
  // generate() returns without evaluating the last token it sampled (nobody needed its logits);
  // it is fed first on the next call so the conversation continues where the text ends.
  int32_t pending = -1;
  ingot_script* script = nullptr;  // borrowed; its hooks run in generate
};

struct ingot_script {
  std::unique_ptr<ingot::scripting::Script> script;
  // The session it is attached to (at most one: a Lua state serves one thread at a time). Atomic
  // so that two threads attaching the same script cannot both succeed.
  std::atomic<ingot_session*> session{nullptr};
  const ingot::runtime::Model* model = nullptr;  // what ctx describes now; null: none yet
};

namespace ingot::capi {

// Records `message` as this thread's last error, logs "fn: message" at ERROR, returns `status`.
ingot_status fail(const char* fn, ingot_status status, const std::string& message);
// Maps a runtime/format status (ok gives INGOT_STATUS_OK).
ingot_status from_status(const char* fn, const format::Status& s);
void clear_error();
void log(ingot_log_level level, const std::string& message);

// Runs `body` (returning ingot_status), catching everything it throws.
template <typename Body>
ingot_status guard(const char* fn, Body&& body) noexcept {
  clear_error();
  try {
    return std::forward<Body>(body)();
  } catch (const std::bad_alloc&) {
    return fail(fn, INGOT_STATUS_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(fn, INGOT_STATUS_INTERNAL, std::string("unexpected exception: ") + e.what());
  } catch (...) {
    return fail(fn, INGOT_STATUS_INTERNAL, "unexpected exception");
  }
}

// Writes `text` and a NUL into buf (capacity bytes) and its length into *n_bytes; BUFFER_TOO_SMALL
// (with *n_bytes still set, so the caller can retry) when text + NUL does not fit.
ingot_status copy_out(const char* fn, const std::string& text, char* buf, size_t capacity, size_t* n_bytes);

// Caps the workers of the model's pool that the calling thread's next kernel loops use (the
// setting is per thread: sessions on several threads each set theirs).
void use_threads(int32_t n);

}  // namespace ingot::capi

// Argument checks inside guard(): return a status naming the argument.
#define INGOT_CAPI_REQUIRE(fn, cond, what) \
  do {                                     \
    if (!(cond)) return ::ingot::capi::fail(fn, INGOT_STATUS_INVALID_ARGUMENT, what); \
  } while (0)
