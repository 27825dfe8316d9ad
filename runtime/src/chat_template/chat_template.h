// Hugging Face chat templates: a Jinja2 subset rendered as transformers renders it
// (ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True), loop controls, its tojson,
// raise_exception and strftime_now). docs/chat-templates.md lists what is supported.
//
//   auto t = ingot::chat_template::Template::parse(source);          // throws TemplateError
//   std::string prompt = t.render({{"messages", msgs}, {"add_generation_prompt", true}});
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace ingot::chat_template {

// Every failure: a syntax error, an unsupported construct, an error Jinja2 would raise while
// rendering, a bound exceeded, or the template's own raise_exception(message).
class TemplateError : public std::runtime_error {
 public:
  enum class Kind { syntax, unsupported, render, limit, raised };
  TemplateError(Kind kind, int line, const std::string& message);
  Kind kind() const { return kind_; }
  int line() const { return line_; }               // 0 when unknown
  const std::string& message() const { return message_; }  // without the line prefix
 private:
  Kind kind_;
  int line_;
  std::string message_;
};

// Bounds for hostile templates; each one exceeded is a TemplateError of kind limit.
struct Limits {
  int max_nesting = 200;                 // nested blocks and expressions at parse time
  int max_call_depth = 100;              // macro calls within macro calls
  int64_t max_loop_iterations = 1000000; // all loop iterations of one render together
  size_t max_output_bytes = 16u << 20;   // the rendered text, and any one string value
};

struct RenderOptions {
  Limits limits;
  // The time strftime_now() formats (local time); 0: the time of the call.
  std::time_t now = 0;
};

struct TemplateImpl;

class Template {
 public:
  static Template parse(const std::string& source, const Limits& limits = {});
  // context: a JSON object of the template's variables (messages, add_generation_prompt,
  // bos_token, eos_token, tools, ...). Keys keep their order, as Python dicts do.
  std::string render(const nlohmann::ordered_json& context, const RenderOptions& options = {}) const;

  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;
  ~Template();

 private:
  explicit Template(std::unique_ptr<TemplateImpl> impl);
  std::unique_ptr<TemplateImpl> impl_;
};

// One call: parse, then render.
std::string render(const std::string& source, const nlohmann::ordered_json& context,
                   const RenderOptions& options = {});

}  // namespace ingot::chat_template
