// A loaded model: the container's config, tokenizer and weight views (zero-copy into the mapping
// for uncompressed blobs), the backend that runs it and the pool of KV pages every sequence of
// it draws from. Immutable after load (the pool is thread-safe); sessions share it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "cpu/matmul.h"
#include "cpu/quant.h"
#include "cpu/quant_int8.h"
#include "cpu/rope.h"
#include "cpu/worker_pool.h"
#include "kv/page_pool.h"
#include "model/layer.h"
#include "ingot/format/reader.h"
#include "tokenizer/tokenizer.h"

namespace ingot::runtime {

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
  // The KV page pool (docs/runtime.md): values in f16 (default) or f32, `kv_page_size` positions
  // per page, at most `kv_budget_bytes` of pages (0: room for 8 sequences at the full context).
  KvDtype kv_dtype = KvDtype::f16;
  size_t kv_page_size = 16;
  size_t kv_budget_bytes = 0;
  BackendKind backend = BackendKind::cpu;  // docs/cuda.md
  // Optional: replaces the backend made for `backend` by what it returns, typically a wrapper
  // around it (tests: a backend that records steps as CUDA graphs do, over the CPU one).
  std::function<std::unique_ptr<Backend>(std::unique_ptr<Backend>)> wrap_backend;
  // Workers of the model's thread pool (the calling thread counts as one while it steps a
  // sequence); 0: the loading thread's cpu::requested_threads() (its set_threads cap, else one per
  // hardware thread). Every session of the model shares the pool; a session's cpu::set_threads
  // caps how many of them its steps use.
  int n_threads = 0;
  // Activations of the 4- and 8-bit linears that an int8 kernel takes (kernels/cpu/quant_int8.h):
  // quantized to int8 per block of 16 (faster; perplexity within 0.3% of f32, measured in
  // docs/runtime.md), or f32. The default is the process's: int8 unless INGOT_QUANT_ACT=f32.
  cpu::Activations activations = cpu::default_activations();
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
  Backend& backend() const { return *backend_; }
  PagePool& kv_pool() const { return *kv_pool_; }
  // The worker pool every forward pass through this model runs its kernel loops on.
  cpu::WorkerPool& workers() const { return *workers_; }
  // How its quantized linears treat their activations (LoadOptions::activations).
  cpu::Activations activations() const { return activations_; }

  cpu::WeightView tok_embeddings;  // (vocab, dim)
  std::vector<LayerWeights> layers;
  cpu::WeightView norm;            // (dim)
  Linear output;                   // (vocab, dim): the embeddings (dense) when tied, else f16/f32 or 4/8-bit

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
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<PagePool> kv_pool_;  // pages live in the backend's memory
  std::unique_ptr<cpu::WorkerPool> workers_;
  cpu::Activations activations_ = cpu::Activations::int8;
};

}  // namespace ingot::runtime
