// `ingot bench MODEL --script-overhead`: what Lua hooks cost per token against the built-in C++
// sampler, on the model's own logits (vocab-sized; use a synthetic 32000-token model for the
// LLaMA case). Both sides of each pair do the same work on the same logits in the same run:
//   top-p:   temperature 0.8, top-p 0.95, no top-k   (Sampler  vs  Lua sample + logits:sample_top_p)
//   penalty: repetition penalty 1.1 over the last 64 tokens, then greedy
//            (Sampler  vs  Lua process_logits + logits:penalize, then the built-in greedy)
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "bench_script.h"
#include "generate.h"
#include "ingot/scripting/script.h"

namespace ingot::cli {

namespace {

// The two scripts under test (the same code as samples/scripts/top_p.lua and repetition_penalty.lua).
const char* kTopPScript = R"(
function sample(logits, ctx)
  logits:scale(1 / 0.8)
  return logits:sample_top_p(0.95)
end
)";
const char* kPenaltyScript = R"(
function process_logits(logits, ctx)
  logits:penalize(ctx:recent(64), 1.1)
end
)";

// The fixed cost of crossing into Lua and back: a sample hook that does nothing.
const char* kEmptyScript = "function sample(logits, ctx) return 0 end";

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

format::Status bench_script_overhead(const runtime::Model& model, size_t n_tokens, size_t repeats,
                                     nlohmann::json* out) {
  using clock = std::chrono::steady_clock;
  const size_t vocab = model.dims().vocab;
  n_tokens = std::max<size_t>(1, std::min(n_tokens, model.dims().context - 1));
  // Real logits of a greedy run from BOS (or token 0), one (vocab) row per token.
  std::vector<float> rows(n_tokens * vocab);
  std::vector<int32_t> history = {model.dims().bos >= 0 ? model.dims().bos : 0};
  runtime::Session session(model, n_tokens + 1);
  INGOT_RETURN_IF_ERROR(session.eval(history, rows.data()));
  for (size_t i = 1; i < n_tokens; ++i) {
    const int32_t next = runtime::argmax({rows.data() + (i - 1) * vocab, vocab});
    history.push_back(next);
    INGOT_RETURN_IF_ERROR(session.eval({&next, 1}, rows.data() + i * vocab));
  }
  // A history long enough for the 64-token penalty window: the run's tokens repeated.
  while (history.size() < 128) history.push_back(history[history.size() % n_tokens]);

  std::unique_ptr<scripting::Script> top_p, penalty, empty;
  INGOT_RETURN_IF_ERROR(scripting::Script::load_string(kEmptyScript, "bench-empty.lua", {}, &empty));
  INGOT_RETURN_IF_ERROR(scripting::Script::load_string(kTopPScript, "bench-top-p.lua", {}, &top_p));
  INGOT_RETURN_IF_ERROR(scripting::Script::load_string(kPenaltyScript, "bench-penalty.lua", {}, &penalty));
  runtime::HookContext hc;
  hc.model = &model;
  hc.history = history;
  hc.n_prompt = 1;
  hc.position = history.size();
  INGOT_RETURN_IF_ERROR(top_p->begin(hc));
  INGOT_RETURN_IF_ERROR(penalty->begin(hc));
  INGOT_RETURN_IF_ERROR(empty->begin(hc));

  runtime::SamplerParams top_p_params;
  top_p_params.temperature = 0.8f, top_p_params.top_k = 0, top_p_params.top_p = 0.95f;
  runtime::SamplerParams penalty_params;
  penalty_params.temperature = 0, penalty_params.repeat_penalty = 1.1f, penalty_params.repeat_last_n = 64;
  runtime::SamplerParams greedy_params;
  greedy_params.temperature = 0;

  std::vector<float> work(vocab);
  format::Status status;
  int64_t checksum = 0;  // keeps the compiler from dropping work whose result is unused
  // One timed pass over every row: copy the row (the hooks change it), then `step`.
  const auto per_token_us = [&](auto&& step) {
    const auto t0 = clock::now();
    for (size_t i = 0; i < n_tokens && status.ok(); ++i) {
      std::copy_n(rows.data() + i * vocab, vocab, work.data());
      checksum += step();
    }
    return std::chrono::duration<double, std::micro>(clock::now() - t0).count() / double(n_tokens);
  };
  std::vector<double> builtin_top_p, lua_top_p, builtin_penalty, lua_penalty, empty_hook;
  for (size_t r = 0; r < repeats && status.ok(); ++r) {
    runtime::Sampler s1(top_p_params), s2(penalty_params), greedy(greedy_params);
    {
      const auto t0 = clock::now();
      for (int i = 0; i < 1000 && status.ok(); ++i) {
        int32_t t = -1;
        status = empty->sample(work, hc, &t);
        checksum += t;
      }
      empty_hook.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count() / 1000);
    }
    builtin_top_p.push_back(per_token_us([&] { return s1.sample(work, history); }));
    lua_top_p.push_back(per_token_us([&] {
      int32_t t = -1;
      status = top_p->sample(work, hc, &t);
      return t;
    }));
    builtin_penalty.push_back(per_token_us([&] { return s2.sample(work, history); }));
    lua_penalty.push_back(per_token_us([&] {
      status = penalty->process_logits(work, hc);
      return greedy.sample(work, history);
    }));
  }
  INGOT_RETURN_IF_ERROR(status);
  const double bt = median(builtin_top_p), lt = median(lua_top_p), bp = median(builtin_penalty),
               lp = median(lua_penalty);
  *out = {{"vocab", vocab},
          {"tokens", n_tokens},
          {"repeats", repeats},
          {"top_p", {{"builtin_us", bt}, {"lua_us", lt}, {"overhead_us", lt - bt}}},
          {"repetition_penalty", {{"builtin_us", bp}, {"lua_us", lp}, {"overhead_us", lp - bp}}},
          {"empty_hook_us", median(empty_hook)},  // the Lua round trip alone
          {"checksum", checksum}};
  return format::Status::success();
}

}  // namespace ingot::cli
