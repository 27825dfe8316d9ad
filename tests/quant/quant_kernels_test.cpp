// The GptqPackedK layout (spec/quant-layouts.md) and the CPU quantized kernels: bit positions
// checked by hand from the spec, pack/unpack round trips, and quant_matmul_f32 (the f32-activation path; the int8 one: quant_int8_test.cpp) against a float64
// dequantize-then-multiply reference written here, for every bits × grouping × act-order ×
// zero-point case and odd shapes. Run twice by CTest: AVX2 and INGOT_NO_SIMD=1 (portable).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "cpu/convert.h"
#include "cpu/quant.h"
#include "cpu/simd.h"
#include "ingot/format/constants.h"
#include "ingot/format/layout.h"

namespace ingot::cpu {
namespace {

// Value i of a bit stream, one bit at a time, straight from the spec: stream bit t is bit t mod 32
// of word ⌊t/32⌋, and the stream's word j is words[j · stride].
uint32_t spec_get(const uint32_t* words, size_t stride, size_t i, uint32_t bits) {
  uint32_t v = 0;
  for (uint32_t t = 0; t < bits; ++t) {
    const size_t pos = i * bits + t;
    v |= ((words[(pos / 32) * stride] >> (pos % 32)) & 1u) << t;
  }
  return v;
}

TEST(GptqLayout, FourBitExampleFromTheSpec) {
  // (out 3, in 10), q[o][k] = (10·o + k) mod 16: each column is 40 bits -> 2 words; words (2, 3).
  std::vector<uint8_t> q(30);
  for (size_t o = 0; o < 3; ++o)
    for (size_t k = 0; k < 10; ++k) q[o * 10 + k] = uint8_t((10 * o + k) % 16);
  std::vector<uint32_t> packed;
  ASSERT_TRUE(pack_gptq(q.data(), 3, 10, 4, &packed).ok());
  const std::vector<uint32_t> expect = {0x76543210, 0x10FEDCBA, 0xBA987654,   // word row 0: k 0..7
                                        0x00000098, 0x00000032, 0x000000DC};  // word row 1: k 8, 9
  EXPECT_EQ(packed, expect);
  std::vector<uint8_t> back(30);
  unpack_gptq(packed.data(), 3, 10, 4, back.data());
  EXPECT_EQ(back, q);
}

TEST(GptqLayout, ThreeBitExampleFromTheSpec) {
  // (out 2, in 12): 36 bits -> 2 words a column. Value 10 straddles: bits 30, 31 of word 0 and
  // bit 0 of word 1 (AutoGPTQ's "intweight[i] << 30" then "(intweight[i] >> 2) & 1").
  std::vector<uint8_t> q(24);
  for (size_t k = 0; k < 12; ++k) {
    q[k] = uint8_t(k % 8);             // column 0: 0 1 2 3 4 5 6 7 0 1 2 3
    q[12 + k] = uint8_t(7 - k % 8);    // column 1: 7 6 5 4 3 2 1 0 7 6 5 4
  }
  std::vector<uint32_t> packed;
  ASSERT_TRUE(pack_gptq(q.data(), 2, 12, 3, &packed).ok());
  const std::vector<uint32_t> expect = {0x88FAC688, 0x77053977, 0x00000006, 0x00000009};
  EXPECT_EQ(packed, expect);
  std::vector<uint8_t> back(24);
  unpack_gptq(packed.data(), 2, 12, 3, back.data());
  EXPECT_EQ(back, q);
}

TEST(GptqLayout, ZerosExampleFromTheSpec) {
  // 4-bit zeros of 3 groups × 3 output columns: one word per group, column o in nibble o.
  const std::vector<uint8_t> z = {1, 2, 3, 4, 5, 6, 15, 0, 9};
  std::vector<uint32_t> packed;
  ASSERT_TRUE(pack_zeros(z.data(), 3, 3, 4, &packed).ok());
  EXPECT_EQ(packed, (std::vector<uint32_t>{0x321, 0x654, 0x90F}));
  // 3-bit zeros of 11 columns: 33 bits -> 2 words; column 10 straddles (bits 30..32).
  std::vector<uint8_t> z3(11, 0);
  z3[10] = 5;  // 0b101: bit 30 = 1, bit 31 = 0, bit 32 = 1
  ASSERT_TRUE(pack_zeros(z3.data(), 1, 11, 3, &packed).ok());
  EXPECT_EQ(packed, (std::vector<uint32_t>{0x40000000, 0x1}));
  std::vector<uint8_t> back(11);
  unpack_zeros(packed.data(), 1, 11, 3, back.data());
  EXPECT_EQ(back, z3);
}

TEST(GptqLayout, PackRejectsValuesThatDoNotFit) {
  const uint8_t q[2] = {3, 4};
  std::vector<uint32_t> packed;
  EXPECT_FALSE(pack_gptq(q, 1, 2, 2, &packed).ok());
  EXPECT_FALSE(pack_zeros(q, 1, 2, 2, &packed).ok());
  EXPECT_FALSE(pack_gptq(q, 1, 2, 5, &packed).ok());
  EXPECT_TRUE(pack_gptq(q, 1, 2, 3, &packed).ok());
}

// A random quantized weight and the f64 values it stands for.
struct Case {
  uint32_t bits;
  int32_t group_size;
  bool act_order, symmetric;
  size_t rows, cols;
};

std::string describe(const Case& c) {
  return "bits " + std::to_string(c.bits) + " group " + std::to_string(c.group_size) + (c.act_order ? " act-order" : "") +
         (c.symmetric ? " sym" : " asym") + " (out " + std::to_string(c.rows) + ", in " + std::to_string(c.cols) + ")";
}

struct Weight {
  std::vector<uint8_t> q, z;  // (rows, cols), (n_groups, rows)
  std::vector<uint32_t> qweight, zeros;
  std::vector<uint16_t> scales;  // (n_groups, rows) f16
  std::vector<int32_t> g_idx;
  size_t n_groups = 0;
  QuantView view;
  std::vector<double> exact;  // (rows, cols) dequantized, from the spec formula
};

Weight make_weight(const Case& c, std::mt19937& rng) {
  Weight w;
  const uint32_t levels = 1u << c.bits;
  w.n_groups = c.group_size == -1 ? 1 : (c.cols + c.group_size - 1) / c.group_size;
  std::uniform_int_distribution<uint32_t> val(0, levels - 1);
  std::uniform_real_distribution<float> scale(0.005f, 0.05f);
  w.q.resize(c.rows * c.cols);
  for (auto& v : w.q) v = uint8_t(val(rng));
  w.z.assign(w.n_groups * c.rows, uint8_t(levels / 2));
  if (!c.symmetric) {
    for (auto& v : w.z) v = uint8_t(val(rng));
  }
  w.scales.resize(w.n_groups * c.rows);
  for (auto& s : w.scales) s = f32_to_f16(scale(rng));
  if (c.act_order) {
    // GPTQ desc_act: columns are quantized in a permuted order, group = position / group_size.
    std::vector<int32_t> perm(c.cols);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    w.g_idx.resize(c.cols);
    for (size_t i = 0; i < c.cols; ++i) w.g_idx[perm[i]] = c.group_size == -1 ? 0 : int32_t(i / c.group_size);
  }
  EXPECT_TRUE(pack_gptq(w.q.data(), c.rows, c.cols, c.bits, &w.qweight).ok());
  if (!c.symmetric) {
    EXPECT_TRUE(pack_zeros(w.z.data(), w.n_groups, c.rows, c.bits, &w.zeros).ok());
  }
  w.view = {w.qweight.data(), w.scales.data(), c.symmetric ? nullptr : w.zeros.data(),
            c.act_order ? w.g_idx.data() : nullptr, c.bits, c.group_size, c.rows, c.cols};
  w.exact.resize(c.rows * c.cols);
  for (size_t o = 0; o < c.rows; ++o) {
    for (size_t k = 0; k < c.cols; ++k) {
      const size_t g = c.act_order ? size_t(w.g_idx[k]) : c.group_size == -1 ? 0 : k / c.group_size;
      w.exact[o * c.cols + k] =
          double(f16_to_f32(w.scales[g * c.rows + o])) * (double(w.q[o * c.cols + k]) - double(w.z[g * c.rows + o]));
    }
  }
  return w;
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  const std::pair<size_t, size_t> shapes[] = {{1, 172}, {7, 37}, {64, 4096}, {300, 172}, {33, 300}, {1, 4096}, {264, 128}};
  for (uint32_t bits : {2u, 3u, 4u, 8u})
    for (int32_t gs : {-1, 16, 32, 64, 128, 48, 96})  // 48 and 96 divide none of the widths
      for (bool act : {false, true})
        for (bool sym : {false, true})
          for (auto [rows, cols] : shapes) cases.push_back({bits, gs, act, sym, rows, cols});
  return cases;
}

TEST(GptqLayout, RoundTripAndSpecBitsForEveryCase) {
  std::mt19937 rng(std::random_device{}());  // fresh inputs every run
  for (const Case& c : all_cases()) {
    SCOPED_TRACE(describe(c));
    Weight w = make_weight(c, rng);
    const size_t n_words = (c.cols * c.bits + 31) / 32;
    ASSERT_EQ(w.qweight.size(), n_words * c.rows);
    ASSERT_TRUE(check_quant_view(w.view).ok());
    std::vector<uint8_t> back(w.q.size(), 0xff);
    unpack_gptq(w.qweight.data(), c.rows, c.cols, c.bits, back.data());
    ASSERT_EQ(back, w.q);
    // Every value where the spec puts it, and every padding bit zero.
    for (size_t o = 0; o < c.rows; ++o) {
      for (size_t k = 0; k < c.cols; ++k) ASSERT_EQ(spec_get(w.qweight.data() + o, c.rows, k, c.bits), w.q[o * c.cols + k]);
      for (size_t t = c.cols * c.bits; t < n_words * 32; ++t) ASSERT_EQ((w.qweight[(t / 32) * c.rows + o] >> (t % 32)) & 1, 0u);
    }
    if (!c.symmetric) {
      const size_t zw = (c.rows * c.bits + 31) / 32;
      ASSERT_EQ(w.zeros.size(), w.n_groups * zw);
      std::vector<uint8_t> zb(w.z.size(), 0xff);
      unpack_zeros(w.zeros.data(), w.n_groups, c.rows, c.bits, zb.data());
      ASSERT_EQ(zb, w.z);
      for (size_t g = 0; g < w.n_groups; ++g)
        for (size_t o = 0; o < c.rows; ++o) ASSERT_EQ(spec_get(w.zeros.data() + g * zw, 1, o, c.bits), w.z[g * c.rows + o]);
    }
    std::vector<float> deq(c.rows * c.cols, NAN);
    dequantize(w.view, deq.data());
    for (size_t i = 0; i < deq.size(); ++i) ASSERT_EQ(double(deq[i]), double(float(w.exact[i]))) << "element " << i;
  }
}

TEST(QuantMatmul, EveryCaseAgainstFloat64) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> d;
  double worst = 0;
  for (const Case& c : all_cases()) {
    SCOPED_TRACE(describe(c));
    Weight w = make_weight(c, rng);
    for (size_t n : {1, 2, 5, 8, 16, 17}) {
      std::vector<float> x(n * c.cols), y(n * c.rows, NAN);  // poisoned: an unwritten output fails
      for (float& v : x) v = d(rng);
      quant_matmul_f32(x.data(), n, w.view, y.data());
      // Error against the scale of the sums themselves (Σ|x·w| per output): a single output can
      // cancel to near zero, and then no relative bound on it alone means anything.
      double err = 0, ref_norm = 0;
      for (size_t t = 0; t < n; ++t) {
        for (size_t o = 0; o < c.rows; ++o) {
          double ref = 0, mag = 0;
          for (size_t k = 0; k < c.cols; ++k) {
            const double p = double(x[t * c.cols + k]) * w.exact[o * c.cols + k];
            ref += p;
            mag += std::abs(p);
          }
          ASSERT_TRUE(std::isfinite(y[t * c.rows + o])) << "token " << t << " column " << o;
          err += (y[t * c.rows + o] - ref) * (y[t * c.rows + o] - ref);
          ref_norm += mag * mag;
        }
      }
      // f32 sums of up to 4096 terms; the decode path sums x·q and subtracts scale·zero·Σx once
      // per group, whose terms are up to a few times larger than x·(q − zero).
      const double rel = std::sqrt(err / std::max(ref_norm, 1e-30));
      worst = std::max(worst, rel);
      EXPECT_LT(rel, 2e-6) << "n " << n;
    }
  }
  std::printf("worst relative error %.3g\n", worst);
}

// A small batch (n <= 16 rows: several sequences decoding together). Where quant_matmul promises
// it (kernels/cpu/quant.cpp), every row gets the bits it gets alone (n == 1): n <= 3 runs the
// one-row kernel per row, and with AVX2, 4 or 8 bits, no act-order, groups and inputs in
// multiples of 32 and outputs in multiples of 8 the shared-unpack kernel sums in the one-row
// order. Every other batch goes through sgemm, which sums in another order: there each row agrees
// with its one-row result to f32 rounding (relative to the row's norm, as EveryCaseAgainstFloat64).
TEST(QuantMatmul, SmallBatchRowsEqualEachRowAlone) {
  std::mt19937 rng(15);
  std::normal_distribution<float> d;
  size_t n_exact = 0, n_shared = 0, n_close = 0;
  for (const Case& c : all_cases()) {
    SCOPED_TRACE(describe(c));
    Weight w = make_weight(c, rng);
    const bool shared_unpack = simd::has_avx2() && (c.bits == 4 || c.bits == 8) && !c.act_order &&
                               (c.group_size < 0 || c.group_size % 32 == 0) && c.cols % 32 == 0 && c.rows % 8 == 0;
    for (size_t n : {2, 3, 7, 8, 11, 16}) {
      const bool exact = n <= 3 || shared_unpack;
      std::vector<float> x(n * c.cols), y(n * c.rows, NAN), one(c.rows, NAN);
      for (float& v : x) v = d(rng);
      quant_matmul_f32(x.data(), n, w.view, y.data());
      for (size_t t = 0; t < n; ++t) {
        quant_matmul_f32(x.data() + t * c.cols, 1, w.view, one.data());
        double err = 0, mag_norm = 0;
        for (size_t o = 0; o < c.rows; ++o) {
          if (exact) {
            ASSERT_EQ(y[t * c.rows + o], one[o]) << "n " << n << " row " << t << " column " << o;
          }
          double mag = 0;  // Σ|x·w|: the scale of the sum (one output alone can cancel to near 0)
          for (size_t k = 0; k < c.cols; ++k) mag += std::abs(double(x[t * c.cols + k]) * w.exact[o * c.cols + k]);
          err += (double(y[t * c.rows + o]) - one[o]) * (double(y[t * c.rows + o]) - one[o]);
          mag_norm += mag * mag;
        }
        // Each path is within 2e-6 of float64 on this scale (EveryCaseAgainstFloat64): 4e-6 apart.
        EXPECT_LT(std::sqrt(err / std::max(mag_norm, 1e-30)), 4e-6) << "n " << n << " row " << t;
      }
      ++(exact ? n_exact : n_close);
      if (n > 3 && shared_unpack) ++n_shared;
    }
  }
  std::printf("%zu batches bit-identical to one row at a time (%zu through the shared-unpack kernel), %zu within "
              "f32 rounding (sgemm path)\n", n_exact, n_shared, n_close);
  if (simd::has_avx2()) {
    EXPECT_GT(n_shared, 0u);  // the shared-unpack kernel was exercised
  }
}

TEST(QuantMatmul, CheckRejectsBadViews) {
  std::vector<uint32_t> qweight(64, 0);
  std::vector<uint16_t> scales(64, f32_to_f16(1.0f));
  std::vector<int32_t> g_idx(40, 0);
  QuantView v{qweight.data(), scales.data(), nullptr, g_idx.data(), 4, 16, 3, 40};  // 3 groups
  EXPECT_TRUE(check_quant_view(v).ok());
  g_idx[39] = 2;
  EXPECT_TRUE(check_quant_view(v).ok());
  g_idx[39] = 3;  // == n_groups
  EXPECT_EQ(check_quant_view(v, "w").code(), format::StatusCode::invalid_argument);
  g_idx[39] = -1;
  EXPECT_FALSE(check_quant_view(v).ok());
  g_idx[39] = 0;
  QuantView bad = v;
  bad.bits = 5;
  EXPECT_FALSE(check_quant_view(bad).ok());
  bad = v;
  bad.group_size = 0;
  EXPECT_FALSE(check_quant_view(bad).ok());
  bad = v;
  bad.cols = 0;
  EXPECT_FALSE(check_quant_view(bad).ok());
  bad = v;
  bad.scales = nullptr;
  EXPECT_FALSE(check_quant_view(bad).ok());
  bad = v;
  bad.g_idx = nullptr;
  bad.group_size = -1;
  EXPECT_TRUE(check_quant_view(bad).ok());
}

TEST(GptqLayout, FormatSizeRule) {
  using format::DType;
  using format::Layout;
  EXPECT_STREQ(format::layout_name(Layout::GptqPackedK), "gptq-packed-k");
  format::TensorBytes b;
  auto bytes = [&](DType dt, std::vector<uint64_t> shape, const format::QuantShape* q = nullptr) {
    return format::tensor_bytes("t", dt, Layout::GptqPackedK, shape, q, &b);
  };
  ASSERT_TRUE(bytes(DType::Q4, {3, 10}).ok());
  EXPECT_EQ(b.data, 2u * 3 * 4);  // ceil(10·4/32) = 2 words × 3 columns
  ASSERT_TRUE(bytes(DType::Q3, {2, 12}).ok());
  EXPECT_EQ(b.data, 2u * 2 * 4);
  ASSERT_TRUE(bytes(DType::Q4, {256, 172}).ok());  // stories260K's FFN: 172·4 = 688 bits -> 22 words
  EXPECT_EQ(b.data, 22u * 256 * 4);
  ASSERT_TRUE(bytes(DType::Q3, {11008, 4096}).ok());
  EXPECT_EQ(b.data, 384u * 11008 * 4);
  ASSERT_TRUE(bytes(DType::Q8, {7, 37}).ok());
  EXPECT_EQ(b.data, 10u * 7 * 4);
  ASSERT_TRUE(bytes(DType::Q2, {1, 1}).ok());
  EXPECT_EQ(b.data, 4u);

  format::QuantShape q;
  q.method = format::QuantMethod::GPTQ;
  q.bits = 4;
  q.group_size = 4;
  q.has_zeros = true;
  q.zeros_dtype = DType::Q4;
  q.has_perm = true;
  ASSERT_TRUE(bytes(DType::Q4, {3, 10}, &q).ok());
  EXPECT_EQ(b.n_groups, 3u);
  EXPECT_EQ(b.data, 24u);
  EXPECT_EQ(b.scales, 3u * 3 * 2);
  EXPECT_EQ(b.zeros, 3u * 4);  // one word per group: 3 columns × 4 bits
  EXPECT_EQ(b.perm, 40u);

  // Wrong dtype or rank.
  EXPECT_FALSE(bytes(DType::F16, {3, 10}).ok());
  EXPECT_FALSE(bytes(DType::U8, {3, 10}).ok());
  EXPECT_FALSE(bytes(DType::Q4, {30}).ok());
  EXPECT_FALSE(bytes(DType::Q4, {3, 10, 2}).ok());
  // Sizes that overflow 64 bits although the element count does not.
  EXPECT_FALSE(bytes(DType::Q8, {1, uint64_t{1} << 62}).ok());        // cols·b overflows
  EXPECT_FALSE(bytes(DType::Q8, {uint64_t{1} << 62, 3}).ok());        // words·rows·4 overflows
  EXPECT_FALSE(bytes(DType::Q4, {uint64_t{1} << 32, uint64_t{1} << 32}).ok());  // element count overflows
  EXPECT_TRUE(bytes(DType::Q8, {uint64_t{1} << 40, 4}).ok());
  EXPECT_EQ(b.data, uint64_t{1} << 42);
}

}  // namespace
}  // namespace ingot::cpu
