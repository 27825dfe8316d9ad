// Quantized matrix-vector and small-batch products, GPTQ layout, read as the container holds it.
//
// Word path (groups of whole units, no act-order, out % 4 == 0): a warp reads one unit row of
// 128 columns with 16-byte loads, 4 columns a lane — a unit is one word for b ∈ {2, 4, 8}, and
// for b = 3 the three word rows that hold 32 values (q3_value) —; the 8 warps of a block take
// interleaved unit rows of its k-chunk, each unit is dequantized in registers by the group-sum
// identity Σ W·x = scale · (Σ q·x − zero · Σ x) (quant_math.cuh), and the warps' sums meet in
// shared memory. Generic path: one column a thread, value by value (stream_value), for
// act-order and odd shapes. Either splits k over blocks when the columns alone cannot fill the
// device; the partial sums are added by a second kernel, in a fixed order (deterministic).
#include "cuda/check.h"
#include "cuda/launch.h"
#include "cuda/ops.h"
#include "cuda/quant_math.cuh"

namespace ingot::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float load_scale(const uint16_t* scales, uint32_t i) {
  return f16_bits_to_float(__ldg(scales + i));
}

// The word path's block result: each warp's acc (its lane's 4 columns of each batch row) added in
// warp order, y_part (blockIdx.y, n, out) for the block's 128 columns.
template <int NB>
__device__ void store_warp_sums(const float (&acc)[NB][4], uint32_t n, uint32_t out, float* __restrict__ y) {
  __shared__ float part[kThreads / 32][128];
  const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int b = 0; b < NB; ++b) {
    if (uint32_t(b) >= n) break;
#pragma unroll
    for (int v = 0; v < 4; ++v) part[warp][lane * 4 + v] = acc[b][v];
    __syncthreads();
    if (threadIdx.x < 128) {
      float s = 0.0f;
      for (uint32_t i = 0; i < kThreads / 32; ++i) s += part[i][threadIdx.x];
      const uint32_t o = blockIdx.x * 128 + threadIdx.x;
      if (o < out) y[(size_t(blockIdx.y) * n + b) * out + o] = s;
    }
    __syncthreads();
  }
}

// y_part (n, out) for word rows [blockIdx.y · k_chunk, +k_chunk) of columns
// [blockIdx.x · 128, +128). NB: rows of x carried in registers (acc[NB][4]).
template <int BITS, int NB>
__global__ void __launch_bounds__(kThreads) gemv_word(QuantWeight w, const float* __restrict__ x, uint32_t n,
                                                        uint32_t k_chunk, float* __restrict__ y) {
  constexpr uint32_t kPer = 32 / BITS;
  const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = kThreads / 32;
  const uint32_t col = blockIdx.x * 128 + lane * 4;
  const uint32_t n_words = (w.in * BITS + 31) / 32;
  const uint32_t r0 = blockIdx.y * k_chunk, r1 = min(n_words, r0 + k_chunk);
  float acc[NB][4];
#pragma unroll
  for (int b = 0; b < NB; ++b) {
#pragma unroll
    for (int v = 0; v < 4; ++v) acc[b][v] = 0.0f;
  }
  if (col < w.out) {
    for (uint32_t r = r0 + warp; r < r1; r += n_warps) {
      const uint4 q = __ldg(reinterpret_cast<const uint4*>(w.qweight + size_t(r) * w.out + col));
      const uint32_t words[4] = {q.x, q.y, q.z, q.w};
      const uint32_t k0 = r * kPer;
      const uint32_t g = w.group_size < 0 ? 0u : k0 / uint32_t(w.group_size);
      float sc[4], z[4];
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        sc[v] = load_scale(w.scales, g * w.out + col + v);
        z[v] = zero_point(w.zeros, w.out, g, col + v, BITS);
      }
      const uint32_t valid = min(kPer, w.in - k0);  // the last word of a column may hold padding
#pragma unroll
      for (int b = 0; b < NB; ++b) {
        if (uint32_t(b) >= n) break;
        float xv[kPer];
        float xsum = 0.0f;
#pragma unroll
        for (uint32_t j = 0; j < kPer; ++j) {
          xv[j] = j < valid ? __ldg(x + size_t(b) * w.in + k0 + j) : 0.0f;
          xsum += xv[j];
        }
#pragma unroll
        for (int v = 0; v < 4; ++v) acc[b][v] += sc[v] * (word_qdot<BITS>(words[v], xv) - z[v] * xsum);
      }
    }
  }
  store_warp_sums<NB>(acc, n, w.out, y);
}

