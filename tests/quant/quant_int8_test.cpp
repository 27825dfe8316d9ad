// The int8-activation quantized matmul (kernels/cpu/quant_int8.h): every kernel path this CPU has
// (AVX-512 VNNI, AVX2, portable) against a float64 dequantize-then-multiply reference written
// here, for 3, 4 and 8 bits × group sizes × sym/asym × odd shapes (partial last blocks and groups,
// outputs not a multiple of 8 or 16) × batch sizes 1..17 and a prefill-sized one, activations with
// outliers, outputs poisoned with NaN before each run.
//
// The bound: each activation block of kInt8Block values has the step d = max|x| / 127 and each xq is within d/2
// of x/d, so the int8 path's error on output o is at most Σ_k |W[o][k]| · d(k) / 2, plus f32
// rounding of the sums. Every output is checked against that bound (computed here from x, not
// from the kernel's own numbers); the typical error is printed per bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/convert.h"
#include "cpu/quant.h"
#include "cpu/quant_int8.h"

namespace ingot::cpu {
namespace {

struct Case {
  uint32_t bits;
  int32_t group_size;
  bool symmetric;
  size_t rows, cols;
};

std::string describe(const Case& c) {
  return "bits " + std::to_string(c.bits) + " group " + std::to_string(c.group_size) + (c.symmetric ? " sym" : " asym") +
         " (out " + std::to_string(c.rows) + ", in " + std::to_string(c.cols) + ")";
}

struct Weight {
  std::vector<uint8_t> q, z;  // (rows, cols), (n_groups, rows)
  std::vector<uint32_t> qweight, zeros;
  std::vector<uint16_t> scales;  // (n_groups, rows) f16
  QuantView view;
  std::vector<double> exact;  // (rows, cols): scale · (q − zero), the spec's formula in f64
};

Weight make_weight(const Case& c, std::mt19937& rng) {
  Weight w;
  const uint32_t levels = 1u << c.bits;
  const size_t n_groups = c.group_size == -1 ? 1 : (c.cols + c.group_size - 1) / c.group_size;
  std::uniform_int_distribution<uint32_t> val(0, levels - 1);
  std::uniform_real_distribution<float> scale(0.005f, 0.05f);
  w.q.resize(c.rows * c.cols);
  for (auto& v : w.q) v = uint8_t(val(rng));
  // Some extreme columns: all 0 or all max, where a saturating or sign-flipping kernel would fail.
  for (size_t o = 0; o < c.rows; o += 5) {
    for (size_t k = 0; k < c.cols; ++k) w.q[o * c.cols + k] = (o / 5) % 2 ? uint8_t(levels - 1) : uint8_t(0);
  }
  w.z.assign(n_groups * c.rows, uint8_t(levels / 2));
  if (!c.symmetric) {
    for (auto& v : w.z) v = uint8_t(val(rng));
  }
  w.scales.resize(n_groups * c.rows);
  for (auto& s : w.scales) s = f32_to_f16(scale(rng));
  EXPECT_TRUE(pack_gptq(w.q.data(), c.rows, c.cols, c.bits, &w.qweight).ok());
  if (!c.symmetric) {
    EXPECT_TRUE(pack_zeros(w.z.data(), n_groups, c.rows, c.bits, &w.zeros).ok());
  }
  w.view = {w.qweight.data(), w.scales.data(), c.symmetric ? nullptr : w.zeros.data(), nullptr, c.bits, c.group_size,
            c.rows, c.cols};
  w.exact.resize(c.rows * c.cols);
  for (size_t o = 0; o < c.rows; ++o) {
    for (size_t k = 0; k < c.cols; ++k) {
      const size_t g = c.group_size == -1 ? 0 : k / c.group_size;
      w.exact[o * c.cols + k] =
          double(f16_to_f32(w.scales[g * c.rows + o])) * (double(w.q[o * c.cols + k]) - double(w.z[g * c.rows + o]));
    }
  }
  return w;
}

std::vector<Int8Isa> available_isas() {
  std::vector<Int8Isa> isas;
  for (Int8Isa isa : {Int8Isa::portable, Int8Isa::avx2, Int8Isa::avx512_vnni}) {
    if (int8_isa_available(isa)) {
      isas.push_back(isa);
    } else {
      std::printf("note: this CPU has no %s: that path is not tested here\n", int8_isa_name(isa));
    }
  }
  return isas;
}

// Gaussian activations with outliers: every 37th value ×40 (LLM activations have a few channels
// far above the rest, which is what widens a block's step).
std::vector<float> activations(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d;
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = d(rng) * (i % 37 == 5 ? 40.0f : 1.0f);
  return x;
}

struct Errors {
  double sq = 0, norm = 0;  // Σ (y − ref)², Σ (Σ_k |x·w|)²
};

// Per output of x (n, cols) · W: the float64 reference, Σ|x·w|, and the error allowed.
struct Reference {
  std::vector<double> ref, mag, allowed;  // (n, rows)
};

Reference reference(const Case& c, const Weight& w, const std::vector<float>& x, size_t n) {
  Reference r;
  r.ref.resize(n * c.rows), r.mag.resize(n * c.rows), r.allowed.resize(n * c.rows);
  const size_t n_blocks = (c.cols + kInt8Block - 1) / kInt8Block;
  for (size_t t = 0; t < n; ++t) {
    const float* xr = x.data() + t * c.cols;
    std::vector<double> step(n_blocks, 0);  // d of each block, from x directly
    for (size_t k = 0; k < c.cols; ++k) {
      step[k / kInt8Block] = std::max(step[k / kInt8Block], std::abs(double(xr[k])) / 127);
    }
    for (size_t o = 0; o < c.rows; ++o) {
      double ref = 0, mag = 0, bound = 0, terms = 0;
      for (size_t k = 0; k < c.cols; ++k) {
        const double wk = w.exact[o * c.cols + k];
        const double p = double(xr[k]) * wk;
        ref += p;
        mag += std::abs(p);
        bound += std::abs(wk) * step[k / kInt8Block] / 2;
        // The size of the f32 terms before the zero point cancels: |x|·scale·(q + zero), and for
        // 8 bits the AVX2 path's q − 128 and zero − 128 (its s8 operands): +256.
        const size_t g = c.group_size == -1 ? 0 : k / c.group_size;
        terms += std::abs(double(xr[k])) * double(f16_to_f32(w.scales[g * c.rows + o])) *
                 (double(w.q[o * c.cols + k]) + double(w.z[g * c.rows + o]) + 1 + (c.bits == 8 ? 256 : 0));
      }
      r.ref[t * c.rows + o] = ref;
      r.mag[t * c.rows + o] = mag;
      r.allowed[t * c.rows + o] = bound * (1 + 1e-6) + 2e-6 * terms;
    }
  }
  return r;
}

// Checks y (n, rows) against the reference and the int8 bound; adds to `e`.
void check_against_reference(const Case& c, const Reference& r, size_t n, const std::vector<float>& y, Errors* e) {
  for (size_t t = 0; t < n; ++t) {
    for (size_t o = 0; o < c.rows; ++o) {
      const size_t i = t * c.rows + o;
      const double got = y[i];
      ASSERT_TRUE(std::isfinite(got)) << "row " << t << " output " << o;
      ASSERT_LE(std::abs(got - r.ref[i]), r.allowed[i])
          << "row " << t << " output " << o << ": got " << got << ", float64 " << r.ref[i];
      e->sq += (got - r.ref[i]) * (got - r.ref[i]);
      e->norm += r.mag[i] * r.mag[i];
    }
  }
}

TEST(QuantInt8, EveryPathEveryCaseWithinTheInt8Bound) {
  std::mt19937 rng(std::random_device{}());  // fresh inputs every run
  const std::pair<size_t, size_t> shapes[] = {{1, 172}, {7, 37}, {64, 4096}, {300, 172}, {33, 300}, {264, 128}, {40, 1000}};
  const std::vector<Int8Isa> isas = available_isas();
  size_t n_checked = 0;
  for (uint32_t bits : {3u, 4u, 8u}) {
    Errors per_bits;
    for (int32_t gs : {-1, 16, 32, 48, 128})
      for (bool sym : {false, true})
        for (auto [rows, cols] : shapes) {
          const Case c{bits, gs, sym, rows, cols};
          SCOPED_TRACE(describe(c));
          Weight w = make_weight(c, rng);
          ASSERT_TRUE(check_quant_view(w.view).ok());
          ASSERT_TRUE(quant_int8_supported(w.view));
          for (size_t n : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17}) {
            const std::vector<float> x = activations(n * c.cols, rng);
            const Reference ref = reference(c, w, x, n);
            std::vector<float> portable;
            for (Int8Isa isa : isas) {
              SCOPED_TRACE(std::string(int8_isa_name(isa)) + " n " + std::to_string(n));
              std::vector<float> y(n * c.rows, NAN);  // poisoned: an unwritten output fails
              quant_matmul_int8(x.data(), n, w.view, y.data(), isa);
              check_against_reference(c, ref, n, y, &per_bits);
              ++n_checked;
              // The 3-, 4- and 8-bit VNNI kernels (and their vectorised activation quantizer) do
              // the portable definition's arithmetic in its order: the same bits. (AVX2's 8-bit
              // path shifts its operands by 128: it only meets the bound.)
              if (isa == Int8Isa::portable) portable = y;
              if (isa == Int8Isa::avx512_vnni && !portable.empty()) {
                for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], portable[i]) << "vnni vs portable, element " << i;
              }
            }
          }
        }
    std::printf("%u-bit: int8 activations' relative error (rms over outputs, against Σ|x·w|) %.3g\n", bits,
                std::sqrt(per_bits.sq / per_bits.norm));
  }
  std::printf("%zu runs checked\n", n_checked);
}

