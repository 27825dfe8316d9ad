#include "cpu/simd.h"

#include <cmath>
#include <cstdlib>

#include "cpu/convert.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define INGOT_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

namespace ingot::cpu::simd {

#if defined(__x86_64__)

bool has_avx2() {
  // INGOT_NO_SIMD=1 forces the portable loops (the tests run both).
  static const bool yes = std::getenv("INGOT_NO_SIMD") == nullptr && __builtin_cpu_supports("avx2") &&
                          __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return yes;
}

namespace {
INGOT_AVX2 float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}
INGOT_AVX2 inline __m256 load_f16(const uint16_t* w) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
}
INGOT_AVX2 inline __m256 load_bf16(const uint16_t* w) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
// A weight row is streamed once per token. The hardware prefetchers here stay too close behind
// the loads (and start over at each row), so every 64-byte line of w is asked for kAhead bytes
// early: two rows or more ahead at these widths, into the next rows of the same task. Measured on
// the TinyLlama-shaped f16 model (bench/cpu-vs-llamacpp.sh WEIGHTS=f16), decode at 1 thread, no
// prefetch 11.6 tok/s; ahead by 4 KiB 14.4, 8 KiB 15.3–16.0, 12 KiB 15.5, 16 KiB 15.0.
constexpr size_t kAhead = 8192;
// Runs step(i) for i = 0, 16, 32, … while i + 16 <= n and returns where it stopped; with kBytes
// (bytes per weight) > 0 it also prefetches once per 64-byte line of w (a conditional prefetch
// inside a 16-wide loop is dropped by GCC, so lines are walked whole). kBytes = 0: no prefetch
// (short vectors in cache, attention's keys).
template <size_t kBytes, typename Step>
INGOT_AVX2 inline size_t walk16(const void* w, size_t n, Step step) {
  size_t i = 0;
  if constexpr (kBytes != 0) {
    constexpr size_t kPerLine = 64 / kBytes;  // weights per line: 16 (f32) or 32 (f16, bf16)
    for (; i + kPerLine <= n; i += kPerLine) {
      _mm_prefetch(static_cast<const char*>(w) + i * kBytes + kAhead, _MM_HINT_T0);
      for (size_t u = 0; u < kPerLine; u += 16) step(i + u);
    }
  }
  for (; i + 16 <= n; i += 16) step(i);
  return i;
}
// Two accumulators of 8 lanes hide the FMA latency.
template <size_t kBytes, typename Load, typename Tail>
INGOT_AVX2 inline float dot16(const float* x, const void* w, size_t n, Load load, Tail tail) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  size_t i = walk16<kBytes>(w, n, [&](size_t k) INGOT_AVX2 {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), load(k), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 8), load(k + 8), a1);
  });
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load(i), a0);
  float s = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) s += x[i] * tail(i);
  return s;
}
// dot16 of four rows of x (x + j·ldx, j < 4) against one w: each w chunk is loaded (and widened)
// once for the four; every row keeps dot16's own two accumulators and order, so out[j] has the
// bits dot16 gives that row alone.
template <size_t kBytes, typename Load, typename Tail>
INGOT_AVX2 inline void dot16x4(const float* x, size_t ldx, const void* w, size_t n, Load load, Tail tail,
                               float* out) {
  __m256 a0[4], a1[4];
  for (int j = 0; j < 4; ++j) a0[j] = _mm256_setzero_ps(), a1[j] = _mm256_setzero_ps();
  size_t i = walk16<kBytes>(w, n, [&](size_t k) INGOT_AVX2 {
    const __m256 w0 = load(k), w1 = load(k + 8);
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      a0[j] = _mm256_fmadd_ps(_mm256_loadu_ps(x + j * ldx + k), w0, a0[j]);
      a1[j] = _mm256_fmadd_ps(_mm256_loadu_ps(x + j * ldx + k + 8), w1, a1[j]);
    }
  });
  for (; i + 8 <= n; i += 8) {
    const __m256 w0 = load(i);
    for (int j = 0; j < 4; ++j) a0[j] = _mm256_fmadd_ps(_mm256_loadu_ps(x + j * ldx + i), w0, a0[j]);
  }
  for (int j = 0; j < 4; ++j) {
    float s = hsum(_mm256_add_ps(a0[j], a1[j]));
    for (size_t k = i; k < n; ++k) s += x[j * ldx + k] * tail(k);
    out[j] = s;
  }
}
}  // namespace

