// The CUDA kernels' per-element arithmetic (kernels/cuda/*.cuh, __host__ __device__) and their
// launch configurations (kernels/cuda/launch.h), compiled by the host compiler and checked on the
// CPU: against the bytes of spec/quant-layouts.md's examples, the CPU reference kernels
// (kernels/cpu) and float64 arithmetic written here. Needs no GPU and no nvcc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>
#include <vector>

#include "cpu/convert.h"
#include "cpu/quant.h"
#include "cpu/rope.h"
#include "cuda/gptq_math.cuh"
#include "cuda/hd.cuh"
#include "cuda/launch.h"
#include "cuda/quant_math.cuh"
#include "cuda/rope_math.cuh"
#include "cuda/sampling_math.cuh"
#include "cuda/softmax_merge.cuh"
#include "cuda/upload_ring.h"

namespace ingot::cuda {
namespace {

std::vector<uint32_t> words_of(const std::vector<uint8_t>& bytes) {
  std::vector<uint32_t> w(bytes.size() / 4);
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = uint32_t(bytes[4 * i]) | uint32_t(bytes[4 * i + 1]) << 8 | uint32_t(bytes[4 * i + 2]) << 16 |
           uint32_t(bytes[4 * i + 3]) << 24;
  }
  return w;
}

// spec/quant-layouts.md §2.2, "Example: Q4, shape (out 3, in 10)": q[o][k] = (10·o + k) mod 16.
TEST(CudaQuantMath, StreamValueReadsTheSpecQ4Example) {
  const std::vector<uint32_t> qw = words_of({0x10, 0x32, 0x54, 0x76, 0xBA, 0xDC, 0xFE, 0x10, 0x54, 0x76, 0x98, 0xBA,
                                             0x98, 0x00, 0x00, 0x00, 0x32, 0x00, 0x00, 0x00, 0xDC, 0x00, 0x00, 0x00});
  for (uint32_t o = 0; o < 3; ++o) {
    for (uint32_t k = 0; k < 10; ++k) EXPECT_EQ(stream_value(qw.data() + o, 3, k, 4), (10 * o + k) % 16) << o << k;
  }
  // The word path's view of the same bytes: word row 0 of column 1 holds k 0..7.
  for (int j = 0; j < 8; ++j) EXPECT_EQ((qw[1] >> (4 * j)) & 15u, (10u + uint32_t(j)) % 16);
  // The example's zeros {{1,2,3},{4,5,6},{15,0,9}}: bytes 21 03 00 00  54 06 00 00  0F 09 00 00.
  const std::vector<uint32_t> z = words_of({0x21, 0x03, 0, 0, 0x54, 0x06, 0, 0, 0x0F, 0x09, 0, 0});
  const uint32_t want[3][3] = {{1, 2, 3}, {4, 5, 6}, {15, 0, 9}};
  for (uint32_t g = 0; g < 3; ++g) {
    for (uint32_t o = 0; o < 3; ++o) EXPECT_EQ(zero_point(z.data(), 3, g, o, 4), float(want[g][o]));
  }
  EXPECT_EQ(zero_point(nullptr, 3, 0, 0, 4), 8.0f);
  EXPECT_EQ(zero_point(nullptr, 3, 0, 0, 3), 4.0f);
  EXPECT_EQ(zero_point(nullptr, 3, 0, 0, 8), 128.0f);
  // W[1][9] with group_size 4: q = 3, zero = 0, scale 0.5 -> 1.5.
  EXPECT_EQ(group_of(nullptr, 4, 9), 2u);
  EXPECT_EQ(dequant_value(stream_value(qw.data() + 1, 3, 9, 4), zero_point(z.data(), 3, 2, 1, 4), 0.5f), 1.5f);
}

// spec §2.2, "Example: Q3, shape (out 2, in 12)": values 10 straddle word rows.
TEST(CudaQuantMath, StreamValueAndQ3TripleReadTheSpecQ3Example) {
  const uint32_t qw[4] = {0x88FAC688, 0x77053977, 0x00000006, 0x00000009};  // (2 word rows, 2 columns)
  const uint32_t col0[12] = {0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3}, col1[12] = {7, 6, 5, 4, 3, 2, 1, 0, 7, 6, 5, 4};
  for (uint32_t k = 0; k < 12; ++k) {
    EXPECT_EQ(stream_value(qw + 0, 2, k, 3), col0[k]) << k;
    EXPECT_EQ(stream_value(qw + 1, 2, k, 3), col1[k]) << k;
    EXPECT_EQ(q3_value(qw[0], qw[2], 0, int(k)), col0[k]) << k;
    EXPECT_EQ(q3_value(qw[1], qw[3], 0, int(k)), col1[k]) << k;
  }
  // Random triples: q3_value agrees with the bit-stream rule for all 32 values.
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const uint32_t w[3] = {uint32_t(rng()), uint32_t(rng()), uint32_t(rng())};
    for (int j = 0; j < 32; ++j) {
      uint64_t bits = 0;  // value j from a 96-bit integer, independent of stream_value
      const int t = 3 * j;
      for (int b = 0; b < 3; ++b) bits |= uint64_t((w[(t + b) / 32] >> ((t + b) % 32)) & 1u) << b;
      ASSERT_EQ(q3_value(w[0], w[1], w[2], j), uint32_t(bits)) << j;
      ASSERT_EQ(stream_value(w, 1, uint32_t(j), 3), uint32_t(bits)) << j;
    }
  }
}

