// SmolLM2-135M-Instruct end to end as a user runs it: `ingotc build` of the shared Q4_1 GGUF (its
// blocks dequantized exactly), `ingot inspect` naming the source types, `ingot chat` with the
// model's ChatML format (samples/scripts/chatml_chat.lua) answering a question, and the warning
// when an already-quantized model is quantized again.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "smollm2_support.h"

namespace ingot::test {
namespace {

TEST(SmolLM2Cli, BuildsFromTheQ4_1Gguf) {
  REQUIRE_SMOL_F32();
  const std::string& out = smol_f32().build.out;
  EXPECT_NE(out.find("dequantized 211 block-quantized GGUF tensors"), std::string::npos) << out;
  EXPECT_EQ(out.find("warning"), std::string::npos) << out;  // --method none: nothing is re-quantized
}

TEST(SmolLM2Cli, InspectShowsTheSourceTypes) {
  REQUIRE_SMOL_F32();
  const CommandResult r = run_command(std::string(INGOT_BIN) + " inspect --json " + smol_f32().model);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  // From the GGUF header (shared/models/README.md): 210 Q4_1 matrices, Q8_0 embeddings, 61 F32 norms.
  EXPECT_EQ(j["provenance"]["source_types"], (nlohmann::json{{"F32", 61}, {"Q4_1", 210}, {"Q8_0", 1}}));
  EXPECT_EQ(j["provenance"]["source_tensor_types"]["tok_embeddings.weight"], "Q8_0");
  EXPECT_EQ(j["provenance"]["source_tensor_types"]["layers.0.attention.wq.weight"], "Q4_1");
  EXPECT_EQ(j["tokenizer"]["pre_tokenizer"], "starcoder");
  EXPECT_EQ(j["tokenizer"]["add_bos"], false);
  const CommandResult text = run_command(std::string(INGOT_BIN) + " inspect " + smol_f32().model);
  EXPECT_NE(text.out.find("\"Q4_1\":210"), std::string::npos) << text.out;
}

TEST(SmolLM2Cli, ChatAnswersTheCapitalOfFrance) {
  REQUIRE_SMOL_F32();
  const CommandResult r =
      run_command("echo 'What is the capital of France?' | " + std::string(INGOT_BIN) + " chat " + smol_f32().model +
                  " --temp 0 -n 48 --script " + std::string(INGOT_SOURCE_DIR) + "/samples/scripts/chatml_chat.lua 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Paris"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("<|im_"), std::string::npos) << r.out;  // the reply stops at <|im_end|>
}

TEST(SmolLM2Cli, QuantizingAgainWarnsThatErrorsCompound) {
  INGOT_REQUIRE_SHARED(kSmolGguf);
  TempDir tmp;
  const CommandResult r = run_command(std::string(INGOTC_BIN) + " build " + shared_path(kSmolGguf) +
                                      " --method rtn --bits 8 -o " + tmp.file("rtn8.ingot") + " 2>&1 >/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("warning: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("already quantized"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("compounds"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ingot::test
