// GPTQ on the device (QuantConfig::device = cuda; ingotc --device cuda) against the CPU
// quantizer on the same inputs, the criterion: at least 99.9% of the integers equal, the
// loss within 1e-6 relative, the same damp; over bits, groups (partial last groups), act-order,
// static groups, sym/asym, the grid searches, FOEM, GPTAQ and a singular H that needs raises;
// the device Hessians and cross terms (cuBLAS) within the f32 summation bound of the CPU's.
// Skipped (not passed) without a device.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gptq/gptq.h"
#include "gptq/gptq_cuda.h"
#include "gptq/hessian.h"
#include "../quant/gptq_reference.h"

namespace ingot::compiler {
namespace {

#define REQUIRE_DEVICE() \
  if (!gptq_cuda_available()) GTEST_SKIP() << "no CUDA device"

struct Case {
  size_t out, in;
  int bits, group;
  bool act, sym, stat;
  GridSearch grid;
  float foem;
  bool gptaq;
};

std::string describe(const Case& c) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "out %zu in %zu bits %d group %d act %d sym %d static %d grid %d foem %.2f gptaq %d",
                c.out, c.in, c.bits, c.group, int(c.act), int(c.sym), int(c.stat), int(c.grid), double(c.foem),
                int(c.gptaq));
  return buf;
}

void compare(const gptq_ref::Layer& l, QuantConfig cfg, const float* dxxt, const std::string& what) {
  QuantResult cpu, dev;
  cfg.device = GptqDevice::cpu;
  ASSERT_TRUE(gptq_quantize(l.w.data(), l.out, l.in, l.h, cfg, &cpu, dxxt).ok()) << what;
  cfg.device = GptqDevice::cuda;
  const format::Status s = gptq_quantize(l.w.data(), l.out, l.in, l.h, cfg, &dev, dxxt);
  ASSERT_TRUE(s.ok()) << what << ": " << s.to_string();
  ASSERT_EQ(dev.q.size(), cpu.q.size());
  size_t same = 0;
  for (size_t i = 0; i < cpu.q.size(); ++i) same += cpu.q[i] == dev.q[i];
  const double share = double(same) / double(cpu.q.size());
  EXPECT_GE(share, 0.999) << what << ": " << cpu.q.size() - same << " integers differ";
  EXPECT_NEAR(dev.loss, cpu.loss, 1e-6 * std::fabs(cpu.loss) + 1e-12) << what;
  EXPECT_EQ(dev.damp_used, cpu.damp_used) << what;
  EXPECT_EQ(dev.damp_raises, cpu.damp_raises) << what;
  EXPECT_EQ(dev.g_idx, cpu.g_idx) << what;
  EXPECT_EQ(dev.perm, cpu.perm) << what;
  EXPECT_GT(dev.device_peak_bytes, 0u) << what;
  std::printf("[ device ] %s: %.5f%% integers equal, loss %.9g vs %.9g, peak %zu bytes\n", what.c_str(),
              100.0 * share, dev.loss, cpu.loss, dev.device_peak_bytes);
}

TEST(GptqCuda, AgreesWithTheCpuQuantizer) {
  REQUIRE_DEVICE();
  const Case cases[] = {
      {256, 512, 4, 128, true, true, false, GridSearch::hessian, 0.0f, false},   // the default
      {256, 512, 4, 128, true, true, false, GridSearch::minmax, 0.0f, false},    // the paper
      {130, 300, 4, 128, true, false, false, GridSearch::hessian, 0.0f, false},  // partial groups, asym
      {96, 320, 3, 32, true, true, true, GridSearch::hessian, 0.0f, false},      // static groups
      {64, 200, 3, -1, true, true, false, GridSearch::minmax, 0.0f, false},      // per channel
      {64, 256, 8, 128, false, false, false, GridSearch::mse, 0.0f, false},      // mse, natural order
      {128, 384, 2, 64, true, true, false, GridSearch::hessian, 0.2f, false},    // FOEM
      {128, 256, 4, 96, true, true, false, GridSearch::hessian, 0.0f, false},    // a group past the block
  };
  uint64_t seed = 40;
  for (const Case& c : cases) {
    const gptq_ref::Layer l = gptq_ref::make_layer(c.out, c.in, 3 * c.in, seed++);
    QuantConfig cfg;
    cfg.bits = c.bits;
    cfg.group_size = c.group;
    cfg.act_order = c.act;
    cfg.sym = c.sym;
    cfg.static_groups = c.stat;
    cfg.grid = c.grid;
    cfg.foem_beta = c.foem;
    compare(l, cfg, nullptr, describe(c));
  }
}

