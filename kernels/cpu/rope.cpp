#include "cpu/rope.h"

#include <cmath>

namespace ingot::cpu {

std::vector<float> rope_inv_freq(const RopeParams& p) {
  const size_t half = p.head_dim / 2;
  std::vector<float> f(half);
  for (size_t i = 0; i < half; ++i) f[i] = float(1.0 / std::pow(double(p.theta), double(2 * i) / double(p.head_dim)));
  if (p.scaling == fb::RopeScalingType::Linear) {
    for (float& v : f) v /= p.factor;
  } else if (p.scaling == fb::RopeScalingType::Llama3) {
    // Meta's llama3 rule: long wavelengths slowed by `factor`, short ones kept, a smooth blend between.
    const double low_wavelen = p.original_context_length / p.low_freq_factor;
    const double high_wavelen = p.original_context_length / p.high_freq_factor;
    for (float& v : f) {
      const double wavelen = 2 * M_PI / v;
      if (wavelen < high_wavelen) continue;
      if (wavelen > low_wavelen) {
        v = float(v / p.factor);
      } else {
        const double smooth = (p.original_context_length / wavelen - p.low_freq_factor) /
                              (p.high_freq_factor - p.low_freq_factor);
        v = float((1 - smooth) * v / p.factor + smooth * v);
      }
    }
  }
  return f;
}

void rope(float* x, size_t n_heads, size_t pos, const RopeParams& p, const std::vector<float>& inv_freq) {
  const size_t hd = p.head_dim, half = hd / 2;
  for (size_t i = 0; i < half; ++i) {
    const float angle = float(pos) * inv_freq[i];
    const float c = std::cos(angle), s = std::sin(angle);
    for (size_t h = 0; h < n_heads; ++h) {
      float* head = x + h * hd;
      // Interleaved pairs (2i, 2i+1); half pairs (i, i + head_dim/2).
      const size_t a = p.form == fb::RopeForm::Interleaved ? 2 * i : i;
      const size_t b = p.form == fb::RopeForm::Interleaved ? 2 * i + 1 : i + half;
      const float x0 = head[a], x1 = head[b];
      head[a] = x0 * c - x1 * s;
      head[b] = x0 * s + x1 * c;
    }
  }
}

}  // namespace ingot::cpu
