// One LLaMA decoder layer on n rows, through a backend: the only copy of the layer's math. The
// runtime's forward pass (forward.cpp) runs it over a batch with attention on KV pages; the
// compiler's calibration pass (compiler/src/gptq/quantize_model.cpp) runs it over one sample with
// taps that hand each linear's input to the Hessian accumulators.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"

namespace ingot::runtime {

struct LayerWeights {
  cpu::WeightView attention_norm;  // (dim)
  Linear wq;                       // (n_head * head_dim, dim)
  Linear wk;                       // (n_head_kv * head_dim, dim)
  Linear wv;                       // (n_head_kv * head_dim, dim)
  Linear wo;                       // (dim, n_head * head_dim)
  cpu::WeightView ffn_norm;        // (dim)
  Linear w1;                       // (ffn_dim, dim) gate
  Linear w2;                       // (dim, ffn_dim) down
  Linear w3;                       // (ffn_dim, dim) up
};

struct LayerShape {
  size_t dim = 0, n_head = 0, n_head_kv = 0, head_dim = 0, ffn_dim = 0;
  float norm_eps = 1e-5f;
  const cpu::RopeParams* rope = nullptr;
  const std::vector<float>* rope_inv_freq = nullptr;
};

// The inputs of the layer's linears, in the order the layer reaches them.
enum class Tap { qkv_input, o_input, w13_input, w2_input };

// Sees the input (n, width) of a group of linears; returning false ends the layer there (x is
// then left as it came in). Null: no taps.
using LayerTap = std::function<bool(Tap where, const float* input, size_t n)>;

// Attention of the layer's n rows: q (n, n_head·hd) and k, v (n, n_head_kv·hd) after RoPE, into
// att (n, n_head·hd). Where the keys and values go (pages, or nothing) is the caller's business.
using LayerAttention = std::function<void(const float* q, const float* k, const float* v, float* att)>;

// Activations of one call, each (n, width), in the backend's activation memory (one buffer,
// grown when n grows); reused across layers and calls of one backend.
struct LayerScratch {
  float *xn = nullptr, *q = nullptr, *k = nullptr, *v = nullptr, *att = nullptr, *h = nullptr, *tmp = nullptr,
        *gate = nullptr, *up = nullptr;
  std::vector<float> tap_input;  // a tap's input copied to the host (backends without host activations)
  void resize(Backend& be, const LayerShape& s, size_t n);

 private:
  std::unique_ptr<ActivationBuffer> buffer_;
};

// x (n, dim) → the layer's output, in place; row t at positions[t]. Returns false when a tap
// ended the layer early (x unchanged).
bool decoder_layer(Backend& be, const LayerShape& s, const LayerWeights& w, float* x, size_t n,
                   std::span<const size_t> positions, const LayerAttention& attend, const LayerTap& tap,
                   LayerScratch* scratch);

}  // namespace ingot::runtime