// The 3-bit word path's dot product of 8 values of a triple against float64 (values read by the
// 96-bit integer rule above, not by q3_value).
TEST(CudaQuantMath, Q3Dot8MatchesFloat64) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-2, 2);
  for (int trial = 0; trial < 300; ++trial) {
    const uint32_t w[3] = {uint32_t(rng()), uint32_t(rng()), uint32_t(rng())};
    for (int c = 0; c < 4; ++c) {
      float x[8];
      double ref = 0;
      for (int j = 0; j < 8; ++j) {
        x[j] = u(rng);
        const int t = 3 * (8 * c + j);
        uint64_t v = 0;
        for (int b = 0; b < 3; ++b) v |= uint64_t((w[(t + b) / 32] >> ((t + b) % 32)) & 1u) << b;
        ref += double(v) * double(x[j]);
      }
      ASSERT_NEAR(q3_dot8(w[0], w[1], w[2], c, x), ref, 1e-5 * (1 + std::fabs(ref))) << c;
    }
  }
}

template <int BITS>
void check_word_qdot(std::mt19937& rng) {
  constexpr int kPer = 32 / BITS;
  std::uniform_real_distribution<float> u(-2, 2);
  for (int trial = 0; trial < 500; ++trial) {
    const uint32_t word = uint32_t(rng());
    float x[kPer];
    double ref = 0;
    for (int j = 0; j < kPer; ++j) {
      x[j] = u(rng);
      ref += double((word >> (j * BITS)) & ((1u << BITS) - 1)) * double(x[j]);
    }
    ASSERT_NEAR(word_qdot<BITS>(word, x), ref, 1e-5 * (1 + std::fabs(ref))) << BITS;
  }
}

TEST(CudaQuantMath, WordDotMatchesFloat64) {
  std::mt19937 rng(11);
  check_word_qdot<2>(rng);
  check_word_qdot<4>(rng);
  check_word_qdot<8>(rng);
}

