// ingotc build, ingot run / perplexity / bench as a user runs them on stories260K, against the
// independent references in shared/ (run.c's greedy texts, the PyTorch perplexity).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "run_command.h"
#include "sample_container.h"
#include "shared_assets.h"

namespace ingot::test {
namespace {

using Output = CommandResult;

Output sh(const std::string& cmd) { return run_command(cmd); }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

class ModelCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!shared_exists("models/stories260K/stories260K.bin")) GTEST_SKIP() << "shared/models/stories260K is absent";
    model_ = dir_.file("stories260K.ingot");
    const Output b = sh(std::string(INGOTC_BIN) + " build " + shared_path("models/stories260K/stories260K.bin") +
                        " --tokenizer " + shared_path("models/stories260K/tok512.model") + " --dtype f32 -o " +
                        model_ + " 2>&1");
    ASSERT_EQ(b.exit_code, 0) << b.out;
    EXPECT_NE(b.out.find("wrote"), std::string::npos) << b.out;
  }
  TempDir dir_;
  std::string model_;
};

TEST_F(ModelCli, RunGreedyPrintsRunCsText) {
  for (const auto& [prompt, file] : {std::pair<std::string, std::string>{"Once upon a time", "stories260K-once-upon-a-time.txt"},
                                     {"Lily and Tom went to the park", "stories260K-lily-and-tom.txt"}}) {
    const std::string want = slurp(shared_path("reference/" + file));
    ASSERT_FALSE(want.empty());
    const Output r = sh(std::string(INGOT_BIN) + " run " + model_ + " -p '" + prompt + "' -n 130 --temp 0 2>/dev/null");
    ASSERT_EQ(r.exit_code, 0);
    size_t common = 0;
    while (common < std::min(want.size(), r.out.size()) && want[common] == r.out[common]) ++common;
    // run.c may flip a late argmax in fp32 (shared/reference/README.md): most of the text must agree.
    EXPECT_GE(common, want.size() * 9 / 10) << "got:\n" << r.out << "\nwant:\n" << want;
  }
}

TEST_F(ModelCli, RunReportsSpeedsAndRefusesBadArguments) {
  Output r = sh(std::string(INGOT_BIN) + " run " + model_ + " -p 'Once' -n 8 --temp 0.8 --top-p 0.9 --seed 1 2>&1 >/dev/null");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("tok/s"), std::string::npos) << r.out;
  r = sh(std::string(INGOT_BIN) + " run " + model_ + " -p 'Once' -n 600 --temp 0 --ctx 16 2>&1 >/dev/null");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("context"), std::string::npos) << r.out;
  r = sh(std::string(INGOT_BIN) + " run " + dir_.file("missing.ingot") + " -p x 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("missing.ingot"), std::string::npos) << r.out;
}

