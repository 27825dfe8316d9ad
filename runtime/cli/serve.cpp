// `ingot serve MODEL`: the OpenAI-compatible server (runtime/server/, docs/serving.md).
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "script_options.h"
#include "cpu/threads.h"
#include "model/model.h"
#ifdef INGOT_WITH_SERVER
#include "server/server.h"
#endif

namespace ingot::cli {

#ifndef INGOT_WITH_SERVER
void add_serve(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Serve the model over HTTP (not built: cpp-httplib was missing)");
  cmd->allow_extras();
  cmd->callback([] {
    std::fprintf(stderr, "ingot serve: this ingot was built without cpp-httplib (Debian libcpp-httplib-dev); "
                         "run scripts/install-deps.sh and rebuild\n");
    throw CLI::RuntimeError(kExitInvalid);
  });
}
#else
void add_serve(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Serve the model over HTTP with OpenAI's API (continuous batching)");
  static std::string model_path;
  static server::ServerOptions o;
  static int threads = 0;
  static size_t kv_budget_mib = 0;
  static std::string activations;
  cmd->add_option("MODEL", model_path, "the .ingot file")->required();
  cmd->add_option("--host", o.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", o.port, "port to listen on; 0 = any free port (printed)")->capture_default_str();
  cmd->add_option("--parallel", o.sched.n_slots, "requests decoded together (slots)")->capture_default_str();
  cmd->add_option("--ctx", o.sched.n_ctx, "context of each slot; 0 = the model's");
  cmd->add_option("--api-key", o.api_key, "require 'Authorization: Bearer KEY'");
  cmd->add_option("--scripts", o.scripts_dir, "folder of Lua scripts requests may name in 'script'");
  cmd->add_option("--max-queue", o.sched.max_queue, "requests that may wait for a slot; more get 503")
      ->capture_default_str();
  cmd->add_option("--prefill-chunk", o.sched.prefill_chunk, "prompt tokens one step evaluates, all slots together")
      ->capture_default_str();
  cmd->add_flag("--prefix-cache,!--no-prefix-cache", o.sched.keep_finished,
                "keep a finished request's KV pages for a later prompt that begins the same way (default on; "
                "they give way to running requests)");
  cmd->add_option("--max-body", o.max_body_bytes, "largest request body in bytes; larger get 413")->capture_default_str();
  cmd->add_option("--http-threads", o.http_threads, "connections served at once")->capture_default_str();
  cmd->add_option("--kv-budget", kv_budget_mib, "MiB of KV pages; 0 = enough for every slot's full context");
  cmd->add_option("--threads", threads, "CPU threads; 0 = all")->capture_default_str();
  add_activations_option(cmd, &activations);
  cmd->callback([] {
    if (o.sched.n_slots == 0) {
      std::fprintf(stderr, "ingot serve: --parallel must be at least 1\n");
      throw CLI::RuntimeError(kExitUsage);
    }
    cpu::set_threads(threads);
    if (o.model_id.empty()) o.model_id = std::filesystem::path(model_path).stem().string();
    runtime::LoadOptions load;
    load.activations = activations_of(activations);
    std::unique_ptr<runtime::Model> model;
    format::Status s = runtime::Model::load(model_path, load, &model);
    if (s.ok() && !model->has_tokenizer()) {
      std::fprintf(stderr, "ingot serve: '%s' has no tokenizer; compile it with --tokenizer\n", model_path.c_str());
      throw CLI::RuntimeError(kExitInvalid);
    }
    if (s.ok()) {
      // Pages for every slot's full context (the default pool holds 8 full contexts), or the budget given.
      const runtime::ModelDims& d = model->dims();
      const size_t ctx = o.sched.n_ctx == 0 ? d.context : std::min(o.sched.n_ctx, d.context);
      const size_t page_bytes = model->kv_pool().shape().page_bytes();
      const size_t want = kv_budget_mib > 0 ? kv_budget_mib << 20
                                            : o.sched.n_slots * ((ctx + load.kv_page_size - 1) / load.kv_page_size) *
                                                  page_bytes;
      if (kv_budget_mib > 0 || want > model->kv_pool().max_pages() * page_bytes) {
        load.kv_budget_bytes = want;
        model.reset();
        s = runtime::Model::load(model_path, load, &model);
      }
    }
    if (!s.ok()) {
      std::fprintf(stderr, "ingot serve: %s\n", s.message().c_str());
      throw CLI::RuntimeError(kExitInvalid);
    }
    const int rc = server::serve(*model, o);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

#endif

}  // namespace ingot::cli
