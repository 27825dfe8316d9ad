// The index work around the factorization of GPTQ's damped Hessian on the device (cuSOLVER does
// the factorization): the reversed damped matrix in, the upper factor U of H⁻¹ out, and GPTAQ's
// triu₁ (compiler/src/gptq/gptq.cpp inverse_factor explains the reversal: J·A·J = L̃L̃ᵀ gives
// A⁻¹ = UᵀU with U = J·L̃⁻¹·J).
#include <math.h>

#include "cuda/check.h"
#include "cuda/ops.h"

namespace ingot::cuda {
namespace {

constexpr unsigned kThreads = 256;

// Column j of b, rows i ≥ j: A[n−1−i][n−1−j] (+ damp on the diagonal); above it zero.
__global__ void reversed_damped_kernel(const float* __restrict__ h, uint32_t n, double damp, double* __restrict__ b) {
  const size_t idx = size_t(blockIdx.x) * kThreads + threadIdx.x;
  if (idx >= size_t(n) * n) return;
  const uint32_t j = uint32_t(idx / n), i = uint32_t(idx % n);  // b[i + j·n]
  double v = 0.0;
  if (i >= j) {
    v = double(h[size_t(n - 1 - j) * n + (n - 1 - i)]);
    if (i == j) v += damp;
  }
  b[idx] = v;
}

// U[i][j] = L̃⁻¹[n−1−i][n−1−j] for j ≥ i, 0 below.
__global__ void upper_from_reversed_kernel(const double* __restrict__ b, uint32_t n, double* __restrict__ u,
                                           int32_t* __restrict__ bad) {
  const size_t idx = size_t(blockIdx.x) * kThreads + threadIdx.x;
  if (idx >= size_t(n) * n) return;
  const uint32_t i = uint32_t(idx / n), j = uint32_t(idx % n);
  double v = 0.0;
  if (j >= i) {
    v = b[size_t(n - 1 - j) * n + (n - 1 - i)];  // column n−1−j, row n−1−i of L̃⁻¹
    if (!isfinite(v) || (i == j && !(v > 0.0))) *bad = 1;
  }
  u[idx] = v;
}

__global__ void strict_upper_kernel(double* __restrict__ a, uint32_t n) {
  const size_t idx = size_t(blockIdx.x) * kThreads + threadIdx.x;
  if (idx >= size_t(n) * n) return;
  if (idx % n <= idx / n) a[idx] = 0.0;
}

unsigned blocks_for(uint32_t n) { return unsigned((size_t(n) * n + kThreads - 1) / kThreads); }

}  // namespace

cudaError_t gptq_reversed_damped(const float* h, uint32_t n, double damp, double* b, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  reversed_damped_kernel<<<blocks_for(n), kThreads, 0, stream>>>(h, n, damp, b);
  return cudaGetLastError();
}

cudaError_t gptq_upper_from_reversed(const double* b, uint32_t n, double* u, int32_t* bad, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  upper_from_reversed_kernel<<<blocks_for(n), kThreads, 0, stream>>>(b, n, u, bad);
  return cudaGetLastError();
}

cudaError_t gptq_strict_upper(double* a, uint32_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  strict_upper_kernel<<<blocks_for(n), kThreads, 0, stream>>>(a, n);
  return cudaGetLastError();
}

}  // namespace ingot::cuda
