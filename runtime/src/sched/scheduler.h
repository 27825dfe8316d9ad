// Continuous batching: requests wait in a queue, each running request holds a slot (one Session),
// and one step loop feeds every slot's next tokens — the decode token of each running stream and a
// bounded chunk of prompts still being read — to one forward pass (eval_sessions), samples each
// slot that produced logits, checks EOS, stop strings and max_tokens, and hands the text to the
// request's sink. docs/serving.md describes how the server uses it.
//
// Threads: submit, cancel and metrics may be called from any thread; the step loop runs on one
// thread (start(), or step() called by the owner). Sinks are called on the step thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "generate.h"
#include "model/session.h"
#include "sampling/sampler.h"

namespace ingot::sched {

enum class FinishReason { stop, length, error, cancelled };
const char* finish_reason_str(FinishReason r);  // "stop", "length", "error", "cancelled"

struct Usage {
  size_t prompt_tokens = 0;
  size_t completion_tokens = 0;
};

// What the scheduler tells a request's owner, always on the step thread.
struct Sink {
  // A piece of generated text (whole UTF-8 characters; nothing of a stop string). Returns false
  // when nobody wants more (a disconnected client): the request is cancelled.
  std::function<bool(const std::string& delta)> on_text;
  // Once, last: why it ended, its usage, and the error message when reason == error.
  std::function<void(FinishReason reason, const Usage& usage, const std::string& error)> on_done;
};

struct Request {
  std::vector<int32_t> prompt;  // token ids, BOS included when wanted; not empty
  int32_t max_tokens = 16;      // > 0
  runtime::SamplerParams sampler;
  float presence_penalty = 0;   // subtracted once from the logit of every token already generated
  float frequency_penalty = 0;  // subtracted per occurrence among the generated tokens
  std::vector<std::pair<int32_t, float>> logit_bias;  // (token, added to its logit)
  std::vector<std::string> stop;                       // stop strings; the text ends before the first match
  bool ignore_eos = false;  // EOS tokens are masked out (benchmarks: a fixed number of tokens)
  // Custom sampling steps (a Lua script); owned by the request, used on the step thread only.
  std::unique_ptr<runtime::GenerationHooks> hooks;
  Sink sink;
};

struct Options {
  size_t n_slots = 4;          // requests decoded together
  size_t n_ctx = 0;            // positions per slot; 0: the model's context
  size_t prefill_chunk = 64;   // prompt tokens one step takes from prompts being read, all slots together
  size_t max_queue = 256;      // requests waiting for a slot; submit refuses more
  // A request that ends with stop or length leaves its KV pages in its (now free) slot, so a later
  // prompt that begins the same way (the next turn of a conversation, a common system prompt)
  // starts from them. Such pages give way to running requests when the pool runs out; a
  // cancelled or failed request's pages are always freed at once.
  bool keep_finished = true;
};

// A histogram with fixed upper bounds (Prometheus' cumulative buckets), in seconds.
struct Histogram {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;  // counts[i]: observations <= bounds[i]; the last: +Inf
  double sum = 0;
  uint64_t n = 0;
  explicit Histogram(std::vector<double> b) : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}
  void observe(double v);
};

struct Metrics {
  uint64_t prompt_tokens = 0;     // prompt tokens evaluated
  uint64_t generated_tokens = 0;  // tokens sampled and kept
  uint64_t prompt_tokens_shared = 0;  // prompt tokens taken from a running request's KV pages, not evaluated
  uint64_t prompt_tokens_cached = 0;  // prompt tokens taken from a finished request's kept pages, not evaluated
  uint64_t steps = 0;
  size_t queue_length = 0;
  size_t active_slots = 0;  // slots holding a request (admitted at the last step)
  size_t n_slots = 0;
  size_t kv_pages_in_use = 0;
  size_t kv_pages_cached = 0;  // distinct pages held by finished requests' kept sequences (as of the last step)
  size_t kv_pages_max = 0;
  Histogram ttft{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  Histogram tpot{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}};
};

class Scheduler {
 public:
  Scheduler(const runtime::Model& model, const Options& options);
  ~Scheduler();  // stops the loop; requests still queued or running end with `cancelled`
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  enum class Submit { queued, invalid, queue_full };
  // Queues a request; *id names it for cancel(). Refused (nothing kept, *error says why): invalid
  // on an empty prompt, a prompt that leaves no room to generate in the slot's context,
  // max_tokens <= 0 or a token outside the vocabulary; queue_full when max_queue wait already.
  Submit submit(Request request, uint64_t* id, std::string* error);
  // Ends a queued or running request (its sink gets on_done(cancelled)); its sequence and pages
  // are freed by the next step, before that step runs. Unknown ids are ignored.
  void cancel(uint64_t id);
  // Cancels every queued and running request (a server shutting down); later ones run normally.
  void cancel_all();

  // One step: admits queued requests into free slots, evaluates one batch, samples. Returns
  // false when there was nothing to do.
  bool step();
  // Runs step() on a thread of its own until the scheduler is destroyed.
  void start();

  Metrics metrics() const;
  const Options& options() const { return options_; }
  size_t context() const { return n_ctx_; }

 private:
  struct Active;
  void finish(Active& a, FinishReason reason, const std::string& error);
  size_t choose_slot(const std::vector<int32_t>& prompt) const;
  void share_prefix(Active& a);
  bool evict_kept();
  void count_kept_pages();
  bool sample_slot(Active& a, std::span<float> logits);
  void emit_text(Active& a, bool final);
  void loop();

  const runtime::Model& model_;
  Options options_;
  size_t n_ctx_;
  std::vector<std::unique_ptr<runtime::Session>> sessions_;  // (n_slots)
  std::vector<std::unique_ptr<Active>> slots_;                // (n_slots); null: free
  // (n_slots): when a free slot's session holds a finished request's positions, the order in
  // which it finished (the oldest is evicted first); 0: nothing kept. Step thread only.
  std::vector<uint64_t> kept_since_;
  uint64_t next_order_ = 0;                                   // step thread only
  uint64_t next_kept_ = 1;                                    // step thread only

  mutable std::mutex mu_;  // guards queue_, cancelled_, metrics_, stop_
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, Request>> queue_;
  std::vector<uint64_t> cancelled_;
  uint64_t next_id_ = 1;
  Metrics metrics_;
  bool stop_ = false;
  bool cancel_all_ = false;
  std::thread thread_;
};

}  // namespace ingot::sched
