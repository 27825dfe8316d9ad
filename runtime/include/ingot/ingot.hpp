// ingot.hpp: a thin header-only C++17 wrapper over ingot.h. RAII handles, std::string and
// std::vector instead of buffers, and failures as ingot::error exceptions. Exceptions live on
// the C++ side only: a callback that throws is stopped at the C boundary and its exception is
// rethrown here once the C call has returned.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ingot/ingot.h"

namespace ingot {

class error : public std::runtime_error {
 public:
  error(ingot_status status, const std::string& message)
      : std::runtime_error(std::string(ingot_status_str(status)) + ": " + message), status_(status) {}
  ingot_status status() const noexcept { return status_; }

 private:
  ingot_status status_;
};

inline void check(ingot_status status) {
  if (status != INGOT_STATUS_OK) throw error(status, ingot_last_error());
}

class model {
 public:
  explicit model(const std::string& path, ingot_model_params params = ingot_model_default_params()) {
    check(ingot_model_load(path.c_str(), params, &m_));
  }
  model(model&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  model& operator=(model&& o) noexcept {
    std::swap(m_, o.m_);
    return *this;
  }
  model(const model&) = delete;
  model& operator=(const model&) = delete;
  ~model() { ingot_model_free(m_); }

  ingot_model* get() const noexcept { return m_; }
  int32_t n_vocab() const noexcept { return ingot_model_n_vocab(m_); }
  int32_t n_ctx() const noexcept { return ingot_model_n_ctx(m_); }
  int32_t n_layer() const noexcept { return ingot_model_n_layer(m_); }
  int32_t n_embd() const noexcept { return ingot_model_n_embd(m_); }
  int32_t token_bos() const noexcept { return ingot_model_token_bos(m_); }
  int32_t token_eos() const noexcept { return ingot_model_token_eos(m_); }

  std::optional<std::string> meta(const std::string& key) const {
    const char* v = ingot_model_meta_get(m_, key.c_str());
    return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
  }

  std::vector<int32_t> tokenize(std::string_view text, bool add_bos = false) const {
    std::vector<int32_t> ids(text.size() + 2);
    size_t n = 0;
    ingot_status s = ingot_tokenize(m_, text.data(), text.size(), add_bos, ids.data(), ids.size(), &n);
    if (s == INGOT_STATUS_BUFFER_TOO_SMALL) {
      ids.resize(n);
      s = ingot_tokenize(m_, text.data(), text.size(), add_bos, ids.data(), ids.size(), &n);
    }
    check(s);
    ids.resize(n);
    return ids;
  }

  std::string detokenize(const std::vector<int32_t>& ids) const {
    std::string text(ids.size() * 8 + 1, '\0');
    size_t n = 0;
    ingot_status s = ingot_detokenize(m_, ids.data(), ids.size(), text.data(), text.size(), &n);
    if (s == INGOT_STATUS_BUFFER_TOO_SMALL) {
      text.resize(n + 1);
      s = ingot_detokenize(m_, ids.data(), ids.size(), text.data(), text.size(), &n);
    }
    check(s);
    text.resize(n);
    return text;
  }

  ingot_perplexity_result perplexity(std::string_view text,
                                     ingot_perplexity_params params = ingot_perplexity_default_params()) const {
    ingot_perplexity_result r{};
    check(ingot_model_perplexity(m_, text.data(), text.size(), params, &r));
    return r;
  }

 private:
  ingot_model* m_ = nullptr;
};

struct chat_message {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// The chat template the model carries; empty when none.
inline std::string chat_template(const model& m) {
  const char* t = ingot_model_chat_template(m.get());
  return t != nullptr ? t : "";
}

// `messages` through the model's chat template, as transformers renders them (ingot_chat_render);
// `tools_json`: a JSON array of tool schemas, empty for None. Throws ingot::error.
inline std::string render_chat(const model& m, const std::vector<chat_message>& messages,
                               bool add_generation_prompt = true, const std::string& tools_json = "") {
  std::vector<ingot_chat_message> c(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) c[i] = {messages[i].role.c_str(), messages[i].content.c_str()};
  const char* tools = tools_json.empty() ? nullptr : tools_json.c_str();
  std::string text(1024, '\0');
  size_t n = 0;
  ingot_status s = ingot_chat_render(m.get(), c.data(), c.size(), add_generation_prompt, tools, text.data(), text.size(), &n);
  if (s == INGOT_STATUS_BUFFER_TOO_SMALL) {
    text.resize(n + 1);
    s = ingot_chat_render(m.get(), c.data(), c.size(), add_generation_prompt, tools, text.data(), text.size(), &n);
  }
  check(s);
  text.resize(n);
  return text;
}

// A Lua script (spec/scripting.md). Attach it to one session at a time; it must outlive the
// attachment (session::set_script).
class script {
 public:
  explicit script(const std::string& path, ingot_script_params params = ingot_script_default_params()) {
    check(ingot_script_load_file(path.c_str(), params, &s_));
  }
  // Lua source text; `name` stands for the file in messages.
  static script from_string(std::string_view code, const std::string& name,
                            ingot_script_params params = ingot_script_default_params()) {
    ingot_script* s = nullptr;
    check(ingot_script_load_string(code.data(), code.size(), name.c_str(), params, &s));
    return script(s);
  }
  script(script&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  script& operator=(script&& o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  script(const script&) = delete;
  script& operator=(const script&) = delete;
  ~script() { ingot_script_free(s_); }

  ingot_script* get() const noexcept { return s_; }
  bool has_hook(const char* hook) const noexcept { return ingot_script_has_hook(s_, hook); }

  // The script's format_prompt(messages, ctx); `m` is what ctx describes (nullptr: the model of
  // the session the script is attached to).
  std::string format_prompt(const std::vector<chat_message>& messages, const model* m = nullptr) {
    std::vector<ingot_chat_message> c(messages.size());
    for (size_t i = 0; i < messages.size(); ++i) c[i] = {messages[i].role.c_str(), messages[i].content.c_str()};
    ingot_model* mp = m != nullptr ? m->get() : nullptr;
    std::string text(256, '\0');
    size_t n = 0;
    ingot_status s = ingot_script_format_prompt(s_, mp, c.data(), c.size(), text.data(), text.size(), &n);
    if (s == INGOT_STATUS_BUFFER_TOO_SMALL) {
      text.resize(n + 1);
      s = ingot_script_format_prompt(s_, mp, c.data(), c.size(), text.data(), text.size(), &n);
    }
    check(s);
    text.resize(n);
    return text;
  }

 private:
  explicit script(ingot_script* s) noexcept : s_(s) {}
  ingot_script* s_ = nullptr;
};

class session {
 public:
  // The model must outlive the session.
  explicit session(const model& m, ingot_session_params params = ingot_session_default_params())
      : n_vocab_(m.n_vocab()) {
    check(ingot_session_new(m.get(), params, &s_));
  }
  session(session&& o) noexcept : s_(std::exchange(o.s_, nullptr)), n_vocab_(o.n_vocab_) {}
  session& operator=(session&& o) noexcept {
    std::swap(s_, o.s_);
    std::swap(n_vocab_, o.n_vocab_);
    return *this;
  }
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  ~session() { ingot_session_free(s_); }

  ingot_session* get() const noexcept { return s_; }
  void reset() noexcept { ingot_session_reset(s_); }
  int32_t position() const noexcept { return ingot_session_position(s_); }
  int32_t n_ctx() const noexcept { return ingot_session_n_ctx(s_); }

  // Runs `s`'s hooks in later generate calls; `s` must outlive the attachment and serve no
  // other session. clear_script() detaches it.
  void set_script(script& s) { check(ingot_session_set_script(s_, s.get())); }
  void clear_script() { check(ingot_session_set_script(s_, nullptr)); }

  // Feeds tokens; returns the next-token logits (n_vocab) after the last one.
  std::vector<float> eval(const std::vector<int32_t>& tokens) {
    std::vector<float> logits(static_cast<size_t>(n_vocab_));
    check(ingot_session_eval(s_, tokens.data(), tokens.size(), logits.data()));
    return logits;
  }

  // Steps `sessions` together (ingot_session_eval_batch): sessions[i] is fed tokens[i] (empty:
  // it sits out). Returns (sessions.size(), n_vocab) logits, row i after session i's last token.
  static std::vector<float> eval_batch(const std::vector<session*>& sessions,
                                       const std::vector<std::vector<int32_t>>& tokens) {
    if (sessions.empty() || sessions.size() != tokens.size()) {
      throw error(INGOT_STATUS_INVALID_ARGUMENT, "eval_batch: one token list per session");
    }
    std::vector<ingot_session*> handles;
    std::vector<const int32_t*> ptrs;
    std::vector<size_t> counts;
    for (size_t i = 0; i < sessions.size(); ++i) {
      handles.push_back(sessions[i]->s_);
      ptrs.push_back(tokens[i].data());
      counts.push_back(tokens[i].size());
    }
    std::vector<float> logits(sessions.size() * static_cast<size_t>(sessions[0]->n_vocab_));
    check(ingot_session_eval_batch(handles.data(), handles.size(), ptrs.data(), counts.data(), logits.data()));
    return logits;
  }

  // Streams each token's text to `on_token`; returning false stops. Returns the statistics.
  ingot_generate_stats generate(const std::string& prompt, ingot_generate_params params,
                                const std::function<bool(int32_t, std::string_view)>& on_token = nullptr) {
    return run(ingot_session_generate, prompt, params, on_token);
  }

  // `text` is the whole conversation from its start (ingot_session_generate_from_start): what
  // the session already holds of it is reused.
  ingot_generate_stats generate_from_start(const std::string& text, ingot_generate_params params,
                                           const std::function<bool(int32_t, std::string_view)>& on_token = nullptr) {
    return run(ingot_session_generate_from_start, text, params, on_token);
  }

 private:
  using generate_fn = ingot_status (*)(ingot_session*, const char*, ingot_generate_params, ingot_generate_stats*);

  ingot_generate_stats run(generate_fn call, const std::string& prompt, ingot_generate_params params,
                           const std::function<bool(int32_t, std::string_view)>& on_token) {
    struct context {
      const std::function<bool(int32_t, std::string_view)>* fn;
      std::exception_ptr thrown;
    } ctx{&on_token, nullptr};
    if (on_token) {
      params.on_token = [](int32_t id, const char* text, size_t len, void* ud) -> bool {
        auto* c = static_cast<context*>(ud);
        try {
          return (*c->fn)(id, std::string_view(text, len));
        } catch (...) {
          c->thrown = std::current_exception();  // never unwinds through C frames
          return false;
        }
      };
      params.user_data = &ctx;
    }
    ingot_generate_stats stats{};
    const ingot_status s = call(s_, prompt.c_str(), params, &stats);
    if (ctx.thrown) std::rethrow_exception(ctx.thrown);
    check(s);
    return stats;
  }

  ingot_session* s_ = nullptr;
  int32_t n_vocab_ = 0;
};

}  // namespace ingot
