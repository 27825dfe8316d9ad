#include "server/server.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include <httplib.h>

#include "chat_template/model_template.h"
#include "generate.h"
#include "ingot/scripting/script.h"
#include "server/api.h"
#include "server/sockets.h"

namespace ingot::server {

using nlohmann::json;

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

// What the scheduler's thread hands to the HTTP thread of one request.
struct Channel {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> deltas;
  bool done = false;
  sched::FinishReason reason = sched::FinishReason::stop;
  sched::Usage usage;
  std::string error;
  std::atomic<bool> gone{false};  // the client left: on_text asks the scheduler to cancel

  // Marks the client gone; true for the first caller only (one disconnect counted per request).
  bool leave() { return !gone.exchange(true); }

  sched::Sink sink(const std::shared_ptr<Channel>& self) {
    sched::Sink s;
    s.on_text = [self](const std::string& d) {
      if (self->gone) return false;
      {
        std::lock_guard<std::mutex> lock(self->mu);
        self->deltas.push_back(d);
      }
      self->cv.notify_all();
      return true;
    };
    s.on_done = [self](sched::FinishReason r, const sched::Usage& u, const std::string& e) {
      {
        std::lock_guard<std::mutex> lock(self->mu);
        self->done = true;
        self->reason = r;
        self->usage = u;
        self->error = e;
      }
      self->cv.notify_all();
    };
    return s;
  }
};

class Server {
 public:
  Server(const runtime::Model& model, const ServerOptions& o) : model_(model), o_(o), sched_(model, o.sched) {}
  int run();

 private:
  void handle_generate(Endpoint endpoint, const httplib::Request& req, httplib::Response& res);
  void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    res.set_content(dump(e.body()), "application/json");
  }
  std::string metrics_text();
  bool authorized(const httplib::Request& req) const {
    if (o_.api_key.empty()) return true;
    return req.get_header_value("Authorization") == "Bearer " + o_.api_key;
  }
  // A --scripts file for the `script` field; fills *error when it cannot be used.
  std::unique_ptr<scripting::Script> load_script(const std::string& name, ApiError* error);

  const runtime::Model& model_;
  ServerOptions o_;
  sched::Scheduler sched_;
  httplib::Server http_;
  std::atomic<uint64_t> next_id_{1};
  std::mutex status_mu_;
  std::map<int, uint64_t> by_status_;  // HTTP status -> responses
  std::atomic<uint64_t> disconnects_{0};  // requests whose client left before the response ended
};

std::unique_ptr<scripting::Script> Server::load_script(const std::string& name, ApiError* error) {
  ApiError e;
  e.param = "script";
  if (o_.scripts_dir.empty()) {
    e.message = "this server runs no scripts (start it with --scripts DIR)";
    return *error = e, nullptr;
  }
  bool plain = !name.empty() && name[0] != '.';
  for (char c : name) plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  if (!plain) {
    e.message = "'script' must be a file name in the server's scripts folder (letters, digits, '_', '-', '.')";
    return *error = e, nullptr;
  }
  std::filesystem::path p = std::filesystem::path(o_.scripts_dir) / name;
  if (!std::filesystem::is_regular_file(p) && p.extension() != ".lua") p += ".lua";
  if (!std::filesystem::is_regular_file(p)) {
    e.message = "no script '" + name + "' in the server's scripts folder";
    return *error = e, nullptr;
  }
  std::unique_ptr<scripting::Script> script;
  format::Status s = scripting::Script::load_file(p.string(), scripting::Limits{}, &script);
  if (s.ok()) s = script->attach(&model_);
  if (!s.ok()) {
    e.status = 500;
    e.type = "server_error";
    e.message = "the script '" + name + "' failed to load: " + s.message();
    return *error = e, nullptr;
  }
  return script;
}