// The group-sum identity the word path relies on, Σ_k W·x = scale·(Σ q·x − zero·Σ x) per word,
// and the generic path's value-by-value dequantization, against cpu::dequantize on random packed
// weights with partial groups, asymmetric zeros and act-order.
TEST(CudaQuantMath, DequantizationMatchesTheCpuReference) {
  std::mt19937 rng(3);
  for (uint32_t bits : {2u, 3u, 4u, 8u}) {
    for (int32_t group : {-1, 8, 32, 44}) {
      for (bool act_order : {false, true}) {
        const size_t rows = 13, cols = 100;  // 100 % 32 != 0: a partial last word and group
        const size_t n_groups = cpu::quant_n_groups(cols, group);
        std::vector<uint8_t> q(rows * cols), z(n_groups * rows);
        for (auto& v : q) v = uint8_t(rng() % (1u << bits));
        for (auto& v : z) v = uint8_t(rng() % (1u << bits));
        std::vector<uint32_t> qw, zw;
        ASSERT_TRUE(cpu::pack_gptq(q.data(), rows, cols, bits, &qw).ok());
        ASSERT_TRUE(cpu::pack_zeros(z.data(), n_groups, rows, bits, &zw).ok());
        std::vector<uint16_t> scales(n_groups * rows);
        for (auto& s : scales) s = cpu::f32_to_f16(0.01f + float(rng() % 1000) * 1e-4f);
        std::vector<int32_t> g_idx(cols);
        for (size_t k = 0; k < cols; ++k) g_idx[k] = int32_t(rng() % n_groups);
        const cpu::QuantView v{qw.data(), scales.data(), zw.data(), act_order ? g_idx.data() : nullptr,
                               bits, group, rows, cols};
        ASSERT_TRUE(cpu::check_quant_view(v).ok());
        std::vector<float> ref(rows * cols);
        cpu::dequantize(v, ref.data());
        for (uint32_t o = 0; o < rows; ++o) {
          for (uint32_t k = 0; k < cols; ++k) {
            const uint32_t g = group_of(v.g_idx, group, k);
            const float w = dequant_value(stream_value(qw.data() + o, uint32_t(rows), k, bits),
                                          zero_point(zw.data(), uint32_t(rows), g, o, bits),
                                          f16_bits_to_float(scales[g * rows + o]));
            ASSERT_EQ(w, ref[o * cols + k]) << "bits " << bits << " group " << group << " o " << o << " k " << k;
          }
        }
        // The word path's identity where it applies (whole words inside one group, no act-order).
        if (bits == 3 || act_order || (group > 0 && group % int32_t(32 / bits) != 0)) continue;
        const uint32_t per = 32 / bits;
        std::vector<float> x(cols);
        for (auto& xv : x) xv = float(int(rng() % 2001) - 1000) * 1e-3f;
        for (uint32_t o = 0; o < rows; ++o) {
          double got = 0, want = 0;
          for (uint32_t r = 0; r * per < cols; ++r) {
            const uint32_t k0 = r * per, valid = std::min<uint32_t>(per, uint32_t(cols) - k0);
            const uint32_t g = group_of(nullptr, group, k0);
            float xv[32] = {}, xsum = 0;
            for (uint32_t j = 0; j < valid; ++j) xsum += (xv[j] = x[k0 + j]);
            const uint32_t word = qw[r * rows + o];
            const float qdot = bits == 2 ? word_qdot<2>(word, xv) : bits == 4 ? word_qdot<4>(word, xv)
                                                                               : word_qdot<8>(word, xv);
            got += f16_bits_to_float(scales[g * rows + o]) * (qdot - zero_point(zw.data(), uint32_t(rows), g, o, bits) * xsum);
          }
          for (uint32_t k = 0; k < cols; ++k) want += double(ref[o * cols + k]) * double(x[k]);
          ASSERT_NEAR(got, want, 1e-4 * (1 + std::fabs(want))) << bits << " " << group;
        }
      }
    }
  }
}

TEST(CudaQuantMath, HalfAndBfloatWideningEqualTheCpuConversion) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = f16_bits_to_float(uint16_t(h)), b = cpu::f16_to_f32(uint16_t(h));
    if (std::isnan(b)) {
      ASSERT_TRUE(std::isnan(a)) << h;
    } else {
      ASSERT_EQ(cpu::f32_to_bits(a), cpu::f32_to_bits(b)) << h;
    }
    const float c = bf16_bits_to_float(uint16_t(h)), d = cpu::bf16_to_f32(uint16_t(h));
    ASSERT_TRUE(std::isnan(d) ? std::isnan(c) : cpu::f32_to_bits(c) == cpu::f32_to_bits(d)) << h;
  }
}

// RoPE: the device's pair choice and rotation reproduce cpu::rope bit for bit on the host (same
// float expressions), and a float64 rotation to rounding, in both forms, with llama3 scaling.
TEST(CudaRopeMath, RotationMatchesTheCpuKernelAndFloat64) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  for (bool interleaved : {true, false}) {
    for (bool llama3 : {false, true}) {
      cpu::RopeParams p;
      p.head_dim = 64;
      p.theta = 500000.0f;
      p.form = interleaved ? fb::RopeForm::Interleaved : fb::RopeForm::Half;
      if (llama3) {
        p.scaling = fb::RopeScalingType::Llama3;
        p.factor = 8, p.low_freq_factor = 1, p.high_freq_factor = 4, p.original_context_length = 8192;
      }
      const std::vector<float> inv = cpu::rope_inv_freq(p);
      const size_t n_heads = 3;
      for (size_t pos : {size_t(0), size_t(1), size_t(17), size_t(4095), size_t(30000)}) {
        std::vector<float> x(n_heads * p.head_dim);
        for (float& v : x) v = u(rng);
        std::vector<float> ref = x, dev = x;
        cpu::rope(ref.data(), n_heads, pos, p, inv);
        for (size_t h = 0; h < n_heads; ++h) {
          for (unsigned i = 0; i < p.head_dim / 2; ++i) {
            unsigned a, b;
            rope_pair(interleaved, i, unsigned(p.head_dim), &a, &b);
            const float ang = rope_angle(unsigned(pos), inv[i]);
            rope_rotate(&dev[h * p.head_dim + a], &dev[h * p.head_dim + b], std::cos(ang), std::sin(ang));
            // float64: the same angle (the f32 table's value at this position), rotated exactly.
            const double ad = double(ang), x0 = x[h * p.head_dim + a], x1 = x[h * p.head_dim + b];
            EXPECT_NEAR(dev[h * p.head_dim + a], x0 * std::cos(ad) - x1 * std::sin(ad), 1e-6);
            EXPECT_NEAR(dev[h * p.head_dim + b], x0 * std::sin(ad) + x1 * std::cos(ad), 1e-6);
          }
        }
        for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(dev[i], ref[i]) << pos << " " << i;
      }
    }
  }
}

