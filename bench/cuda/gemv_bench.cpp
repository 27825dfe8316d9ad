// CUDA GEMV speed at the synthetic LLaMA-2-7B shape (dim 4096, ffn 11008, 4-bit g128, GPTQ
// layout): all seven linears of L layers in decode order (q, k, v, o, gate, up, down), L chosen
// so the weights are many times the L2, for batch 1..16; beside it, in the same run, a
// device-to-device copy (bytes read + written) and cuBLAS's f16 GEMV of the same shapes (loaded
// with dlopen: reported as missing when the machine has no libcublas). Times are CUDA-event
// medians of --repeats sweeps after warm-up.
//   cuda-gemv-bench [--layers 8] [--repeats 20] [--batches 1,2,4,8,16]
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda/ops.h"

namespace {

#define CHECK(expr)                                                                                \
  do {                                                                                             \
    const cudaError_t e_ = (expr);                                                                 \
    if (e_ != cudaSuccess) {                                                                       \
      std::fprintf(stderr, "cuda-gemv-bench: %s: %s\n", #expr, cudaGetErrorString(e_));           \
      std::exit(1);                                                                                \
    }                                                                                              \
  } while (0)

struct Shape {
  const char* name;
  uint32_t out, in;
};
const Shape kShapes[] = {{"wq", 4096, 4096},  {"wk", 4096, 4096},  {"wv", 4096, 4096}, {"wo", 4096, 4096},
                         {"w1", 11008, 4096}, {"w3", 11008, 4096}, {"w2", 4096, 11008}};

void* dev_random(size_t bytes, std::mt19937& rng) {
  std::vector<uint32_t> h((bytes + 3) / 4);
  for (auto& w : h) w = rng();
  void* d = nullptr;
  CHECK(cudaMalloc(&d, h.size() * 4));
  CHECK(cudaMemcpy(d, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
  return d;
}

// f16 values in [-1, 1) (random bits would hold NaNs and infinities).
void* dev_random_f16(size_t count, std::mt19937& rng) {
  std::vector<uint16_t> h(count);
  for (auto& v : h) v = uint16_t(0x3800 | (rng() & 0x3ff)) ^ uint16_t(rng() & 0x8000);  // ±[0.5, 1)
  void* d = nullptr;
  CHECK(cudaMalloc(&d, count * 2));
  CHECK(cudaMemcpy(d, h.data(), count * 2, cudaMemcpyHostToDevice));
  return d;
}

template <typename F>
double median_ms(int repeats, F&& body) {
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) body();  // warm-up
  std::vector<float> ms;
  for (int r = 0; r < repeats; ++r) {
    CHECK(cudaEventRecord(a));
    body();
    CHECK(cudaEventRecord(b));
    CHECK(cudaEventSynchronize(b));
    float t = 0;
    CHECK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return ms[ms.size() / 2];
}

// cuBLAS's cublasGemmEx through dlopen, so the benchmark neither links nor carries libcublas.
struct Cublas {
  using Create = int (*)(void**);
  using GemmEx = int (*)(void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int,
                         const void*, void*, int, int, int, int);
  void* handle = nullptr;
  GemmEx gemm = nullptr;
  bool load() {
    for (const char* lib : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) {
      void* so = dlopen(lib, RTLD_NOW);
      if (so == nullptr) continue;
      auto create = reinterpret_cast<Create>(dlsym(so, "cublasCreate_v2"));
      gemm = reinterpret_cast<GemmEx>(dlsym(so, "cublasGemmEx"));
      if (create != nullptr && gemm != nullptr && create(&handle) == 0) return true;
    }
    return false;
  }
};

}  // namespace

int main(int argc, char** argv) {
  int layers = 8, repeats = 20;
  std::vector<uint32_t> batches = {1, 2, 4, 8, 16};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--layers") layers = std::atoi(argv[i + 1]);
    else if (a == "--repeats") repeats = std::atoi(argv[i + 1]);
    else if (a == "--batches") {
      batches.clear();
      for (char* t = std::strtok(argv[i + 1], ","); t != nullptr; t = std::strtok(nullptr, ",")) batches.push_back(uint32_t(std::atoi(t)));
    } else {
      std::fprintf(stderr, "cuda-gemv-bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::fprintf(stderr, "cuda-gemv-bench: no CUDA device\n");
    return 77;
  }
  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, 0));
  const uint32_t n_sm = uint32_t(prop.multiProcessorCount);
  std::printf("device: %s, %u SMs, L2 %d MB, %.1f GB\n", prop.name, n_sm, prop.l2CacheSize >> 20,
              double(prop.totalGlobalMem) / 1e9);

  // 1. Copy bandwidth: 2 GB device to device, bytes read + written.
  const size_t copy_bytes = size_t(1) << 31;
  void *src = nullptr, *dst = nullptr;
  CHECK(cudaMalloc(&src, copy_bytes));
  CHECK(cudaMalloc(&dst, copy_bytes));
  CHECK(cudaMemset(src, 0x5a, copy_bytes));
  const double copy_ms = median_ms(repeats, [&] { CHECK(cudaMemcpyAsync(dst, src, copy_bytes, cudaMemcpyDeviceToDevice)); });
  const double copy_gbs = 2.0 * double(copy_bytes) / (copy_ms * 1e-3) / 1e9;
  std::printf("copy: %.3f ms for 2 x %.2f GB: %.0f GB/s\n", copy_ms, double(copy_bytes) / 1e9, copy_gbs);
  CHECK(cudaFree(src));
  CHECK(cudaFree(dst));

  // 2. The b-bit g128 linears of `layers` layers (4-bit: the goal's; 3- and 8-bit: bytes per
  // second against it, at batch 1).
  std::mt19937 rng(1);
  struct Lin {
    ingot::cuda::QuantWeight w;
    size_t bytes;
  };
  const auto make_lins = [&](uint32_t bits, int n_layers, size_t* total) {
    std::vector<Lin> out;
    *total = 0;
    for (int l = 0; l < n_layers; ++l) {
      for (const Shape& s : kShapes) {
        const size_t qbytes = size_t((s.in * bits + 31) / 32) * s.out * 4, groups = s.in / 128,
                     sbytes = groups * s.out * 2;
        ingot::cuda::QuantWeight w{};
        w.qweight = static_cast<const uint32_t*>(dev_random(qbytes, rng));
        w.scales = static_cast<const uint16_t*>(dev_random_f16(groups * s.out, rng));
        w.zeros = nullptr;
        w.g_idx = nullptr;
        w.bits = bits;
        w.group_size = 128;
        w.out = s.out;
        w.in = s.in;
        out.push_back({w, qbytes + sbytes});
        *total += qbytes + sbytes;
      }
    }
    return out;
  };
  size_t weight_bytes = 0;
  const std::vector<Lin> lins = make_lins(4, layers, &weight_bytes);
  const uint32_t max_n = *std::max_element(batches.begin(), batches.end());
  float *x = nullptr, *y = nullptr, *ws = nullptr;
  size_t ws_floats = 1;
  for (const Lin& l : lins) ws_floats = std::max(ws_floats, ingot::cuda::quant_gemv_workspace_floats(l.w, max_n, n_sm));
  CHECK(cudaMalloc(&x, size_t(max_n) * 11008 * 4));
  CHECK(cudaMalloc(&y, size_t(max_n) * 11008 * 4));
  CHECK(cudaMalloc(&ws, ws_floats * 4));
  CHECK(cudaMemset(x, 0, size_t(max_n) * 11008 * 4));  // x's values do not change the speed of a GEMV
  std::printf("4-bit g128 weights: %d layers, %.2f GB (L2 x %.0f)\n", layers, double(weight_bytes) / 1e9,
              double(weight_bytes) / double(prop.l2CacheSize));
  std::printf("%-6s %12s %12s %14s\n", "batch", "sweep ms", "GB/s", "vs copy");
  for (uint32_t n : batches) {
    const double ms = median_ms(repeats, [&] {
      for (const Lin& l : lins) CHECK(ingot::cuda::quant_gemv(l.w, x, n, y, ws, n_sm, nullptr));
    });
    const double gbs = double(weight_bytes) / (ms * 1e-3) / 1e9;
    std::printf("q4 n=%-3u %10.3f %12.0f %13.1f%%\n", n, ms, gbs, 100.0 * gbs / copy_gbs);
  }

  // 2b. 3- and 8-bit at batch 1: GB/s of their own bytes, beside the 4-bit rows.
  for (uint32_t bits : {3u, 8u}) {
    size_t bytes = 0;
    const std::vector<Lin> other = make_lins(bits, layers, &bytes);
    size_t need = 1;
    for (const Lin& l : other) need = std::max(need, ingot::cuda::quant_gemv_workspace_floats(l.w, 1, n_sm));
    if (need > ws_floats) {
      std::printf("q%u: workspace larger than the 4-bit one (not measured)\n", bits);
      continue;
    }
    const double ms = median_ms(repeats, [&] {
      for (const Lin& l : other) CHECK(ingot::cuda::quant_gemv(l.w, x, 1, y, ws, n_sm, nullptr));
    });
    const double gbs = double(bytes) / (ms * 1e-3) / 1e9;
    std::printf("q%u n=1   %10.3f %12.0f %13.1f%% (%.2f GB)\n", bits, ms, gbs, 100.0 * gbs / copy_gbs, double(bytes) / 1e9);
  }

  // 2c. Prefill: the tensor-core product (quant_gemm) of 512 tokens through the 4-bit linears.
  {
    const uint32_t n = 512;
    float *xp = nullptr, *yp = nullptr;
    CHECK(cudaMalloc(&xp, size_t(n) * 11008 * 4));
    CHECK(cudaMalloc(&yp, size_t(n) * 11008 * 4));
    CHECK(cudaMemset(xp, 0, size_t(n) * 11008 * 4));
    double flops = 0;
    for (const Lin& l : lins) flops += 2.0 * n * l.w.out * l.w.in;
    const double ms = median_ms(repeats, [&] {
      for (const Lin& l : lins) CHECK(ingot::cuda::quant_gemm(l.w, xp, n, yp, nullptr));
    });
    std::printf("q4 gemm n=%u: %.3f ms, %.1f TFLOP/s (tensor cores, f16 in, f32 accumulate)\n", n, ms,
                flops / (ms * 1e-3) / 1e12);
    CHECK(cudaFree(xp));
    CHECK(cudaFree(yp));
  }

  // 3. cuBLAS f16 GEMV of the same shapes (one layer's f16 weights, rotated over 4 copies).
  Cublas cb;
  if (!cb.load()) {
    std::printf("cublas f16: libcublas not found on this machine (not measured)\n");
  } else {
    std::vector<void*> f16w;
    size_t f16_bytes = 0;
    for (int c = 0; c < 4; ++c) {
      for (const Shape& s : kShapes) {
        f16w.push_back(dev_random_f16(size_t(s.out) * s.in, rng));
        f16_bytes += size_t(s.out) * s.in * 2;
      }
    }
    void* xh = dev_random_f16(size_t(max_n) * 11008, rng);
    void* yh = nullptr;
    CHECK(cudaMalloc(&yh, size_t(max_n) * 11008 * 2));
    const float alpha = 1, beta = 0;
    for (uint32_t n : batches) {
      int status = 0;
      const double ms = median_ms(repeats, [&] {
        for (size_t i = 0; i < f16w.size(); ++i) {
          const Shape& s = kShapes[i % 7];
          // y (n, out) = x (n, in) · Wᵀ: column-major, C (out × n) = Wᵀ(out × in as the transposed
          // row-major W) · X (in × n). CUBLAS_OP_T = 1, CUDA_R_16F = 2, CUBLAS_COMPUTE_32F = 68,
          // CUBLAS_GEMM_DEFAULT = -1.
          status |= cb.gemm(cb.handle, 1, 0, int(s.out), int(n), int(s.in), &alpha, f16w[i], 2, int(s.in), xh, 2,
                            int(s.in), &beta, yh, 2, int(s.out), 68, -1);
        }
      });
      const double gbs = double(f16_bytes) / (ms * 1e-3) / 1e9;
      std::printf("cublas f16 n=%-3u %8.3f ms %8.0f GB/s %6.1f%% of copy; 4-bit at the same n is %s%s\n", n, ms, gbs,
                  100.0 * gbs / copy_gbs, "in the q4 rows above", status != 0 ? " (a cuBLAS call failed)" : "");
    }
  }
  // The decode limit: one token reads every weight once; 32 layers of these linears.
  const double per_token_gb = double(weight_bytes) / layers * 32 / 1e9;
  std::printf("weight-streaming limit, 32 layers (%.2f GB of linears a token): %.0f tokens/s at copy bandwidth\n",
              per_token_gb, copy_gbs / per_token_gb);
  return 0;
}