void Server::handle_generate(Endpoint endpoint, const httplib::Request& req, httplib::Response& res) {
  ApiError error;
  std::optional<ParsedRequest> parsed = parse_request(endpoint, req.body, o_.model_id, &error);
  if (!parsed) return send_error(res, error);
  ParsedRequest& p = *parsed;
  sched::Request r;
  if (endpoint == Endpoint::chat) {
    std::string text;
    if (runtime::model_chat_template(model_).empty()) {
      std::vector<scripting::ChatMessage> history;
      for (const auto& m : p.messages) history.push_back({m["role"], m["content"]});
      text = scripting::plain_chat_prompt(history);
    } else {
      try {
        text = runtime::render_model_chat_template(model_, p.messages, /*add_generation_prompt=*/true);
      } catch (const std::exception& e) {
        error = ApiError{};
        error.param = "messages";
        error.message = std::string("the model's chat template refused the conversation: ") + e.what();
        return send_error(res, error);
      }
    }
    r.prompt = runtime::prompt_tokens(model_, text, /*parse_special=*/true);
  } else {
    r.prompt = runtime::prompt_tokens(model_, p.prompt);
  }
  const size_t n_ctx = sched_.context();
  if (r.prompt.empty()) {
    error = ApiError{};
    error.param = endpoint == Endpoint::chat ? "messages" : "prompt";
    error.message = "the prompt is empty (and the model has no BOS token)";
    return send_error(res, error);
  }
  if (r.prompt.size() >= n_ctx) {
    error = ApiError{};
    error.param = endpoint == Endpoint::chat ? "messages" : "prompt";
    error.code = "context_length_exceeded";
    error.message = "the prompt has " + std::to_string(r.prompt.size()) + " tokens; this server's context is " +
                    std::to_string(n_ctx) + " tokens for prompt and completion together";
    return send_error(res, error);
  }
  const size_t room = n_ctx - r.prompt.size();
  r.max_tokens = int32_t(std::min<int64_t>(p.max_tokens.value_or(int64_t(room)), int64_t(room)));
  r.sampler = p.sampler;
  r.presence_penalty = p.presence_penalty;
  r.frequency_penalty = p.frequency_penalty;
  for (const auto& [t, b] : p.logit_bias) {
    if (size_t(t) >= model_.dims().vocab) {
      error = ApiError{};
      error.param = "logit_bias";
      error.message = "'logit_bias': token " + std::to_string(t) + " is outside the vocabulary [0, " +
                      std::to_string(model_.dims().vocab) + ")";
      return send_error(res, error);
    }
  }
  r.logit_bias = p.logit_bias;
  r.stop = p.stop;
  r.ignore_eos = p.ignore_eos;
  if (!p.script.empty()) {
    r.hooks = load_script(p.script, &error);
    if (!r.hooks) return send_error(res, error);
  }
  auto ch = std::make_shared<Channel>();
  r.sink = ch->sink(ch);
  uint64_t id = 0;
  std::string why;
  switch (sched_.submit(std::move(r), &id, &why)) {
    case sched::Scheduler::Submit::queued: break;
    case sched::Scheduler::Submit::invalid:
      error = ApiError{};
      error.message = why;
      return send_error(res, error);
    case sched::Scheduler::Submit::queue_full:
      error = ApiError{};
      error.status = 503;
      error.type = "server_error";
      error.code = "server_busy";
      error.message = why;
      res.set_header("Retry-After", "1");
      return send_error(res, error);
  }
  ResponseMeta meta;
  meta.endpoint = endpoint;
  meta.id = (endpoint == Endpoint::chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id_++);
  meta.model = o_.model_id;
  meta.created = int64_t(std::time(nullptr));
  const auto error_of = [&](const std::string& message) {
    ApiError e;
    e.status = message.rfind("the KV cache is full", 0) == 0 ? 503 : 500;
    e.type = "server_error";
    e.message = message;
    return e;
  };
  // The client left: the scheduler frees the request's sequence and pages at its next step.
  const auto client_left = [this, ch, id] {
    if (ch->leave()) ++disconnects_;
    sched_.cancel(id);
  };
  if (!p.stream) {
    // Nothing is written until the text is whole, so a client that gives up (a timeout, a closed
    // tab) is seen by polling its socket (PeerWatch), found at the first wait that outlasts
    // kPeerPoll: short requests never look.
    constexpr auto kPeerPoll = std::chrono::milliseconds(200);
    std::optional<PeerWatch> peer;
    std::unique_lock<std::mutex> lock(ch->mu);
    while (!ch->cv.wait_for(lock, kPeerPoll, [&] { return ch->done; })) {
      lock.unlock();
      if (!peer) peer.emplace(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
      const bool gone = peer->closed();
      lock.lock();
      if (gone && !ch->done) {
        lock.unlock();
        client_left();
        res.status = 499;  // nginx's "client closed request": nobody reads it; /metrics counts it
        return;
      }
    }
    if (ch->reason == sched::FinishReason::error || ch->reason == sched::FinishReason::cancelled) {
      return send_error(res, error_of(ch->error.empty() ? "the request was cancelled" : ch->error));
    }
    std::string text;
    for (const std::string& d : ch->deltas) text += d;
    res.set_content(dump(full_response(meta, text, sched::finish_reason_str(ch->reason), ch->usage)),
                    "application/json");
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  const bool include_usage = p.include_usage;
  auto first = std::make_shared<bool>(true);
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, ch, meta, include_usage, first, error_of, client_left](size_t, httplib::DataSink& sink) {
        const auto send = [&](const json& j) {
          const std::string line = "data: " + dump(j) + "\n\n";
          return sink.write(line.data(), line.size());
        };
        std::deque<std::string> deltas;
        bool done = false;
        {
          std::unique_lock<std::mutex> lock(ch->mu);
          ch->cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return ch->done || !ch->deltas.empty(); });
          deltas.swap(ch->deltas);
          done = ch->done;
        }
        const auto leave = [&] {
          client_left();
          return false;
        };
        if (!sink.is_writable()) return leave();
        if (*first && meta.endpoint == Endpoint::chat) {
          // The role first, as OpenAI's first chunk carries it.
          if (!send(delta_chunk(meta, "", true))) return leave();
          *first = false;
        }
        for (const std::string& d : deltas) {
          if (!send(delta_chunk(meta, d, false))) return leave();
        }
        if (!done) return true;
        if (ch->reason == sched::FinishReason::error || ch->reason == sched::FinishReason::cancelled) {
          send(error_of(ch->error.empty() ? "the request was cancelled" : ch->error).body());
        } else {
          send(finish_chunk(meta, sched::finish_reason_str(ch->reason)));
          if (include_usage) send(usage_chunk(meta, ch->usage));
        }
        const std::string end = "data: [DONE]\n\n";
        sink.write(end.data(), end.size());
        sink.done();
        return true;
      },
      [client_left](bool success) {
        if (!success) client_left();
      });
}

