#include "cpu/quant_int8.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu/convert.h"
#include "cpu/threads.h"

#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics pass an _mm512_undefined_* operand that -Wmaybe-uninitialized
// reports at every use (a false positive of the headers, not of this code).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define INGOT_AVX2 __attribute__((target("avx2,fma,f16c")))
#define INGOT_AVX2_INLINE __attribute__((target("avx2,fma,f16c"), always_inline)) inline
#define INGOT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define INGOT_VNNI_INLINE __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"), always_inline)) inline
#define INGOT_VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma,f16c")))
#define INGOT_VBMI_LAMBDA __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma,f16c"), always_inline))
#endif

namespace ingot::cpu {

namespace {

constexpr size_t kBlock = kInt8Block;  // a multiple of 8 (a 4-bit word's values)
static_assert(kBlock % 8 == 0 && kBlock <= 32, "whole 4-bit words a block; the AVX2 s16 sums stay below 2^15");
template <int B>
constexpr size_t kWords = kBlock * B / 32;  // word rows per block
constexpr size_t kPrefetch = 3;             // prefetch distance, in blocks (2 to 4 measure alike)
constexpr size_t kTask = 256;   // widest output span of one task
constexpr size_t kMaxRows = 8;  // rows of x per kernel pass: each unpacked weight feeds this many
constexpr size_t kMaxRows3 = 4;  // 3 bits: four accumulators a row and panel

// AVX-512 VBMI (vpmultishiftqb), which the 3-bit kernel needs beside VNNI.
bool has_vbmi() {
#if defined(__x86_64__)
  static const bool yes = __builtin_cpu_supports("avx512vbmi");
  return yes;
#else
  return false;
#endif
}

// The activations of n rows, quantized (quantize_row), and the shape the kernels walk.
struct Prepared {
  const int8_t* q;   // (n, n_blocks·kBlock): block b of a row at [kBlock·b, kBlock·(b+1)); 4-bit: each 8 reordered (act_pos)
  const float* d;    // (n, n_blocks) block scales
  const float* zs;   // (n, n_groups) Σ_{b ∈ g} d_b · Σ xq over block b: the zero point's term
  size_t n_blocks, n_words, n_groups, gs_blocks;  // gs_blocks: blocks per group
  const int8_t* row_q(size_t r) const { return q + r * n_blocks * kBlock; }
  const float* row_d(size_t r) const { return d + r * n_blocks; }
  const float* row_zs(size_t r) const { return zs + r * n_groups; }
};

// Where value j of a block sits. A 4-bit word holds 8 values along K, value t in bits
// [4t, 4t + 4): masking the low nibble of each byte gives values 0, 2, 4, 6 as four bytes and the
// high nibble values 1, 3, 5, 7; the activations of each 8 are stored in that order (even, then
// odd) so that one 32-bit broadcast meets each half. 8-bit words hold values 0..3 as bytes: as is.
inline size_t act_pos(size_t j, uint32_t bits) {
  if (bits != 4) return j;
  const size_t t = j % 8;
  return j - t + (t % 2) * 4 + t / 2;
}

// One row: xq, d and zs as Prepared describes. False when x holds a NaN or an infinity.
bool quantize_row(const float* x, size_t cols, uint32_t bits, size_t n_blocks, size_t gs_blocks, int8_t* q, float* d,
                  float* zs) {
  bool finite = true;
  for (size_t b = 0; b < n_blocks; ++b) {
    const size_t k0 = b * kBlock, k1 = std::min(cols, k0 + kBlock);
    float amax = 0;
    for (size_t k = k0; k < k1; ++k) {
      const float a = std::fabs(x[k]);
      if (!(a <= 3.4028235e38f)) finite = false;
      amax = std::max(amax, a);
    }
    const float inv = amax > 0 ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (size_t j = 0; j < kBlock; ++j) {
      const float v = k0 + j < k1 ? x[k0 + j] : 0.0f;
      const int qi = finite ? std::clamp(int(std::nearbyint(v * inv)), -127, 127) : 0;
      sum += qi;
      q[k0 + act_pos(j, bits)] = int8_t(qi);
    }
    d[b] = amax / 127.0f;
    zs[b / gs_blocks] += d[b] * float(sum);
  }
  return finite;
}

inline uint32_t zero_of(const QuantView& w, size_t g, size_t o) {
  if (w.zeros == nullptr) return 1u << (w.bits - 1);
  return stream_get(w.zeros + g * quant_words(w.rows, w.bits), 1, o, w.bits);
}

inline bool group_ends(const Prepared& p, size_t b) { return (b + 1) % p.gs_blocks == 0 || b + 1 == p.n_blocks; }

// ---- portable ---------------------------------------------------------------------------------
// y[r][o] for rows [r0, r0 + nr), outputs [o0, o1): the definition the SIMD kernels follow.
void span_portable(const QuantView& w, const Prepared& p, size_t r0, size_t nr, size_t o0, size_t o1, float* y) {
  const uint32_t bits = w.bits;
  for (size_t r = r0; r < r0 + nr; ++r) {
    const int8_t* xq = p.row_q(r);
    const float *d = p.row_d(r), *zs = p.row_zs(r);
    for (size_t o = o0; o < o1; ++o) {
      float yo = 0, gacc = 0;
      for (size_t b = 0; b < p.n_blocks; ++b) {
        int32_t acc = 0;
        const int8_t* xb = xq + b * kBlock;
        if (bits == 3) {  // values straddle words: read each from its column's stream
          for (size_t j = 0; j < kBlock && b * kBlock + j < w.cols; ++j) {
            acc += int32_t(stream_get(w.qweight + o, w.rows, b * kBlock + j, 3)) * xb[j];
          }
        }
        const size_t wpb = kBlock * bits / 32;
        for (size_t i = 0; bits != 3 && i < wpb && b * wpb + i < p.n_words; ++i) {
          const uint32_t word = w.qweight[(b * wpb + i) * w.rows + o];
          if (bits == 4) {
            for (uint32_t t = 0; t < 8; ++t) acc += int32_t((word >> (4 * t)) & 15) * xb[8 * i + (t % 2) * 4 + t / 2];
          } else {
            for (uint32_t t = 0; t < 4; ++t) acc += int32_t((word >> (8 * t)) & 255) * xb[4 * i + t];
          }
        }
        gacc = std::fma(float(acc), d[b], gacc);
        if (group_ends(p, b)) {
          const size_t g = b / p.gs_blocks;
          gacc = std::fma(-float(zero_of(w, g, o)), zs[g], gacc);
          yo = std::fma(f16_to_f32(w.scales[g * w.rows + o]), gacc, yo);
          gacc = 0;
        }
      }
      y[r * w.rows + o] = yo;
    }
  }
}

#if defined(__x86_64__)

// Every cache line of [p, p + n).
inline void prefetch_bytes(const void* p, size_t n) {
  const uintptr_t first = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63}, end = reinterpret_cast<uintptr_t>(p) + n;
  for (uintptr_t line = first; line < end; line += 64) _mm_prefetch(reinterpret_cast<const char*>(line), _MM_HINT_T0);
}

// At the first block of group g, fetch group g + 1's scales (and zeros) for outputs [o0, o0 + width):
// they sit g·rows apart from the weights' stream, so no hardware prefetcher sees them coming, and
// a miss on them at the group's end stalled the whole span (a quarter of decode time at
// TinyLlama's shape before this).
inline void prefetch_group_params(const QuantView& w, const Prepared& p, size_t b, size_t o0, size_t width) {
  if (b % p.gs_blocks != 0) return;
  const size_t g = b / p.gs_blocks + 1;
  if (g >= p.n_groups) return;
  prefetch_bytes(w.scales + g * w.rows + o0, width * 2);
  if (w.zeros != nullptr) {
    const size_t row = g * quant_words(w.rows, w.bits), first = o0 * w.bits / 32, last = ((o0 + width) * w.bits + 31) / 32;
    prefetch_bytes(w.zeros + row + first, (last - first) * 4);
  }
}

inline int32_t load_i32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline int64_t load_i64(const int8_t* p) {
  int64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Group g's scales and zero points (2^(bits−1) when symmetric) for the outputs o .. o + 15 that
// mask m (its low lanes) covers; lanes past it read as 0.
INGOT_VNNI_INLINE void group_params(const QuantView& w, size_t g, size_t o, __mmask16 m, __m512* s, __m512* z) {
  *s = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w.scales + g * w.rows + o));
  *z = _mm512_set1_ps(float(1u << (w.bits - 1)));
  if (w.zeros == nullptr) return;
  const int lanes = __builtin_popcount(m);
  const uint32_t* row = w.zeros + g * quant_words(w.rows, w.bits);
  if ((w.bits == 4 || w.bits == 8) && o % 16 == 0) {
    // The 16 zero points from o are whole bytes of the packed row (8 or 16 of them; a masked load
    // stays inside it): bytes → nibbles (4 bits: low nibble first) → 16 lanes. Asymmetric g32
    // (SmolLM2 at 4-bit g32) spent a quarter of decode in the scalar loop below.
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(row) + o * w.bits / 8;
    __m128i v;
    if (w.bits == 8) {
      v = _mm_maskz_loadu_epi8(m, bytes);
    } else {
      const __m128i packed = _mm_maskz_loadu_epi8(__mmask16((1u << ((lanes + 1) / 2)) - 1), bytes);
      const __m128i nib = _mm_set1_epi8(0x0F);
      v = _mm_unpacklo_epi8(_mm_and_si128(packed, nib), _mm_and_si128(_mm_srli_epi16(packed, 4), nib));
    }
    *z = _mm512_cvtepi32_ps(_mm512_maskz_cvtepu8_epi32(m, v));
    return;
  }
  alignas(64) float zf[16] = {};
  for (int j = 0; j < lanes; ++j) zf[j] = float(stream_get(row, 1, o + size_t(j), w.bits));
  *z = _mm512_load_ps(zf);
}

