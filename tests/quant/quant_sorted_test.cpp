// The sorted act-order layout (GptqPackedKSorted, spec/quant-layouts.md §2.3) in the CPU kernels:
// the spec's worked example bit for bit; dequantize, the f32 product and the int8 product against a
// float64 dequantize-and-multiply written here from the community (g_idx) definition
// W[o][k] = scale[g_idx[k]][o] · (q[o][k] − zero[g_idx[k]][o]), for random shapes (4 and 8 bits,
// groups of 32 and 128, odd `in`); that quant_matmul takes the int8 path for it; and that a
// corrupted input order is refused, naming the tensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cpu/convert.h"
#include "cpu/quant.h"
#include "cpu/quant_int8.h"
#include "ingot/format/constants.h"
#include "ingot/format/layout.h"

namespace ingot::cpu {
namespace {

TEST(SortedLayout, SpecExampleBitForBit) {
  // §2.3: Q4 (out 2, in 6), group_size 2, g_idx [2, 0, 1, 0, 2, 1].
  const std::vector<int32_t> g_idx = {2, 0, 1, 0, 2, 1};
  std::vector<int32_t> order;
  ASSERT_TRUE(quant_group_order(g_idx.data(), 6, 2, &order));
  EXPECT_EQ(order, (std::vector<int32_t>{1, 3, 2, 5, 0, 4}));
  for (size_t j = 0; j < 6; ++j) EXPECT_EQ(g_idx[size_t(order[j])], int32_t(j / 2));
  // q[0][k] = k + 1, q[1][k] = 15 − k, stored in `order`.
  std::vector<uint8_t> stored(12);
  for (size_t j = 0; j < 6; ++j) {
    stored[j] = uint8_t(order[j] + 1);
    stored[6 + j] = uint8_t(15 - order[j]);
  }
  EXPECT_EQ(std::vector<uint8_t>(stored.begin(), stored.begin() + 6), (std::vector<uint8_t>{2, 4, 3, 6, 1, 5}));
  EXPECT_EQ(std::vector<uint8_t>(stored.begin() + 6, stored.end()), (std::vector<uint8_t>{14, 12, 13, 10, 15, 11}));
  std::vector<uint32_t> words;
  ASSERT_TRUE(pack_gptq(stored.data(), 2, 6, 4, &words).ok());
  EXPECT_EQ(words, (std::vector<uint32_t>{0x00516342u, 0x00BFADCEu}));
  // W[0][5] = scale[1][0] · (6 − zero[1][0]): scales (3, 2) all 0.5 but scale[1][0] = 2, zero 8.
  std::vector<uint16_t> scales(6, f32_to_f16(0.5f));
  scales[1 * 2 + 0] = f32_to_f16(2.0f);
  QuantView v{words.data(), scales.data(), nullptr, nullptr, 4, 2, 2, 6};
  v.order = order.data();
  ASSERT_TRUE(check_quant_view(v).ok());
  std::vector<float> w(12);
  dequantize(v, w.data());
  EXPECT_EQ(w[5], 2.0f * (6.0f - 8.0f));
  EXPECT_EQ(w[6 + 5], 0.5f * (10.0f - 8.0f));  // q[1][5] = 10, group 1, scale[1][1] = 0.5
}

TEST(SortedLayout, GroupOrderNeedsFullGroups) {
  std::vector<int32_t> order = {7};
  // Group 0 holds three columns, group 1 one: not storable sorted with group_size 2.
  const std::vector<int32_t> uneven = {0, 0, 0, 1};
  EXPECT_FALSE(quant_group_order(uneven.data(), 4, 2, &order));
  EXPECT_EQ(order, std::vector<int32_t>{7});  // untouched
  // A short last group is fine: in 5, groups of 2: 2, 2, 1.
  const std::vector<int32_t> short_last = {2, 1, 0, 1, 0};
  ASSERT_TRUE(quant_group_order(short_last.data(), 5, 2, &order));
  EXPECT_EQ(order, (std::vector<int32_t>{2, 4, 1, 3, 0}));
  // ... but the short group must be the last one.
  const std::vector<int32_t> short_first = {0, 1, 1, 2, 2};
  EXPECT_FALSE(quant_group_order(short_first.data(), 5, 2, &order));
  const std::vector<int32_t> out_of_range = {0, 0, 3, 1};
  EXPECT_FALSE(quant_group_order(out_of_range.data(), 4, 2, &order));
}

struct Case {
  uint32_t bits;
  int32_t group_size;
  bool symmetric;
  size_t rows, cols;
};

// A random act-order weight: q (rows, cols) and a g_idx whose groups have group_size columns,
// scattered over the input as GPTQ's act-order leaves them; the sorted view of it; and W in
// float64 from the community definition.
struct Weight {
  std::vector<uint8_t> q, z;          // (rows, cols) input order, (n_groups, rows)
  std::vector<int32_t> g_idx, order;  // (cols)
  std::vector<uint32_t> qweight, zeros;
  std::vector<uint16_t> scales;       // (n_groups, rows) f16
  QuantView view;                     // sorted
  std::vector<double> exact;          // (rows, cols) W in input order
};

Weight make_weight(const Case& c, std::mt19937& rng) {
  Weight w;
  const uint32_t levels = 1u << c.bits;
  const size_t gs = size_t(c.group_size), n_groups = (c.cols + gs - 1) / gs;
  std::uniform_int_distribution<uint32_t> val(0, levels - 1);
  std::uniform_real_distribution<float> scale(0.005f, 0.05f);
  w.q.resize(c.rows * c.cols);
  for (auto& v : w.q) v = uint8_t(val(rng));
  std::vector<int32_t> visit(c.cols);  // the quantization order: column visit[i] gets group i / gs
  std::iota(visit.begin(), visit.end(), 0);
  std::shuffle(visit.begin(), visit.end(), rng);
  w.g_idx.resize(c.cols);
  for (size_t i = 0; i < c.cols; ++i) w.g_idx[size_t(visit[i])] = int32_t(i / gs);
  w.z.assign(n_groups * c.rows, uint8_t(levels / 2));
  if (!c.symmetric) {
    for (auto& v : w.z) v = uint8_t(val(rng));
  }
  w.scales.resize(n_groups * c.rows);
  for (auto& s : w.scales) s = f32_to_f16(scale(rng));
  EXPECT_TRUE(quant_group_order(w.g_idx.data(), c.cols, c.group_size, &w.order));
  std::vector<uint8_t> stored(c.rows * c.cols);
  for (size_t o = 0; o < c.rows; ++o) {
    for (size_t j = 0; j < c.cols; ++j) stored[o * c.cols + j] = w.q[o * c.cols + size_t(w.order[j])];
  }
  EXPECT_TRUE(pack_gptq(stored.data(), c.rows, c.cols, c.bits, &w.qweight).ok());
  if (!c.symmetric) {
    EXPECT_TRUE(pack_zeros(w.z.data(), n_groups, c.rows, c.bits, &w.zeros).ok());
  }
  w.view = {w.qweight.data(), w.scales.data(), c.symmetric ? nullptr : w.zeros.data(), nullptr, c.bits, c.group_size,
            c.rows, c.cols};
  w.view.order = w.order.data();
  w.exact.resize(c.rows * c.cols);
  for (size_t o = 0; o < c.rows; ++o) {
    for (size_t k = 0; k < c.cols; ++k) {
      const size_t g = size_t(w.g_idx[k]);
      w.exact[o * c.cols + k] =
          double(f16_to_f32(w.scales[g * c.rows + o])) * (double(w.q[o * c.cols + k]) - double(w.z[g * c.rows + o]));
    }
  }
  return w;
}

std::vector<float> activations(size_t n, size_t cols, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(n * cols);
  for (auto& v : x) v = d(rng);
  for (size_t i = 0; i < x.size(); i += 37) x[i] *= 20.0f;  // outliers, as real activations have
  return x;
}

const Case kCases[] = {
    {4, 32, true, 40, 161},  {4, 32, false, 72, 300},  {4, 128, false, 48, 257}, {4, 128, true, 24, 384},
    {8, 32, false, 40, 161}, {8, 128, true, 72, 257},  {8, 128, false, 16, 129},
};

std::string describe(const Case& c) {
  return "bits " + std::to_string(c.bits) + " group " + std::to_string(c.group_size) + (c.symmetric ? " sym" : " asym") +
         " (out " + std::to_string(c.rows) + ", in " + std::to_string(c.cols) + ")";
}

TEST(SortedLayout, DequantizeAndF32ProductMatchFloat64) {
  std::mt19937 rng(7);
  for (const Case& c : kCases) {
    SCOPED_TRACE(describe(c));
    const Weight w = make_weight(c, rng);
    ASSERT_TRUE(check_quant_view(w.view, "t").ok());
    std::vector<float> deq(c.rows * c.cols);
    dequantize(w.view, deq.data());
    // scale (f16) · (q − zero) is exact in float64 and rounds once to f32, as the kernel does.
    for (size_t i = 0; i < deq.size(); ++i) ASSERT_EQ(deq[i], float(w.exact[i])) << "element " << i;
    for (size_t n : {size_t(1), size_t(3), size_t(5), size_t(40)}) {
      SCOPED_TRACE("n " + std::to_string(n));
      const std::vector<float> x = activations(n, c.cols, rng);
      std::vector<float> y(n * c.rows, NAN);
      quant_matmul_f32(x.data(), n, w.view, y.data());
      for (size_t r = 0; r < n; ++r) {
        for (size_t o = 0; o < c.rows; ++o) {
          double ref = 0, mag = 0;
          for (size_t k = 0; k < c.cols; ++k) {
            ref += double(x[r * c.cols + k]) * w.exact[o * c.cols + k];
            mag += std::fabs(double(x[r * c.cols + k]) * w.exact[o * c.cols + k]);
          }
          ASSERT_NEAR(y[r * c.rows + o], ref, 1e-5 * mag + 1e-6) << "row " << r << " out " << o;
        }
      }
    }
  }
}

TEST(SortedLayout, Int8ProductWithinItsBoundAndTakenByQuantMatmul) {
  std::mt19937 rng(11);
  std::vector<Int8Isa> isas = {Int8Isa::portable};
  for (Int8Isa isa : {Int8Isa::avx2, Int8Isa::avx512_vnni}) {
    if (int8_isa_available(isa)) isas.push_back(isa);
  }
  for (const Case& c : kCases) {
    SCOPED_TRACE(describe(c));
    const Weight w = make_weight(c, rng);
    ASSERT_TRUE(quant_int8_supported(w.view));
    for (size_t n : {size_t(1), size_t(4), size_t(17)}) {
      SCOPED_TRACE("n " + std::to_string(n));
      const std::vector<float> x = activations(n, c.cols, rng);
      // The bound of quant_int8.h over the activations as the kernel sees them, gathered into
      // stored order: block b of 16 stored columns has step d_b = max|x[order[j]]| / 127.
      const size_t n_blocks = (c.cols + kInt8Block - 1) / kInt8Block;
      for (Int8Isa isa : isas) {
        SCOPED_TRACE(int8_isa_name(isa));
        std::vector<float> y(n * c.rows, NAN);
        quant_matmul_int8(x.data(), n, w.view, y.data(), isa);
        for (size_t r = 0; r < n; ++r) {
          const float* xr = x.data() + r * c.cols;
          std::vector<double> d(n_blocks, 0.0);
          for (size_t j = 0; j < c.cols; ++j) {
            d[j / kInt8Block] = std::max(d[j / kInt8Block], std::fabs(double(xr[size_t(w.order[j])])) / 127.0);
          }
          for (size_t o = 0; o < c.rows; ++o) {
            double ref = 0, mag = 0, bound = 0;
            for (size_t j = 0; j < c.cols; ++j) {
              const size_t k = size_t(w.order[j]);
              ref += double(xr[k]) * w.exact[o * c.cols + k];
              mag += std::fabs(double(xr[k]) * w.exact[o * c.cols + k]);
              bound += std::fabs(w.exact[o * c.cols + k]) * d[j / kInt8Block] / 2;
            }
            ASSERT_LE(std::fabs(y[r * c.rows + o] - ref), bound + 1e-5 * mag + 1e-6) << "row " << r << " out " << o;
          }
        }
      }
      // The dispatcher takes the int8 kernel for the sorted layout: the same bits as calling it.
      std::vector<float> via(n * c.rows, NAN), direct(n * c.rows, NAN), f32(n * c.rows, NAN);
      set_int8_activations(true);
      quant_matmul(x.data(), n, w.view, via.data());
      quant_matmul_int8(x.data(), n, w.view, direct.data(), int8_isa());
      quant_matmul_f32(x.data(), n, w.view, f32.data());
      EXPECT_EQ(via, direct);
      EXPECT_NE(via, f32);  // int8 rounding shows: the f32 path was not taken
    }
  }
}

TEST(SortedLayout, CorruptOrderIsRefusedNamingTheTensor) {
  std::mt19937 rng(3);
  const Weight w = make_weight({4, 32, true, 8, 96}, rng);
  auto refused = [&](const std::vector<int32_t>& order, const int32_t* g_idx, const std::string& want) {
    QuantView v = w.view;
    v.order = order.data();
    v.g_idx = g_idx;
    const format::Status s = check_quant_view(v, "layers.3.feed_forward.w2.weight");
    ASSERT_FALSE(s.ok()) << want;
    EXPECT_NE(s.message().find("layers.3.feed_forward.w2.weight"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(want), std::string::npos) << s.message();
  };
  std::vector<int32_t> dup = w.order;
  dup[50] = dup[10];
  refused(dup, nullptr, "repeats an earlier entry");
  std::vector<int32_t> big = w.order;
  big[95] = 96;
  refused(big, nullptr, "input_order[95] = 96 is outside [0, 96)");
  std::vector<int32_t> neg = w.order;
  neg[0] = -1;
  refused(neg, nullptr, "input_order[0] = -1");
  refused(w.order, w.g_idx.data(), "an input order and a g_idx together");
  EXPECT_TRUE(check_quant_view(w.view, "t").ok());
}

// Container sizes (format/src/layout.cpp): those of gptq-packed-k, plus the (in) int32 input_order;
// the layout needs its input_order and refuses a perm; input_order belongs to this layout only.
TEST(SortedLayout, FormatSizeRuleAndBlobs) {
  using format::DType;
  using format::Layout;
  EXPECT_STREQ(format::layout_name(Layout::GptqPackedKSorted), "gptq-packed-k-sorted");
  format::QuantShape q;
  q.method = format::QuantMethod::GPTQ;
  q.bits = 4;
  q.group_size = 4;
  q.has_zeros = true;
  q.zeros_dtype = DType::Q4;
  q.has_input_order = true;
  const std::vector<uint64_t> shape = {3, 10};
  format::TensorBytes sorted, plain;
  ASSERT_TRUE(format::tensor_bytes("t", DType::Q4, Layout::GptqPackedKSorted, shape, &q, &sorted).ok());
  EXPECT_EQ(sorted.data, 24u);  // as §2.2's example
  EXPECT_EQ(sorted.scales, 18u);
  EXPECT_EQ(sorted.zeros, 12u);
  EXPECT_EQ(sorted.input_order, 40u);
  EXPECT_EQ(sorted.perm, 0u);
  format::QuantShape p = q;
  p.has_input_order = false;
  ASSERT_TRUE(format::tensor_bytes("t", DType::Q4, Layout::GptqPackedK, shape, &p, &plain).ok());
  EXPECT_EQ(plain.data, sorted.data);
  EXPECT_EQ(plain.scales, sorted.scales);
  EXPECT_EQ(plain.zeros, sorted.zeros);
  format::TensorBytes b;
  // No input_order; a perm beside it; input_order on another layout; no quant table at all.
  format::Status s = format::tensor_bytes("w", DType::Q4, Layout::GptqPackedKSorted, shape, &p, &b);
  EXPECT_NE(s.message().find("'w': layout gptq-packed-k-sorted needs an input_order blob"), std::string::npos)
      << s.message();
  format::QuantShape both = q;
  both.has_perm = true;
  s = format::tensor_bytes("w", DType::Q4, Layout::GptqPackedKSorted, shape, &both, &b);
  EXPECT_NE(s.message().find("(it has a perm)"), std::string::npos) << s.message();
  s = format::tensor_bytes("w", DType::Q4, Layout::GptqPackedK, shape, &q, &b);
  EXPECT_NE(s.message().find("input_order blob belongs to layout gptq-packed-k-sorted only"), std::string::npos)
      << s.message();
  s = format::tensor_bytes("w", DType::Q4, Layout::GptqPackedKSorted, shape, nullptr, &b);
  EXPECT_NE(s.message().find("needs a quant table"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace ingot::cpu
