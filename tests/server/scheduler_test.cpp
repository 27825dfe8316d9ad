// The scheduler on stories260K, without HTTP: greedy text equal to `ingot run --temp 0` (the
// command line, a separate process), several requests interleaved in one step loop giving each
// the text it gets alone, stop strings, cancellation freeing the pages at once, a KV pool too
// small for two requests failing only the newer one with a clear error, and a finished request's
// kept pages starting a later prompt and giving way when the pool runs out.
#include <gtest/gtest.h>

#include <map>

#include "generate.h"
#include "run_command.h"
#include "sample_container.h"
#include "sched/scheduler.h"
#include "shared_assets.h"

namespace ingot::test {
namespace {

using sched::FinishReason;

struct Result {
  std::string text;
  std::vector<std::string> deltas;
  FinishReason reason = FinishReason::error;
  sched::Usage usage;
  std::string error;
  bool done = false;
};

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!shared_exists("models/stories260K/stories260K.bin")) return;
    dir_ = new TempDir();
    path_ = dir_->file("stories260K.ingot");
    const CommandResult r = run_command(std::string(INGOTC_BIN) + " build " +
                                        shared_path("models/stories260K/stories260K.bin") + " --tokenizer " +
                                        shared_path("models/stories260K/tok512.model") + " -o " + path_ + " 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (dir_ == nullptr) GTEST_SKIP() << "shared/models/stories260K is absent (set INGOT_SHARED)";
  }
  std::unique_ptr<runtime::Model> load(size_t kv_budget_bytes = 0) {
    runtime::LoadOptions o;
    o.kv_budget_bytes = kv_budget_bytes;
    std::unique_ptr<runtime::Model> m;
    const format::Status s = runtime::Model::load(path_, o, &m);
    EXPECT_TRUE(s.ok()) << s.message();
    return m;
  }
  // A greedy request whose sink records into *out.
  static sched::Request greedy(const runtime::Model& m, const std::string& prompt, int n, Result* out) {
    sched::Request r;
    r.prompt = runtime::prompt_tokens(m, prompt);
    r.max_tokens = n;
    r.sampler.temperature = 0;
    r.sink.on_text = [out](const std::string& d) {
      out->deltas.push_back(d);
      out->text += d;
      return true;
    };
    r.sink.on_done = [out](FinishReason reason, const sched::Usage& u, const std::string& e) {
      out->reason = reason;
      out->usage = u;
      out->error = e;
      out->done = true;
    };
    return r;
  }
  static void submit(sched::Scheduler& s, sched::Request r, uint64_t* id = nullptr) {
    uint64_t i = 0;
    std::string error;
    ASSERT_EQ(s.submit(std::move(r), &i, &error), sched::Scheduler::Submit::queued) << error;
    if (id) *id = i;
  }
  static void run_all(sched::Scheduler& s) {
    for (int i = 0; i < 100000 && s.step(); ++i) {
    }
  }
  // `ingot run --temp 0`'s continuation of the prompt (stdout is the prompt, the text, "\n").
  static std::string ingot_run(const std::string& prompt, int n) {
    const CommandResult r =
        run_command(std::string(INGOT_BIN) + " run " + path_ + " --temp 0 -n " + std::to_string(n) + " -p '" + prompt + "'");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out.substr(0, prompt.size()), prompt);
    std::string text = r.out.substr(prompt.size());
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }

  static inline TempDir* dir_ = nullptr;
  static inline std::string path_;
};

const std::vector<std::string> kPrompts = {"Once upon a time", "Lily and Tom went to the park", "The cat",
                                           "One day, a little girl named Sue"};

