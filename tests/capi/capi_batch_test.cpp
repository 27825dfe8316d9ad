// ingot_session_eval_batch: sessions stepped together against each session alone, its all-or-
// nothing failures (context, page pool, bad arguments), and the page pool's budget and page type
// through ingot_model_params.
#include <gtest/gtest.h>
#include <ingot/ingot.h>

#include <ingot/ingot.hpp>
#include <vector>

#include "capi_fixture.h"

namespace ingot::test {
namespace {

int32_t argmax(const float* row, size_t n) {
  size_t best = 0;
  for (size_t v = 1; v < n; ++v) best = row[v] > row[best] ? v : best;
  return int32_t(best);
}

// Greedy ids after `prompt` with the session alone (ingot_session_eval one token at a time).
std::vector<int32_t> greedy_alone(const ingot::model& m, const std::vector<int32_t>& prompt, int n) {
  ingot::session s(m);
  std::vector<float> logits = s.eval(prompt);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(argmax(logits.data(), logits.size()));
    logits = s.eval({out.back()});
  }
  return out;
}

TEST(CApiBatch, ThreeSessionsSteppedTogetherGreedyLikeEachAlone) {
  INGOT_REQUIRE_STORIES();
  for (ingot_kv_type kv : {INGOT_KV_F16, INGOT_KV_F32}) {
    ingot_model_params mp = ingot_model_default_params();
    mp.kv_type = kv;
    ingot::model m(stories_model(), mp);
    const std::vector<std::vector<int32_t>> prompts = {m.tokenize("Once upon a time", true),
                                                       m.tokenize("The dog was", true),
                                                       m.tokenize("Lily and Tom went to the park", true)};
    std::vector<ingot::session> sessions;
    for (size_t i = 0; i < prompts.size(); ++i) sessions.emplace_back(m);
    std::vector<ingot::session*> all;
    for (ingot::session& s : sessions) all.push_back(&s);
    // Session 2 joins one step late: its prompt is prefilled while the others decode.
    std::vector<std::vector<int32_t>> feed = {prompts[0], prompts[1], {}};
    std::vector<std::vector<int32_t>> got(prompts.size());
    const size_t vocab = size_t(m.n_vocab());
    for (int step = 0; step < 21; ++step) {
      if (step == 1) feed[2] = prompts[2];
      const std::vector<float> logits = ingot::session::eval_batch(all, feed);
      for (size_t i = 0; i < prompts.size(); ++i) {
        if (feed[i].empty()) continue;
        got[i].push_back(argmax(logits.data() + i * vocab, vocab));
        feed[i] = {got[i].back()};
      }
    }
    for (size_t i = 0; i < prompts.size(); ++i) {
      got[i].resize(20);
      EXPECT_EQ(got[i], greedy_alone(m, prompts[i], 20)) << "kv " << int(kv) << " prompt " << i;
    }
  }
}

TEST(CApiBatch, FailuresChangeNoSession) {
  INGOT_REQUIRE_STORIES();
  ingot_model_params mp = ingot_model_default_params();
  ingot_model* m = nullptr;
  ASSERT_EQ(ingot_model_load(stories_model().c_str(), mp, &m), INGOT_STATUS_OK);
  ingot_session_params sp = ingot_session_default_params();
  ingot_session *a = nullptr, *b = nullptr;
  ASSERT_EQ(ingot_session_new(m, sp, &a), INGOT_STATUS_OK);
  sp.n_ctx = 8;
  ASSERT_EQ(ingot_session_new(m, sp, &b), INGOT_STATUS_OK);
  const int32_t ids[9] = {1, 403, 407, 261, 378, 432, 383, 286, 261};
  ingot_session* both[2] = {a, b};
  const int32_t* toks[2] = {ids, ids};
  size_t counts[2] = {4, 9};  // b holds at most 8
  std::vector<float> logits(2 * size_t(ingot_model_n_vocab(m)));
  EXPECT_EQ(ingot_session_eval_batch(both, 2, toks, counts, logits.data()), INGOT_STATUS_CONTEXT_FULL);
  EXPECT_EQ(ingot_session_position(a), 0);
  EXPECT_EQ(ingot_session_position(b), 0);
  ingot_session* twice[2] = {a, a};
  counts[1] = 4;
  EXPECT_EQ(ingot_session_eval_batch(twice, 2, toks, counts, logits.data()), INGOT_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(ingot_session_eval_batch(nullptr, 2, toks, counts, logits.data()), INGOT_STATUS_INVALID_ARGUMENT);
  size_t none[2] = {0, 0};
  EXPECT_EQ(ingot_session_eval_batch(both, 2, toks, none, logits.data()), INGOT_STATUS_INVALID_ARGUMENT);
  const int32_t bad[1] = {512};
  const int32_t* bad_toks[2] = {ids, bad};
  size_t one_each[2] = {1, 1};
  EXPECT_EQ(ingot_session_eval_batch(both, 2, bad_toks, one_each, logits.data()), INGOT_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(ingot_session_position(a), 0);
  EXPECT_EQ(ingot_session_eval_batch(both, 2, toks, counts, logits.data()), INGOT_STATUS_OK);
  EXPECT_EQ(ingot_session_position(a), 4);
  EXPECT_EQ(ingot_session_position(b), 4);
  ingot_session_free(a);
  ingot_session_free(b);
  ingot_model_free(m);
}

// A budget of 2 pages (16 positions each): the third page a batch needs is refused with
// INGOT_STATUS_KV_CACHE_FULL, nothing changes, and a reset gives the pages back.
TEST(CApiBatch, PagePoolBudgetIsSharedBySessionsAndExhaustionIsItsOwnStatus) {
  INGOT_REQUIRE_STORIES();
  const size_t page_bytes = 5 /*layers*/ * 2 * 16 /*positions*/ * 32 /*kv dim*/ * 2 /*f16*/;
  ingot_model_params mp = ingot_model_default_params();
  mp.kv_budget_bytes = 2 * page_bytes;
  ingot::model m(stories_model(), mp);
  ingot::session a(m), b(m);
  std::vector<int32_t> p20(20, 300);
  p20[0] = 1;
  a.eval(p20);  // 2 pages: the pool is spent
  std::vector<ingot::session*> both = {&a, &b};
  try {
    ingot::session::eval_batch(both, {{300}, {1}});
    ADD_FAILURE() << "a third page was handed out";
  } catch (const ingot::error& e) {
    EXPECT_EQ(e.status(), INGOT_STATUS_KV_CACHE_FULL) << e.what();
  }
  EXPECT_EQ(a.position(), 20);
  EXPECT_EQ(b.position(), 0);
  EXPECT_STREQ(ingot_status_str(INGOT_STATUS_KV_CACHE_FULL), "KV cache full");
  a.reset();
  ingot::session::eval_batch(both, {{1}, {1}});
  EXPECT_EQ(a.position(), 1);
  EXPECT_EQ(b.position(), 1);
  mp.kv_type = ingot_kv_type(7);
  ingot_model* bad = nullptr;
  EXPECT_EQ(ingot_model_load(stories_model().c_str(), mp, &bad), INGOT_STATUS_INVALID_ARGUMENT);
  mp.kv_type = INGOT_KV_F32;
  mp.kv_budget_bytes = 1;  // less than one page
  EXPECT_EQ(ingot_model_load(stories_model().c_str(), mp, &bad), INGOT_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(bad, nullptr);
}

}  // namespace
}  // namespace ingot::test
