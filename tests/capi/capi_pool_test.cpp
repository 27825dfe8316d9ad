// Sessions on several threads stepping through one model's worker pool at once (issue 15): each
// session's prompts are long enough (120 tokens) that its prefill's linears and attention run as
// parallel loops on the pool, so two sessions contend for the pool in every layer. Every logit of
// every step must equal the same session run alone, bit for bit (a loop's result does not depend
// on how its iterations are split between workers). scripts/test.sh runs this under
// ThreadSanitizer (label "capi"), with the pool's threads really used (n_threads 3 per model).
#include <ingot/ingot.h>

#include <string>
#include <thread>
#include <vector>

#include "capi_fixture.h"

namespace ingot::test {
namespace {

constexpr int kDecode = 12;

std::vector<int32_t> tokenize(ingot_model* model, const std::string& text) {
  size_t n = 0;
  ingot_tokenize(model, text.data(), text.size(), true, nullptr, 0, &n);
  std::vector<int32_t> ids(n);
  if (ingot_tokenize(model, text.data(), text.size(), true, ids.data(), ids.size(), &n) != INGOT_STATUS_OK) ids.clear();
  return ids;
}

// A prompt chunk of 120 tokens, then greedy decoding one token a step; the logits of every step.
std::vector<float> run_session(ingot_model* model, const std::vector<int32_t>& prompt, int32_t n_threads) {
  const size_t vocab = size_t(ingot_model_n_vocab(model));
  ingot_session_params sp = ingot_session_default_params();
  sp.n_ctx = 256;
  sp.n_threads = n_threads;
  ingot_session* s = nullptr;
  if (ingot_session_new(model, sp, &s) != INGOT_STATUS_OK) return {};
  std::vector<float> all((kDecode + 1) * vocab);
  bool ok = ingot_session_eval(s, prompt.data(), prompt.size(), all.data()) == INGOT_STATUS_OK;
  for (int step = 1; ok && step <= kDecode; ++step) {
    const float* prev = all.data() + (step - 1) * vocab;
    int32_t best = 0;
    for (size_t v = 1; v < vocab; ++v) {
      if (prev[v] > prev[best]) best = int32_t(v);
    }
    ok = ingot_session_eval(s, &best, 1, all.data() + step * vocab) == INGOT_STATUS_OK;
  }
  ingot_session_free(s);
  if (!ok) all.clear();
  return all;
}

TEST(CApiPool, SessionsOnSeveralThreadsShareTheModelsPool) {
  INGOT_REQUIRE_STORIES();
  ingot_model_params mp = ingot_model_default_params();
  mp.n_threads = 3;  // the pool: the stepping thread + 2 workers, shared by every session
  ingot_model* model = nullptr;
  ASSERT_EQ(ingot_model_load(stories_model().c_str(), mp, &model), INGOT_STATUS_OK) << ingot_last_error();
  const char* starts[] = {"Once upon a time, there was a little girl named Lily.",
                          "Tom and his dog went to the park to play with a ball.",
                          "The sun was hot and the bird sang in the big green tree.",
                          "One day, a little boy found a shiny red box under his bed."};
  std::vector<std::vector<int32_t>> prompts;
  for (const char* start : starts) {
    std::string text;
    std::vector<int32_t> ids;
    while ((ids = tokenize(model, text)).size() < 120) text += std::string(start) + " ";
    ids.resize(120);
    prompts.push_back(ids);
  }
  // Alone, one after another: the expected logits (all of the pool, and one thread).
  std::vector<std::vector<float>> alone;
  for (const auto& p : prompts) {
    alone.push_back(run_session(model, p, 0));
    ASSERT_FALSE(alone.back().empty()) << ingot_last_error();
    EXPECT_EQ(run_session(model, p, 1), alone.back()) << "one thread against the whole pool";
  }
  // Together: 8 threads (each prompt twice), with 0 (all 3), 2 or 1 of the pool's workers.
  std::vector<std::vector<float>> together(prompts.size() * 2);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < together.size(); ++t) {
    threads.emplace_back([&, t] { together[t] = run_session(model, prompts[t % prompts.size()], int32_t(t % 3)); });
  }
  for (std::thread& th : threads) th.join();
  for (size_t t = 0; t < together.size(); ++t) {
    ASSERT_FALSE(together[t].empty()) << "thread " << t;
    EXPECT_EQ(together[t], alone[t % prompts.size()]) << "thread " << t;
  }
  ingot_model_free(model);
}

}  // namespace
}  // namespace ingot::test
