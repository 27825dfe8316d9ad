// Launch configurations of the CUDA kernels, chosen from the shape alone: plain host functions,
// tested on the host (tests/cuda/cuda_math_test.cpp). The .cu launchers call these, so what a
// shape runs is decided here, in one place, and can be read without a device.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace ingot::cuda {

// Rows of the batch one kernel launch carries in registers: the instantiated widths 1, 2, 4, 8,
// 16 (gemv_quant.cu, gemv_dense.cu say why); a larger n runs in chunks of 16.
inline uint32_t batch_width(uint32_t n) {
  if (n <= 1) return 1;
  if (n <= 2) return 2;
  if (n <= 4) return 4;
  if (n <= 8) return 8;
  return 16;
}

// Rows above which a quantized linear runs the tensor-core product (quant_gemm: 64-token tiles,
// each weight tile read once per 64 rows) instead of the GEMV in chunks of 16.
constexpr uint32_t kQuantGemmMinRows = 17;
inline bool use_quant_gemm(uint32_t n) { return n >= kQuantGemmMinRows; }

enum class QuantPath {
  word,     // whole units in one group (a unit: one word for b ∈ {2, 4, 8}, three words = 32 values
            // for b = 3), no act-order: 16-byte loads of 4 columns
  generic,  // anything else (act-order, groups that split a unit, out % 4 ≠ 0): per value
};

// Values of one unit of the word path along k: 32 / b words' worth, 32 for 3-bit (three words).
inline uint32_t unit_values(uint32_t bits) { return bits == 3 ? 32 : 32 / bits; }

struct QuantGemvConfig {
  QuantPath path = QuantPath::generic;
  uint32_t nb = 1;          // batch width instantiated (batch_width)
  uint32_t threads = 256;   // per block
  uint32_t col_blocks = 1;  // blocks along the output dimension
  uint32_t k_split = 1;     // blocks along the input dimension (partial sums reduced after)
  uint32_t k_chunk = 0;     // unit rows (word path) or input columns (generic) per k-split block
};

// The quantized GEMV's configuration for y (n, out) = x (n, in) · Wᵀ, W b-bit in the GPTQ layout.
// `aligned16`: qweight's base is 16-byte aligned. `n_sm`: multiprocessors of the device. The grid
// aims at 2 blocks per multiprocessor; when the output dimension alone gives fewer, the input
// dimension is split too (at least 8 unit rows per warp, so a split never reads less than a few KB).
inline QuantGemvConfig pick_quant_gemv(uint32_t out, uint32_t in, uint32_t n, uint32_t bits, int32_t group_size,
                                       bool act_order, bool aligned16, uint32_t n_sm) {
  QuantGemvConfig c;
  c.nb = batch_width(n);
  const uint32_t per_unit = unit_values(bits);
  const bool whole_units = group_size < 0 || uint32_t(group_size) % per_unit == 0;
  c.path = whole_units && !act_order && out % 4 == 0 && aligned16 ? QuantPath::word : QuantPath::generic;
  const uint32_t target = 2 * std::max(n_sm, 1u);
  const uint32_t warps = c.threads / 32;
  if (c.path == QuantPath::word) {
    const uint32_t n_units = (in + per_unit - 1) / per_unit;
    c.col_blocks = (out + 127) / 128;  // 32 lanes × 4 columns
    const uint32_t max_split = std::max(1u, n_units / (8 * warps));
    c.k_split = std::clamp((target + c.col_blocks - 1) / c.col_blocks, 1u, max_split);
    c.k_chunk = (n_units + c.k_split - 1) / c.k_split;
    c.k_split = (n_units + c.k_chunk - 1) / c.k_chunk;  // no empty split
  } else {
    c.col_blocks = (out + c.threads - 1) / c.threads;  // one column a thread
    const uint32_t max_split = std::max(1u, in / 64);
    c.k_split = std::clamp((target + c.col_blocks - 1) / c.col_blocks, 1u, max_split);
    c.k_chunk = (in + c.k_split - 1) / c.k_split;
    c.k_split = (in + c.k_chunk - 1) / c.k_chunk;
  }
  return c;
}

// Floats of workspace the quantized GEMV needs for one chunk of up to 16 rows: the k-split
// partial sums (k_split, nb, out); 0 when it writes y directly.
inline size_t quant_gemv_workspace(const QuantGemvConfig& c, uint32_t out) {
  return c.k_split > 1 ? size_t(c.k_split) * c.nb * out : 0;
}

struct DenseGemvConfig {
  uint32_t nb = 1;
  uint32_t vec = 1;        // elements per 16-byte load (4 for f32, 8 for f16/bf16), 1 when unaligned
  uint32_t threads = 256;  // 8 warps, one output row each
  uint32_t blocks = 1;
};

// f32/f16/bf16 weights (out, in) row-major: one warp per output row, 16-byte loads when every row
// starts 16-byte aligned (in · elem_bytes % 16 == 0 and an aligned base).
inline DenseGemvConfig pick_dense_gemv(uint32_t out, uint32_t in, uint32_t n, uint32_t elem_bytes, bool aligned16) {
  DenseGemvConfig c;
  c.nb = batch_width(n);
  c.vec = aligned16 && (size_t(in) * elem_bytes) % 16 == 0 ? 16 / elem_bytes : 1;
  c.blocks = (out + c.threads / 32 - 1) / (c.threads / 32);
  return c;
}

struct AttentionConfig {
  uint32_t epl = 1;       // head elements per lane: head_dim ≤ 32 · epl; instantiated 1, 2, 4, 8
  uint32_t threads = 128; // 4 warps per block, each its own positions
  uint32_t n_splits = 1;  // blocks along the sequence (flash-decoding), merged by a second kernel
  uint32_t chunk = 0;     // positions per split
};

// Attention of n query rows over up to max_pos positions, n_head heads. Decode (few rows, long
// sequences) needs splits along the sequence to fill the device: about 2 blocks a
// multiprocessor, each split at least 64 positions (16 per warp), at most 64 splits.
// head_dim > 256 is refused (returns epl 0).
inline AttentionConfig pick_attention(uint32_t max_pos, uint32_t head_dim, uint32_t n_head, uint32_t n,
                                      uint32_t n_sm) {
  AttentionConfig c;
  c.epl = head_dim <= 32 ? 1 : head_dim <= 64 ? 2 : head_dim <= 128 ? 4 : head_dim <= 256 ? 8 : 0;
  const uint32_t blocks = std::max(1u, n_head * n);
  const uint32_t want = (2 * std::max(n_sm, 1u) + blocks - 1) / blocks;
  const uint32_t by_len = std::max(1u, max_pos / 64);
  c.n_splits = std::clamp(want, 1u, std::min(by_len, 64u));
  c.chunk = (max_pos + c.n_splits - 1) / c.n_splits;
  c.n_splits = (max_pos + c.chunk - 1) / c.chunk;
  return c;
}

}  // namespace ingot::cuda