// quantize_row with one 512-bit vector a block (kBlock = 16 floats), bit for bit: the same
// 127 / amax, product and round-to-nearest-even (vcvtps2dq under the default rounding mode is
// std::nearbyint), the same clamp and d; act_pos's reordering is one vpermd. (Scalar, the
// quantization took 11% of a 512-token prefill.)
static_assert(kBlock == 16, "one zmm a block");
// fp-contract off: GCC would fuse zs += d·sum into an FMA here (the target has FMA; the portable
// quantize_row, compiled for the base ISA, rounds the product): other bits for asymmetric weights.
INGOT_VNNI __attribute__((optimize("fp-contract=off"))) bool quantize_row_avx512(const float* x, size_t cols, uint32_t bits, size_t n_blocks, size_t gs_blocks,
                                    int8_t* q, float* d, float* zs) {
  alignas(64) int32_t order[16];
  for (size_t j = 0; j < 16; ++j) order[act_pos(j, bits)] = int32_t(j);  // order[pos] = source lane
  const __m512i perm = _mm512_load_si512(order);
  const __m512 big = _mm512_set1_ps(3.4028235e38f);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  bool finite = true;
  for (size_t b = 0; b < n_blocks; ++b) {
    const size_t k0 = b * kBlock, left = cols - k0;
    const __mmask16 m = __mmask16(left >= 16 ? 0xFFFF : (1u << left) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + k0);
    const __m512 a = _mm512_abs_ps(v);
    if (_mm512_cmp_ps_mask(a, big, _CMP_NLE_UQ) != 0) finite = false;  // NaN or ±Inf
    const float amax = _mm512_reduce_max_ps(a);
    const float inv = amax > 0 ? 127.0f / amax : 0.0f;
    __m512i qi = _mm512_cvtps_epi32(_mm512_mul_ps(v, _mm512_set1_ps(inv)));
    qi = _mm512_min_epi32(_mm512_max_epi32(qi, lo), hi);
    const int sum = _mm512_reduce_add_epi32(qi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k0), _mm512_cvtepi32_epi8(_mm512_permutexvar_epi32(perm, qi)));
    d[b] = amax / 127.0f;
    zs[b / gs_blocks] += d[b] * float(sum);
  }
  return finite;
}

