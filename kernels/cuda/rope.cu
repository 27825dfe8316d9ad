// RoPE, one thread per (row, head, pair): both forms (rope_math.cuh), the model's inverse
// frequencies (llama3 or linear scaling already applied by cpu::rope_inv_freq).
#include "cuda/check.h"
#include "cuda/ops.h"
#include "cuda/rope_math.cuh"

namespace ingot::cuda {
namespace {

__global__ void rope_kernel(float* __restrict__ x, uint32_t n, uint32_t n_heads, uint32_t head_dim,
                            const int32_t* __restrict__ positions, const float* __restrict__ inv_freq,
                            bool interleaved) {
  const uint32_t half = head_dim / 2;
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(n) * n_heads * half) return;
  const uint32_t pair = uint32_t(i % half);
  const size_t head = i / half;  // row · n_heads + h
  const uint32_t row = uint32_t(head / n_heads);
  float c, s;
  sincosf(rope_angle(uint32_t(positions[row]), inv_freq[pair]), &s, &c);
  unsigned a, b;
  rope_pair(interleaved, pair, head_dim, &a, &b);
  float* h = x + head * head_dim;
  rope_rotate(h + a, h + b, c, s);
}

}  // namespace

cudaError_t rope(float* x, uint32_t n, uint32_t n_heads, uint32_t head_dim, const int32_t* positions,
                 const float* inv_freq, bool interleaved, cudaStream_t stream) {
  const size_t count = size_t(n) * n_heads * (head_dim / 2);
  if (count == 0) return cudaSuccess;
  rope_kernel<<<unsigned((count + 255) / 256), 256, 0, stream>>>(x, n, n_heads, head_dim, positions, inv_freq,
                                                                 interleaved);
  return cudaGetLastError();
}

}  // namespace ingot::cuda
