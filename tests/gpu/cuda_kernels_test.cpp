// Every CUDA kernel against the CPU reference (kernels/cpu) on fresh random inputs of many shapes,
// odd sizes and partial groups included. Outputs are poisoned (NaN bytes) before each launch, so
// an element a kernel forgot to write fails. Tolerances, relative to the reference's scale:
//   quantized / dense GEMV: f32 accumulation in another order, 2e-5 · (Σ|w·x| + 1e-3) a value;
//   RMSNorm, SwiGLU, add, embed: 1e-6 relative (embed and add exact);
//   RoPE: 2e-6 absolute on unit inputs (device sincosf vs host std::cos/std::sin);
//   attention over f16 pages: 1e-5 relative to the output's scale (the CPU reads the same f16 values).
// Without a device every test skips with the reason. INGOT_GPU_TEST_QUICK=1 (the sanitizer runs of
// scripts/gpu-check.sh) keeps the quantized GEMV to shapes up to 256 × 512 and batches up to 3.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cpu/attention.h"
#include "cpu/convert.h"
#include "cpu/matmul.h"
#include "cpu/quant.h"
#include "cpu/rmsnorm.h"
#include "cpu/rope.h"
#include "cuda/device.h"
#include "cuda/ops.h"

namespace ingot::cuda {
namespace {

#define CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << #expr << ": " << cudaGetErrorString(cudaGetLastError())

#define REQUIRE_DEVICE()                                                        \
  do {                                                                          \
    const DeviceInfo info_ = query_devices();                                   \
    if (info_.count == 0) GTEST_SKIP() << "no CUDA device: " << info_.reason;   \
  } while (0)

bool quick() {
  const char* q = std::getenv("INGOT_GPU_TEST_QUICK");
  return q != nullptr && q[0] == '1';
}

uint32_t n_sm() {
  int v = 1;
  cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0);
  return uint32_t(v);
}

// A device copy of a host vector; freed with the object.
template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) {
    EXPECT_EQ(cudaMalloc(&p, std::max<size_t>(1, n) * sizeof(T)), cudaSuccess);
    poison();
  }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) {
    EXPECT_EQ(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~Dev() { cudaFree(p); }
  void poison() { EXPECT_EQ(cudaMemset(p, 0xff, std::max<size_t>(1, n) * sizeof(T)), cudaSuccess); }  // NaN for floats
  std::vector<T> host() const {
    std::vector<T> h(n);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return h;
  }
};

std::vector<float> randn(std::mt19937& rng, size_t n, float sd = 1) {
  std::normal_distribution<float> d(0, sd);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& scale,
                  double rel, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_FALSE(std::isnan(got[i])) << what << ": element " << i << " not written (or NaN)";
    ASSERT_NEAR(got[i], want[i], rel * (double(scale[i]) + 1e-3)) << what << ": element " << i;
  }
}

// A random quantized weight (out, in) with its device copies, random activations x (n, in), the
// CPU's y = x · Wᵀ (cpu::quant_matmul) and the scale Σ_k |w·x| of each output the tolerances
// are relative to.
struct RandomQuantCase {
  std::vector<uint32_t> qw, zw;
  std::vector<uint16_t> sc;
  std::vector<int32_t> gi;
  std::vector<float> x, want, scale;
  std::unique_ptr<Dev<uint32_t>> dq, dz;
  std::unique_ptr<Dev<uint16_t>> ds;
  std::unique_ptr<Dev<int32_t>> dg;
  std::unique_ptr<Dev<float>> dx;
  QuantWeight dw{};
  std::string what;

