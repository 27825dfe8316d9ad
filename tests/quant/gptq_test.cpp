// GPTQ and RTN (the paper's algorithm, the default options) against plain float64 references:
// the unblocked GPTQ of the paper's Algorithm 1 with the reference code's group / act-order /
// static-group rules (gptq_reference.h, with the tie rule explained there), and RTN here. The
// options past the paper are tested in gptq_options_test.cpp.
#include <cblas.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gptq/gptq.h"
#include "gptq/gptq_cuda.h"
#include "gptq/hessian.h"
#include "gptq_reference.h"

namespace ingot::compiler {
namespace {

using namespace gptq_ref;

Reference reference_rtn(const Layer& l, const QuantConfig& c, const QuantResult& ours) {
  const size_t out = l.out, in = l.in;
  const double maxq = double((1 << c.bits) - 1);
  const size_t g = c.group_size == -1 ? in : size_t(c.group_size), n_groups = (in + g - 1) / g;
  Reference ref;
  ref.q.assign(out * in, 0);
  ref.deq.assign(out * in, 0.0);
  ref.scale.resize(n_groups * out);
  ref.zero.resize(n_groups * out);
  for (size_t r = 0; r < out; ++r)
    for (size_t k = 0; k < n_groups; ++k) {
      const size_t c0 = k * g, c1 = std::min(c0 + g, in);
      std::vector<double> x(l.w.begin() + ptrdiff_t(r * in + c0), l.w.begin() + ptrdiff_t(r * in + c1));
      const ParamsD p = find_params_d(x.data(), x.size(), maxq, c.sym);
      ref.scale[k * out + r] = p.scale;
      ref.zero[k * out + r] = int(p.zero);
      for (size_t j = c0; j < c1; ++j) {
        const int q = quantize_d(l.w[r * in + j], p, maxq, int(ours.q[r * in + j]), &ref.tally);
        ref.q[r * in + j] = q;
        ref.deq[r * in + j] = p.scale * (q - p.zero);
        ref.loss += 0.5 * (l.w[r * in + j] - ref.deq[r * in + j]) * (l.w[r * in + j] - ref.deq[r * in + j]);
      }
    }
  return ref;
}

// Every dequantized value is scales[g_idx]·(q − zeros[g_idx]), bit for bit; q within range.
void expect_consistent(const QuantResult& res, size_t out, size_t in, int bits) {
  ASSERT_EQ(res.q.size(), out * in);
  ASSERT_EQ(res.dequantized.size(), out * in);
  ASSERT_EQ(res.g_idx.size(), in);
  const size_t n_groups = res.scales.size() / out;
  ASSERT_EQ(res.scales.size(), n_groups * out);
  ASSERT_EQ(res.zeros.size(), n_groups * out);
  size_t bad = 0;
  for (size_t r = 0; r < out; ++r)
    for (size_t c = 0; c < in; ++c) {
      const size_t gi = size_t(res.g_idx[c]);
      ASSERT_LT(gi, n_groups);
      ASSERT_LT(int(res.q[r * in + c]), 1 << bits);
      const float s = res.scales[gi * out + r];
      const float z = float(res.zeros[gi * out + r]);
      if (res.dequantized[r * in + c] != s * (float(res.q[r * in + c]) - z)) ++bad;
    }
  EXPECT_EQ(bad, 0u);
}

struct Case {
  size_t out, in;
  int bits, group;
  bool act, sym, stat;
  int block;
};

std::string describe(const Case& c) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "out %zu in %zu bits %d group %d act %d sym %d static %d block %d", c.out, c.in,
                c.bits, c.group, int(c.act), int(c.sym), int(c.stat), c.block);
  return buf;
}

// ---- tests ------------------------------------------------------------------------------------

