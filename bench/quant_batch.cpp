// The arithmetic rate of the 4-bit decode kernel by batch size: quant_matmul of n rows on a
// TinyLlama-1.1B FFN shape (5632, 2048), g128, one thread, best of 30 back-to-back calls on the
// same 5.8 MB of codes (so mostly from the last-level cache). For `ingot bench --batch`, beside
// the weight-streaming limit: the multiply rate of the kernel itself.
//   quant-batch
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "cpu/convert.h"
#include "cpu/quant.h"
#include "cpu/threads.h"

using namespace ingot;

int main() {
  const size_t rows = 5632, cols = 2048;
  const uint32_t bits = 4;
  const int32_t group = 128;
  std::mt19937 rng(1);
  std::vector<uint32_t> qweight(cols * bits / 32 * rows);
  for (uint32_t& w : qweight) w = uint32_t(rng());
  std::vector<uint16_t> scales(cols / size_t(group) * rows, cpu::f32_to_f16(0.01f));
  const cpu::QuantView qv{qweight.data(), scales.data(), nullptr, nullptr, bits, group, rows, cols};
  cpu::set_threads(1);
  std::printf("quant_matmul 4-bit g128 (%zu, %zu), 1 thread, best of 30\n%4s %10s %12s %14s\n", rows, cols, "n",
              "us", "us_per_row", "gmac_per_s");
  for (size_t n : {1, 2, 4, 8, 16, 17}) {
    std::vector<float> x(n * cols, 0.5f), y(n * rows);
    double best = 1e30;
    for (int r = 0; r < 30; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      cpu::quant_matmul(x.data(), n, qv, y.data());
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("%4zu %10.1f %12.1f %14.2f\n", n, best * 1e6, best * 1e6 / double(n),
                double(n * rows * cols) / best * 1e-9);
  }
  return 0;
}