// ---- AVX-512 VNNI -------------------------------------------------------------------------------
// One 512-bit load of a word row = 16 outputs × (8 four-bit or 4 eight-bit values along K): masks
// and a shift make them vpdpbusd's unsigned bytes, against a broadcast of 4 activation bytes.

// acc[r][v] += Σ over the block's first nw word rows; base: word row 0 of the panel.
template <int B, int NV, int R>
INGOT_VNNI_INLINE void block_vnni(const uint32_t* base, size_t rows, size_t nw, const __mmask16* m,
                                  const int8_t* const* xb, __m512i (&acc)[R][NV]) {
  const __m512i nib = _mm512_set1_epi32(0x0F0F0F0F);
  for (size_t i = 0; i < nw; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __m512i wv = _mm512_maskz_loadu_epi32(m[v], base + i * rows + 16 * v);
      if constexpr (B == 4) {
        const __m512i lo = _mm512_and_si512(wv, nib), hi = _mm512_and_si512(_mm512_srli_epi32(wv, 4), nib);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], lo, _mm512_set1_epi32(load_i32(xb[r] + 8 * i)));
          acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], hi, _mm512_set1_epi32(load_i32(xb[r] + 8 * i + 4)));
        }
      } else {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], wv, _mm512_set1_epi32(load_i32(xb[r] + 4 * i)));
      }
    }
  }
}

// y rows [r0, r0 + R), outputs [o0, o1) (o1 − o0 ≤ kTask): panels of 16·NV outputs, each block of
// 32 inputs walked across the whole span (every visit of a word row reads the span's bytes in one
// run; rows are `rows` words apart); per-group sums and results wait in L1.
template <int B, int NV, int R>
INGOT_VNNI void span_vnni(const QuantView& w, const Prepared& p, size_t r0, size_t o0, size_t o1, float* y) {
  constexpr size_t kW = 16 * NV;
  const size_t rows = w.rows, width = o1 - o0, n_pan = (width + kW - 1) / kW;
  alignas(64) float gacc[R][kTask], yb[R][kTask];
  for (int r = 0; r < R; ++r) std::fill_n(gacc[r], n_pan * kW, 0.0f), std::fill_n(yb[r], n_pan * kW, 0.0f);
  const int8_t* xq[R];
  const float *d[R], *zs[R];
  for (int r = 0; r < R; ++r) xq[r] = p.row_q(r0 + r), d[r] = p.row_d(r0 + r), zs[r] = p.row_zs(r0 + r);
  constexpr size_t kW8 = kWords<B>;
  for (size_t b = 0; b < p.n_blocks; ++b) {
    const size_t nw = std::min<size_t>(kW8, p.n_words - b * kW8);
    const uint32_t* base = w.qweight + b * kW8 * rows + o0;
    const bool ahead = b + kPrefetch < p.n_blocks;
    prefetch_group_params(w, p, b, o0, width);
    const int8_t* xb[R];
    for (int r = 0; r < R; ++r) xb[r] = xq[r] + b * kBlock;
    const bool flush = group_ends(p, b);
    const size_t g = b / p.gs_blocks;
    for (size_t pan = 0; pan < n_pan; ++pan) {
      const size_t po = pan * kW;
      if (ahead) {  // this panel's lines of the word rows kPrefetch blocks on, among the panel's own loads
#pragma GCC unroll 4
        for (size_t i = 0; i < kW8; ++i) {
          const char* pf = reinterpret_cast<const char*>(base + (kPrefetch * kW8 + i) * rows + po);
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) _mm_prefetch(pf + 64 * v, _MM_HINT_T0);
        }
      }
      __mmask16 m[NV];
      for (int v = 0; v < NV; ++v) {
        const size_t at = po + 16 * size_t(v), lanes = at >= width ? 0 : std::min<size_t>(16, width - at);
        m[v] = __mmask16(lanes == 16 ? 0xFFFF : (1u << lanes) - 1);
      }
      __m512i acc[R][NV];
      for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
      if (nw == kW8) {
        block_vnni<B, NV, R>(base + po, rows, kW8, m, xb, acc);
      } else {
        block_vnni<B, NV, R>(base + po, rows, nw, m, xb, acc);
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512 dr = _mm512_set1_ps(d[r][b]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          float* ga = gacc[r] + po + 16 * v;
          _mm512_store_ps(ga, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][v]), dr, _mm512_load_ps(ga)));
        }
      }
      if (flush) {
        for (int v = 0; v < NV; ++v) {
          const size_t at = po + 16 * size_t(v);
          if (m[v] == 0) continue;
          __m512 s, z;
          group_params(w, g, o0 + at, m[v], &s, &z);
          for (int r = 0; r < R; ++r) {
            float *ga = gacc[r] + at, *yo = yb[r] + at;
            const __m512 gz = _mm512_fnmadd_ps(z, _mm512_set1_ps(zs[r][g]), _mm512_load_ps(ga));
            _mm512_store_ps(yo, _mm512_fmadd_ps(s, gz, _mm512_load_ps(yo)));
            _mm512_store_ps(ga, _mm512_setzero_ps());
          }
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    float* yr = y + (r0 + r) * rows + o0;
    for (size_t at = 0; at < width; at += 16) {
      const size_t lanes = std::min<size_t>(16, width - at);
      _mm512_mask_storeu_ps(yr + at, __mmask16(lanes == 16 ? 0xFFFF : (1u << lanes) - 1), _mm512_load_ps(yb[r] + at));
    }
  }
}

