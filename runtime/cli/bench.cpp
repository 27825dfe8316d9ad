// `ingot bench MODEL`: prefill and decode speed, median of repeats. `--batch 1,2,4,8,16`: the
// aggregate decode speed of B sequences stepped together, each at --context positions.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "bench_script.h"
#include "commands.h"
#include "script_options.h"
#include "cpu/threads.h"
#include "generate.h"

namespace ingot::cli {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Bytes of weights one decode step reads: every layer's linears (packed codes, scales, zeros,
// g_idx) and the output matrix (the embedding rows read are negligible).
double weight_bytes_per_step(const runtime::Model& m) {
  const auto dense = [](const cpu::WeightView& w) { return double(w.rows * w.cols) * (w.dtype == fb::DType::F32 ? 4 : 2); };
  const auto linear = [&](const runtime::Linear& l) {
    if (!l.quantized) return dense(l.dense);
    const cpu::QuantView& q = l.quant;
    const double groups = q.group_size > 0 ? double(q.cols) / double(q.group_size) : 1.0;
    return double(q.rows) * double(q.cols) * q.bits / 8 + groups * double(q.rows) * 2 +
           (q.zeros != nullptr ? groups * double(q.rows) * q.bits / 8 : 0) + (q.g_idx != nullptr ? 4.0 * double(q.cols) : 0);
  };
  double b = linear(m.output);
  for (const runtime::LayerWeights& l : m.layers) {
    for (const runtime::Linear* x : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2, &l.w3}) b += linear(*x);
  }
  return b;
}

// Read bandwidth of this machine, GB/s: the best of 5 sums over a 512 MiB buffer (all threads).
double read_bandwidth_gb_s() {
  std::vector<float> buf(size_t{128} << 20, 1.0f);
  double best = 0, sink = 0;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (size_t i = 0; i < buf.size(); i += 16) {
      float s = 0;
      for (size_t k = 0; k < 16; ++k) s += buf[i + k];
      sum += s;
    }
    sink += sum;
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(buf.size() * sizeof(float)) / sec / 1e9);
  }
  return sink > 0 ? best : 0;
}

