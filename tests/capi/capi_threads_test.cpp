// One model shared by several sessions on several threads at once (the C API's threading rule:
// a model by any number of threads, a session by one at a time). Each thread's greedy text must
// equal the same session run alone; scripts/test.sh also runs this under ThreadSanitizer.
#include <ingot/ingot.h>

#include <thread>
#include <vector>

#include "capi_fixture.h"

namespace ingot::test {
namespace {

bool append(int32_t, const char* text, size_t len, void* ud) {
  static_cast<std::string*>(ud)->append(text, len);
  return true;
}

std::string greedy_text(ingot_model* model, const std::string& prompt, int n, uint64_t seed, float temperature) {
  ingot_session_params sp = ingot_session_default_params();
  sp.n_ctx = 128;
  sp.n_threads = 1;  // one OpenMP thread per session (ThreadSanitizer does not see libgomp's barriers)
  ingot_session* s = nullptr;
  if (ingot_session_new(model, sp, &s) != INGOT_STATUS_OK) return std::string("error: ") + ingot_last_error();
  std::string text;
  ingot_generate_params p = ingot_generate_default_params();
  p.n_predict = n;
  p.sampler.temperature = temperature;
  p.sampler.seed = seed;
  p.on_token = append;
  p.user_data = &text;
  // Two turns: the second continues the first in the same KV cache.
  if (ingot_session_generate(s, prompt.c_str(), p, nullptr) != INGOT_STATUS_OK ||
      ingot_session_generate(s, " The end.", p, nullptr) != INGOT_STATUS_OK) {
    text = std::string("error: ") + ingot_last_error();
  }
  ingot_session_free(s);
  return text;
}

TEST(CApiThreads, SessionsOnSeveralThreadsShareOneModel) {
  INGOT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  ingot_model* model = nullptr;
  ASSERT_EQ(ingot_model_load(stories_model().c_str(), ingot_model_default_params(), &model), INGOT_STATUS_OK)
      << ingot_last_error();
  const std::vector<std::string> prompts = {"Once upon a time", "Lily and Tom went to the park", "The cat",
                                            "One day, a little girl"};
  constexpr int kTokens = 40;
  // Alone, one after another: the expected texts (half greedy, half sampled with a seed).
  std::vector<std::string> alone;
  for (size_t i = 0; i < prompts.size(); ++i) {
    alone.push_back(greedy_text(model, prompts[i], kTokens, i, i % 2 == 0 ? 0.0f : 0.8f));
    ASSERT_EQ(alone.back().rfind("error", 0), std::string::npos) << alone.back();
  }
  // Together: every session at once, twice over, plus tokenization and scoring on the side.
  std::vector<std::string> together(prompts.size() * 2);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < together.size(); ++t) {
    threads.emplace_back([&, t] {
      const size_t i = t % prompts.size();
      together[t] = greedy_text(model, prompts[i], kTokens, i, i % 2 == 0 ? 0.0f : 0.8f);
    });
  }
  double ppl_a = 0, ppl_b = 0;
  const std::string story = alone[0] + alone[1] + alone[2];
  const auto score = [&](double* out) {
    ingot_perplexity_params p = ingot_perplexity_default_params();
    p.n_ctx = 32;
    p.n_threads = 1;
    ingot_perplexity_result r{};
    if (ingot_model_perplexity(model, story.data(), story.size(), p, &r) == INGOT_STATUS_OK) *out = r.ppl;
  };
  threads.emplace_back(score, &ppl_a);
  for (std::thread& th : threads) th.join();
  score(&ppl_b);
  for (size_t t = 0; t < together.size(); ++t) EXPECT_EQ(together[t], alone[t % prompts.size()]) << "thread " << t;
  EXPECT_GT(ppl_a, 1.0);
  EXPECT_EQ(ppl_a, ppl_b);
  ingot_model_free(model);
}

}  // namespace
}  // namespace ingot::test
