// The model-level GPTQ driver: every linear weight of every decoder layer, layer by layer on the
// calibration activations, as the GPTQ reference's llama.py `llama_sequential` does.
// The algorithm for one weight is gptq.h; the protocol and memory are in docs/gptq.md.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "gptq/gptq.h"
#include "import/source_model.h"
#include "ingot/format/status.h"

namespace ingot::compiler {

// What the driver reports after each quantized weight (for progress lines, tables and reports;
// the seconds never go into the container, which stays deterministic).
struct TensorDone {
  size_t layer = 0, n_layers = 0;  // layer is 0-based
  size_t index = 0, total = 0;     // this weight is the index-th (1-based) of `total`
  std::string tensor;
  size_t out = 0, in = 0;
  double loss = 0;
  float damp = 0;
  int damp_raises = 0;
  double seconds = 0;
  std::string line() const;  // "layer 1/5 layers.0.attention.wq.weight (64, 64)  loss 1.2  0.01 s"
};

struct QuantizeOptions {
  QuantConfig config;
  fb::QuantMethod method = fb::QuantMethod::GPTQ;  // GPTQ or RTN
  // GPTQ: quantize q/k/v, then o on inputs recomputed with the quantized q/k/v, then w1/w3, then
  // w2 (the reference's --true-sequential). Off: all inputs from the unquantized layer.
  bool true_sequential = true;
  // GPTAQ (gptq.h QuantConfig::gptaq_alpha): also run the full-precision model on the calibration
  // samples, layer by layer, and give each weight the cross term of its full-precision and
  // quantized-model inputs (hessian.h CrossAccumulator). Needs GPTQ and true_sequential; holds a
  // second activation buffer and a second copy of the layer's f32 weights.
  bool gptaq = false;
  // Also quantize output.weight (on the final-norm activations for GPTQ). A tied model gets its
  // own output.weight, a copy of tok_embeddings, and config.tied_embeddings becomes false: the
  // embedding lookup keeps reading the dense table, the classifier reads the quantized copy.
  bool quantize_lm_head = false;
  // The classifier's bits (with quantize_lm_head); 0: config.bits. It is quantized in natural
  // order (no act-order) so that the runtime's int8 kernels take it.
  int lm_head_bits = 0;
  int threads = 0;  // > 0: OpenMP threads for the forward and the quantizer; 0: leave as is
  std::function<void(const TensorDone& done)> progress;  // once per quantized weight
};

// Quantizes `model`'s linear weights in place: each gets `quant` (pack_result) and one
// model.layer_losses entry (tensor, loss, damp, note). samples: (n_samples, seqlen) calibration
// token windows (calibration.h), each its own sequence from position 0; may be empty for RTN.
// Holds one layer's f32 weights, one (Σ seqlen, dim) f32 activation buffer and one sample's
// scratch at a time.
format::Status quantize_model(SourceModel& model, const std::vector<std::vector<int32_t>>& samples,
                              const QuantizeOptions& options);

}  // namespace ingot::compiler
