// A loaded model: the container's config, tokenizer and weight views (zero-copy into the mapping
// for uncompressed blobs). Immutable after load; sessions share it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cpu/matmul.h"
#include "cpu/rope.h"
#include "ingot/format/reader.h"
#include "tokenizer/tokenizer.h"

namespace ingot::runtime {

struct LayerWeights {
  cpu::WeightView attention_norm;  // (dim)
  cpu::WeightView wq;              // (n_head * head_dim, dim)
  cpu::WeightView wk;              // (n_head_kv * head_dim, dim)
  cpu::WeightView wv;              // (n_head_kv * head_dim, dim)
  cpu::WeightView wo;              // (dim, n_head * head_dim)
  cpu::WeightView ffn_norm;        // (dim)
  cpu::WeightView w1;              // (ffn_dim, dim) gate
  cpu::WeightView w2;              // (dim, ffn_dim) down
  cpu::WeightView w3;              // (ffn_dim, dim) up
};

struct ModelDims {
  size_t dim = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, ffn_dim = 0, vocab = 0, context = 0;
  float norm_eps = 1e-5f;
  int32_t bos = -1, eos = -1;
  std::vector<int32_t> extra_eos;
};

struct LoadOptions {
  bool verify_checksums = false;
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

  std::unique_ptr<format::Container> container_;
  std::vector<format::BlobBytes> blobs_;  // decompressed blobs (views need nothing kept)
  std::unique_ptr<Tokenizer> tokenizer_;
  ModelDims dims_;
  cpu::RopeParams rope_;
  std::vector<float> inv_freq_;
};

}  // namespace ingot::runtime