TEST_F(SchedulerTest, GreedyTextEqualsIngotRunAndInterleavingChangesNothing) {
  auto model = load();
  const int n = 60;
  std::vector<std::string> want;
  for (const std::string& p : kPrompts) want.push_back(ingot_run(p, n));
  for (const std::string& w : want) ASSERT_FALSE(w.empty());
  // One at a time, one slot.
  {
    sched::Scheduler s(*model, {.n_slots = 1});
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      Result r;
      submit(s, greedy(*model, kPrompts[i], n, &r));
      run_all(s);
      ASSERT_TRUE(r.done);
      EXPECT_EQ(r.text, want[i]) << kPrompts[i];
      EXPECT_EQ(r.usage.completion_tokens, size_t(n));
      EXPECT_EQ(r.reason, FinishReason::length);
    }
  }
  // All four together, prompts read 3 tokens a step so prompt chunks and decodes share steps.
  sched::Scheduler s(*model, {.n_slots = 4, .prefill_chunk = 3});
  std::vector<Result> r(kPrompts.size());
  for (size_t i = 0; i < kPrompts.size(); ++i) submit(s, greedy(*model, kPrompts[i], n, &r[i]));
  run_all(s);
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    ASSERT_TRUE(r[i].done);
    EXPECT_EQ(r[i].text, want[i]) << kPrompts[i];
    EXPECT_EQ(r[i].usage.prompt_tokens, runtime::prompt_tokens(*model, kPrompts[i]).size());
  }
  const sched::Metrics m = s.metrics();
  // Interleaved: far fewer steps than the tokens generated (each step decodes several streams).
  EXPECT_LT(m.steps, uint64_t(n * 2)) << "steps " << m.steps;
  EXPECT_EQ(m.generated_tokens, uint64_t(n * kPrompts.size()));
  // Nothing runs: only the finished requests' kept sequences hold pages.
  EXPECT_GT(m.kv_pages_cached, 0u);
  EXPECT_EQ(m.kv_pages_in_use, m.kv_pages_cached);
  EXPECT_EQ(m.ttft.n, kPrompts.size());
}

// A request whose prompt begins as a running one's forks that request's KV pages for the common
// positions (at least a page) and evaluates only the rest: the counter says how many were taken,
// and both texts are still `ingot run`'s.
TEST_F(SchedulerTest, SharedPromptPrefixIsTakenFromTheRunningRequest) {
  auto model = load();
  const std::string prefix = "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
                             "park with her friends and her dog.";
  const std::string a = prefix + " One day", b = prefix + " Her mom said";
  const std::vector<int32_t> ta = runtime::prompt_tokens(*model, a), tb = runtime::prompt_tokens(*model, b);
  size_t common = 0;
  while (common < std::min(ta.size(), tb.size()) && ta[common] == tb[common]) ++common;
  ASSERT_GE(common, 16u) << "the test needs a prefix of at least one page";
  const std::string want_a = ingot_run(a, 80), want_b = ingot_run(b, 30);
  sched::Scheduler s(*model, {.n_slots = 2});
  Result ra, rb, rc;
  submit(s, greedy(*model, a, 80, &ra));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.step());  // a's prompt evaluated, a few tokens decoded
  submit(s, greedy(*model, b, 30, &rb));
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.metrics().prompt_tokens_shared, uint64_t(common));
  EXPECT_EQ(s.metrics().prompt_tokens, uint64_t(ta.size() + tb.size() - common));
  run_all(s);
  ASSERT_TRUE(ra.done && rb.done);
  EXPECT_EQ(ra.text, want_a);
  EXPECT_EQ(rb.text, want_b);
  EXPECT_EQ(rb.usage.prompt_tokens, tb.size());
  // A common prefix shorter than a page is evaluated again.
  submit(s, greedy(*model, "Once upon a time", 40, &ra));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.step());
  submit(s, greedy(*model, "Once upon a day", 10, &rc));
  run_all(s);
  EXPECT_EQ(s.metrics().prompt_tokens_shared, uint64_t(common));
  EXPECT_EQ(s.metrics().prompt_tokens_cached, 0u);
  EXPECT_EQ(rc.text, ingot_run("Once upon a day", 10));
  EXPECT_EQ(s.metrics().kv_pages_in_use, s.metrics().kv_pages_cached);
}

