// stories260K end to end: import the llama2.c checkpoint, write a container, load it, and check
// generation and scoring against independent references: the golden ids and greedy texts in
// shared/ (from llama2.c's run.c and a float64 Python forward) and a float64 forward in naive_llama.h.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "emit.h"
#include "generate.h"
#include "import/llama2c.h"
#include "import/tokenizer_files.h"
#include "naive_llama.h"
#include "sample_container.h"
#include "shared_assets.h"

namespace ingot::test {
namespace {

const char* kCheckpoint = "models/stories260K/stories260K.bin";
const char* kTokenizer = "models/stories260K/tok512.model";

// Compiles stories260K into `dir` with the given matrix dtype; returns the container path.
std::string compile(const TempDir& dir, fb::DType dtype, bool with_tokenizer = true) {
  compiler::SourceModel src;
  format::Status s = compiler::import_llama2c(shared_path(kCheckpoint), &src);
  EXPECT_TRUE(s.ok()) << s.to_string();
  if (with_tokenizer) {
    s = compiler::import_tokenizer_file(shared_path(kTokenizer), &src);
    EXPECT_TRUE(s.ok()) << s.to_string();
  }
  compiler::EmitOptions opt;
  opt.dtype = dtype;
  const std::string path = dir.file(std::string("stories260K-") + format::dtype_name(dtype) + ".ingot");
  s = compiler::emit(src, path, opt);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return path;
}

std::unique_ptr<runtime::Model> load(const std::string& path, runtime::KvDtype kv = runtime::KvDtype::f16) {
  std::unique_ptr<runtime::Model> m;
  runtime::LoadOptions o;
  o.verify_checksums = true;
  o.kv_dtype = kv;
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

TEST(Stories260K, GreedyFromBosGivesThePublishedIds) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  TempDir dir;
  auto m = load(compile(dir, fb::DType::F32, /*with_tokenizer=*/false));
  ASSERT_NE(m, nullptr);
  // shared/models/README.md: the first 24 greedy ids after BOS, from a float64 forward pass.
  const std::vector<int32_t> want = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421,
                                     395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292};
  EXPECT_EQ(greedy(*m, {1}, 24), want);
}

TEST(Stories260K, HalfPrecisionWeightsStayCloseToF32) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  TempDir dir;
  auto f32 = load(compile(dir, fb::DType::F32, false));
  for (fb::DType dt : {fb::DType::F16, fb::DType::BF16}) {
    auto m = load(compile(dir, dt, false));
    ASSERT_NE(m, nullptr);
    const std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 432, 383, 286};
    runtime::Session a(*f32), b(*m);
    std::vector<float> la, lb;
    ASSERT_TRUE(a.eval(tokens, nullptr, &la).ok());
    ASSERT_TRUE(b.eval(tokens, nullptr, &lb).ok());
    double num = 0, den = 0;
    for (size_t i = 0; i < la.size(); ++i) num += (la[i] - lb[i]) * (la[i] - lb[i]), den += la[i] * la[i];
    // f16 keeps 11 bits, bf16 8: relative logit error well under 1% and 5%.
    EXPECT_LT(std::sqrt(num / den), dt == fb::DType::F16 ? 0.01 : 0.05) << format::dtype_name(dt);
  }
}

// f32 pages: what differs here is only the summation order of one row against many. (With f16
// pages a last-bit difference in a key can round to the neighbouring f16 value, which moves the
// logits by more; tests/model/batch_test.cpp states that tolerance.)
TEST(Stories260K, BatchedPrefillEqualsTokenByToken) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  TempDir dir;
  auto m = load(compile(dir, fb::DType::F32, false), runtime::KvDtype::f32);
  const std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421};
  runtime::Session batch(*m), single(*m);
  std::vector<float> all;
  ASSERT_TRUE(batch.eval(tokens, nullptr, &all).ok());
  std::vector<float> logits(m->dims().vocab);
  for (size_t t = 0; t < tokens.size(); ++t) {
    ASSERT_TRUE(single.eval({&tokens[t], 1}, logits.data()).ok());
    for (size_t v = 0; v < logits.size(); ++v) {
      ASSERT_NEAR(logits[v], all[t * logits.size() + v], 1e-4) << "token " << t << " vocab " << v;
    }
  }
}

