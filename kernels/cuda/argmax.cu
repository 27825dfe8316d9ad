// Greedy sampling on the device: the argmax of each row of the logits, in the host sampler's
// order (sampling_math.cuh: higher logit first, ties to the lower id, NaN last), so that only
// the token ids cross to the host.
#include <cmath>

#include "cuda/check.h"
#include "cuda/ops.h"
#include "cuda/sampling_math.cuh"

namespace ingot::cuda {
namespace {

constexpr unsigned kThreads = 256;  // 8 warps a row: a 32000-logit row is 125 loads a thread

__device__ Candidate warp_argmax(Candidate c) {
  for (int off = 16; off > 0; off /= 2) {
    Candidate o;
    o.logit = __shfl_down_sync(0xffffffffu, c.logit, off);
    o.id = __shfl_down_sync(0xffffffffu, c.id, off);
    c = argmax_combine(c, o);
  }
  return c;
}

// One block a row: each thread reduces a strided slice (coalesced loads), then the warps, then
// the warps' results. argmax_combine is associative and commutative: the tree order does not
// change the answer.
__global__ void argmax_rows_kernel(const float* __restrict__ x, uint32_t width, int32_t* __restrict__ out) {
  const float* row = x + size_t(blockIdx.x) * width;
  Candidate best{NAN, INT32_MAX};  // ranks after every candidate
  for (uint32_t i = threadIdx.x; i < width; i += kThreads) best = argmax_combine(best, Candidate{row[i], int32_t(i)});
  best = warp_argmax(best);
  __shared__ Candidate per_warp[kThreads / 32];
  const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) per_warp[warp] = best;
  __syncthreads();
  if (warp != 0) return;
  best = lane < kThreads / 32 ? per_warp[lane] : Candidate{NAN, INT32_MAX};
  best = warp_argmax(best);
  if (lane == 0) out[blockIdx.x] = best.id;
}

}  // namespace

cudaError_t argmax_rows(const float* x, uint32_t n, uint32_t width, int32_t* out, cudaStream_t stream) {
  if (n == 0 || width == 0) return cudaSuccess;
  argmax_rows_kernel<<<n, kThreads, 0, stream>>>(x, width, out);
  return cudaGetLastError();
}

}  // namespace ingot::cuda