// The same product for a tall pass (R ≥ 4 rows: prefill, large batches), panel by panel: each
// panel walks all of K with its group sums in registers (span_vnni keeps them in L1 and pays a
// load, an FMA and a store per block and row for the streaming of a whole span per block, which
// decode needs and a pass that reuses its span from L2 does not). Only the group flush touches
// memory. Sums in the same order as span_vnni: the results are identical.
template <int B, int NV, int R>
INGOT_VNNI void span_vnni_tall(const QuantView& w, const Prepared& p, size_t r0, size_t o0, size_t o1, float* y) {
  constexpr size_t kW = 16 * NV;
  constexpr size_t kW8 = kWords<B>;
  const size_t rows = w.rows, width = o1 - o0, n_pan = (width + kW - 1) / kW;
  const int8_t* xq[R];
  const float *d[R], *zs[R];
  for (int r = 0; r < R; ++r) xq[r] = p.row_q(r0 + r), d[r] = p.row_d(r0 + r), zs[r] = p.row_zs(r0 + r);
  for (size_t pan = 0; pan < n_pan; ++pan) {
    const size_t po = pan * kW;
    __mmask16 m[NV];
    for (int v = 0; v < NV; ++v) {
      const size_t at = po + 16 * size_t(v), lanes = at >= width ? 0 : std::min<size_t>(16, width - at);
      m[v] = __mmask16(lanes == 16 ? 0xFFFF : (1u << lanes) - 1);
    }
    __m512 gacc[R][NV], yv[R][NV];
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < NV; ++v) gacc[r][v] = _mm512_setzero_ps(), yv[r][v] = _mm512_setzero_ps();
    for (size_t b = 0; b < p.n_blocks; ++b) {
      const size_t nw = std::min<size_t>(kW8, p.n_words - b * kW8);
      const uint32_t* base = w.qweight + b * kW8 * rows + o0 + po;
      if (b + kPrefetch < p.n_blocks) {
#pragma GCC unroll 4
        for (size_t i = 0; i < kW8; ++i) {
          const char* pf = reinterpret_cast<const char*>(base + (kPrefetch * kW8 + i) * rows);
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) _mm_prefetch(pf + 64 * v, _MM_HINT_T0);
        }
      }
      const int8_t* xb[R];
      for (int r = 0; r < R; ++r) xb[r] = xq[r] + b * kBlock;
      __m512i acc[R][NV];
      for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
      if (nw == kW8) {
        block_vnni<B, NV, R>(base, rows, kW8, m, xb, acc);
      } else {
        block_vnni<B, NV, R>(base, rows, nw, m, xb, acc);
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512 dr = _mm512_set1_ps(d[r][b]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) gacc[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][v]), dr, gacc[r][v]);
      }
      if (!group_ends(p, b)) continue;
      const size_t g = b / p.gs_blocks;
      for (int v = 0; v < NV; ++v) {
        const size_t at = po + 16 * size_t(v);
        if (m[v] == 0) continue;
        __m512 s, z;
        group_params(w, g, o0 + at, m[v], &s, &z);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const __m512 gz = _mm512_fnmadd_ps(z, _mm512_set1_ps(zs[r][g]), gacc[r][v]);
          yv[r][v] = _mm512_fmadd_ps(s, gz, yv[r][v]);
          gacc[r][v] = _mm512_setzero_ps();
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < NV; ++v) {
        _mm512_mask_storeu_ps(y + (r0 + r) * rows + o0 + po + 16 * v, m[v], yv[r][v]);
      }
  }
}

// ---- AVX-512 VNNI + VBMI, 3 bits -----------------------------------------------------------------
// Every 3 word rows hold 32 values of each output (value j at stream bit 3j): a superblock of two
// activation blocks. Unpacking the word rows pairwise (vpunpck[lh]dq) puts (w0, w1) and (w1, w2) of
// each output in one 64-bit lane, where vpmultishiftqb takes 8 values at once (any bit offsets:
// the straddling values 10 and 21 included) as bytes; & 7 makes them vpdpbusd operands against a
// broadcast of 8 activation bytes. A 64-bit lane's two 32-bit halves hold two partial sums of one
// output ("paired" order: lanes of outputs 0,1,4,5,8,9,12,13 in `lo`, the others in `hi`); at the
// block's end they meet as integers, in output order, and the rest is the 4-bit kernel's.

// Control bytes: the bit offsets of 8 consecutive values inside a 64-bit lane.
constexpr uint64_t shift_control(int first) {
  uint64_t c = 0;
  for (int j = 0; j < 8; ++j) c |= uint64_t(first + 3 * j) << (8 * j);
  return c;
}