  RandomQuantCase(std::mt19937& rng, uint32_t out, uint32_t in, uint32_t bits, int32_t group, bool act_order,
                  uint32_t n) {
    const size_t n_groups = cpu::quant_n_groups(in, group);
    std::vector<uint8_t> q(size_t(out) * in), z(n_groups * out);
    for (auto& v : q) v = uint8_t(rng() % (1u << bits));
    for (auto& v : z) v = uint8_t(rng() % (1u << bits));
    EXPECT_TRUE(cpu::pack_gptq(q.data(), out, in, bits, &qw).ok());
    EXPECT_TRUE(cpu::pack_zeros(z.data(), n_groups, out, bits, &zw).ok());
    sc.resize(n_groups * out);
    for (auto& s : sc) s = cpu::f32_to_f16(0.001f + float(rng() % 1000) * 2e-5f);
    gi.resize(in);
    for (auto& g : gi) g = int32_t(rng() % n_groups);
    const bool sym = (rng() % 3) == 0;
    cpu::QuantView v{qw.data(), sc.data(), sym ? nullptr : zw.data(), act_order ? gi.data() : nullptr,
                     bits, group, out, in};
    EXPECT_TRUE(cpu::check_quant_view(v).ok());
    x = randn(rng, size_t(n) * in);
    want.assign(size_t(n) * out, 0);
    scale.assign(want.size(), 0);
    std::vector<float> w(size_t(out) * in);
    cpu::quant_matmul(x.data(), n, v, want.data());
    cpu::dequantize(v, w.data());
    for (uint32_t b = 0; b < n; ++b) {
      for (uint32_t o = 0; o < out; ++o) {
        for (uint32_t k = 0; k < in; ++k) scale[b * out + o] += std::fabs(w[o * in + k] * x[b * in + k]);
      }
    }
    dq = std::make_unique<Dev<uint32_t>>(qw), dz = std::make_unique<Dev<uint32_t>>(zw);
    ds = std::make_unique<Dev<uint16_t>>(sc);
    dg = std::make_unique<Dev<int32_t>>(gi);
    dx = std::make_unique<Dev<float>>(x);
    dw = QuantWeight{dq->p, ds->p, sym ? nullptr : dz->p, act_order ? dg->p : nullptr, bits, group, out, in};
    what = "bits " + std::to_string(bits) + " group " + std::to_string(group) + " act " + std::to_string(act_order) +
           " sym " + std::to_string(sym) + " n " + std::to_string(n) + " shape " + std::to_string(out) + "x" +
           std::to_string(in);
  }
};

TEST(CudaKernels, QuantGemvMatchesCpuQuantMatmul) {
  REQUIRE_DEVICE();
  std::mt19937 rng(1234);
  struct Shape {
    uint32_t out, in;
  };
  const Shape shapes[] = {{4, 8}, {7, 10}, {64, 172}, {172, 64}, {256, 512}, {4096, 4096}, {1000, 333}, {11008, 256}};
  for (const Shape& sh : shapes) {
    for (uint32_t bits : {2u, 3u, 4u, 8u}) {
      for (int32_t group : {-1, 32, 128, 44}) {
        for (bool act_order : {false, true}) {
          for (uint32_t n : {1u, 2u, 3u, 8u, 16u, 17u}) {
            if (sh.out * sh.in > (1u << 22) && (n > 2 || bits != 4 || act_order)) continue;  // keep it short
            if (quick() && (sh.out * sh.in > 256u * 512u || n > 3)) continue;
            RandomQuantCase c(rng, sh.out, sh.in, bits, group, act_order, n);
            Dev<float> dy(c.want.size());
            Dev<float> ws(std::max<size_t>(1, quant_gemv_workspace_floats(c.dw, n, n_sm())));
            CUDA_OK(quant_gemv(c.dw, c.dx->p, n, dy.p, ws.p, n_sm(), nullptr));
            expect_close(dy.host(), c.want, c.scale, 2e-5, "quant_gemv " + c.what);
          }
        }
      }
    }
  }
}

