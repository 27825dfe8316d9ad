// samples/chat: an interactive chat on the C++ wrapper (ingot.hpp) with a Lua chat template.
//
//   chat MODEL.ingot TEMPLATE.lua [-n N] [--temp T] [--seed S] [--system TEXT]
//
// Each stdin line is a user message. The whole conversation is formatted by the script's
// format_prompt (samples/scripts/llama2_chat.lua, llama3_chat.lua, or story.lua here for a model
// that is no chat model) and handed to generate_from_start, which evaluates only what the
// session does not already hold; the reply is streamed to stdout, one line per reply. The script stays attached to the session, so its other hooks (on_token stop
// rules, a custom sample) shape the reply too. The same conversation as `ingot chat --script`.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ingot/ingot.hpp>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

int usage() {
  std::fprintf(stderr, "usage: chat MODEL.ingot TEMPLATE.lua [-n N] [--temp T] [--seed S] [--system TEXT]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string model_path = argv[1], script_path = argv[2];
  std::string system;
  ingot_generate_params params = ingot_generate_default_params();
  params.n_predict = 256;
  params.parse_special = true;  // the template writes special tokens ("<s>", "<|eot_id|>") as text
  for (int i = 3; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return usage();
    const char* value = argv[++i];
    if (flag == "-n") {
      params.n_predict = std::atoi(value);
    } else if (flag == "--temp") {
      params.sampler.temperature = std::strtof(value, nullptr);
    } else if (flag == "--seed") {
      params.sampler.seed = std::strtoull(value, nullptr, 10);
    } else if (flag == "--system") {
      system = value;
    } else {
      return usage();
    }
  }

  try {
    ingot::model model(model_path);
    ingot::script chat_template(script_path);
    ingot::session session(model);
    session.set_script(chat_template);  // the session borrows it: declared before, freed after

    std::vector<ingot::chat_message> history;
    if (!system.empty()) history.push_back({"system", system});
    const bool interactive = isatty(STDIN_FILENO) != 0;
    bool failed = false;
    std::string line;
    for (;;) {
      if (interactive) std::fputs("> ", stderr);
      if (!std::getline(std::cin, line)) break;
      if (trim(line).empty()) continue;
      history.push_back({"user", line});
      std::string reply;
      try {
        const std::string prompt = chat_template.format_prompt(history);
        // The formatted history is the whole prompt; the session reuses what it already holds.
        session.generate_from_start(prompt, params, [&](int32_t, std::string_view text) {
          reply.append(text);
          std::fwrite(text.data(), 1, text.size(), stdout);
          std::fflush(stdout);
          return true;
        });
        std::printf("\n");
        std::fflush(stdout);
      } catch (const ingot::error& e) {
        // A script error or a full context drops this turn; the conversation carries on.
        std::fprintf(stderr, "chat: %s\n", e.what());
        history.pop_back();
        failed = true;
        continue;
      }
      history.push_back({"assistant", trim(reply)});
    }
    return failed ? 1 : 0;
  } catch (const ingot::error& e) {
    std::fprintf(stderr, "chat: %s\n", e.what());
    return 1;
  }
}
