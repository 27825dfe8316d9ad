// Test data and float64 references shared by the GPTQ tests (gptq_test.cpp: the paper's
// algorithm; gptq_options_test.cpp: the options past it): random layers with correlated inputs,
// and the unblocked GPTQ of the paper's Algorithm 1 (Cholesky of H⁻¹, one column at a time, each
// error propagated to every later column at once) with the group / act-order / static-group rules
// of the reference code, plus the grid searches of quant.py and GPTAQ's per-column update.
//
// Ties: near a rounding boundary (x/scale within kTieWindow of k + ½) the implementation and
// this reference may round differently, after which the two runs follow different (equally
// valid) paths. The reference then adopts the integer the implementation chose, counts it as a
// tie, and goes on; any other difference is a hard mismatch.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "gptq/gptq.h"
#include "gptq/hessian.h"

namespace ingot::compiler::gptq_ref {

constexpr double kTieWindow = 2e-3;  // in units of one quantization step

// ---- test data -----------------------------------------------------------------------------

struct Layer {
  size_t out = 0, in = 0, n_tokens = 0;
  std::vector<float> w;  // (out, in)
  std::vector<float> x;  // (n_tokens, in): Z · A, a few outlier channels, one dead channel
  std::vector<float> h;  // (in, in) from HessianAccumulator
  size_t dead = 0;
};

inline Layer make_layer(size_t out, size_t in, size_t n_tokens, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Layer l;
  l.out = out;
  l.in = in;
  l.n_tokens = n_tokens;
  // Mixing matrix A (in, in): 0.3·I + N(0, 1/in), so inputs are strongly correlated.
  std::vector<double> a(in * in);
  for (size_t i = 0; i < in * in; ++i) a[i] = normal(rng) / std::sqrt(double(in));
  for (size_t i = 0; i < in; ++i) a[i * in + i] += 0.3;
  std::vector<double> z(n_tokens * in);
  for (auto& v : z) v = normal(rng);
  l.x.assign(n_tokens * in, 0.0f);
  for (size_t t = 0; t < n_tokens; ++t)
    for (size_t j = 0; j < in; ++j) {
      double s = 0.0;
      for (size_t k = 0; k < in; ++k) s += z[t * in + k] * a[k * in + j];
      l.x[t * in + j] = float(s);
    }
  // Outlier channels ×20, one dead channel (never nonzero).
  const size_t outliers[] = {1 % in, (in / 2 + 3) % in, in - 2};
  for (size_t t = 0; t < n_tokens; ++t)
    for (size_t c : outliers) l.x[t * in + c] *= 20.0f;
  l.dead = in / 3;
  for (size_t t = 0; t < n_tokens; ++t) l.x[t * in + l.dead] = 0.0f;

  l.w.resize(out * in);
  for (auto& v : l.w) v = float(0.05 * normal(rng));
  for (size_t r = 0; r < out; r += 5) l.w[r * in + (r * 7) % in] *= 8.0f;  // a few large weights

  HessianAccumulator acc(in);  // in three uneven batches, as calibration would
  const size_t b1 = n_tokens / 3, b2 = n_tokens / 2;
  acc.add(l.x.data(), b1);
  acc.add(l.x.data() + b1 * in, b2 - b1);
  acc.add(l.x.data() + b2 * in, n_tokens - b2);
  l.h = acc.finish();
  return l;
}

// ---- float64 references ----------------------------------------------------------------------

struct ParamsD {
  double scale = 1.0, zero = 0.0;
};

inline ParamsD find_params_d(const double* x, size_t n, double maxq, bool sym) {
  double xmin = 0.0, xmax = 0.0;
  for (size_t i = 0; i < n; ++i) {
    xmin = std::min(xmin, x[i]);
    xmax = std::max(xmax, x[i]);
  }
  if (sym) {
    xmax = std::max(-xmin, xmax);
    if (xmin < 0.0) xmin = -xmax;
  }
  if (xmin == 0.0 && xmax == 0.0) {
    xmin = -1.0;
    xmax = 1.0;
  }
  ParamsD p;
  p.scale = (xmax - xmin) / maxq;
  p.zero = sym ? (maxq + 1.0) / 2.0 : std::clamp(std::nearbyint(-xmin / p.scale), 0.0, maxq);
  return p;
}

// The params of one group under c.grid (gptq.h GridSearch), in float64: quant.py find_params with
// mse=True (shrink p = 1 − i/grid for i < ⌊maxshrink·grid⌋; the first strictly smaller error wins),
// the error Σ |w − q|^norm (mse) or Σ hdiag·(w − q)² (hessian). hdiag may be null for minmax/mse.
inline ParamsD choose_params_d(const double* x, size_t n, const double* hdiag, double maxq, const QuantConfig& c) {
  const ParamsD base = find_params_d(x, n, maxq, c.sym);
  if (c.grid == GridSearch::minmax) return base;
  // The range find_params_d started from, recovered from its scale and zero.
  double xmin = 0.0, xmax = 0.0;
  for (size_t i = 0; i < n; ++i) {
    xmin = std::min(xmin, x[i]);
    xmax = std::max(xmax, x[i]);
  }
  if (c.sym) {
    xmax = std::max(-xmin, xmax);
    if (xmin < 0.0) xmin = -xmax;
  }
  if (xmin == 0.0 && xmax == 0.0) xmin = -1.0, xmax = 1.0;
  ParamsD best = base;
  double best_err = INFINITY;
  const int n_try = int(double(c.grid_maxshrink) * double(c.grid_points));
  for (int i = 0; i < n_try; ++i) {
    const double p = 1.0 - double(i) / double(c.grid_points);
    ParamsD cand;
    cand.scale = (p * xmax - p * xmin) / maxq;
    cand.zero = c.sym ? (maxq + 1.0) / 2.0 : std::clamp(std::nearbyint(-(p * xmin) / cand.scale), 0.0, maxq);
    double err = 0.0;
    for (size_t k = 0; k < n; ++k) {
      const double q = std::clamp(std::nearbyint(x[k] / cand.scale) + cand.zero, 0.0, maxq);
      const double d = std::fabs(cand.scale * (q - cand.zero) - x[k]);
      err += c.grid == GridSearch::mse ? std::pow(d, double(c.grid_norm)) : hdiag[k] * d * d;
    }
    if (err < best_err) {
      best_err = err;
      best = cand;
    }
  }
  return best;
}

struct Tally {
  size_t ties = 0;  // differences at a rounding tie (the reference adopted ours)
  size_t hard = 0;  // differences anywhere else
  size_t exact = 0;  // of the ties: k + ½ to 1e-12 in f64 (f32 rounding of the scale decides)
};

// Rounds x with p; at a near-tie where `ours` (if >= 0) picked the other neighbour, takes ours.
inline int quantize_d(double x, const ParamsD& p, double maxq, int ours, Tally* tally) {
  const double t = x / p.scale;
  const double mine = std::clamp(std::nearbyint(t) + p.zero, 0.0, maxq);
  if (ours < 0 || ours == int(mine)) return int(mine);
  // The neighbour mine did not pick (an exact .5 in f64 may be just below .5 in f32: the minimum
  // of a symmetric group sits exactly at -(maxq + 1)/2 + ½ steps).
  const double lo = std::floor(t), frac = t - lo;
  const double other = std::clamp((std::nearbyint(t) == lo ? lo + 1.0 : lo) + p.zero, 0.0, maxq);
  if (std::fabs(frac - 0.5) < kTieWindow && ours == int(other)) {
    ++tally->ties;
    if (std::fabs(frac - 0.5) < 1e-12) ++tally->exact;
    return ours;
  }
  ++tally->hard;
  return int(mine);
}

// Lower Cholesky factor of a symmetric positive definite (n, n) matrix.
inline std::vector<double> cholesky_lower(const std::vector<double>& a, size_t n) {
  std::vector<double> l(n * n, 0.0);
  for (size_t j = 0; j < n; ++j) {
    double s = a[j * n + j];
    for (size_t k = 0; k < j; ++k) s -= l[j * n + k] * l[j * n + k];
    EXPECT_GT(s, 0.0) << "reference Cholesky: not positive definite at " << j;
    const double d = std::sqrt(s);
    l[j * n + j] = d;
    for (size_t i = j + 1; i < n; ++i) {
      double t = a[i * n + j];
      for (size_t k = 0; k < j; ++k) t -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = t / d;
    }
  }
  return l;
}

// Upper U with (H + damp·I)⁻¹ = UᵀU, all in double.
inline std::vector<double> inverse_upper_factor(std::vector<double> h, size_t n, double damp) {
  for (size_t i = 0; i < n; ++i) h[i * n + i] += damp;
  const std::vector<double> l = cholesky_lower(h, n);
  std::vector<double> linv(n * n, 0.0);  // L⁻¹, lower triangular, by forward substitution
  for (size_t j = 0; j < n; ++j) {
    linv[j * n + j] = 1.0 / l[j * n + j];
    for (size_t i = j + 1; i < n; ++i) {
      double s = 0.0;
      for (size_t k = j; k < i; ++k) s -= l[i * n + k] * linv[k * n + j];
      linv[i * n + j] = s / l[i * n + i];
    }
  }
  std::vector<double> hinv(n * n, 0.0);  // H⁻¹ = L⁻ᵀ L⁻¹
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j <= i; ++j) {
      double s = 0.0;
      for (size_t k = i; k < n; ++k) s += linv[k * n + i] * linv[k * n + j];
      hinv[i * n + j] = hinv[j * n + i] = s;
    }
  const std::vector<double> l2 = cholesky_lower(hinv, n);
  std::vector<double> u(n * n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i; j < n; ++j) u[i * n + j] = l2[j * n + i];
  return u;
}

