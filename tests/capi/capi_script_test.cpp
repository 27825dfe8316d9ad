// Lua scripts through the C API (ingot_script_*, ingot_session_set_script) and ingot.hpp, on
// stories260K. References are independent of the code under test: llama2.c run.c's greedy text
// (shared/reference), the `ingot` tool's own script path (runtime::generate + scripting::Script
// without the C API), and Meta's LLaMA-2 chat format written out by hand.
#include <ingot/ingot.h>

#include <cstring>
#include <ingot/ingot.hpp>
#include <string>
#include <thread>
#include <vector>

#include "capi_fixture.h"

namespace ingot::test {
namespace {

const std::string kSamples = INGOT_SAMPLES_DIR;
const std::string kOnce = "Once upon a time";

// llama2.c's greedy continuation of "Once upon a time" (the prompt included).
std::string once_reference() { return slurp(shared_path("reference/stories260K-once-upon-a-time.txt")); }

struct Handles {
  ingot_model* model = nullptr;
  std::vector<ingot_session*> sessions;
  std::vector<ingot_script*> scripts;
  ~Handles() {
    for (ingot_session* s : sessions) ingot_session_free(s);
    for (ingot_script* s : scripts) ingot_script_free(s);
    ingot_model_free(model);
  }
  ingot_model* load() {
    ingot_model_params p = ingot_model_default_params();
    p.n_threads = test_threads();
    EXPECT_EQ(ingot_model_load(stories_model().c_str(), p, &model), INGOT_STATUS_OK) << ingot_last_error();
    return model;
  }
  ingot_session* session() {
    ingot_session* s = nullptr;
    EXPECT_EQ(ingot_session_new(model, ingot_session_default_params(), &s), INGOT_STATUS_OK) << ingot_last_error();
    if (s != nullptr) sessions.push_back(s);
    return s;
  }
  ingot_script* script_file(const std::string& path) {
    ingot_script* s = nullptr;
    EXPECT_EQ(ingot_script_load_file(path.c_str(), ingot_script_default_params(), &s), INGOT_STATUS_OK)
        << ingot_last_error();
    if (s != nullptr) scripts.push_back(s);
    return s;
  }
  ingot_script* script_string(const std::string& code, const char* name) {
    ingot_script* s = nullptr;
    EXPECT_EQ(ingot_script_load_string(code.data(), code.size(), name, ingot_script_default_params(), &s),
              INGOT_STATUS_OK)
        << ingot_last_error();
    if (s != nullptr) scripts.push_back(s);
    return s;
  }
};

bool append_text(int32_t, const char* text, size_t len, void* ud) {
  static_cast<std::string*>(ud)->append(text, len);
  return true;
}

ingot_generate_params params(int n, float temperature, uint64_t seed, std::string* out) {
  ingot_generate_params p = ingot_generate_default_params();
  p.n_predict = n;
  p.sampler.temperature = temperature;
  p.sampler.seed = seed;
  p.on_token = append_text;
  p.user_data = out;
  return p;
}

// ---- loading ----------------------------------------------------------------------------------

// Expects the load to fail with `status` and a message holding every one of `parts`.
void expect_load_error(const std::string& code, const char* name, ingot_status status,
                       const std::vector<std::string>& parts, ingot_script_params p = ingot_script_default_params()) {
  ingot_script* s = nullptr;
  EXPECT_EQ(ingot_script_load_string(code.data(), code.size(), name, p, &s), status) << name;
  EXPECT_EQ(s, nullptr);
  const std::string msg = ingot_last_error();
  for (const std::string& part : parts) EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' in: " << msg;
}

TEST(CApiScript, MissingFileIsAnIoErrorNamingThePath) {
  ingot_script* s = nullptr;
  const std::string path = "/nonexistent/dir/chat.lua";
  EXPECT_EQ(ingot_script_load_file(path.c_str(), ingot_script_default_params(), &s), INGOT_STATUS_IO_ERROR);
  EXPECT_EQ(s, nullptr);
  EXPECT_NE(std::string(ingot_last_error()).find(path), std::string::npos) << ingot_last_error();
}

TEST(CApiScript, SyntaxErrorNamesScriptAndLine) {
  expect_load_error("-- fine\nfunction sample(logits, ctx)\n  return logits:argmax(\nend\n", "broken.lua",
                    INGOT_STATUS_SCRIPT_ERROR, {"script 'broken.lua'", "broken.lua:4:"});
  EXPECT_STREQ(ingot_status_str(INGOT_STATUS_SCRIPT_ERROR), "script error");
}

TEST(CApiScript, HostileScriptsFailWithScriptAndLine) {
  // An endless main chunk stops at the instruction budget, at the line it was looping on.
  ingot_script_params small = ingot_script_default_params();
  small.max_instructions = 100000;
  expect_load_error("local n = 0\nwhile true do\n  n = n + 1\nend\n", "spin.lua", INGOT_STATUS_SCRIPT_ERROR,
                    {"script 'spin.lua'", "spin.lua:", "instruction budget of 100000 exceeded"}, small);
  // Memory beyond the cap.
  small = ingot_script_default_params();
  small.max_memory = 1 << 20;
  expect_load_error("local t = {}\nfor i = 1, 1e9 do\n  t[i] = string.rep('x', 64) .. i\nend\n", "hog.lua",
                    INGOT_STATUS_SCRIPT_ERROR, {"script 'hog.lua'", "memory limit of 1048576 bytes exceeded"}, small);
  // The sandbox has no os/io: reaching for them is a Lua error at that line.
  expect_load_error("\n\nos.execute('touch /tmp/ingot-pwned')\n", "escape.lua", INGOT_STATUS_SCRIPT_ERROR,
                    {"script 'escape.lua'", "escape.lua:3:", "os"});
  // Precompiled chunks are refused (Lua does not verify bytecode).
  expect_load_error(std::string("\x1bLua\x54\x00", 6), "bytecode.lua", INGOT_STATUS_SCRIPT_ERROR,
                    {"script 'bytecode.lua'", "binary"});
  // A hook global that is not a function.
  expect_load_error("sample = 3\n", "notfn.lua", INGOT_STATUS_SCRIPT_ERROR, {"notfn.lua", "sample"});
}

TEST(CApiScript, BadArgumentsAreRejected) {
  ingot_script* s = nullptr;
  EXPECT_EQ(ingot_script_load_string("x = 1", 5, nullptr, ingot_script_default_params(), &s),
            INGOT_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(ingot_script_load_string("x = 1", 5, "x.lua", ingot_script_default_params(), nullptr),
            INGOT_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(ingot_script_load_file(nullptr, ingot_script_default_params(), &s), INGOT_STATUS_INVALID_ARGUMENT);
  ingot_script_params p = ingot_script_default_params();
  p.max_instructions = 0;
  EXPECT_EQ(ingot_script_load_string("x = 1", 5, "x.lua", p, &s), INGOT_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(ingot_session_set_script(nullptr, nullptr), INGOT_STATUS_INVALID_ARGUMENT);
  ingot_script_free(nullptr);
  EXPECT_FALSE(ingot_script_has_hook(nullptr, "sample"));
}

// ---- generation -------------------------------------------------------------------------------

TEST(CApiScript, GreedyScriptEqualsBuiltinGreedyAndRunC) {
  INGOT_REQUIRE_STORIES();
  Handles h;
  ASSERT_NE(h.load(), nullptr);
  ingot_script* greedy = h.script_file(kSamples + "/scripts/greedy.lua");
  ASSERT_NE(greedy, nullptr);
  EXPECT_TRUE(ingot_script_has_hook(greedy, "sample"));
  EXPECT_FALSE(ingot_script_has_hook(greedy, "format_prompt"));
  ingot_session* scripted = h.session();
  ingot_session* builtin = h.session();
  ASSERT_EQ(ingot_session_set_script(scripted, greedy), INGOT_STATUS_OK) << ingot_last_error();
  // The built-in sampler would sample at temperature 1: only the script makes this greedy.
  std::string with_script, without;
  ASSERT_EQ(ingot_session_generate(scripted, kOnce.c_str(), params(64, 1.0f, 5, &with_script), nullptr), INGOT_STATUS_OK)
      << ingot_last_error();
  ASSERT_EQ(ingot_session_generate(builtin, kOnce.c_str(), params(64, 0.0f, 0, &without), nullptr), INGOT_STATUS_OK);
  EXPECT_EQ(with_script, without);
  const std::string want = once_reference();
  EXPECT_GE(common_prefix(kOnce + with_script, want), std::min(want.size(), (kOnce + with_script).size()) * 9 / 10)
      << with_script;
}

TEST(CApiScript, SeededSamplingScriptReproducesIngotRun) {
  INGOT_REQUIRE_STORIES();
  const std::string script = kSamples + "/scripts/top_p.lua";
  std::string cli;
  ASSERT_EQ(run_command(std::string(INGOT_BIN) + " run " + stories_model() + " -p '" + kOnce +
                            "' -n 48 --seed 1234 --threads " + std::to_string(test_threads()) + " --script " + script +
                            " 2>/dev/null",
                        &cli),
            0);
  Handles h;
  ASSERT_NE(h.load(), nullptr);
  ingot_session* s = h.session();
  ASSERT_EQ(ingot_session_set_script(s, h.script_file(script)), INGOT_STATUS_OK) << ingot_last_error();
  std::string got;
  ASSERT_EQ(ingot_session_generate(s, kOnce.c_str(), params(48, 0.8f, 1234, &got), nullptr), INGOT_STATUS_OK)
      << ingot_last_error();
  EXPECT_EQ(kOnce + got + "\n", cli);  // `ingot run` prints the prompt, the text and a newline
  // It really samples: another seed gives another story.
  ingot_session_reset(s);
  std::string other;
  ASSERT_EQ(ingot_session_generate(s, kOnce.c_str(), params(48, 0.8f, 99, &other), nullptr), INGOT_STATUS_OK);
  EXPECT_NE(other, got);
}

TEST(CApiScript, ScriptErrorMidGenerationLeavesSessionUsable) {
  INGOT_REQUIRE_STORIES();
  Handles h;
  ASSERT_NE(h.load(), nullptr);
  // Greedy, but raises on the sixth token.
  ingot_script* failing = h.script_string(
      "function sample(logits, ctx)\n"
      "  if ctx.n_generated == 5 then error('no sixth token') end\n"
      "  return logits:argmax()\n"
      "end\n",
      "sixth.lua");
  ASSERT_NE(failing, nullptr);
  ingot_session* s = h.session();
  ASSERT_EQ(ingot_session_set_script(s, failing), INGOT_STATUS_OK);
  std::string text;
  ingot_generate_stats st{};
  ASSERT_EQ(ingot_session_generate(s, kOnce.c_str(), params(20, 0.0f, 0, &text), &st), INGOT_STATUS_SCRIPT_ERROR);
  const std::string msg = ingot_last_error();
  EXPECT_NE(msg.find("script 'sixth.lua'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sixth.lua:2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no sixth token"), std::string::npos) << msg;
  EXPECT_EQ(st.n_generated, 5);
  // The cache holds the prompt and the five streamed tokens, nothing more.
  EXPECT_EQ(ingot_session_position(s), st.n_prompt + 5);
  // Detached, the session continues the same text: together it is run.c's greedy story.
  ASSERT_EQ(ingot_session_set_script(s, nullptr), INGOT_STATUS_OK);
  std::string rest;
  ASSERT_EQ(ingot_session_generate(s, "", params(40, 0.0f, 0, &rest), nullptr), INGOT_STATUS_OK) << ingot_last_error();
  const std::string got = kOnce + text + rest;
  const std::string want = once_reference();
  EXPECT_GE(common_prefix(got, want), std::min(want.size(), got.size()) * 9 / 10) << got;

  // A hostile hook (an endless loop) is stopped by the budget; the session still works.
  ingot_script_params small = ingot_script_default_params();
  small.max_instructions = 200000;
  ingot_script* spin = nullptr;
  const std::string code = "function process_logits(logits, ctx)\n  while true do end\nend\n";
  ASSERT_EQ(ingot_script_load_string(code.data(), code.size(), "spin.lua", small, &spin), INGOT_STATUS_OK);
  h.scripts.push_back(spin);
  ingot_session_reset(s);
  ASSERT_EQ(ingot_session_set_script(s, spin), INGOT_STATUS_OK);
  std::string none;
  EXPECT_EQ(ingot_session_generate(s, kOnce.c_str(), params(8, 0.0f, 0, &none), &st), INGOT_STATUS_SCRIPT_ERROR);
  EXPECT_NE(std::string(ingot_last_error()).find("spin.lua:2: instruction budget of 200000 exceeded"), std::string::npos)
      << ingot_last_error();
  EXPECT_TRUE(none.empty());
  ASSERT_EQ(ingot_session_set_script(s, nullptr), INGOT_STATUS_OK);
  ingot_session_reset(s);
  std::string again;
  ASSERT_EQ(ingot_session_generate(s, kOnce.c_str(), params(20, 0.0f, 0, &again), nullptr), INGOT_STATUS_OK);
  EXPECT_EQ(common_prefix(kOnce + again, want), (kOnce + again).size()) << again;
}

TEST(CApiScript, OneSessionPerScript) {
  INGOT_REQUIRE_STORIES();
  Handles h;
  ASSERT_NE(h.load(), nullptr);
  ingot_script* greedy = h.script_file(kSamples + "/scripts/greedy.lua");
  ingot_session* a = h.session();
  ingot_session* b = h.session();
  ASSERT_EQ(ingot_session_set_script(a, greedy), INGOT_STATUS_OK);
  EXPECT_EQ(ingot_session_set_script(a, greedy), INGOT_STATUS_OK);  // again: no change
  EXPECT_EQ(ingot_session_set_script(b, greedy), INGOT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ingot_last_error()).find("attached to another session"), std::string::npos);
  // Freeing the session releases the script.
  ingot_session_free(a);
  h.sessions.erase(h.sessions.begin());
  EXPECT_EQ(ingot_session_set_script(b, greedy), INGOT_STATUS_OK) << ingot_last_error();
  // Freeing the script detaches it: b falls back to the built-in sampler (greedy at temperature 0).
  ingot_script_free(greedy);
  h.scripts.clear();
  std::string text;
  ASSERT_EQ(ingot_session_generate(b, kOnce.c_str(), params(16, 0.0f, 0, &text), nullptr), INGOT_STATUS_OK);
  EXPECT_EQ(common_prefix(kOnce + text, once_reference()), (kOnce + text).size());
}

// ---- chat prompts -----------------------------------------------------------------------------

TEST(CApiScript, FormatPromptFollowsTheBufferRules) {
  Handles h;
  ingot_script* chat = h.script_file(kSamples + "/scripts/llama2_chat.lua");
  ASSERT_NE(chat, nullptr);
  const ingot_chat_message msgs[] = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "How are you?"}};
  // Meta's llama/generation.py chat_completion format, written out by hand.
  const std::string want =
      "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] How are you? [/INST]";
  size_t n = 0;
  EXPECT_EQ(ingot_script_format_prompt(chat, nullptr, msgs, 4, nullptr, 0, &n), INGOT_STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(n, want.size());
  std::vector<char> buf(want.size() + 1, '#');
  // Room for the text but not the NUL: too small, nothing written.
  EXPECT_EQ(ingot_script_format_prompt(chat, nullptr, msgs, 4, buf.data(), want.size(), &n),
            INGOT_STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(std::string(buf.begin(), buf.end()), std::string(want.size() + 1, '#'));
  ASSERT_EQ(ingot_script_format_prompt(chat, nullptr, msgs, 4, buf.data(), buf.size(), &n), INGOT_STATUS_OK)
      << ingot_last_error();
  EXPECT_EQ(n, want.size());
  EXPECT_EQ(std::string(buf.data()), want);
  EXPECT_STREQ(ingot_last_error(), "");

  // The script's own error names its line.
  const ingot_chat_message wrong[] = {{"assistant", "I speak first"}};
  EXPECT_EQ(ingot_script_format_prompt(chat, nullptr, wrong, 1, buf.data(), buf.size(), &n), INGOT_STATUS_SCRIPT_ERROR);
  const std::string msg = ingot_last_error();
  EXPECT_NE(msg.find("llama2_chat.lua:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("message 1 has role 'assistant', expected 'user'"), std::string::npos) << msg;
  const ingot_chat_message null_role[] = {{nullptr, "x"}};
  EXPECT_EQ(ingot_script_format_prompt(chat, nullptr, null_role, 1, buf.data(), buf.size(), &n),
            INGOT_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(ingot_script_format_prompt(chat, nullptr, msgs, 4, nullptr, 8, &n), INGOT_STATUS_INVALID_ARGUMENT);

  // Without format_prompt: the neutral transcript of spec/scripting.md.
  ingot_script* none = h.script_string("x = 1\n", "none.lua");
  ASSERT_NE(none, nullptr);
  const ingot_chat_message one[] = {{"user", "Hi"}};
  ASSERT_EQ(ingot_script_format_prompt(none, nullptr, one, 1, buf.data(), buf.size(), &n), INGOT_STATUS_OK);
  EXPECT_EQ(std::string(buf.data()), "user: Hi\nassistant:");
}

TEST(CApiScript, CppWrapper) {
  INGOT_REQUIRE_STORIES();
  ingot::model m(stories_model());
  ingot::script chat(kSamples + "/scripts/llama3_chat.lua");
  // ctx.special_tokens comes from the model: stories260K has no <|eot_id|>, the script still runs.
  const std::string prompt = chat.format_prompt({{"user", "Hi"}}, &m);
  EXPECT_EQ(prompt,
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  ingot::session s(m);
  s.set_script(chat);
  ingot::session other(m);
  try {
    other.set_script(chat);
    ADD_FAILURE() << "a script attached twice";
  } catch (const ingot::error& e) {
    EXPECT_EQ(e.status(), INGOT_STATUS_INVALID_ARGUMENT);
  }
  s.clear_script();
  other.set_script(chat);
  try {
    ingot::script::from_string("function f(\n", "bad.lua");
    ADD_FAILURE() << "a syntax error loaded";
  } catch (const ingot::error& e) {
    EXPECT_EQ(e.status(), INGOT_STATUS_SCRIPT_ERROR);
    EXPECT_NE(std::string(e.what()).find("bad.lua:"), std::string::npos) << e.what();
  }
  // A long prompt takes the wrapper's second, exactly sized buffer.
  const std::string long_text(1000, 'a');
  EXPECT_EQ(chat.format_prompt({{"user", long_text}}).size(), prompt.size() - 2 + long_text.size());
}

// ---- threads ----------------------------------------------------------------------------------

// One model, several sessions on several threads, each with its own script: every thread gets
// the single-threaded result (run under ThreadSanitizer by scripts/test.sh, label "capi").
TEST(CApiScript, SessionsWithTheirOwnScriptsOnThreads) {
  INGOT_REQUIRE_STORIES();
  Handles h;
  ASSERT_NE(h.load(), nullptr);
  const std::string top_p = kSamples + "/scripts/top_p.lua";
  const int kThreads = 4;
  // Reference, one thread: each seed's sampled story.
  std::vector<std::string> want(kThreads);
  {
    ingot_session* s = h.session();
    ASSERT_EQ(ingot_session_set_script(s, h.script_file(top_p)), INGOT_STATUS_OK);
    for (int t = 0; t < kThreads; ++t) {
      ingot_session_reset(s);
      ASSERT_EQ(ingot_session_generate(s, kOnce.c_str(), params(32, 0.8f, uint64_t(t + 1), &want[t]), nullptr),
                INGOT_STATUS_OK);
    }
  }
  std::vector<std::string> got(kThreads);
  std::vector<ingot_status> status(kThreads, INGOT_STATUS_INTERNAL);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ingot_session* s = nullptr;
      ingot_script* sc = nullptr;
      status[t] = ingot_session_new(h.model, ingot_session_default_params(), &s);
      if (status[t] == INGOT_STATUS_OK) status[t] = ingot_script_load_file(top_p.c_str(), ingot_script_default_params(), &sc);
      if (status[t] == INGOT_STATUS_OK) status[t] = ingot_session_set_script(s, sc);
      if (status[t] == INGOT_STATUS_OK) {
        status[t] = ingot_session_generate(s, kOnce.c_str(), params(32, 0.8f, uint64_t(t + 1), &got[t]), nullptr);
      }
      ingot_session_free(s);
      ingot_script_free(sc);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(status[t], INGOT_STATUS_OK) << t;
    EXPECT_EQ(got[t], want[t]) << t;
  }
  EXPECT_NE(want[0], want[1]);
}

}  // namespace
}  // namespace ingot::test
