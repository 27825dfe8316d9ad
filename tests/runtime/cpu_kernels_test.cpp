// CPU kernels against float64 references computed here: half-precision conversions (IEEE 754
// facts), matmul for every dtype, odd sizes, one token and batches (SIMD and portable paths agree
// through the same reference), and grouped-query causal attention.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cpu/attention.h"
#include "cpu/simd.h"
#include "cpu/convert.h"
#include "cpu/matmul.h"

namespace ingot::cpu {
namespace {

TEST(Convert, HalfPrecisionFacts) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);                  // largest finite
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);                  // rounds to +inf (tie to even)
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);     // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);     // half of it: tie to even -> 0
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 ulp -> 2 (tie to even)
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie between 1 and 1+2^-10 -> even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);     // smallest normal
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(NAN))));
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0xfc00), -INFINITY);
  // Every finite f16 round-trips exactly.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    ASSERT_EQ(f32_to_f16(f16_to_f32(uint16_t(h))), h) << std::hex << h;
  }
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808000)), 0x3f80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f818000)), 0x3f82);
  EXPECT_EQ(bf16_to_f32(0xc040), -3.0f);
}

struct Weights {
  std::vector<float> f32;
  std::vector<uint16_t> half;
  WeightView view;
  std::vector<double> exact;  // the values the view holds, widened
};

Weights make_weights(fb::DType dt, size_t rows, size_t cols, std::mt19937& rng) {
  std::normal_distribution<float> d;
  Weights w;
  w.f32.resize(rows * cols);
  for (float& v : w.f32) v = d(rng);
  w.exact.resize(w.f32.size());
  if (dt == fb::DType::F32) {
    for (size_t i = 0; i < w.f32.size(); ++i) w.exact[i] = w.f32[i];
    w.view = {w.f32.data(), dt, rows, cols};
  } else {
    w.half.resize(w.f32.size());
    for (size_t i = 0; i < w.f32.size(); ++i) {
      w.half[i] = dt == fb::DType::F16 ? f32_to_f16(w.f32[i]) : f32_to_bf16(w.f32[i]);
      w.exact[i] = dt == fb::DType::F16 ? f16_to_f32(w.half[i]) : bf16_to_f32(w.half[i]);
    }
    w.view = {w.half.data(), dt, rows, cols};
  }
  return w;
}

TEST(Matmul, EveryDtypeAndShapeAgainstFloat64) {
  std::mt19937 rng(std::random_device{}());  // fresh inputs every run
  for (fb::DType dt : {fb::DType::F32, fb::DType::F16, fb::DType::BF16}) {
    for (auto [rows, cols] : {std::pair<size_t, size_t>{1, 1}, {7, 3}, {64, 64}, {300, 37}, {513, 172}, {96, 1000}}) {
      for (size_t n : {1, 2, 5}) {
        Weights w = make_weights(dt, rows, cols, rng);
        std::normal_distribution<float> d;
        std::vector<float> x(n * cols), y(n * rows, NAN);  // poisoned: an unwritten output fails
        for (float& v : x) v = d(rng);
        matmul(x.data(), n, w.view, y.data());
        double err = 0, ref_norm = 0;
        for (size_t t = 0; t < n; ++t) {
          for (size_t r = 0; r < rows; ++r) {
            double ref = 0;
            for (size_t c = 0; c < cols; ++c) ref += double(x[t * cols + c]) * w.exact[r * cols + c];
            err += (y[t * rows + r] - ref) * (y[t * rows + r] - ref);
            ref_norm += ref * ref;
          }
        }
        EXPECT_LT(std::sqrt(err / std::max(ref_norm, 1e-30)), 1e-5)
            << format::dtype_name(dt) << " rows " << rows << " cols " << cols << " n " << n;
      }
    }
  }
}

// Up to 16 rows of x against f16/bf16 weights (several sequences decoding together): every row's
// outputs have the bits that row gets alone (n = 1), whichever kernel serves the batch (the
// four-row one shares each weight load; odd batches mix it with the one-row one).
TEST(Matmul, SmallBatchRowsEqualTheRowAlone) {
  std::mt19937 rng(7);
  for (fb::DType dt : {fb::DType::F16, fb::DType::BF16}) {
    for (auto [rows, cols] : {std::pair<size_t, size_t>{33, 1000}, {70, 17}, {5, 4096}}) {
      Weights w = make_weights(dt, rows, cols, rng);
      for (size_t n : {3, 4, 9, 16}) {
        std::normal_distribution<float> d;
        std::vector<float> x(n * cols), y(n * rows, NAN), one(rows, NAN);
        for (float& v : x) v = d(rng);
        matmul(x.data(), n, w.view, y.data());
        for (size_t t = 0; t < n; ++t) {
          matmul(x.data() + t * cols, 1, w.view, one.data());
          for (size_t r = 0; r < rows; ++r) {
            ASSERT_EQ(y[t * rows + r], one[r]) << format::dtype_name(dt) << " n " << n << " row " << t << " output " << r;
          }
        }
      }
    }
  }
}