// A chat re-sends its whole history each turn (GenerateParams::reuse_cache): only the tokens
// after what the cache already holds are evaluated, and the text is what a fresh session gives
// (the published greedy ids, and a fresh session where the prompt leaves them).
TEST(Stories260K, CacheReuseEvaluatesOnlyTheNewTokens) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  TempDir dir;
  auto m = load(compile(dir, fb::DType::F32, false));
  ASSERT_NE(m, nullptr);
  const std::vector<int32_t> want = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421,
                                     395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292};
  runtime::Session session(*m);
  auto turn = [&](const std::vector<int32_t>& prompt, int n, runtime::GenerateStats* st) {
    std::vector<int32_t> out;
    runtime::GenerateParams p;
    p.n_predict = n;
    p.sampler.temperature = 0;
    p.reuse_cache = true;
    const format::Status s = runtime::generate(session, prompt, p, [&](int32_t id, const std::string&) {
      out.push_back(id);
      return true;
    }, st);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return out;
  };
  runtime::GenerateStats st;
  // Turn 1: BOS + 4 ids from an empty cache.
  std::vector<int32_t> p1 = {1, 403, 407, 261, 378};
  EXPECT_EQ(turn(p1, 8, &st), std::vector<int32_t>(want.begin() + 4, want.begin() + 12));
  EXPECT_EQ(st.n_prompt_cached, 0u);
  // The cache holds the prompt and 7 of the 8 replies (the last was sampled, never evaluated).
  EXPECT_EQ(session.position(), 12u);
  // Turn 2: the history so far plus 4 more ids: 12 positions are reused, 5 evaluated.
  std::vector<int32_t> p2 = {1};
  p2.insert(p2.end(), want.begin(), want.begin() + 16);
  EXPECT_EQ(turn(p2, 8, &st), std::vector<int32_t>(want.begin() + 16, want.end()));
  EXPECT_EQ(st.n_prompt_cached, 12u);
  EXPECT_EQ(st.n_prompt, 17u);
  // Turn 3: a prompt that leaves the history after two ids: 2 reused, the text a fresh session's.
  const std::vector<int32_t> p3 = {1, 403, 300, 301, 302, 303};
  EXPECT_EQ(turn(p3, 10, &st), greedy(*m, p3, 10));
  EXPECT_EQ(st.n_prompt_cached, 2u);
  // The same prompt again: everything but its last token is reused (its logits are needed).
  EXPECT_EQ(turn(p3, 10, &st), greedy(*m, p3, 10));
  EXPECT_EQ(st.n_prompt_cached, p3.size() - 1);
  // A prompt longer than the context is refused.
  runtime::Session small(*m, 8);
  runtime::GenerateParams p;
  p.reuse_cache = true;
  const format::Status s = runtime::generate(small, std::vector<int32_t>(9, 5), p,
                                             [](int32_t, const std::string&) { return true; }, nullptr);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("context"), std::string::npos) << s.message();
}

TEST(Stories260K, ContextOverflowAndBadIdsAreErrors) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  TempDir dir;
  auto m = load(compile(dir, fb::DType::F32, false));
  runtime::Session s(*m, 8);
  std::vector<int32_t> nine(9, 5);
  format::Status st = s.eval(nine, nullptr);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("context"), std::string::npos) << st.message();
  EXPECT_EQ(s.position(), 0u) << "a failed eval changes nothing";
  const std::vector<int32_t> bad = {1, 512};
  st = s.eval(bad, nullptr);
  EXPECT_NE(st.message().find("512"), std::string::npos) << st.message();
  std::vector<float> logits(m->dims().vocab);
  std::vector<int32_t> eight(8, 5);
  EXPECT_TRUE(s.eval(eight, logits.data()).ok());
  const int32_t one = 5;
  EXPECT_FALSE(s.eval({&one, 1}, logits.data()).ok());
}

