// The seam between the model and the hardware: the ops the forward pass (model/forward.cpp)
// calls, and the memory they run on. A backend owns the memory of the weights it runs and of the
// KV pages (make_page_pool); it may fuse ops, but the layer code lives only in forward.cpp.
// Activations are pointers into the backend's memory (host floats for the CPU backend, device
// memory for CUDA), taken from buffers it hands out (alloc); the forward pass never reads or
// writes them itself: it moves them with copy/download and lets the ops compute on them.
// One backend object serves every session of its model: ops keep no state between calls.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "cpu/attention.h"
#include "cpu/matmul.h"
#include "cpu/quant.h"
#include "cpu/rope.h"
#include "ingot/format/status.h"
#include "kv/kv_sequence.h"
#include "sampling/sampler.h"

namespace ingot::runtime {

// A linear layer's weight (out, in): dense f32/f16/bf16, or quantized in the GPTQ layout.
struct Linear {
  cpu::WeightView dense;
  cpu::QuantView quant;
  bool quantized = false;
};

// `count` floats of a backend's activation memory, freed with the object (which the backend
// must outlive).
class ActivationBuffer {
 public:
  virtual ~ActivationBuffer() = default;
  float* data() const { return data_; }
  size_t size() const { return size_; }

 protected:
  float* data_ = nullptr;
  size_t size_ = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // Activation memory: `count` floats (contents undefined).
  virtual std::unique_ptr<ActivationBuffer> alloc(size_t count) = 0;
  // True when activation pointers are host pointers the caller may read (the CPU backend).
  virtual bool host_activations() const = 0;
  // dst (n) = src (n), both activation memory (they may not overlap).
  virtual void copy(float* dst, const float* src, size_t n) = 0;
  // host (n) = src (n) of activation memory; returns when the values are on the host.
  virtual void download(float* host, const float* src, size_t n) = 0;

  // The KV pages of a model, in this backend's memory.
  virtual std::unique_ptr<PagePool> make_page_pool(const PageShape& shape, size_t max_pages) = 0;

  // x (n, table.cols) = rows `tokens` of the embedding table (vocab, dim).
  virtual void embed(const cpu::WeightView& table, std::span<const int32_t> tokens, float* x) = 0;
  // out (n, dim) = rmsnorm of x (n, dim) with weight (dim).
  virtual void rmsnorm(const float* x, size_t n, size_t dim, const cpu::WeightView& weight, float eps,
                       float* out) = 0;
  // y (n, out) = x (n, in) · Wᵀ.
  virtual void linear(const float* x, size_t n, const Linear& w, float* y) = 0;
  // Rotates n_heads heads of each row of x (n, n_heads · head_dim), row t at positions[t].
  virtual void rope(float* x, size_t n, size_t n_heads, std::span<const size_t> positions,
                    const cpu::RopeParams& p, const std::vector<float>& inv_freq) = 0;
  // x (n) += y (n).
  virtual void add(float* x, const float* y, size_t n) = 0;
  // gate (n) = silu(gate) · up.
  virtual void swiglu(float* gate, const float* up, size_t n) = 0;
  // Stores one position's k and v (kv_dim each, f32) at `pos` (< seq.length()) of `layer`.
  virtual void kv_write(const KvSequence& seq, size_t layer, size_t pos, const float* k, const float* v) = 0;
  // The KV writes of a step: row i of k and v (each (n, kv_dim)) goes to position pos[i] of
  // *seqs[i] (< its length()), layer `layer`. The default calls kv_write row by row; CUDA needs
  // them in one launch, and k, v are activation memory.
  virtual void kv_write_rows(std::span<const KvSequence* const> seqs, std::span<const size_t> pos, size_t layer,
                             const float* k, const float* v, size_t kv_dim) {
    for (size_t i = 0; i < seqs.size(); ++i) kv_write(*seqs[i], layer, pos[i], k + i * kv_dim, v + i * kv_dim);
  }
  // One sequence's rows for attention(): n query rows q (n, n_head · head_dim) at positions
  // pos0 .. pos0+n−1, attending over positions [0, pos0 + t] of `seq`; out (n, n_head · head_dim).
  struct AttentionCall {
    const float* q;
    size_t n;
    size_t pos0;
    const KvSequence* seq;
    float* out;
  };
  // Causal attention of every call over its sequence's layer `layer` (one call a sequence of the
  // batch: the backend may run them together).
  virtual void attention(std::span<const AttentionCall> calls, size_t layer, const cpu::AttentionShape& shape) = 0;

  // ids[t] = the argmax of row t of x (n, width), activation memory, in the host sampler's order
  // (std::max_element: the first maximum). Waits for the ids. The CUDA backend reduces on the
  // device, so only the ids cross; this default reads the rows on the host.
  virtual void argmax_rows(const float* x, size_t n, size_t width, int32_t* ids) {
    std::vector<float> host;
    if (!host_activations()) {
      host.resize(n * width);
      download(host.data(), x, n * width);
      x = host.data();
    }
    for (size_t t = 0; t < n; ++t) {
      const float* row = x + t * width;
      ids[t] = int32_t(std::max_element(row, row + width) - row);
    }
  }

  // out (n, k): the k best candidates (logit, id) of each row of x (n, width), activation memory,
  // best first in the host sampler's order (sampling/sampler.h ranks_before); 1 ≤ k ≤
  // min(width, max_top_k()). Waits for them. The CUDA backend selects on the device, so only the
  // pairs cross (top-k sampling, Sampler::sample_top); this default reads the rows on the host.
  virtual size_t max_top_k() const { return SIZE_MAX; }
  virtual void top_k_rows(const float* x, size_t n, size_t width, size_t k, Candidate* out) {
    std::vector<float> host;
    if (!host_activations()) {
      host.resize(n * width);
      download(host.data(), x, n * width);
      x = host.data();
    }
    for (size_t t = 0; t < n; ++t) top_candidates({x + t * width, width}, k, out + t * k);
  }

  // Recording a step (CUDA graphs, docs/cuda.md). begin_graph(rows) returns true when the ops
  // that follow, up to end_graph(), are recorded instead of run (`rows`: the step's batch size;
  // a backend that does not record returns false, and end_graph is then not called). While
  // recording, no op's result may be read. end_graph(ok) runs what was recorded and returns true;
  // or, when `ok` is false (an op threw while recording) or the recording failed, discards it and
  // returns false: then none of the recorded ops has run, and the caller runs them again,
  // unrecorded. No other thread's ops run on the backend between the two calls.
  virtual bool begin_graph(size_t rows) {
    (void)rows;
    return false;
  }
  virtual bool end_graph(bool ok) { return ok; }
};

// The CPU backend: weights are the container mapping's views, pages host memory, ops the
// kernels/cpu reference kernels.
std::unique_ptr<Backend> make_cpu_backend();

enum class BackendKind { cpu, cuda };

// The CUDA backend (backend/cuda/, docs/cuda.md): weights copied to device memory on first use,
// KV pages in device memory, ops the kernels/cuda kernels. Fails with a message when the build
// has no CUDA or no device is usable. Its ops throw std::runtime_error on a CUDA failure (out of
// device memory names what did not fit).
format::Status make_cuda_backend(std::unique_ptr<Backend>* out);

}  // namespace ingot::runtime
