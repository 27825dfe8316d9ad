// The CPU backend: kernels/cpu ops on host memory. Attention widens the sequence's pages into a
// contiguous f32 view (positions, kv_dim) and runs the contiguous kernel on it, so f32 pages give
// exactly the numbers of a contiguous f32 cache.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/backend.h"
#include "cpu/convert.h"
#include "cpu/rmsnorm.h"
#include "cpu/simd.h"

namespace ingot::runtime {

namespace {

// Widens n values of `dtype` at src to f32.
void widen(const uint8_t* src, KvDtype dtype, size_t n, float* out) {
  if (dtype == KvDtype::f32) {
    std::memcpy(out, src, n * sizeof(float));
    return;
  }
  const uint16_t* h = reinterpret_cast<const uint16_t*>(src);
  if (cpu::simd::has_avx2()) return cpu::simd::widen_f16(h, n, out);
  for (size_t i = 0; i < n; ++i) out[i] = cpu::f16_to_f32(h[i]);
}

void narrow(const float* src, KvDtype dtype, size_t n, uint8_t* out) {
  if (dtype == KvDtype::f32) {
    std::memcpy(out, src, n * sizeof(float));
    return;
  }
  uint16_t* h = reinterpret_cast<uint16_t*>(out);
  for (size_t i = 0; i < n; ++i) h[i] = cpu::f32_to_f16(src[i]);
}

class HostBuffer final : public ActivationBuffer {
 public:
  explicit HostBuffer(size_t count) : v_(count) { data_ = v_.data(), size_ = count; }

 private:
  std::vector<float> v_;
};

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }

  std::unique_ptr<ActivationBuffer> alloc(size_t count) override { return std::make_unique<HostBuffer>(count); }
  bool host_activations() const override { return true; }
  void copy(float* dst, const float* src, size_t n) override { std::copy_n(src, n, dst); }
  void download(float* host, const float* src, size_t n) override { std::copy_n(src, n, host); }

  std::unique_ptr<PagePool> make_page_pool(const PageShape& shape, size_t max_pages) override {
    return std::make_unique<PagePool>(shape, max_pages);
  }

  void embed(const cpu::WeightView& table, std::span<const int32_t> tokens, float* x) override {
    for (size_t t = 0; t < tokens.size(); ++t) cpu::weight_row(table, size_t(tokens[t]), x + t * table.cols);
  }

  void rmsnorm(const float* x, size_t n, size_t dim, const cpu::WeightView& weight, float eps, float* out) override {
    cpu::rmsnorm(x, n, dim, weight, eps, out);
  }

  void linear(const float* x, size_t n, const Linear& w, float* y) override {
    if (w.quantized) {
      cpu::quant_matmul(x, n, w.quant, y);
    } else {
      cpu::matmul(x, n, w.dense, y);
    }
  }

  void rope(float* x, size_t n, size_t n_heads, std::span<const size_t> positions, const cpu::RopeParams& p,
            const std::vector<float>& inv_freq) override {
    const size_t width = n_heads * p.head_dim;
    for (size_t t = 0; t < n; ++t) cpu::rope(x + t * width, n_heads, positions[t], p, inv_freq);
  }

  void add(float* x, const float* y, size_t n) override {
    for (size_t i = 0; i < n; ++i) x[i] += y[i];
  }

  void swiglu(float* gate, const float* up, size_t n) override {
    for (size_t i = 0; i < n; ++i) {
      const float g = gate[i];
      gate[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  }

  void kv_write(const KvSequence& seq, size_t layer, size_t pos, const float* k, const float* v) override {
    const PageShape& s = seq.pool().shape();
    narrow(k, s.dtype, s.kv_dim, seq.k_row(layer, pos));
    narrow(v, s.dtype, s.kv_dim, seq.v_row(layer, pos));
  }

  void attention(std::span<const AttentionCall> calls, size_t layer, const cpu::AttentionShape& shape) override {
    // Each sequence's keys and values, (positions, kv_dim) f32 each; per thread, reused across calls.
    thread_local std::vector<std::vector<float>> ks, vs;
    if (ks.size() < calls.size()) ks.resize(calls.size()), vs.resize(calls.size());
    std::vector<cpu::AttentionJob> jobs(calls.size());
    for (size_t c = 0; c < calls.size(); ++c) {
      const AttentionCall& a = calls[c];
      const PageShape& s = a.seq->pool().shape();
      const size_t n_pos = a.pos0 + a.n, p = s.page_size;
      std::vector<float>& k = ks[c];
      std::vector<float>& v = vs[c];
      k.resize(n_pos * s.kv_dim);
      v.resize(n_pos * s.kv_dim);
      for (size_t first = 0; first < n_pos; first += p) {
        const size_t rows = std::min(p, n_pos - first);
        // A page's rows of one layer's k (or v) are contiguous: widen them in one go.
        widen(a.seq->k_row(layer, first), s.dtype, rows * s.kv_dim, k.data() + first * s.kv_dim);
        widen(a.seq->v_row(layer, first), s.dtype, rows * s.kv_dim, v.data() + first * s.kv_dim);
      }
      jobs[c] = {a.q, a.n, a.pos0, k.data(), v.data(), a.out};
    }
    cpu::attention_batch(jobs.data(), jobs.size(), shape);
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace ingot::runtime
