// One conversation with a model: the tokens it holds and their KV pages (a KvSequence in the
// model's page pool), evaluated through model/forward. A model is shared by any number of
// sessions; a session is used by one thread at a time, and must be freed before its model.
#pragma once

#include <span>
#include <vector>

#include "kv/kv_sequence.h"
#include "model/model.h"
#include "sampling/sampler.h"

namespace ingot::runtime {

class Session {
 public:
  // n_ctx: positions the session may hold; 0 means the model's context length. Pages are taken
  // from the model's pool as the session grows, not up front.
  explicit Session(const Model& model, size_t n_ctx = 0);

  // Feeds `tokens` at the current position as one batch (matrix products), then advances.
  // logits: (vocab) of the last token when `all_logits` is null; otherwise all_logits gets
  // (tokens.size(), vocab) and `logits` may be null. Fails, changing nothing, on an id outside
  // the vocabulary, when the tokens would pass the context length (invalid_argument), or when the
  // model's page pool is exhausted (kv_cache_full).
  format::Status eval(std::span<const int32_t> tokens, float* logits, std::vector<float>* all_logits = nullptr);
  // As eval, but *next gets the argmax of the last token's logits (greedy sampling), computed
  // by the backend: on the CUDA backend only the id crosses to the host.
  format::Status eval_greedy(std::span<const int32_t> tokens, int32_t* next);
  // As eval, but `top` gets the k best candidates of the last token's logits, best first
  // (top-k sampling, Sampler::sample_top), selected by the backend: on the CUDA backend only the
  // k pairs cross. 1 ≤ k ≤ min(vocab, the backend's max_top_k()).
  format::Status eval_top(std::span<const int32_t> tokens, size_t k, std::vector<Candidate>* top);

  size_t position() const { return tokens_.size(); }
  size_t context() const { return n_ctx_; }
  void reset() { rewind(0); }
  // Forgets the positions from `n` on (no-op when n >= position()) and gives back their pages;
  // the next eval overwrites them.
  void rewind(size_t n) {
    if (n >= tokens_.size()) return;
    tokens_.resize(n);
    kv_.truncate(n);
  }
  // Prepares the cache for evaluating `tokens` from position 0: keeps the longest prefix the
  // cache already holds (at most tokens.size() − 1, so that at least one token is left to
  // evaluate for logits), forgets the rest, and returns how many it kept.
  size_t keep_common_prefix(std::span<const int32_t> tokens) {
    const size_t n = common_prefix(tokens);
    rewind(n);
    return n;
  }
  // How many leading positions the cache holds that `tokens` starts with, at most tokens.size() − 1
  // (what keep_common_prefix keeps; nothing changes).
  size_t common_prefix(std::span<const int32_t> tokens) const;
  // Becomes a copy of `other` (same model): its tokens, and its KV pages shared copy-on-write, so
  // the prefix is not recomputed. The context becomes other's.
  void fork_from(const Session& other);
  const Model& model() const { return model_; }
  const KvSequence& kv() const { return kv_; }

 private:
  friend format::Status eval_sessions(std::span<Session* const>, std::span<const std::vector<int32_t>>,
                                      std::vector<float>*);
  // invalid_argument unless 1 <= n and n more tokens fit in the context.
  format::Status room_for(size_t n) const;

  const Model& model_;
  size_t n_ctx_;
  std::vector<int32_t> tokens_;  // the ids at positions [0, position())
  KvSequence kv_;
};

// Steps several sessions of one model together, in one forward pass: session i is fed tokens[i]
// (empty: it sits this step out), and last_logits gets (sessions.size(), vocab): row i the logits
// of session i's last new token (zeros for a session without tokens). All or nothing: on failure
// no session changes.
format::Status eval_sessions(std::span<Session* const> sessions, std::span<const std::vector<int32_t>> tokens,
                             std::vector<float>* last_logits);

}  // namespace ingot::runtime
