// GPTQ-packed low-bit weights (layouts GptqPackedK and GptqPackedKSorted, spec/quant-layouts.md):
// packing, unpacking, validation, dequantization and y = x · dequant(W)ᵀ on the CPU.
//
// A linear weight of logical shape (rows = out, cols = in), b = bits ∈ {2, 3, 4, 8}:
//   W[o][k] = scale[g][o] · (q[k][o] − zero[g][o]),  g = g_idx ? g_idx[k] : k / group_size
// and with an input order (GptqPackedKSorted), for stored column j:
//   W[o][order[j]] = scale[j / group_size][o] · (q[j][o] − zero[j / group_size][o])
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ingot/format/status.h"

namespace ingot::cpu {

struct QuantView {
  // (ceil(cols·b/32), rows) u32: each output column's values are one little-endian bit stream along
  // the input dimension (value k at stream bit k·b; word w of a column holds stream bits [32w, 32w+32)).
  const uint32_t* qweight = nullptr;
  const uint16_t* scales = nullptr;  // (n_groups, rows) f16
  // (n_groups, ceil(rows·b/32)) u32: each group's zero points packed along the output dimension,
  // little-endian bit stream; the real zero (GPTQ v2). Null: symmetric, zero = 2^(b−1).
  const uint32_t* zeros = nullptr;
  const int32_t* g_idx = nullptr;  // (cols) group of every input column (act-order); null: k / group_size
  uint32_t bits = 4;
  int32_t group_size = -1;  // -1: one group
  size_t rows = 0;          // out
  size_t cols = 0;          // in
  // (cols) GptqPackedKSorted: stored input column j is input column order[j] (a permutation; g_idx
  // is then null and groups are j / group_size). Null: stored in input order. Last, so that the
  // positional initializers of the fields above still hold.
  const int32_t* order = nullptr;
};

// Groups of a weight with `cols` input columns: 1 for group_size −1, else ceil(cols / group_size);
// 0 when group_size is invalid (0 or < −1).
size_t quant_n_groups(size_t cols, int32_t group_size);
// Words of one packed bit stream of `n` values of `bits` bits: ceil(n·bits/32).
size_t quant_words(size_t n, uint32_t bits);
// Value `i` of a little-endian bit stream of `bits`-bit values whose word `j` is words[j * stride]
// (spec/quant-layouts.md §1; a 3-bit value may straddle two words).
inline uint32_t stream_get(const uint32_t* words, size_t stride, size_t i, uint32_t bits) {
  const size_t bit = i * bits, wi = bit >> 5;
  const uint32_t off = uint32_t(bit & 31);
  uint32_t v = words[wi * stride] >> off;
  if (off + bits > 32) v |= words[(wi + 1) * stride] << (32 - off);
  return v & ((1u << bits) - 1);
}

// Checks what a kernel relies on: bits ∈ {2,3,4,8}, rows, cols ≥ 1, a valid group_size, qweight and
// scales present, every g_idx value in [0, n_groups), and an order that is a permutation of
// [0, cols) with no g_idx beside it. The format reader checks blob sizes but
// never looks inside them: the runtime calls this at load. `tensor` names the weight in messages.
format::Status check_quant_view(const QuantView& w, const char* tensor = "weight");

// q (rows, cols) row-major integers < 2^bits  ->  qweight (quant_words(cols, bits), rows).
format::Status pack_gptq(const uint8_t* q, size_t rows, size_t cols, uint32_t bits, std::vector<uint32_t>* qweight);
// z (n_groups, rows) row-major integers < 2^bits  ->  zeros (n_groups, quant_words(rows, bits)).
format::Status pack_zeros(const uint8_t* z, size_t n_groups, size_t rows, uint32_t bits, std::vector<uint32_t>* zeros);
// The inverses: q (rows, cols), z (n_groups, rows). Padding bits are ignored.
void unpack_gptq(const uint32_t* qweight, size_t rows, size_t cols, uint32_t bits, uint8_t* q);
void unpack_zeros(const uint32_t* zeros, size_t n_groups, size_t rows, uint32_t bits, uint8_t* z);

// A g_idx (cols) that can be stored sorted (GptqPackedKSorted): every group but the last holds
// exactly group_size columns and the last the rest. Then *order = the columns stably sorted by
// group (order[j] = the input column stored j-th; g_idx[order[j]] == j / group_size) and true;
// otherwise false (order untouched). group_size must be ≥ 1.
bool quant_group_order(const int32_t* g_idx, size_t cols, int32_t group_size, std::vector<int32_t>* order);

// xs (n, cols) = x (n, cols) with its columns gathered: xs[r][j] = x[r][order[j]].
void gather_columns(const float* x, size_t n, size_t cols, const int32_t* order, float* xs);

// out (rows, cols) row-major f32 = dequant(W), in input order. `w` must pass check_quant_view.
void dequantize(const QuantView& w, float* out);

// y (n, rows) = x (n, cols) · dequant(W)ᵀ. `w` must pass check_quant_view. Where an int8 kernel
// takes the weight and int8 activations are on (cpu/quant_int8.h: the default; INGOT_QUANT_ACT=f32
// or a ScopedActivations turns them off), the activations are quantized to int8 and the products
// summed in integers; otherwise quant_matmul_f32.
void quant_matmul(const float* x, size_t n, const QuantView& w, float* y);

// The same product with the math in f32 (the activations as given).
// n == 1 reads every weight word once and dequantizes in registers (AVX2 when the CPU has it);
// n > 1 widens blocks of output columns to f32 and runs single-threaded sgemm on each, in one
// OpenMP pool (as matmul.cpp).
void quant_matmul_f32(const float* x, size_t n, const QuantView& w, float* y);

}  // namespace ingot::cpu
