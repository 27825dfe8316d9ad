#include "sched/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "cpu/threads.h"

namespace ingot::sched {

using runtime::TokenAction;
using Clock = std::chrono::steady_clock;

namespace {
double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Bytes at the end of `s` that begin a UTF-8 character not yet complete (0..3): held back so
// every delta is whole characters. Bytes that cannot start a valid sequence are let through.
size_t incomplete_utf8_tail(const std::string& s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= std::min<size_t>(3, n); ++back) {
    const unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t want = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return want > back ? back : 0;
  }
  return 0;
}
}  // namespace

const char* finish_reason_str(FinishReason r) {
  switch (r) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::error: return "error";
    case FinishReason::cancelled: return "cancelled";
  }
  return "?";
}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds.size() && v > bounds[i]) ++i;
  for (size_t j = i; j < counts.size(); ++j) ++counts[j];  // cumulative, as Prometheus reports them
  sum += v;
  ++n;
}

struct Scheduler::Active {
  uint64_t id = 0;
  Request req;
  size_t slot = 0;
  uint64_t order = 0;  // admission order: the newest request gives way when the KV pool runs out
  size_t n_fed = 0;    // prompt tokens evaluated so far
  std::vector<int32_t> history;    // prompt, then every generated token
  std::vector<int32_t> generated;  // (n_generated)
  int32_t pending = -1;            // the last sampled token, fed at the next step
  int32_t previous = -1;           // the token before the next one to decode (SentencePiece spaces)
  runtime::Sampler sampler;
  std::string text;  // decoded text not yet handed to the sink
  Clock::time_point t_submit, t_last;
  bool first = true;
  Active(uint64_t i, Request r, size_t s, uint64_t o, Clock::time_point t)
      : id(i), req(std::move(r)), slot(s), order(o), sampler(req.sampler), t_submit(t) {
    history = req.prompt;
    previous = req.prompt.back();
  }
};

Scheduler::Scheduler(const runtime::Model& model, const Options& options)
    : model_(model), options_(options) {
  if (options_.n_slots == 0) options_.n_slots = 1;
  if (options_.prefill_chunk == 0) options_.prefill_chunk = 1;
  for (size_t i = 0; i < options_.n_slots; ++i) {
    sessions_.push_back(std::make_unique<runtime::Session>(model_, options_.n_ctx));
  }
  n_ctx_ = sessions_[0]->context();
  slots_.resize(options_.n_slots);
  kept_since_.assign(options_.n_slots, 0);
  metrics_.n_slots = options_.n_slots;
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& a : slots_) {
    if (a) finish(*a, FinishReason::cancelled, "the server is shutting down");
  }
  std::deque<std::pair<uint64_t, Request>> queue;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue.swap(queue_);
  }
  for (auto& [id, r] : queue) {
    if (r.sink.on_done) r.sink.on_done(FinishReason::cancelled, {r.prompt.size(), 0}, "the server is shutting down");
  }
}

Scheduler::Submit Scheduler::submit(Request request, uint64_t* id, std::string* error) {
  const size_t vocab = model_.dims().vocab;
  if (request.prompt.empty()) {
    *error = "the prompt is empty";
    return Submit::invalid;
  }
  if (request.prompt.size() >= n_ctx_) {
    *error = "the prompt has " + std::to_string(request.prompt.size()) + " tokens; the context is " +
             std::to_string(n_ctx_) + " tokens (prompt and generated tokens together)";
    return Submit::invalid;
  }
  if (request.max_tokens <= 0) {
    *error = "max_tokens must be at least 1";
    return Submit::invalid;
  }
  for (int32_t t : request.prompt) {
    if (t < 0 || size_t(t) >= vocab) {
      *error = "token " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(vocab) + ")";
      return Submit::invalid;
    }
  }
  for (const auto& [t, bias] : request.logit_bias) {
    if (t < 0 || size_t(t) >= vocab || !std::isfinite(bias)) {
      *error = "logit_bias: token " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(vocab) +
               ") or its bias is not finite";
      return Submit::invalid;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Requests beyond the free slots wait; at most max_queue of them.
    const size_t free_slots = options_.n_slots - metrics_.active_slots;
    if (queue_.size() >= free_slots + options_.max_queue) {
      *error = "the server is busy: " + std::to_string(queue_.size()) + " requests are waiting (the limit is " +
               std::to_string(options_.max_queue) + ")";
      return Submit::queue_full;
    }
    *id = next_id_++;
    queue_.emplace_back(*id, std::move(request));
    metrics_.queue_length = queue_.size();
  }
  cv_.notify_all();
  return Submit::queued;
}

void Scheduler::cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.push_back(id);
  }
  cv_.notify_all();
}