// GPTAQ: dXXT from a second ("full-precision") input beside the layer's own.
TEST(GptqCuda, GptaqAgreesWithTheCpuQuantizer) {
  REQUIRE_DEVICE();
  const gptq_ref::Layer l = gptq_ref::make_layer(192, 384, 1152, 77);
  std::mt19937_64 rng(5);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<float> x_fp = l.x;
  for (float& v : x_fp) v += noise(rng);
  CrossAccumulator cross(l.in);
  cross.add(x_fp.data(), l.x.data(), l.n_tokens);
  QuantConfig cfg;
  cfg.grid = GridSearch::hessian;
  compare(l, cfg, cross.value().data(), "gptaq 4-bit g128");
}

// A rank-deficient H (fewer tokens than inputs): the damp is raised on the device as on the CPU.
TEST(GptqCuda, RaisesTheDampAsTheCpu) {
  REQUIRE_DEVICE();
  const gptq_ref::Layer l = gptq_ref::make_layer(32, 256, 40, 9);
  QuantConfig cfg;
  cfg.damp = 0.0f;
  compare(l, cfg, nullptr, "rank-deficient H, damp 0");
  cfg.damp_auto = true;
  cfg.damp = 0.01f;
  compare(l, cfg, nullptr, "rank-deficient H, damp auto");
}

// H and GPTAQ's cross term accumulated on the device (cuBLAS, f32, TF32 off) in the same uneven
// batches as on the CPU: every element within the worst-case bound of two f32 sums of the same N
// products in different orders, 2 · N · 2⁻²⁴ · (2/N) Σ_t |a_t b_t| (plus the running mean's
// rescalings, a few more roundings).
TEST(GptqCuda, DeviceHessiansMatchTheCpuWithinF32Rounding) {
  REQUIRE_DEVICE();
  const gptq_ref::Layer l = gptq_ref::make_layer(8, 300, 900, 13);
  const size_t in = l.in, n = l.n_tokens;
  std::mt19937_64 rng(6);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<float> x_fp = l.x;
  for (float& v : x_fp) v += noise(rng);
  HessianAccumulator hc(in), hd(in, GptqDevice::cuda);
  CrossAccumulator cc(in), cd(in, GptqDevice::cuda);
  ASSERT_TRUE(hd.status().ok()) << hd.status().to_string();
  const size_t cuts[] = {0, n / 3, n / 2, n};
  for (int b = 0; b < 3; ++b) {
    const size_t t0 = cuts[b], k = cuts[b + 1] - cuts[b];
    hc.add(l.x.data() + t0 * in, k);
    hd.add(l.x.data() + t0 * in, k);
    cc.add(x_fp.data() + t0 * in, l.x.data() + t0 * in, k);
    cd.add(x_fp.data() + t0 * in, l.x.data() + t0 * in, k);
  }
  const std::vector<float> a = hc.finish(), b = hd.finish();
  ASSERT_TRUE(hd.status().ok()) << hd.status().to_string();
  const std::vector<float>& ca = cc.value();
  const std::vector<float>& cb = cd.value();
  ASSERT_TRUE(cd.status().ok()) << cd.status().to_string();
  const double u = std::ldexp(1.0, -24);
  size_t bad_h = 0, bad_c = 0;
  for (size_t i = 0; i < in; ++i) {
    for (size_t j = 0; j < in; ++j) {
      double abs_h = 0, abs_c = 0;
      for (size_t t = 0; t < n; ++t) {
        abs_h += std::fabs(double(l.x[t * in + i]) * l.x[t * in + j]);
        abs_c += std::fabs(double(x_fp[t * in + i] - l.x[t * in + i]) * l.x[t * in + j]);
      }
      const double bound_h = (2.0 * double(n) + 8.0) * u * (2.0 / double(n)) * abs_h;
      const double bound_c = (2.0 * double(n) + 8.0) * u * (2.0 / double(n)) * abs_c;
      bad_h += std::fabs(double(a[i * in + j]) - b[i * in + j]) > bound_h;
      bad_c += std::fabs(double(ca[i * in + j]) - cb[i * in + j]) > bound_c;
    }
  }
  EXPECT_EQ(bad_h, 0u);
  EXPECT_EQ(bad_c, 0u);
  EXPECT_EQ(hd.n_samples(), n);
}

}  // namespace
}  // namespace ingot::compiler
