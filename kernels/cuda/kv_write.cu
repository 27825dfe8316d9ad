// Stores rows of k and v in the device KV pages (f16, round to nearest even as cpu::f32_to_f16,
// or f32), one block a row.
#include <cuda_fp16.h>

#include "cuda/check.h"
#include "cuda/ops.h"

namespace ingot::cuda {
namespace {

__global__ void kv_write_kernel(uint8_t* __restrict__ pages, bool f16, uint32_t kv_dim, const float* __restrict__ k,
                                const float* __restrict__ v, const uint64_t* __restrict__ k_off,
                                const uint64_t* __restrict__ v_off) {
  const size_t row = blockIdx.x;
  for (uint32_t i = threadIdx.x; i < kv_dim; i += blockDim.x) {
    const float kv[2] = {k[row * kv_dim + i], v[row * kv_dim + i]};
    const uint64_t off[2] = {k_off[row], v_off[row]};
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      if (f16) {
        reinterpret_cast<__half*>(pages + off[j])[i] = __float2half_rn(kv[j]);
      } else {
        reinterpret_cast<float*>(pages + off[j])[i] = kv[j];
      }
    }
  }
}

}  // namespace

cudaError_t kv_write(uint8_t* pages, bool f16, uint32_t kv_dim, const float* k, const float* v, const uint64_t* k_off,
                     const uint64_t* v_off, uint32_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  kv_write_kernel<<<n, 128, 0, stream>>>(pages, f16, kv_dim, k, v, k_off, v_off);
  return cudaGetLastError();
}

}  // namespace ingot::cuda
