// The CUDA backend end to end on stories260K: greedy generations on --backend cuda equal the
// CPU backend's (f32 weights, and 4-bit/8-bit RTN-quantized GPTQ-layout weights), and the first
// 24 greedy ids after BOS are the published float64 ones (shared/models/README.md). Without a
// device the backend's load fails with a message that names CUDA, and the GPU checks skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
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
#include "kv/kv_sequence.h"
#include "model/forward.h"
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

// Top-k sampling on the CUDA backend: Session::eval_top's candidates (selected on the device,
// topk.cu) equal the best candidates of the logits the same backend hands over for the same
// tokens (a full sort on the host), step after step; and generate()'s sampled text, which then
// draws from the device's candidates, equals drawing from those logits with the plain sampler.
TEST(CudaBackend, TopKCandidatesEqualTheBestOfTheDevicesLogits) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  const cuda::DeviceInfo info = cuda::query_devices();
  if (info.count == 0) GTEST_SKIP() << "no CUDA device: " << info.reason;
  TempDir dir;
  auto gpu = load(compile(dir, 4), runtime::BackendKind::cuda);
  ASSERT_NE(gpu, nullptr);
  const size_t vocab = gpu->dims().vocab;
  const std::vector<int32_t> prompt = runtime::prompt_tokens(*gpu, "Once upon a time");
  runtime::Session a(*gpu), b(*gpu);
  std::vector<float> logits(vocab);
  std::vector<runtime::Candidate> top;
  ASSERT_TRUE(a.eval(prompt, logits.data()).ok());
  ASSERT_TRUE(b.eval_top(prompt, 104, &top).ok());
  for (int step = 0; step < 20; ++step) {
    std::vector<int32_t> order(vocab);
    for (size_t i = 0; i < vocab; ++i) order[i] = int32_t(i);
    std::stable_sort(order.begin(), order.end(), [&](int32_t x, int32_t y) { return logits[x] > logits[y]; });
    ASSERT_EQ(top.size(), 104u);
    for (size_t j = 0; j < 104; ++j) {
      ASSERT_EQ(top[j].id, order[j]) << "step " << step << " place " << j;
      ASSERT_EQ(top[j].logit, logits[size_t(order[j])]);
    }
    const int32_t next = order[size_t(step) % 7];
    ASSERT_TRUE(a.eval({&next, 1}, logits.data()).ok());
    ASSERT_TRUE(b.eval_top({&next, 1}, 104, &top).ok());
  }
  runtime::GenerateParams p;
  p.n_predict = 60;
  p.sampler.temperature = 0.9f;
  p.sampler.top_k = 40;
  p.sampler.repeat_penalty = 1.2f;
  p.sampler.repeat_last_n = 64;
  p.sampler.seed = 7;
  runtime::Session g(*gpu), plain(*gpu);
  std::vector<int32_t> got, want, history = prompt;
  ASSERT_TRUE(runtime::generate(g, prompt, p, [&](int32_t id, const std::string&) {
                got.push_back(id);
                return true;
              }, nullptr).ok());
  runtime::Sampler sampler(p.sampler);
  ASSERT_TRUE(plain.eval(prompt, logits.data()).ok());
  for (int i = 0; i < p.n_predict; ++i) {
    const int32_t next = sampler.sample(logits, history);
    if (gpu->is_eos(next)) break;
    want.push_back(next);
    history.push_back(next);
    if (i + 1 < p.n_predict) {
      ASSERT_TRUE(plain.eval({&next, 1}, logits.data()).ok());
    }
  }
  EXPECT_EQ(got, want);
}

