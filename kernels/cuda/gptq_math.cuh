// The per-element arithmetic of GPTQ's column loop, shared by the CPU quantizer
// (compiler/src/gptq/gptq.cpp) and the device one (kernels/cuda/gptq_columns.cu), so that both
// round the same way: the reference's quantizer (IST-DASLab gptq quant.py find_params /
// quantize) and the grid searches of ingotc's options (docs/gptq.md). All in double.
#pragma once

#include <math.h>

#include <cstdint>

#include "cuda/hd.cuh"

namespace ingot::cuda {

// A group's uniform grid: w ≈ scale · (q − zero), q in [0, maxq].
struct QParams {
  double scale = 1.0;
  double zero = 0.0;  // an integer value, kept floating as the reference's quantize() uses it
};

// How the grid's range is chosen (compiler::GridSearch, same order).
enum class Grid : int32_t { minmax = 0, mse = 1, hessian = 2 };

INGOT_HD double clamp_to(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

// quant.py find_params' range for one channel's values x[0, n) (read as doubles): min/max with 0
// included, symmetric when asked (only a channel with a negative value gets a symmetric range),
// [-1, 1] for an all-zero channel.
template <typename T>
INGOT_HD void find_range(const T* x, uint32_t n, bool sym, double* lo, double* hi) {
  double xmin = 0.0, xmax = 0.0;
  for (uint32_t i = 0; i < n; ++i) {
    const double v = double(x[i]);
    xmin = v < xmin ? v : xmin;
    xmax = v > xmax ? v : xmax;
  }
  if (sym) {
    xmax = -xmin > xmax ? -xmin : xmax;
    if (xmin < 0.0) xmin = -xmax;
  }
  if (xmin == 0.0 && xmax == 0.0) {
    xmin = -1.0;
    xmax = 1.0;
  }
  *lo = xmin;
  *hi = xmax;
}

// The range's final adjustment (symmetric, all-zero) after a min/max over the values was taken
// (find_range without the loop, for a min and max reduced in parallel).
INGOT_HD void settle_range(bool sym, double* lo, double* hi) {
  if (sym) {
    *hi = -*lo > *hi ? -*lo : *hi;
    if (*lo < 0.0) *lo = -*hi;
  }
  if (*lo == 0.0 && *hi == 0.0) {
    *lo = -1.0;
    *hi = 1.0;
  }
}

// The grid of [xmin, xmax]: quant.py's scale and zero. rint rounds half to even (torch.round).
INGOT_HD QParams params_of_range(double xmin, double xmax, double maxq, bool sym) {
  QParams p;
  p.scale = (xmax - xmin) / maxq;
  p.zero = sym ? (maxq + 1.0) / 2.0 : clamp_to(rint(-xmin / p.scale), 0.0, maxq);
  return p;
}

// quant.py quantize without the dequantization: clamp(round(x / scale) + zero, 0, maxq).
INGOT_HD double quantize_int(double x, const QParams& p, double maxq) {
  return clamp_to(rint(x / p.scale) + p.zero, 0.0, maxq);
}

INGOT_HD double dequantize(double q, const QParams& p) { return p.scale * (q - p.zero); }

// The grid searches' candidate i (0 ≤ i < ⌊maxshrink · points⌋): the range shrunk by
// 1 − i / points.
INGOT_HD QParams candidate_params(int i, double xmin, double xmax, double maxq, bool sym, int points) {
  const double p = 1.0 - double(i) / double(points);
  return params_of_range(p * xmin, p * xmax, maxq, sym);
}

// A candidate grid's error over the group's values x[0, n) in order: Σ |w − q|^norm (mse) or
// Σ diag(H)_k · (w − q)² (hessian; hdiag[0, n)).
template <typename T>
INGOT_HD double candidate_error(const T* x, uint32_t n, const double* hdiag, const QParams& c, double maxq,
                                Grid grid, double norm) {
  double err = 0.0;
  for (uint32_t k = 0; k < n; ++k) {
    const double v = double(x[k]);
    const double d = fabs(dequantize(quantize_int(v, c, maxq), c) - v);
    err += grid == Grid::mse ? pow(d, norm) : hdiag[k] * d * d;
  }
  return err;
}

// The search's rule for keeping a candidate: a strictly smaller error replaces the best, so of
// equal errors the earlier candidate (the wider range) stays. For a reduction over candidates
// taken in any order: true when (err_a, a) is kept over (err_b, b).
// A NaN error never replaces (it ranks after every number), as in the serial search.
INGOT_HD bool candidate_first(double err_a, int a, double err_b, int b) {
  const bool na = err_a != err_a, nb = err_b != err_b;
  if (na != nb) return nb;
  if (!na && err_a != err_b) return err_a < err_b;
  return a < b;
}

}  // namespace ingot::cuda