INGOT_AVX2 void dot4_f16(const float* x, size_t ldx, const uint16_t* w, size_t n, float* out) {
  dot16x4<2>(x, ldx, w, n, [w](size_t i) INGOT_AVX2 { return load_f16(w + i); }, [w](size_t i) { return f16_to_f32(w[i]); },
          out);
}
INGOT_AVX2 void dot4_bf16(const float* x, size_t ldx, const uint16_t* w, size_t n, float* out) {
  dot16x4<2>(x, ldx, w, n, [w](size_t i) INGOT_AVX2 { return load_bf16(w + i); },
          [w](size_t i) { return bf16_to_f32(w[i]); }, out);
}

INGOT_AVX2 float dot_f32(const float* x, const float* w, size_t n) {
  return dot16<0>(x, w, n, [w](size_t i) INGOT_AVX2 { return _mm256_loadu_ps(w + i); }, [w](size_t i) { return w[i]; });
}
INGOT_AVX2 float dot_f32_stream(const float* x, const float* w, size_t n) {
  return dot16<4>(x, w, n, [w](size_t i) INGOT_AVX2 { return _mm256_loadu_ps(w + i); }, [w](size_t i) { return w[i]; });
}
INGOT_AVX2 float dot_f16(const float* x, const uint16_t* w, size_t n) {
  return dot16<2>(x, w, n, [w](size_t i) INGOT_AVX2 { return load_f16(w + i); }, [w](size_t i) { return f16_to_f32(w[i]); });
}
INGOT_AVX2 float dot_bf16(const float* x, const uint16_t* w, size_t n) {
  return dot16<2>(x, w, n, [w](size_t i) INGOT_AVX2 { return load_bf16(w + i); },
               [w](size_t i) { return bf16_to_f32(w[i]); });
}
INGOT_AVX2 void widen_f16(const uint16_t* w, size_t n, float* out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load_f16(w + i));
  for (; i < n; ++i) out[i] = f16_to_f32(w[i]);
}
INGOT_AVX2 void widen_bf16(const uint16_t* w, size_t n, float* out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load_bf16(w + i));
  for (; i < n; ++i) out[i] = bf16_to_f32(w[i]);
}

// exp(x) = 2^k · exp(r), k = round(x·log2 e), r = x − k·ln 2 in [−ln2/2, ln2/2] (ln 2 split in a
// high part exact in f32 and a low correction), exp(r) by its Taylor series to r^7 (truncation
// < 3e-9 on that range), 2^k built in the exponent bits.
INGOT_AVX2 float exp_shifted_sum(float* x, size_t n, float shift) {
  const __m256 lo = _mm256_set1_ps(-87.0f), hi = _mm256_set1_ps(88.0f), vshift = _mm256_set1_ps(shift);
  const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
  const __m256 ln2_hi = _mm256_set1_ps(0.693145751953125f), ln2_lo = _mm256_set1_ps(1.428606765330187e-06f);
  const float c[8] = {1.0f, 1.0f, 1.0f / 2, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    // max/min return their second operand when either is NaN: NaN passes through.
    __m256 v = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_sub_ps(_mm256_loadu_ps(x + i), vshift)));
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(v, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 r = _mm256_fnmadd_ps(k, ln2_lo, _mm256_fnmadd_ps(k, ln2_hi, v));
    __m256 p = _mm256_set1_ps(c[7]);
    for (int j = 6; j >= 0; --j) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c[j]));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    v = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    _mm256_storeu_ps(x + i, v);
    acc = _mm256_add_ps(acc, v);
  }
  float sum = hsum(acc);
  for (; i < n; ++i) sum += (x[i] = std::exp(x[i] - shift));
  return sum;
}

#else

bool has_avx2() { return false; }
float exp_shifted_sum(float*, size_t, float) { return 0; }
float dot_f32(const float*, const float*, size_t) { return 0; }
float dot_f32_stream(const float*, const float*, size_t) { return 0; }
float dot_f16(const float*, const uint16_t*, size_t) { return 0; }
float dot_bf16(const float*, const uint16_t*, size_t) { return 0; }
void dot4_f16(const float*, size_t, const uint16_t*, size_t, float*) {}
void dot4_bf16(const float*, size_t, const uint16_t*, size_t, float*) {}
void widen_f16(const uint16_t*, size_t, float*) {}
void widen_bf16(const uint16_t*, size_t, float*) {}

#endif

}  // namespace ingot::cpu::simd