// One prompt of `context` tokens is evaluated once; every B then forks B sessions from it (the
// pages are shared copy-on-write, as a server's common system prompt would be), gives each a
// different next token, and steps all B together `n_gen` times; the median of `repeats` runs.
format::Status bench_batches(const runtime::Model& model, const std::vector<size_t>& batches, size_t context,
                             size_t n_gen, size_t repeats, bool as_json, const std::string& model_path) {
  const size_t vocab = model.dims().vocab;
  std::vector<int32_t> prompt(context);
  for (size_t i = 0; i < context; ++i) prompt[i] = int32_t((i * 7919 + 3) % vocab);
  runtime::Session base(model, context + n_gen);
  std::vector<float> logits(vocab);
  auto t0 = std::chrono::steady_clock::now();
  INGOT_RETURN_IF_ERROR(base.eval(prompt, logits.data()));
  const double prefill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double bytes = weight_bytes_per_step(model), bandwidth = read_bandwidth_gb_s();
  nlohmann::json results = nlohmann::json::array();
  if (!as_json) {
    std::printf("%s: %d threads, %zu positions of context each (prefill of the shared prompt %.1f s), %zu steps, "
                "median of %zu\nweights read per step %.1f MB, read bandwidth %.1f GB/s: weight-streaming limit "
                "%.2f steps/s\n",
                model_path.c_str(), cpu::threads(), context, prefill_s, n_gen, repeats, bytes / 1e6, bandwidth,
                bandwidth * 1e9 / bytes);
    std::printf("%6s %14s %14s %12s\n", "batch", "decode_tok_s", "steps_s", "ms_per_step");
  }
  for (size_t b : batches) {
    std::vector<double> rates;
    for (size_t r = 0; r < repeats; ++r) {
      std::vector<std::unique_ptr<runtime::Session>> sessions;
      std::vector<runtime::Session*> ptrs;
      std::vector<std::vector<int32_t>> feed(b);
      for (size_t i = 0; i < b; ++i) {
        sessions.push_back(std::make_unique<runtime::Session>(model, context + n_gen));
        sessions.back()->fork_from(base);
        ptrs.push_back(sessions.back().get());
        feed[i] = {int32_t((i * 131 + 7) % vocab)};
      }
      std::vector<float> rows;
      t0 = std::chrono::steady_clock::now();
      for (size_t step = 0; step < n_gen; ++step) {
        INGOT_RETURN_IF_ERROR(runtime::eval_sessions(ptrs, feed, &rows));
        for (size_t i = 0; i < b; ++i) feed[i] = {runtime::argmax({rows.data() + i * vocab, vocab})};
      }
      rates.push_back(double(b * n_gen) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    const double tok_s = median(rates);
    if (as_json) {
      results.push_back({{"batch", b}, {"decode_tok_s", tok_s}});
    } else {
      std::printf("%6zu %14.2f %14.3f %12.1f\n", b, tok_s, tok_s / double(b), 1000.0 * double(b) / tok_s);
      std::fflush(stdout);
    }
  }
  if (as_json) {
    const nlohmann::json j = {{"model", model_path},        {"threads", cpu::threads()},
                              {"context", context},         {"gen", n_gen},
                              {"repeats", repeats},         {"prefill_seconds", prefill_s},
                              {"weight_bytes_per_step", bytes}, {"read_bandwidth_gb_s", bandwidth},
                              {"results", results}};
    std::printf("%s\n", j.dump(2).c_str());
  }
  return format::Status::success();
}

}  // namespace

void add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure prefill and decode tokens/s (median of repeats)");
  static std::string model_path;
  static size_t n_prompt = 128, n_gen = 64, repeats = 5;
  static int threads = 0;
  static std::string backend = "cpu", activations;
  static bool as_json = false, script_overhead = false;
  static std::vector<size_t> batches;
  static size_t batch_context = 256;
  cmd->add_option("MODEL", model_path, "the .ingot file")->required();
  cmd->add_option("--prompt", n_prompt, "prompt tokens per prefill")->capture_default_str();
  cmd->add_option("--gen", n_gen, "tokens decoded one at a time")->capture_default_str();
  cmd->add_option("--repeats", repeats, "runs; the median is reported")->capture_default_str();
  cmd->add_option("--threads", threads, "CPU threads; 0 = all")->capture_default_str();
  cmd->add_option("--backend", backend, "cpu, or cuda (docs/cuda.md)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  add_activations_option(cmd, &activations);
  cmd->add_flag("--json", as_json, "print JSON");
  cmd->add_option("--batch", batches,
                  "batch sizes B (comma-separated): decode B sequences together, --gen steps each, and report "
                  "aggregate tokens/s")
      ->delimiter(',');
  cmd->add_option("--context", batch_context, "with --batch: positions every sequence holds before decoding")
      ->capture_default_str();
  cmd->add_flag("--script-overhead", script_overhead,
                "also time a Lua top-p sampler and a Lua repetition penalty against the built-in sampler (--gen tokens)");
  cmd->callback([] {
    cpu::set_threads(threads);
    std::unique_ptr<runtime::Model> model;
    runtime::LoadOptions load_options;
    load_options.backend = backend == "cuda" ? runtime::BackendKind::cuda : runtime::BackendKind::cpu;
    load_options.activations = activations_of(activations);
    format::Status s = runtime::Model::load(model_path, load_options, &model);
    if (s.ok() && n_prompt + n_gen > model->dims().context) {
      s = format::fail(format::StatusCode::invalid_argument, "--prompt + --gen = ", n_prompt + n_gen,
                       " exceeds the context length ", model->dims().context);
    }
    if (s.ok() && !batches.empty()) {
      if (std::find(batches.begin(), batches.end(), size_t{0}) != batches.end() || batch_context == 0 || n_gen == 0) {
        s = format::fail(format::StatusCode::invalid_argument, "--batch sizes, --context and --gen must be positive");
      } else if (batch_context + n_gen > model->dims().context) {
        s = format::fail(format::StatusCode::invalid_argument, "--context + --gen = ", batch_context + n_gen,
                         " exceeds the context length ", model->dims().context);
      }
      if (s.ok()) s = bench_batches(*model, batches, batch_context, n_gen, repeats, as_json, model_path);
      if (s.ok()) return;
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