// The tensor-core prefill product (f16 inputs, f32 accumulation) against the same CPU reference:
// x and the dequantized weights are each rounded to f16 (relative error ≤ 2^-11 each), so every
// output is within 2^-10 (≈ 9.8e-4) of Σ|w·x| of the f32 result; the tolerance is 1.2e-3. Row
// counts around the 64-token tile, shapes that leave partial tiles in both dimensions and along k.
TEST(CudaKernels, QuantGemmMatchesCpuQuantMatmulToF16Rounding) {
  REQUIRE_DEVICE();
  std::mt19937 rng(4321);
  struct Shape {
    uint32_t out, in;
  };
  const Shape shapes[] = {{7, 10}, {64, 172}, {172, 64}, {1000, 333}, {256, 512}, {4096, 512}};
  for (const Shape& sh : shapes) {
    for (uint32_t bits : {2u, 3u, 4u, 8u}) {
      for (int32_t group : {-1, 32, 128, 44}) {
        for (bool act_order : {false, true}) {
          for (uint32_t n : {17u, 64u, 65u, 200u}) {
            if (quick() && (sh.out * sh.in > 256u * 512u || n > 65)) continue;
            RandomQuantCase c(rng, sh.out, sh.in, bits, group, act_order, n);
            Dev<float> dy(c.want.size());
            CUDA_OK(quant_gemm(c.dw, c.dx->p, n, dy.p, nullptr));
            expect_close(dy.host(), c.want, c.scale, 1.2e-3, "quant_gemm " + c.what);
          }
        }
      }
    }
  }
}

TEST(CudaKernels, DenseGemvMatchesCpuMatmul) {
  REQUIRE_DEVICE();
  std::mt19937 rng(99);
  for (fb::DType dt : {fb::DType::F32, fb::DType::F16, fb::DType::BF16}) {
    for (auto [out, in] : {std::pair{1u, 1u}, {5u, 7u}, {64u, 64u}, {512u, 172u}, {32000u, 288u}, {300u, 4097u}}) {
      for (uint32_t n : {1u, 2u, 5u, 16u, 20u}) {
        const std::vector<float> wf = randn(rng, size_t(out) * in, 0.1f), x = randn(rng, size_t(n) * in);
        std::vector<uint8_t> bytes(wf.size() * (dt == fb::DType::F32 ? 4 : 2));
        for (size_t i = 0; i < wf.size(); ++i) {
          if (dt == fb::DType::F32) std::memcpy(bytes.data() + 4 * i, &wf[i], 4);
          const uint16_t h = dt == fb::DType::F16 ? cpu::f32_to_f16(wf[i]) : cpu::f32_to_bf16(wf[i]);
          if (dt != fb::DType::F32) std::memcpy(bytes.data() + 2 * i, &h, 2);
        }
        const cpu::WeightView v{bytes.data(), dt, out, in};
        std::vector<float> want(size_t(n) * out), scale(want.size(), 0), row(in);
        cpu::matmul(x.data(), n, v, want.data());
        for (uint32_t o = 0; o < out; ++o) {
          cpu::weight_row(v, o, row.data());
          for (uint32_t b = 0; b < n; ++b) {
            for (uint32_t k = 0; k < in; ++k) scale[b * out + o] += std::fabs(row[k] * x[b * in + k]);
          }
        }
        Dev<uint8_t> dw(bytes);
        Dev<float> dx(x), dy(want.size());
        const WeightType t = dt == fb::DType::F32 ? WeightType::f32 : dt == fb::DType::F16 ? WeightType::f16
                                                                                            : WeightType::bf16;
        CUDA_OK(dense_gemv(dw.p, t, out, in, dx.p, n, dy.p, nullptr));
        expect_close(dy.host(), want, scale, 2e-5, "dense_gemv " + std::to_string(out) + "x" + std::to_string(in));
      }
    }
  }
}