TEST_F(ModelCli, PerplexityMatchesTheReferenceAndEndsWithPplLine) {
  const Output r = sh(std::string(INGOT_BIN) + " perplexity " + model_ + " -f " +
                      shared_path("data/tinystories/tinystories_val.txt") + " --ctx 256 --max-chunks 200 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::smatch m;
  const std::regex last(R"(ppl = ([0-9.]+)\n$)");
  ASSERT_TRUE(std::regex_search(r.out, m, last)) << r.out;
  // shared/models/README.md: 4.1070 from an independent float32 PyTorch forward, same protocol.
  EXPECT_NEAR(std::stod(m[1]) / 4.1070, 1.0, 1e-3) << r.out;
}

TEST_F(ModelCli, BenchPrintsJson) {
  const Output r = sh(std::string(INGOT_BIN) + " bench " + model_ + " --prompt 32 --gen 16 --repeats 3 --json 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["prefill_tok_s"].get<double>(), 0);
  EXPECT_GT(j["decode_tok_s"].get<double>(), 0);
}

TEST_F(ModelCli, IngotcNamesWhatIsWrong) {
  Output r = sh(std::string(INGOTC_BIN) + " build " + shared_path("models/stories260K/stories260K.bin") +
                " --tokenizer " + dir_.file("nope.model") + " -o " + dir_.file("x.ingot") + " 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("nope.model"), std::string::npos) << r.out;
  r = sh(std::string(INGOTC_BIN) + " build " + shared_path("models/stories260K/stories260K.bin") +
         " --dtype q4 -o " + dir_.file("x.ingot") + " 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--dtype"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("x.ingot"))) << "nothing half-written";
  // The llama2.c tokenizer.bin gives the same generations as tokenizer.model.
  r = sh(std::string(INGOTC_BIN) + " build " + shared_path("models/stories260K/stories260K.bin") + " --tokenizer " +
         shared_path("models/stories260K/tok512.bin") + " --dtype f32 -o " + dir_.file("bin.ingot") + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string run = " run %s -p 'Lily and Tom' -n 40 --temp 0 2>/dev/null";
  char a[4096], b[4096];
  std::snprintf(a, sizeof a, run.c_str(), model_.c_str());
  std::snprintf(b, sizeof b, run.c_str(), dir_.file("bin.ingot").c_str());
  EXPECT_EQ(sh(INGOT_BIN + std::string(a)).out, sh(INGOT_BIN + std::string(b)).out);
}

}  // namespace
}  // namespace ingot::test

namespace ingot::test {
namespace {

TEST(ModelCliQuantized, GptqBuildIsDeterministicReportsAndRuns) {
  if (!shared_exists("models/stories260K/stories260K.bin")) GTEST_SKIP() << "shared/models/stories260K is absent";
  TempDir dir;
  const std::string base = std::string(INGOTC_BIN) + " build " + shared_path("models/stories260K/stories260K.bin") +
                           " --tokenizer " + shared_path("models/stories260K/tok512.model") +
                           " --method gptq --bits 4 --group-size 32 --calib-samples 16 --calib-seqlen 128 --calib " +
                           shared_path("data/c4/c4_sample.json");
  Output r = sh(base + " -o " + dir.file("a.ingot") + " --report " + dir.file("r.json") + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = sh(base + " -o " + dir.file("b.ingot") + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(read_file(dir.file("a.ingot")), read_file(dir.file("b.ingot"))) << "same inputs, same bytes";
  const auto report = nlohmann::json::parse(slurp(dir.file("r.json")));
  EXPECT_EQ(report["tensors"].size(), 35u) << "5 layers x 7 linear weights";
  EXPECT_GE(report["tensors"][0]["seconds"].get<double>(), 0.0);
  const auto j = nlohmann::json::parse(sh(std::string(INGOT_BIN) + " inspect --json " + dir.file("a.ingot")).out);
  size_t quantized = 0;
  for (const auto& t : j["tensors"]) {
    if (t.contains("quant")) {
      ++quantized;
      // GPTQ's default act-order, stored sorted into group order (spec/quant-layouts.md §2.3).
      EXPECT_EQ(t["layout"], "gptq-packed-k-sorted");
      EXPECT_TRUE(t["quant"].contains("input_order") && !t["quant"]["input_order"].is_null()) << t.dump();
      EXPECT_EQ(t["quant"]["method"], "gptq");
    }
  }
  EXPECT_EQ(quantized, 35u);
  EXPECT_EQ(j["provenance"]["layer_losses"].size(), 35u);
  r = sh(std::string(INGOT_BIN) + " run " + dir.file("a.ingot") + " -p 'Once upon a time' -n 20 --temp 0 2>/dev/null");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("Once upon a time", 0), 0u) << r.out;
  EXPECT_GT(r.out.size(), 40u);
  // GPTQ without calibration text is a clear error, and nothing is written.
  r = sh(std::string(INGOTC_BIN) + " build " + shared_path("models/stories260K/stories260K.bin") + " --tokenizer " +
         shared_path("models/stories260K/tok512.model") + " --method gptq -o " + dir.file("c.ingot") + " 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--calib"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir.file("c.ingot")));
}

}  // namespace
}  // namespace ingot::test
