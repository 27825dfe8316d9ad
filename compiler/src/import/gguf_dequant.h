// ggml's block-quantized tensor types, dequantized exactly to f32 at import.
//
// A quantized GGUF tensor is a sequence of blocks along each row (ggml ne[0]); a block holds
// `block_size` weights in `type_size` bytes (ggml.c type_traits, gguf-py GGML_QUANT_SIZES):
//   type  number  block  bytes  layout (f16 = IEEE half, little-endian; offsets in bytes)
//   Q4_0   2       32     18    d f16 @0 | qs u8[16] @2: w[j] = d·(lo(qs[j]) − 8), w[j+16] = d·(hi(qs[j]) − 8)
//   Q4_1   3       32     20    d @0 | m @2 | qs[16] @4:  w = d·q + m
//   Q5_0   6       32     22    d @0 | qh u32 @2 | qs[16] @6: q = nibble | bit(qh, j) << 4; w = d·(q − 16)
//   Q5_1   7       32     24    d @0 | m @2 | qh u32 @4 | qs[16] @8: w = d·q + m
//   Q8_0   8       32     34    d @0 | qs i8[32] @2: w = qs·d
//   Q2_K   10      256    84    scales u8[16] @0 | qs[64] @16 | d @80 | dmin @82
//   Q3_K   11      256    110   hmask[32] @0 | qs[64] @32 | scales 6-bit×16 in [12] @96 | d @108
//   Q4_K   12      256    144   d @0 | dmin @2 | scales 6-bit×(8 + 8) in [12] @4 | qs[128] @16
//   Q5_K   13      256    176   d @0 | dmin @2 | scales [12] @4 | qh[32] @16 | qs[128] @48
//   Q6_K   14      256    210   ql[128] @0 | qh[64] @128 | scales i8[16] @192 | d @208
// The k-quant bit layouts are spelled out in gguf_dequant.cpp. "Exactly" means bit for bit what
// gguf-py's gguf.quants.dequantize computes (numpy float32: every product and sum rounded
// separately, no fused multiply-add), which is also what ggml's reference C code computes when
// built without FMA contraction.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace ingot::compiler {

struct GgmlBlockType {
  uint32_t type = 0;       // ggml_type number
  uint32_t block_size = 0; // weights per block
  uint32_t type_size = 0;  // bytes per block
};

// The block geometry of F32 (1, 4), F16 / BF16 (1, 2) and the ten quantized types above; nullptr
// for every other type (IQ*, TQ*, Q8_1, Q8_K, MXFP4, integers, ...), which the importer refuses.
const GgmlBlockType* ggml_block_type(uint32_t type);

// Whether `type` is one of the ten block-quantized types dequantize_ggml handles.
bool is_dequantizable_ggml_type(uint32_t type);

// Bytes of `n` weights of `type` (a multiple of its block size), into *bytes; false when `type`
// has no geometry above, `n` is not a whole number of blocks, or the size overflows.
bool ggml_tensor_bytes(uint32_t type, uint64_t n, uint64_t* bytes);

// Dequantizes `src` (whole blocks of one of the ten types) into `dst` (block_size weights per
// block). The caller has checked dst.size() / block_size · type_size == src.size().
void dequantize_ggml(uint32_t type, std::span<const uint8_t> src, std::span<float> dst);

}  // namespace ingot::compiler