TEST(CudaKernels, RmsnormSwigluAddEmbedGatherMatchTheCpu) {
  REQUIRE_DEVICE();
  std::mt19937 rng(5);
  for (uint32_t dim : {1u, 7u, 64u, 288u, 4096u, 5003u}) {
    for (uint32_t n : {1u, 3u, 16u}) {
      const std::vector<float> x = randn(rng, size_t(n) * dim), wt = randn(rng, dim);
      std::vector<uint16_t> w16(dim);
      for (uint32_t i = 0; i < dim; ++i) w16[i] = cpu::f32_to_f16(wt[i]);
      for (bool half : {false, true}) {
        const cpu::WeightView wv{half ? static_cast<const void*>(w16.data()) : wt.data(),
                                 half ? fb::DType::F16 : fb::DType::F32, 1, dim};
        std::vector<float> want(x.size());
        cpu::rmsnorm(x.data(), n, dim, wv, 1e-5f, want.data());
        Dev<float> dx(x), dout(x.size()), dwf(wt);
        Dev<uint16_t> dwh(w16);
        CUDA_OK(rmsnorm(dx.p, n, dim, half ? static_cast<const void*>(dwh.p) : dwf.p,
                        half ? WeightType::f16 : WeightType::f32, 1e-5f, dout.p, nullptr));
        std::vector<float> scale(want.size());
        for (size_t i = 0; i < want.size(); ++i) scale[i] = std::fabs(want[i]);
        expect_close(dout.host(), want, scale, 2e-6, "rmsnorm dim " + std::to_string(dim));
      }
    }
  }
  for (size_t count : {size_t(1), size_t(1000), size_t(11008 * 3 + 1)}) {
    const std::vector<float> g = randn(rng, count, 3), u = randn(rng, count);
    std::vector<float> want(count), sum(count), scale(count);
    for (size_t i = 0; i < count; ++i) {
      want[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
      sum[i] = g[i] + u[i];
      scale[i] = std::fabs(want[i]);
    }
    Dev<float> dg(g), du(u);
    CUDA_OK(swiglu(dg.p, du.p, count, nullptr));
    expect_close(dg.host(), want, scale, 1e-6, "swiglu");
    Dev<float> da(g);
    CUDA_OK(add(da.p, du.p, count, nullptr));
    EXPECT_EQ(da.host(), sum);
  }
  // Embedding gather of f16 rows, repeated and last tokens included: exact.
  const uint32_t vocab = 517, dim = 72;
  std::vector<uint16_t> table(size_t(vocab) * dim);
  for (auto& h : table) h = cpu::f32_to_f16(std::normal_distribution<float>(0, 1)(rng));
  const std::vector<int32_t> tokens = {0, 516, 3, 3, 200};
  std::vector<float> want(tokens.size() * dim);
  const cpu::WeightView tv{table.data(), fb::DType::F16, vocab, dim};
  for (size_t t = 0; t < tokens.size(); ++t) cpu::weight_row(tv, size_t(tokens[t]), want.data() + t * dim);
  Dev<uint16_t> dt(table);
  Dev<int32_t> dtok(tokens);
  Dev<float> dx(want.size());
  CUDA_OK(embed(dt.p, WeightType::f16, dim, dtok.p, uint32_t(tokens.size()), dx.p, nullptr));
  EXPECT_EQ(dx.host(), want);
  // Column gather (act-order input into stored order) against cpu::gather_columns: exact.
  for (uint32_t cols : {1u, 130u, 4096u}) {
    const uint32_t rows = 3;
    std::vector<int32_t> order(cols);
    for (uint32_t j = 0; j < cols; ++j) order[j] = int32_t(j);
    std::shuffle(order.begin(), order.end(), rng);
    const std::vector<float> xs = randn(rng, size_t(rows) * cols);
    std::vector<float> gathered(xs.size());
    cpu::gather_columns(xs.data(), rows, cols, order.data(), gathered.data());
    Dev<float> dxs(xs), dgo(xs.size());
    Dev<int32_t> dor(order);
    CUDA_OK(gather_columns(dxs.p, rows, cols, dor.p, dgo.p, nullptr));
    EXPECT_EQ(dgo.host(), gathered) << "cols " << cols;
  }
}

// Greedy sampling on the device: each row's argmax equals std::max_element's (the host sampler's
// argmax: the first maximum), with ties planted at random places, rows of every width from 1 to
// Llama 3's vocabulary, and 1 to 16 rows.
TEST(CudaKernels, ArgmaxRowsEqualsTheHostArgmax) {
  REQUIRE_DEVICE();
  std::mt19937 rng(9);
  for (uint32_t width : {1u, 31u, 257u, 32000u, 49152u, 128256u}) {
    for (uint32_t n : {1u, 3u, 16u}) {
      std::vector<float> x = randn(rng, size_t(n) * width);
      for (uint32_t t = 0; t < n; ++t) {
        float* row = x.data() + size_t(t) * width;
        const float top = *std::max_element(row, row + width) + 1.0f;
        // Ties: the maximum at two to four random places (or all at one place when width is 1).
        const int copies = 2 + int(rng() % 3);
        for (int c = 0; c < copies; ++c) row[rng() % width] = top;
      }
      std::vector<int32_t> want(n);
      for (uint32_t t = 0; t < n; ++t) {
        const float* row = x.data() + size_t(t) * width;
        want[t] = int32_t(std::max_element(row, row + width) - row);
      }
      Dev<float> dx(x);
      Dev<int32_t> dout(n);
      CUDA_OK(argmax_rows(dx.p, n, width, dout.p, nullptr));
      EXPECT_EQ(dout.host(), want) << "width " << width << ", " << n << " rows";
    }
  }
}

// Top-k on the device: each row's k best (logit, id) pairs equal the host's full sort in the
// sampler's order (higher logit, ties to the lower id, NaN last), best first; rows with many
// ties, all equal, -inf and NaN; widths to Llama 3's vocabulary, k from 1 to kMaxTopK, 1 to 16
// rows; the output poisoned (Dev). k above the limit is refused.
TEST(CudaKernels, TopKRowsEqualsTheHostSort) {
  REQUIRE_DEVICE();
  std::mt19937 rng(21);
  int style = 0;
  for (uint32_t width : {1u, 31u, 1000u, 32000u, 49152u, 128256u}) {
    for (uint32_t k : {1u, 40u, 104u, 1000u, 1024u}) {
      if (k > width) continue;
      for (uint32_t n : {1u, 16u}) {
        std::vector<float> x(size_t(n) * width);
        for (float& v : x) {
          v = style == 0 ? float(int(rng() % 64)) * 0.25f
              : style == 1 ? 1.5f
                           : float(int(rng() % 2000001) - 1000000) * 1e-5f;
        }
        if (style == 2) {
          for (int j = 0; j < 8; ++j) x[rng() % x.size()] = -INFINITY;
          for (int j = 0; j < 3; ++j) x[rng() % x.size()] = NAN;
        }
        style = (style + 1) % 3;
        std::vector<Candidate> want;
        for (uint32_t t = 0; t < n; ++t) {
          const float* row = x.data() + size_t(t) * width;
          std::vector<int32_t> ids(width);
          std::iota(ids.begin(), ids.end(), 0);
          std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
            const bool an = std::isnan(row[a]), bn = std::isnan(row[b]);
            if (an != bn) return bn;
            return row[a] > row[b];
          });
          for (uint32_t j = 0; j < k; ++j) want.push_back({row[ids[j]], ids[j]});
        }
        Dev<float> dx(x);
        Dev<Candidate> dout(size_t(n) * k);
        CUDA_OK(top_k_rows(dx.p, n, width, k, dout.p, nullptr));
        CUDA_OK(cudaDeviceSynchronize());
        const std::vector<Candidate> got = dout.host();
        for (size_t j = 0; j < want.size(); ++j) {
          ASSERT_EQ(got[j].id, want[j].id) << "width " << width << ", k " << k << ", " << n << " rows, place " << j;
          const bool both_nan = std::isnan(got[j].logit) && std::isnan(want[j].logit);
          ASSERT_TRUE(both_nan || got[j].logit == want[j].logit) << "place " << j;
        }
      }
    }
  }
  Dev<float> dx(std::vector<float>(2048, 0.0f));
  Dev<Candidate> dout(kMaxTopK + 1);
  EXPECT_EQ(top_k_rows(dx.p, 1, 2048, kMaxTopK + 1, dout.p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(top_k_rows(dx.p, 1, 16, 17, dout.p, nullptr), cudaErrorInvalidValue);
}

TEST(CudaKernels, RopeMatchesTheCpuInBothFormsWithLlama3Scaling) {
  REQUIRE_DEVICE();
  std::mt19937 rng(8);
  for (bool interleaved : {true, false}) {
    for (bool llama3 : {false, true}) {
      for (uint32_t hd : {8u, 64u, 128u}) {
        cpu::RopeParams p;
        p.head_dim = hd;
        p.theta = llama3 ? 500000.0f : 10000.0f;
        p.form = interleaved ? fb::RopeForm::Interleaved : fb::RopeForm::Half;
        if (llama3) p.scaling = fb::RopeScalingType::Llama3, p.factor = 8;
        const std::vector<float> inv = cpu::rope_inv_freq(p);
        const uint32_t n = 5, heads = 3;
        const std::vector<int32_t> pos = {0, 1, 77, 4095, 31999};
        std::vector<float> x(size_t(n) * heads * hd);
        for (float& v : x) v = std::uniform_real_distribution<float>(-1, 1)(rng);
        std::vector<float> want = x;
        for (uint32_t t = 0; t < n; ++t) cpu::rope(want.data() + t * heads * hd, heads, size_t(pos[t]), p, inv);
        Dev<float> dx(x), df(inv);
        Dev<int32_t> dp(pos);
        CUDA_OK(rope(dx.p, n, heads, hd, dp.p, df.p, interleaved, nullptr));
        const std::vector<float> got = dx.host();
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 2e-6) << i;
      }
    }
  }
}

