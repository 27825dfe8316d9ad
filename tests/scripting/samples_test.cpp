// Every script in samples/scripts/ on stories260K, against independent references: llama2.c's
// greedy text in shared/reference, the built-in C++ sampler with the same settings and seed, the
// chat formats as Meta's reference code writes them, and the `ingot run/chat --script` commands.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "emit.h"
#include "generate.h"
#include "import/llama2c.h"
#include "import/tokenizer_files.h"
#include "ingot/scripting/script.h"
#include "run_command.h"
#include "sample_container.h"
#include "shared_assets.h"

namespace ingot::test {
namespace {

using scripting::Script;

const char* kCheckpoint = "models/stories260K/stories260K.bin";

std::string sample_script(const std::string& name) { return std::string(INGOT_SOURCE_DIR) + "/samples/scripts/" + name; }

std::unique_ptr<Script> load(const std::string& name) {
  std::unique_ptr<Script> s;
  const format::Status st = Script::load_file(sample_script(name), {}, &s);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return s;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

struct Generation {
  format::Status status;
  std::vector<int32_t> ids;
  std::string text;
  runtime::GenerateStats stats;
};

// One process-wide stories260K container (f32), compiled once for the suite.
class Samples : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!shared_exists(kCheckpoint)) return;
    dir_ = new TempDir();
    compiler::SourceModel src;
    format::Status s = compiler::import_llama2c(shared_path(kCheckpoint), &src);
    if (s.ok()) s = compiler::import_tokenizer_file(shared_path("models/stories260K/tok512.model"), &src);
    compiler::EmitOptions opt;
    opt.dtype = fb::DType::F32;
    path_ = dir_->file("stories260K.ingot");
    if (s.ok()) s = compiler::emit(src, path_, opt);
    if (s.ok()) s = runtime::Model::load(path_, {}, &model_);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  static void TearDownTestSuite() {
    model_.reset();
    delete dir_;
  }
  void SetUp() override { INGOT_REQUIRE_SHARED(kCheckpoint); }

  static Generation generate(const std::string& prompt, int n, runtime::SamplerParams sp, runtime::GenerationHooks* hooks,
                      runtime::Session* session = nullptr) {
    runtime::Session own(*model_);
    runtime::Session& s = session != nullptr ? *session : own;
    Generation r;
    r.status = runtime::generate(s, runtime::prompt_tokens(*model_, prompt), {n, sp, hooks},
                                 [&](int32_t id, const std::string& text) {
                                   r.ids.push_back(id);
                                   r.text += text;
                                   return true;
                                 },
                                 &r.stats);
    return r;
  }
  static runtime::SamplerParams greedy() {
    runtime::SamplerParams p;
    p.temperature = 0;
    return p;
  }