TEST(Stories260K, PerplexityMatchesAFloat64ScalarForward) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  INGOT_REQUIRE_SHARED("data/tinystories/tinystories_val.txt");
  TempDir dir;
  auto m = load(compile(dir, fb::DType::F32));
  std::ifstream in(shared_path("data/tinystories/tinystories_val.txt"), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<int32_t> tokens = runtime::prompt_tokens(*m, text.str());
  ASSERT_GT(tokens.size(), 512u);
  runtime::PerplexityResult r;
  ASSERT_TRUE(runtime::perplexity(*m, tokens, 256, 2, nullptr, &r).ok());
  EXPECT_EQ(r.n_chunks, 2u);
  EXPECT_EQ(r.n_scored, 2u * 255u);

  NaiveLlama ref(shared_path(kCheckpoint));
  double nll = 0;
  for (size_t c = 0; c < 2; ++c) {
    ref.reset();
    for (size_t i = 0; i + 1 < 256; ++i) {
      const std::vector<double> l = ref.forward(tokens[c * 256 + i], int(i));
      double mx = l[0], sum = 0;
      for (double v : l) mx = std::max(mx, v);
      for (double v : l) sum += std::exp(v - mx);
      nll += mx + std::log(sum) - l[size_t(tokens[c * 256 + i + 1])];
    }
  }
  const double ref_ppl = std::exp(nll / 510.0);
  EXPECT_NEAR(r.ppl / ref_ppl, 1.0, 1e-4) << "runtime " << r.ppl << " vs float64 " << ref_ppl;
}

// The greedy texts in shared/reference/ (llama2.c run.c, -n 120 counting prompt tokens).
class Stories260KReference : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(Stories260KReference, GreedyTextMatchesRunC) {
  const auto [prompt, file] = GetParam();
  INGOT_REQUIRE_SHARED(kCheckpoint);
  INGOT_REQUIRE_SHARED(file);
  TempDir dir;
  auto m = load(compile(dir, fb::DType::F32));
  std::ifstream in(shared_path(file), std::ios::binary);
  const std::string want((std::istreambuf_iterator<char>(in)), {});
  const std::vector<int32_t> p = runtime::prompt_tokens(*m, prompt);
  ASSERT_EQ(p[0], 1);
  const std::vector<int32_t> ids = greedy(*m, p, int(119 - (p.size() - 1)));
  // Text as run.c prints it: the prompt's pieces, then each generated piece.
  std::string got;
  for (size_t i = 1; i < p.size(); ++i) got += m->tokenizer().decode_token(p[i - 1], p[i]);
  size_t generated_in_prefix = 0;
  int32_t prev = p.back();
  for (int32_t id : ids) {
    got += m->tokenizer().decode_token(prev, id);
    prev = id;
    if (want.compare(0, got.size(), got) == 0) ++generated_in_prefix;
  }
  // The reference README allows late fp32 argmax flips: at least 100 generated tokens must agree.
  EXPECT_GE(generated_in_prefix, std::min<size_t>(100, ids.size())) << "got:\n" << got << "\nwant:\n" << want;
  EXPECT_GE(ids.size(), 100u);
}

INSTANTIATE_TEST_SUITE_P(Prompts, Stories260KReference,
                         ::testing::Values(std::make_pair("Once upon a time", "reference/stories260K-once-upon-a-time.txt"),
                                           std::make_pair("Lily and Tom went to the park",
                                                          "reference/stories260K-lily-and-tom.txt")));

}  // namespace
}  // namespace ingot::test