// Paged attention: pages in a shuffled order, f16 and f32, decode (n = 1) and prefill rows,
// GQA; the CPU reference reads the same values widened into a contiguous cache.
TEST(CudaKernels, PagedAttentionMatchesCpuAttention) {
  REQUIRE_DEVICE();
  std::mt19937 rng(21);
  struct Case {
    uint32_t n_head, n_head_kv, hd, pos0, n, page_size;
  };
  const Case cases[] = {{8, 4, 8, 0, 1, 16},   {8, 4, 8, 40, 1, 16},  {4, 4, 64, 0, 7, 16},
                        {9, 3, 64, 99, 1, 16}, {32, 8, 128, 4000, 1, 16}, {32, 32, 128, 0, 33, 8},
                        {2, 1, 100, 17, 3, 5}, {16, 16, 256, 1, 2, 16},
                        {2, 1, 64, 3, 4100, 16}};  // past the 4096 rows of one launch
  for (const Case& c : cases) {
    for (bool f16 : {true, false}) {
      const uint32_t kv_dim = c.n_head_kv * c.hd, n_pos = c.pos0 + c.n, n_layer = 2, layer = 1;
      const uint32_t n_pages = (n_pos + c.page_size - 1) / c.page_size;
      const size_t vb = f16 ? 2 : 4, row_bytes = kv_dim * vb, page_bytes = size_t(n_layer) * 2 * c.page_size * row_bytes;
      const uint32_t pool_pages = n_pages + 3;
      std::vector<int32_t> table(n_pages);
      std::vector<int32_t> perm(pool_pages);
      for (uint32_t i = 0; i < pool_pages; ++i) perm[i] = int32_t(i);
      std::shuffle(perm.begin(), perm.end(), rng);
      for (uint32_t i = 0; i < n_pages; ++i) table[i] = perm[i];
      std::vector<uint8_t> pages(pool_pages * page_bytes);
      for (auto& b : pages) b = uint8_t(rng());  // garbage everywhere the sequence does not own
      std::vector<float> k(size_t(n_pos) * kv_dim), v(k.size());
      for (uint32_t p = 0; p < n_pos; ++p) {
        for (uint32_t kvw = 0; kvw < 2; ++kvw) {
          uint8_t* row = pages.data() + size_t(table[p / c.page_size]) * page_bytes +
                         ((size_t(layer) * 2 + kvw) * c.page_size + p % c.page_size) * row_bytes;
          for (uint32_t i = 0; i < kv_dim; ++i) {
            const float val = std::normal_distribution<float>(0, 1)(rng);
            const uint16_t h = cpu::f32_to_f16(val);
            const float stored = f16 ? cpu::f16_to_f32(h) : val;
            if (f16) std::memcpy(row + 2 * i, &h, 2); else std::memcpy(row + 4 * i, &val, 4);
            (kvw == 0 ? k : v)[size_t(p) * kv_dim + i] = stored;
          }
        }
      }
      const std::vector<float> q = randn(rng, size_t(c.n) * c.n_head * c.hd);
      std::vector<float> want(q.size());
      const cpu::AttentionShape shape{c.n_head, c.n_head_kv, c.hd};
      cpu::attention(q.data(), c.n, c.pos0, k.data(), v.data(), shape, want.data());
      Dev<uint8_t> dpages(pages);
      Dev<int32_t> dtable(table);
      Dev<float> dq(q), dout(q.size());
      AttentionArgs a{dq.p, c.n, c.pos0, dtable.p, {dpages.p, page_bytes, c.page_size, kv_dim, layer, f16},
                      c.n_head, c.n_head_kv, c.hd, dout.p};
      Dev<float> ws(attention_workspace_floats(a, n_sm()));
      CUDA_OK(attention(a, ws.p, n_sm(), nullptr));
      std::vector<float> scale(want.size(), 1.0f);
      expect_close(dout.host(), want, scale, 1e-5, "attention hd " + std::to_string(c.hd) + " pos0 " +
                                                       std::to_string(c.pos0) + " n " + std::to_string(c.n));
    }
  }
}