void Scheduler::cancel_all() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_all_ = true;
  }
  cv_.notify_all();
}

Metrics Scheduler::metrics() const {
  std::lock_guard<std::mutex> lock(mu_);
  Metrics m = metrics_;
  m.kv_pages_in_use = model_.kv_pool().n_in_use();
  m.kv_pages_max = model_.kv_pool().max_pages();
  return m;
}

void Scheduler::finish(Active& a, FinishReason reason, const std::string& error) {
  if (reason == FinishReason::stop || reason == FinishReason::length) emit_text(a, true);
  const Usage usage{a.req.prompt.size(), a.generated.size()};
  if (a.req.sink.on_done) a.req.sink.on_done(reason, usage, error);
  const size_t slot = a.slot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --metrics_.active_slots;
  }
  if (options_.keep_finished && (reason == FinishReason::stop || reason == FinishReason::length)) {
    kept_since_[slot] = next_kept_++;  // its positions stay for a later prompt that begins the same way
  } else {
    sessions_[slot]->reset();  // gives the sequence's pages back to the pool now
    kept_since_[slot] = 0;
  }
  slots_[slot].reset();  // destroys `a`
}

// The free slot for a new request: the one whose kept positions (a finished request's) give the
// prompt the longest common prefix of at least a page; else an empty one; else the one kept
// longest ago (its positions are replaced).
size_t Scheduler::choose_slot(const std::vector<int32_t>& prompt) const {
  const size_t page = model_.kv_pool().shape().page_size;
  size_t best = slots_.size(), best_len = 0, empty = slots_.size(), oldest = slots_.size();
  for (size_t j = 0; j < slots_.size(); ++j) {
    if (slots_[j]) continue;
    if (kept_since_[j] == 0) {
      if (empty == slots_.size()) empty = j;
      continue;
    }
    const size_t k = sessions_[j]->common_prefix(prompt);
    if (k >= page && k > best_len) best = j, best_len = k;
    if (oldest == slots_.size() || kept_since_[j] < kept_since_[oldest]) oldest = j;
  }
  if (best < slots_.size()) return best;
  return empty < slots_.size() ? empty : oldest;
}

// Frees the pages of the slot kept longest ago; false when no slot keeps any.
bool Scheduler::evict_kept() {
  size_t oldest = slots_.size();
  for (size_t j = 0; j < slots_.size(); ++j) {
    if (!slots_[j] && kept_since_[j] != 0 && (oldest == slots_.size() || kept_since_[j] < kept_since_[oldest])) {
      oldest = j;
    }
  }
  if (oldest == slots_.size()) return false;
  sessions_[oldest]->reset();
  kept_since_[oldest] = 0;
  return true;
}

// The gauge of pages that kept sequences hold (counted once when several share one).
void Scheduler::count_kept_pages() {
  std::vector<runtime::PageId> pages;
  for (size_t j = 0; j < slots_.size(); ++j) {
    if (slots_[j] || kept_since_[j] == 0) continue;
    const std::vector<runtime::PageId>& p = sessions_[j]->kv().pages();
    pages.insert(pages.end(), p.begin(), p.end());
  }
  std::sort(pages.begin(), pages.end());
  const size_t n = size_t(std::unique(pages.begin(), pages.end()) - pages.begin());
  std::lock_guard<std::mutex> lock(mu_);
  metrics_.kv_pages_cached = n;
}

