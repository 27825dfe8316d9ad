#include "server/api.h"

#include <cmath>
#include <limits>
#include <random>

namespace ingot::server {

using nlohmann::json;

json ApiError::body() const {
  json e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) e["param"] = param;
  if (!code.empty()) e["code"] = code;
  return json{{"error", e}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace {

ApiError bad(const std::string& param, const std::string& message) {
  ApiError e;
  e.status = 400;
  e.param = param;
  e.message = message;
  return e;
}

// A number field within [lo, hi]; absent or null leaves *out. False and *error on anything else.
bool number_field(const json& body, const char* name, double lo, double hi, float* out, ApiError* error) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_number()) return *error = bad(name, std::string("'") + name + "' must be a number"), false;
  const double v = it->get<double>();
  if (!(v >= lo && v <= hi)) {
    *error = bad(name, std::string("'") + name + "' must be between " + json(lo).dump() + " and " + json(hi).dump() +
                           ", got " + it->dump());
    return false;
  }
  *out = float(v);
  return true;
}

bool int_field(const json& body, const char* name, int64_t lo, int64_t hi, std::optional<int64_t>* out,
               ApiError* error) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_number_integer()) return *error = bad(name, std::string("'") + name + "' must be an integer"), false;
  const int64_t v = it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())
                        ? std::numeric_limits<int64_t>::max()
                        : it->get<int64_t>();
  if (v < lo || v > hi) {
    *error = bad(name, std::string("'") + name + "' must be between " + std::to_string(lo) + " and " +
                           std::to_string(hi) + ", got " + it->dump());
    return false;
  }
  *out = v;
  return true;
}

bool bool_field(const json& body, const char* name, bool* out, ApiError* error) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_boolean()) return *error = bad(name, std::string("'") + name + "' must be a boolean"), false;
  *out = it->get<bool>();
  return true;
}

// A message's content: a string, null, or a list of {"type": "text", "text": ...} parts.
bool message_content(const json& content, size_t index, std::string* out, ApiError* error) {
  const std::string param = "messages[" + std::to_string(index) + "].content";
  if (content.is_null()) return true;
  if (content.is_string()) return *out = content.get<std::string>(), true;
  if (!content.is_array()) return *error = bad(param, "'" + param + "' must be a string or a list of text parts"), false;
  for (const json& part : content) {
    if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") ||
        !part["text"].is_string()) {
      *error = bad(param, "'" + param + "': only parts of type 'text' with a string 'text' are supported");
      return false;
    }
    *out += part["text"].get<std::string>();
  }
  return true;
}

}  // namespace