TEST(Hessian, MatchesFloat64AndRunningMean) {
  const Layer l = make_layer(4, 96, 300, 7);
  std::vector<double> ref(96 * 96, 0.0);
  for (size_t t = 0; t < l.n_tokens; ++t)
    for (size_t i = 0; i < 96; ++i)
      for (size_t j = 0; j < 96; ++j) ref[i * 96 + j] += 2.0 * l.x[t * 96 + i] * l.x[t * 96 + j] / double(l.n_tokens);
  double max_abs = 0.0, max_err = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(ref[i]));
    max_err = std::max(max_err, std::fabs(ref[i] - l.h[i]));
  }
  EXPECT_LT(max_err, 1e-5 * max_abs);
  for (size_t i = 0; i < 96; ++i)
    for (size_t j = 0; j < 96; ++j) ASSERT_EQ(l.h[i * 96 + j], l.h[j * 96 + i]);
  EXPECT_EQ(l.h[l.dead * 96 + l.dead], 0.0f);
  HessianAccumulator empty(5);
  EXPECT_EQ(empty.n_samples(), 0u);
  for (float v : empty.finish()) EXPECT_EQ(v, 0.0f);
}

// The sweep: every bits × group × act-order × sym × static combination once, shapes and block
// sizes rotating through the list, against the unblocked f64 reference.
TEST(Gptq, MatchesUnblockedFloat64Reference) {
  const std::pair<size_t, size_t> shapes[] = {{300, 172}, {1, 64}, {37, 256}, {64, 500}, {128, 172}, {200, 256}, {9, 500}, {50, 64}};
  const int blocks[] = {128, 32, 20, 7};
  const int bit_list[] = {2, 3, 4, 8};
  const int group_list[] = {-1, 32, 128, 48};  // 48 divides none of the widths; 128 neither 172 nor 500
  std::map<std::pair<size_t, size_t>, Layer> layers;
  std::map<std::tuple<size_t, size_t, int, int, bool>, double> rtn_error;
  size_t n_case = 0, total = 0, ties = 0, hard = 0;
  double worst_loss = 0.0, worst_quad = 0.0, worst_ratio = 0.0;
  size_t gptq_lost = 0;
  std::string worst_loss_case;
  for (int bits : bit_list)
    for (int group : group_list)
      for (int act = 0; act < 2; ++act)
        for (int sym = 0; sym < 2; ++sym)
          for (int stat = 0; stat < 2; ++stat) {
            const auto shape = shapes[n_case % std::size(shapes)];
            const Case c{shape.first, shape.second, bits, group, act != 0, sym != 0, stat != 0,
                         blocks[(n_case / 3) % std::size(blocks)]};
            ++n_case;
            if (!layers.count(shape))
              layers.emplace(shape, make_layer(shape.first, shape.second, 2 * shape.second + 64, 1000 + shape.second));
            const Layer& l = layers.at(shape);
            SCOPED_TRACE(describe(c));
            QuantConfig cfg;
            cfg.bits = c.bits;
            cfg.group_size = c.group;
            cfg.act_order = c.act;
            cfg.sym = c.sym;
            cfg.static_groups = c.stat;
            cfg.block_size = c.block;
            QuantResult res;
            const format::Status st = gptq_quantize(l.w.data(), l.out, l.in, l.h, cfg, &res);
            ASSERT_TRUE(st.ok()) << st.to_string();
            EXPECT_EQ(res.damp_raises, 0);
            expect_consistent(res, l.out, l.in, c.bits);

            const Reference ref = reference_gptq(l, cfg, res.damp_used, res);
            total += l.out * l.in;
            ties += ref.tally.ties;
            hard += ref.tally.hard;
            EXPECT_EQ(ref.tally.hard, 0u);
            if (ref.tally.ties) std::printf("  %s: %zu tie(s)\n", describe(c).c_str(), ref.tally.ties);
            EXPECT_EQ(res.g_idx, ref.g_idx);
            if (c.act) {
              EXPECT_EQ(res.perm, ref.perm);
            } else {
              EXPECT_TRUE(res.perm.empty());
            }
            size_t q_diff = 0, zero_diff = 0;
            double scale_err = 0.0;
            for (size_t i = 0; i < res.q.size(); ++i) q_diff += int(res.q[i]) != ref.q[i];
            for (size_t k = 0; k < ref.scale.size(); ++k) {
              scale_err = std::max(scale_err, std::fabs(res.scales[k] - ref.scale[k]) / ref.scale[k]);
              zero_diff += res.zeros[k] != ref.zero[k];
            }
            EXPECT_EQ(q_diff, 0u);  // after the reference adopted the tie decisions
            EXPECT_EQ(zero_diff, 0u);
            EXPECT_LT(scale_err, 1e-6);  // f32 rounding of the result
            const double loss_rel = std::fabs(res.loss - ref.loss) / ref.loss;
            if (loss_rel >= worst_loss) worst_loss_case = describe(c);
            worst_loss = std::max(worst_loss, loss_rel);
            EXPECT_LT(loss_rel, 1e-6) << "ours " << res.loss << " reference " << ref.loss;
            const double quad = quadratic_loss(l, res);
            const double quad_rel = std::fabs(quad - res.loss) / res.loss;
            worst_quad = std::max(worst_quad, quad_rel);
            EXPECT_LT(quad_rel, 1e-3) << "loss " << res.loss << " vs ½ΣδHδᵀ " << quad;

            // RTN does not depend on act-order or static groups: one run per (shape, bits, group, sym).
            const auto rtn_key = std::make_tuple(c.out, c.in, c.bits, c.group, c.sym);
            if (!rtn_error.count(rtn_key)) {
              QuantResult rtn;
              ASSERT_TRUE(rtn_quantize(l.w.data(), l.out, l.in, cfg, &rtn).ok());
              rtn_error[rtn_key] = output_error(l, rtn.dequantized);
            }
            const double e_gptq = output_error(l, res.dequantized), e_rtn = rtn_error.at(rtn_key);
            // GPTQ is greedy; it need not beat RTN. On this data (×20 outlier inputs) it loses at
            // 2 bits with groups in natural column order, by a few % even on its own objective;
            // the f64 Algorithm 1 above reaches the same integers, so it is the algorithm, not
            // this implementation (TwoBitNaturalOrderExceptionAndRemedies shows why, and that
            // static groups, act-order or more damping win there). Everywhere else it must win.
            if (c.bits == 2 && c.group != -1 && !c.act) {
              EXPECT_LT(e_gptq, 1.10 * e_rtn);
              if (e_gptq >= e_rtn) ++gptq_lost;
            } else {
              EXPECT_LT(e_gptq, e_rtn);
            }
            worst_ratio = std::max(worst_ratio, e_gptq / e_rtn);
          }
  std::printf("GPTQ vs f64 Algorithm 1: %zu cases, %zu integers, %zu rounding ties (%.4f%%), %zu hard mismatches; "
              "worst loss relative difference %.3g (%s); worst |loss − ½ΣδHδᵀ|/loss %.3g; "
              "output error GPTQ/RTN worst %.3f, GPTQ lost %zu case(s) (2-bit grouped, natural order)\n",
              n_case, total, ties, 100.0 * double(ties) / double(total), hard, worst_loss, worst_loss_case.c_str(),
              worst_quad, worst_ratio, gptq_lost);
  EXPECT_LE(double(ties), 1e-3 * double(total));
}