// The 3-bit word path: unit rows [blockIdx.y · k_chunk, +k_chunk) of 32 values each (word rows
// 3u, 3u + 1, 3u + 2; the last unit of a column may have fewer word rows, read as zeros), taken
// 8 values at a time so that few of x's values are held in registers.
template <int NB>
__global__ void __launch_bounds__(kThreads) gemv_word3(QuantWeight w, const float* __restrict__ x, uint32_t n,
                                                         uint32_t k_chunk, float* __restrict__ y) {
  const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = kThreads / 32;
  const uint32_t col = blockIdx.x * 128 + lane * 4;
  const uint32_t n_words = (w.in * 3 + 31) / 32, n_units = (w.in + 31) / 32;
  const uint32_t u0 = blockIdx.y * k_chunk, u1 = min(n_units, u0 + k_chunk);
  float acc[NB][4];
#pragma unroll
  for (int b = 0; b < NB; ++b) {
#pragma unroll
    for (int v = 0; v < 4; ++v) acc[b][v] = 0.0f;
  }
  if (col < w.out) {
    for (uint32_t u = u0 + warp; u < u1; u += n_warps) {
      uint4 q[3];
#pragma unroll
      for (uint32_t i = 0; i < 3; ++i) {
        const uint32_t r = 3 * u + i;
        q[i] = r < n_words ? __ldg(reinterpret_cast<const uint4*>(w.qweight + size_t(r) * w.out + col))
                           : make_uint4(0, 0, 0, 0);
      }
      const uint32_t w0[4] = {q[0].x, q[0].y, q[0].z, q[0].w}, w1[4] = {q[1].x, q[1].y, q[1].z, q[1].w},
                     w2[4] = {q[2].x, q[2].y, q[2].z, q[2].w};
      const uint32_t k0 = u * 32;
      const uint32_t g = w.group_size < 0 ? 0u : k0 / uint32_t(w.group_size);
      float sc[4], z[4];
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        sc[v] = load_scale(w.scales, g * w.out + col + v);
        z[v] = zero_point(w.zeros, w.out, g, col + v, 3);
      }
      const uint32_t valid = min(32u, w.in - k0);
      // Chunk by chunk, every row: one chunk's values are extracted once for all NB rows (all 32
      // values × 4 columns at once would not fit the registers beside NB = 16 rows' sums). The
      // group identity holds per chunk: the chunk's values share the unit's scale and zero.
#pragma unroll
      for (int c = 0; c < 4; ++c) {
#pragma unroll
        for (int b = 0; b < NB; ++b) {
          if (uint32_t(b) >= n) break;
          float xv[8], xsum = 0.0f;
#pragma unroll
          for (int j = 0; j < 8; ++j) {
            const uint32_t kk = uint32_t(c * 8 + j);
            xv[j] = kk < valid ? __ldg(x + size_t(b) * w.in + k0 + kk) : 0.0f;
            xsum += xv[j];
          }
#pragma unroll
          for (int v = 0; v < 4; ++v) acc[b][v] += sc[v] * (q3_dot8(w0[v], w1[v], w2[v], c, xv) - z[v] * xsum);
        }
      }
    }
  }
  store_warp_sums<NB>(acc, n, w.out, y);
}

// y_part (n, out) for input columns [blockIdx.y · k_chunk, +k_chunk), one output column a thread.
template <int NB>
__global__ void __launch_bounds__(kThreads) gemv_generic(QuantWeight w, const float* __restrict__ x, uint32_t n,
                                                           uint32_t k_chunk, float* __restrict__ y) {
  const uint32_t o = blockIdx.x * kThreads + threadIdx.x;
  if (o >= w.out) return;
  const uint32_t k0 = blockIdx.y * k_chunk, k1 = min(w.in, k0 + k_chunk);
  float acc[NB];
#pragma unroll
  for (int b = 0; b < NB; ++b) acc[b] = 0.0f;
  uint32_t g_cur = 0xffffffffu;
  float sc = 0.0f, z = 0.0f;
  for (uint32_t k = k0; k < k1; ++k) {
    const uint32_t g = group_of(w.g_idx, w.group_size, k);
    if (g != g_cur) {
      g_cur = g;
      sc = load_scale(w.scales, g * w.out + o);
      z = zero_point(w.zeros, w.out, g, o, w.bits);
    }
    const float wv = dequant_value(stream_value(w.qweight + o, w.out, k, w.bits), z, sc);
#pragma unroll
    for (int b = 0; b < NB; ++b) {
      if (uint32_t(b) < n) acc[b] += wv * __ldg(x + size_t(b) * w.in + k);
    }
  }
#pragma unroll
  for (int b = 0; b < NB; ++b) {
    if (uint32_t(b) < n) y[(size_t(blockIdx.y) * n + b) * w.out + o] = acc[b];
  }
}

