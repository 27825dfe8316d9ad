// Causal grouped-query attention over a KV cache, f32.
#pragma once

#include <cstddef>

namespace ingot::cpu {

struct AttentionShape {
  size_t n_head = 0;
  size_t n_head_kv = 0;
  size_t head_dim = 0;
};

// For `n` query tokens at positions pos0 .. pos0+n-1 (q: (n, n_head*head_dim)), attends over
// cache rows 0 .. pos0+t of k_cache/v_cache ((positions, n_head_kv*head_dim)) and writes
// out: (n, n_head*head_dim). Query head h reads KV head h / (n_head / n_head_kv).
void attention(const float* q, size_t n, size_t pos0, const float* k_cache, const float* v_cache,
               const AttentionShape& s, float* out);

// One sequence's share of a batched attention call: the arguments of attention() above.
struct AttentionJob {
  const float* q;
  size_t n;
  size_t pos0;
  const float* k_cache;
  const float* v_cache;
  float* out;
};

// attention() for every job, with the same results; the decode-sized jobs (n < 16: several
// sequences decoding together) share one parallel region over (job, token, head) instead of one
// region each, which on busy cores costs more than the work itself.
void attention_batch(const AttentionJob* jobs, size_t n_jobs, const AttentionShape& s);

}  // namespace ingot::cpu