std::string Server::metrics_text() {
  const sched::Metrics m = sched_.metrics();
  std::ostringstream o;
  o << "# HELP ingot_requests_total HTTP responses by status code.\n# TYPE ingot_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    for (const auto& [status, n] : by_status_) o << "ingot_requests_total{status=\"" << status << "\"} " << n << "\n";
  }
  const auto scalar = [&](const char* name, const char* type, const char* help, double v) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n" << name << " " << v << "\n";
  };
  scalar("ingot_prompt_tokens_total", "counter", "Prompt tokens evaluated.", double(m.prompt_tokens));
  scalar("ingot_generated_tokens_total", "counter", "Tokens generated.", double(m.generated_tokens));
  scalar("ingot_prompt_tokens_shared_total", "counter",
         "Prompt tokens taken from a running request's KV pages (a common prefix) instead of evaluated.",
         double(m.prompt_tokens_shared));
  scalar("ingot_prompt_tokens_cached_total", "counter",
         "Prompt tokens taken from a finished request's kept KV pages (a common prefix) instead of evaluated.",
         double(m.prompt_tokens_cached));
  scalar("ingot_steps_total", "counter", "Batched forward steps run.", double(m.steps));
  scalar("ingot_client_disconnects_total", "counter",
         "Requests whose client closed the connection before the response ended (cancelled at once).",
         double(disconnects_.load()));
  scalar("ingot_queue_length", "gauge", "Requests waiting for a slot.", double(m.queue_length));
  scalar("ingot_slots_active", "gauge", "Slots holding a request.", double(m.active_slots));
  scalar("ingot_slots", "gauge", "Slots (--parallel).", double(m.n_slots));
  scalar("ingot_kv_pages_in_use", "gauge", "KV cache pages referenced by a sequence.", double(m.kv_pages_in_use));
  scalar("ingot_kv_pages_cached", "gauge",
         "KV cache pages that finished requests' kept sequences hold for later prompts (as of the last step; a "
         "running request may share some).",
         double(m.kv_pages_cached));
  scalar("ingot_kv_pages_max", "gauge", "KV cache pages the budget allows.", double(m.kv_pages_max));
  const auto histogram = [&](const char* name, const char* help, const sched::Histogram& h) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
    for (size_t i = 0; i < h.bounds.size(); ++i) o << name << "_bucket{le=\"" << h.bounds[i] << "\"} " << h.counts[i] << "\n";
    o << name << "_bucket{le=\"+Inf\"} " << h.counts.back() << "\n";
    o << name << "_sum " << h.sum << "\n" << name << "_count " << h.n << "\n";
  };
  histogram("ingot_time_to_first_token_seconds", "From a request's arrival to its first token.", m.ttft);
  histogram("ingot_time_per_output_token_seconds", "Between consecutive tokens of a stream.", m.tpot);
  return o.str();
}

