#include "model/layer.h"

#include <algorithm>

namespace ingot::runtime {

void LayerScratch::resize(const LayerShape& s, size_t n) {
  const size_t q_dim = s.n_head * s.head_dim, kv_dim = s.n_head_kv * s.head_dim;
  xn.resize(n * s.dim), q.resize(n * q_dim), k.resize(n * kv_dim), v.resize(n * kv_dim), att.resize(n * q_dim);
  h.resize(n * s.dim), tmp.resize(n * s.dim), gate.resize(n * s.ffn_dim), up.resize(n * s.ffn_dim);
}

bool decoder_layer(Backend& be, const LayerShape& s, const LayerWeights& w, float* x, size_t n,
                   std::span<const size_t> positions, const LayerAttention& attend, const LayerTap& tap,
                   LayerScratch* scratch) {
  LayerScratch& r = *scratch;
  r.resize(s, n);
  const size_t dim = s.dim;
  be.rmsnorm(x, n, dim, w.attention_norm, s.norm_eps, r.xn.data());
  if (tap && !tap(Tap::qkv_input, r.xn.data(), n)) return false;
  be.linear(r.xn.data(), n, w.wq, r.q.data());
  be.linear(r.xn.data(), n, w.wk, r.k.data());
  be.linear(r.xn.data(), n, w.wv, r.v.data());
  be.rope(r.q.data(), n, s.n_head, positions, *s.rope, *s.rope_inv_freq);
  be.rope(r.k.data(), n, s.n_head_kv, positions, *s.rope, *s.rope_inv_freq);
  attend(r.q.data(), r.k.data(), r.v.data(), r.att.data());
  if (tap && !tap(Tap::o_input, r.att.data(), n)) return false;

  // h = x + wo(att): x itself is only overwritten at the end, so a tap may stop before that.
  be.linear(r.att.data(), n, w.wo, r.tmp.data());
  std::copy_n(x, n * dim, r.h.data());
  be.add(r.h.data(), r.tmp.data(), n * dim);
  be.rmsnorm(r.h.data(), n, dim, w.ffn_norm, s.norm_eps, r.xn.data());
  if (tap && !tap(Tap::w13_input, r.xn.data(), n)) return false;
  be.linear(r.xn.data(), n, w.w1, r.gate.data());
  be.linear(r.xn.data(), n, w.w3, r.up.data());
  be.swiglu(r.gate.data(), r.up.data(), n * s.ffn_dim);
  if (tap && !tap(Tap::w2_input, r.gate.data(), n)) return false;
  be.linear(r.gate.data(), n, w.w2, r.tmp.data());
  be.add(r.h.data(), r.tmp.data(), n * dim);
  std::copy_n(r.h.data(), n * dim, x);
  return true;
}

}  // namespace ingot::runtime
