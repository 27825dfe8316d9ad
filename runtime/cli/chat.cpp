// `ingot chat MODEL [--script FILE]`: a conversation on stdin/stdout. Each input line is a user
// message; the whole history is formatted into one prompt (the script's format_prompt, else the
// container's chat template, else scripting::plain_chat_prompt) and the reply streamed to stdout. The KV cache is kept between
// turns: only the tokens after the part the cache already holds are evaluated.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "chat_template/model_template.h"
#include "commands.h"
#include "generate.h"
#include "script_options.h"

namespace ingot::cli {

namespace {
struct ChatArgs : GenerationArgs {
  std::string system;
};

// The history through the container's chat template, as transformers renders it.
format::Status render_template(const runtime::Model& model, const std::vector<scripting::ChatMessage>& history,
                               std::string* out) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  for (const auto& m : history) messages.push_back({{"role", m.role}, {"content", m.content}});
  try {
    *out = runtime::render_model_chat_template(model, messages, /*add_generation_prompt=*/true);
  } catch (const chat_template::TemplateError& e) {
    return format::Status(format::StatusCode::invalid_argument, e.what());
  }
  return format::Status::success();
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
  add_generation_options(cmd, &a, "tokens per reply at most");
  cmd->add_option("--system", a.system, "a system message opening the conversation");
  cmd->callback([] {
    std::unique_ptr<runtime::Model> model;
    std::unique_ptr<scripting::Script> script;
    if (!load_generation("ingot chat", a, &model, &script)) throw CLI::RuntimeError(kExitInvalid);
    runtime::Session session(*model, a.ctx);
    const bool script_formats = script && script->has_hook("format_prompt");
    const bool use_template = !script_formats && !runtime::model_chat_template(*model).empty();
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
      if (script_formats) {
        s = script->format_prompt(history, &prompt_text);
      } else if (use_template) {
        s = render_template(*model, history, &prompt_text);
      } else {
        prompt_text = scripting::plain_chat_prompt(history);
      }
      std::string reply;
      if (s.ok()) {
        // The formatted history is the whole prompt; the cache keeps what it shares with the
        // previous turn's prompt and reply (re-tokenized text may differ: only equal ids count).
        const std::vector<int32_t> prompt = runtime::prompt_tokens(*model, prompt_text, /*parse_special=*/true);
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
