// Vectorised inner loops for x86-64 with AVX2 + FMA + F16C, chosen at run time; every function
// has a portable fallback in matmul.cpp that defines the result.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ingot::cpu::simd {

// True when the CPU has AVX2, FMA and F16C (checked once).
bool has_avx2();

// Σ x[i]·w[i], w in f32 / f16 / bf16. n any size. dot_f32_stream, dot_f16 and dot_bf16 are for
// weight rows streamed from memory: they prefetch w well ahead of the loads (past the row's end
// too, into the rows that follow); dot_f32 (short vectors in cache: attention) does not. Both
// f32 forms give the same bits.
float dot_f32(const float* x, const float* w, size_t n);
float dot_f32_stream(const float* x, const float* w, size_t n);
float dot_f16(const float* x, const uint16_t* w, size_t n);
float dot_bf16(const float* x, const uint16_t* w, size_t n);
// out[j] = dot_f16(x + j·ldx, w, n) (dot_bf16) for j < 4, bit for bit, with w read and widened
// once for the four rows (a small batch against one weight row).
void dot4_f16(const float* x, size_t ldx, const uint16_t* w, size_t n, float* out);
void dot4_bf16(const float* x, size_t ldx, const uint16_t* w, size_t n, float* out);
// out[i] = float(w[i]).
void widen_f16(const uint16_t* w, size_t n, float* out);
void widen_bf16(const uint16_t* w, size_t n, float* out);
// x[i] = exp(x[i] - shift) in place; returns Σ x[i]. Relative error of each term below 2e-7 for
// arguments in [-87, 88] (beyond: clamped, so far-negative terms are ~1e-38 instead of 0); NaN
// stays NaN. Softmax's inner loop (attention.cpp), where libm's scalar expf dominated prefill.
float exp_shifted_sum(float* x, size_t n, float shift);

}  // namespace ingot::cpu::simd
