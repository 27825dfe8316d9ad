// One conversation with a model: its own KV cache and scratch, evaluated on the CPU. A model is
// shared by any number of sessions; a session is used by one thread at a time.
#pragma once

#include <span>
#include <vector>

#include "model/model.h"

namespace ingot::runtime {

class Session {
 public:
  // n_ctx: positions the KV cache holds; 0 means the model's context length.
  explicit Session(const Model& model, size_t n_ctx = 0);

  // Feeds `tokens` at the current position as one batch (matrix products), then advances.
  // logits: (vocab) of the last token when `all_logits` is null; otherwise all_logits gets
  // (tokens.size(), vocab) and `logits` may be null. Fails, changing nothing, on an id outside
  // the vocabulary or when the tokens would pass the context length.
  format::Status eval(std::span<const int32_t> tokens, float* logits, std::vector<float>* all_logits = nullptr);

  size_t position() const { return pos_; }
  size_t context() const { return n_ctx_; }
  void reset() { rewind(0); }
  // Forgets the positions from `n` on (no-op when n >= position()); the next eval overwrites them.
  void rewind(size_t n) {
    pos_ = n < pos_ ? n : pos_;
    tokens_.resize(pos_);
  }
  // Prepares the cache for evaluating `tokens` from position 0: keeps the longest prefix the
  // cache already holds (at most tokens.size() − 1, so that at least one token is left to
  // evaluate for logits), forgets the rest, and returns how many it kept.
  size_t keep_common_prefix(std::span<const int32_t> tokens);
  const Model& model() const { return model_; }

 private:
  const Model& model_;
  size_t n_ctx_;
  size_t pos_ = 0;
  std::vector<int32_t> tokens_;  // the ids at positions [0, pos_)
  std::vector<float> k_cache_, v_cache_;  // (n_layer, n_ctx, n_head_kv * head_dim)
};

}  // namespace ingot::runtime
