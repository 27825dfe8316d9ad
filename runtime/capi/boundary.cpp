#include "capi/boundary.h"

#include <cstdio>
#include <cstring>
#include <mutex>

#include "cpu/threads.h"

namespace ingot::capi {

namespace {

thread_local std::string last_error;

// Warnings only: every error is also returned to the caller, who decides whether to print it.
void stderr_sink(ingot_log_level level, const char* message, void*) {
  if (level == INGOT_LOG_WARN) std::fprintf(stderr, "ingot: %s\n", message);
}

// The sink is read on every log call from any thread and set rarely.
std::mutex sink_mutex;
ingot_log_callback sink = stderr_sink;
void* sink_user_data = nullptr;

}  // namespace

void clear_error() { last_error.clear(); }

void log(ingot_log_level level, const std::string& message) {
  ingot_log_callback cb;
  void* ud;
  {
    std::lock_guard<std::mutex> lock(sink_mutex);
    cb = sink;
    ud = sink_user_data;
  }
  if (cb != nullptr) cb(level, message.c_str(), ud);
}

ingot_status fail(const char* fn, ingot_status status, const std::string& message) {
  try {
    last_error = message;
    log(INGOT_LOG_ERROR, std::string(fn) + ": " + message);
  } catch (...) {
    // Out of memory while reporting: the status still says what happened.
  }
  return status;
}

ingot_status from_status(const char* fn, const format::Status& s) {
  using format::StatusCode;
  ingot_status code = INGOT_STATUS_INTERNAL;
  switch (s.code()) {
    case StatusCode::ok: return INGOT_STATUS_OK;
    case StatusCode::io_error: code = INGOT_STATUS_IO_ERROR; break;
    case StatusCode::bad_magic:
    case StatusCode::unsupported_version:
    case StatusCode::truncated:
    case StatusCode::corrupt_header:
    case StatusCode::corrupt_index:
    case StatusCode::invalid_index:
    case StatusCode::decompression_failed:
    case StatusCode::not_found: code = INGOT_STATUS_INVALID_MODEL; break;
    case StatusCode::checksum_mismatch: code = INGOT_STATUS_CHECKSUM_MISMATCH; break;
    case StatusCode::invalid_argument: code = INGOT_STATUS_INVALID_ARGUMENT; break;
    case StatusCode::out_of_memory: code = INGOT_STATUS_OUT_OF_MEMORY; break;
    case StatusCode::interrupted: code = INGOT_STATUS_CANCELLED; break;
    case StatusCode::script_error: code = INGOT_STATUS_SCRIPT_ERROR; break;
    case StatusCode::kv_cache_full: code = INGOT_STATUS_KV_CACHE_FULL; break;
  }
  return fail(fn, code, s.message());
}

ingot_status copy_out(const char* fn, const std::string& text, char* buf, size_t capacity, size_t* n_bytes) {
  *n_bytes = text.size();
  if (text.size() + 1 > capacity) {
    return fail(fn, INGOT_STATUS_BUFFER_TOO_SMALL,
                "the prompt has " + std::to_string(text.size()) + " bytes + NUL, the buffer holds " +
                    std::to_string(capacity));
  }
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return INGOT_STATUS_OK;
}

void use_threads(int32_t n) { cpu::set_threads(n); }

}  // namespace ingot::capi

extern "C" {

const char* ingot_status_str(ingot_status status) {
  switch (status) {
    case INGOT_STATUS_OK: return "ok";
    case INGOT_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case INGOT_STATUS_IO_ERROR: return "I/O error";
    case INGOT_STATUS_INVALID_MODEL: return "invalid model file";
    case INGOT_STATUS_CHECKSUM_MISMATCH: return "checksum mismatch";
    case INGOT_STATUS_UNSUPPORTED: return "unsupported";
    case INGOT_STATUS_CONTEXT_FULL: return "context full";
    case INGOT_STATUS_BUFFER_TOO_SMALL: return "buffer too small";
    case INGOT_STATUS_CANCELLED: return "cancelled";
    case INGOT_STATUS_OUT_OF_MEMORY: return "out of memory";
    case INGOT_STATUS_INTERNAL: return "internal error";
    case INGOT_STATUS_SCRIPT_ERROR: return "script error";
    case INGOT_STATUS_TEMPLATE_ERROR: return "chat template error";
    case INGOT_STATUS_KV_CACHE_FULL: return "KV cache full";
  }
  return "unknown status";
}

const char* ingot_last_error(void) { return ingot::capi::last_error.c_str(); }

const char* ingot_version(void) { return INGOT_VERSION_STRING; }

void ingot_log_set(ingot_log_callback callback, void* user_data) {
  std::lock_guard<std::mutex> lock(ingot::capi::sink_mutex);
  ingot::capi::sink = callback;
  ingot::capi::sink_user_data = user_data;
}

}  // extern "C"
