#include "cpu/quant.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "cpu/convert.h"
#include "cpu/quant_int8.h"
#include "cpu/simd.h"
#include "cpu/threads.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define INGOT_AVX2 __attribute__((target("avx2,fma,f16c")))
#define INGOT_AVX2_INLINE __attribute__((target("avx2,fma,f16c"), always_inline)) inline
#endif

namespace ingot::cpu {

using format::fail;
using format::Status;
using format::StatusCode;

namespace {

constexpr size_t kTask = 256;          // output columns per decode task (1 KiB of each word row)
constexpr size_t kChunk = 32;          // input values per unrolled decode step: `bits` word rows
constexpr size_t kPrefetchChunks = 2;  // decode prefetch distance, in chunks
constexpr size_t kBlockCols = 256;     // output columns per prefill sgemm (and per thread task)
// Batches up to this many rows (decode steps of several sequences) run the decode kernel on
// several rows at once; longer ones (prefill chunks) widen blocks to f32 for sgemm.
constexpr size_t kSmallBatch = 16;

bool bits_ok(uint32_t b) { return b == 2 || b == 3 || b == 4 || b == 8; }

inline void stream_put(uint32_t* words, size_t stride, size_t i, uint32_t bits, uint32_t v) {
  const size_t bit = i * bits, wi = bit >> 5;
  const uint32_t off = uint32_t(bit & 31);
  words[wi * stride] |= v << off;
  if (off + bits > 32) words[(wi + 1) * stride] |= v >> (32 - off);
}

inline size_t group_of(const QuantView& w, size_t k) {
  if (w.g_idx != nullptr) return size_t(w.g_idx[k]);
  return w.group_size < 0 ? 0 : k / size_t(w.group_size);
}

inline float zero_at(const QuantView& w, size_t g, size_t o) {
  if (w.zeros == nullptr) return float(1u << (w.bits - 1));
  return float(stream_get(w.zeros + g * quant_words(w.rows, w.bits), 1, o, w.bits));
}

// xsum[g] = Σ x[k] over the input columns of group g: the zero points enter the product only as
// −scale·zero·xsum[g], so the inner loops multiply x by raw q.
void group_sums(const QuantView& w, const float* x, size_t n_groups, std::vector<float>* xsum) {
  std::vector<double> s(n_groups, 0.0);
  for (size_t k = 0; k < w.cols; ++k) s[group_of(w, k)] += x[k];
  xsum->assign(s.begin(), s.end());
}

// What every decode task of one call shares.
struct DecodeArgs {
  const float* x;     // (cols)
  const float* xs;    // (cols) x pre-scaled for the AVX2 mask-only values (prescale_x)
  const float* xsum;  // (n_groups) group_sums
  size_t n_groups;
};

// x pre-scaled for the AVX2 decode (kMaskOnly there): xs[k] = x[k]·2^−off for value J = k mod 32, else x[k].
void prescale_x(const float* x, size_t cols, uint32_t bits, float* xs) {
  for (size_t k = 0; k < cols; ++k) {
    const int off = int((k % kChunk) * bits % 32);
    xs[k] = off + int(bits) <= 31 ? std::ldexp(x[k], -off) : x[k];
  }
}

// ---- portable kernels ------------------------------------------------------------------------

// y[o] for o in [o0, o1), o1 − o0 ≤ kTask. Sums x·q over each run of input columns sharing a
// group, then adds scale·sum: one multiply per run, not per value.
void decode_cols_scalar(const QuantView& w, const DecodeArgs& args, size_t o0, size_t o1, float* y) {
  const float *x = args.x, *xsum = args.xsum;
  const size_t n_groups = args.n_groups;
  const size_t nc = o1 - o0, rows = w.rows;
  const uint32_t bits = w.bits, mask = (1u << bits) - 1;
  float yacc[kTask] = {}, acc[kTask] = {};
  for (size_t k = 0; k < w.cols; ++k) {
    const size_t g = group_of(w, k), bit = k * bits;
    const uint32_t off = uint32_t(bit & 31);
    const uint32_t* a = w.qweight + (bit >> 5) * rows + o0;
    const float xk = x[k];
    if (off + bits <= 32) {
      for (size_t j = 0; j < nc; ++j) acc[j] += xk * float((a[j] >> off) & mask);
    } else {
      const uint32_t* b = a + rows;
      for (size_t j = 0; j < nc; ++j) acc[j] += xk * float(((a[j] >> off) | (b[j] << (32 - off))) & mask);
    }
    if (k + 1 == w.cols || group_of(w, k + 1) != g) {
      for (size_t j = 0; j < nc; ++j) {
        yacc[j] += f16_to_f32(w.scales[g * rows + o0 + j]) * acc[j];
        acc[j] = 0;
      }
    }
  }
  for (size_t g = 0; g < n_groups; ++g) {
    for (size_t j = 0; j < nc; ++j) yacc[j] -= f16_to_f32(w.scales[g * rows + o0 + j]) * zero_at(w, g, o0 + j) * xsum[g];
  }
  std::copy_n(yacc, nc, y + o0);
}

// out (cols, nc) = dequant(W)ᵀ for output columns [o0, o0 + nc), from per-group sf/zf (n_groups, nc).
void dequant_block_scalar(const QuantView& w, size_t o0, size_t nc, const float* sf, const float* zf, float* out) {
  const uint32_t bits = w.bits, mask = (1u << bits) - 1;
  for (size_t k = 0; k < w.cols; ++k) {
    const size_t g = group_of(w, k), bit = k * bits;
    const uint32_t off = uint32_t(bit & 31);
    const uint32_t* a = w.qweight + (bit >> 5) * w.rows + o0;
    const float *s = sf + g * nc, *z = zf + g * nc;
    float* o = out + k * nc;
    if (off + bits <= 32) {
      for (size_t j = 0; j < nc; ++j) o[j] = s[j] * (float((a[j] >> off) & mask) - z[j]);
    } else {
      const uint32_t* b = a + w.rows;
      for (size_t j = 0; j < nc; ++j) o[j] = s[j] * (float(((a[j] >> off) | (b[j] << (32 - off))) & mask) - z[j]);
    }
  }
}

#if defined(__x86_64__)

// ---- AVX2 kernels ----------------------------------------------------------------------------
// Eight consecutive words of a word row are eight output columns: value k of those columns is the
// same shift and mask applied to all eight lanes.

INGOT_AVX2_INLINE __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
INGOT_AVX2_INLINE __m256i load_u32x8(const uint32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// A value whose field [off, off + B) lies in bits 0..30 is taken by a mask alone, as q·2^off (an
// exact int32, so an exact float): its x is pre-scaled by 2^−off (exact too), and the shift is
// saved: 3 vector operations a value instead of 4. Fields touching bit 31 are shifted down.
template <int B, int J>
constexpr bool kMaskOnly = (J * B) % 32 + B <= 31;

// Value J (0..31) of a 32-value chunk for 8 columns (times 2^off when kMaskOnly); `base` points at
// the chunk's first word row.
template <int B, int J>
INGOT_AVX2_INLINE __m256 chunk_value(const uint32_t* base, size_t rows) {
  constexpr int bit = J * B, wi = bit / 32, off = bit % 32;
  const __m256i a = load_u32x8(base + wi * rows);
  if constexpr (kMaskOnly<B, J>) return _mm256_cvtepi32_ps(_mm256_and_si256(a, _mm256_set1_epi32(((1 << B) - 1) << off)));
  __m256i q = off ? _mm256_srli_epi32(a, off) : a;
  if constexpr (off + B > 32) q = _mm256_or_si256(q, _mm256_slli_epi32(load_u32x8(base + (wi + 1) * rows), 32 - off));
  if constexpr (off + B != 32) q = _mm256_and_si256(q, _mm256_set1_epi32((1 << B) - 1));
  return _mm256_cvtepi32_ps(q);
}

// Value k (any) for 8 columns; `a` points at column 0's word row 0.
template <int B>
INGOT_AVX2_INLINE __m256 any_value(const uint32_t* a, size_t rows, size_t k) {
  const size_t bit = k * B;
  const int off = int(bit & 31);
  const uint32_t* p = a + (bit >> 5) * rows;
  __m256i q = _mm256_srl_epi32(load_u32x8(p), _mm_cvtsi32_si128(off));
  if (off + B > 32) q = _mm256_or_si256(q, _mm256_sll_epi32(load_u32x8(p + rows), _mm_cvtsi32_si128(32 - off)));
  return _mm256_cvtepi32_ps(_mm256_and_si256(q, _mm256_set1_epi32((1 << B) - 1)));
}

// acc[v] += x[J] · q[J] (kUniform: the chunk has one group), or acc[v] += x[J] · s[g(J)] · q[J].
template <int B, int NV, bool kUniform, int J>
INGOT_AVX2_INLINE void chunk_step(const uint32_t* base, size_t rows, const float* xc, const uint16_t* const* srow,
                                  __m256* acc) {
  const __m256 xj = _mm256_broadcast_ss(xc + J);
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const __m256 q = chunk_value<B, J>(base + 8 * v, rows);
    if constexpr (kUniform) {
      acc[v] = _mm256_fmadd_ps(xj, q, acc[v]);
    } else {
      acc[v] = _mm256_fmadd_ps(_mm256_mul_ps(xj, load_f16x8(srow[J] + 8 * v)), q, acc[v]);
    }
  }
}

// One chunk of 32 input values, unrolled so that every shift is a constant.
template <int B, int NV, bool kUniform, int... J>
INGOT_AVX2_INLINE void chunk_fma(const uint32_t* base, size_t rows, const float* xc, const uint16_t* const* srow,
                                 __m256* acc, std::integer_sequence<int, J...>) {
  (chunk_step<B, NV, kUniform, J>(base, rows, xc, srow, acc), ...);
}

// y[o0, o0 + n_sub·8·NV) for one task: n_sub panels of 8·NV columns side by side, walked one
// chunk (B word rows) at a time across the whole span, so that each visit of a word row reads
// n_sub·32·NV contiguous bytes (rows are `rows` words apart: a page or more, which neither the
// TLB nor the hardware prefetcher follows well); the panels' sums wait in L1 between chunks.
// kUniform: no g_idx and every group a whole number of chunks, so a chunk has one group and the
// scale is applied once per group and panel; otherwise once per value.
template <int B, int NV, bool kUniform>
INGOT_AVX2 void decode_span_avx2(const QuantView& w, const DecodeArgs& args, size_t o0, size_t n_sub, float* y) {
  constexpr size_t kWidth = 8 * NV;
  const float *x = args.x, *xs = args.xs, *xsum = args.xsum;
  const size_t rows = w.rows, cols = w.cols, n_chunks = cols / kChunk, width = n_sub * kWidth;
  const size_t gs = w.group_size < 0 ? cols : size_t(w.group_size);
  const uint32_t* q0 = w.qweight + o0;
  const uint16_t* s0 = w.scales + o0;
  alignas(32) float accb[kTask] = {}, yb[kTask] = {};  // (width) per-group sums, results
  const uint16_t* srow[kChunk];
  for (size_t c = 0; c < n_chunks; ++c) {
    const uint32_t* base = q0 + c * B * rows;
    if (c + kPrefetchChunks < n_chunks) {
      for (int r = 0; r < B; ++r) {
        const char* p = reinterpret_cast<const char*>(base + (kPrefetchChunks * B + r) * rows);
        for (size_t line = 0; line < width * 4; line += 64) _mm_prefetch(p + line, _MM_HINT_T0);
      }
    }
    const float* xc = xs + c * kChunk;
    if constexpr (kUniform) {
      const bool flush = ((c + 1) * kChunk) % gs == 0 || c + 1 == n_chunks;
      const uint16_t* s = s0 + (c * kChunk / gs) * rows;
      for (size_t p = 0; p < n_sub; ++p) {
        __m256 acc[NV];
        float* ap = accb + p * kWidth;
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[v] = _mm256_load_ps(ap + 8 * v);
        chunk_fma<B, NV, true>(base + p * kWidth, rows, xc, srow, acc, std::make_integer_sequence<int, kChunk>{});
        if (flush) {
          float* yp = yb + p * kWidth;
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) {
            const __m256 sv = load_f16x8(s + p * kWidth + 8 * v);
            _mm256_store_ps(yp + 8 * v, _mm256_fmadd_ps(sv, acc[v], _mm256_load_ps(yp + 8 * v)));
            acc[v] = _mm256_setzero_ps();
          }
        }
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) _mm256_store_ps(ap + 8 * v, acc[v]);
      }
    } else {
      for (size_t j = 0; j < kChunk; ++j) srow[j] = s0 + group_of(w, c * kChunk + j) * rows;
      for (size_t p = 0; p < n_sub; ++p) {
        __m256 acc[NV];
        float* yp = yb + p * kWidth;
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[v] = _mm256_load_ps(yp + 8 * v);
        const uint16_t* sp[kChunk];
        for (size_t j = 0; j < kChunk; ++j) sp[j] = srow[j] + p * kWidth;
        chunk_fma<B, NV, false>(base + p * kWidth, rows, xc, sp, acc, std::make_integer_sequence<int, kChunk>{});
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) _mm256_store_ps(yp + 8 * v, acc[v]);
      }
    }
  }
  const size_t n_vec = width / 8;
  for (size_t k = n_chunks * kChunk; k < cols; ++k) {  // the last cols % 32 values
    const __m256 xk = _mm256_set1_ps(x[k]);
    const uint16_t* s = s0 + group_of(w, k) * rows;
    for (size_t v = 0; v < n_vec; ++v) {
      const __m256 t = _mm256_mul_ps(xk, load_f16x8(s + 8 * v));
      _mm256_store_ps(yb + 8 * v, _mm256_fmadd_ps(t, any_value<B>(q0 + 8 * v, rows, k), _mm256_load_ps(yb + 8 * v)));
    }
  }
  // − Σ_g scale·zero·xsum[g]
  const size_t zw = quant_words(rows, B);
  for (size_t v = 0; v < n_vec; ++v) {
    __m256 yv = _mm256_load_ps(yb + 8 * v);
    for (size_t g = 0; g < args.n_groups; ++g) {
      __m256 z = _mm256_set1_ps(float(1 << (B - 1)));
      if (w.zeros != nullptr) {
        alignas(32) int32_t zi[8];
        for (int j = 0; j < 8; ++j) zi[j] = int32_t(stream_get(w.zeros + g * zw, 1, o0 + 8 * v + j, B));
        z = _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(zi)));
      }
      const __m256 sz = _mm256_mul_ps(load_f16x8(s0 + g * rows + 8 * v), z);
      yv = _mm256_fnmadd_ps(sz, _mm256_set1_ps(xsum[g]), yv);
    }
    _mm256_storeu_ps(y + o0 + 8 * v, yv);
  }
}

