// Choosing the next token from logits: greedy, or temperature with top-k, top-p and min-p
// filtering, after an optional repetition penalty. Seeded and reproducible across platforms.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace ingot::runtime {

struct SamplerParams {
  float temperature = 0.8f;     // <= 0: greedy (argmax)
  int32_t top_k = 40;           // <= 0: no limit
  float top_p = 0.95f;          // >= 1: no limit
  float min_p = 0.0f;           // keep tokens with p >= min_p * p_max; 0: off
  float repeat_penalty = 1.0f;  // 1: off; divides positive logits (multiplies negative) of recent tokens
  int32_t repeat_last_n = 64;   // how many recent tokens the penalty looks at
  uint64_t seed = 0;
};

// One of a row's best tokens (Backend::top_k_rows): its logit and id.
struct Candidate {
  float logit;
  int32_t id;
};

// The sampler's order of tokens: higher logit first, ties to the lower id.
inline bool ranks_before(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// out[0, k): the k best tokens of `row` in the sampler's order, best first (k ≤ row.size()).
void top_candidates(std::span<const float> row, size_t k, Candidate* out);

class Sampler {
 public:
  explicit Sampler(const SamplerParams& p) : p_(p), rng_(p.seed) {}
  // `logits` is modified (penalty, temperature). `history` is every token so far.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);

  // Sampling from a row's best tokens instead of the whole row (so that a backend need only hand
  // over those, Backend::top_k_rows): how many of them, in the order before the repetition
  // penalty, sample_top needs to draw sample()'s token — top_k, plus repeat_last_n when the
  // penalty is on (a penalty ≥ 1 only lowers logits, so at most that many of the best can fall
  // out of the top k). 0 when the whole row is needed: greedy (argmax instead), no top-k limit,
  // a penalty below 1 (it can raise any token), or as many as the vocabulary.
  size_t candidates_needed(size_t vocab) const;
  // The token sample() draws from the whole row, given the row's first top.size() ≥
  // candidates_needed(vocab) tokens in the sampler's order; the generator advances as in sample().
  int32_t sample_top(std::span<const Candidate> top, std::span<const int32_t> history);
  // A uniform double in [0, 1), the same on every platform for a given seed.
  double uniform() { return double(rng_() >> 11) * 0x1.0p-53; }

 private:
  // The tokens `recent` the repetition penalty applies to: each distinct one of the last
  // repeat_last_n of history, sorted.
  std::vector<int32_t> penalised(std::span<const int32_t> history) const;
  float penalise(float logit) const { return logit > 0 ? logit / p_.repeat_penalty : logit * p_.repeat_penalty; }
  bool penalty_on() const { return p_.repeat_penalty != 1.0f && p_.repeat_last_n > 0; }
  // Temperature, top-p, min-p and the draw over `keep` tokens sorted best first (ids, logits).
  int32_t draw(const int32_t* ids, const float* logits, size_t keep);

  SamplerParams p_;
  std::mt19937_64 rng_;
};

int32_t argmax(std::span<const float> logits);

}  // namespace ingot::runtime