TEST(CudaKernels, KvWriteStoresRoundedRowsWhereTold) {
  REQUIRE_DEVICE();
  std::mt19937 rng(4);
  const uint32_t kv_dim = 72, n = 3;
  const std::vector<float> k = randn(rng, n * kv_dim), v = randn(rng, n * kv_dim);
  const std::vector<uint64_t> ko = {0, 1000, 4000}, vo = {600, 2000, 3000};
  Dev<uint8_t> pages(8192);
  Dev<float> dk(k), dv(v);
  Dev<uint64_t> dko(ko), dvo(vo);
  CUDA_OK(kv_write(pages.p, true, kv_dim, dk.p, dv.p, dko.p, dvo.p, n, nullptr));
  const std::vector<uint8_t> got = pages.host();
  for (uint32_t r = 0; r < n; ++r) {
    for (uint32_t i = 0; i < kv_dim; ++i) {
      uint16_t hk, hv;
      std::memcpy(&hk, got.data() + ko[r] + 2 * i, 2);
      std::memcpy(&hv, got.data() + vo[r] + 2 * i, 2);
      ASSERT_EQ(hk, cpu::f32_to_f16(k[r * kv_dim + i]));
      ASSERT_EQ(hv, cpu::f32_to_f16(v[r * kv_dim + i]));
    }
  }
  EXPECT_EQ(got[600 - 1], 0xff) << "a byte before a row was written";
}

}  // namespace
}  // namespace ingot::cuda