// Columns [o0, o1): spans of 32-column panels, then 8-column panels, then the last < 8 columns.
template <int B, bool kUniform>
INGOT_AVX2 void decode_cols_avx2(const QuantView& w, const DecodeArgs& args, size_t o0, size_t o1, float* y) {
  const size_t n32 = (o1 - o0) / 32;
  if (n32 > 0) decode_span_avx2<B, 4, kUniform>(w, args, o0, n32, y);
  o0 += 32 * n32;
  const size_t n8 = (o1 - o0) / 8;
  if (n8 > 0) decode_span_avx2<B, 1, kUniform>(w, args, o0, n8, y);
  o0 += 8 * n8;
  if (o0 < o1) decode_cols_scalar(w, args, o0, o1, y);
}

template <int B>
INGOT_AVX2 void dequant_block_avx2(const QuantView& w, size_t o0, size_t nc, const float* sf, const float* zf,
                                   float* out) {
  for (size_t k = 0; k < w.cols; ++k) {
    const size_t g = group_of(w, k);
    const float *s = sf + g * nc, *z = zf + g * nc;
    float* o = out + k * nc;
    size_t j = 0;
    for (; j + 8 <= nc; j += 8) {
      const __m256 q = any_value<B>(w.qweight + o0 + j, w.rows, k);
      _mm256_storeu_ps(o + j, _mm256_mul_ps(_mm256_loadu_ps(s + j), _mm256_sub_ps(q, _mm256_loadu_ps(z + j))));
    }
    for (; j < nc; ++j) o[j] = s[j] * (float(stream_get(w.qweight + o0 + j, w.rows, k, B)) - z[j]);
  }
}


