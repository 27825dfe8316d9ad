// GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative
// Pre-trained Transformers") and round-to-nearest (RTN) for one linear layer y = x · Wᵀ.
//
// Semantics follow the public reference code, IST-DASLab/gptq: gptq.py `GPTQ.fasterquant`
// (dead columns, static groups, act-order, damping, Cholesky → inverse → upper Cholesky, lazy
// blocks with error feedback, the Losses sum) and quant.py `Quantizer.find_params` / `quantize`
// (per-output-channel min/max with 0 included, the symmetric zero (maxq+1)/2, min == max == 0 →
// [-1, 1], q = clamp(round(w/scale) + zero, 0, maxq) with round-half-to-even). Where this code
// chooses differently, gptq.cpp says so at the spot ("Deviation:").
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ingot/format/status.h"

namespace ingot::compiler {

struct QuantConfig {
  int bits = 4;             // 1..8; integers in [0, 2^bits)
  int group_size = 128;     // input columns per (scale, zero); -1: one group per output channel
  bool sym = true;          // zero fixed at 2^(bits-1), the reference's (maxq + 1) / 2
  bool act_order = true;    // quantize columns by decreasing diag(H) (GPTQ only)
  bool static_groups = false;  // all group params up front from the unpermuted W (GPTQ only)
  float damp = 0.01f;       // percdamp: damp = damp · mean(diag(H)) added to diag(H)
  int block_size = 128;     // lazy-batch width (columns): speed only (results move by f32 rounding)
};

struct QuantResult {
  std::vector<uint8_t> q;        // (out, in) integers in [0, 2^bits), original column order
  std::vector<float> scales;     // (n_groups, out)
  std::vector<int32_t> zeros;    // (n_groups, out) integer zero points: w ≈ scale · (q − zero)
  std::vector<int32_t> g_idx;    // (in) group of each original input column
  std::vector<int32_t> perm;     // (in) quantization order: perm[i] = original column quantized
                                 // i-th; empty without act-order
  // GPTQ: Σ over all rows and columns of the reference's Losses, (w − q)² / d² / 2, where w is
  // the column's error-updated weight when it was quantized, q its dequantized value and
  // d = Hinv[j][j] the diagonal of the upper Cholesky factor of H⁻¹ (the reference prints this as
  // 'error'). In exact arithmetic it equals ½ Σ_rows δ (H + damp·I) δᵀ with δ = w_row − q_row,
  // w the original row (dead columns zeroed) and H after the dead-column fix.
  // RTN: the same with d = 1, i.e. ½ Σ (w − q)².
  double loss = 0.0;
  float damp_used = 0.0f;   // the relative damp (percdamp) that succeeded
  int damp_raises = 0;      // how many times it was multiplied by 10 to reach positive definiteness
  std::vector<float> dequantized;  // (out, in) scales[g_idx[c]][r] · (q[r][c] − zeros[g_idx[c]][r])
};

// W: (out, in) row-major f32. H: (in, in) symmetric f32, e.g. HessianAccumulator::finish().
// Deterministic: the same inputs give bit-identical results for any number of threads.
format::Status gptq_quantize(const float* W, size_t out, size_t in, std::vector<float> H,
                             const QuantConfig& config, QuantResult* result);

// Round-to-nearest with the same quantizer and groups (params from W itself, no error feedback;
// act_order and static_groups do not apply). damp_used = 0, damp_raises = 0.
format::Status rtn_quantize(const float* W, size_t out, size_t in, const QuantConfig& config,
                            QuantResult* result);

}  // namespace ingot::compiler
