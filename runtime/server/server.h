// `ingot serve`: an OpenAI-compatible HTTP server (cpp-httplib) over the scheduler. Handlers only
// parse, validate and stream; every model step happens on the scheduler's thread.
// docs/serving.md lists the endpoints, fields, errors and metrics.
#pragma once

#include <string>

#include "model/model.h"
#include "sched/scheduler.h"

namespace ingot::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string model_id;     // the name /v1/models reports and requests may give
  std::string api_key;      // empty: no key asked
  std::string scripts_dir;  // empty: the `script` field is refused
  size_t max_body_bytes = size_t(4) << 20;
  size_t http_threads = 128;  // connections served at once (each stream holds one)
  sched::Options sched;
};

// Serves until SIGINT/SIGTERM. Returns a process exit code; prints problems to stderr.
int serve(const runtime::Model& model, const ServerOptions& options);

}  // namespace ingot::server