// Flash-decoding: any split of the positions, merged in any order, gives the softmax-weighted sum
// of the values of a float64 softmax; empty splits weigh nothing.
TEST(CudaSoftmaxMerge, SplitsMergeToTheFloat64Softmax) {
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0, 4);
  for (int trial = 0; trial < 300; ++trial) {
    const size_t n = 1 + rng() % 300, hd = 1 + rng() % 8;
    std::vector<float> s(n), v(n * hd);
    for (float& x : s) x = nd(rng);
    for (float& x : v) x = nd(rng);
    double mx = -INFINITY, l = 0;
    for (float x : s) mx = std::max(mx, double(x));
    std::vector<double> want(hd, 0);
    for (size_t p = 0; p < n; ++p) {
      const double e = std::exp(double(s[p]) - mx);
      l += e;
      for (size_t i = 0; i < hd; ++i) want[i] += e * v[p * hd + i];
    }
    // Random split boundaries (some splits empty), each split pushed position by position.
    const size_t n_splits = 1 + rng() % 9;
    std::vector<size_t> cut(n_splits + 1);
    cut[0] = 0, cut[n_splits] = n;
    for (size_t i = 1; i < n_splits; ++i) cut[i] = rng() % (n + 1);
    std::sort(cut.begin(), cut.end());
    std::vector<SoftmaxState> st(n_splits, softmax_empty());
    std::vector<std::vector<float>> acc(n_splits, std::vector<float>(hd, 0));
    for (size_t k = 0; k < n_splits; ++k) {
      for (size_t p = cut[k]; p < cut[k + 1]; ++p) {
        float c_old, w_new;
        st[k] = softmax_push(st[k], s[p], &c_old, &w_new);
        for (size_t i = 0; i < hd; ++i) acc[k][i] = acc[k][i] * c_old + w_new * v[p * hd + i];
      }
    }
    std::vector<size_t> order(n_splits);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    SoftmaxState m = softmax_empty();
    std::vector<float> out(hd, 0);
    for (size_t k : order) {
      float ca, cb;
      m = softmax_combine(m, st[k], &ca, &cb);
      for (size_t i = 0; i < hd; ++i) out[i] = out[i] * ca + (cb == 0 ? 0 : acc[k][i] * cb);
    }
    ASSERT_EQ(m.m, float(mx));
    for (size_t i = 0; i < hd; ++i) {
      const double ref = want[i] / l;
      ASSERT_NEAR(out[i] / m.l, ref, 1e-4 * (1 + std::fabs(ref))) << trial;
    }
  }
  // Two empty states merge to an empty one without NaN.
  float ca, cb;
  const SoftmaxState e = softmax_combine(softmax_empty(), softmax_empty(), &ca, &cb);
  EXPECT_EQ(e.l, 0.0f);
  EXPECT_EQ(ca, 0.0f);
  EXPECT_EQ(cb, 0.0f);
}

TEST(CudaSamplingMath, ArgmaxTreeEqualsMaxElementAndTopPMatchesTheSampler) {
  std::mt19937 rng(13);
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = 1 + rng() % 1000;
    std::vector<float> logits(n);
    for (float& x : logits) x = float(int(rng() % 50)) * 0.5f;  // many ties
    // A pairwise tree reduction, as a block reduces.
    std::vector<Candidate> c(n);
    for (size_t i = 0; i < n; ++i) c[i] = {logits[i], int32_t(i)};
    while (c.size() > 1) {
      std::vector<Candidate> next((c.size() + 1) / 2);
      for (size_t i = 0; i < next.size(); ++i) {
        next[i] = 2 * i + 1 < c.size() ? argmax_combine(c[2 * i + 1], c[2 * i]) : c[2 * i];
      }
      c.swap(next);
    }
    ASSERT_EQ(c[0].id, int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    // ranks_before sorts as the host sampler's comparator (higher logit, ties to lower id).
    std::vector<int32_t> a(n), b(n);
    std::iota(a.begin(), a.end(), 0);
    b = a;
    std::sort(a.begin(), a.end(), [&](int32_t x, int32_t y) {
      return logits[size_t(x)] > logits[size_t(y)] || (logits[size_t(x)] == logits[size_t(y)] && x < y);
    });
    std::sort(b.begin(), b.end(), [&](int32_t x, int32_t y) {
      return ranks_before({logits[size_t(x)], x}, {logits[size_t(y)], y});
    });
    ASSERT_EQ(a, b);
  }
  EXPECT_TRUE(ranks_before({1.0f, 5}, {NAN, 0}));
  EXPECT_FALSE(ranks_before({NAN, 0}, {1.0f, 5}));
  const double probs[5] = {0.5, 0.2, 0.15, 0.1, 0.05};
  EXPECT_EQ(top_p_count(probs, 5, 0.5f), 1u);
  EXPECT_EQ(top_p_count(probs, 5, 0.6f), 2u);
  EXPECT_EQ(top_p_count(probs, 5, 0.84f), 3u);
  // p is a float, the sum a double (the host sampler's types): 0.5 + 0.2 + 0.15 falls short of 0.85f.
  EXPECT_EQ(top_p_count(probs, 5, 0.85f), 4u);
  EXPECT_EQ(top_p_count(probs, 5, 0.999f), 5u);
  EXPECT_EQ(top_p_count(probs, 5, 0.0f), 1u);
}

