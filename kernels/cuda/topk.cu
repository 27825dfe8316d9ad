// Top-k on the device: each row's k best candidates (logit, id) in the host sampler's order
// (sampling_math.cuh: higher logit first, ties to the lower id, NaN last), best first, so that
// a sampler with top-k reads k pairs instead of the whole row of logits.
//
// One block a row. Radix selection over order_key (four passes of 8-bit digits, each a shared
// histogram of the candidates still in play) finds the key T of the k-th best: fewer than k
// candidates have a key above T, and the rest are the lowest ids of those equal to T, taken in
// id order by a block-wide count of each tile. The k candidates are then sorted in shared memory
// (bitonic, padded to a power of two with a candidate that ranks last).
#include <cmath>

#include "cuda/check.h"
#include "cuda/ops.h"
#include "cuda/sampling_math.cuh"

namespace ingot::cuda {
namespace {

constexpr unsigned kThreads = 1024;  // a 128256-logit row is 126 loads a thread and pass
constexpr unsigned kWarps = kThreads / 32;

__global__ void __launch_bounds__(kThreads) top_k_rows_kernel(const float* __restrict__ x, uint32_t width,
                                                                uint32_t k, Candidate* __restrict__ out) {
  const float* row = x + size_t(blockIdx.x) * width;
  __shared__ uint32_t hist[256];
  __shared__ uint32_t s_prefix, s_want, s_taken;
  __shared__ uint32_t warp_ties[kWarps];
  __shared__ Candidate cand[kMaxTopK];
  const unsigned tid = threadIdx.x, lane = tid % 32, warp = tid / 32;

  // Selection: after the pass at `shift`, `prefix` holds T's digits from bit `shift` up and
  // `want` how many of the candidates with those digits are still to be taken.
  uint32_t prefix = 0, mask = 0, want = k;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (unsigned d = tid; d < 256; d += kThreads) hist[d] = 0;
    __syncthreads();
    // Warp-aggregated counts: a row's logits share few leading digits, so one shared atomic a
    // digit and warp (its lanes' count) instead of one a lane.
    for (uint32_t base = 0; base < width; base += kThreads) {
      const uint32_t i = base + tid;
      uint32_t digit = 256;  // not counted
      if (i < width) {
        const uint32_t key = order_key(row[i]);
        if ((key & mask) == prefix) digit = (key >> shift) & 255u;
      }
      const unsigned peers = __match_any_sync(0xffffffffu, digit);
      if (digit < 256 && lane == unsigned(__ffs(peers) - 1)) atomicAdd(&hist[digit], unsigned(__popc(peers)));
    }
    __syncthreads();
    if (tid == 0) {
      const RadixPick p = radix_pick(hist, want);
      s_prefix = prefix | (p.digit << shift);
      s_want = want - p.above;
    }
    __syncthreads();
    prefix = s_prefix;
    want = s_want;
    mask |= 255u << shift;
  }
  // Collection: the k − want candidates above T in any order (sorted below), then the `want`
  // lowest ids with key T in id order, tile by tile.
  const uint32_t threshold = prefix, n_above = k - want;
  if (tid == 0) s_taken = 0;
  __syncthreads();
  uint32_t ties_before = 0;  // ties in the tiles before this one (the same in every thread)
  for (uint32_t base = 0; base < width; base += kThreads) {
    const uint32_t i = base + tid;
    const float logit = i < width ? row[i] : 0.0f;
    const uint32_t key = order_key(logit);
    const bool inside = i < width;
    if (inside && key > threshold) cand[atomicAdd(&s_taken, 1u)] = Candidate{logit, int32_t(i)};
    const bool tie = inside && key == threshold;
    const unsigned ballot = __ballot_sync(0xffffffffu, tie);
    if (lane == 0) warp_ties[warp] = unsigned(__popc(ballot));
    __syncthreads();
    uint32_t rank = ties_before + unsigned(__popc(ballot & ((1u << lane) - 1u)));
    uint32_t tile_ties = 0;
    for (unsigned w = 0; w < kWarps; ++w) {
      if (w < warp) rank += warp_ties[w];
      tile_ties += warp_ties[w];
    }
    if (tie && rank < want) cand[n_above + rank] = Candidate{logit, int32_t(i)};
    ties_before += tile_ties;
    const bool done = ties_before >= want && s_taken == n_above;
    __syncthreads();  // warp_ties and s_taken are read before the next tile writes them
    if (done) break;
  }
  // Sort: k candidates padded to a power of two.
  uint32_t padded = 1;
  while (padded < k) padded *= 2;
  for (uint32_t j = k + tid; j < padded; j += kThreads) cand[j] = Candidate{NAN, INT32_MAX};
  for (uint32_t size = 2; size <= padded; size *= 2) {
    for (uint32_t stride = size / 2; stride > 0; stride /= 2) {
      __syncthreads();
      for (uint32_t a = tid; a < padded; a += kThreads) {
        const uint32_t b = a ^ stride;
        if (b <= a) continue;
        const Candidate ca = cand[a], cb = cand[b];
        const bool first_half = (a & size) == 0;  // this run ends best first; the other best last
        if (first_half ? ranks_before(cb, ca) : ranks_before(ca, cb)) {
          cand[a] = cb;
          cand[b] = ca;
        }
      }
    }
  }
  __syncthreads();
  for (uint32_t j = tid; j < k; j += kThreads) out[size_t(blockIdx.x) * k + j] = cand[j];
}

}  // namespace

cudaError_t top_k_rows(const float* x, uint32_t n, uint32_t width, uint32_t k, Candidate* out, cudaStream_t stream) {
  if (k > kMaxTopK || k > width) return cudaErrorInvalidValue;
  if (n == 0 || k == 0) return cudaSuccess;
  top_k_rows_kernel<<<n, kThreads, 0, stream>>>(x, width, k, out);
  return cudaGetLastError();
}

}  // namespace ingot::cuda
