// SwiGLU: gate = silu(gate) · up, element-wise (expf, not the fast __expf: the CPU reference's
// std::exp within a few ulp).
#include "cuda/check.h"
#include "cuda/ops.h"

namespace ingot::cuda {
namespace {

__global__ void swiglu_kernel(float* __restrict__ gate, const float* __restrict__ up, size_t count) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const float g = gate[i];
  gate[i] = g / (1.0f + expf(-g)) * up[i];
}

}  // namespace

cudaError_t swiglu(float* gate, const float* up, size_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  swiglu_kernel<<<unsigned((count + 255) / 256), 256, 0, stream>>>(gate, up, count);
  return cudaGetLastError();
}

}  // namespace ingot::cuda