// order_key orders logits as ranks_before does: a larger key exactly when the logit ranks first
// by value, equal keys exactly for equal logits (-0 and +0 included), NaN below everything.
TEST(CudaSamplingMath, OrderKeyOrdersLogitsAsTheSampler) {
  std::vector<float> v = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, 1e-45f, -1e-45f, 3.4e38f, -3.4e38f,
                          1.17549435e-38f, 0.5f, -0.5f};
  std::mt19937 rng(17);
  for (int i = 0; i < 300; ++i) v.push_back(std::ldexp(float(int(rng() % 2001) - 1000), int(rng() % 60) - 30));
  for (float a : v) {
    for (float b : v) {
      ASSERT_EQ(order_key(a) > order_key(b), a > b) << a << " vs " << b;
      ASSERT_EQ(order_key(a) == order_key(b), a == b) << a << " vs " << b;
    }
    EXPECT_GT(order_key(a), order_key(NAN));
  }
  EXPECT_EQ(order_key(NAN), 0u);
  EXPECT_EQ(order_key(-NAN), 0u);
}

// The selection topk.cu runs, step by step on the host: four radix passes of radix_pick over the
// keys' digits give the threshold key; the candidates above it and the lowest ids equal to it,
// sorted by ranks_before, are the row's first k in the sampler's order (a full sort, here).
TEST(CudaSamplingMath, RadixSelectionFindsTheSamplersTopK) {
  std::mt19937 rng(19);
  for (int trial = 0; trial < 300; ++trial) {
    const size_t width = 1 + rng() % 5000;
    std::vector<float> row(width);
    const int style = trial % 3;  // many ties / all equal / distinct values with -inf and NaN
    for (float& x : row) {
      x = style == 0 ? float(int(rng() % 30)) * 0.5f : style == 1 ? -2.0f : float(int(rng() % 100000) - 50000) * 1e-3f;
    }
    if (style == 2) {
      for (int j = 0; j < 4; ++j) row[rng() % width] = -INFINITY;
      row[rng() % width] = NAN;
    }
    const uint32_t k = uint32_t(1 + rng() % std::min<size_t>(width, 1024));
    uint32_t prefix = 0, mask = 0, want = k;
    for (int shift = 24; shift >= 0; shift -= 8) {
      uint32_t hist[256] = {};
      for (float x : row) {
        const uint32_t key = order_key(x);
        if ((key & mask) == prefix) ++hist[(key >> shift) & 255u];
      }
      const RadixPick p = radix_pick(hist, want);
      ASSERT_LT(p.above, want);
      ASSERT_GE(p.above + hist[p.digit], want);
      prefix |= p.digit << shift;
      want -= p.above;
      mask |= 255u << shift;
    }
    std::vector<Candidate> got;
    for (size_t i = 0; i < width; ++i) {
      if (order_key(row[i]) > prefix) got.push_back({row[i], int32_t(i)});
    }
    ASSERT_EQ(got.size(), k - want);
    for (size_t i = 0; i < width && got.size() < k; ++i) {
      if (order_key(row[i]) == prefix) got.push_back({row[i], int32_t(i)});
    }
    ASSERT_EQ(got.size(), k);
    std::sort(got.begin(), got.end(), ranks_before);
    std::vector<int32_t> want_ids(width);
    std::iota(want_ids.begin(), want_ids.end(), 0);
    std::stable_sort(want_ids.begin(), want_ids.end(), [&](int32_t a, int32_t b) {
      const bool an = std::isnan(row[size_t(a)]), bn = std::isnan(row[size_t(b)]);
      if (an != bn) return bn;  // NaN last, as the device ranks it
      return row[size_t(a)] > row[size_t(b)];
    });
    for (uint32_t j = 0; j < k; ++j) ASSERT_EQ(got[j].id, want_ids[j]) << "trial " << trial << ", place " << j;
  }
}