// ---- several rows of x at once (small-batch decode) -------------------------------------------
// The decode kernel above for R rows of x: each value q is unpacked once and multiplied into R
// accumulators, so the unpacking (two of the three operations a value) is shared by the rows.
// Every row's sums run in exactly the n == 1 order (per column: x[J]·q[J] over J, the scale once
// per group, then the zero term), so a row gives the same bits as decoding it alone.

template <int B, int R, int J>
INGOT_AVX2_INLINE void rows_step(const uint32_t* base, size_t rows, const float* const* xc, __m256* acc) {
  const __m256 q = chunk_value<B, J>(base, rows);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(xc[r] + J), q, acc[r]);
}

template <int B, int R, int... J>
INGOT_AVX2_INLINE void rows_chunk(const uint32_t* base, size_t rows, const float* const* xc, __m256* acc,
                                  std::integer_sequence<int, J...>) {
  (rows_step<B, R, J>(base, rows, xc, acc), ...);
}

// y[r][o0, o0 + 8·n_sub) for R rows; uniform groups (one group a chunk), cols % 32 == 0.
// xs[r]: row r pre-scaled (prescale_x); xsum[r]: its group sums; y[r]: its output row.
template <int B, int R>
INGOT_AVX2 void decode_rows_avx2(const QuantView& w, const float* const* xs, const float* const* xsum,
                                 size_t n_groups, size_t o0, size_t n_sub, float* const* y) {
  const size_t rows = w.rows, cols = w.cols, n_chunks = cols / kChunk, width = n_sub * 8;
  const size_t gs = w.group_size < 0 ? cols : size_t(w.group_size);
  const uint32_t* q0 = w.qweight + o0;
  const uint16_t* s0 = w.scales + o0;
  alignas(32) float accb[R][kTask], yb[R][kTask];  // (R, width) per-group sums, results
  for (int r = 0; r < R; ++r) std::fill_n(accb[r], width, 0.0f), std::fill_n(yb[r], width, 0.0f);
  for (size_t c = 0; c < n_chunks; ++c) {
    const uint32_t* base = q0 + c * B * rows;
    if (c + kPrefetchChunks < n_chunks) {
      for (int r = 0; r < B; ++r) {
        const char* p = reinterpret_cast<const char*>(base + (kPrefetchChunks * B + r) * rows);
        for (size_t line = 0; line < width * 4; line += 64) _mm_prefetch(p + line, _MM_HINT_T0);
      }
    }
    const float* xc[R];
    for (int r = 0; r < R; ++r) xc[r] = xs[r] + c * kChunk;
    const bool flush = ((c + 1) * kChunk) % gs == 0 || c + 1 == n_chunks;
    const uint16_t* s = s0 + (c * kChunk / gs) * rows;
    for (size_t p = 0; p < n_sub; ++p) {
      __m256 acc[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r] = _mm256_load_ps(accb[r] + 8 * p);
      rows_chunk<B, R>(base + 8 * p, rows, xc, acc, std::make_integer_sequence<int, kChunk>{});
      if (flush) {
        const __m256 sv = load_f16x8(s + 8 * p);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          _mm256_store_ps(yb[r] + 8 * p, _mm256_fmadd_ps(sv, acc[r], _mm256_load_ps(yb[r] + 8 * p)));
          acc[r] = _mm256_setzero_ps();
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) _mm256_store_ps(accb[r] + 8 * p, acc[r]);
    }
  }
  // − Σ_g scale·zero·xsum[g], as decode_span_avx2.
  const size_t zw = quant_words(rows, B);
  for (size_t v = 0; v < n_sub; ++v) {
    for (int r = 0; r < R; ++r) {
      __m256 yv = _mm256_load_ps(yb[r] + 8 * v);
      for (size_t g = 0; g < n_groups; ++g) {
        __m256 z = _mm256_set1_ps(float(1 << (B - 1)));
        if (w.zeros != nullptr) {
          alignas(32) int32_t zi[8];
          for (int j = 0; j < 8; ++j) zi[j] = int32_t(stream_get(w.zeros + g * zw, 1, o0 + 8 * v + j, B));
          z = _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(zi)));
        }
        const __m256 sz = _mm256_mul_ps(load_f16x8(s0 + g * rows + 8 * v), z);
        yv = _mm256_fnmadd_ps(sz, _mm256_set1_ps(xsum[r][g]), yv);
      }
      _mm256_storeu_ps(y[r] + o0 + 8 * v, yv);
    }
  }
}