int Server::run() {
  http_.new_task_queue = [n = o_.http_threads] { return new httplib::ThreadPool(n); };
  http_.set_payload_max_length(o_.max_body_bytes);
  http_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/health" || authorized(req)) return httplib::Server::HandlerResponse::Unhandled;
    ApiError e;
    e.status = 401;
    e.code = "invalid_api_key";
    e.message = "a wrong or missing API key (send 'Authorization: Bearer KEY')";
    send_error(res, e);
    return httplib::Server::HandlerResponse::Handled;
  });
  // Statuses httplib sets itself (404 without a route, 413, 400 on a malformed request line)
  // get OpenAI's error object too.
  http_.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.is_chunked_content_provider_) return;
    ApiError e;
    e.status = res.status;
    if (res.status == 404) {
      e.message = "no route " + req.method + " " + req.path;
      e.code = "not_found";
    } else if (res.status == 413) {
      e.message = "the request body is larger than the limit of " + std::to_string(o_.max_body_bytes) + " bytes";
      e.code = "payload_too_large";
    } else {
      e.message = "HTTP error " + std::to_string(res.status);
      if (res.status >= 500) e.type = "server_error";
    }
    send_error(res, e);
  });
  http_.set_logger([this](const httplib::Request&, const httplib::Response& res) {
    std::lock_guard<std::mutex> lock(status_mu_);
    ++by_status_[res.status];
  });
  http_.Post("/v1/chat/completions", [this](const httplib::Request& q, httplib::Response& r) {
    handle_generate(Endpoint::chat, q, r);
  });
  http_.Post("/v1/completions", [this](const httplib::Request& q, httplib::Response& r) {
    handle_generate(Endpoint::completions, q, r);
  });
  http_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& r) {
    const json m = {{"id", o_.model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "ingot"},
                    {"context_length", sched_.context()}};
    r.set_content(dump(json{{"object", "list"}, {"data", json::array({m})}}), "application/json");
  });
  http_.Get(R"(/v1/models/(.+))", [this](const httplib::Request& q, httplib::Response& r) {
    if (q.matches[1] != o_.model_id) {
      ApiError e;
      e.status = 404;
      e.code = "model_not_found";
      e.param = "model";
      e.message = "the model '" + std::string(q.matches[1]) + "' does not exist; this server serves '" + o_.model_id + "'";
      return send_error(r, e);
    }
    r.set_content(dump(json{{"id", o_.model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "ingot"}}),
                  "application/json");
  });
  http_.Get("/health", [](const httplib::Request&, httplib::Response& r) {
    r.set_content(R"({"status":"ok"})", "application/json");
  });
  http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& r) {
    r.set_content(metrics_text(), "text/plain; version=0.0.4");
  });

  int port = o_.port;
  if (port == 0) {
    port = http_.bind_to_any_port(o_.host);
    if (port < 0) port = 0;
  } else if (!http_.bind_to_port(o_.host, port)) {
    port = 0;
  }
  if (port == 0) {
    std::fprintf(stderr, "ingot serve: cannot listen on %s:%d\n", o_.host.c_str(), o_.port);
    return 1;
  }
  // Room for many clients connecting at once (httplib's own backlog is 5, see sockets.h).
  if (!set_listen_backlog(port, 1024)) std::fprintf(stderr, "ingot serve: warning: the listen backlog stays at 5\n");
  // SIGINT/SIGTERM set a flag (all a handler may do); a thread of ours sees it and stops the
  // server (stop() is not signal-safe). Libraries start threads of their own (OpenBLAS at load),
  // so blocking the signals and taking them with sigwait would not catch them all.
  std::atomic<bool> listening{true};
  std::thread waiter([this, &listening] {
    while (listening && g_stop_signal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    sched_.cancel_all();  // running streams end now (cancelled) rather than draining
    http_.stop();
  });
  sched_.start();
  std::printf("ingot serve: listening on http://%s:%d (model '%s', %zu slots, context %zu)\n", o_.host.c_str(), port,
              o_.model_id.c_str(), o_.sched.n_slots, sched_.context());
  std::fflush(stdout);
  const bool ok = http_.listen_after_bind();
  listening = false;
  waiter.join();
  return ok ? 0 : 1;
}

}  // namespace

int serve(const runtime::Model& model, const ServerOptions& options) {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGPIPE, SIG_IGN);
  Server s(model, options);
  return s.run();
}

}  // namespace ingot::server