  static TempDir* dir_;
  static std::string path_;
  static std::unique_ptr<runtime::Model> model_;
};
TempDir* Samples::dir_ = nullptr;
std::string Samples::path_;
std::unique_ptr<runtime::Model> Samples::model_;

// --- the CLI -----------------------------------------------------------------------------------

using Output = CommandResult;

Output sh(const std::string& cmd) { return run_command(cmd); }

// llama2.c run.c's continuation of "Once upon a time" (the reference file holds prompt + text).
std::string reference_continuation() {
  const std::string want = slurp(shared_path("reference/stories260K-once-upon-a-time.txt"));
  return want.substr(std::string("Once upon a time").size());
}

TEST_F(Samples, GreedyScriptReproducesRunCAndTheBuiltInGreedy) {
  auto script = load("greedy.lua");
  runtime::SamplerParams hot;  // the script decides; the built-in settings must not matter
  hot.temperature = 1.5f;
  const Generation lua = generate("Once upon a time", 110, hot, script.get());
  ASSERT_TRUE(lua.status.ok()) << lua.status.to_string();
  const Generation builtin = generate("Once upon a time", 110, greedy(), nullptr);
  EXPECT_EQ(lua.ids, builtin.ids);
  const std::string want = reference_continuation();
  size_t common = 0;
  while (common < std::min(want.size(), lua.text.size()) && want[common] == lua.text[common]) ++common;
  EXPECT_GE(common, want.size() * 9 / 10) << "got:\n" << lua.text << "\nwant:\n" << want;
}

TEST_F(Samples, TopPScriptDrawsWhatTheBuiltInSamplerDraws) {
  for (uint64_t seed : {1, 2, 3}) {
    auto script = load("top_p.lua");
    runtime::SamplerParams p;
    p.temperature = 0.8f, p.top_k = 0, p.top_p = 0.95f, p.seed = seed;
    const Generation lua = generate("Once upon a time", 80, p, script.get());
    ASSERT_TRUE(lua.status.ok()) << lua.status.to_string();
    const Generation builtin = generate("Once upon a time", 80, p, nullptr);
    EXPECT_EQ(lua.ids, builtin.ids) << "seed " << seed << "\nlua: " << lua.text << "\nbuilt-in: " << builtin.text;
    EXPECT_NE(lua.ids, generate("Once upon a time", 80, greedy(), nullptr).ids);  // it samples
  }
}

TEST_F(Samples, RepetitionPenaltyScriptEqualsTheBuiltInPenalty) {
  auto script = load("repetition_penalty.lua");
  runtime::SamplerParams p = greedy();
  const Generation lua = generate("Lily and Tom went to the park", 100, p, script.get());
  ASSERT_TRUE(lua.status.ok()) << lua.status.to_string();
  p.repeat_penalty = 1.1f, p.repeat_last_n = 64;
  const Generation builtin = generate("Lily and Tom went to the park", 100, p, nullptr);
  EXPECT_EQ(lua.ids, builtin.ids);
  EXPECT_NE(lua.ids, generate("Lily and Tom went to the park", 100, greedy(), nullptr).ids);  // it penalises
}

TEST_F(Samples, StopSequencesEndBeforeTheFirstStop) {
  auto script = load("stop_sequences.lua");
  for (int round = 0; round < 2; ++round) {  // state is reset for a new generation
    const Generation r = generate("Once upon a time", 100, greedy(), script.get());
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    EXPECT_TRUE(r.stats.stopped_by_hook);
    const std::string want = reference_continuation();  // ", there was a little girl named Lily. ..."
    const size_t dot = want.find('.');
    ASSERT_NE(dot, std::string::npos);
    EXPECT_EQ(want.compare(0, r.text.size(), r.text), 0) << r.text;
    EXPECT_EQ(r.text.find('.'), std::string::npos) << r.text;
    EXPECT_LE(r.text.size(), dot);
    EXPECT_GE(r.text.size() + 8, dot) << r.text;  // only the token holding "." was dropped
  }
}

TEST_F(Samples, DigitsOnlyScriptGeneratesDigits) {
  auto script = load("digits_only.lua");
  runtime::SamplerParams p;
  p.seed = 5;
  const Generation r = generate("Once upon a time", 24, p, script.get());
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_EQ(r.ids.size(), 24u);  // EOS is not a digit: the whole budget is used
  EXPECT_FALSE(r.text.empty());
  EXPECT_EQ(r.text.find_first_not_of("0123456789 "), std::string::npos) << r.text;
  EXPECT_NE(r.text.find_first_of("0123456789"), std::string::npos) << r.text;
}

// Meta's reference formats, written out by hand from llama/generation.py (LLaMA-2) and
// llama3/tokenizer.py ChatFormat (LLaMA-3).
const std::vector<scripting::ChatMessage> kConversation = {
    {"system", "You are terse."}, {"user", "Hi there"}, {"assistant", "Hello!"}, {"user", " Tell me a story "}};

TEST_F(Samples, Llama2ChatTemplate) {
  auto script = load("llama2_chat.lua");
  std::string got;
  ASSERT_TRUE(script->format_prompt(kConversation, &got).ok());
  EXPECT_EQ(got,
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello! </s>"
            "<s>[INST] Tell me a story [/INST]");
  const format::Status s = script->format_prompt({{"assistant", "x"}}, &got);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("llama2_chat.lua:"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("message 1 has role 'assistant', expected 'user'"), std::string::npos) << s.message();
}

TEST_F(Samples, Llama3ChatTemplate) {
  auto script = load("llama3_chat.lua");
  std::string got;
  ASSERT_TRUE(script->format_prompt(kConversation, &got).ok());
  EXPECT_EQ(got,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nTell me a story<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

// stories260K's weights with LLaMA-3's tokenizer (embedding rows past 512 are zero): a container
// with a real LLaMA-3 vocabulary, special tokens and chat template, small enough for a test.
TEST_F(Samples, Llama3ChatOnTheLlama3Vocabulary) {
  INGOT_REQUIRE_SHARED("models/llama3-tokenizer/tokenizer.json");
  compiler::SourceModel src;
  ASSERT_TRUE(compiler::import_llama2c(shared_path(kCheckpoint), &src).ok());
  const uint64_t vocab = 128256, dim = src.config.dim;
  src.config.vocab_size = uint32_t(vocab);
  for (compiler::SourceTensor& t : src.tensors) {
    if (t.name != "tok_embeddings.weight" && t.name != "output.weight") continue;
    std::vector<uint8_t> rows(vocab * dim * 4, 0);
    std::copy(t.bytes.begin(), t.bytes.end(), rows.begin());
    t.owned = std::move(rows);
    t.bytes = t.owned;
    t.shape = {vocab, dim};
  }
  format::Status st = compiler::import_tokenizer_file(shared_path("models/llama3-tokenizer/tokenizer.json"), &src);
  ASSERT_TRUE(st.ok()) << st.to_string();
  compiler::EmitOptions opt;
  opt.dtype = fb::DType::F32;
  const std::string path = dir_->file("stories-llama3-vocab.ingot");
  st = compiler::emit(src, path, opt);
  ASSERT_TRUE(st.ok()) << st.to_string();
  std::unique_ptr<runtime::Model> m;
  st = runtime::Model::load(path, {}, &m);
  ASSERT_TRUE(st.ok()) << st.to_string();

  auto script = load("llama3_chat.lua");
  ASSERT_TRUE(script->attach(m.get()).ok());
  std::string prompt;
  ASSERT_TRUE(script->format_prompt(kConversation, &prompt).ok());
  // Meta's ids: <|begin_of_text|> 128000, <|start_header_id|> 128006, <|end_header_id|> 128007,
  // <|eot_id|> 128009.
  const std::vector<int32_t> ids = m->tokenizer().encode(prompt, /*parse_special=*/true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 128000);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 128006), 5);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 128007), 5);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 128009), 4);
  EXPECT_EQ(ids.back(), m->tokenizer().encode("\n\n").back());
  // on_token ends the reply at <|eot_id|>, whose text is not passed on.
  runtime::HookContext hc;
  hc.model = m.get();
  runtime::TokenAction action;
  ASSERT_TRUE(script->on_token(128009, "<|eot_id|>", hc, &action).ok());
  EXPECT_EQ(action, runtime::TokenAction::drop_stop);
  ASSERT_TRUE(script->on_token(1234, "x", hc, &action).ok());
  EXPECT_EQ(action, runtime::TokenAction::keep);
  // ctx sees the container's special tokens and the chat template from tokenizer_config.json.
  std::unique_ptr<Script> probe;
  ASSERT_TRUE(Script::load_string(
                  "function format_prompt(m, ctx)\n  return ctx.special_tokens['<|eot_id|>'] .. ' ' .. "
                  "tostring(ctx.chat_template:find('start_header_id', 1, true) ~= nil) .. ' ' .. ctx.bos\nend",
                  "probe.lua", {}, &probe)
                  .ok());
  ASSERT_TRUE(probe->attach(m.get()).ok());
  std::string got;
  st = probe->format_prompt({}, &got);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(got, "128009 true 128000");
  // A whole chat turn runs (the reply is noise: these weights never saw this vocabulary).
  const Output r = sh("printf 'Hi\\n' | " + std::string(INGOT_BIN) + " chat " + path + " -n 4 --script " +
                      sample_script("llama3_chat.lua") + " 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST_F(Samples, CtxExposesTheTokenizerAndTheModel) {
  std::unique_ptr<Script> s;
  ASSERT_TRUE(Script::load_string(R"(
    function format_prompt(m, ctx)
      local ids = ctx:tokenize(m[1].content)
      assert(ctx.n_vocab == 512 and ctx.bos == 1 and ctx.eos == 2 and ctx.eos_ids[1] == 2)
      assert(ctx:token_id(ctx:piece(ids[1])) == ids[1])
      assert(ctx:token_id("no such piece") == nil)
      assert(ctx:is_eos(2) and not ctx:is_eos(3))
      return table.concat(ids, ",") .. "|" .. ctx:detokenize(ids) .. "|" .. ctx:piece(ids[1])
    end)", "ctx.lua", {}, &s).ok());
  ASSERT_TRUE(s->attach(model_.get()).ok());
  std::string got;
  const format::Status st = s->format_prompt({{"user", "Lily and Tom"}}, &got);
  ASSERT_TRUE(st.ok()) << st.to_string();
  const std::vector<int32_t> ids = model_->tokenizer().encode("Lily and Tom");
  std::string want;
  for (size_t i = 0; i < ids.size(); ++i) want += (i ? "," : "") + std::to_string(ids[i]);
  want += "|" + model_->tokenizer().decode(ids) + "|" + std::string(model_->tokenizer().piece(ids[0]));
  EXPECT_EQ(got, want);
}

TEST_F(Samples, CtxChatTemplateIsTheContainers) {
  // A container whose tokenizer carries a chat template (as the HF importer stores it).
  compiler::SourceModel src;
  ASSERT_TRUE(compiler::import_llama2c(shared_path(kCheckpoint), &src).ok());
  ASSERT_TRUE(compiler::import_tokenizer_file(shared_path("models/stories260K/tok512.model"), &src).ok());
  const std::string tmpl = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}";
  src.tokenizer.chat_template = tmpl;
  const std::string path = dir_->file("with-template.ingot");
  ASSERT_TRUE(compiler::emit(src, path, {}).ok());
  std::unique_ptr<runtime::Model> m;
  ASSERT_TRUE(runtime::Model::load(path, {}, &m).ok());
  std::unique_ptr<Script> s;
  ASSERT_TRUE(Script::load_string("function format_prompt(m, ctx) return ctx.chat_template or 'none' end", "t.lua", {},
                                  &s).ok());
  std::string got;
  ASSERT_TRUE(s->format_prompt({{"user", "x"}}, &got).ok());
  EXPECT_EQ(got, "none");  // no model attached yet
  ASSERT_TRUE(s->attach(m.get()).ok());
  ASSERT_TRUE(s->format_prompt({{"user", "x"}}, &got).ok());
  EXPECT_EQ(got, tmpl);
  ASSERT_TRUE(s->attach(model_.get()).ok());  // stories260K itself has none
  ASSERT_TRUE(s->format_prompt({{"user", "x"}}, &got).ok());
  EXPECT_EQ(got, "none");
}

