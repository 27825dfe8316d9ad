// Decode (one token) matrix-vector speed: 4-bit GPTQ g128 quant_matmul against the f16 matmul of
// the same LLaMA-7B layer shapes, on one thread and on all threads. Figures are bytes of weight
// read per second (qweight + scales + zeros for the quantized weight; the f16 matrix otherwise).
//
//   quant-matvec [seconds per measurement, default 1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "cpu/convert.h"
#include "cpu/matmul.h"
#include "cpu/quant.h"
#include "cpu/simd.h"
#include "cpu/threads.h"

using namespace ingot;

namespace {

// Best time of repeated calls of f (seconds), after one warm-up call, over about `budget` seconds.
template <typename F>
double best_time(F&& f, double budget) {
  using clock = std::chrono::steady_clock;
  f();
  double best = 1e30, total = 0;
  for (int i = 0; total < budget || i < 5; ++i) {
    const auto t0 = clock::now();
    f();
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    best = std::min(best, dt);
    total += dt;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const double budget = argc > 1 ? std::atof(argv[1]) : 1.0;
  const uint32_t bits = 4;
  const int32_t group = 128;
  std::mt19937 rng(1);
  std::printf("avx2 %s, %d threads available\n", cpu::simd::has_avx2() ? "on" : "off", (cpu::set_threads(0), cpu::threads()));
  std::printf("%-14s %7s %9s %9s %9s %9s %7s\n", "shape (out,in)", "threads", "q4 us", "q4 GB/s", "f16 us", "f16 GB/s",
              "speedup");
  for (auto [rows, cols] : {std::pair<size_t, size_t>{4096, 4096}, {11008, 4096}}) {
    std::uniform_int_distribution<int> val(0, 15);
    std::normal_distribution<float> d;
    const size_t n_groups = cpu::quant_n_groups(cols, group);
    std::vector<uint8_t> q(rows * cols), z(n_groups * rows);
    for (auto& v : q) v = uint8_t(val(rng));
    for (auto& v : z) v = uint8_t(val(rng));
    std::vector<uint32_t> qweight, zeros;
    if (!cpu::pack_gptq(q.data(), rows, cols, bits, &qweight).ok() ||
        !cpu::pack_zeros(z.data(), n_groups, rows, bits, &zeros).ok()) {
      return 1;
    }
    std::vector<uint16_t> scales(n_groups * rows), half(rows * cols);
    for (auto& s : scales) s = cpu::f32_to_f16(0.01f + 0.001f * d(rng));
    for (auto& h : half) h = cpu::f32_to_f16(0.02f * d(rng));
    std::vector<float> x(cols), y(rows);
    for (auto& v : x) v = d(rng);
    const cpu::QuantView qv{qweight.data(), scales.data(), zeros.data(), nullptr, bits, group, rows, cols};
    const cpu::WeightView fv{half.data(), fb::DType::F16, rows, cols};
    const double q_bytes = double(qweight.size() * 4 + scales.size() * 2 + zeros.size() * 4);
    const double f_bytes = double(half.size() * 2);
    for (int threads : {1, 0}) {
      cpu::set_threads(threads);
      const double tq = best_time([&] { cpu::quant_matmul(x.data(), 1, qv, y.data()); }, budget);
      const double tf = best_time([&] { cpu::matmul(x.data(), 1, fv, y.data()); }, budget);
      std::printf("%5zux%-8zu %7d %9.1f %9.2f %9.1f %9.2f %6.2fx\n", rows, cols, cpu::threads(), tq * 1e6,
                  q_bytes / tq * 1e-9, tf * 1e6, f_bytes / tf * 1e-9, tf / tq);
    }
  }
  return 0;
}