// A prompt that begins as a running request's did (a shared system prompt, a conversation's
// earlier turns) takes that request's KV pages for the common positions, shared copy-on-write
// (Session::fork_from), instead of evaluating them again; so does one that begins as a finished
// request's positions kept in a free slot (Options::keep_finished), and when those are the
// request's own slot's it keeps them in place. Only positions already evaluated count, and at
// least one whole page (shorter prefixes are cheaper to recompute than a shared page is to copy),
// leaving the prompt's last token to evaluate for its logits. The shared rows are the ones this
// request would compute: the quantized (int8) kernels give each row of a batch the bits it gets
// alone. (Dense weights take sgemm for a prompt chunk of more than 16 rows, whose last bits can
// depend on the chunk — as they already do on how the step budget splits prompts.)
void Scheduler::share_prefix(Active& a) {
  runtime::Session& s = *sessions_[a.slot];
  const bool own_kept = kept_since_[a.slot] != 0;
  kept_since_[a.slot] = 0;  // the slot is a running request's now
  size_t best = own_kept ? s.common_prefix(a.req.prompt) : 0, from = a.slot;
  for (size_t j = 0; j < slots_.size(); ++j) {
    if (j == a.slot || (!slots_[j] && kept_since_[j] == 0)) continue;
    const size_t k = sessions_[j]->common_prefix(a.req.prompt);
    if (k > best) best = k, from = j;
  }
  if (best < model_.kv_pool().shape().page_size) {
    s.reset();
    return;
  }
  if (from != a.slot) s.fork_from(*sessions_[from]);
  s.rewind(best);
  a.n_fed = best;
  std::lock_guard<std::mutex> lock(mu_);
  (from != a.slot && slots_[from] ? metrics_.prompt_tokens_shared : metrics_.prompt_tokens_cached) += best;
}

// Hands the decoded text to the sink: all of it when `final`, else all but what could still turn
// into a stop string or is an incomplete UTF-8 character.
void Scheduler::emit_text(Active& a, bool final) {
  size_t keep = 0;
  if (!final) {
    for (const std::string& stop : a.req.stop) {
      for (size_t k = std::min(stop.size() - 1, a.text.size()); k > keep; --k) {
        if (a.text.compare(a.text.size() - k, k, stop, 0, k) == 0) {
          keep = k;
          break;
        }
      }
    }
    keep = std::max(keep, incomplete_utf8_tail(a.text));
  }
  if (a.text.size() == keep) return;
  std::string delta = a.text.substr(0, a.text.size() - keep);
  a.text.erase(0, a.text.size() - keep);
  if (a.req.sink.on_text && !a.req.sink.on_text(delta)) cancel(a.id);
}

