// `ingot perplexity --protocol llamacpp` on the f32 dequantization of SmolLM2-135M-Instruct, against
// llama.cpp's own figure (shared/models/README.md: `llama-perplexity -c 512 --chunks 60` on
// WikiText-2 test gives 23.62): ours must agree within 0.2%. About 30k tokens through a 135M
// model on the CPU: labelled slow.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "smollm2_support.h"

namespace ingot::test {
namespace {

TEST(SmolLM2Perplexity, LlamaCppProtocolMatchesLlamaCpp) {
  REQUIRE_SMOL_F32();
  INGOT_REQUIRE_SHARED("data/wikitext-2-raw-v1/test.txt");
  const CommandResult r = run_command(std::string(INGOT_BIN) + " perplexity " + smol_f32().model + " -f " +
                                      shared_path("data/wikitext-2-raw-v1/test.txt") +
                                      " --protocol llamacpp --ctx 512 --chunks 60 --json 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out.substr(0, r.out.rfind("ppl =")));
  EXPECT_EQ(j["chunks"], 60);
  EXPECT_EQ(j["scored"], 60 * 255);  // the second half of each chunk: 511 - 256 tokens
  const double ppl = j["ppl"].get<double>();
  std::printf("[ measured ] ppl %.4f (llama.cpp 23.62)\n", ppl);
  EXPECT_NEAR(ppl, 23.62, 23.62 * 0.002);
}

}  // namespace
}  // namespace ingot::test
