// The CUDA backend end to end on stories260K: greedy generations on --backend cuda equal the
// CPU backend's (f32 weights, and 4-bit/8-bit RTN-quantized GPTQ-layout weights), and the first
// 24 greedy ids after BOS are the published float64 ones (shared/models/README.md). Without a
// device the backend's load fails with a message that names CUDA, and the GPU checks skip.
#include <gtest/gtest.h>

#include <cstring>

#include "backend/cuda/cuda_backend.h"
#include "cpu/quant.h"
#include "cuda/device.h"
#include "emit.h"
#include "generate.h"
#include "gptq/gptq.h"
#include "gptq/pack.h"
#include "import/llama2c.h"
#include "import/tokenizer_files.h"
#include "sample_container.h"
#include "shared_assets.h"

namespace ingot::test {
namespace {

const char* kCheckpoint = "models/stories260K/stories260K.bin";

// stories260K as a container; `bits` 0: f32 weights, else RTN-quantized linears, group 32.
std::string compile(const TempDir& dir, uint32_t bits) {
  compiler::SourceModel m;
  EXPECT_TRUE(compiler::import_llama2c(shared_path(kCheckpoint), &m).ok());
  EXPECT_TRUE(compiler::import_tokenizer_file(shared_path("models/stories260K/tok512.model"), &m).ok());
  if (bits != 0) {
    compiler::QuantConfig cfg;
    cfg.bits = bits;
    cfg.group_size = 32;
    for (compiler::SourceTensor& t : m.tensors) {
      if (!compiler::is_linear_weight(t.name)) continue;
      const size_t out = t.shape[0], in = t.shape[1];
      std::vector<float> w(out * in);
      std::memcpy(w.data(), t.bytes.data(), w.size() * 4);
      compiler::QuantResult r;
      EXPECT_TRUE(compiler::rtn_quantize(w.data(), out, in, cfg, &r).ok());
      auto p = std::make_unique<compiler::PackedQuant>();
      EXPECT_TRUE(compiler::pack_result(r, cfg, fb::QuantMethod::RTN, out, in, p.get()).ok());
      t.quant = std::move(p);
    }
  }
  compiler::EmitOptions opt;
  opt.dtype = fb::DType::F32;
  const std::string path = dir.file("stories260K-q" + std::to_string(bits) + ".ingot");
  EXPECT_TRUE(compiler::emit(m, path, opt).ok());
  return path;
}

std::unique_ptr<runtime::Model> load(const std::string& path, runtime::BackendKind backend) {
  runtime::LoadOptions o;
  o.backend = backend;
  std::unique_ptr<runtime::Model> m;
  const format::Status s = runtime::Model::load(path, o, &m);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return m;
}

std::vector<int32_t> greedy(const runtime::Model& m, const std::vector<int32_t>& prompt, int n) {
  runtime::Session session(m);
  std::vector<int32_t> out;
  runtime::GenerateParams p;
  p.n_predict = n;
  p.sampler.temperature = 0;
  const format::Status s = runtime::generate(session, prompt, p, [&](int32_t id, const std::string&) {
    out.push_back(id);
    return true;
  }, nullptr);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return out;
}

TEST(CudaBackend, WithoutADeviceLoadingFailsNamingCuda) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  if (cuda::query_devices().count > 0) GTEST_SKIP() << "a CUDA device is present: the failure path is not reachable";
  TempDir dir;
  const std::string path = compile(dir, 0);
  runtime::LoadOptions o;
  o.backend = runtime::BackendKind::cuda;
  std::unique_ptr<runtime::Model> m;
  const format::Status s = runtime::Model::load(path, o, &m);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("CUDA"), std::string::npos) << s.message();
  EXPECT_EQ(m, nullptr);
}

TEST(CudaBackend, GreedyGenerationsEqualTheCpuBackend) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  const cuda::DeviceInfo info = cuda::query_devices();
  if (info.count == 0) GTEST_SKIP() << "no CUDA device: " << info.reason;
  TempDir dir;
  for (uint32_t bits : {0u, 4u, 8u}) {
    const std::string path = compile(dir, bits);
    auto cpu = load(path, runtime::BackendKind::cpu);
    auto gpu = load(path, runtime::BackendKind::cuda);
    ASSERT_NE(cpu, nullptr);
    ASSERT_NE(gpu, nullptr);
    EXPECT_STREQ(gpu->backend().name(), "cuda");
    for (const char* text : {"Once upon a time", "Lily and Tom"}) {
      const std::vector<int32_t> prompt = runtime::prompt_tokens(*cpu, text);
      EXPECT_EQ(greedy(*gpu, prompt, 100), greedy(*cpu, prompt, 100)) << "bits " << bits << ": " << text;
    }
    if (bits == 0) {
      const std::vector<int32_t> want = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421,
                                         395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292};
      EXPECT_EQ(greedy(*gpu, {1}, 24), want);
    }
    const runtime::UploadStats st = runtime::cuda_upload_stats(gpu->backend());
    EXPECT_GT(st.bytes, size_t{0});
    std::printf("bits %u: %zu weight bytes in %zu tensors uploaded at %.2f GB/s\n", bits, st.bytes, st.tensors,
                st.seconds > 0 ? double(st.bytes) / st.seconds / 1e9 : 0.0);
  }
}

TEST(CudaBackend, KvBudgetBeyondTheDeviceIsAClearError) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  const cuda::DeviceInfo info = cuda::query_devices();
  if (info.count == 0) GTEST_SKIP() << "no CUDA device: " << info.reason;
  TempDir dir;
  runtime::LoadOptions o;
  o.backend = runtime::BackendKind::cuda;
  o.kv_budget_bytes = info.total_memory * 2;  // twice the device
  std::unique_ptr<runtime::Model> m;
  const format::Status s = runtime::Model::load(compile(dir, 0), o, &m);
  EXPECT_EQ(s.code(), format::StatusCode::out_of_memory) << s.to_string();
  EXPECT_NE(s.message().find("KV pages"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace ingot::test