// Samples the slot's next token from its logits and passes it on; returns false when the
// request ended (and its slot is free).
bool Scheduler::sample_slot(Active& a, std::span<float> logits) {
  const Request& r = a.req;
  for (const auto& [t, bias] : r.logit_bias) logits[size_t(t)] += bias;
  if (r.ignore_eos) {
    const runtime::ModelDims& d = model_.dims();
    if (d.eos >= 0 && size_t(d.eos) < logits.size()) logits[size_t(d.eos)] = -INFINITY;
    for (int32_t e : d.extra_eos) {
      if (e >= 0 && size_t(e) < logits.size()) logits[size_t(e)] = -INFINITY;
    }
  }
  if (r.presence_penalty != 0 || r.frequency_penalty != 0) {
    std::vector<int32_t> seen = a.generated;
    std::sort(seen.begin(), seen.end());
    for (size_t i = 0; i < seen.size();) {
      size_t j = i;
      while (j < seen.size() && seen[j] == seen[i]) ++j;
      logits[size_t(seen[i])] -= r.presence_penalty + r.frequency_penalty * float(j - i);
      i = j;
    }
  }
  runtime::HookContext hc;
  hc.model = &model_;
  hc.history = a.history;
  hc.n_prompt = r.prompt.size();
  hc.n_generated = a.generated.size();
  hc.position = sessions_[a.slot]->position();
  hc.seed = r.sampler.seed;
  runtime::GenerationHooks* hooks = r.hooks.get();
  int32_t next = -1;
  if (hooks != nullptr && a.first) {
    format::Status s = hooks->begin(hc);
    if (!s.ok()) return finish(a, FinishReason::error, s.message()), false;
  }
  if (hooks != nullptr && hooks->has_process_logits()) {
    format::Status s = hooks->process_logits(logits, hc);
    if (!s.ok()) return finish(a, FinishReason::error, s.message()), false;
    if (!std::any_of(logits.begin(), logits.end(), [](float v) { return v > -INFINITY; })) {
      return finish(a, FinishReason::error, "the script's process_logits left no token with a finite logit"), false;
    }
  }
  if (hooks != nullptr && hooks->has_sample()) {
    format::Status s = hooks->sample(logits, hc, &next);
    if (!s.ok()) return finish(a, FinishReason::error, s.message()), false;
    if (next < 0 || size_t(next) >= logits.size()) {
      return finish(a, FinishReason::error, "the script's sample chose token " + std::to_string(next) +
                                                ", outside the vocabulary"),
             false;
    }
  } else {
    next = a.sampler.sample(logits, a.history);
  }
  const Clock::time_point now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (a.first) metrics_.ttft.observe(seconds(a.t_submit, now));
    else metrics_.tpot.observe(seconds(a.t_last, now));
  }
  a.first = false;
  a.t_last = now;
  if (model_.is_eos(next)) return finish(a, FinishReason::stop, ""), false;
  const std::string piece = model_.has_tokenizer() ? model_.tokenizer().decode_token(a.previous, next) : std::string();
  a.previous = next;
  a.history.push_back(next);
  TokenAction action = TokenAction::keep;
  if (hooks != nullptr && hooks->has_on_token()) {
    hc.history = a.history;
    format::Status s = hooks->on_token(next, piece, hc, &action);
    if (!s.ok()) return finish(a, FinishReason::error, s.message()), false;
  }
  if (action == TokenAction::drop_stop) return finish(a, FinishReason::stop, ""), false;
  a.generated.push_back(next);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++metrics_.generated_tokens;
  }
  a.text += piece;
  // The earliest stop string in the text not yet emitted (emit_text held back any prefix of one).
  size_t cut = std::string::npos;
  for (const std::string& stop : r.stop) cut = std::min(cut, a.text.find(stop));
  if (cut != std::string::npos) {
    a.text.resize(cut);
    return finish(a, FinishReason::stop, ""), false;
  }
  if (action == TokenAction::keep_stop) return finish(a, FinishReason::stop, ""), false;
  if (a.generated.size() >= size_t(r.max_tokens) || sessions_[a.slot]->position() >= n_ctx_) {
    return finish(a, FinishReason::length, ""), false;
  }
  emit_text(a, false);
  a.pending = next;
  return true;
}