// y (n, out) = Σ_s part (k_split, n, out), s in order.
__global__ void sum_splits(const float* __restrict__ part, uint32_t k_split, size_t count, float* __restrict__ y) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  float s = 0.0f;
  for (uint32_t k = 0; k < k_split; ++k) s += part[size_t(k) * count + i];
  y[i] = s;
}

template <int NB>
cudaError_t launch_nb(const QuantWeight& w, const QuantGemvConfig& c, const float* x, uint32_t n, float* dst,
                      cudaStream_t stream) {
  const dim3 grid(c.col_blocks, c.k_split);
  if (c.path == QuantPath::generic) {
    gemv_generic<NB><<<grid, kThreads, 0, stream>>>(w, x, n, c.k_chunk, dst);
    return cudaGetLastError();
  }
  switch (w.bits) {
    case 3: gemv_word3<NB><<<grid, kThreads, 0, stream>>>(w, x, n, c.k_chunk, dst); break;
    case 2: gemv_word<2, NB><<<grid, kThreads, 0, stream>>>(w, x, n, c.k_chunk, dst); break;
    case 4: gemv_word<4, NB><<<grid, kThreads, 0, stream>>>(w, x, n, c.k_chunk, dst); break;
    case 8: gemv_word<8, NB><<<grid, kThreads, 0, stream>>>(w, x, n, c.k_chunk, dst); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

QuantGemvConfig config_of(const QuantWeight& w, uint32_t n, uint32_t n_sm) {
  const bool aligned = (reinterpret_cast<uintptr_t>(w.qweight) & 15u) == 0;
  return pick_quant_gemv(w.out, w.in, n, w.bits, w.group_size, w.g_idx != nullptr, aligned, n_sm);
}

}  // namespace

size_t quant_gemv_workspace_floats(const QuantWeight& w, uint32_t n, uint32_t n_sm) {
  return quant_gemv_workspace(config_of(w, n < 16 ? n : 16, n_sm), w.out);
}

cudaError_t quant_gemv(const QuantWeight& w, const float* x, uint32_t n, float* y, float* workspace, uint32_t n_sm,
                       cudaStream_t stream) {
  if (w.bits != 2 && w.bits != 3 && w.bits != 4 && w.bits != 8) return cudaErrorInvalidValue;
  // Chunks of up to 16 rows. Instantiated widths 1, 2, 4, 8, 16 (launch.h batch_width): decode
  // of one sequence, and batches of 2–16 sequences rounded up to the next width, the unused rows
  // skipped at run time; more widths would multiply compile time for little gain.
  for (uint32_t r0 = 0; r0 < n; r0 += 16) {
    const uint32_t m = n - r0 < 16 ? n - r0 : 16;
    const QuantGemvConfig c = config_of(w, m, n_sm);
    const float* xr = x + size_t(r0) * w.in;
    float* yr = y + size_t(r0) * w.out;
    float* dst = c.k_split > 1 ? workspace : yr;
    if (c.k_split > 1 && workspace == nullptr) return cudaErrorInvalidValue;
    switch (c.nb) {
      case 1: INGOT_CUDA_RETURN_IF(launch_nb<1>(w, c, xr, m, dst, stream)); break;
      case 2: INGOT_CUDA_RETURN_IF(launch_nb<2>(w, c, xr, m, dst, stream)); break;
      case 4: INGOT_CUDA_RETURN_IF(launch_nb<4>(w, c, xr, m, dst, stream)); break;
      case 8: INGOT_CUDA_RETURN_IF(launch_nb<8>(w, c, xr, m, dst, stream)); break;
      default: INGOT_CUDA_RETURN_IF(launch_nb<16>(w, c, xr, m, dst, stream)); break;
    }
    if (c.k_split > 1) {
      const size_t count = size_t(m) * w.out;
      sum_splits<<<unsigned((count + 255) / 256), 256, 0, stream>>>(workspace, c.k_split, count, yr);
      INGOT_CUDA_RETURN_IF(cudaGetLastError());
    }
  }
  return cudaSuccess;
}

}  // namespace ingot::cuda
