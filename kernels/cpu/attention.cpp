#include "cpu/attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/simd.h"
#include "cpu/threads.h"

namespace ingot::cpu {
namespace {

// Query rows per block of the batched path: bounds the score matrix to kBlock × positions floats
// per thread (256 × 8192 × 4 B = 8 MiB at the longest contexts we expect).
constexpr size_t kBlock = 256;

// Softmax of scores[0 .. n_pos) in place, max-subtracted; returns nothing, rows sum to 1.
void softmax_row(float* scores, size_t n_pos) {
  float max = -INFINITY;
  for (size_t p = 0; p < n_pos; ++p) max = std::max(max, scores[p]);
  float sum = 0;
  if (simd::has_avx2()) {
    sum = simd::exp_shifted_sum(scores, n_pos, max);
  } else {
    for (size_t p = 0; p < n_pos; ++p) sum += (scores[p] = std::exp(scores[p] - max));
  }
  const float inv = 1.0f / sum;
  for (size_t p = 0; p < n_pos; ++p) scores[p] *= inv;
}

// One token, one head: the decode path (n small), plain loops over the cache.
void attend_one(const float* qh, size_t n_pos, const float* k_cache, const float* v_cache, size_t kv_dim,
                size_t kv_off, size_t hd, float scale, float* scores, float* oh) {
  // The scores' dot products dominate decode attention: AVX2 when the CPU has it (the scalar sum
  // runs at one multiply-add per FMA latency).
  static const bool avx2 = simd::has_avx2();
  for (size_t p = 0; p < n_pos; ++p) {
    const float* k = k_cache + p * kv_dim + kv_off;
    float dot = 0;
    if (avx2) {
      dot = simd::dot_f32(qh, k, hd);
    } else {
      for (size_t i = 0; i < hd; ++i) dot += qh[i] * k[i];
    }
    scores[p] = dot * scale;
  }
  softmax_row(scores, n_pos);
  std::fill(oh, oh + hd, 0.0f);
  for (size_t p = 0; p < n_pos; ++p) {
    const float* v = v_cache + p * kv_dim + kv_off;
    const float w = scores[p];
    for (size_t i = 0; i < hd; ++i) oh[i] += w * v[i];
  }
}

}  // namespace

void attention(const float* q, size_t n, size_t pos0, const float* k_cache, const float* v_cache,
               const AttentionShape& s, float* out) {
  const size_t hd = s.head_dim, q_dim = s.n_head * hd, kv_dim = s.n_head_kv * hd;
  const size_t group = s.n_head / s.n_head_kv;
  const float scale = 1.0f / std::sqrt(float(hd));
  // Threads only pay off past a few hundred thousand multiply-adds; below that they just wait.
  const size_t work = n * s.n_head * (pos0 + n) * hd;

  if (n < 16) {
    std::vector<std::vector<float>> scratch(static_cast<size_t>(threads()));  // scores, per worker
    parallel_for(n * s.n_head, work > (size_t{1} << 18), [&](size_t i, int worker) {
      const size_t t = i / s.n_head, h = i % s.n_head;
      std::vector<float>& scores = scratch[size_t(worker)];
      scores.resize(pos0 + n);
      attend_one(q + t * q_dim + h * hd, pos0 + t + 1, k_cache, v_cache, kv_dim, (h / group) * hd, hd, scale,
                 scores.data(), out + t * q_dim + h * hd);
    });
    return;
  }

  // Prefill: per head and block of query rows, scores = Q·Kᵀ and out = P·V as matrix products
  // (the scalar loops above run at well under 1 GFLOP/s for small head dims). Entries past a
  // row's causal limit are computed by the product and then excluded from its softmax.
  static const bool blas_single_threaded = (openblas_set_num_threads(1), true);  // as in matmul.cpp
  (void)blas_single_threaded;
  const size_t n_blocks = (n + kBlock - 1) / kBlock;
  // Per worker: scores (rows of the block, positions the block's last row sees).
  std::vector<std::vector<float>> scratch(static_cast<size_t>(threads()));
  parallel_for(n_blocks * s.n_head, work > (size_t{1} << 18), [&](size_t i, int worker) {
    const size_t b = i / s.n_head, h = i % s.n_head;
    std::vector<float>& scores = scratch[size_t(worker)];
    const size_t t0 = b * kBlock, rows = std::min(kBlock, n - t0), n_pos = pos0 + t0 + rows;
    const size_t kv_off = (h / group) * hd;
    scores.resize(rows * n_pos);
    // scores (rows, n_pos) = scale · q[t0.., h] (rows, hd) · k[0..n_pos, kvh]ᵀ
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(n_pos), int(hd), scale,
                q + t0 * q_dim + h * hd, int(q_dim), k_cache + kv_off, int(kv_dim), 0.0f, scores.data(),
                int(n_pos));
    for (size_t r = 0; r < rows; ++r) {
      float* row = scores.data() + r * n_pos;
      const size_t seen = pos0 + t0 + r + 1;  // causal: this token and every one before it
      softmax_row(row, seen);
      std::fill(row + seen, row + n_pos, 0.0f);
    }
    // out[t0.., h] (rows, hd) = P (rows, n_pos) · v[0..n_pos, kvh] (n_pos, hd)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(hd), int(n_pos), 1.0f, scores.data(),
                int(n_pos), v_cache + kv_off, int(kv_dim), 0.0f, out + t0 * q_dim + h * hd, int(q_dim));
  });
}

void attention_batch(const AttentionJob* jobs, size_t n_jobs, const AttentionShape& s) {
  const size_t hd = s.head_dim, q_dim = s.n_head * hd, kv_dim = s.n_head_kv * hd;
  const size_t group = s.n_head / s.n_head_kv;
  const float scale = 1.0f / std::sqrt(float(hd));
  // (job, token, head) of every decode-sized job; the others run on their own.
  struct Item {
    uint32_t job, t, h;
  };
  std::vector<Item> items;
  size_t work = 0, max_pos = 0;
  for (size_t j = 0; j < n_jobs; ++j) {
    const AttentionJob& a = jobs[j];
    if (a.n >= 16) {
      attention(a.q, a.n, a.pos0, a.k_cache, a.v_cache, s, a.out);
      continue;
    }
    for (size_t t = 0; t < a.n; ++t)
      for (size_t h = 0; h < s.n_head; ++h) items.push_back({uint32_t(j), uint32_t(t), uint32_t(h)});
    work += a.n * s.n_head * (a.pos0 + a.n) * hd;
    max_pos = std::max(max_pos, a.pos0 + a.n);
  }
  if (items.empty()) return;
  // Four items per task: one (token, head) of a short context is too little work to hand out alone.
  constexpr size_t kItemsPerTask = 4;
  std::vector<std::vector<float>> scratch(static_cast<size_t>(threads()));  // scores, per worker
  parallel_for((items.size() + kItemsPerTask - 1) / kItemsPerTask, work > (size_t{1} << 18), [&](size_t task, int worker) {
    std::vector<float>& scores = scratch[size_t(worker)];
    scores.resize(max_pos);
    for (size_t i = task * kItemsPerTask, end = std::min(items.size(), i + kItemsPerTask); i < end; ++i) {
      const Item it = items[i];
      const AttentionJob& a = jobs[it.job];
      attend_one(a.q + it.t * q_dim + it.h * hd, a.pos0 + it.t + 1, a.k_cache, a.v_cache, kv_dim,
                 (it.h / group) * hd, hd, scale, scores.data(), a.out + it.t * q_dim + it.h * hd);
    }
  });
}

}  // namespace ingot::cpu