// The sweep's one exception, on one of its cases (37 × 256, 2-bit, groups of 32, symmetric,
// natural order): why GPTQ can lose to RTN there, and that the remedies win on the same data.
// Rounding to 2 bits makes large errors; error feedback spreads them onto the later columns (most
// of all the error of the ×20 outlier channels, which the other channels must compensate), so the
// later groups, whose grid is set from the updated weights when GPTQ reaches them, span wider
// ranges than the original weights RTN sees: coarser steps for every weight in them. Grids fixed
// up front (static groups) avoid that; act-order quantizes the outlier channels first; stronger
// damping shrinks the updates. At 3 bits the same case wins outright.
TEST(Gptq, TwoBitNaturalOrderExceptionAndRemedies) {
  const Layer l = make_layer(37, 256, 2 * 256 + 64, 1000 + 256);  // the sweep's 37 × 256 layer
  QuantConfig cfg;
  cfg.bits = 2;
  cfg.group_size = 32;
  cfg.act_order = false;
  cfg.sym = true;
  auto ratio = [&](const QuantConfig& c) {
    QuantResult g, r;
    EXPECT_TRUE(gptq_quantize(l.w.data(), l.out, l.in, l.h, c, &g).ok());
    EXPECT_TRUE(rtn_quantize(l.w.data(), l.out, l.in, c, &r).ok());
    return output_error(l, g.dequantized) / output_error(l, r.dequantized);
  };
  QuantResult gptq, rtn;
  ASSERT_TRUE(gptq_quantize(l.w.data(), l.out, l.in, l.h, cfg, &gptq).ok());
  ASSERT_TRUE(rtn_quantize(l.w.data(), l.out, l.in, cfg, &rtn).ok());
  // Mean scale of the first group (set before any feedback) and of the later ones, GPTQ over RTN.
  double first_g = 0, first_r = 0, later_g = 0, later_r = 0;
  for (size_t k = 0; k < 256 / 32; ++k)
    for (size_t r = 0; r < l.out; ++r) {
      (k == 0 ? first_g : later_g) += gptq.scales[k * l.out + r];
      (k == 0 ? first_r : later_r) += rtn.scales[k * l.out + r];
    }
  const double plain = ratio(cfg);
  QuantConfig stat = cfg, act = cfg, damped = cfg, three = cfg;
  stat.static_groups = true;
  act.act_order = true;
  damped.damp = 0.1f;
  three.bits = 3;
  const double r_stat = ratio(stat), r_act = ratio(act), r_damped = ratio(damped), r_three = ratio(three);
  std::printf("2-bit g32 sym natural order: output error GPTQ/RTN %.4f, mean scale GPTQ/RTN first group %.4f, "
              "later groups %.4f; GPTQ/RTN with static groups %.4f, act-order %.4f, damp 0.1 %.4f; at 3 bits %.4f\n",
              plain, first_g / first_r, later_g / later_r, r_stat, r_act, r_damped, r_three);
  EXPECT_NEAR(first_g / first_r, 1.0, 1e-6);  // the first group's grid is RTN's
  EXPECT_GT(later_g / later_r, 1.2);         // the later groups' grids are much coarser
  EXPECT_LT(plain, 1.10);
  EXPECT_LT(r_stat, 1.0);
  EXPECT_LT(r_act, 1.0);
  EXPECT_LT(r_damped, 1.0);
  EXPECT_LT(r_three, 1.0);
}