// GPTQ's grid search on the device spreads the candidates over 32 lanes (each taking i = lane,
// lane + 32, …) and reduces the lanes' best by a butterfly with candidate_first; that gives the
// serial search's choice (the first candidate with the least error, a NaN never chosen), here on
// groups with exact ties (quantized values) and with NaN and infinite errors planted.
TEST(CudaGptqMath, LaneReductionOfTheGridSearchEqualsTheSerialSearch) {
  std::mt19937 rng(23);
  for (int trial = 0; trial < 400; ++trial) {
    const int n_try = 1 + int(rng() % 100);
    std::vector<double> err(static_cast<size_t>(n_try));
    for (double& e : err) e = trial % 2 ? double(rng() % 8) : std::ldexp(double(rng() % 1000), -int(rng() % 8));
    if (trial % 5 == 0) err[rng() % err.size()] = NAN;
    if (trial % 7 == 0) err[rng() % err.size()] = INFINITY;
    int serial = -1;  // the serial rule: a strictly smaller error replaces, from +inf
    double best_err = INFINITY;
    for (int i = 0; i < n_try; ++i) {
      if (err[size_t(i)] < best_err) best_err = err[size_t(i)], serial = i;
    }
    double lane_err[32];
    int lane_best[32];
    for (int lane = 0; lane < 32; ++lane) {
      lane_best[lane] = n_try;
      lane_err[lane] = NAN;
      for (int i = lane; i < n_try; i += 32) {
        if (lane_best[lane] == n_try || candidate_first(err[size_t(i)], i, lane_err[lane], lane_best[lane])) {
          lane_err[lane] = err[size_t(i)], lane_best[lane] = i;
        }
      }
    }
    for (int off = 16; off > 0; off /= 2) {
      double e2[32];
      int b2[32];
      for (int lane = 0; lane < 32; ++lane) {
        const int o = lane ^ off;
        e2[lane] = lane_err[lane], b2[lane] = lane_best[lane];
        if (lane_best[o] != n_try &&
            (lane_best[lane] == n_try || candidate_first(lane_err[o], lane_best[o], lane_err[lane], lane_best[lane]))) {
          e2[lane] = lane_err[o], b2[lane] = lane_best[o];
        }
      }
      for (int lane = 0; lane < 32; ++lane) lane_err[lane] = e2[lane], lane_best[lane] = b2[lane];
    }
    for (int lane = 0; lane < 32; ++lane) {
      // The kernel keeps the min/max grid (candidate 0's) when nothing finite was found.
      const int got = !(lane_err[lane] < INFINITY) ? -1 : lane_best[lane];
      ASSERT_EQ(got, serial) << "trial " << trial << " lane " << lane;
    }
  }
}

// The shared quantizer arithmetic against quant.py's definitions in float64, written out here.
TEST(CudaGptqMath, QuantizerFollowsTheReferenceDefinitions) {
  double lo, hi;
  const double xs[] = {-0.5, 0.25, 1.5};
  find_range(xs, 3, true, &lo, &hi);
  EXPECT_EQ(lo, -1.5);
  EXPECT_EQ(hi, 1.5);
  const double pos[] = {0.5, 2.0};
  find_range(pos, 2, true, &lo, &hi);  // no negative value: the range keeps xmin = 0
  EXPECT_EQ(lo, 0.0);
  EXPECT_EQ(hi, 2.0);
  const double zeros[] = {0.0, 0.0};
  find_range(zeros, 2, false, &lo, &hi);
  EXPECT_EQ(lo, -1.0);
  EXPECT_EQ(hi, 1.0);
  const QParams s = params_of_range(-1.5, 1.5, 15.0, true);
  EXPECT_EQ(s.scale, 0.2);
  EXPECT_EQ(s.zero, 8.0);
  const QParams a = params_of_range(-0.75, 3.0, 15.0, false);
  EXPECT_EQ(a.scale, 0.25);
  EXPECT_EQ(a.zero, 3.0);
  EXPECT_EQ(quantize_int(0.125, a, 15.0), 3.0) << "0.5 rounds half to even";
  EXPECT_EQ(quantize_int(0.375, a, 15.0), 5.0) << "1.5 rounds half to even";
  EXPECT_EQ(quantize_int(100.0, a, 15.0), 15.0);
  EXPECT_EQ(quantize_int(-100.0, a, 15.0), 0.0);
  EXPECT_EQ(dequantize(5.0, a), 0.5);
  const QParams c = candidate_params(20, -1.5, 1.5, 15.0, true, 100);
  EXPECT_DOUBLE_EQ(c.scale, 0.8 * 3.0 / 15.0);
  const double x[] = {0.1, -0.7};
  const double hd[] = {2.0, 3.0};
  const double q0 = s.scale * (rint(0.1 / s.scale) + s.zero - s.zero) - 0.1;
  const double q1 = s.scale * (rint(-0.7 / s.scale) + s.zero - s.zero) + 0.7;
  EXPECT_NEAR(candidate_error(x, 2, hd, s, 15.0, Grid::hessian, 2.4), 2.0 * q0 * q0 + 3.0 * q1 * q1, 1e-15);
  EXPECT_NEAR(candidate_error(x, 2, hd, s, 15.0, Grid::mse, 2.4),
              std::pow(std::fabs(q0), 2.4) + std::pow(std::fabs(q1), 2.4), 1e-15);
}