TEST_F(Samples, HistoryAndPositionFollowTheGeneration) {
  std::unique_ptr<Script> s;
  ASSERT_TRUE(Script::load_string(R"(
    function sample(l, ctx)
      local h = ctx:history()
      assert(#h == ctx.n_prompt + ctx.n_generated, "history length")
      assert(ctx.position == #h, "position")
      local r = ctx:recent(3)
      assert(#r == math.min(3, #h) and r[#r] == h[#h], "recent")
      return l:argmax()
    end)", "history.lua", {}, &s).ok());
  const Generation r = generate("Once upon a time", 30, greedy(), s.get());
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_EQ(r.ids, generate("Once upon a time", 30, greedy(), nullptr).ids);
}

TEST_F(Samples, AFailingScriptStopsGenerationAndLeavesTheModelUsable) {
  std::unique_ptr<Script> s;
  ASSERT_TRUE(Script::load_string("function process_logits(l, ctx)\n  if ctx.n_generated == 5 then\n"
                                  "    local x = nil .. 'x'\n  end\nend",
                                  "failing.lua", {}, &s).ok());
  runtime::Session session(*model_);
  const Generation bad = generate("Once upon a time", 50, greedy(), s.get(), &session);
  ASSERT_FALSE(bad.status.ok());
  EXPECT_EQ(bad.status.code(), format::StatusCode::script_error);
  EXPECT_NE(bad.status.message().find("script 'failing.lua', process_logits: failing.lua:3: attempt to concatenate"),
            std::string::npos) << bad.status.message();
  EXPECT_EQ(bad.ids.size(), 5u);
  // The same session, reset, and a second one give the greedy text again.
  session.reset();
  const Generation again = generate("Once upon a time", 50, greedy(), nullptr, &session);
  ASSERT_TRUE(again.status.ok());
  EXPECT_EQ(again.ids, generate("Once upon a time", 50, greedy(), nullptr).ids);
  std::vector<int32_t> first5(again.ids.begin(), again.ids.begin() + 5);
  EXPECT_EQ(bad.ids, first5);
  // A sampler choosing an id outside the vocabulary is stopped the same way.
  ASSERT_TRUE(Script::load_string("function sample(l, ctx)\n  return ctx.n_vocab\nend", "range.lua", {}, &s).ok());
  const Generation out = generate("Once", 5, greedy(), s.get());
  EXPECT_NE(out.status.message().find("range.lua:1: returned token id 512, outside the vocabulary [0, 512)"),
            std::string::npos) << out.status.message();
  // A mask that leaves nothing is an error, not token 0.
  ASSERT_TRUE(Script::load_string("function process_logits(l, ctx)\n  l:allow({})\nend", "empty.lua", {}, &s).ok());
  const std::string empty = generate("Once", 5, greedy(), s.get()).status.message();
  EXPECT_NE(empty.find("script 'empty.lua', process_logits: empty.lua:1: left no token with a finite logit"),
            std::string::npos) << empty;
}

TEST_F(Samples, RunWithAScript) {
  const std::string want = slurp(shared_path("reference/stories260K-once-upon-a-time.txt"));
  Output r = sh(std::string(INGOT_BIN) + " run " + path_ + " -p 'Once upon a time' -n 110 --temp 1.5 --script " +
                sample_script("greedy.lua") + " 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0);
  size_t common = 0;
  while (common < std::min(want.size(), r.out.size()) && want[common] == r.out[common]) ++common;
  EXPECT_GE(common, want.size() * 9 / 10) << r.out;

  r = sh(std::string(INGOT_BIN) + " run " + path_ + " -p 'Once upon a time' -n 100 --temp 0 --script " +
         sample_script("stop_sequences.lua") + " 2>&1");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("stopped by the script"), std::string::npos) << r.out;

  const std::string bad = dir_->file("bad.lua");
  std::ofstream(bad) << "function sample(l, ctx)\n  while true do end\nend\n";
  r = sh(std::string(INGOT_BIN) + " run " + path_ + " -p Once -n 5 --script-instructions 100000 --script " + bad + " 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("bad.lua:2: instruction budget of 100000 exceeded"), std::string::npos) << r.out;

  r = sh(std::string(INGOT_BIN) + " run " + path_ + " -p Once --script " + dir_->file("missing.lua") + " 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("missing.lua"), std::string::npos) << r.out;
}

TEST_F(Samples, BenchReportsTheScriptOverhead) {
  const Output r = sh(std::string(INGOT_BIN) + " bench " + path_ +
                      " --prompt 4 --gen 8 --repeats 1 --threads 1 --script-overhead --json 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const nlohmann::json& o = j.at("script_overhead");
  EXPECT_EQ(o.at("vocab"), 512);
  for (const char* k : {"top_p", "repetition_penalty"}) {
    EXPECT_GT(o.at(k).at("builtin_us").get<double>(), 0) << k;
    EXPECT_GT(o.at(k).at("lua_us").get<double>(), 0) << k;
  }
  EXPECT_GT(o.at("empty_hook_us").get<double>(), 0);
}

TEST_F(Samples, ChatKeepsTheHistoryAndUsesFormatPrompt) {
  // A script that shows what chat hands format_prompt: the turns so far, by role.
  const std::string script = dir_->file("echo_chat.lua");
  std::ofstream(script) << R"(
function format_prompt(messages, ctx)
  local roles = {}
  for i, m in ipairs(messages) do roles[i] = m.role end
  io_log = table.concat(roles, ",")
  print(#messages .. " " .. io_log)
  return "Once upon a time"
end
)";
  const Output r = sh("printf 'Hello\\n\\nHow are you\\n' | " + std::string(INGOT_BIN) + " chat " + path_ +
                      " --temp 0 -n 12 --script " + script + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // print() goes to stderr with a prefix; here both streams are merged.
  EXPECT_NE(r.out.find("[script] 1 user\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[script] 3 user,assistant,user\n"), std::string::npos) << r.out;
  // Both replies are the greedy continuation of the formatted prompt.
  const std::string want = reference_continuation().substr(0, 20);
  size_t first = r.out.find(want);
  ASSERT_NE(first, std::string::npos) << r.out;
  EXPECT_NE(r.out.find(want, first + 1), std::string::npos) << r.out;

  const Output plain = sh("printf 'Hello\\n' | " + std::string(INGOT_BIN) + " chat " + path_ + " --temp 0 -n 4 2>&1");
  EXPECT_EQ(plain.exit_code, 0) << plain.out;
}

}  // namespace
}  // namespace ingot::test
