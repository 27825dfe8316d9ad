// RMSNorm, one block per row: out = x / sqrt(mean(x²) + eps) · weight. Instantiated for the three
// weight types the container holds for norms (f32, f16, bf16).
#include "cuda/check.h"
#include "cuda/ops.h"
#include "cuda/weight_load.cuh"

namespace ingot::cuda {
namespace {

constexpr int kThreads = 256;

template <WeightType T>
__global__ void __launch_bounds__(kThreads) rmsnorm_kernel(const float* __restrict__ x, uint32_t dim,
                                                             const void* __restrict__ weight, float eps,
                                                             float* __restrict__ out) {
  __shared__ float warp_sums[kThreads / 32];
  const float* xr = x + size_t(blockIdx.x) * dim;
  float s = 0.0f;
  for (uint32_t i = threadIdx.x; i < dim; i += kThreads) s += xr[i] * xr[i];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = s;
  __syncthreads();
  float total = 0.0f;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) total += warp_sums[w];
  const float inv = rsqrtf(total / float(dim) + eps);
  float* orow = out + size_t(blockIdx.x) * dim;
  for (uint32_t i = threadIdx.x; i < dim; i += kThreads) orow[i] = xr[i] * inv * weight_at<T>(weight, i);
}

}  // namespace

cudaError_t rmsnorm(const float* x, uint32_t n, uint32_t dim, const void* weight, WeightType type, float eps,
                    float* out, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  switch (type) {
    case WeightType::f32: rmsnorm_kernel<WeightType::f32><<<n, kThreads, 0, stream>>>(x, dim, weight, eps, out); break;
    case WeightType::f16: rmsnorm_kernel<WeightType::f16><<<n, kThreads, 0, stream>>>(x, dim, weight, eps, out); break;
    case WeightType::bf16: rmsnorm_kernel<WeightType::bf16><<<n, kThreads, 0, stream>>>(x, dim, weight, eps, out); break;
  }
  return cudaGetLastError();
}

}  // namespace ingot::cuda