// The default configuration across the required shapes (out 1..300; in 172, 64, 256, 500).
TEST(Gptq, ShapesWithDefaultConfig) {
  for (size_t in : {172, 64, 256, 500})
    for (size_t out : {1, 2, 300}) {
      SCOPED_TRACE("out " + std::to_string(out) + " in " + std::to_string(in));
      const Layer l = make_layer(out, in, in + 100, 77 + in + out);
      const QuantConfig cfg;
      QuantResult res, rtn;
      ASSERT_TRUE(gptq_quantize(l.w.data(), out, in, l.h, cfg, &res).ok());
      ASSERT_TRUE(rtn_quantize(l.w.data(), out, in, cfg, &rtn).ok());
      expect_consistent(res, out, in, cfg.bits);
      EXPECT_EQ(res.scales.size(), ((in + 127) / 128) * out);
      const Reference ref = reference_gptq(l, cfg, res.damp_used, res);
      EXPECT_EQ(ref.tally.hard, 0u);
      EXPECT_LT(std::fabs(res.loss - ref.loss) / ref.loss, 1e-6);
      EXPECT_LT(output_error(l, res.dequantized), output_error(l, rtn.dequantized));
    }
}

TEST(Rtn, MatchesFloat64RoundToNearest) {
  const Layer l = make_layer(150, 172, 64, 5);
  size_t ties = 0, exact = 0, total = 0;
  for (int bits : {2, 3, 4, 8})
    for (int group : {-1, 32, 128, 48})
      for (bool sym : {false, true}) {
        SCOPED_TRACE("bits " + std::to_string(bits) + " group " + std::to_string(group) + " sym " + std::to_string(sym));
        QuantConfig cfg;
        cfg.bits = bits;
        cfg.group_size = group;
        cfg.sym = sym;
        QuantResult res;
        ASSERT_TRUE(rtn_quantize(l.w.data(), l.out, l.in, cfg, &res).ok());
        expect_consistent(res, l.out, l.in, bits);
        const Reference ref = reference_rtn(l, cfg, res);
        EXPECT_EQ(ref.tally.hard, 0u);
        ties += ref.tally.ties;
        exact += ref.tally.exact;
        total += l.out * l.in;
        for (size_t i = 0; i < res.q.size(); ++i) ASSERT_EQ(int(res.q[i]), ref.q[i]) << i;
        for (size_t k = 0; k < ref.scale.size(); ++k) {
          ASSERT_NEAR(res.scales[k], ref.scale[k], 1e-6 * ref.scale[k]);
          ASSERT_EQ(res.zeros[k], ref.zero[k]);
        }
        for (size_t i = 0; i < res.q.size(); ++i) ASSERT_NEAR(res.dequantized[i], ref.deq[i], 1e-5 * ref.scale[0] + 1e-6);
        EXPECT_NEAR(res.loss, ref.loss, 1e-5 * ref.loss);
        EXPECT_TRUE(res.perm.empty());
        EXPECT_EQ(res.damp_raises, 0);
      }
  // Exact ties are structural: a symmetric group's minimum lies at exactly −(maxq + 1)/2 + ½
  // steps in f64, and where the f32 scale rounds up it lands just inside and rounds the other way
  // (what the reference's f32 torch code computes too).
  std::printf("RTN vs f64: %zu integers, %zu rounding ties (%zu exact k + 1/2 in f64)\n", total, ties, exact);
  EXPECT_LE(double(ties - exact), 1e-3 * double(total));
}