// A prompt that begins as a finished request's did starts from the pages that request kept in
// its slot (Options::keep_finished): only the rest is evaluated and the text is still `ingot
// run`'s; without keep_finished everything is evaluated and no page stays.
TEST_F(SchedulerTest, FinishedRequestsKeptPagesStartALaterPrompt) {
  auto model = load();
  const std::string prefix = "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
                             "park with her friends and her dog.";
  const std::string a = prefix + " One day", b = prefix + " Her mom said";
  const std::vector<int32_t> ta = runtime::prompt_tokens(*model, a), tb = runtime::prompt_tokens(*model, b);
  size_t common = 0;
  while (common < std::min(ta.size(), tb.size()) && ta[common] == tb[common]) ++common;
  ASSERT_GE(common, 16u) << "the test needs a prefix of at least one page";
  const std::string want_b = ingot_run(b, 30);
  for (const bool keep : {true, false}) {
    SCOPED_TRACE(keep ? "keep_finished" : "not keep_finished");
    sched::Scheduler s(*model, {.n_slots = 2, .keep_finished = keep});
    Result ra, rb;
    submit(s, greedy(*model, a, 20, &ra));
    run_all(s);
    ASSERT_TRUE(ra.done);
    EXPECT_EQ(ra.reason, FinishReason::length);
    EXPECT_EQ(s.metrics().kv_pages_cached, keep ? (ta.size() + 20 - 1 + 15) / 16 : 0u);
    submit(s, greedy(*model, b, 30, &rb));
    run_all(s);
    ASSERT_TRUE(rb.done);
    EXPECT_EQ(rb.text, want_b);
    EXPECT_EQ(s.metrics().prompt_tokens_shared, 0u);
    EXPECT_EQ(s.metrics().prompt_tokens_cached, keep ? uint64_t(common) : 0u);
    EXPECT_EQ(s.metrics().prompt_tokens, uint64_t(ta.size() + tb.size() - (keep ? common : 0)));
    EXPECT_EQ(model->kv_pool().n_in_use(), s.metrics().kv_pages_cached);
    if (!keep) {
      EXPECT_EQ(model->kv_pool().n_in_use(), 0u);
    }
  }
}

// Kept pages never cost a running request its place: with pages for 1.5 sequences, a request
// that runs after another one finished (and kept about a whole sequence) gets them back.
TEST_F(SchedulerTest, KeptPagesGiveWayWhenThePoolRunsOut) {
  auto probe = load();
  const runtime::PageShape shape = probe->kv_pool().shape();
  const size_t per_seq = (probe->dims().context + shape.page_size - 1) / shape.page_size;
  probe.reset();
  auto model = load(per_seq * 3 / 2 * shape.page_bytes());
  ASSERT_TRUE(model);
  sched::Scheduler s(*model, {.n_slots = 2});
  Result a, b;
  submit(s, greedy(*model, kPrompts[0], 480, &a));
  run_all(s);
  ASSERT_TRUE(a.done);
  EXPECT_EQ(a.reason, FinishReason::length) << a.error;
  EXPECT_GT(s.metrics().kv_pages_cached, per_seq / 2);
  submit(s, greedy(*model, kPrompts[1], 480, &b));
  run_all(s);
  ASSERT_TRUE(b.done);
  EXPECT_EQ(b.reason, FinishReason::length) << b.error;
  EXPECT_EQ(b.text, ingot_run(kPrompts[1], 480));
  EXPECT_EQ(model->kv_pool().n_in_use(), s.metrics().kv_pages_cached);
}

TEST_F(SchedulerTest, StopStringEndsTheTextBeforeIt) {
  auto model = load();
  const std::string full = ingot_run(kPrompts[0], 60);
  // A stop string from the middle of the greedy text, spanning several tokens.
  const size_t at = full.size() / 2;
  const std::string stop = full.substr(at, 6);
  const size_t first = full.find(stop);
  sched::Scheduler s(*model, {.n_slots = 2});
  Result r;
  sched::Request q = greedy(*model, kPrompts[0], 60, &r);
  q.stop = {"never appears in a story \x01", stop};
  submit(s, std::move(q));
  run_all(s);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(r.reason, FinishReason::stop);
  EXPECT_EQ(r.text, full.substr(0, first));
  for (const std::string& d : r.deltas) EXPECT_EQ(d.find(stop), std::string::npos);
}

