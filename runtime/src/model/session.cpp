#include "model/session.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/attention.h"
#include "cpu/rmsnorm.h"

namespace ingot::runtime {

using format::fail;
using format::Status;
using format::StatusCode;

Session::Session(const Model& model, size_t n_ctx) : model_(model) {
  const ModelDims& d = model.dims();
  n_ctx_ = n_ctx == 0 ? d.context : std::min(n_ctx, d.context);
  const size_t kv = d.n_layer * n_ctx_ * d.n_head_kv * d.head_dim;
  k_cache_.assign(kv, 0.0f);
  v_cache_.assign(kv, 0.0f);
}

size_t Session::keep_common_prefix(std::span<const int32_t> tokens) {
  const size_t limit = std::min(pos_, tokens.empty() ? size_t{0} : tokens.size() - 1);
  size_t n = 0;
  while (n < limit && tokens_[n] == tokens[n]) ++n;
  rewind(n);
  return n;
}

Status Session::eval(std::span<const int32_t> tokens, float* logits, std::vector<float>* all_logits) {
  const ModelDims& d = model_.dims();
  const size_t n = tokens.size();
  if (n == 0) return fail(StatusCode::invalid_argument, "eval: no tokens");
  if (pos_ + n > n_ctx_) {
    return fail(StatusCode::invalid_argument, "context overflow: ", pos_, " tokens in the cache + ", n,
                " new exceed the context length ", n_ctx_);
  }
  for (int32_t t : tokens) {
    if (t < 0 || size_t(t) >= d.vocab) {
      return fail(StatusCode::invalid_argument, "token id ", t, " is outside the vocabulary (", d.vocab, ")");
    }
  }
  const size_t dim = d.dim, hd = d.head_dim, q_dim = d.n_head * hd, kv_dim = d.n_head_kv * hd, ffn = d.ffn_dim;
  // Activations, each (n, width).
  std::vector<float> x(n * dim), xn(n * dim), q(n * q_dim), k(n * kv_dim), v(n * kv_dim), att(n * q_dim),
      tmp(n * dim), gate(n * ffn), up(n * ffn);
  for (size_t t = 0; t < n; ++t) cpu::weight_row(model_.tok_embeddings, size_t(tokens[t]), x.data() + t * dim);

  const cpu::AttentionShape shape{d.n_head, d.n_head_kv, hd};
  for (size_t l = 0; l < d.n_layer; ++l) {
    const LayerWeights& w = model_.layers[l];
    float* kc = k_cache_.data() + l * n_ctx_ * kv_dim;
    float* vc = v_cache_.data() + l * n_ctx_ * kv_dim;
    cpu::rmsnorm(x.data(), n, dim, w.attention_norm, d.norm_eps, xn.data());
    linear(xn.data(), n, w.wq, q.data());
    linear(xn.data(), n, w.wk, k.data());
    linear(xn.data(), n, w.wv, v.data());
    for (size_t t = 0; t < n; ++t) {
      cpu::rope(q.data() + t * q_dim, d.n_head, pos_ + t, model_.rope(), model_.rope_inv_freq());
      cpu::rope(k.data() + t * kv_dim, d.n_head_kv, pos_ + t, model_.rope(), model_.rope_inv_freq());
    }
    std::memcpy(kc + pos_ * kv_dim, k.data(), n * kv_dim * sizeof(float));
    std::memcpy(vc + pos_ * kv_dim, v.data(), n * kv_dim * sizeof(float));
    cpu::attention(q.data(), n, pos_, kc, vc, shape, att.data());
    linear(att.data(), n, w.wo, tmp.data());
    for (size_t i = 0; i < n * dim; ++i) x[i] += tmp[i];

    cpu::rmsnorm(x.data(), n, dim, w.ffn_norm, d.norm_eps, xn.data());
    linear(xn.data(), n, w.w1, gate.data());
    linear(xn.data(), n, w.w3, up.data());
    for (size_t i = 0; i < n * ffn; ++i) {
      const float g = gate[i];
      gate[i] = g / (1.0f + std::exp(-g)) * up[i];  // SwiGLU: silu(gate) * up
    }
    linear(gate.data(), n, w.w2, tmp.data());
    for (size_t i = 0; i < n * dim; ++i) x[i] += tmp[i];
  }
  pos_ += n;
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());

  if (all_logits != nullptr) {
    cpu::rmsnorm(x.data(), n, dim, model_.norm, d.norm_eps, xn.data());
    all_logits->resize(n * d.vocab);
    cpu::matmul(xn.data(), n, model_.output, all_logits->data());
    if (logits != nullptr) std::memcpy(logits, all_logits->data() + (n - 1) * d.vocab, d.vocab * sizeof(float));
  } else if (logits != nullptr) {
    cpu::rmsnorm(x.data() + (n - 1) * dim, 1, dim, model_.norm, d.norm_eps, xn.data());
    cpu::matmul(xn.data(), 1, model_.output, logits);
  }
  return Status::success();
}

}  // namespace ingot::runtime
