// libFuzzer target over the chat-template engine (runtime/src/chat_template): every input is a
// template; it is parsed and, when it parses, rendered on a small conversation with tight limits.
// A TemplateError (with a message) is the only acceptable failure; anything else, a crash or a
// sanitizer report is a bug.
//
//   cmake --build build-fuzz --target fuzz_chat_template make_chat_template_seeds
//   build-fuzz/tests/fuzz/make_chat_template_seeds seeds && build-fuzz/tests/fuzz/fuzz_chat_template corpus seeds
#include <cstddef>
#include <cstdint>
#include <string>

#include "chat_template/chat_template.h"

namespace ct = ingot::chat_template;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                 {"role": "assistant", "content": "", "tool_calls": [{"id": "abc123XYZ", "type": "function",
                  "function": {"name": "f", "arguments": {"x": 1}}}]},
                 {"role": "tool", "content": "{\"y\": 2}"}, {"role": "user", "content": [{"type": "text", "text": "ok"}]}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
  ct::RenderOptions options;
  options.now = 1721995200;
  options.limits.max_nesting = 64;
  options.limits.max_call_depth = 16;
  options.limits.max_loop_iterations = 20000;
  options.limits.max_output_bytes = 1 << 20;
  const std::string source(reinterpret_cast<const char*>(data), size);
  try {
    ct::Template t = ct::Template::parse(source, options.limits);
    std::string out = t.render(context, options);
    if (out.size() > options.limits.max_output_bytes) __builtin_trap();
  } catch (const ct::TemplateError& e) {
    if (std::string(e.what()).empty()) __builtin_trap();
  }
  return 0;
}