// Launch configurations cover every output and input exactly, fill the device where the shape
// allows, and take the word path only where its assumptions hold.
TEST(CudaLaunch, QuantGemvConfigurationCoversTheShape) {
  EXPECT_EQ(batch_width(1), 1u);
  EXPECT_EQ(batch_width(3), 4u);
  EXPECT_EQ(batch_width(9), 16u);
  EXPECT_EQ(batch_width(16), 16u);
  for (uint32_t bits : {2u, 3u, 4u, 8u}) {
    for (uint32_t out : {1u, 4u, 7u, 64u, 172u, 4096u, 11008u, 32000u}) {
      for (uint32_t in : {1u, 10u, 172u, 4096u, 11008u}) {
        for (int32_t group : {-1, 32, 44, 128}) {
          const QuantGemvConfig c = pick_quant_gemv(out, in, 1, bits, group, false, true, 132);
          const int32_t unit = bits == 3 ? 32 : int32_t(32 / bits);  // values of a word (three for 3-bit)
          const bool word_ok = out % 4 == 0 && (group < 0 || group % unit == 0);
          ASSERT_EQ(c.path == QuantPath::word, word_ok) << bits << " " << out << " " << in << " " << group;
          const uint32_t extent = c.path == QuantPath::word ? (in + uint32_t(unit) - 1) / uint32_t(unit) : in;
          const uint32_t per_block = c.path == QuantPath::word ? 128 : c.threads;
          ASSERT_GE(c.col_blocks * per_block, out);
          ASSERT_LT((c.col_blocks - 1) * per_block, out);
          ASSERT_GE(c.k_split * c.k_chunk, extent);
          ASSERT_LT((c.k_split - 1) * c.k_chunk, extent) << "an empty split";
          ASSERT_EQ(quant_gemv_workspace(c, out), c.k_split > 1 ? size_t(c.k_split) * out : 0u);
        }
      }
    }
  }
  // LLaMA-2-7B's 4-bit g128 projections: about two blocks a multiprocessor (132), the k-split
  // stopping at 8 word rows a warp (4096 / 8 word rows / 8 warps / 8 = 8 splits × 32 column blocks).
  const QuantGemvConfig q = pick_quant_gemv(4096, 4096, 1, 4, 128, false, true, 132);
  EXPECT_EQ(q.path, QuantPath::word);
  EXPECT_EQ(q.col_blocks, 32u);
  EXPECT_EQ(q.k_split, 8u);
  const QuantGemvConfig ffn = pick_quant_gemv(11008, 4096, 1, 4, 128, false, true, 132);
  EXPECT_GE(ffn.col_blocks * ffn.k_split, 264u);
  EXPECT_EQ(pick_quant_gemv(4096, 4096, 1, 4, 128, true, true, 132).path, QuantPath::generic);
  EXPECT_EQ(pick_quant_gemv(4096, 4096, 1, 4, 128, false, false, 132).path, QuantPath::generic);
  EXPECT_EQ(pick_quant_gemv(4096, 4096, 5, 4, 128, false, true, 132).nb, 8u);
  // Above the GEMV's widest instantiation the tensor-core product takes over.
  EXPECT_FALSE(use_quant_gemm(16));
  EXPECT_TRUE(use_quant_gemm(17));
  EXPECT_TRUE(use_quant_gemm(512));
}

