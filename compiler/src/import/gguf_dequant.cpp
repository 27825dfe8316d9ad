// Dequantization of ggml's block types (layouts in gguf_dequant.h). This file is compiled with
// -ffp-contract=off (gguf.cmake): `d·q + m` must round the product and the sum separately, as
// numpy does in gguf-py, or the result would differ in the last bit on FMA hardware.
#include "import/gguf_dequant.h"

#include <algorithm>
#include <cstring>

#include "cpu/convert.h"

namespace ingot::compiler {

namespace {

constexpr uint32_t kQK = 256;  // QK_K: weights per k-quant super-block

constexpr GgmlBlockType kTypes[] = {
    {0, 1, 4},      // F32
    {1, 1, 2},      // F16
    {30, 1, 2},     // BF16
    {2, 32, 18},    // Q4_0
    {3, 32, 20},    // Q4_1
    {6, 32, 22},    // Q5_0
    {7, 32, 24},    // Q5_1
    {8, 32, 34},    // Q8_0
    {10, 256, 84},  // Q2_K
    {11, 256, 110}, // Q3_K
    {12, 256, 144}, // Q4_K
    {13, 256, 176}, // Q5_K
    {14, 256, 210}, // Q6_K
};

float half(const uint8_t* p) { return cpu::f16_to_f32(uint16_t(p[0] | (p[1] << 8))); }

// ---- 32-weight blocks ----

void q4_0(const uint8_t* b, float* y) {  // d | qs[16]
  const float d = half(b);
  for (int j = 0; j < 16; ++j) {
    y[j] = d * float(int(b[2 + j] & 15) - 8);
    y[j + 16] = d * float(int(b[2 + j] >> 4) - 8);
  }
}

void q4_1(const uint8_t* b, float* y) {  // d | m | qs[16]
  const float d = half(b), m = half(b + 2);
  for (int j = 0; j < 16; ++j) {
    y[j] = d * float(b[4 + j] & 15) + m;
    y[j + 16] = d * float(b[4 + j] >> 4) + m;
  }
}

// The fifth bit of weight j (0..31) is bit j of the little-endian u32 qh.
uint32_t u32_le(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

void q5_0(const uint8_t* b, float* y) {  // d | qh u32 | qs[16]
  const float d = half(b);
  const uint32_t qh = u32_le(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int lo = int((qs[j] & 15) | ((qh >> j) & 1) << 4);
    const int hi = int((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
    y[j] = d * float(lo - 16);
    y[j + 16] = d * float(hi - 16);
  }
}

void q5_1(const uint8_t* b, float* y) {  // d | m | qh u32 | qs[16]
  const float d = half(b), m = half(b + 2);
  const uint32_t qh = u32_le(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const uint32_t lo = (qs[j] & 15) | ((qh >> j) & 1) << 4;
    const uint32_t hi = (qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
    y[j] = d * float(lo) + m;
    y[j + 16] = d * float(hi) + m;
  }
}

void q8_0(const uint8_t* b, float* y) {  // d | qs i8[32]
  const float d = half(b);
  for (int j = 0; j < 32; ++j) y[j] = float(int8_t(b[2 + j])) * d;
}

// ---- 256-weight super-blocks ----
// Weight e (0..255) of a super-block: its 2-bit field in Q2_K/Q3_K/Q6_K-high is byte
// 32·(e / 128) + e % 32, shifted by 2·((e % 128) / 32).

void q2_k(const uint8_t* b, float* y) {  // scales[16] (lo: scale, hi: min) | qs[64] | d | dmin
  const uint8_t* sc = b;
  const uint8_t* qs = b + 16;
  const float d = half(b + 80), dmin = half(b + 82);
  for (uint32_t s = 0; s < 16; ++s) {  // 16 sub-blocks of 16
    const float dl = d * float(sc[s] & 15), ml = dmin * float(sc[s] >> 4);
    for (uint32_t i = 0; i < 16; ++i) {
      const uint32_t e = s * 16 + i;
      const uint32_t q = (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      y[e] = dl * float(q) - ml;
    }
  }
}

void q3_k(const uint8_t* b, float* y) {  // hmask[32] | qs[64] | scales[12] | d
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* sc = b + 96;
  const float d = half(b + 108);
  for (uint32_t s = 0; s < 16; ++s) {
    // Sixteen 6-bit scales: low nibbles in bytes 0..7 (s < 8: low half, else high half of byte
    // s − 8), top two bits in bytes 8..11 (byte 8 + s % 4, bits 2·(s / 4)).
    const uint32_t lo = (s < 8 ? sc[s] : sc[s - 8] >> 4) & 15;
    const uint32_t hi = (sc[8 + s % 4] >> (2 * (s / 4))) & 3;
    const float dl = d * float(int(lo | hi << 4) - 32);
    for (uint32_t i = 0; i < 16; ++i) {
      const uint32_t e = s * 16 + i;
      const int low = (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      const int high = (hmask[e % 32] >> (e / 32)) & 1;  // set: no offset; clear: −4
      y[e] = dl * float(low - (high ? 0 : 4));
    }
  }
}

// Q4_K / Q5_K: eight 6-bit scales and eight 6-bit mins packed in 12 bytes:
//   j < 4: scale = s[j] & 63, min = s[j + 4] & 63
//   j ≥ 4: scale = (s[j + 4] & 15) | (s[j − 4] >> 6) << 4, min = (s[j + 4] >> 4) | (s[j] >> 6) << 4
void scale_min_k4(const uint8_t* s, uint32_t j, uint32_t* scale, uint32_t* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = (s[j + 4] & 15) | ((s[j - 4] >> 2) & 0x30);
    *min = (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30);
  }
}

void q4_k(const uint8_t* b, float* y) {  // d | dmin | scales[12] | qs[128]
  const float d = half(b), dmin = half(b + 2);
  const uint8_t* qs = b + 16;
  for (uint32_t s = 0; s < 8; ++s) {  // 8 sub-blocks of 32: byte 32·(s / 2) + l, nibble s % 2
    uint32_t sc = 0, m = 0;
    scale_min_k4(b + 4, s, &sc, &m);
    const float ds = d * float(sc), dm = dmin * float(m);
    for (uint32_t l = 0; l < 32; ++l) {
      const uint32_t q = (qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 15;
      y[s * 32 + l] = ds * float(q) - dm;
    }
  }
}

void q5_k(const uint8_t* b, float* y) {  // d | dmin | scales[12] | qh[32] | qs[128]
  const float d = half(b), dmin = half(b + 2);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (uint32_t s = 0; s < 8; ++s) {  // fifth bit of sub-block s, weight l: bit s of qh[l]
    uint32_t sc = 0, m = 0;
    scale_min_k4(b + 4, s, &sc, &m);
    const float ds = d * float(sc), dm = dmin * float(m);
    for (uint32_t l = 0; l < 32; ++l) {
      const uint32_t q = ((qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 15) | ((qh[l] >> s) & 1) << 4;
      y[s * 32 + l] = ds * float(q) - dm;
    }
  }
}

void q6_k(const uint8_t* b, float* y) {  // ql[128] | qh[64] | scales i8[16] | d
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half(b + 208);
  for (uint32_t s = 0; s < 16; ++s) {
    const float ds = d * float(sc[s]);
    for (uint32_t i = 0; i < 16; ++i) {
      const uint32_t e = s * 16 + i;
      // Low four bits: byte 64·(e / 128) + e % 64, nibble (e % 128) / 64.
      const uint32_t lo = (ql[64 * (e / 128) + e % 64] >> (4 * ((e % 128) / 64))) & 15;
      const uint32_t hi = (qh[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      y[e] = ds * float(int(lo | hi << 4) - 32);
    }
  }
}

}  // namespace

const GgmlBlockType* ggml_block_type(uint32_t type) {
  for (const GgmlBlockType& t : kTypes) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

bool is_dequantizable_ggml_type(uint32_t type) {
  const GgmlBlockType* t = ggml_block_type(type);
  return t != nullptr && t->block_size > 1;
}

bool ggml_tensor_bytes(uint32_t type, uint64_t n, uint64_t* bytes) {
  const GgmlBlockType* t = ggml_block_type(type);
  if (t == nullptr || n % t->block_size != 0) return false;
  return !__builtin_mul_overflow(n / t->block_size, uint64_t(t->type_size), bytes);
}

void dequantize_ggml(uint32_t type, std::span<const uint8_t> src, std::span<float> dst) {
  const GgmlBlockType* t = ggml_block_type(type);
  if (t == nullptr || t->block_size == 1) return;
  void (*block)(const uint8_t*, float*) = nullptr;
  switch (type) {
    case 2: block = q4_0; break;
    case 3: block = q4_1; break;
    case 6: block = q5_0; break;
    case 7: block = q5_1; break;
    case 8: block = q8_0; break;
    case 10: block = q2_k; break;
    case 11: block = q3_k; break;
    case 12: block = q4_k; break;
    case 13: block = q5_k; break;
    case 14: block = q6_k; break;
    default: return;
  }
  static_assert(kQK == 256);
  const size_t n_blocks = std::min(src.size() / t->type_size, dst.size() / t->block_size);
  for (size_t i = 0; i < n_blocks; ++i) block(src.data() + i * t->type_size, dst.data() + i * t->block_size);
}

}  // namespace ingot::compiler
