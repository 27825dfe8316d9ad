#include "cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace ingot::cpu {

void attention(const float* q, size_t n, size_t pos0, const float* k_cache, const float* v_cache,
               const AttentionShape& s, float* out) {
  const size_t hd = s.head_dim, q_dim = s.n_head * hd, kv_dim = s.n_head_kv * hd;
  const size_t group = s.n_head / s.n_head_kv;
  const float scale = 1.0f / std::sqrt(float(hd));
  // Threads only pay off past a few hundred thousand multiply-adds; below that they just wait.
  const size_t work = n * s.n_head * (pos0 + n) * hd;
#pragma omp parallel if (work > (size_t{1} << 18))
  {
    std::vector<float> scores(pos0 + n);
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (size_t t = 0; t < n; ++t) {
      for (size_t h = 0; h < s.n_head; ++h) {
        const size_t n_pos = pos0 + t + 1;  // causal: this token and every one before it
        const float* qh = q + t * q_dim + h * hd;
        const size_t kvh = h / group;
        float max = -INFINITY;
        for (size_t p = 0; p < n_pos; ++p) {
          const float* k = k_cache + p * kv_dim + kvh * hd;
          float dot = 0;
          for (size_t i = 0; i < hd; ++i) dot += qh[i] * k[i];
          scores[p] = dot * scale;
          max = std::max(max, scores[p]);
        }
        float sum = 0;
        for (size_t p = 0; p < n_pos; ++p) sum += (scores[p] = std::exp(scores[p] - max));
        const float inv = 1.0f / sum;
        float* oh = out + t * q_dim + h * hd;
        std::fill(oh, oh + hd, 0.0f);
        for (size_t p = 0; p < n_pos; ++p) {
          const float* v = v_cache + p * kv_dim + kvh * hd;
          const float w = scores[p] * inv;
          for (size_t i = 0; i < hd; ++i) oh[i] += w * v[i];
        }
      }
    }
  }
}

}  // namespace ingot::cpu
