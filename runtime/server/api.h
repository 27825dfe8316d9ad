// The OpenAI request and response shapes of `ingot serve` (docs/serving.md): parsing and
// validating a request body into a scheduler request, and the JSON of responses, stream chunks
// and errors. No HTTP here, no model evaluation: server.cpp does the first, sched/ the second.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sched/scheduler.h"

namespace ingot::server {

// An error answered to the client: an HTTP status and OpenAI's error object.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // empty: null
  std::string code;   // empty: null
  nlohmann::json body() const;
};

enum class Endpoint { chat, completions };

// A validated request, before tokenization.
struct ParsedRequest {
  Endpoint endpoint = Endpoint::chat;
  nlohmann::ordered_json messages;  // chat: [{role, content (a string)}...]
  std::string prompt;               // completions
  std::optional<int64_t> max_tokens;
  runtime::SamplerParams sampler;
  float presence_penalty = 0, frequency_penalty = 0;
  std::vector<std::pair<int32_t, float>> logit_bias;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;
  bool ignore_eos = false;  // extension (llama-server's name): generate max_tokens whatever comes
  std::string script;  // a name in the --scripts folder; empty: none
};

// Parses and checks a request body. `model_id` is the served model's name: a `model` field that
// names another is a 404. Returns nullopt and fills *error on a bad request.
std::optional<ParsedRequest> parse_request(Endpoint endpoint, const std::string& body, const std::string& model_id,
                                           ApiError* error);

// Response objects (OpenAI's shapes). `id` is "chatcmpl-…" / "cmpl-…", `created` Unix seconds.
struct ResponseMeta {
  Endpoint endpoint = Endpoint::chat;
  std::string id, model;
  int64_t created = 0;
};
nlohmann::json usage_json(const sched::Usage& u);
nlohmann::json full_response(const ResponseMeta& m, const std::string& text, const char* finish_reason,
                             const sched::Usage& u);
// A stream chunk: `delta` text (chat: the first chunk carries the role too), or the last chunk
// with `finish_reason` and an empty delta.
nlohmann::json delta_chunk(const ResponseMeta& m, const std::string& delta, bool first);
nlohmann::json finish_chunk(const ResponseMeta& m, const char* finish_reason);
nlohmann::json usage_chunk(const ResponseMeta& m, const sched::Usage& u);

// JSON text with invalid UTF-8 replaced (a model can emit any bytes; the client gets valid JSON).
std::string dump(const nlohmann::json& j);

}  // namespace ingot::server
