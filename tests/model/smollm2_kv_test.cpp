// f16 KV pages against f32 KV pages on SmolLM2-135M-Instruct (issue 15): the shared Q4_1 GGUF
// imported as a user imports it (`ingotc build ... --method none`: dequantized, matrices stored
// f16), then the GPTQ-paper perplexity protocol (runtime::perplexity) on a slice of the WikiText-2
// test text: the first 4 windows of 512 tokens (4 × 511 = 2044 scored tokens). With f16
// pages the perplexity must be within 0.1% of f32 pages. About a minute on 2 cores: label slow.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "generate.h"
#include "model/model.h"
#include "run_command.h"
#include "sample_container.h"
#include "shared_assets.h"

namespace ingot::test {
namespace {

constexpr const char* kGguf = "models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
constexpr const char* kText = "data/wikitext-2-raw-v1/test.txt";
constexpr size_t kCtx = 512, kChunks = 4;

TEST(SmolLM2KvPages, F16PagesPerplexityWithinAThousandthOfF32) {
  INGOT_REQUIRE_SHARED(kGguf);
  INGOT_REQUIRE_SHARED(kText);
  TempDir dir;
  const std::string model_path = dir.file("smol.ingot");
  const CommandResult build =
      run_command(std::string(INGOTC_BIN) + " build " + shared_path(kGguf) + " --method none -o " + model_path + " 2>&1");
  ASSERT_EQ(build.exit_code, 0) << build.out;

  const auto load = [&](runtime::KvDtype dtype) {
    runtime::LoadOptions o;
    o.kv_dtype = dtype;
    std::unique_ptr<runtime::Model> m;
    const format::Status s = runtime::Model::load(model_path, o, &m);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return m;
  };
  auto f16 = load(runtime::KvDtype::f16), f32 = load(runtime::KvDtype::f32);
  ASSERT_TRUE(f16 && f32);

  // The first 40,000 bytes of the text cut at a line end: more than the 2048 tokens needed.
  std::ifstream in(shared_path(kText), std::ios::binary);
  std::stringstream whole;
  whole << in.rdbuf();
  std::string text = whole.str().substr(0, 40000);
  text.resize(text.rfind('\n') + 1);
  const std::vector<int32_t> tokens = runtime::prompt_tokens(*f32, text);
  ASSERT_GE(tokens.size(), kCtx * kChunks);

  runtime::PerplexityResult a, b;
  ASSERT_TRUE(runtime::perplexity(*f16, tokens, kCtx, kChunks, nullptr, &a).ok());
  ASSERT_TRUE(runtime::perplexity(*f32, tokens, kCtx, kChunks, nullptr, &b).ok());
  EXPECT_EQ(a.n_scored, kChunks * (kCtx - 1));
  EXPECT_EQ(b.n_scored, kChunks * (kCtx - 1));
  std::printf("[ measured ] SmolLM2-135M ppl, %zu windows of %zu (WikiText-2 test): f16 pages %.6f, f32 pages %.6f "
              "(ratio %.7f)\n",
              kChunks, kCtx, a.ppl, b.ppl, a.ppl / b.ppl);
  EXPECT_GT(b.ppl, 1.0);
  EXPECT_LT(b.ppl, 100.0) << "not a working model";
  EXPECT_NEAR(a.ppl / b.ppl, 1.0, 1e-3) << "f16 " << a.ppl << " f32 " << b.ppl;
  EXPECT_NE(a.ppl, b.ppl) << "f16 pages round the cache; equal perplexities would mean they are not used";
}

}  // namespace
}  // namespace ingot::test