using RowsFn = void (*)(const QuantView&, const float* const*, const float* const*, size_t, size_t, size_t,
                        float* const*);

// Rows per pass: 8, 4, 2, 1 (a batch of n takes its binary digits); bits 4 and 8 only, the widths
// of every common checkpoint (others keep the sgemm path).
RowsFn pick_rows(uint32_t bits, size_t r) {
  const bool four = bits == 4;
  switch (r) {
    case 8: return four ? decode_rows_avx2<4, 8> : decode_rows_avx2<8, 8>;
    case 4: return four ? decode_rows_avx2<4, 4> : decode_rows_avx2<8, 4>;
    case 2: return four ? decode_rows_avx2<4, 2> : decode_rows_avx2<8, 2>;
    default: return four ? decode_rows_avx2<4, 1> : decode_rows_avx2<8, 1>;
  }
}

#endif  // __x86_64__

using DecodeFn = void (*)(const QuantView&, const DecodeArgs&, size_t, size_t, float*);

// The decode kernel for these bits and grouping: every bits × {uniform, general} is instantiated
// (2/3/4/8 are the GPTQ widths; uniform covers group_size −1 and multiples of 32, i.e. all common
// checkpoints without act-order).
DecodeFn pick_decode(const QuantView& w) {
#if defined(__x86_64__)
  if (simd::has_avx2()) {
    const bool uniform = w.g_idx == nullptr && (w.group_size < 0 || w.group_size % int32_t(kChunk) == 0);
    switch (w.bits) {
      case 2: return uniform ? decode_cols_avx2<2, true> : decode_cols_avx2<2, false>;
      case 3: return uniform ? decode_cols_avx2<3, true> : decode_cols_avx2<3, false>;
      case 4: return uniform ? decode_cols_avx2<4, true> : decode_cols_avx2<4, false>;
      default: return uniform ? decode_cols_avx2<8, true> : decode_cols_avx2<8, false>;
    }
  }
#endif
  return decode_cols_scalar;
}