// The reference's quantizer corner cases: an all-zero group gets [-1, 1]; symmetric zero is
// (maxq + 1) / 2; a symmetric group with no negative value keeps xmin = 0.
TEST(Rtn, QuantizerCornerCases) {
  const float w[8] = {0, 0, 0, 0, 0.5f, 1.0f, 0.25f, 0.0f};
  QuantConfig cfg;
  cfg.bits = 4;
  cfg.group_size = 4;
  cfg.sym = false;
  QuantResult res;
  ASSERT_TRUE(rtn_quantize(w, 1, 8, cfg, &res).ok());
  EXPECT_FLOAT_EQ(res.scales[0], 2.0f / 15.0f);
  // round(-xmin / scale) = round(7.5), an exact tie: the reference's f32 lands at 7.4999995 → 7;
  // our parameters are computed in double (gptq.cpp), where the quotient is 7.5 → 8 (half to even).
  EXPECT_EQ(res.zeros[0], int(std::nearbyint(1.0 / (2.0 / 15.0))));
  EXPECT_FLOAT_EQ(res.scales[1], 1.0f / 15.0f);
  EXPECT_EQ(res.zeros[1], 0);
  for (int c = 0; c < 4; ++c) EXPECT_EQ(res.dequantized[c], 0.0f);
  cfg.sym = true;
  ASSERT_TRUE(rtn_quantize(w, 1, 8, cfg, &res).ok());
  EXPECT_EQ(res.zeros[0], 8);
  EXPECT_EQ(res.zeros[1], 8);
  EXPECT_FLOAT_EQ(res.scales[1], 1.0f / 15.0f);  // xmin stays 0: the reference's range
  EXPECT_FLOAT_EQ(res.dequantized[5], 7.0f / 15.0f);  // 1.0 clips at (15 − 8) · scale
}

TEST(Gptq, RaisesDampForSingularHessian) {
  // 12 tokens for 64 inputs: H has rank ≤ 12; with damp 0 it is singular.
  const Layer l = make_layer(16, 64, 12, 3);
  QuantConfig cfg;
  cfg.damp = 0.0f;
  cfg.group_size = 32;
  QuantResult res;
  const format::Status st = gptq_quantize(l.w.data(), 16, 64, l.h, cfg, &res);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_GE(res.damp_raises, 1);
  EXPECT_GT(res.damp_used, 0.0f);
  std::printf("singular H: %d raise(s), percdamp used %g\n", res.damp_raises, double(res.damp_used));
  EXPECT_TRUE(std::isfinite(res.loss));
  for (float v : res.dequantized) ASSERT_TRUE(std::isfinite(v));
  const Reference ref = reference_gptq(l, cfg, res.damp_used, res);
  EXPECT_EQ(ref.tally.hard, 0u);
  EXPECT_LT(std::fabs(res.loss - ref.loss) / ref.loss, 1e-6);

  // Not a Gram matrix at all (negative diagonal): fails after the raises, with a message.
  std::vector<float> neg(64 * 64, 0.0f);
  for (size_t i = 0; i < 64; ++i) neg[i * 64 + i] = -1.0f;
  const format::Status bad = gptq_quantize(l.w.data(), 16, 64, neg, cfg, &res);
  EXPECT_EQ(bad.code(), format::StatusCode::invalid_argument);
  EXPECT_NE(bad.message().find("not positive definite"), std::string::npos) << bad.message();
}

