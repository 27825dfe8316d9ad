// `ingot bench MODEL`: prefill and decode speed, median of repeats.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "bench_script.h"
#include "commands.h"
#include "cpu/threads.h"
#include "generate.h"

namespace ingot::cli {

void add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure prefill and decode tokens/s (median of repeats)");
  static std::string model_path;
  static size_t n_prompt = 128, n_gen = 64, repeats = 5;
  static int threads = 0;
  static bool as_json = false, script_overhead = false;
  cmd->add_option("MODEL", model_path, "the .ingot file")->required();
  cmd->add_option("--prompt", n_prompt, "prompt tokens per prefill")->capture_default_str();
  cmd->add_option("--gen", n_gen, "tokens decoded one at a time")->capture_default_str();
  cmd->add_option("--repeats", repeats, "runs; the median is reported")->capture_default_str();
  cmd->add_option("--threads", threads, "CPU threads; 0 = all")->capture_default_str();
  cmd->add_flag("--json", as_json, "print JSON");
  cmd->add_flag("--script-overhead", script_overhead,
                "also time a Lua top-p sampler and a Lua repetition penalty against the built-in sampler (--gen tokens)");
  cmd->callback([] {
    cpu::set_threads(threads);
    std::unique_ptr<runtime::Model> model;
    format::Status s = runtime::Model::load(model_path, {}, &model);
    if (s.ok() && n_prompt + n_gen > model->dims().context) {
      s = format::fail(format::StatusCode::invalid_argument, "--prompt + --gen = ", n_prompt + n_gen,
                       " exceeds the context length ", model->dims().context);
    }
    if (s.ok() && (n_prompt == 0 || repeats == 0)) {
      s = format::fail(format::StatusCode::invalid_argument, "--prompt and --repeats must be positive");
    }
    if (!s.ok()) {
      std::fprintf(stderr, "ingot bench: %s\n", s.message().c_str());
      throw CLI::RuntimeError(kExitInvalid);
    }
    const size_t vocab = model->dims().vocab;
    std::vector<int32_t> prompt(n_prompt);
    for (size_t i = 0; i < n_prompt; ++i) prompt[i] = int32_t((i * 7919 + 3) % vocab);  // fixed, varied ids
    std::vector<double> prefill, decode;
    std::vector<float> logits(vocab);
    runtime::Session session(*model, n_prompt + n_gen);
    for (size_t r = 0; r < repeats; ++r) {
      session.reset();
      auto t0 = std::chrono::steady_clock::now();
      s = session.eval(prompt, logits.data());
      prefill.push_back(double(n_prompt) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      t0 = std::chrono::steady_clock::now();
      for (size_t i = 0; i < n_gen && s.ok(); ++i) {
        const int32_t next = runtime::argmax(logits);
        s = session.eval({&next, 1}, logits.data());
      }
      if (n_gen > 0) {
        decode.push_back(double(n_gen) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      if (!s.ok()) {
        std::fprintf(stderr, "ingot bench: %s\n", s.message().c_str());
        throw CLI::RuntimeError(kExitInvalid);
      }
    }
    const auto median = [](std::vector<double> v) {
      if (v.empty()) return 0.0;
      std::sort(v.begin(), v.end());
      return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    };
    nlohmann::json scripts;
    if (script_overhead) s = bench_script_overhead(*model, std::max<size_t>(n_gen, 1), repeats, &scripts);
    if (!s.ok()) {
      std::fprintf(stderr, "ingot bench: %s\n", s.message().c_str());
      throw CLI::RuntimeError(kExitInvalid);
    }
    if (as_json) {
      nlohmann::json j = {{"model", model_path}, {"threads", cpu::threads()}, {"prompt", n_prompt},
                          {"gen", n_gen}, {"repeats", repeats}, {"prefill_tok_s", median(prefill)},
                          {"decode_tok_s", median(decode)}};
      if (script_overhead) j["script_overhead"] = scripts;
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("%s: %d threads, prefill %zu tokens: %.1f tok/s, decode %zu tokens: %.1f tok/s (median of %zu)\n",
                  model_path.c_str(), cpu::threads(), n_prompt, median(prefill), n_gen, median(decode), repeats);
      if (script_overhead) {
        for (const char* k : {"top_p", "top_p_peaked", "repetition_penalty"}) {
          const nlohmann::json& r = scripts[k];
          std::printf("script %s (vocab %zu): built-in %.2f us/token, Lua %.2f us/token, overhead %+.2f us/token (median of per-token differences)\n", k,
                      scripts["vocab"].get<size_t>(), r["builtin_us"].get<double>(), r["lua_us"].get<double>(),
                      r["overhead_us"].get<double>());
        }
        std::printf("script empty sample hook: %.2f us/token (the Lua round trip alone)\n",
                    scripts["empty_hook_us"].get<double>());
      }
    }
  });
}

}  // namespace ingot::cli