void dequant_block(const QuantView& w, size_t o0, size_t nc, const float* sf, const float* zf, float* out) {
#if defined(__x86_64__)
  if (simd::has_avx2()) {
    switch (w.bits) {
      case 2: return dequant_block_avx2<2>(w, o0, nc, sf, zf, out);
      case 3: return dequant_block_avx2<3>(w, o0, nc, sf, zf, out);
      case 4: return dequant_block_avx2<4>(w, o0, nc, sf, zf, out);
      default: return dequant_block_avx2<8>(w, o0, nc, sf, zf, out);
    }
  }
#endif
  dequant_block_scalar(w, o0, nc, sf, zf, out);
}

// sf, zf (n_groups, nc): scales and zero points of output columns [o0, o0 + nc) as f32.
void block_params(const QuantView& w, size_t n_groups, size_t o0, size_t nc, std::vector<float>* sf,
                  std::vector<float>* zf) {
  sf->resize(n_groups * nc);
  zf->resize(n_groups * nc);
  for (size_t g = 0; g < n_groups; ++g) {
    for (size_t j = 0; j < nc; ++j) {
      (*sf)[g * nc + j] = f16_to_f32(w.scales[g * w.rows + o0 + j]);
      (*zf)[g * nc + j] = zero_at(w, g, o0 + j);
    }
  }
}

}  // namespace

