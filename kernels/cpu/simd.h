// Vectorised inner loops for x86-64 with AVX2 + FMA + F16C, chosen at run time; every function
// has a portable fallback in matmul.cpp that defines the result.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ingot::cpu::simd {

// True when the CPU has AVX2, FMA and F16C (checked once).
bool has_avx2();

// Σ x[i]·w[i], w in f32 / f16 / bf16. n any size.
float dot_f32(const float* x, const float* w, size_t n);
float dot_f16(const float* x, const uint16_t* w, size_t n);
float dot_bf16(const float* x, const uint16_t* w, size_t n);
// out[i] = float(w[i]).
void widen_f16(const uint16_t* w, size_t n, float* out);
void widen_bf16(const uint16_t* w, size_t n, float* out);

}  // namespace ingot::cpu::simd
