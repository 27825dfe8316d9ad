// The arithmetic of the quantized GEMV (gemv_quant.cu) per word and per value, GptqPackedK layout
// (spec/quant-layouts.md §2.2): qweight (ceil(in·b/32), out) u32, one bit stream along k per
// output column; scales (n_groups, out) f16; zeros (n_groups, ceil(out·b/32)) u32 bit streams
// along o (null: symmetric, 2^(b−1)); W[o][k] = scale[g][o] · (q[o][k] − zero[g][o]).
#pragma once

#include <cstdint>

#include "cuda/hd.cuh"

namespace ingot::cuda {

// Value i of a bit stream of `bits`-bit values whose word j sits at words[j · stride].
INGOT_HD uint32_t stream_value(const uint32_t* words, uint32_t stride, uint32_t i, uint32_t bits) {
  const uint32_t bit = i * bits, wi = bit >> 5, off = bit & 31u;
  uint32_t v = words[size_t(wi) * stride] >> off;
  if (off + bits > 32) v |= words[size_t(wi + 1) * stride] << (32 - off);
  return v & ((1u << bits) - 1u);
}

// Zero point of group g, column o: the real zero (GPTQ v2); 2^(b−1) without zeros.
INGOT_HD float zero_point(const uint32_t* zeros, uint32_t out, uint32_t g, uint32_t o, uint32_t bits) {
  if (zeros == nullptr) return float(1u << (bits - 1));
  const uint32_t words_per_group = (out * bits + 31) / 32;
  return float(stream_value(zeros + size_t(g) * words_per_group, 1, o, bits));
}

// Group of input column k: g_idx[k] for act-order weights, else k / group_size (group_size −1: 0).
INGOT_HD uint32_t group_of(const int32_t* g_idx, int32_t group_size, uint32_t k) {
  if (g_idx != nullptr) return uint32_t(g_idx[k]);
  return group_size < 0 ? 0u : k / uint32_t(group_size);
}

// One dequantized value: the integer difference is exact, then one rounding (the spec's rule).
INGOT_HD float dequant_value(uint32_t q, float zero, float scale) { return scale * (float(q) - zero); }

// Σ_j q_j · x[j] over the 32/b values of one word whose values all lie in one group (b = 4: 8
// values, nibble j at bits 4j; b = 8: 4 bytes; b = 2: 16), and Σ_j x[j]: the zero enters the
// product as −zero · Σx, so  Σ_j W_j x_j = scale · (qdot − zero · xsum)  with one scale per word.
template <int BITS>
INGOT_HD float word_qdot(uint32_t word, const float* x) {
  constexpr int kPer = 32 / BITS;
  constexpr uint32_t kMask = (1u << BITS) - 1u;
  float acc = 0.0f;
  INGOT_UNROLL
  for (int j = 0; j < kPer; ++j) acc += float((word >> (j * BITS)) & kMask) * x[j];
  return acc;
}

// The three word rows of a 3-bit column that hold 32 consecutive values: value j (0..31) of the
// triple (w0, w1, w2); values 10 and 21 straddle two words.
INGOT_HD uint32_t q3_value(uint32_t w0, uint32_t w1, uint32_t w2, int j) {
  const uint32_t bit = uint32_t(j) * 3u, off = bit & 31u;
  const uint32_t lo = bit < 32 ? w0 : (bit < 64 ? w1 : w2);
  const uint32_t hi = bit < 32 ? w1 : w2;  // next word, read only when the value straddles
  uint32_t v = lo >> off;
  if (off > 29) v |= hi << (32 - off);
  return v & 7u;
}

// Σ_j q_j · x[j] over values 8c .. 8c + 7 (c in 0..3) of a 3-bit triple: the 3-bit word path
// takes a unit's 32 values 8 at a time (with c a constant after unrolling, the shifts are too).
INGOT_HD float q3_dot8(uint32_t w0, uint32_t w1, uint32_t w2, int c, const float* x) {
  float acc = 0.0f;
  INGOT_UNROLL
  for (int j = 0; j < 8; ++j) acc += float(q3_value(w0, w1, w2, c * 8 + j)) * x[j];
  return acc;
}

}  // namespace ingot::cuda