size_t quant_n_groups(size_t cols, int32_t group_size) {
  if (group_size == -1) return 1;
  if (group_size < 1) return 0;
  return (cols + size_t(group_size) - 1) / size_t(group_size);
}

size_t quant_words(size_t n, uint32_t bits) { return (n * bits + 31) / 32; }

Status check_quant_view(const QuantView& w, const char* tensor) {
  if (!bits_ok(w.bits)) return fail(StatusCode::invalid_argument, "tensor '", tensor, "': bits ", w.bits, " is not 2/3/4/8");
  if (w.rows == 0 || w.cols == 0) {
    return fail(StatusCode::invalid_argument, "tensor '", tensor, "': empty shape (", w.rows, ", ", w.cols, ")");
  }
  const size_t n_groups = quant_n_groups(w.cols, w.group_size);
  if (n_groups == 0) {
    return fail(StatusCode::invalid_argument, "tensor '", tensor, "': group_size ", w.group_size,
                " is neither -1 nor positive");
  }
  if (w.qweight == nullptr || w.scales == nullptr) {
    return fail(StatusCode::invalid_argument, "tensor '", tensor, "': qweight or scales missing");
  }
  if (w.g_idx != nullptr) {
    for (size_t k = 0; k < w.cols; ++k) {
      if (w.g_idx[k] < 0 || size_t(w.g_idx[k]) >= n_groups) {
        return fail(StatusCode::invalid_argument, "tensor '", tensor, "': g_idx[", k, "] = ", w.g_idx[k],
                    " is outside [0, ", n_groups, ")");
      }
    }
  }
  if (w.order != nullptr) {
    if (w.g_idx != nullptr) {
      return fail(StatusCode::invalid_argument, "tensor '", tensor, "': an input order and a g_idx together ",
                  "(the sorted layout's groups are contiguous)");
    }
    std::vector<bool> seen(w.cols, false);
    for (size_t j = 0; j < w.cols; ++j) {
      const int32_t k = w.order[j];
      if (k < 0 || size_t(k) >= w.cols) {
        return fail(StatusCode::invalid_argument, "tensor '", tensor, "': input_order[", j, "] = ", k,
                    " is outside [0, ", w.cols, ")");
      }
      if (seen[size_t(k)]) {
        return fail(StatusCode::invalid_argument, "tensor '", tensor, "': input_order[", j, "] = ", k,
                    " repeats an earlier entry; input_order must be a permutation of [0, ", w.cols, ")");
      }
      seen[size_t(k)] = true;
    }
  }
  return Status::success();
}