bool Scheduler::step() {
  // Cancellations and admissions, under the lock; the sinks are called after it.
  std::vector<uint64_t> cancelled;
  std::vector<std::pair<uint64_t, Request>> dropped;
  std::vector<std::pair<uint64_t, Request>> admitted;
  const Clock::time_point now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled.swap(cancelled_);
    if (cancel_all_) {
      cancel_all_ = false;
      for (const auto& [id, r] : queue_) cancelled.push_back(id);
      for (const auto& a : slots_) {
        if (a) cancelled.push_back(a->id);
      }
    }
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (std::find(cancelled.begin(), cancelled.end(), it->first) != cancelled.end()) {
        dropped.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    size_t free_slots = 0;
    for (const auto& a : slots_) {
      const bool leaving = a && std::find(cancelled.begin(), cancelled.end(), a->id) != cancelled.end();
      free_slots += (!a || leaving) ? 1 : 0;
    }
    while (free_slots > 0 && !queue_.empty()) {
      admitted.push_back(std::move(queue_.front()));
      queue_.pop_front();
      --free_slots;
      ++metrics_.active_slots;  // counted now, so submit never sees the slot as free
    }
    metrics_.queue_length = queue_.size();
  }
  for (auto& [id, r] : dropped) {
    if (r.sink.on_done) r.sink.on_done(FinishReason::cancelled, {r.prompt.size(), 0}, "");
  }
  for (auto& a : slots_) {
    if (a && std::find(cancelled.begin(), cancelled.end(), a->id) != cancelled.end()) {
      finish(*a, FinishReason::cancelled, "");
    }
  }
  for (auto& [id, r] : admitted) {
    const size_t slot = choose_slot(r.prompt);
    slots_[slot] = std::make_unique<Active>(id, std::move(r), slot, next_order_++, now);
    share_prefix(*slots_[slot]);
  }
  if (!admitted.empty() || !cancelled.empty()) count_kept_pages();

  // The batch: each running stream's pending token, then prompt chunks within the budget,
  // oldest request first.
  const size_t n = slots_.size();
  std::vector<std::vector<int32_t>> tokens(n);
  std::vector<Active*> by_age;
  for (auto& a : slots_) {
    if (a) by_age.push_back(a.get());
  }
  if (by_age.empty()) return !dropped.empty() || !cancelled.empty();
  std::sort(by_age.begin(), by_age.end(), [](const Active* x, const Active* y) { return x->order < y->order; });
  size_t budget = options_.prefill_chunk;
  for (Active* a : by_age) {
    if (a->n_fed == a->req.prompt.size()) {
      tokens[a->slot] = {a->pending};
    } else if (budget > 0) {
      const size_t take = std::min(budget, a->req.prompt.size() - a->n_fed);
      tokens[a->slot].assign(a->req.prompt.begin() + ptrdiff_t(a->n_fed),
                             a->req.prompt.begin() + ptrdiff_t(a->n_fed + take));
      budget -= take;
    }
  }
  std::vector<runtime::Session*> sessions(n);
  for (size_t i = 0; i < n; ++i) sessions[i] = sessions_[i].get();
  std::vector<float> logits;
  for (;;) {
    if (std::all_of(tokens.begin(), tokens.end(), [](const auto& t) { return t.empty(); })) return true;
    format::Status s = runtime::eval_sessions(sessions, tokens, &logits);
    if (s.ok()) break;
    if (s.code() != format::StatusCode::kv_cache_full) {
      for (size_t i = 0; i < n; ++i) {
        if (!tokens[i].empty() && slots_[i]) finish(*slots_[i], FinishReason::error, s.message());
      }
      return true;
    }
    // The pool cannot hold this step: finished requests' kept pages go first (the oldest), then
    // the newest request in it ends with the error and gives its pages back; the others retry.
    if (evict_kept()) {
      count_kept_pages();
      continue;
    }
    Active* victim = nullptr;
    for (size_t i = 0; i < n; ++i) {
      if (!tokens[i].empty() && (victim == nullptr || slots_[i]->order > victim->order)) victim = slots_[i].get();
    }
    const size_t held = sessions_[victim->slot]->position() + tokens[victim->slot].size();
    tokens[victim->slot].clear();
    finish(*victim, FinishReason::error,
           "the KV cache is full: no pages left for this request's " + std::to_string(held) +
               " positions (the model's page pool holds " + std::to_string(model_.kv_pool().max_pages()) +
               " pages; lower --parallel or --ctx, or give the server a larger KV budget)");
  }
  size_t n_prompt = 0;
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i].empty() || !slots_[i]) continue;
    Active& a = *slots_[i];
    if (a.n_fed < a.req.prompt.size()) {
      a.n_fed += tokens[i].size();
      n_prompt += tokens[i].size();
      if (a.n_fed < a.req.prompt.size()) continue;  // more of the prompt next step
    }
    const size_t vocab = model_.dims().vocab;
    sample_slot(a, std::span<float>(logits.data() + i * vocab, vocab));
  }
  count_kept_pages();
  {
    std::lock_guard<std::mutex> lock(mu_);
    metrics_.prompt_tokens += n_prompt;
    ++metrics_.steps;
  }
  return true;
}

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_) return;
    }
    if (step()) continue;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stop_ || cancel_all_ || !queue_.empty() || !cancelled_.empty(); });
    if (stop_) return;
  }
}

void Scheduler::start() {
  // The kernels' thread count is a per-thread setting (OpenMP's): the step thread takes the
  // caller's, or it would run with the default (every core) whatever --threads said.
  const int n_threads = cpu::threads();
  if (!thread_.joinable()) {
    thread_ = std::thread([this, n_threads] {
      cpu::set_threads(n_threads);
      loop();
    });
  }
}

}  // namespace ingot::sched
