// y (n, out) = x (n, in) · Wᵀ for f32/f16/bf16 weights (out, in) row-major: the output layer and
// unquantized models. One warp per output row; with aligned rows each lane reads 16 bytes at a
// time (4 f32 or 8 f16/bf16) and the warp's loads of a row are contiguous; the warp's partial
// sums meet by shuffles. Instantiations: the 3 weight types × batch widths 1, 2, 4, 8, 16
// (launch.h batch_width) × vectorised or not.
#include "cuda/check.h"
#include "cuda/launch.h"
#include "cuda/ops.h"
#include "cuda/weight_load.cuh"

namespace ingot::cuda {
namespace {

constexpr int kThreads = 256;

// VEC elements of W from element i: one plain load (VEC 1) or one 16-byte load.
template <WeightType T, int VEC>
__device__ __forceinline__ void load_vec(const void* w, size_t i, float* out) {
  if constexpr (VEC == 1) {
    out[0] = weight_at<T>(w, i);
  } else {
    static_assert(VEC == (T == WeightType::f32 ? 4 : 8), "one 16-byte load");
    const uint4 q = __ldg(reinterpret_cast<const uint4*>(static_cast<const uint8_t*>(w) +
                                                         i * (T == WeightType::f32 ? 4 : 2)));
    const uint32_t words[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if constexpr (T == WeightType::f32) {
        out[j] = __uint_as_float(words[j]);
      } else if constexpr (T == WeightType::f16) {
        out[2 * j] = f16_bits_to_float(uint16_t(words[j] & 0xffffu));
        out[2 * j + 1] = f16_bits_to_float(uint16_t(words[j] >> 16));
      } else {
        out[2 * j] = bf16_bits_to_float(uint16_t(words[j] & 0xffffu));
        out[2 * j + 1] = bf16_bits_to_float(uint16_t(words[j] >> 16));
      }
    }
  }
}

template <WeightType T, int NB, int VEC>
__global__ void __launch_bounds__(kThreads) gemv_dense_kernel(const void* __restrict__ w, uint32_t out, uint32_t in,
                                                                const float* __restrict__ x, uint32_t n,
                                                                float* __restrict__ y) {
  const uint32_t lane = threadIdx.x & 31;
  const uint32_t row = blockIdx.x * (kThreads / 32) + (threadIdx.x >> 5);
  if (row >= out) return;
  float acc[NB];
#pragma unroll
  for (int b = 0; b < NB; ++b) acc[b] = 0.0f;
  const size_t base = size_t(row) * in;
  for (uint32_t k = lane * VEC; k < in; k += 32 * VEC) {
    float wv[VEC];
    load_vec<T, VEC>(w, base + k, wv);
#pragma unroll
    for (int b = 0; b < NB; ++b) {
      if (uint32_t(b) >= n) break;
      const float* xb = x + size_t(b) * in + k;
#pragma unroll
      for (int j = 0; j < VEC; ++j) acc[b] += wv[j] * __ldg(xb + j);
    }
  }
#pragma unroll
  for (int b = 0; b < NB; ++b) {
    float s = acc[b];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0 && uint32_t(b) < n) y[size_t(b) * out + row] = s;
  }
}

template <WeightType T, int NB>
cudaError_t launch(const DenseGemvConfig& c, const void* w, uint32_t out, uint32_t in, const float* x, uint32_t n,
                   float* y, cudaStream_t stream) {
  constexpr int kVec = T == WeightType::f32 ? 4 : 8;
  if (c.vec == 1) {
    gemv_dense_kernel<T, NB, 1><<<c.blocks, kThreads, 0, stream>>>(w, out, in, x, n, y);
  } else {
    gemv_dense_kernel<T, NB, kVec><<<c.blocks, kThreads, 0, stream>>>(w, out, in, x, n, y);
  }
  return cudaGetLastError();
}

template <WeightType T>
cudaError_t launch_type(const DenseGemvConfig& c, const void* w, uint32_t out, uint32_t in, const float* x,
                        uint32_t n, float* y, cudaStream_t stream) {
  switch (c.nb) {
    case 1: return launch<T, 1>(c, w, out, in, x, n, y, stream);
    case 2: return launch<T, 2>(c, w, out, in, x, n, y, stream);
    case 4: return launch<T, 4>(c, w, out, in, x, n, y, stream);
    case 8: return launch<T, 8>(c, w, out, in, x, n, y, stream);
    default: return launch<T, 16>(c, w, out, in, x, n, y, stream);
  }
}

}  // namespace

cudaError_t dense_gemv(const void* w, WeightType type, uint32_t out, uint32_t in, const float* x, uint32_t n,
                       float* y, cudaStream_t stream) {
  const uint32_t elem = type == WeightType::f32 ? 4 : 2;
  const bool aligned = (reinterpret_cast<uintptr_t>(w) & 15u) == 0;
  for (uint32_t r0 = 0; r0 < n; r0 += 16) {
    const uint32_t m = n - r0 < 16 ? n - r0 : 16;
    const DenseGemvConfig c = pick_dense_gemv(out, in, m, elem, aligned);
    const float* xr = x + size_t(r0) * in;
    float* yr = y + size_t(r0) * out;
    switch (type) {
      case WeightType::f32: INGOT_CUDA_RETURN_IF(launch_type<WeightType::f32>(c, w, out, in, xr, m, yr, stream)); break;
      case WeightType::f16: INGOT_CUDA_RETURN_IF(launch_type<WeightType::f16>(c, w, out, in, xr, m, yr, stream)); break;
      case WeightType::bf16: INGOT_CUDA_RETURN_IF(launch_type<WeightType::bf16>(c, w, out, in, xr, m, yr, stream)); break;
    }
  }
  return cudaSuccess;
}

}  // namespace ingot::cuda
