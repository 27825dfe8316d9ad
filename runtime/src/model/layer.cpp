#include "model/layer.h"

#include <algorithm>

namespace ingot::runtime {

void LayerScratch::resize(Backend& be, const LayerShape& s, size_t n) {
  const size_t q_dim = s.n_head * s.head_dim, kv_dim = s.n_head_kv * s.head_dim;
  const size_t widths[9] = {s.dim, q_dim, kv_dim, kv_dim, q_dim, s.dim, s.dim, s.ffn_dim, s.ffn_dim};
  size_t total = 0;
  for (size_t w : widths) total += n * w;
  if (!buffer_ || buffer_->size() < total) buffer_ = be.alloc(total);
  float* p = buffer_->data();
  float** fields[9] = {&xn, &q, &k, &v, &att, &h, &tmp, &gate, &up};
  for (size_t i = 0; i < 9; ++i) *fields[i] = p, p += n * widths[i];
}

bool decoder_layer(Backend& be, const LayerShape& s, const LayerWeights& w, float* x, size_t n,
                   std::span<const size_t> positions, const LayerAttention& attend, const LayerTap& tap,
                   LayerScratch* scratch) {
  LayerScratch& r = *scratch;
  r.resize(be, s, n);
  const size_t dim = s.dim;
  // A tap reads host floats: the input itself on the CPU, a downloaded copy otherwise.
  const auto tapped = [&](Tap where, const float* input, size_t width) {
    if (!tap) return true;
    if (be.host_activations()) return tap(where, input, n);
    r.tap_input.resize(n * width);
    be.download(r.tap_input.data(), input, n * width);
    return tap(where, r.tap_input.data(), n);
  };
  be.rmsnorm(x, n, dim, w.attention_norm, s.norm_eps, r.xn);
  if (!tapped(Tap::qkv_input, r.xn, dim)) return false;
  be.linear(r.xn, n, w.wq, r.q);
  be.linear(r.xn, n, w.wk, r.k);
  be.linear(r.xn, n, w.wv, r.v);
  be.rope(r.q, n, s.n_head, positions, *s.rope, *s.rope_inv_freq);
  be.rope(r.k, n, s.n_head_kv, positions, *s.rope, *s.rope_inv_freq);
  attend(r.q, r.k, r.v, r.att);
  if (!tapped(Tap::o_input, r.att, s.n_head * s.head_dim)) return false;

  // h = x + wo(att): x itself is only overwritten at the end, so a tap may stop before that.
  be.linear(r.att, n, w.wo, r.tmp);
  be.copy(r.h, x, n * dim);
  be.add(r.h, r.tmp, n * dim);
  be.rmsnorm(r.h, n, dim, w.ffn_norm, s.norm_eps, r.xn);
  if (!tapped(Tap::w13_input, r.xn, dim)) return false;
  be.linear(r.xn, n, w.w1, r.gate);
  be.linear(r.xn, n, w.w3, r.up);
  be.swiglu(r.gate, r.up, n * s.ffn_dim);
  if (!tapped(Tap::w2_input, r.gate, s.ffn_dim)) return false;
  be.linear(r.gate, n, w.w2, r.tmp);
  be.add(r.h, r.tmp, n * dim);
  be.copy(x, r.h, n * dim);
  return true;
}

}  // namespace ingot::runtime
