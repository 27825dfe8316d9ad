// Embedding gather: x (n, dim) = rows tokens[t] of the table, widened to f32; one block a row.
// Token ids are checked by the forward pass before they reach the device.
#include "cuda/check.h"
#include "cuda/ops.h"
#include "cuda/weight_load.cuh"

namespace ingot::cuda {
namespace {

template <WeightType T>
__global__ void embed_kernel(const void* __restrict__ table, uint32_t dim, const int32_t* __restrict__ tokens,
                             float* __restrict__ x) {
  const size_t src = size_t(tokens[blockIdx.x]) * dim;
  float* dst = x + size_t(blockIdx.x) * dim;
  for (uint32_t i = threadIdx.x; i < dim; i += blockDim.x) dst[i] = weight_at<T>(table, src + i);
}

}  // namespace

cudaError_t embed(const void* table, WeightType type, uint32_t dim, const int32_t* tokens, uint32_t n, float* x,
                  cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  switch (type) {
    case WeightType::f32: embed_kernel<WeightType::f32><<<n, 256, 0, stream>>>(table, dim, tokens, x); break;
    case WeightType::f16: embed_kernel<WeightType::f16><<<n, 256, 0, stream>>>(table, dim, tokens, x); break;
    case WeightType::bf16: embed_kernel<WeightType::bf16><<<n, 256, 0, stream>>>(table, dim, tokens, x); break;
  }
  return cudaGetLastError();
}

}  // namespace ingot::cuda