template <int NV, int R>
INGOT_VBMI void span_vnni3(const QuantView& w, const Prepared& p, size_t r0, size_t o0, size_t o1, float* y) {
  constexpr size_t kW = 16 * NV;
  const size_t rows = w.rows, width = o1 - o0, n_pan = (width + kW - 1) / kW;
  alignas(64) float gacc[R][kTask], yb[R][kTask];
  for (int r = 0; r < R; ++r) std::fill_n(gacc[r], n_pan * kW, 0.0f), std::fill_n(yb[r], n_pan * kW, 0.0f);
  const int8_t* xq[R];
  const float *d[R], *zs[R];
  for (int r = 0; r < R; ++r) xq[r] = p.row_q(r0 + r), d[r] = p.row_d(r0 + r), zs[r] = p.row_zs(r0 + r);
  // Value j of (w0, w1) at bit 3j; of (w1, w2) at bit 3j − 32.
  const __m512i c0 = _mm512_set1_epi64(int64_t(shift_control(0))), c1 = _mm512_set1_epi64(int64_t(shift_control(24)));
  const __m512i c2 = _mm512_set1_epi64(int64_t(shift_control(16))), c3 = _mm512_set1_epi64(int64_t(shift_control(40)));
  const __m512i seven = _mm512_set1_epi8(7);
  // Output o of a panel's 16 in the paired order: lane 2q (+1) of lo (o % 4 < 2) or hi (+16).
  alignas(64) int32_t even_idx[16], odd_idx[16];
  for (int o = 0; o < 16; ++o) even_idx[o] = (o % 4 < 2 ? 0 : 16) + 2 * ((o / 4) * 2 + o % 2), odd_idx[o] = even_idx[o] + 1;
  const __m512i ie = _mm512_load_si512(even_idx), io = _mm512_load_si512(odd_idx);
  const size_t n_super = (p.n_blocks + 1) / 2;
  for (size_t s = 0; s < n_super; ++s) {
    const size_t w0row = 3 * s, have = std::min<size_t>(3, p.n_words - w0row);  // word rows present
    const uint32_t* base = w.qweight + w0row * rows + o0;
    const bool ahead = s + kPrefetch < n_super && 3 * (s + kPrefetch) + 2 < p.n_words;
    const size_t bA = 2 * s, bB = 2 * s + 1;
    const bool hasB = bB < p.n_blocks;
    prefetch_group_params(w, p, bA, o0, width);
    if (hasB) prefetch_group_params(w, p, bB, o0, width);
    for (size_t pan = 0; pan < n_pan; ++pan) {
      const size_t po = pan * kW;
      if (ahead) {
#pragma GCC unroll 3
        for (size_t i = 0; i < 3; ++i) {
          const char* pf = reinterpret_cast<const char*>(base + (3 * kPrefetch + i) * rows + po);
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) _mm_prefetch(pf + 64 * v, _MM_HINT_T0);
        }
      }
      __m512i aLo[R][NV], aHi[R][NV], bLo[R][NV], bHi[R][NV];
      for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v)
          aLo[r][v] = aHi[r][v] = bLo[r][v] = bHi[r][v] = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const size_t at = po + 16 * size_t(v), lanes = at >= width ? 0 : std::min<size_t>(16, width - at);
        const __mmask16 m = __mmask16(lanes == 16 ? 0xFFFF : (1u << lanes) - 1);
        const uint32_t* pv = base + at;
        const __m512i w0 = _mm512_maskz_loadu_epi32(m, pv);
        const __m512i w1 = have > 1 ? _mm512_maskz_loadu_epi32(m, pv + rows) : _mm512_setzero_si512();
        const __m512i w2 = have > 2 ? _mm512_maskz_loadu_epi32(m, pv + 2 * rows) : _mm512_setzero_si512();
        const __m512i lo01 = _mm512_unpacklo_epi32(w0, w1), hi01 = _mm512_unpackhi_epi32(w0, w1);
        const __m512i lo12 = _mm512_unpacklo_epi32(w1, w2), hi12 = _mm512_unpackhi_epi32(w1, w2);
        const auto vals = [&](__m512i ctrl, __m512i src) INGOT_VBMI_LAMBDA {
          return _mm512_and_si512(_mm512_multishift_epi64_epi8(ctrl, src), seven);
        };
        const __m512i a0l = vals(c0, lo01), a1l = vals(c1, lo01), a0h = vals(c0, hi01), a1h = vals(c1, hi01);
        const __m512i b0l = vals(c2, lo12), b1l = vals(c3, lo12), b0h = vals(c2, hi12), b1h = vals(c3, hi12);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const int8_t* xb = xq[r] + bA * kBlock;  // 32 activations (zeros past the row's end)
          const __m512i x0 = _mm512_set1_epi64(load_i64(xb)), x1 = _mm512_set1_epi64(load_i64(xb + 8));
          aLo[r][v] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(aLo[r][v], a0l, x0), a1l, x1);
          aHi[r][v] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(aHi[r][v], a0h, x0), a1h, x1);
          if (hasB) {
            const __m512i x2 = _mm512_set1_epi64(load_i64(xb + 16)), x3 = _mm512_set1_epi64(load_i64(xb + 24));
            bLo[r][v] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(bLo[r][v], b0l, x2), b1l, x3);
            bHi[r][v] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(bHi[r][v], b0h, x2), b1h, x3);
          }
        }
      }
      // Per block: the two partial sums of each output meet in integers, in output order (exact:
      // the portable definition's block sum), then scale by d into the group sums as the 4-bit
      // kernel does — the same arithmetic in the same order as span_portable, so the same bits.
      for (int half = 0; half < (hasB ? 2 : 1); ++half) {
        const size_t b = half == 0 ? bA : bB;
        for (int r = 0; r < R; ++r) {
          const __m512 dr = _mm512_set1_ps(d[r][b]);
          for (int v = 0; v < NV; ++v) {
            float* ga = gacc[r] + po + 16 * v;
            const __m512i lo = half == 0 ? aLo[r][v] : bLo[r][v], hi = half == 0 ? aHi[r][v] : bHi[r][v];
            const __m512i sum = _mm512_add_epi32(_mm512_permutex2var_epi32(lo, ie, hi), _mm512_permutex2var_epi32(lo, io, hi));
            _mm512_store_ps(ga, _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), dr, _mm512_load_ps(ga)));
          }
        }
        if (!group_ends(p, b)) continue;
        const size_t g = b / p.gs_blocks;
        for (int v = 0; v < NV; ++v) {
          const size_t at = po + 16 * size_t(v), lanes = at >= width ? 0 : std::min<size_t>(16, width - at);
          if (lanes == 0) continue;
          const __mmask16 m = __mmask16(lanes == 16 ? 0xFFFF : (1u << lanes) - 1);
          __m512 sc, z;
          group_params(w, g, o0 + at, m, &sc, &z);
          for (int r = 0; r < R; ++r) {
            float *ga = gacc[r] + at, *yo = yb[r] + at;
            const __m512 gz = _mm512_fnmadd_ps(z, _mm512_set1_ps(zs[r][g]), _mm512_load_ps(ga));
            _mm512_store_ps(yo, _mm512_fmadd_ps(sc, gz, _mm512_load_ps(yo)));
            _mm512_store_ps(ga, _mm512_setzero_ps());
          }
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    float* yr = y + (r0 + r) * rows + o0;
    for (size_t at = 0; at < width; at += 16) {
      const size_t lanes = std::min<size_t>(16, width - at);
      _mm512_mask_storeu_ps(yr + at, __mmask16(lanes == 16 ? 0xFFFF : (1u << lanes) - 1), _mm512_load_ps(yb[r] + at));
    }
  }
}

