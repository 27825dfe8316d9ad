// RMSNorm: out = x / sqrt(mean(x²) + eps) · weight, row by row.
#pragma once

#include <cstddef>

#include "cpu/matmul.h"

namespace ingot::cpu {

// x, out: (n, dim); weight: (dim) in f32/f16/bf16 (a WeightView with rows = 1).
void rmsnorm(const float* x, size_t n, size_t dim, const WeightView& weight, float eps, float* out);

}  // namespace ingot::cpu