// The vectorised exp against double exp over the whole useful range, with a scalar tail, and NaN
// kept. Under INGOT_NO_SIMD=1 the kernels do not call it, so only the SIMD build checks it.
TEST(Exp, ShiftedSumAgainstFloat64) {
  if (!simd::has_avx2()) GTEST_SKIP() << "no AVX2 (or INGOT_NO_SIMD=1): the portable path uses std::exp";
  std::vector<float> x;
  for (float v = -86.0f; v <= 30.0f; v += 0.0137f) x.push_back(v);  // softmax arguments are <= 0
  x.push_back(0.0f);
  for (size_t n : {x.size(), size_t{3}, size_t{8}, size_t{13}}) {
    std::vector<float> y(x.begin(), x.begin() + n);
    const float shift = 0.25f;
    const double sum = simd::exp_shifted_sum(y.data(), n, shift);
    double ref_sum = 0, worst = 0;
    for (size_t i = 0; i < n; ++i) {
      const double ref = std::exp(double(x[i] - shift));  // the argument as f32 computes it
      ref_sum += ref;
      worst = std::max(worst, std::abs(y[i] - ref) / ref);
    }
    EXPECT_LT(worst, 4e-7) << "n " << n;
    EXPECT_LT(std::abs(sum - ref_sum) / ref_sum, 1e-5) << "n " << n;
  }
  std::vector<float> nan_in{1.0f, NAN, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f};
  simd::exp_shifted_sum(nan_in.data(), nan_in.size(), 0.0f);
  EXPECT_TRUE(std::isnan(nan_in[1]));
  EXPECT_NEAR(nan_in[0], std::exp(1.0), 1e-6);
}

// Both paths: the per-token loops (n < 16) and the blocked matrix-product path (n >= 16, with
// more than one 256-row block), each with a non-empty cache before the batch.
TEST(Attention, GroupedQueryCausalAgainstFloat64) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> d;
  const AttentionShape s{8, 2, 16};
  const size_t q_dim = 128, kv_dim = 32;
  for (auto [pos0, n] : {std::pair<size_t, size_t>{5, 4}, {0, 1}, {3, 16}, {7, 300}}) {
    const size_t positions = pos0 + n;
    std::vector<float> q(n * q_dim), k(positions * kv_dim), v(positions * kv_dim), out(n * q_dim, NAN);
    for (auto* vec : {&q, &k, &v})
      for (float& x : *vec) x = d(rng);
    attention(q.data(), n, pos0, k.data(), v.data(), s, out.data());
    double worst = 0;
    for (size_t t = 0; t < n; ++t) {
      for (size_t h = 0; h < 8; ++h) {
        const size_t kvh = h / 4;
        std::vector<double> w(pos0 + t + 1);
        double mx = -1e300, sum = 0;
        for (size_t p = 0; p < w.size(); ++p) {
          double dot = 0;
          for (size_t i = 0; i < 16; ++i) dot += double(q[t * q_dim + h * 16 + i]) * k[p * kv_dim + kvh * 16 + i];
          w[p] = dot / 4.0;
          mx = std::max(mx, w[p]);
        }
        for (double& x : w) sum += (x = std::exp(x - mx));
        for (size_t i = 0; i < 16; ++i) {
          double o = 0;
          for (size_t p = 0; p < w.size(); ++p) o += w[p] / sum * v[p * kv_dim + kvh * 16 + i];
          worst = std::max(worst, std::abs(out[t * q_dim + h * 16 + i] - o));
          if (!(std::abs(out[t * q_dim + h * 16 + i] - o) <= 1e-5)) worst = INFINITY;  // NaN too
        }
      }
    }
    EXPECT_LE(worst, 1e-5) << "pos0 " << pos0 << " n " << n;
  }
}

// Several sequences in one call (decode-sized and prefill-sized jobs mixed, different cache
// lengths): every job's output is attention()'s for that job alone, bit for bit.
TEST(Attention, BatchOfJobsEqualsEachJobAlone) {
  std::mt19937 rng(15);
  std::normal_distribution<float> d;
  const AttentionShape s{8, 2, 16};
  const size_t q_dim = 128, kv_dim = 32;
  const std::pair<size_t, size_t> shapes[] = {{5, 1}, {0, 1}, {40, 3}, {3, 20}, {200, 1}, {0, 15}};
  std::vector<std::vector<float>> q, k, v, out, alone;
  std::vector<AttentionJob> jobs;
  for (auto [pos0, n] : shapes) {
    const size_t positions = pos0 + n;
    q.emplace_back(n * q_dim), k.emplace_back(positions * kv_dim), v.emplace_back(positions * kv_dim);
    out.emplace_back(n * q_dim, NAN), alone.emplace_back(n * q_dim, NAN);
    for (auto* vec : {&q.back(), &k.back(), &v.back()})
      for (float& x : *vec) x = d(rng);
  }
  for (size_t j = 0; j < std::size(shapes); ++j) {
    jobs.push_back({q[j].data(), shapes[j].second, shapes[j].first, k[j].data(), v[j].data(), out[j].data()});
    attention(q[j].data(), shapes[j].second, shapes[j].first, k[j].data(), v[j].data(), s, alone[j].data());
  }
  attention_batch(jobs.data(), jobs.size(), s);
  for (size_t j = 0; j < std::size(shapes); ++j) {
    for (size_t i = 0; i < out[j].size(); ++i) ASSERT_EQ(out[j][i], alone[j][i]) << "job " << j << " value " << i;
  }
}

}  // namespace
}  // namespace ingot::cpu
