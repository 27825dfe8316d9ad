// `ingot bench MODEL --script-overhead`: what Lua hooks cost per token against the built-in C++
// sampler, on the model's own logits (vocab-sized; use a synthetic 32000-token model for the
// LLaMA case). Both sides of each pair do the same work on the same logits in the same run:
//   top-p:   temperature 0.8, top-p 0.95, no top-k   (Sampler  vs  Lua sample + logits:sample_top_p),
//            on the logits as they are and on the logits x10 (a peaked, trained-model-like row)
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

  // Rows as a trained model gives them: a random model's logits are nearly flat, so top-p keeps
  // most of the vocabulary; scaled by 10 the nucleus holds a handful of tokens.
  std::vector<float> peaked(rows);
  for (float& v : peaked) v *= 10.0f;

  std::vector<float> work(vocab);
  format::Status status;
  int64_t checksum = 0;  // keeps the compiler from dropping work whose result is unused
  // Microseconds of `step` on a fresh copy of row i (the copy is not timed).
  const auto time_row = [&](const std::vector<float>& from, size_t i, auto&& step) {
    std::copy_n(from.data() + i * vocab, vocab, work.data());
    const auto t0 = clock::now();
    checksum += step();
    return std::chrono::duration<double, std::micro>(clock::now() - t0).count();
  };
  // Built-in and Lua on the same row back to back (alternating which goes first), so machine
  // noise hits both; the overhead is the median of the per-token differences.
  struct Pair {
    std::vector<double> builtin, lua, diff;
  };
  const auto measure = [&](const std::vector<float>& from, auto&& builtin_step, auto&& lua_step) {
    Pair p;
    for (size_t r = 0; r < repeats && status.ok(); ++r) {
      for (size_t i = 0; i < n_tokens && status.ok(); ++i) {
        double b, l;
        if ((i + r) % 2 == 0) {
          b = time_row(from, i, builtin_step);
          l = time_row(from, i, lua_step);
        } else {
          l = time_row(from, i, lua_step);
          b = time_row(from, i, builtin_step);
        }
        p.builtin.push_back(b), p.lua.push_back(l), p.diff.push_back(l - b);
      }
    }
    return p;
  };
  runtime::Sampler s1(top_p_params), s2(penalty_params), greedy(greedy_params);
  const auto builtin_top_p = [&] { return s1.sample(work, history); };
  const auto lua_top_p = [&] {
    int32_t t = -1;
    status = top_p->sample(work, hc, &t);
    return t;
  };
  const Pair flat = measure(rows, builtin_top_p, lua_top_p);
  const Pair sharp = measure(peaked, builtin_top_p, lua_top_p);
  const Pair pen = measure(
      rows, [&] { return s2.sample(work, history); },
      [&] {
        status = penalty->process_logits(work, hc);
        return greedy.sample(work, history);
      });
  std::vector<double> empty_hook;
  for (int i = 0; i < 1000 && status.ok(); ++i) {
    empty_hook.push_back(time_row(rows, 0, [&] {
      int32_t t = -1;
      status = empty->sample(work, hc, &t);
      return t;
    }));
  }
  INGOT_RETURN_IF_ERROR(status);
  const auto row = [&](const Pair& p) {
    return nlohmann::json{{"builtin_us", median(p.builtin)}, {"lua_us", median(p.lua)}, {"overhead_us", median(p.diff)}};
  };
  *out = {{"vocab", vocab},
          {"tokens", n_tokens},
          {"repeats", repeats},
          {"top_p", row(flat)},
          {"top_p_peaked", row(sharp)},
          {"repetition_penalty", row(pen)},
          {"empty_hook_us", median(empty_hook)},  // the Lua round trip alone
          {"checksum", checksum}};
  return format::Status::success();
}

}  // namespace ingot::cli
