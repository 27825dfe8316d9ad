// The CUDA ops' entry points (one op per .cu file beside this header; each picks its launch
// configuration by shape through launch.h). All pointers are device memory; every function
// returns the first CUDA error (the launch's own included) and runs on `stream`.
// Activations are f32; weights are the container's bytes, unchanged (no repacking).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cuda/gptq_math.cuh"
#include "cuda/sampling_math.cuh"

namespace ingot::cuda {

enum class WeightType : uint32_t { f32, f16, bf16 };

// A quantized weight (out, in) in the GPTQ layout (spec/quant-layouts.md §2.2), device copies.
struct QuantWeight {
  const uint32_t* qweight;  // (ceil(in·bits/32), out): each column a bit stream along k
  const uint16_t* scales;   // (n_groups, out) f16
  const uint32_t* zeros;    // (n_groups, ceil(out·bits/32)) bit streams along o; null: symmetric
  const int32_t* g_idx;     // (in) act-order groups; null: k / group_size
  uint32_t bits;            // 2, 3, 4, 8
  int32_t group_size;       // −1: one group
  uint32_t out, in;
};

// y (n, out) = x (n, in) · dequant(W)ᵀ on the tensor cores, x and the weights rounded to f16
// (gemm_quant.cu): prefill, n above 16 (use_quant_gemm). sm_80 and newer.
cudaError_t quant_gemm(const QuantWeight& w, const float* x, uint32_t n, float* y, cudaStream_t stream);

// y (n, out) = x (n, in) · dequant(W)ᵀ (gemv_quant.cu). `workspace` holds quant_gemv_workspace
// floats for the configuration of min(n, 16) rows (null when that is 0).
cudaError_t quant_gemv(const QuantWeight& w, const float* x, uint32_t n, float* y, float* workspace,
                       uint32_t n_sm, cudaStream_t stream);
size_t quant_gemv_workspace_floats(const QuantWeight& w, uint32_t n, uint32_t n_sm);

// y (n, out) = x (n, in) · Wᵀ, W (out, in) row-major f32/f16/bf16 (gemv_dense.cu).
cudaError_t dense_gemv(const void* w, WeightType type, uint32_t out, uint32_t in, const float* x, uint32_t n,
                       float* y, cudaStream_t stream);

// out (n, dim) = x / sqrt(mean(x²) + eps) · weight (rmsnorm.cu).
cudaError_t rmsnorm(const float* x, uint32_t n, uint32_t dim, const void* weight, WeightType type, float eps,
                    float* out, cudaStream_t stream);

// Rotates n_heads heads of each row of x (n, n_heads · head_dim) at positions[t] (rope.cu);
// inv_freq (head_dim / 2) from cpu::rope_inv_freq.
cudaError_t rope(float* x, uint32_t n, uint32_t n_heads, uint32_t head_dim, const int32_t* positions,
                 const float* inv_freq, bool interleaved, cudaStream_t stream);

// gate (count) = silu(gate) · up (swiglu.cu).
cudaError_t swiglu(float* gate, const float* up, size_t count, cudaStream_t stream);

// out (n, cols): out[t][j] = x[t][order[j]], order a permutation of [0, cols) (gather.cu; the
// input of an act-order weight stored sorted).
cudaError_t gather_columns(const float* x, uint32_t n, uint32_t cols, const int32_t* order, float* out,
                           cudaStream_t stream);

// out[t] = the argmax of row t of x (n, width), the host sampler's order (argmax.cu).
cudaError_t argmax_rows(const float* x, uint32_t n, uint32_t width, int32_t* out, cudaStream_t stream);

// out (n, k): the k best candidates of each row of x (n, width), best first, in the host
// sampler's order (topk.cu); k ≤ min(kMaxTopK, width), else cudaErrorInvalidValue.
constexpr uint32_t kMaxTopK = 1024;
cudaError_t top_k_rows(const float* x, uint32_t n, uint32_t width, uint32_t k, Candidate* out, cudaStream_t stream);

// x (count) += y (count) (add.cu).
cudaError_t add(float* x, const float* y, size_t count, cudaStream_t stream);

// x (n, dim) = rows tokens[t] of table (vocab, dim), widened to f32 (embed.cu).
cudaError_t embed(const void* table, WeightType type, uint32_t dim, const int32_t* tokens, uint32_t n, float* x,
                  cudaStream_t stream);

// ---- GPTQ on the device (ingotc --device cuda; compiler/src/gptq/gptq_cuda.cpp) ----

// One weight's column loop state (device pointers), quantization order throughout.
struct GptqColumns {
  double* w;             // (out, in) weights, updated in place
  const double* hinv;    // (in, in) U, the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU)
  const double* pmat;    // (in, in) GPTAQ's P, or null
  const double* wfp;     // (out, in) FOEM's weights before any update, or null
  const double* hdiag;   // (in) diag(H)
  const int32_t* perm;   // (in) original column of each position (static groups' group)
  QParams* params;       // (n_groups, out): per-channel / static grids given; the others written
  uint8_t* q;            // (out, in) integers
  double* err;           // (out, bs) the block's fed-back errors, for the lazy update
  double* xval;          // (out, bs) GPTAQ: the block's weights before rounding (null without P)
  double* gbuf;          // (out, group_size) one group's values a row (grouped, not static)
  double* row_loss;      // (out) each row's Σ (w − q)² / d² / 2, accumulated
  uint32_t out, in, bs;
  int32_t group_size;    // −1: one group a row (params given)
  bool static_groups, sym;
  Grid grid;
  int32_t n_try, grid_points;  // the searches' candidates: ⌊maxshrink · points⌋, points
  double norm, maxq, beta;     // mse's exponent, 2^bits − 1, FOEM's β (0: off)
};

// The column loop over [i1, i1 + count) of every row (gptq_columns.cu): count ≤ bs.
cudaError_t gptq_block(const GptqColumns& c, uint32_t i1, uint32_t count, cudaStream_t stream);

// b (n, n) column-major, lower triangle = J·(H + damp·I)·J (J the reversal; H (n, n) f32
// row-major, symmetric), the matrix gptq.cpp's inverse_factor factorizes (gptq_factor.cu).
cudaError_t gptq_reversed_damped(const float* h, uint32_t n, double damp, double* b, cudaStream_t stream);
// u (n, n) row-major = J·L̃⁻¹·J's upper triangle, zero below (L̃⁻¹ lower, in b column-major);
// *bad (device) is set to 1 when a value is not finite or a diagonal one not positive.
cudaError_t gptq_upper_from_reversed(const double* b, uint32_t n, double* u, int32_t* bad, cudaStream_t stream);
// a (n, n) row-major: a[i][k] = 0 for k ≤ i (GPTAQ's triu₁).
cudaError_t gptq_strict_upper(double* a, uint32_t n, cudaStream_t stream);

// KV pages in device memory: `base` holds max_pages pages of page_bytes each, laid out as
// PagePool's (n_layer, 2 [k, v], page_size, kv_dim) values, f16 or f32.
struct PagedKv {
  const uint8_t* base;
  size_t page_bytes;
  uint32_t page_size;
  uint32_t kv_dim;
  uint32_t layer;
  bool f16;
};

// Stores n rows of k and v (n, kv_dim) f32 at byte offsets k_off[i], v_off[i] of `pages`
// (kv_write.cu): the rows' places, computed on the host from the page tables.
cudaError_t kv_write(uint8_t* pages, bool f16, uint32_t kv_dim, const float* k, const float* v,
                     const uint64_t* k_off, const uint64_t* v_off, uint32_t n, cudaStream_t stream);

// Causal attention of n query rows q (n, n_head · head_dim) at positions pos0 .. pos0+n−1 over
// one sequence's pages (page_table: its page ids in order), out (n, n_head · head_dim)
// (attention.cu). `workspace` holds attention_workspace_floats.
struct AttentionArgs {
  const float* q;
  uint32_t n;
  uint32_t pos0;
  const int32_t* page_table;
  PagedKv kv;
  uint32_t n_head, n_head_kv, head_dim;
  float* out;
};
cudaError_t attention(const AttentionArgs& a, float* workspace, uint32_t n_sm, cudaStream_t stream);
size_t attention_workspace_floats(const AttentionArgs& a, uint32_t n_sm);

}  // namespace ingot::cuda
