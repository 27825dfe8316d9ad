// Choosing the next token from logits: greedy, or temperature with top-k, top-p and min-p
// filtering, after an optional repetition penalty. Seeded and reproducible across platforms.
#pragma once

#include <cstdint>
#include <random>
#include <span>

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

class Sampler {
 public:
  explicit Sampler(const SamplerParams& p) : p_(p), rng_(p.seed) {}
  // `logits` is modified (penalty, temperature). `history` is every token so far.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);
  // A uniform double in [0, 1), the same on every platform for a given seed.
  double uniform() { return double(rng_() >> 11) * 0x1.0p-53; }

 private:
  SamplerParams p_;
  std::mt19937_64 rng_;
};

int32_t argmax(std::span<const float> logits);

}  // namespace ingot::runtime
