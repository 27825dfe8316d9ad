// The container's chat template in use: stories260K (Hugging Face layout) compiled with a
// chat_template.jinja beside it; the C API renders a conversation with it (ingot_chat_render,
// expectations written by hand from the template), reports the template's raise_exception as
// INGOT_STATUS_TEMPLATE_ERROR, and `ingot chat` renders it by default unless a script's
// format_prompt overrides it.
#include <gtest/gtest.h>
#include <ingot/ingot.h>

#include <filesystem>
#include <fstream>
#include <ingot/ingot.hpp>
#include <string>

#include "run_command.h"
#include "sample_container.h"
#include "shared_assets.h"

namespace fs = std::filesystem;

namespace {

// A template in Llama 2's shape; `raise` makes it refuse a system message.
std::string chat_template(bool raise) {
  std::string t =
      "{{ bos_token }}{% for m in messages %}"
      "{% if m['role'] == 'system' %}{{ raise_exception('no system messages') if RAISE else '' }}"
      "{{ '[SYS] ' + m['content'] | trim + '\\n' }}"
      "{% elif m['role'] == 'user' %}{{ '[INST] ' + m['content'] + ' [/INST]' }}"
      "{% else %}{{ ' ' + m['content'] + eos_token }}{% endif %}{% endfor %}"
      "{% if add_generation_prompt %}{{ ' ' }}{% endif %}";
  t.replace(t.find("RAISE"), 5, raise ? "true" : "false");
  return t;
}

// stories260K-hf plus chat_template.jinja, compiled; "" when the shared model is missing.
std::string build_model(const ingot::test::TempDir& dir, bool raise) {
  const fs::path src = ingot::test::shared_path("models/stories260K-hf");
  const fs::path hf = dir.path() / (raise ? "hf-raise" : "hf");
  fs::create_directories(hf);
  for (const auto& e : fs::directory_iterator(src)) fs::copy_file(e.path(), hf / e.path().filename());
  std::ofstream(hf / "chat_template.jinja", std::ios::binary) << chat_template(raise);
  const std::string out = (dir.path() / (raise ? "raise.ingot" : "model.ingot")).string();
  auto r = ingot::test::run_command(std::string(INGOTC_BIN) + " build " + hf.string() + " -o " + out + " 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return out;
}

}  // namespace

TEST(ModelChatTemplate, CApiRendersTheContainersTemplate) {
  INGOT_REQUIRE_SHARED("models/stories260K-hf/model.safetensors");
  ingot::test::TempDir dir;
  ingot::model m(build_model(dir, false));
  EXPECT_EQ(ingot::chat_template(m), chat_template(false));
  const std::vector<ingot::chat_message> conv = {{"system", "  Be brief.  "}, {"user", "Hi"}, {"assistant", "Hello"},
                                                 {"user", "Bye"}};
  // bos_token and eos_token are the text of the model's BOS and EOS pieces.
  EXPECT_EQ(ingot::render_chat(m, conv), "<s>[SYS] Be brief.\n[INST] Hi [/INST] Hello</s>[INST] Bye [/INST] ");
  EXPECT_EQ(ingot::render_chat(m, conv, /*add_generation_prompt=*/false),
            "<s>[SYS] Be brief.\n[INST] Hi [/INST] Hello</s>[INST] Bye [/INST]");

  // The buffer rules of the other text-returning calls.
  ingot_chat_message c[1] = {{"user", "Hi"}};
  size_t n = 0;
  char small[4];
  EXPECT_EQ(ingot_chat_render(m.get(), c, 1, true, nullptr, small, sizeof small, &n), INGOT_STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(n, std::string("<s>[INST] Hi [/INST] ").size());
  EXPECT_EQ(ingot_chat_render(m.get(), c, 1, true, "not json", nullptr, 0, &n), INGOT_STATUS_INVALID_ARGUMENT);
  ingot_chat_message bad[1] = {{"user", nullptr}};
  EXPECT_EQ(ingot_chat_render(m.get(), bad, 1, true, nullptr, nullptr, 0, &n), INGOT_STATUS_INVALID_ARGUMENT);
}

TEST(ModelChatTemplate, RaiseExceptionIsATemplateErrorWithItsMessage) {
  INGOT_REQUIRE_SHARED("models/stories260K-hf/model.safetensors");
  ingot::test::TempDir dir;
  const std::string path = build_model(dir, true);
  ingot::model m(path);
  ingot_chat_message c[2] = {{"system", "x"}, {"user", "Hi"}};
  size_t n = 0;
  EXPECT_EQ(ingot_chat_render(m.get(), c, 2, true, nullptr, nullptr, 0, &n), INGOT_STATUS_TEMPLATE_ERROR);
  EXPECT_NE(std::string(ingot_last_error()).find("no system messages"), std::string::npos) << ingot_last_error();

  // `ingot chat` renders the container's template by default: the refusal reaches the user...
  const std::string input = (dir.path() / "in.txt").string();
  std::ofstream(input) << "Hello\n";
  auto r = ingot::test::run_command(std::string(INGOT_BIN) + " chat " + path + " --system 'Be brief.' -n 4 --temp 0 < " +
                                    input + " 2>&1");
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("raise_exception: no system messages"), std::string::npos) << r.out;
  // ...without a system message it renders and replies...
  r = ingot::test::run_command(std::string(INGOT_BIN) + " chat " + path + " -n 4 --temp 0 < " + input + " 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // ...and a script's format_prompt overrides the template.
  const std::string script = (dir.path() / "fmt.lua").string();
  std::ofstream(script) << "function format_prompt(messages, ctx) return 'Once upon a time' end\n";
  r = ingot::test::run_command(std::string(INGOT_BIN) + " chat " + path + " --script " + script +
                               " --system 'Be brief.' -n 4 --temp 0 < " + input + " 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}