TEST(CudaLaunch, AttentionAndDenseConfigurations) {
  for (uint32_t hd : {8u, 32u, 33u, 64u, 100u, 128u, 256u}) {
    for (uint32_t max_pos : {1u, 2u, 63u, 64u, 65u, 1000u, 4096u, 100000u}) {
      for (uint32_t n : {1u, 4u, 512u}) {
        const AttentionConfig c = pick_attention(max_pos, hd, 32, n, 132);
        ASSERT_GE(c.epl * 32, hd);
        ASSERT_LT((c.epl / 2) * 32, hd);
        ASSERT_GE(c.n_splits * c.chunk, max_pos);
        ASSERT_LT((c.n_splits - 1) * c.chunk, max_pos);
        ASSERT_LE(c.n_splits, 64u);
      }
    }
  }
  EXPECT_EQ(pick_attention(100, 257, 8, 1, 132).epl, 0u) << "head_dim > 256 is refused";
  EXPECT_EQ(pick_attention(4096, 128, 32, 1, 132).n_splits, 9u);  // ceil(264 / 32) blocks of splits
  EXPECT_EQ(pick_attention(4096, 128, 32, 64, 132).n_splits, 1u);  // prefill fills the device alone
  EXPECT_EQ(pick_dense_gemv(32000, 4096, 1, 2, true).vec, 8u);
  EXPECT_EQ(pick_dense_gemv(32000, 4096, 1, 4, true).vec, 4u);
  EXPECT_EQ(pick_dense_gemv(32000, 4097, 1, 2, true).vec, 1u);
  EXPECT_EQ(pick_dense_gemv(32000, 4096, 1, 2, false).vec, 1u);
  EXPECT_EQ(pick_dense_gemv(32000, 4096, 1, 2, true).blocks, 4000u);
}

// The pinned upload ring never hands out bytes a queued copy may still read. A model of the
// device: each take's bytes are "in flight" until the event of their chunk, recorded when the
// chunk was closed, has been waited for; a take must not overlap any byte in flight, must lie in
// one chunk and be aligned, and a wait may only name a chunk whose event was recorded.
TEST(CudaUploadRing, NeverReusesBytesACopyMayStillRead) {
  constexpr size_t kChunks = 4, kChunk = 1024;
  UploadRing ring(kChunks, kChunk);
  EXPECT_EQ(ring.bytes(), kChunks * kChunk);
  std::vector<std::vector<std::pair<size_t, size_t>>> in_flight(kChunks);  // [begin, end) per chunk
  std::vector<bool> recorded(kChunks, false);
  std::vector<bool> closed(kChunks, false);  // closed since its last reopening
  std::mt19937 rng(7);
  size_t waits = 0, closes = 0;
  for (int i = 0; i < 20000; ++i) {
    const size_t bytes = std::uniform_int_distribution<size_t>(0, i % 97 == 0 ? kChunk : 300)(rng);
    const std::optional<UploadRing::Take> t = ring.take(bytes);
    ASSERT_TRUE(t.has_value()) << bytes;
    if (t->close) {
      ASSERT_LT(*t->close, kChunks);
      ASSERT_NE(*t->close, t->chunk);
      recorded[*t->close] = true;
      closed[*t->close] = true;
      ++closes;
    }
    if (t->wait) {
      ASSERT_TRUE(recorded[t->chunk]) << "waits for an event never recorded";
      in_flight[t->chunk].clear();
      ++waits;
    }
    if (t->close) closed[t->chunk] = false;  // reopened
    ASSERT_FALSE(closed[t->chunk]) << "bytes taken from a closed chunk";
    ASSERT_EQ(t->offset % 16, 0u);
    const size_t begin = t->offset - t->chunk * kChunk;
    ASSERT_LE(begin + bytes, kChunk) << "an upload crosses a chunk";
    for (const auto& [b, e] : in_flight[t->chunk]) {
      ASSERT_TRUE(begin + bytes <= b || e <= begin || bytes == 0) << "overwrites bytes still in flight";
    }
    in_flight[t->chunk].push_back({begin, begin + bytes});
  }
  EXPECT_GT(closes, 1000u);
  EXPECT_EQ(waits, closes - (kChunks - 1)) << "every reopening after the first lap waits, no other";
  EXPECT_FALSE(ring.take(kChunk + 1).has_value()) << "more than a chunk goes another way";
  EXPECT_FALSE(UploadRing(0, kChunk).take(1).has_value());
  // A fresh ring: the first chunk opens without a wait; a full chunk's upload closes it.
  UploadRing r(2, 64);
  const auto a = r.take(64), b = r.take(1), c = r.take(1), d = r.take(64);
  EXPECT_TRUE(!a->close && !a->wait && a->offset == 0);
  EXPECT_TRUE(b->close == 0u && !b->wait && b->offset == 64);
  EXPECT_TRUE(!c->close && c->offset == 80) << "aligned to 16";
  EXPECT_TRUE(d->close == 1u && d->wait && d->chunk == 0 && d->offset == 0);
}

}  // namespace
}  // namespace ingot::cuda
