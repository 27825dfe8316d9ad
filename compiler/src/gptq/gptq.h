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

// How a group's (scale, zero) is chosen when the group is reached (also per channel and for static
// groups). Every choice writes the same uniform grid; only the range differs.
enum class GridSearch {
  minmax,   // the reference's find_params: the group's min/max (with 0 included)
  mse,      // quant.py find_params(mse=True): shrink the range by p = 1 - i/grid_points for
            // i < maxshrink·grid_points, keep the p with the least Σ |w − q|^grid_norm
  hessian,  // the same shrink factors, least Σ diag(H)_c · (w_c − q_c)² (the importance-weighted
            // search of llama.cpp's imatrix quantization, here with GPTQ's own H)
};

// Where gptq_quantize runs its factorization and column loop (gptq_cuda.h).
enum class GptqDevice { cpu, cuda };

struct QuantConfig {
  int bits = 4;             // 1..8; integers in [0, 2^bits)
  int group_size = 128;     // input columns per (scale, zero); -1: one group per output channel
  bool sym = true;          // zero fixed at 2^(bits-1), the reference's (maxq + 1) / 2
  bool act_order = true;    // quantize columns by decreasing diag(H) (GPTQ only)
  bool static_groups = false;  // all group params up front from the unpermuted W (GPTQ only)
  float damp = 0.01f;       // percdamp: damp = damp · mean(diag(H)) added to diag(H)
  int block_size = 128;     // lazy-batch width (columns): speed only (results move by f32 rounding)

  // ---- options past the paper's code (docs/gptq.md "Options past the paper"); the defaults
  // below are the paper's algorithm, bit for bit.
  GridSearch grid = GridSearch::minmax;  // GPTQ only (RTN has no H; mse works for both)
  int grid_points = 100;     // quant.py's grid
  float grid_maxshrink = 0.8f;  // quant.py's maxshrink: the smallest range tried is 1 − 0.8 + 0.01
  float grid_norm = 2.4f;    // quant.py's norm (mse only; hessian is always squared)
  // Automatic damping (GPTQModel's damp_auto_increment): when H + damp·I fails the Cholesky or
  // the pivot test, add damp_auto_increment to the relative damp (instead of multiplying by 10)
  // until it succeeds or reaches 1.
  bool damp_auto = false;
  float damp_auto_increment = 0.0025f;
  // Per-weight choice of damp: quantize once per value (each with the raise rules above) and keep
  // the result with the least output-reconstruction loss ½ Σ_rows δ H δᵀ (H undamped, δ = w − q;
  // ties: the earlier value). Empty: damp alone.
  std::vector<float> damp_choices;
  // GPTAQ (Li et al. 2025, arXiv 2504.02692; "GPTQ v2" in GPTQModel): with dXXT given to
  // gptq_quantize, the asymmetric-calibration term α · triu₁(dXXT·Uᵀ)·U is added to the error
  // feedback. The authors' code and GPTQModel use α = 0.25.
  float gptaq_alpha = 0.25f;
  // FOEM (Zheng et al., arXiv 2507.11017 v2, AAAI 2026; GPTQModel's foem.py, which its authors
  // maintain): the first-order term of the layer loss, with the gradient taken as H·(w − w_fp)
  // (w the current, error-updated weights, w_fp the weights before GPTQ), so that H⁻¹·g is
  // w − w_fp and no extra product is needed. Each column, when reached, first moves towards its
  // full-precision value, w ← w − β·(w − w_fp), and its fed-back error becomes
  // ((w − q) − β·(w − w_fp)) / d. 0: off; GPTQModel's FOEMConfig uses 0.2. In [0, 1].
  float foem_beta = 0.0f;

  // cuda: the Cholesky factorizations (cuSOLVER), GPTAQ's P (cuBLAS), the column loop (our
  // kernel, kernels/cuda/gptq_columns.cu) and its lazy updates (cuBLAS) on device 0, in double,
  // with the same rounding rules; results agree with the CPU's up to the summation order of the
  // factorization and the lazy products (docs/gptq.md "On the GPU"). Not for rtn_quantize.
  GptqDevice device = GptqDevice::cpu;
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
  // RTN: the same with d = 1, i.e. ½ Σ (w − q)². (With FOEM the sum is still of (w − q)² / d², but
  // no longer equals that quadratic form.)
  double loss = 0.0;
  float damp_used = 0.0f;   // the relative damp (percdamp) that succeeded
  // ½ Σ_rows δ H δᵀ with the undamped H (dead columns fixed), δ = w − q: the layer's output
  // reconstruction error on the calibration tokens (‖X·Wᵀ − X·Qᵀ‖² / N). Set only when
  // damp_choices chose between results (0 otherwise).
  double output_loss = 0.0;
  int damp_raises = 0;      // how many times it was raised (x10, or + damp_auto_increment) to pass
  size_t device_peak_bytes = 0;  // GptqDevice::cuda: the most device memory held at once
  std::vector<float> dequantized;  // (out, in) scales[g_idx[c]][r] · (q[r][c] − zeros[g_idx[c]][r])
};

// W: (out, in) row-major f32. H: (in, in) symmetric f32, e.g. HessianAccumulator::finish().
// Deterministic: the same inputs give bit-identical results for any number of threads.
// dxxt: null for GPTQ; for GPTAQ the (in, in) row-major f32 cross term
// dXXT[i][j] = (2/N) Σ_t (x̃_t[i] − x_t[i]) · x_t[j], x̃ the full-precision model's input of this
// layer and x the partly quantized model's (CrossAccumulator, hessian.h; H is from x).
format::Status gptq_quantize(const float* W, size_t out, size_t in, std::vector<float> H,
                             const QuantConfig& config, QuantResult* result, const float* dxxt = nullptr);

// Round-to-nearest with the same quantizer and groups (params from W itself, no error feedback;
// act_order and static_groups do not apply). damp_used = 0, damp_raises = 0.
format::Status rtn_quantize(const float* W, size_t out, size_t in, const QuantConfig& config,
                            QuantResult* result);

}  // namespace ingot::compiler