// ---- AVX2 ---------------------------------------------------------------------------------------
// 8 outputs a vector. 4-bit: vpmaddubsw (u8 × s8 pairs, s16) summed over the block's word rows
// (kBlock ≤ 32: at most 8 · 2·15·127 = 30480 < 2^15, no saturation), one vpmaddwd a block. 8-bit: q − 128 as
// s8, sign moved onto the activation (|q−128| · ±x, pairs ≤ 2·128·127 < 2^15), one vpmaddwd a
// word row; the 128 returns through the zero point (zero − 128).

template <int B, int R>
INGOT_AVX2_INLINE void block_avx2(const uint32_t* base, size_t rows, size_t nw, const int8_t* const* xb, __m256i (&acc)[R]) {
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (B == 4) {
    const __m256i nib = _mm256_set1_epi8(0x0F);
    __m256i s16[R];
    for (int r = 0; r < R; ++r) s16[r] = _mm256_setzero_si256();
    for (size_t i = 0; i < nw; ++i) {
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + i * rows));
      const __m256i lo = _mm256_and_si256(wv, nib), hi = _mm256_and_si256(_mm256_srli_epi16(wv, 4), nib);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        s16[r] = _mm256_add_epi16(s16[r], _mm256_maddubs_epi16(lo, _mm256_set1_epi32(load_i32(xb[r] + 8 * i))));
        s16[r] = _mm256_add_epi16(s16[r], _mm256_maddubs_epi16(hi, _mm256_set1_epi32(load_i32(xb[r] + 8 * i + 4))));
      }
    }
    for (int r = 0; r < R; ++r) acc[r] = _mm256_madd_epi16(s16[r], ones);
  } else {
    const __m256i bias = _mm256_set1_epi8(char(0x80));
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_si256();
    for (size_t i = 0; i < nw; ++i) {
      const __m256i ws = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + i * rows)), bias);
      const __m256i ua = _mm256_abs_epi8(ws);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256i sx = _mm256_sign_epi8(_mm256_set1_epi32(load_i32(xb[r] + 4 * i)), ws);
        acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(_mm256_maddubs_epi16(ua, sx), ones));
      }
    }
  }
}