TEST(Gptq, DeterministicAcrossThreadCounts) {
  const Layer l = make_layer(200, 256, 400, 11);
  QuantConfig cfg;
  cfg.group_size = 32;
  cfg.block_size = 64;
  QuantResult a, b;
  const int omp0 = omp_get_max_threads(), blas0 = openblas_get_num_threads();
  omp_set_num_threads(1);
  openblas_set_num_threads(1);
  ASSERT_TRUE(gptq_quantize(l.w.data(), l.out, l.in, l.h, cfg, &a).ok());
  omp_set_num_threads(4);
  openblas_set_num_threads(4);
  ASSERT_TRUE(gptq_quantize(l.w.data(), l.out, l.in, l.h, cfg, &b).ok());
  omp_set_num_threads(omp0);
  openblas_set_num_threads(blas0);
  EXPECT_EQ(a.q, b.q);
  EXPECT_EQ(a.dequantized, b.dequantized);
  EXPECT_EQ(a.scales, b.scales);
  EXPECT_EQ(a.loss, b.loss);
}

// GptqDevice::cuda where it cannot run (no device, or a build without CUDA) fails, saying what
// to do, instead of quietly running on the CPU; with a device, gptq_cuda_test compares the two.
TEST(Gptq, DeviceCudaWithoutADeviceIsRefusedByName) {
  if (gptq_cuda_available()) GTEST_SKIP() << "a CUDA device is present: gptq_cuda_test covers this path";
  const Layer l = make_layer(8, 64, 128, 3);
  QuantConfig cfg;
  cfg.device = GptqDevice::cuda;
  QuantResult res;
  const format::Status s = gptq_quantize(l.w.data(), l.out, l.in, l.h, cfg, &res);
  EXPECT_EQ(s.code(), format::StatusCode::invalid_argument);
  EXPECT_NE(s.message().find("--device cpu"), std::string::npos) << s.message();
}

TEST(Gptq, RejectsBadArguments) {
  const Layer l = make_layer(4, 64, 80, 2);
  QuantResult res;
  auto code = [&](QuantConfig cfg, std::vector<float> h, const float* w) {
    return gptq_quantize(w, 4, 64, std::move(h), cfg, &res).code();
  };
  QuantConfig cfg;
  const auto invalid = format::StatusCode::invalid_argument;
  cfg.bits = 0;
  EXPECT_EQ(code(cfg, l.h, l.w.data()), invalid);
  cfg.bits = 9;
  EXPECT_EQ(code(cfg, l.h, l.w.data()), invalid);
  cfg = {};
  cfg.group_size = 0;
  EXPECT_EQ(code(cfg, l.h, l.w.data()), invalid);
  cfg = {};
  cfg.block_size = 0;
  EXPECT_EQ(code(cfg, l.h, l.w.data()), invalid);
  cfg = {};
  cfg.damp = -1.0f;
  EXPECT_EQ(code(cfg, l.h, l.w.data()), invalid);
  cfg = {};
  EXPECT_EQ(code(cfg, std::vector<float>(10, 1.0f), l.w.data()), invalid);
  std::vector<float> w = l.w;
  w[5] = NAN;
  EXPECT_EQ(code(cfg, l.h, w.data()), invalid);
  std::vector<float> h = l.h;
  h[3] = INFINITY;
  EXPECT_EQ(code(cfg, h, l.w.data()), invalid);
  EXPECT_EQ(gptq_quantize(l.w.data(), 4, 64, l.h, cfg, nullptr).code(), invalid);
  EXPECT_EQ(rtn_quantize(l.w.data(), 0, 64, cfg, &res).code(), invalid);
}

}  // namespace
}  // namespace ingot::compiler
