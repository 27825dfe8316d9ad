// `ingot chat MODEL [--script FILE]`: a conversation on stdin/stdout. Each input line is a user
// message; the whole history is formatted into one prompt (the script's format_prompt, else
// scripting::plain_chat_prompt) and the reply streamed to stdout. The KV cache is kept between
// turns: only the tokens after the part the cache already holds are evaluated.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "cpu/threads.h"
#include "generate.h"
#include "script_options.h"

namespace ingot::cli {

namespace {
struct ChatArgs {
  std::string model, system;
  int32_t n = 256;
  runtime::SamplerParams sampler;
  int threads = 0;
  size_t ctx = 0;
  ScriptArgs script;
};

// Prompt ids for the formatted conversation: special-token text (e.g. "<|eot_id|>") becomes its
// id; BOS is added when the tokenizer asks for it and the text did not already start with it.
std::vector<int32_t> chat_tokens(const runtime::Model& model, const std::string& text) {
  std::vector<int32_t> ids = model.tokenizer().encode(text, /*parse_special=*/true);
  const fb::Tokenizer* t = model.container().index().tokenizer();
  const int32_t bos = model.dims().bos;
  if ((t == nullptr || t->add_bos()) && bos >= 0 && (ids.empty() || ids[0] != bos)) ids.insert(ids.begin(), bos);
  return ids;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}
}  // namespace

void add_chat(CLI::App& app) {
  auto* cmd = app.add_subcommand("chat", "Chat: one user message per stdin line, replies on stdout");
  static ChatArgs a;
  cmd->add_option("MODEL", a.model, "the .ingot file")->required();
  cmd->add_option("--system", a.system, "a system message opening the conversation");
  cmd->add_option("-n,--n-predict", a.n, "tokens per reply at most")->capture_default_str();
  add_sampling_options(cmd, &a.sampler);
  cmd->add_option("--threads", a.threads, "CPU threads; 0 = all")->capture_default_str();
  cmd->add_option("--ctx", a.ctx, "context length; 0 = the model's");
  add_script_options(cmd, &a.script);
  cmd->callback([] {
    cpu::set_threads(a.threads);
    std::unique_ptr<runtime::Model> model;
    if (!load_text_model("ingot chat", a.model, &model)) throw CLI::RuntimeError(kExitInvalid);
    std::unique_ptr<scripting::Script> script;
    if (!load_script("ingot chat", a.script, *model, &script)) throw CLI::RuntimeError(kExitInvalid);
    runtime::Session session(*model, a.ctx);
    std::vector<scripting::ChatMessage> history;
    if (!a.system.empty()) history.push_back({"system", a.system});
    const bool interactive = isatty(STDIN_FILENO) != 0;
    bool failed = false;
    std::string line;
    for (;;) {
      if (interactive) std::fputs("> ", stderr);
      if (!std::getline(std::cin, line)) break;
      if (trim(line).empty()) continue;
      history.push_back({"user", line});
      std::string prompt_text;
      format::Status s = format::Status::success();
      if (script) {
        s = script->format_prompt(history, &prompt_text);
      } else {
        prompt_text = scripting::plain_chat_prompt(history);
      }
      std::string reply;
      if (s.ok()) {
        // The formatted history is the whole prompt; the cache keeps what it shares with the
        // previous turn's prompt and reply (re-tokenized text may differ: only equal ids count).
        const std::vector<int32_t> prompt = chat_tokens(*model, prompt_text);
        s = runtime::generate(session, prompt, {a.n, a.sampler, script.get(), /*reuse_cache=*/true},
                              [&](int32_t, const std::string& text) {
                                reply += text;
                                std::fwrite(text.data(), 1, text.size(), stdout);
                                std::fflush(stdout);
                                return true;
                              },
                              nullptr);
        std::printf("\n");
        std::fflush(stdout);
      }
      if (!s.ok()) {
        // The turn is dropped; the conversation (and the model) carry on with the next line.
        std::fprintf(stderr, "ingot chat: %s\n", s.message().c_str());
        history.pop_back();
        failed = true;
        continue;
      }
      history.push_back({"assistant", trim(reply)});
    }
    if (failed) throw CLI::RuntimeError(kExitInvalid);
  });
}

}  // namespace ingot::cli
