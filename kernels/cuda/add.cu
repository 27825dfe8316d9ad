// Residual add: x += y, element-wise.
#include "cuda/check.h"
#include "cuda/ops.h"

namespace ingot::cuda {
namespace {

__global__ void add_kernel(float* __restrict__ x, const float* __restrict__ y, size_t count) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) x[i] += y[i];
}

}  // namespace

cudaError_t add(float* x, const float* y, size_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  add_kernel<<<unsigned((count + 255) / 256), 256, 0, stream>>>(x, y, count);
  return cudaGetLastError();
}

}  // namespace ingot::cuda