inline std::vector<int32_t> act_order_perm(const std::vector<double>& h, size_t in) {
  std::vector<int32_t> perm(in);
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(),
                   [&](int32_t a, int32_t b) { return h[size_t(a) * in + a] > h[size_t(b) * in + b]; });
  return perm;
}

struct Reference {
  std::vector<int> q;         // (out, in), original order
  std::vector<double> deq;    // (out, in)
  std::vector<double> scale;  // (n_groups, out)
  std::vector<int> zero;      // (n_groups, out)
  std::vector<int32_t> g_idx;
  std::vector<int32_t> perm;
  double loss = 0.0;
  Tally tally;
};

// Algorithm 1, unblocked, f64. `ours` supplies tie decisions (see the file comment).
// Algorithm 1, unblocked, f64, with the options of c (grid, static groups). `ours` supplies tie
// decisions (see the file comment). dxxt (in, in), original column order: GPTAQ with
// α = c.gptaq_alpha — P = α · triu₁(D·Uᵀ)·U from the permuted D (dead columns zeroed), and every
// column's update w[k] −= e·U[j][k] − x·P[j][k] for k > j, x the column's value before rounding
// (arXiv 2504.02692; the authors' per-column rule, gptaq_utils.py). c.foem_beta = β > 0: FOEM
// (arXiv 2507.11017 v2) from its derivation: the layer loss with its first-order term, the
// gradient H·(w − w_fp), minimised under the constraint that column j becomes q, moves every
// remaining weight by −β·(w − w_fp) − H⁻¹e_j·((w_j − q) − β·(w_j − w_fp,j)) / [H⁻¹]_jj; as
// GPTQModel's foem.py, the first part is applied to each column once, just before it is rounded,
// and the second is GPTQ's error feedback with that error.
inline Reference reference_gptq(const Layer& l, const QuantConfig& c, double percdamp, const QuantResult& ours,
                                const std::vector<double>* dxxt = nullptr) {
  const size_t out = l.out, in = l.in;
  const double maxq = double((1 << c.bits) - 1);
  const bool grouped = c.group_size != -1, stat = grouped && c.static_groups;
  const size_t g = grouped ? size_t(c.group_size) : in, n_groups = (in + g - 1) / g;
  std::vector<double> w(l.w.begin(), l.w.end());
  std::vector<double> h(l.h.begin(), l.h.end());
  std::vector<ParamsD> params(n_groups * out);
  std::vector<double> hdiag(in);
  for (size_t i = 0; i < in; ++i) hdiag[i] = h[i * in + i];
  if (!grouped)
    for (size_t r = 0; r < out; ++r) params[r] = choose_params_d(&w[r * in], in, hdiag.data(), maxq, c);
  std::vector<bool> dead(in, false);
  for (size_t i = 0; i < in; ++i)
    if (h[i * in + i] == 0.0) {
      dead[i] = true;
      h[i * in + i] = 1.0;
      hdiag[i] = 1.0;
      for (size_t r = 0; r < out; ++r) w[r * in + i] = 0.0;
    }
  if (stat)
    for (size_t k = 0; k < n_groups; ++k)
      for (size_t r = 0; r < out; ++r)
        params[k * out + r] =
            choose_params_d(&w[r * in + k * g], std::min(g, in - k * g), hdiag.data() + k * g, maxq, c);
  Reference ref;
  std::vector<int32_t> perm(in);
  std::iota(perm.begin(), perm.end(), 0);
  if (c.act_order) perm = act_order_perm(h, in);
  std::vector<double> wp(out * in), hp(in * in), hdiag_p(in);
  for (size_t r = 0; r < out; ++r)
    for (size_t i = 0; i < in; ++i) wp[r * in + i] = w[r * in + perm[i]];
  for (size_t i = 0; i < in; ++i) hdiag_p[i] = hdiag[size_t(perm[i])];
  double mean_diag = 0.0;
  for (size_t i = 0; i < in; ++i) mean_diag += h[i * in + i];
  mean_diag /= double(in);
  for (size_t i = 0; i < in; ++i)
    for (size_t j = 0; j < in; ++j) hp[i * in + j] = h[size_t(perm[i]) * in + perm[j]];
  const std::vector<double> u = inverse_upper_factor(hp, in, percdamp * mean_diag);

  std::vector<double> pm;  // GPTAQ's P (in, in), quantization order
  if (dxxt != nullptr) {
    std::vector<double> dp(in * in), a(in * in, 0.0);
    for (size_t i = 0; i < in; ++i)
      for (size_t j = 0; j < in; ++j)
        dp[i * in + j] = dead[size_t(perm[j])] ? 0.0 : (*dxxt)[size_t(perm[i]) * in + size_t(perm[j])];
    for (size_t i = 0; i < in; ++i)
      for (size_t k = i + 1; k < in; ++k) {  // (D·Uᵀ)[i][k], strictly upper part only
        double s = 0.0;
        for (size_t m = k; m < in; ++m) s += dp[i * in + m] * u[k * in + m];  // U[k][m] = 0 for m < k
        a[i * in + k] = s;
      }
    pm.assign(in * in, 0.0);
    for (size_t i = 0; i < in; ++i)
      for (size_t j = i + 1; j < in; ++j) {
        double s = 0.0;
        for (size_t k = i + 1; k <= j; ++k) s += a[i * in + k] * u[k * in + j];
        pm[i * in + j] = double(c.gptaq_alpha) * s;
      }
  }

  const double beta = double(c.foem_beta);
  const std::vector<double> wfp = wp;  // FOEM's full-precision weights, quantization order
  auto group_of = [&](size_t i) -> size_t { return !grouped ? 0 : stat ? size_t(perm[i]) / g : i / g; };
  ref.q.assign(out * in, 0);
  ref.deq.assign(out * in, 0.0);
  ref.g_idx.assign(in, 0);
  for (size_t i = 0; i < in; ++i) ref.g_idx[perm[i]] = int32_t(group_of(i));
  for (size_t r = 0; r < out; ++r) {
    double* wr = &wp[r * in];
    for (size_t j = 0; j < in; ++j) {
      if (beta != 0.0) wr[j] -= beta * (wr[j] - wfp[r * in + j]);
      if (grouped && !stat && j % g == 0)
        params[(j / g) * out + r] = choose_params_d(wr + j, std::min(g, in - j), hdiag_p.data() + j, maxq, c);
      const ParamsD& p = params[group_of(j) * out + r];
      const size_t col = size_t(perm[j]);
      const double x = wr[j];
      const int q = quantize_d(x, p, maxq, ours.q.empty() ? -1 : int(ours.q[r * in + col]), &ref.tally);
      const double dq = p.scale * (double(q) - p.zero);
      const double eq = (x - dq) / u[j * in + j];
      ref.loss += eq * eq / 2.0;
      const double e = ((x - dq) - beta * (x - wfp[r * in + j])) / u[j * in + j];
      for (size_t k = j + 1; k < in; ++k) wr[k] -= e * u[j * in + k];  // all later columns at once
      if (!pm.empty())
        for (size_t k = j + 1; k < in; ++k) wr[k] += x * pm[j * in + k];
      ref.q[r * in + col] = q;
      ref.deq[r * in + col] = dq;
    }
  }
  ref.scale.resize(n_groups * out);
  ref.zero.resize(n_groups * out);
  for (size_t k = 0; k < n_groups * out; ++k) {
    ref.scale[k] = params[k].scale;
    ref.zero[k] = int(params[k].zero);
  }
  ref.perm = perm;
  return ref;
}

