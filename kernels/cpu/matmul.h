// y = x · Wᵀ for a weight stored row-major in f32, f16 or bf16; math in f32.
#pragma once

#include <cstddef>

#include "ingot/format/constants.h"

namespace ingot::cpu {

struct WeightView {
  const void* data = nullptr;  // (rows, cols) row-major, dtype below
  fb::DType dtype = fb::DType::F32;
  size_t rows = 0;  // output features
  size_t cols = 0;  // input features
};

// y (n, w.rows) = x (n, w.cols) · Wᵀ. One token (n == 1) runs a threaded matrix-vector product;
// a batch runs BLAS sgemm (f16/bf16 weights are widened a block of rows at a time).
void matmul(const float* x, size_t n, const WeightView& w, float* y);

// Row `r` of W widened to f32 (cols values).
void weight_row(const WeightView& w, size_t r, float* out);

}  // namespace ingot::cpu
