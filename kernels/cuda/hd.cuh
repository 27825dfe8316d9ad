// INGOT_HD marks the per-element arithmetic of the CUDA kernels: __host__ __device__ under nvcc,
// plain inline under the host compiler, so the CPU tests compile and check the same functions
// (tests/cuda/cuda_math_test.cpp) on machines with no GPU and no nvcc.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define INGOT_HD __host__ __device__ __forceinline__
#define INGOT_UNROLL _Pragma("unroll")
#else
#define INGOT_HD inline
#define INGOT_UNROLL
#endif

namespace ingot::cuda {

INGOT_HD float bits_as_float(uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(b);
#else
  return __builtin_bit_cast(float, b);
#endif
}

// IEEE half (bits) -> float, exact for every value (subnormals, inf, NaN): the same function as
// cpu::f16_to_f32, written branch-light so it runs on the device too.
INGOT_HD float f16_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0x1f) return bits_as_float(sign | 0x7f800000u | (man << 13));
  if (exp != 0) return bits_as_float(sign | ((exp + 112u) << 23) | (man << 13));
  const float v = float(man) * 5.9604644775390625e-8f;  // man · 2^-24, exact
  return sign ? -v : v;
}

INGOT_HD float bf16_bits_to_float(uint16_t b) { return bits_as_float(uint32_t(b) << 16); }

}  // namespace ingot::cuda