// ‖X·Wᵀ − X·Qᵀ‖_F in double: the layer's output error on the calibration tokens.
inline double output_error(const Layer& l, const std::vector<float>& q) {
  double sum = 0.0;
  std::vector<double> d(l.in);
  for (size_t r = 0; r < l.out; ++r) {
    for (size_t j = 0; j < l.in; ++j) d[j] = double(l.w[r * l.in + j]) - double(q[r * l.in + j]);
    for (size_t t = 0; t < l.n_tokens; ++t) {
      double s = 0.0;
      for (size_t j = 0; j < l.in; ++j) s += double(l.x[t * l.in + j]) * d[j];
      sum += s * s;
    }
  }
  return std::sqrt(sum);
}

// ½ Σ_rows δ (H + damp·mean(diag H)·I) δᵀ, δ = W (dead columns zeroed) − Q: with the damp GPTQ
// used (the default), what GPTQ's loss equals exactly; with damp 0, the output loss on H itself.
inline double quadratic_loss(const Layer& l, const QuantResult& res, double damp) {
  const size_t in = l.in;
  std::vector<double> h(l.h.begin(), l.h.end());
  std::vector<bool> dead(in, false);
  double mean = 0.0;
  for (size_t i = 0; i < in; ++i) {
    if (h[i * in + i] == 0.0) {
      h[i * in + i] = 1.0;
      dead[i] = true;
    }
    mean += h[i * in + i];
  }
  mean /= double(in);
  for (size_t i = 0; i < in; ++i) h[i * in + i] += damp * mean;
  double total = 0.0;
  std::vector<double> d(in);
  for (size_t r = 0; r < l.out; ++r) {
    for (size_t j = 0; j < in; ++j) d[j] = (dead[j] ? 0.0 : double(l.w[r * in + j])) - res.dequantized[r * in + j];
    for (size_t i = 0; i < in; ++i) {
      double s = 0.0;
      for (size_t j = 0; j < in; ++j) s += h[i * in + j] * d[j];
      total += 0.5 * d[i] * s;
    }
  }
  return total;
}

inline double quadratic_loss(const Layer& l, const QuantResult& res) {
  return quadratic_loss(l, res, double(res.damp_used));
}


}  // namespace ingot::compiler::gptq_ref
