#include "cpu/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/convert.h"
#include "cpu/simd.h"
#include "cpu/threads.h"

namespace ingot::cpu {

namespace {

constexpr size_t kBlockRows = 256;  // rows of W per sgemm call (and per thread task)
constexpr size_t kRowTask = 64;     // rows of W per task of the row-dot paths
constexpr size_t kSmallBatch = 16;  // up to this many rows of x, f16/bf16 weights skip sgemm

template <typename Load>
float dot(const float* x, size_t n, Load load) {
  // Eight independent sums keep the loop vectorisable without -ffast-math.
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t k = 0; k < 8; ++k) acc[k] += x[i + k] * load(i + k);
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += x[i] * load(i);
  return s;
}

float row_dot(const WeightView& w, size_t r, const float* x) {
  if (simd::has_avx2()) {
    const size_t off = r * w.cols;
    switch (w.dtype) {
      case fb::DType::F16: return simd::dot_f16(x, static_cast<const uint16_t*>(w.data) + off, w.cols);
      case fb::DType::BF16: return simd::dot_bf16(x, static_cast<const uint16_t*>(w.data) + off, w.cols);
      default: return simd::dot_f32_stream(x, static_cast<const float*>(w.data) + off, w.cols);
    }
  }
  switch (w.dtype) {
    case fb::DType::F16: {
      const uint16_t* row = static_cast<const uint16_t*>(w.data) + r * w.cols;
      return dot(x, w.cols, [row](size_t i) { return f16_to_f32(row[i]); });
    }
    case fb::DType::BF16: {
      const uint16_t* row = static_cast<const uint16_t*>(w.data) + r * w.cols;
      return dot(x, w.cols, [row](size_t i) { return bf16_to_f32(row[i]); });
    }
    default: {
      const float* row = static_cast<const float*>(w.data) + r * w.cols;
      return dot(x, w.cols, [row](size_t i) { return row[i]; });
    }
  }
}

}  // namespace

void weight_row(const WeightView& w, size_t r, float* out) {
  if (simd::has_avx2() && w.dtype != fb::DType::F32) {
    const uint16_t* row = static_cast<const uint16_t*>(w.data) + r * w.cols;
    return w.dtype == fb::DType::F16 ? simd::widen_f16(row, w.cols, out) : simd::widen_bf16(row, w.cols, out);
  }
  switch (w.dtype) {
    case fb::DType::F16: {
      const uint16_t* row = static_cast<const uint16_t*>(w.data) + r * w.cols;
      for (size_t i = 0; i < w.cols; ++i) out[i] = f16_to_f32(row[i]);
      break;
    }
    case fb::DType::BF16: {
      const uint16_t* row = static_cast<const uint16_t*>(w.data) + r * w.cols;
      for (size_t i = 0; i < w.cols; ++i) out[i] = bf16_to_f32(row[i]);
      break;
    }
    default:
      std::copy_n(static_cast<const float*>(w.data) + r * w.cols, w.cols, out);
  }
}

void matmul(const float* x, size_t n, const WeightView& w, float* y) {
  if (n == 1) {
    const size_t n_tasks = (w.rows + kRowTask - 1) / kRowTask;
    parallel_for(n_tasks, w.rows * w.cols > 32768, [&](size_t t, int) {
      for (size_t r = t * kRowTask, end = std::min(w.rows, r + kRowTask); r < end; ++r) y[r] = row_dot(w, r, x);
    });
    return;
  }
  // A small batch of f16/bf16 rows (several sequences decoding): each weight row is read from
  // memory once and stays in L1 for the n dot products (widening the whole matrix for sgemm
  // would write and read it again as f32); every row gives the bits it gets alone.
  if (n <= kSmallBatch && w.dtype != fb::DType::F32) {
    const size_t n_tasks = (w.rows + kRowTask - 1) / kRowTask;
    parallel_for(n_tasks, n * w.rows * w.cols > 32768, [&](size_t task, int) {
      const bool four = simd::has_avx2();
      for (size_t r = task * kRowTask, end = std::min(w.rows, r + kRowTask); r < end; ++r) {
        size_t t = 0;
        if (four) {
          const uint16_t* row = static_cast<const uint16_t*>(w.data) + r * w.cols;
          for (float out[4]; t + 4 <= n; t += 4) {
            if (w.dtype == fb::DType::F16) {
              simd::dot4_f16(x + t * w.cols, w.cols, row, w.cols, out);
            } else {
              simd::dot4_bf16(x + t * w.cols, w.cols, row, w.cols, out);
            }
            for (size_t j = 0; j < 4; ++j) y[(t + j) * w.rows + r] = out[j];
          }
        }
        for (; t < n; ++t) y[t * w.rows + r] = row_dot(w, r, x + t * w.cols);
      }
    });
    return;
  }
  // One thread pool: parallel_for splits W's rows into blocks and each block is one single-threaded
  // sgemm (OpenBLAS's own threads stay off, see threads.cpp: two pools spinning against each
  // other cost 10x on small machines).
  static const bool blas_single_threaded = (openblas_set_num_threads(1), true);
  (void)blas_single_threaded;
  const int m = int(n), k = int(w.cols), ldy = int(w.rows);
  const size_t n_blocks = (w.rows + kBlockRows - 1) / kBlockRows;
  const bool parallel = n_blocks > 1 && n * w.rows * w.cols > (size_t{1} << 20);
  std::vector<std::vector<float>> scratch(static_cast<size_t>(threads()));  // one widened block per worker
  parallel_for(n_blocks, parallel, [&](size_t b, int worker) {
    std::vector<float>& block = scratch[size_t(worker)];
    const size_t r0 = b * kBlockRows, nr = std::min(kBlockRows, w.rows - r0);
    const float* wb = nullptr;
    if (w.dtype == fb::DType::F32) {
      wb = static_cast<const float*>(w.data) + r0 * w.cols;
    } else {
      block.resize(nr * w.cols);
      for (size_t r = 0; r < nr; ++r) weight_row(w, r0 + r, block.data() + r * w.cols);
      wb = block.data();
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, int(nr), k, 1.0f, x, k, wb, k, 0.0f, y + r0, ldy);
  });
}

}  // namespace ingot::cpu
