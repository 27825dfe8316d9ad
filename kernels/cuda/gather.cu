// Column gather for act-order weights stored sorted (GptqPackedKSorted, cpu/quant.h):
// out[t][j] = x[t][order[j]], so the GEMV sees x in the weight's stored column order.
#include "cuda/check.h"
#include "cuda/ops.h"

namespace ingot::cuda {
namespace {

__global__ void gather_columns_kernel(const float* __restrict__ x, uint32_t cols, const int32_t* __restrict__ order,
                                      float* __restrict__ out, size_t count) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const size_t t = i / cols, j = i % cols;
  out[i] = x[t * cols + size_t(order[j])];
}

}  // namespace

cudaError_t gather_columns(const float* x, uint32_t n, uint32_t cols, const int32_t* order, float* out,
                           cudaStream_t stream) {
  const size_t count = size_t(n) * cols;
  if (count == 0) return cudaSuccess;
  gather_columns_kernel<<<unsigned((count + 255) / 256), 256, 0, stream>>>(x, cols, order, out, count);
  return cudaGetLastError();
}

}  // namespace ingot::cuda
