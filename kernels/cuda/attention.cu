// Causal grouped-query attention over paged KV (decode and prefill), flash-decoding style:
//   1. attend_split: block (head h, split s, query row t); its 4 warps take interleaved positions
//      of the split's range, each keeps the online-softmax state (m, l, acc) of its positions
//      (softmax_merge.cuh; acc in registers, epl head elements a lane), the warps merge in shared
//      memory, and the split's state goes to the workspace (n, n_head, n_splits, 2 + head_dim).
//   2. merge_splits: block (h, t) merges the splits in order and writes acc / l.
// A query row t sees positions [0, pos0 + t]; splits past it are empty (weight 0 in the merge).
// Instantiated for epl 1, 2, 4, 8 (head_dim ≤ 32, 64, 128, 256: launch.h pick_attention).
#include <cuda_fp16.h>

#include <algorithm>

#include "cuda/check.h"
#include "cuda/launch.h"
#include "cuda/ops.h"
#include "cuda/softmax_merge.cuh"

namespace ingot::cuda {
namespace {

constexpr int kWarps = 4;

__device__ __forceinline__ float kv_at(const uint8_t* row, bool f16, uint32_t i) {
  return f16 ? __half2float(reinterpret_cast<const __half*>(row)[i]) : reinterpret_cast<const float*>(row)[i];
}

// Byte address of position p's key (kv = 0) or value (kv = 1) row of the layer.
__device__ __forceinline__ const uint8_t* kv_row(const PagedKv& kv, const int32_t* table, uint32_t p, uint32_t which) {
  const uint32_t page = uint32_t(table[p / kv.page_size]), slot = p % kv.page_size;
  const size_t row_bytes = size_t(kv.kv_dim) * (kv.f16 ? 2 : 4);
  return kv.base + size_t(page) * kv.page_bytes + ((size_t(kv.layer) * 2 + which) * kv.page_size + slot) * row_bytes;
}

template <int EPL>
__global__ void __launch_bounds__(kWarps * 32, 4) attend_split(AttentionArgs a, uint32_t chunk, uint32_t n_splits,
                                                              float scale, float* __restrict__ ws) {
  __shared__ float sm_m[kWarps], sm_l[kWarps];
  __shared__ float sm_acc[kWarps][EPL * 32];
  const uint32_t h = blockIdx.x, s = blockIdx.y, t = blockIdx.z;
  const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const uint32_t hd = a.head_dim, kvh = h / (a.n_head / a.n_head_kv);
  const uint32_t n_pos = a.pos0 + t + 1;
  const uint32_t p0 = s * chunk, p1 = min(n_pos, p0 + chunk);
  const float* q = a.q + (size_t(t) * a.n_head + h) * hd;
  float qv[EPL], acc[EPL];
#pragma unroll
  for (int e = 0; e < EPL; ++e) {
    const uint32_t i = lane + 32 * e;
    qv[e] = i < hd ? q[i] * scale : 0.0f;
    acc[e] = 0.0f;
  }
  SoftmaxState st = softmax_empty();
  for (uint32_t p = p0 + warp; p < p1; p += kWarps) {
    const uint8_t* krow = kv_row(a.kv, a.page_table, p, 0) + size_t(kvh) * hd * (a.kv.f16 ? 2 : 4);
    float dot = 0.0f;
#pragma unroll
    for (int e = 0; e < EPL; ++e) {
      const uint32_t i = lane + 32 * e;
      if (i < hd) dot += qv[e] * kv_at(krow, a.kv.f16, i);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    float c_old, w_new;
    st = softmax_push(st, dot, &c_old, &w_new);
    const uint8_t* vrow = kv_row(a.kv, a.page_table, p, 1) + size_t(kvh) * hd * (a.kv.f16 ? 2 : 4);
#pragma unroll
    for (int e = 0; e < EPL; ++e) {
      const uint32_t i = lane + 32 * e;
      acc[e] = acc[e] * c_old + (i < hd ? w_new * kv_at(vrow, a.kv.f16, i) : 0.0f);
    }
  }
  if (lane == 0) sm_m[warp] = st.m, sm_l[warp] = st.l;
#pragma unroll
  for (int e = 0; e < EPL; ++e) sm_acc[warp][lane + 32 * e] = acc[e];
  __syncthreads();
  if (warp != 0) return;
  // Warp 0 merges the 4 warps' states in warp order.
  SoftmaxState m = {sm_m[0], sm_l[0]};
  float out[EPL];
#pragma unroll
  for (int e = 0; e < EPL; ++e) out[e] = sm_acc[0][lane + 32 * e];
#pragma unroll
  for (int w = 1; w < kWarps; ++w) {
    float ca, cb;
    m = softmax_combine(m, {sm_m[w], sm_l[w]}, &ca, &cb);
#pragma unroll
    for (int e = 0; e < EPL; ++e) out[e] = out[e] * ca + sm_acc[w][lane + 32 * e] * cb;
  }
  float* dst = ws + ((size_t(t) * a.n_head + h) * n_splits + s) * (2 + hd);
  if (lane == 0) dst[0] = m.m, dst[1] = m.l;
#pragma unroll
  for (int e = 0; e < EPL; ++e) {
    const uint32_t i = lane + 32 * e;
    if (i < hd) dst[2 + i] = out[e];
  }
}

// out[t][h] = merged acc / l over the splits; one thread per head element.
__global__ void merge_splits(const float* __restrict__ ws, uint32_t n_head, uint32_t head_dim, uint32_t n_splits,
                             float* __restrict__ out) {
  const uint32_t h = blockIdx.x, t = blockIdx.y, i = threadIdx.x;
  if (i >= head_dim) return;
  const float* src = ws + (size_t(t) * n_head + h) * n_splits * (2 + head_dim);
  SoftmaxState m = softmax_empty();
  float acc = 0.0f;
  for (uint32_t s = 0; s < n_splits; ++s) {
    const float* part = src + size_t(s) * (2 + head_dim);
    float ca, cb;
    m = softmax_combine(m, {part[0], part[1]}, &ca, &cb);
    acc = acc * ca + (cb == 0.0f ? 0.0f : part[2 + i] * cb);
  }
  out[(size_t(t) * n_head + h) * head_dim + i] = acc / m.l;
}

// Query rows per launch: bounds the grid's z (65535) and the workspace (4096 rows of 32 heads of
// 128 elements: 68 MB at one split; long prompts take one split).
constexpr uint32_t kMaxRows = 4096;

AttentionConfig config_of(const AttentionArgs& a, uint32_t n_sm) {
  return pick_attention(a.pos0 + a.n, a.head_dim, a.n_head, a.n, n_sm);
}

cudaError_t attention_rows(const AttentionArgs& a, float* workspace, uint32_t n_sm, cudaStream_t stream);

}  // namespace

size_t attention_workspace_floats(const AttentionArgs& a, uint32_t n_sm) {
  size_t most = 0;
  for (uint32_t r0 = 0; r0 < a.n; r0 += kMaxRows) {
    AttentionArgs part = a;
    part.n = a.n - r0 < kMaxRows ? a.n - r0 : kMaxRows;
    part.pos0 = a.pos0 + r0;
    const AttentionConfig c = config_of(part, n_sm);
    most = std::max(most, size_t(part.n) * a.n_head * c.n_splits * (2 + a.head_dim));
  }
  return most;
}

cudaError_t attention(const AttentionArgs& a, float* workspace, uint32_t n_sm, cudaStream_t stream) {
  const size_t q_dim = size_t(a.n_head) * a.head_dim;
  for (uint32_t r0 = 0; r0 < a.n; r0 += kMaxRows) {
    AttentionArgs part = a;
    part.n = a.n - r0 < kMaxRows ? a.n - r0 : kMaxRows;
    part.pos0 = a.pos0 + r0;
    part.q = a.q + r0 * q_dim;
    part.out = a.out + r0 * q_dim;
    INGOT_CUDA_RETURN_IF(attention_rows(part, workspace, n_sm, stream));
  }
  return cudaSuccess;
}

namespace {

cudaError_t attention_rows(const AttentionArgs& a, float* workspace, uint32_t n_sm, cudaStream_t stream) {
  if (a.n == 0) return cudaSuccess;
  if (a.n_head_kv == 0 || a.n_head % a.n_head_kv != 0) return cudaErrorInvalidValue;
  const AttentionConfig c = config_of(a, n_sm);
  if (c.epl == 0) return cudaErrorInvalidValue;  // head_dim > 256
  const float scale = 1.0f / sqrtf(float(a.head_dim));
  const dim3 grid(a.n_head, c.n_splits, a.n);
  switch (c.epl) {
    case 1: attend_split<1><<<grid, kWarps * 32, 0, stream>>>(a, c.chunk, c.n_splits, scale, workspace); break;
    case 2: attend_split<2><<<grid, kWarps * 32, 0, stream>>>(a, c.chunk, c.n_splits, scale, workspace); break;
    case 4: attend_split<4><<<grid, kWarps * 32, 0, stream>>>(a, c.chunk, c.n_splits, scale, workspace); break;
    default: attend_split<8><<<grid, kWarps * 32, 0, stream>>>(a, c.chunk, c.n_splits, scale, workspace); break;
  }
  INGOT_CUDA_RETURN_IF(cudaGetLastError());
  const unsigned threads = (a.head_dim + 31) / 32 * 32;
  merge_splits<<<dim3(a.n_head, a.n), threads, 0, stream>>>(workspace, a.n_head, a.head_dim, c.n_splits, a.out);
  return cudaGetLastError();
}

}  // namespace

}  // namespace ingot::cuda
