// A loaded model: the container's config, tokenizer and weight views (zero-copy into the mapping
// for uncompressed blobs). Immutable after load; sessions share it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cpu/matmul.h"
#include "cpu/quant.h"
#include "cpu/rope.h"
#include "ingot/format/reader.h"
#include "tokenizer/tokenizer.h"

namespace ingot::runtime {

// A linear layer's weight (out, in): dense f32/f16/bf16, or quantized in the GPTQ layout.
struct Linear {
  cpu::WeightView dense;
  cpu::QuantView quant;
  bool quantized = false;
};

// y (n, out) = x (n, in) · Wᵀ with whichever kernel the weight needs.
inline void linear(const float* x, size_t n, const Linear& w, float* y) {
  if (w.quantized) {
    cpu::quant_matmul(x, n, w.quant, y);
  } else {
    cpu::matmul(x, n, w.dense, y);
  }
}

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

struct ModelDims {
  size_t dim = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, ffn_dim = 0, vocab = 0, context = 0;
  float norm_eps = 1e-5f;
  int32_t bos = -1, eos = -1;
  std::vector<int32_t> extra_eos;
};

struct LoadOptions {
  bool verify_checksums = false;
  // Optional: the fraction loaded in [0, 1] (checksums, then binding layer by layer); returning
  // false cancels the load with StatusCode::interrupted.
  std::function<bool(double fraction)> progress;
};

class Model {
 public:
  static format::Status load(const std::string& path, const LoadOptions& options, std::unique_ptr<Model>* out);

  const ModelDims& dims() const { return dims_; }
  const cpu::RopeParams& rope() const { return rope_; }
  const std::vector<float>& rope_inv_freq() const { return inv_freq_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  bool has_tokenizer() const { return tokenizer_ != nullptr; }
  const format::Container& container() const { return *container_; }
  bool is_eos(int32_t id) const;

  cpu::WeightView tok_embeddings;  // (vocab, dim)
  std::vector<LayerWeights> layers;
  cpu::WeightView norm;            // (dim)
  cpu::WeightView output;          // (vocab, dim); the embeddings when tied

 private:
  format::Status bind(const std::string& name, std::vector<uint64_t> shape, cpu::WeightView* out);
  format::Status bind_linear(const std::string& name, std::vector<uint64_t> shape, Linear* out);
  const uint8_t* blob_data(const fb::Blob* blob, const std::string& what, format::Status* status);

  std::unique_ptr<format::Container> container_;
  std::vector<format::BlobBytes> blobs_;  // decompressed blobs (views need nothing kept)
  std::unique_ptr<Tokenizer> tokenizer_;
  ModelDims dims_;
  cpu::RopeParams rope_;
  std::vector<float> inv_freq_;
};

}  // namespace ingot::runtime
