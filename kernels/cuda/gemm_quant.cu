// Prefill: y (n, out) = x (n, in) · dequant(W)ᵀ on the tensor cores, for n above the GEMV's 16
// rows. Each block computes a 64-token × 64-output tile: per K step of 32 it converts its x tile
// to f16 and dequantizes its W tile to f16 in shared memory (any width 2/3/4/8, groups, act-order
// g_idx: the GEMV's per-value arithmetic of quant_math.cuh), then its four warps each multiply a
// 32 × 32 sub-tile with mma.sync m16n8k16 (f16 inputs, f32 accumulators). A weight tile is read
// once per 64 tokens instead of once per 16 rows; the f16 rounding of x and of the dequantized
// weights is the price (stated and tested in cuda_kernels_test: relative error ≲ 2^-10 of Σ|x·w|).
//
// Instantiations: one kernel, no template: the bit width is a run-time value of the per-value
// dequantization, which is not where the time goes at 64 tokens a tile. Needs sm_80 (mma m16n8k16
// f16); the build's architectures are 80 and 90.
#include <cuda_fp16.h>

#include "cuda/check.h"
#include "cuda/launch.h"
#include "cuda/ops.h"
#include "cuda/quant_math.cuh"

namespace ingot::cuda {
namespace {

constexpr uint32_t kBM = 64, kBN = 64, kBK = 32;
constexpr uint32_t kPad = 8;  // halves of padding a shared row: rows 80 bytes apart, no bank conflicts on the fragment loads
constexpr unsigned kThreads = 128;

__device__ uint32_t pack_half2(const __half* p) { return *reinterpret_cast<const uint32_t*>(p); }

// d += a · b for one m16n8k16 tile (PTX ISA, "Matrix fragments for mma.m16n8k16"): a holds rows
// gid and gid + 8, columns 2·tig, 2·tig + 1 and those + 8; b columns gid, rows 2·tig (+1) and + 8;
// d rows gid and gid + 8, columns 2·tig (+1). gid = lane / 4, tig = lane % 4.
__device__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__global__ void __launch_bounds__(kThreads) gemm_quant_kernel(QuantWeight w, const float* __restrict__ x, uint32_t n,
                                                              float* __restrict__ y) {
  __shared__ __align__(16) __half as[kBM][kBK + kPad];  // tokens × k
  __shared__ __align__(16) __half bs[kBN][kBK + kPad];  // outputs × k
  const uint32_t t0 = blockIdx.y * kBM, o0 = blockIdx.x * kBN;
  const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32, gid = lane / 4, tig = lane % 4;
  const uint32_t wm = (warp / 2) * 32, wn = (warp % 2) * 32;  // the warp's 32 × 32 sub-tile
  float acc[2][4][4] = {};                                     // [m16 tile][n8 tile][fragment]

  for (uint32_t k0 = 0; k0 < w.in; k0 += kBK) {
    // x tile, coalesced along k; zeros past the edges (they add nothing).
    for (uint32_t i = threadIdx.x; i < kBM * kBK; i += kThreads) {
      const uint32_t r = i / kBK, c = i % kBK, t = t0 + r, k = k0 + c;
      as[r][c] = __float2half_rn(t < n && k < w.in ? x[size_t(t) * w.in + k] : 0.0f);
    }
    // W tile, coalesced along the outputs (qweight's words run along them).
    for (uint32_t i = threadIdx.x; i < kBN * kBK; i += kThreads) {
      const uint32_t c = i % kBN, r = i / kBN, o = o0 + c, k = k0 + r;
      float v = 0.0f;
      if (o < w.out && k < w.in) {
        const uint32_t g = group_of(w.g_idx, w.group_size, k);
        const float scale = __half2float(__ushort_as_half(w.scales[size_t(g) * w.out + o]));
        v = dequant_value(stream_value(w.qweight + o, w.out, k, w.bits), zero_point(w.zeros, w.out, g, o, w.bits),
                          scale);
      }
      bs[c][r] = __float2half_rn(v);
    }
    __syncthreads();
#pragma unroll
    for (uint32_t kk = 0; kk < kBK; kk += 16) {
      uint32_t a[2][4], b[4][2];
#pragma unroll
      for (int mi = 0; mi < 2; ++mi) {
        const uint32_t r = wm + mi * 16 + gid, c = kk + tig * 2;
        a[mi][0] = pack_half2(&as[r][c]);
        a[mi][1] = pack_half2(&as[r + 8][c]);
        a[mi][2] = pack_half2(&as[r][c + 8]);
        a[mi][3] = pack_half2(&as[r + 8][c + 8]);
      }
#pragma unroll
      for (int ni = 0; ni < 4; ++ni) {
        const uint32_t o = wn + ni * 8 + gid, c = kk + tig * 2;
        b[ni][0] = pack_half2(&bs[o][c]);
        b[ni][1] = pack_half2(&bs[o][c + 8]);
      }
#pragma unroll
      for (int mi = 0; mi < 2; ++mi) {
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) mma_16816(acc[mi][ni], a[mi], b[ni]);
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int mi = 0; mi < 2; ++mi) {
#pragma unroll
    for (int ni = 0; ni < 4; ++ni) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {  // rows gid and gid + 8
        const uint32_t t = t0 + wm + mi * 16 + gid + h * 8;
        const uint32_t o = o0 + wn + ni * 8 + tig * 2;
        if (t >= n) continue;
        if (o < w.out) y[size_t(t) * w.out + o] = acc[mi][ni][2 * h];
        if (o + 1 < w.out) y[size_t(t) * w.out + o + 1] = acc[mi][ni][2 * h + 1];
      }
    }
  }
}

}  // namespace

cudaError_t quant_gemm(const QuantWeight& w, const float* x, uint32_t n, float* y, cudaStream_t stream) {
  if (w.bits != 2 && w.bits != 3 && w.bits != 4 && w.bits != 8) return cudaErrorInvalidValue;
  if (n == 0 || w.out == 0) return cudaSuccess;
  const dim3 grid((w.out + kBN - 1) / kBN, (n + kBM - 1) / kBM);
  gemm_quant_kernel<<<grid, kThreads, 0, stream>>>(w, x, n, y);
  return cudaGetLastError();
}

}  // namespace ingot::cuda