// As span_vnni with 8-output panels; the last width % 8 outputs go to span_portable.
template <int B, int R>
INGOT_AVX2 void span_avx2(const QuantView& w, const Prepared& p, size_t r0, size_t o0, size_t o1, float* y) {
  const size_t rows = w.rows, n_pan = (o1 - o0) / 8, width = n_pan * 8;
  if (o0 + width < o1) span_portable(w, p, r0, R, o0 + width, o1, y);
  if (n_pan == 0) return;
  alignas(32) float gacc[R][kTask], yb[R][kTask];
  for (int r = 0; r < R; ++r) std::fill_n(gacc[r], width, 0.0f), std::fill_n(yb[r], width, 0.0f);
  const int8_t* xq[R];
  const float *d[R], *zs[R];
  for (int r = 0; r < R; ++r) xq[r] = p.row_q(r0 + r), d[r] = p.row_d(r0 + r), zs[r] = p.row_zs(r0 + r);
  constexpr float kZeroShift = B == 8 ? 128.0f : 0.0f;
  constexpr size_t kW8 = kWords<B>;
  for (size_t b = 0; b < p.n_blocks; ++b) {
    const size_t nw = std::min<size_t>(kW8, p.n_words - b * kW8);
    const uint32_t* base = w.qweight + b * kW8 * rows + o0;
    const bool ahead = b + kPrefetch < p.n_blocks;
    prefetch_group_params(w, p, b, o0, width);
    const int8_t* xb[R];
    for (int r = 0; r < R; ++r) xb[r] = xq[r] + b * kBlock;
    const bool flush = group_ends(p, b);
    const size_t g = b / p.gs_blocks;
    for (size_t pan = 0; pan < n_pan; ++pan) {
      const size_t po = pan * 8;
      if (ahead && pan % 2 == 0) {  // as span_vnni: a 64-byte line holds two 8-output panels
#pragma GCC unroll 4
        for (size_t i = 0; i < kW8; ++i) _mm_prefetch(reinterpret_cast<const char*>(base + (kPrefetch * kW8 + i) * rows + po), _MM_HINT_T0);
      }
      __m256i acc[R];
      if (nw == kW8) {
        block_avx2<B, R>(base + po, rows, kW8, xb, acc);
      } else {
        block_avx2<B, R>(base + po, rows, nw, xb, acc);
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        float* ga = gacc[r] + po;
        _mm256_store_ps(ga, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r]), _mm256_set1_ps(d[r][b]), _mm256_load_ps(ga)));
      }
      if (flush) {
        const __m256 s = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales + g * rows + o0 + po)));
        __m256 z = _mm256_set1_ps(float(1 << (B - 1)) - kZeroShift);
        if (w.zeros != nullptr) {
          alignas(32) float zf[8];
          for (size_t j = 0; j < 8; ++j) zf[j] = float(zero_of(w, g, o0 + po + j)) - kZeroShift;
          z = _mm256_load_ps(zf);
        }
        for (int r = 0; r < R; ++r) {
          float *ga = gacc[r] + po, *yo = yb[r] + po;
          const __m256 gz = _mm256_fnmadd_ps(z, _mm256_set1_ps(zs[r][g]), _mm256_load_ps(ga));
          _mm256_store_ps(yo, _mm256_fmadd_ps(s, gz, _mm256_load_ps(yo)));
          _mm256_store_ps(ga, _mm256_setzero_ps());
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) std::copy_n(yb[r], width, y + (r0 + r) * rows + o0);
}

#endif  // __x86_64__

using SpanFn = void (*)(const QuantView&, const Prepared&, size_t, size_t, size_t, float*);

// The kernel for `isa`, bits and rows per pass (8, 4, 2 or 1: a batch takes its binary digits;
// 3 bits at most 4, kMaxRows3). Instantiated: bits {4, 8} × rows {1, 2, 4, 8} per SIMD isa (VNNI:
// 8 rows in span_vnni_tall, 167 → 185-189 G multiply-adds/s in bench/quant-batch at n = 8 and 16;
// 4 rows measured slower there, 155-165 → 136-140, so they stay in span_vnni), and
// 3 bits × rows {1, 2, 4} with VNNI + VBMI. Outputs per panel (VNNI): 64 for one row (four
// independent vpdpbusd chains), 32 for 2 and 4, 16 for 8 (at most 8 accumulators + temps within
// the 32 zmm registers); 3 bits: 32 for one row, 16 for 2 and 4 (four accumulators a panel-row).
//
// first_pass: the pass that brings a decode batch's span (n ≤ 16, 256 outputs) in from memory. Its
// 8 rows take span_vnni, which reads the span's word rows in 1 KiB runs with their prefetches;
// span_vnni_tall walks one 16-output panel down all of K (64 bytes a word row, `rows` words apart),
// right for a span already in L2 (the passes after) and for prefill's 64-output spans, starved
// when it streams. Same sums, same bits. Batched decode, TinyLlama shape, 8-bit classifier
// (bench/batched-vs-llamacpp.sh's model), B = 8: 1 thread 101 → 116 tok/s, 2 threads 125-135 →
// 185-195; B = 16: 112 → 120 and 146-170 → 169-192.
SpanFn pick_span(Int8Isa isa, uint32_t bits, size_t r, bool first_pass) {
#if defined(__x86_64__)
  const bool four = bits == 4;
  if (bits == 3) {
    if (isa != Int8Isa::avx512_vnni || !has_vbmi()) return nullptr;
    switch (r) {
      case 4: return span_vnni3<1, 4>;
      case 2: return span_vnni3<1, 2>;
      default: return span_vnni3<2, 1>;
    }
  }
  if (isa == Int8Isa::avx512_vnni) {
    switch (r) {
      case 8:
        if (first_pass) return four ? span_vnni<4, 1, 8> : span_vnni<8, 1, 8>;
        return four ? span_vnni_tall<4, 1, 8> : span_vnni_tall<8, 1, 8>;
      case 4: return four ? span_vnni<4, 2, 4> : span_vnni<8, 2, 4>;
      case 2: return four ? span_vnni<4, 2, 2> : span_vnni<8, 2, 2>;
      default: return four ? span_vnni<4, 4, 1> : span_vnni<8, 4, 1>;
    }
  }
  if (isa == Int8Isa::avx2) {
    switch (r) {
      case 8: return four ? span_avx2<4, 8> : span_avx2<8, 8>;
      case 4: return four ? span_avx2<4, 4> : span_avx2<8, 4>;
      case 2: return four ? span_avx2<4, 2> : span_avx2<8, 2>;
      default: return four ? span_avx2<4, 1> : span_avx2<8, 1>;
    }
  }
#else
  (void)bits, (void)r;
#endif
  (void)isa;
  return nullptr;
}

std::atomic<int> g_int8_on{-1};  // −1: not yet read from the environment
thread_local int t_int8_on = -1;  // −1: no ScopedActivations on this thread

}  // namespace