bool quant_group_order(const int32_t* g_idx, size_t cols, int32_t group_size, std::vector<int32_t>* order) {
  if (group_size < 1) return false;
  const size_t gs = size_t(group_size), n_groups = quant_n_groups(cols, group_size);
  std::vector<size_t> count(n_groups, 0);
  for (size_t k = 0; k < cols; ++k) {
    if (g_idx[k] < 0 || size_t(g_idx[k]) >= n_groups) return false;
    ++count[size_t(g_idx[k])];
  }
  for (size_t g = 0; g < n_groups; ++g) {
    if (count[g] != std::min(gs, cols - g * gs)) return false;
  }
  // Counting sort, stable: group g's columns, in input order, start at stored column g·gs.
  std::vector<size_t> next(n_groups);
  for (size_t g = 0; g < n_groups; ++g) next[g] = g * gs;
  order->assign(cols, 0);
  for (size_t k = 0; k < cols; ++k) (*order)[next[size_t(g_idx[k])]++] = int32_t(k);
  return true;
}

void gather_columns(const float* x, size_t n, size_t cols, const int32_t* order, float* xs) {
  for (size_t r = 0; r < n; ++r) {
    const float* xr = x + r * cols;
    float* sr = xs + r * cols;
    for (size_t j = 0; j < cols; ++j) sr[j] = xr[order[j]];
  }
}

Status pack_gptq(const uint8_t* q, size_t rows, size_t cols, uint32_t bits, std::vector<uint32_t>* qweight) {
  if (!bits_ok(bits)) return fail(StatusCode::invalid_argument, "pack_gptq: bits ", bits, " is not 2/3/4/8");
  qweight->assign(quant_words(cols, bits) * rows, 0);
  for (size_t o = 0; o < rows; ++o) {
    for (size_t k = 0; k < cols; ++k) {
      const uint32_t v = q[o * cols + k];
      if (v >> bits) return fail(StatusCode::invalid_argument, "pack_gptq: q[", o, "][", k, "] = ", v, " needs more than ", bits, " bits");
      stream_put(qweight->data() + o, rows, k, bits, v);
    }
  }
  return Status::success();
}

Status pack_zeros(const uint8_t* z, size_t n_groups, size_t rows, uint32_t bits, std::vector<uint32_t>* zeros) {
  if (!bits_ok(bits)) return fail(StatusCode::invalid_argument, "pack_zeros: bits ", bits, " is not 2/3/4/8");
  const size_t zw = quant_words(rows, bits);
  zeros->assign(n_groups * zw, 0);
  for (size_t g = 0; g < n_groups; ++g) {
    for (size_t o = 0; o < rows; ++o) {
      const uint32_t v = z[g * rows + o];
      if (v >> bits) return fail(StatusCode::invalid_argument, "pack_zeros: z[", g, "][", o, "] = ", v, " needs more than ", bits, " bits");
      stream_put(zeros->data() + g * zw, 1, o, bits, v);
    }
  }
  return Status::success();
}

void unpack_gptq(const uint32_t* qweight, size_t rows, size_t cols, uint32_t bits, uint8_t* q) {
  for (size_t o = 0; o < rows; ++o) {
    for (size_t k = 0; k < cols; ++k) q[o * cols + k] = uint8_t(stream_get(qweight + o, rows, k, bits));
  }
}

void unpack_zeros(const uint32_t* zeros, size_t n_groups, size_t rows, uint32_t bits, uint8_t* z) {
  const size_t zw = quant_words(rows, bits);
  for (size_t g = 0; g < n_groups; ++g) {
    for (size_t o = 0; o < rows; ++o) z[g * rows + o] = uint8_t(stream_get(zeros + g * zw, 1, o, bits));
  }
}

void dequantize(const QuantView& w, float* out) {
  for (size_t o = 0; o < w.rows; ++o) {
    for (size_t k = 0; k < w.cols; ++k) {  // k: stored column; with an order, input column order[k]
      const size_t g = group_of(w, k), dst = w.order != nullptr ? size_t(w.order[k]) : k;
      const float q = float(stream_get(w.qweight + o, w.rows, k, w.bits));
      out[o * w.cols + dst] = f16_to_f32(w.scales[g * w.rows + o]) * (q - zero_at(w, g, o));
    }
  }
}

void quant_matmul(const float* x, size_t n, const QuantView& w, float* y) {
  if (n == 0) return;
  if (int8_activations() && quant_int8_supported(w) && (w.bits != 3 || int8_3bit_kernel())) {
    return quant_matmul_int8(x, n, w, y, int8_isa());
  }
  quant_matmul_f32(x, n, w, y);
}