TEST_F(SchedulerTest, CancelFreesTheSequenceAtOnceAndOthersComplete) {
  auto model = load();
  sched::Scheduler s(*model, {.n_slots = 2});
  Result a, b;
  uint64_t id_a = 0;
  submit(s, greedy(*model, kPrompts[0], 200, &a), &id_a);
  submit(s, greedy(*model, kPrompts[1], 40, &b));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s.step());
  EXPECT_GT(model->kv_pool().n_in_use(), 0u);
  const size_t pages_b = (s.metrics().kv_pages_in_use);
  s.cancel(id_a);
  ASSERT_TRUE(s.step());
  EXPECT_TRUE(a.done);
  EXPECT_EQ(a.reason, FinishReason::cancelled);
  EXPECT_LT(model->kv_pool().n_in_use(), pages_b);  // a's pages went back before the step ran
  run_all(s);
  ASSERT_TRUE(b.done);
  EXPECT_EQ(b.reason, FinishReason::length);
  EXPECT_EQ(b.text, ingot_run(kPrompts[1], 40));
  EXPECT_EQ(model->kv_pool().n_in_use(), s.metrics().kv_pages_cached);  // b's kept pages
  // A sink that stops wanting text cancels its request.
  Result c;
  sched::Request q = greedy(*model, kPrompts[2], 100, &c);
  int calls = 0;
  q.sink.on_text = [&calls](const std::string&) { return ++calls < 3; };
  submit(s, std::move(q));
  run_all(s);
  EXPECT_TRUE(c.done);
  EXPECT_EQ(c.reason, FinishReason::cancelled);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(model->kv_pool().n_in_use(), s.metrics().kv_pages_cached);  // b's still; none of c's
}

TEST_F(SchedulerTest, KvExhaustionFailsOnlyTheNewerRequest) {
  // Pages for 1.5 full sequences: two requests that both run to 500 positions cannot both fit.
  auto probe = load();
  const runtime::PageShape shape = probe->kv_pool().shape();
  const size_t per_seq = (probe->dims().context + shape.page_size - 1) / shape.page_size;
  probe.reset();
  auto model = load(per_seq * 3 / 2 * shape.page_bytes());
  ASSERT_TRUE(model);
  sched::Scheduler s(*model, {.n_slots = 2});
  Result a, b;
  submit(s, greedy(*model, kPrompts[0], 480, &a));
  submit(s, greedy(*model, kPrompts[1], 480, &b));
  run_all(s);
  ASSERT_TRUE(a.done && b.done);
  EXPECT_EQ(a.reason, FinishReason::length) << a.error;
  EXPECT_EQ(a.usage.completion_tokens, 480u);
  EXPECT_EQ(b.reason, FinishReason::error);
  EXPECT_NE(b.error.find("KV cache is full"), std::string::npos) << b.error;
  EXPECT_EQ(model->kv_pool().n_in_use(), s.metrics().kv_pages_cached);  // a's kept pages, none of b's
}

TEST_F(SchedulerTest, RefusesBadRequestsAndAFullQueue) {
  auto model = load();
  sched::Scheduler s(*model, {.n_slots = 1, .max_queue = 1});
  uint64_t id = 0;
  std::string error;
  Result r;
  sched::Request q = greedy(*model, "x", 4, &r);
  q.prompt.assign(model->dims().context, 1);
  EXPECT_EQ(s.submit(std::move(q), &id, &error), sched::Scheduler::Submit::invalid);
  EXPECT_NE(error.find("context is " + std::to_string(model->dims().context)), std::string::npos) << error;
  q = greedy(*model, "x", 4, &r);
  q.prompt.push_back(int32_t(model->dims().vocab));
  EXPECT_EQ(s.submit(std::move(q), &id, &error), sched::Scheduler::Submit::invalid);
  // One slot free and one place in the queue: two are taken, the third is refused.
  Result a, b, c;
  EXPECT_EQ(s.submit(greedy(*model, "a", 4, &a), &id, &error), sched::Scheduler::Submit::queued);
  EXPECT_EQ(s.submit(greedy(*model, "b", 4, &b), &id, &error), sched::Scheduler::Submit::queued);
  EXPECT_EQ(s.submit(greedy(*model, "c", 4, &c), &id, &error), sched::Scheduler::Submit::queue_full);
  EXPECT_NE(error.find("busy"), std::string::npos) << error;
  run_all(s);
  EXPECT_TRUE(a.done && b.done);
  EXPECT_FALSE(c.done);
}

}  // namespace
}  // namespace ingot::test
