// gptq-speed: GPTQ cost on LLaMA-7B-shaped layers (in = 4096; out = 4096 and 11008).
//   Hessian accumulation (HessianAccumulator::add, ssyrk) next to a plain sgemm XᵀX of the same
//   size, then gptq_quantize (and rtn_quantize) per weight matrix.
// Usage: gptq-speed [tokens=2048] [in=4096]. Inputs are random and correlated (Z · A); the times
// do not depend on the values. The Hessian is projected to 128 × 2048 calibration tokens.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "gptq/gptq.h"
#include "gptq/hessian.h"

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

std::vector<float> random_normal(size_t n, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t tokens = argc > 1 ? size_t(std::strtoull(argv[1], nullptr, 10)) : 2048;
  const size_t in = argc > 2 ? size_t(std::strtoull(argv[2], nullptr, 10)) : 4096;
  const size_t projected_tokens = 128 * 2048;
  const size_t batch = 512;  // tokens per add(), as calibration feeds them
  std::printf("gptq-speed: in %zu, %zu tokens (batches of %zu), OpenMP threads %d, OpenBLAS threads %d\n", in, tokens,
              batch, omp_get_max_threads(), openblas_get_num_threads());

  // X (tokens, in) = Z (tokens, in) · A (in, in) with A = I + N(0, 1/in): correlated inputs.
  std::vector<float> x(tokens * in);
  {
    const std::vector<float> z = random_normal(tokens * in, 1, 1.0f);
    std::vector<float> a = random_normal(in * in, 2, 1.0f / std::sqrt(float(in)));
    for (size_t i = 0; i < in; ++i) a[i * in + i] += 1.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(tokens), int(in), int(in), 1.0f, z.data(), int(in),
                a.data(), int(in), 0.0f, x.data(), int(in));
  }

  // Hessian: ssyrk on the upper triangle (T · in · (in + 1) flops) vs a full sgemm XᵀX (2 · T · in²).
  ingot::compiler::HessianAccumulator acc(in);
  auto t0 = clock_type::now();
  for (size_t t = 0; t < tokens; t += batch) acc.add(x.data() + t * in, std::min(batch, tokens - t));
  std::vector<float> h = acc.finish();
  const double t_syrk = seconds_since(t0);
  std::vector<float> g(in * in);
  t0 = clock_type::now();
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(in), int(in), int(tokens), 1.0f, x.data(), int(in),
              x.data(), int(in), 0.0f, g.data(), int(in));
  const double t_gemm = seconds_since(t0);
  const double f_syrk = double(tokens) * double(in) * double(in + 1), f_gemm = 2.0 * double(tokens) * double(in) * double(in);
  const double proj = double(projected_tokens) / double(tokens);
  std::printf("\n%-28s %10s %10s %12s %16s\n", "Hessian (in x in)", "time s", "GFLOP", "GFLOP/s", "128x2048 tok, s");
  std::printf("%-28s %10.3f %10.1f %12.1f %16.1f\n", "HessianAccumulator (ssyrk)", t_syrk, f_syrk * 1e-9,
              f_syrk * 1e-9 / t_syrk, t_syrk * proj);
  std::printf("%-28s %10.3f %10.1f %12.1f %16.1f\n", "plain sgemm X^T X", t_gemm, f_gemm * 1e-9,
              f_gemm * 1e-9 / t_gemm, t_gemm * proj);
  std::printf("(ssyrk computes half the products: same result in %.2fx the sgemm time)\n", t_syrk / t_gemm);

  std::printf("\n%-28s %10s %10s %12s %10s\n", "quantize (4 bit, g128)", "GPTQ s", "RTN s", "GPTQ loss", "raises");
  for (size_t out : {size_t(4096), size_t(11008)}) {
    const std::vector<float> w = random_normal(out * in, 3 + out, 0.02f);
    ingot::compiler::QuantConfig cfg;  // 4 bits, group 128, sym, act-order, damp 0.01, block 128
    ingot::compiler::QuantResult res, rtn;
    t0 = clock_type::now();
    const auto st = ingot::compiler::gptq_quantize(w.data(), out, in, h, cfg, &res);
    const double t_gptq = seconds_since(t0);
    if (!st.ok()) {
      std::fprintf(stderr, "gptq_quantize: %s\n", st.to_string().c_str());
      return 1;
    }
    t0 = clock_type::now();
    if (!ingot::compiler::rtn_quantize(w.data(), out, in, cfg, &rtn).ok()) return 1;
    const double t_rtn = seconds_since(t0);
    char name[64];
    std::snprintf(name, sizeof name, "W (%zu, %zu)", out, in);
    std::printf("%-28s %10.2f %10.3f %12.4g %10d\n", name, t_gptq, t_rtn, res.loss, res.damp_raises);
  }
  return 0;
}
