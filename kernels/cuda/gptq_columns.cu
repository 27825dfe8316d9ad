// GPTQ's column loop on the device: one lazy block of columns [i1, i1 + count) for every output
// row (compiler/src/gptq/gptq_cuda.cpp runs the blocks and the lazy updates between them with
// cuBLAS). The CPU quantizer's loop (compiler/src/gptq/gptq.cpp gptq_core), row for row: the
// same order of operations on each weight, the same arithmetic (gptq_math.cuh), in double.
//
// One warp a row (rows are independent given H⁻¹). Per column j: FOEM's step, the group's grid at
// a group start (the grid search with one candidate a lane, each summing its error over the
// group in column order as the serial search does, then a reduction that keeps the serial rule),
// the rounding and error on lane 0, and the update of the block's later columns spread over the
// lanes. The row's weights stay in global memory (L1), read after __syncwarp. Compiled with
// --fmad=false (kernels/CMakeLists.txt): no multiply-add is fused, as none is in the CPU build
// (x86-64 without -mfma), so each operation rounds as the CPU's does.
#include <math.h>

#include "cuda/check.h"
#include "cuda/gptq_math.cuh"
#include "cuda/ops.h"

namespace ingot::cuda {
namespace {

constexpr unsigned kWarps = 4;  // rows a block of 128 threads

// The grid of one row's group values v[0, n) (hdiag[0, n) its diag(H)): the serial search of
// compiler/src/gptq/gptq.cpp choose_params, with candidates spread over the lanes.
__device__ QParams warp_choose_params(const double* v, uint32_t n, const double* hdiag, const GptqColumns& c,
                                      unsigned lane) {
  double lo = 0.0, hi = 0.0;
  for (uint32_t k = lane; k < n; k += 32) {  // as find_range compares (a -0 never replaces 0)
    lo = v[k] < lo ? v[k] : lo;
    hi = v[k] > hi ? v[k] : hi;
  }
  for (int off = 16; off > 0; off /= 2) {
    const double olo = __shfl_xor_sync(0xffffffffu, lo, off), ohi = __shfl_xor_sync(0xffffffffu, hi, off);
    lo = olo < lo ? olo : lo;
    hi = ohi > hi ? ohi : hi;
  }
  settle_range(c.sym, &lo, &hi);
  const QParams minmax = params_of_range(lo, hi, c.maxq, c.sym);
  if (c.grid == Grid::minmax || c.n_try <= 0) return minmax;
  double best_err = NAN;
  int best = c.n_try;  // none yet
  for (int i = int(lane); i < c.n_try; i += 32) {
    const QParams cand = candidate_params(i, lo, hi, c.maxq, c.sym, c.grid_points);
    const double err = candidate_error(v, n, hdiag, cand, c.maxq, c.grid, c.norm);
    if (best == c.n_try || candidate_first(err, i, best_err, best)) best_err = err, best = i;
  }
  for (int off = 16; off > 0; off /= 2) {
    const double e = __shfl_xor_sync(0xffffffffu, best_err, off);
    const int b = __shfl_xor_sync(0xffffffffu, best, off);
    if (b != c.n_try && (best == c.n_try || candidate_first(e, b, best_err, best))) best_err = e, best = b;
  }
  // The serial search starts from the min/max grid with an infinite error: only a finite error
  // below infinity replaces it, and candidate 0 is that grid.
  if (best == c.n_try || !(best_err < INFINITY)) return minmax;
  return candidate_params(best, lo, hi, c.maxq, c.sym, c.grid_points);
}

__global__ void __launch_bounds__(kWarps * 32) gptq_block_kernel(GptqColumns c, uint32_t i1, uint32_t count) {
  const unsigned lane = threadIdx.x % 32;
  const uint32_t r = blockIdx.x * kWarps + threadIdx.x / 32;
  if (r >= c.out) return;  // whole warps leave together
  const size_t in = c.in;
  double* wr = c.w + size_t(r) * in;
  double* er = c.err + size_t(r) * c.bs;
  double* xr = c.xval != nullptr ? c.xval + size_t(r) * c.bs : nullptr;
  const uint32_t i2 = i1 + count;
  const bool grouped = c.group_size > 0;
  const uint32_t g = grouped ? uint32_t(c.group_size) : c.in;
  double loss = 0.0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t j = i1 + i;
    if (c.wfp != nullptr && lane == 0) wr[j] -= c.beta * (wr[j] - c.wfp[size_t(r) * in + j]);
    __syncwarp();
    if (grouped && !c.static_groups && j % g == 0) {
      // The group's values with every update so far: those past the block still lack this
      // block's pending updates, applied here to a copy (in the CPU loop's order).
      const uint32_t je = min(j + g, c.in), inside = min(je, i2);
      double* v = c.gbuf + size_t(r) * g;
      for (uint32_t col = j + lane; col < je; col += 32) {
        double x = wr[col];
        if (col >= inside) {
          for (uint32_t k = 0; k < i; ++k) {
            x -= er[k] * c.hinv[size_t(i1 + k) * in + col];
            if (xr != nullptr) x += xr[k] * c.pmat[size_t(i1 + k) * in + col];
          }
        }
        v[col - j] = x;
      }
      __syncwarp();
      const QParams p = warp_choose_params(v, je - j, c.hdiag + j, c, lane);
      if (lane == 0) c.params[size_t(j / g) * c.out + r] = p;
      __syncwarp();
    }
    const uint32_t group = !grouped ? 0 : c.static_groups ? uint32_t(c.perm[j]) / g : j / g;
    const QParams p = c.params[size_t(group) * c.out + r];
    const double x = wr[j];
    const double q = quantize_int(x, p, c.maxq);
    const double d = c.hinv[size_t(j) * in + j];
    const double eq = (x - dequantize(q, p)) / d;
    loss += eq * eq;
    const double e = c.wfp != nullptr ? eq - c.beta * (x - c.wfp[size_t(r) * in + j]) / d : eq;
    if (lane == 0) {
      c.q[size_t(r) * in + j] = uint8_t(q);
      er[i] = e;
      if (xr != nullptr) xr[i] = x;
    }
    const double* hrow = c.hinv + size_t(j) * in;
    for (uint32_t col = j + 1 + lane; col < i2; col += 32) {
      double w = wr[col] - e * hrow[col];
      if (xr != nullptr) w += x * c.pmat[size_t(j) * in + col];
      wr[col] = w;
    }
    __syncwarp();
  }
  if (lane == 0) c.row_loss[r] += loss / 2.0;
}

}  // namespace

cudaError_t gptq_block(const GptqColumns& c, uint32_t i1, uint32_t count, cudaStream_t stream) {
  if (c.out == 0 || count == 0) return cudaSuccess;
  gptq_block_kernel<<<(c.out + kWarps - 1) / kWarps, kWarps * 32, 0, stream>>>(c, i1, count);
  return cudaGetLastError();
}

}  // namespace ingot::cuda