// One step of three sequences whose rows are interleaved (so attention gathers and scatters
// them), with a prompt chunk, a sequence that continues after it and single decode tokens, then
// a second step: every wanted row's logits on the CUDA backend equal the CPU backend's within
// f32 rounding (relative to the row's largest |logit|). 4-bit weights, group 32.
TEST(CudaBackend, BatchedStepsWithInterleavedRowsEqualTheCpuBackend) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  const cuda::DeviceInfo info = cuda::query_devices();
  if (info.count == 0) GTEST_SKIP() << "no CUDA device: " << info.reason;
  TempDir dir;
  const std::string path = compile(dir, 4);
  auto cpu = load(path, runtime::BackendKind::cpu);
  auto gpu = load(path, runtime::BackendKind::cuda);
  ASSERT_NE(cpu, nullptr);
  ASSERT_NE(gpu, nullptr);
  const auto run = [](const runtime::Model& m) {
    std::vector<std::unique_ptr<runtime::KvSequence>> own;
    std::vector<runtime::KvSequence*> seqs;
    for (int i = 0; i < 3; ++i) {
      own.push_back(std::make_unique<runtime::KvSequence>(m.kv_pool()));
      seqs.push_back(own.back().get());
    }
    std::vector<float> all, logits;
    runtime::Batch b;
    // Step 1: rows of sequences 0, 1, 2 interleaved; every row of sequence 1 wants logits.
    const int32_t ids[3][5] = {{1, 403, 407, 261, 378}, {1, 298, 315}, {1, 421, 395, 317}};
    const size_t len[3] = {5, 3, 4};
    for (size_t t = 0; t < 5; ++t) {
      for (size_t s = 0; s < 3; ++s) {
        if (t < len[s]) b.add(ids[s][t], s, t, s == 1 || t + 1 == len[s]);
      }
    }
    EXPECT_TRUE(runtime::forward(m, seqs, b, &logits).ok());
    all.insert(all.end(), logits.begin(), logits.end());
    // Step 2: one decode token each, in another order.
    b.clear();
    b.add(286, 2, 4, true);
    b.add(261, 0, 5, true);
    b.add(376, 1, 3, true);
    EXPECT_TRUE(runtime::forward(m, seqs, b, &logits).ok());
    all.insert(all.end(), logits.begin(), logits.end());
    return all;
  };
  const std::vector<float> want = run(*cpu), got = run(*gpu);
  ASSERT_EQ(got.size(), want.size());
  const size_t vocab = cpu->dims().vocab;
  ASSERT_EQ(want.size() % vocab, 0u);
  for (size_t r = 0; r < want.size() / vocab; ++r) {
    float big = 0, worst = 0;
    for (size_t i = 0; i < vocab; ++i) big = std::max(big, std::fabs(want[r * vocab + i]));
    for (size_t i = 0; i < vocab; ++i) worst = std::max(worst, std::fabs(got[r * vocab + i] - want[r * vocab + i]));
    EXPECT_LE(worst, 1e-3f * big) << "row " << r;
  }
}

// Decode steps captured as CUDA graphs give the ungraphed steps' logits bit for bit (the same
// kernels with the same arguments): three sequences, a prompt step, then 24 greedy decode steps,
// which cross page boundaries (new page tables) and change the attention splits; every decode
// step is launched as a graph, none fails, and the graphs are mostly updated, not instantiated.
TEST(CudaBackend, GraphedStepsEqualUngraphedSteps) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  const cuda::DeviceInfo info = cuda::query_devices();
  if (info.count == 0) GTEST_SKIP() << "no CUDA device: " << info.reason;
  TempDir dir;
  const std::string path = compile(dir, 4);
  const auto run = [&](bool graphs, runtime::GraphStats* stats) {
    setenv("INGOT_CUDA_GRAPHS", graphs ? "1" : "0", 1);
    auto m = load(path, runtime::BackendKind::cuda);
    unsetenv("INGOT_CUDA_GRAPHS");
    std::vector<float> all;
    if (m == nullptr) return all;
    std::vector<std::unique_ptr<runtime::KvSequence>> own;
    std::vector<runtime::KvSequence*> seqs;
    for (int i = 0; i < 3; ++i) {
      own.push_back(std::make_unique<runtime::KvSequence>(m->kv_pool()));
      seqs.push_back(own.back().get());
    }
    const size_t vocab = m->dims().vocab;
    runtime::Batch b;
    const int32_t ids[3][5] = {{1, 403, 407, 261, 378}, {1, 298, 315}, {1, 421, 395, 317}};
    size_t at[3] = {5, 3, 4};
    for (size_t s = 0; s < 3; ++s) {
      for (size_t t = 0; t < at[s]; ++t) b.add(ids[s][t], s, t, t + 1 == at[s]);
    }
    std::vector<float> logits;
    EXPECT_TRUE(runtime::forward(*m, seqs, b, &logits).ok());
    for (int step = 0; step < 24; ++step) {
      all.insert(all.end(), logits.begin(), logits.end());
      b.clear();
      for (size_t s = 0; s < 3; ++s) {
        const float* row = logits.data() + s * vocab;
        b.add(int32_t(std::max_element(row, row + vocab) - row), s, at[s]++, true);
      }
      EXPECT_TRUE(runtime::forward(*m, seqs, b, &logits).ok());
    }
    all.insert(all.end(), logits.begin(), logits.end());
    *stats = runtime::cuda_graph_stats(m->backend());
    return all;
  };
  runtime::GraphStats off, on;
  const std::vector<float> want = run(false, &off), got = run(true, &on);
  ASSERT_FALSE(want.empty());
  ASSERT_EQ(got.size(), want.size());
  size_t first_diff = 0;
  while (first_diff < want.size() && got[first_diff] == want[first_diff]) ++first_diff;
  EXPECT_EQ(first_diff, want.size()) << "first difference at float " << first_diff << " (row "
                                     << first_diff / 512 << " of stories260K's 512 logits)";
  EXPECT_EQ(off.launches, 0u);
  EXPECT_EQ(on.launches, 24u);
  EXPECT_EQ(on.failures, 0u);
  EXPECT_EQ(on.updates + on.instantiations, 24u);
  std::printf("graphs: %zu launches, %zu updates, %zu instantiations, %zu failures\n", on.launches, on.updates,
              on.instantiations, on.failures);
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