// A prefill-sized batch (several passes of 8 rows over each task's weights).
TEST(QuantInt8, PrefillBatchWithinTheInt8Bound) {
  std::mt19937 rng(7);
  for (const Case& c : {Case{4, 128, true, 200, 512}, Case{4, 128, false, 96, 384}, Case{8, 64, false, 72, 256}}) {
    SCOPED_TRACE(describe(c));
    Weight w = make_weight(c, rng);
    const size_t n = 67;
    const std::vector<float> x = activations(n * c.cols, rng);
    const Reference ref = reference(c, w, x, n);
    for (Int8Isa isa : available_isas()) {
      SCOPED_TRACE(int8_isa_name(isa));
      std::vector<float> y(n * c.rows, NAN);
      quant_matmul_int8(x.data(), n, w.view, y.data(), isa);
      Errors e;
      check_against_reference(c, ref, n, y, &e);
    }
  }
}

// A row holding NaN or ±Inf gives exactly what the f32 path gives for it; the other rows of the
// batch are unaffected.
TEST(QuantInt8, NonFiniteActivationsPropagateAsInTheF32Path) {
  std::mt19937 rng(3);
  const Case c{4, 128, false, 48, 256};
  Weight w = make_weight(c, rng);
  const size_t n = 5;
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    std::vector<float> x = activations(n * c.cols, rng);
    x[1 * c.cols + 77] = bad;
    x[3 * c.cols + 255] = bad;
    std::vector<float> want(n * c.rows, 0.0f);
    for (size_t t : {1, 3}) quant_matmul_f32(x.data() + t * c.cols, 1, w.view, want.data() + t * c.rows);
    for (Int8Isa isa : available_isas()) {
      SCOPED_TRACE(std::string(int8_isa_name(isa)) + " bad " + std::to_string(bad));
      std::vector<float> y(n * c.rows, 12345.0f);
      quant_matmul_int8(x.data(), n, w.view, y.data(), isa);
      size_t non_finite = 0;
      for (size_t t : {1, 3}) {
        for (size_t o = 0; o < c.rows; ++o) {
          const float a = y[t * c.rows + o], b = want[t * c.rows + o];
          ASSERT_TRUE((std::isnan(a) && std::isnan(b)) || a == b) << "row " << t << " output " << o << ": " << a << " vs " << b;
          non_finite += !std::isfinite(a);
        }
      }
      EXPECT_GT(non_finite, 0u);
      for (size_t t : {0, 2, 4})
        for (size_t o = 0; o < c.rows; ++o) ASSERT_TRUE(std::isfinite(y[t * c.rows + o])) << "row " << t;
    }
  }
}