const char* int8_isa_name(Int8Isa isa) {
  switch (isa) {
    case Int8Isa::avx512_vnni: return "avx512-vnni";
    case Int8Isa::avx2: return "avx2";
    default: return "portable";
  }
}

bool int8_isa_available(Int8Isa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case Int8Isa::avx512_vnni:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case Int8Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    default: return true;
  }
#else
  return isa == Int8Isa::portable;
#endif
}

Int8Isa int8_isa() {
  static const Int8Isa isa = [] {
    if (std::getenv("INGOT_NO_SIMD") != nullptr) return Int8Isa::portable;
    const char* want = std::getenv("INGOT_SIMD");
    const bool avx2_only = want != nullptr && std::strcmp(want, "avx2") == 0;
    if (!avx2_only && int8_isa_available(Int8Isa::avx512_vnni)) return Int8Isa::avx512_vnni;
    if (int8_isa_available(Int8Isa::avx2)) return Int8Isa::avx2;
    return Int8Isa::portable;
  }();
  return isa;
}

void set_int8_activations(bool on) { g_int8_on.store(on ? 1 : 0); }

Activations default_activations() {
  int on = g_int8_on.load();
  if (on < 0) {
    const char* act = std::getenv("INGOT_QUANT_ACT");
    on = 1;
    if (act != nullptr && std::strcmp(act, "f32") == 0) {
      on = 0;
    } else if (act != nullptr && std::strcmp(act, "int8") != 0) {
      std::fprintf(stderr, "ingot: INGOT_QUANT_ACT='%s' is neither int8 nor f32; using int8\n", act);
    }
    int expected = -1;
    g_int8_on.compare_exchange_strong(expected, on);
    on = g_int8_on.load();
  }
  return on == 1 ? Activations::int8 : Activations::f32;
}

bool int8_activations() {
  if (t_int8_on >= 0) return t_int8_on == 1;
  return default_activations() == Activations::int8;
}

ScopedActivations::ScopedActivations(Activations a) : previous_(t_int8_on) {
  t_int8_on = a == Activations::int8 ? 1 : 0;
}

ScopedActivations::~ScopedActivations() { t_int8_on = previous_; }

bool int8_3bit_kernel() { return int8_isa() == Int8Isa::avx512_vnni && has_vbmi(); }

bool quant_int8_supported(const QuantView& w) {
  return (w.bits == 3 || w.bits == 4 || w.bits == 8) && w.g_idx == nullptr &&
         (w.group_size == -1 || (w.group_size > 0 && w.group_size % int32_t(kBlock) == 0));
}

void quant_matmul_int8(const float* x, size_t n, const QuantView& w, float* y, Int8Isa isa) {
  if (n == 0) return;
  if (w.order != nullptr) {
    // Sorted layout (act-order): gather x once into stored column order, then the stored weight
    // is an ordinary no-g_idx one (quant.h).
    std::vector<float> xs(n * w.cols);
    gather_columns(x, n, w.cols, w.order, xs.data());
    QuantView stored = w;
    stored.order = nullptr;
    return quant_matmul_int8(xs.data(), n, stored, y, isa);
  }
  const size_t n_blocks = (w.cols + kBlock - 1) / kBlock, n_groups = quant_n_groups(w.cols, w.group_size);
  const size_t gs_blocks = w.group_size < 0 ? n_blocks : size_t(w.group_size) / kBlock;
  std::vector<int8_t> q(n * n_blocks * kBlock);
  std::vector<float> d(n * n_blocks), zs(n * n_groups, 0.0f);
  std::vector<char> finite(n);
#if defined(__x86_64__)
  const auto quantize = isa == Int8Isa::avx512_vnni ? quantize_row_avx512 : quantize_row;
#else
  const auto quantize = quantize_row;
#endif
  parallel_for(n, n >= 8, [&](size_t r, int) {
    finite[r] = quantize(x + r * w.cols, w.cols, w.bits, n_blocks, gs_blocks, q.data() + r * n_blocks * kBlock,
                         d.data() + r * n_blocks, zs.data() + r * n_groups);
  });
  const Prepared p{q.data(), d.data(), zs.data(), n_blocks, quant_words(w.cols, w.bits), n_groups, gs_blocks};
  // Task width: 256 outputs, halved down to 64 until every worker has a few tasks (the
  // 256-output k/v projections of a GQA model would otherwise leave a core idle); a long batch
  // (prefill) takes 64 so that the span's weights stay in L2 across its passes of 8 rows.
  size_t tw = kTask;
  const size_t want = 4 * size_t(std::max(1, threads()));
  while (tw > 64 && ((w.rows + tw - 1) / tw < want || n > 16)) tw /= 2;
  const size_t n_tasks = (w.rows + tw - 1) / tw;
  parallel_for(n_tasks, n_tasks > 1 && n * w.rows * w.cols >= 65536, [&](size_t t, int) {
    const size_t o0 = t * tw, o1 = std::min(w.rows, o0 + tw);
    const size_t most = w.bits == 3 ? kMaxRows3 : kMaxRows;
    for (size_t r0 = 0; r0 < n;) {
      const size_t left = n - r0, take = left >= 8 && most >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
      const SpanFn span = pick_span(isa, w.bits, take, r0 == 0 && n <= 16);
      if (span != nullptr) {
        span(w, p, r0, o0, o1, y);
      } else {
        span_portable(w, p, r0, take, o0, o1, y);
      }
      r0 += take;
    }
  });
  for (size_t r = 0; r < n; ++r) {
    if (!finite[r]) quant_matmul_f32(x + r * w.cols, 1, w, y + r * w.rows);
  }
  static_assert(kMaxRows == 8, "the pass sizes above");
}

}  // namespace ingot::cpu
