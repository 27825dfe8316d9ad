// RoPE: the two pairings are the same rotation up to the Hugging Face row permutation, position 0
// is the identity, rotations keep norms and compose (pos a then b = pos a+b), and llama3 scaling
// follows Meta's published rule band by band (LLaMA-3.1 config: factor 8, low 1, high 4, 8192).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cpu/rope.h"

namespace ingot::cpu {
namespace {

std::vector<float> random_heads(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(Rope, HalfFormIsInterleavedUnderTheHfPermutation) {
  RopeParams p;
  p.head_dim = 16;
  const size_t heads = 3, hd = p.head_dim;
  const auto inv = rope_inv_freq(p);
  const std::vector<float> x = random_heads(heads * hd, 1);
  // HF's permutation: interleaved index 2i -> i, 2i+1 -> i + hd/2, within each head.
  std::vector<float> xp(x.size());
  for (size_t h = 0; h < heads; ++h)
    for (size_t i = 0; i < hd / 2; ++i) {
      xp[h * hd + i] = x[h * hd + 2 * i];
      xp[h * hd + i + hd / 2] = x[h * hd + 2 * i + 1];
    }
  for (size_t pos : {0u, 1u, 7u, 1000u}) {
    std::vector<float> a = x, b = xp;
    p.form = fb::RopeForm::Interleaved;
    rope(a.data(), heads, pos, p, inv);
    p.form = fb::RopeForm::Half;
    rope(b.data(), heads, pos, p, inv);
    for (size_t h = 0; h < heads; ++h)
      for (size_t i = 0; i < hd / 2; ++i) {
        EXPECT_NEAR(b[h * hd + i], a[h * hd + 2 * i], 1e-5);
        EXPECT_NEAR(b[h * hd + i + hd / 2], a[h * hd + 2 * i + 1], 1e-5);
      }
  }
}

TEST(Rope, IdentityAtZeroNormPreservingAndComposing) {
  RopeParams p;
  p.head_dim = 8;
  p.theta = 500000;
  const auto inv = rope_inv_freq(p);
  const std::vector<float> x = random_heads(8, 2);
  std::vector<float> a = x;
  rope(a.data(), 1, 0, p, inv);
  for (size_t i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(a[i], x[i]);
  rope(a.data(), 1, 5, p, inv);
  rope(a.data(), 1, 9, p, inv);
  std::vector<float> b = x;
  rope(b.data(), 1, 14, p, inv);
  double na = 0, nx = 0;
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_NEAR(a[i], b[i], 1e-4);
    na += a[i] * a[i], nx += x[i] * x[i];
  }
  EXPECT_NEAR(na, nx, 1e-4);
  // Frequencies: theta^(-2i/d).
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(inv[i], std::pow(500000.0, -2.0 * i / 8), 1e-9);
}

TEST(Rope, Llama3ScalingBands) {
  RopeParams p;
  p.head_dim = 128;
  p.theta = 500000;
  RopeParams s = p;
  s.scaling = fb::RopeScalingType::Llama3;
  s.factor = 8, s.low_freq_factor = 1, s.high_freq_factor = 4, s.original_context_length = 8192;
  const auto base = rope_inv_freq(p), scaled = rope_inv_freq(s);
  int high = 0, low = 0, mid = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    const double wavelen = 2 * M_PI / base[i];
    if (wavelen < 8192.0 / 4) {  // short wavelengths: kept
      EXPECT_FLOAT_EQ(scaled[i], base[i]);
      ++high;
    } else if (wavelen > 8192.0 / 1) {  // long ones: slowed by the factor
      EXPECT_FLOAT_EQ(scaled[i], base[i] / 8);
      ++low;
    } else {  // between: smooth = (8192 / wavelen - 1) / (4 - 1), blend of the two
      const double smooth = (8192.0 / wavelen - 1) / 3;
      EXPECT_NEAR(scaled[i], (1 - smooth) * base[i] / 8 + smooth * base[i], 1e-7);
      EXPECT_LT(scaled[i], base[i]);
      EXPECT_GT(scaled[i], base[i] / 8);
      ++mid;
    }
  }
  EXPECT_GT(high, 0);
  EXPECT_GT(low, 0);
  EXPECT_GT(mid, 0);
}

}  // namespace
}  // namespace ingot::cpu