// quant_matmul takes the int8 path where a kernel takes the weight, else the f32 one; the switch
// turns int8 off; the weights no int8 kernel takes (2-bit, act-order, groups that are not
// multiples of kInt8Block) still give the f32 path's result, and so do 3-bit ones on a CPU
// without the 3-bit SIMD kernel (VNNI + VBMI).
TEST(QuantInt8, DispatchAndTheF32Switch) {
  std::mt19937 rng(11);
  const Case c{4, 128, true, 64, 512};
  Weight w = make_weight(c, rng);
  const std::vector<float> x = activations(c.cols, rng);
  std::vector<float> f32(c.rows), i8(c.rows), y(c.rows);
  quant_matmul_f32(x.data(), 1, w.view, f32.data());
  quant_matmul_int8(x.data(), 1, w.view, i8.data(), int8_isa());
  ASSERT_NE(f32, i8);  // the two paths differ somewhere: the comparisons below tell them apart
  set_int8_activations(true);
  quant_matmul(x.data(), 1, w.view, y.data());
  EXPECT_EQ(y, i8);
  set_int8_activations(false);
  quant_matmul(x.data(), 1, w.view, y.data());
  EXPECT_EQ(y, f32);
  set_int8_activations(true);
  QuantView other = w.view;
  other.group_size = 64;  // only the view's fields are looked at, never its arrays
  EXPECT_TRUE(quant_int8_supported(other));
  for (int32_t gs : {40, 100}) {
    other.group_size = gs;
    EXPECT_FALSE(quant_int8_supported(other)) << gs;
  }
  std::vector<int32_t> g_idx(c.cols, 0);
  other = w.view;
  other.g_idx = g_idx.data();
  EXPECT_FALSE(quant_int8_supported(other));
  std::vector<uint32_t> q3, q2;
  std::vector<uint8_t> q(c.rows * c.cols, 3);
  for (size_t i = 0; i < q.size(); i += 7) q[i] = 6;
  ASSERT_TRUE(pack_gptq(q.data(), c.rows, c.cols, 3, &q3).ok());
  other = w.view;
  other.bits = 3;
  other.qweight = q3.data();
  EXPECT_TRUE(quant_int8_supported(other));
  quant_matmul_f32(x.data(), 1, other, f32.data());
  quant_matmul_int8(x.data(), 1, other, i8.data(), int8_isa());
  ASSERT_NE(f32, i8);
  quant_matmul(x.data(), 1, other, y.data());
  EXPECT_EQ(y, int8_3bit_kernel() ? i8 : f32) << "3-bit kernel: " << int8_3bit_kernel();
  for (auto& v : q) v %= 4;
  ASSERT_TRUE(pack_gptq(q.data(), c.rows, c.cols, 2, &q2).ok());
  other.bits = 2;
  other.qweight = q2.data();
  EXPECT_FALSE(quant_int8_supported(other));
  quant_matmul_f32(x.data(), 1, other, f32.data());
  quant_matmul(x.data(), 1, other, y.data());
  EXPECT_EQ(y, f32);
}

// The kernel the dispatcher picks follows the environment: INGOT_NO_SIMD=1 portable,
// INGOT_SIMD=avx2 AVX2 (CTest runs this binary under both), else the best this CPU has.
TEST(QuantInt8, IsaFollowsTheEnvironment) {
  const Int8Isa isa = int8_isa();
  std::printf("int8 kernel: %s\n", int8_isa_name(isa));
  ASSERT_TRUE(int8_isa_available(isa));
  if (std::getenv("INGOT_NO_SIMD") != nullptr) {
    EXPECT_EQ(isa, Int8Isa::portable);
  } else if (const char* s = std::getenv("INGOT_SIMD"); s != nullptr && std::strcmp(s, "avx2") == 0) {
    EXPECT_EQ(isa, int8_isa_available(Int8Isa::avx2) ? Int8Isa::avx2 : Int8Isa::portable);
  } else if (int8_isa_available(Int8Isa::avx512_vnni)) {
    EXPECT_EQ(isa, Int8Isa::avx512_vnni);
  } else if (int8_isa_available(Int8Isa::avx2)) {
    EXPECT_EQ(isa, Int8Isa::avx2);
  }
}

}  // namespace
}  // namespace ingot::cpu