std::optional<ParsedRequest> parse_request(Endpoint endpoint, const std::string& text, const std::string& model_id,
                                           ApiError* error) {
  const json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return *error = bad("", "the request body is not valid JSON"), std::nullopt;
  if (!body.is_object()) return *error = bad("", "the request body must be a JSON object"), std::nullopt;
  ParsedRequest r;
  r.endpoint = endpoint;
  if (auto it = body.find("model"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) return *error = bad("model", "'model' must be a string"), std::nullopt;
    if (it->get<std::string>() != model_id) {
      ApiError e;
      e.status = 404;
      e.param = "model";
      e.code = "model_not_found";
      e.message = "the model '" + it->get<std::string>() + "' does not exist; this server serves '" + model_id + "'";
      return *error = e, std::nullopt;
    }
  }
  if (endpoint == Endpoint::chat) {
    auto it = body.find("messages");
    if (it == body.end()) return *error = bad("messages", "'messages' is required"), std::nullopt;
    if (!it->is_array() || it->empty()) {
      return *error = bad("messages", "'messages' must be a non-empty list"), std::nullopt;
    }
    r.messages = nlohmann::ordered_json::array();
    for (size_t i = 0; i < it->size(); ++i) {
      const json& m = (*it)[i];
      const std::string param = "messages[" + std::to_string(i) + "]";
      if (!m.is_object()) return *error = bad(param, "'" + param + "' must be an object"), std::nullopt;
      auto role = m.find("role");
      if (role == m.end() || !role->is_string()) {
        return *error = bad(param + ".role", "'" + param + ".role' must be a string"), std::nullopt;
      }
      const std::string rs = role->get<std::string>();
      if (rs != "system" && rs != "developer" && rs != "user" && rs != "assistant" && rs != "tool") {
        return *error = bad(param + ".role", "'" + param + ".role' must be one of system, developer, user, assistant, tool; got '" + rs + "'"),
               std::nullopt;
      }
      std::string content;
      if (!message_content(m.value("content", json()), i, &content, error)) return std::nullopt;
      r.messages.push_back({{"role", rs == "developer" ? "system" : rs}, {"content", content}});
    }
  } else {
    auto it = body.find("prompt");
    if (it == body.end()) return *error = bad("prompt", "'prompt' is required"), std::nullopt;
    if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
      r.prompt = (*it)[0].get<std::string>();
    } else if (it->is_string()) {
      r.prompt = it->get<std::string>();
    } else {
      return *error = bad("prompt", "'prompt' must be a string (or a list of one string)"), std::nullopt;
    }
  }
  const int64_t max_int = std::numeric_limits<int32_t>::max();
  if (!int_field(body, "max_tokens", 1, max_int, &r.max_tokens, error)) return std::nullopt;
  if (!int_field(body, "max_completion_tokens", 1, max_int, &r.max_tokens, error)) return std::nullopt;
  if (endpoint == Endpoint::completions && !r.max_tokens) r.max_tokens = 16;  // OpenAI's default there
  std::optional<int64_t> n;
  if (!int_field(body, "n", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), &n, error)) {
    return std::nullopt;
  }
  if (n && *n != 1) return *error = bad("n", "only n = 1 is supported, got " + std::to_string(*n)), std::nullopt;
  // OpenAI's defaults: temperature 1, top_p 1, no top_k.
  r.sampler.temperature = 1.0f;
  r.sampler.top_p = 1.0f;
  r.sampler.top_k = 0;
  r.sampler.min_p = 0.0f;
  r.sampler.repeat_penalty = 1.0f;
  if (!number_field(body, "temperature", 0, 2, &r.sampler.temperature, error)) return std::nullopt;
  if (!number_field(body, "top_p", 0, 1, &r.sampler.top_p, error)) return std::nullopt;
  if (!number_field(body, "min_p", 0, 1, &r.sampler.min_p, error)) return std::nullopt;
  if (!number_field(body, "repeat_penalty", 1e-3, 1e3, &r.sampler.repeat_penalty, error)) return std::nullopt;
  if (!number_field(body, "presence_penalty", -2, 2, &r.presence_penalty, error)) return std::nullopt;
  if (!number_field(body, "frequency_penalty", -2, 2, &r.frequency_penalty, error)) return std::nullopt;
  std::optional<int64_t> top_k, seed;
  if (!int_field(body, "top_k", 0, max_int, &top_k, error)) return std::nullopt;
  if (top_k) r.sampler.top_k = int32_t(*top_k);
  if (!int_field(body, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), &seed,
                 error)) {
    return std::nullopt;
  }
  r.sampler.seed = seed ? uint64_t(*seed) : std::random_device{}();
  if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      r.stop.push_back(it->get<std::string>());
    } else if (it->is_array() && it->size() <= 4) {
      for (const json& s : *it) {
        if (!s.is_string()) return *error = bad("stop", "'stop' must be a string or a list of strings"), std::nullopt;
        r.stop.push_back(s.get<std::string>());
      }
    } else {
      return *error = bad("stop", "'stop' must be a string or a list of at most 4 strings"), std::nullopt;
    }
    for (const std::string& s : r.stop) {
      if (s.empty()) return *error = bad("stop", "'stop' strings must not be empty"), std::nullopt;
    }
  }
  if (auto it = body.find("logit_bias"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return *error = bad("logit_bias", "'logit_bias' must be an object"), std::nullopt;
    for (const auto& [key, value] : it->items()) {
      size_t used = 0;
      long long id = -1;
      try {
        id = std::stoll(key, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != key.size() || key.empty() || id < 0 || id > max_int) {
        return *error = bad("logit_bias", "'logit_bias' keys must be token ids, got '" + key + "'"), std::nullopt;
      }
      if (!value.is_number() || !(value.get<double>() >= -100 && value.get<double>() <= 100)) {
        return *error = bad("logit_bias", "'logit_bias' values must be numbers between -100 and 100"), std::nullopt;
      }
      r.logit_bias.emplace_back(int32_t(id), value.get<float>());
    }
  }
  if (!bool_field(body, "stream", &r.stream, error)) return std::nullopt;
  if (!bool_field(body, "ignore_eos", &r.ignore_eos, error)) return std::nullopt;
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return *error = bad("stream_options", "'stream_options' must be an object"), std::nullopt;
    if (!bool_field(*it, "include_usage", &r.include_usage, error)) return std::nullopt;
  }
  if (auto it = body.find("user"); it != body.end() && !it->is_null() && !it->is_string()) {
    return *error = bad("user", "'user' must be a string"), std::nullopt;
  }
  if (auto it = body.find("script"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) return *error = bad("script", "'script' must be a string"), std::nullopt;
    r.script = it->get<std::string>();
  }
  return r;
}

json usage_json(const sched::Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

namespace {
json envelope(const ResponseMeta& m, const char* object) {
  return {{"id", m.id}, {"object", object}, {"created", m.created}, {"model", m.model}};
}
}  // namespace

json full_response(const ResponseMeta& m, const std::string& text, const char* finish_reason, const sched::Usage& u) {
  const bool chat = m.endpoint == Endpoint::chat;
  json r = envelope(m, chat ? "chat.completion" : "text_completion");
  json choice = {{"index", 0}, {"finish_reason", finish_reason}, {"logprobs", nullptr}};
  if (chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
  else choice["text"] = text;
  r["choices"] = json::array({choice});
  r["usage"] = usage_json(u);
  return r;
}

json delta_chunk(const ResponseMeta& m, const std::string& delta, bool first) {
  const bool chat = m.endpoint == Endpoint::chat;
  json r = envelope(m, chat ? "chat.completion.chunk" : "text_completion");
  json choice = {{"index", 0}, {"finish_reason", nullptr}, {"logprobs", nullptr}};
  if (chat) {
    choice["delta"] = {{"content", delta}};
    if (first) choice["delta"]["role"] = "assistant";
  } else {
    choice["text"] = delta;
  }
  r["choices"] = json::array({choice});
  return r;
}

json finish_chunk(const ResponseMeta& m, const char* finish_reason) {
  const bool chat = m.endpoint == Endpoint::chat;
  json r = envelope(m, chat ? "chat.completion.chunk" : "text_completion");
  json choice = {{"index", 0}, {"finish_reason", finish_reason}, {"logprobs", nullptr}};
  if (chat) choice["delta"] = json::object();
  else choice["text"] = "";
  r["choices"] = json::array({choice});
  return r;
}

json usage_chunk(const ResponseMeta& m, const sched::Usage& u) {
  json r = envelope(m, m.endpoint == Endpoint::chat ? "chat.completion.chunk" : "text_completion");
  r["choices"] = json::array();
  r["usage"] = usage_json(u);
  return r;
}

}  // namespace ingot::server