void quant_matmul_f32(const float* x, size_t n, const QuantView& w, float* y) {
  if (n == 0) return;
  if (w.order != nullptr) {
    // Sorted layout: x · Wᵀ = x_sorted · W_storedᵀ with x_sorted[j] = x[order[j]]; the stored
    // weight is an ordinary no-g_idx one.
    std::vector<float> xs(n * w.cols);
    gather_columns(x, n, w.cols, w.order, xs.data());
    QuantView stored = w;
    stored.order = nullptr;
    return quant_matmul_f32(xs.data(), n, stored, y);
  }
  const size_t n_groups = quant_n_groups(w.cols, w.group_size);
  if (n == 1) {
    std::vector<float> xsum, xs;
    group_sums(w, x, n_groups, &xsum);
    const DecodeFn decode = pick_decode(w);
    if (decode != decode_cols_scalar) {
      xs.resize(w.cols);
      prescale_x(x, w.cols, w.bits, xs.data());
    }
    const DecodeArgs args{x, xs.data(), xsum.data(), n_groups};
    const size_t n_tasks = (w.rows + kTask - 1) / kTask;
    parallel_for(n_tasks, n_tasks > 1 && w.rows * w.cols > 65536,
                 [&](size_t t, int) { decode(w, args, t * kTask, std::min(w.rows, (t + 1) * kTask), y); });
    return;
  }
#if defined(__x86_64__)
  // A small batch (decode of several sequences): the decode kernel on up to 8 rows at a time,
  // each weight word read once per pass and unpacked once for all its rows.
  // Two or three rows: the one-row kernel per row is faster than sharing the unpacking (measured
  // with bench/quant-batch: 605 us a row at n = 2 against 472 at n = 1), with the same bits.
  if (n <= 3) {
    for (size_t r = 0; r < n; ++r) quant_matmul_f32(x + r * w.cols, 1, w, y + r * w.rows);
    return;
  }
  if (n <= kSmallBatch && simd::has_avx2() && (w.bits == 4 || w.bits == 8) && w.g_idx == nullptr &&
      (w.group_size < 0 || w.group_size % int32_t(kChunk) == 0) && w.cols % kChunk == 0 && w.rows % 8 == 0) {
    std::vector<float> xs(n * w.cols), xsum(n * n_groups), part;
    for (size_t r = 0; r < n; ++r) {
      prescale_x(x + r * w.cols, w.cols, w.bits, xs.data() + r * w.cols);
      group_sums(w, x + r * w.cols, n_groups, &part);
      std::copy(part.begin(), part.end(), xsum.begin() + long(r * n_groups));
    }
    const size_t n_tasks = (w.rows + kTask - 1) / kTask;
    parallel_for(n_tasks, n_tasks > 1, [&](size_t t, int) {
      const size_t o0 = t * kTask, n_sub = (std::min(w.rows, o0 + kTask) - o0) / 8;
      for (size_t r0 = 0; r0 < n;) {
        const size_t take = n - r0 >= 8 ? 8 : n - r0 >= 4 ? 4 : n - r0 >= 2 ? 2 : 1;
        const float* xr[8];
        const float* sr[8];
        float* yr[8];
        for (size_t r = 0; r < take; ++r) {
          xr[r] = xs.data() + (r0 + r) * w.cols;
          sr[r] = xsum.data() + (r0 + r) * n_groups;
          yr[r] = y + (r0 + r) * w.rows;
        }
        pick_rows(w.bits, take)(w, xr, sr, n_groups, o0, n_sub, yr);
        r0 += take;
      }
    });
    return;
  }
#endif
  // As matmul.cpp: one parallel_for over blocks of output columns, each widened to f32 (cols, nc)
  // and multiplied by one single-threaded sgemm (OpenBLAS's own threads stay off, threads.cpp).
  static const bool blas_single_threaded = (openblas_set_num_threads(1), true);
  (void)blas_single_threaded;
  const size_t n_blocks = (w.rows + kBlockCols - 1) / kBlockCols;
  const bool parallel = n_blocks > 1 && n * w.rows * w.cols > (size_t{1} << 20);
  struct Scratch {
    std::vector<float> block, sf, zf;
  };
  std::vector<Scratch> scratch(static_cast<size_t>(threads()));  // per worker
  parallel_for(n_blocks, parallel, [&](size_t b, int worker) {
    Scratch& sc = scratch[size_t(worker)];
    const size_t o0 = b * kBlockCols, nc = std::min(kBlockCols, w.rows - o0);
    block_params(w, n_groups, o0, nc, &sc.sf, &sc.zf);
    sc.block.resize(w.cols * nc);
    dequant_block(w, o0, nc, sc.sf.data(), sc.zf.data(), sc.block.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), int(nc), int(w.cols), 1.0f, x, int(w.cols),
                sc.block.data(), int(nc), 0.0f, y + o0, int(w.rows));
  });
}

}  // namespace ingot::cpu
