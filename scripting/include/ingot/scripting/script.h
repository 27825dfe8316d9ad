// A Lua script that customises generation: shapes logits, picks tokens, watches the stream and
// builds chat prompts. Runs sandboxed (allow-listed libraries, text chunks only) with a memory cap
// and an instruction budget per hook call. The hooks and the `logits`/`ctx` API are specified in
// spec/scripting.md. No exception leaves this class; every failure is a format::Status naming the
// script, the hook, the file and line, and the reason (StatusCode::script_error).
//
// One Script serves one generation at a time (one thread); load another for another session.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "generate.h"
#include "ingot/format/status.h"

namespace ingot::scripting {

struct Limits {
  uint64_t max_instructions = 50'000'000;  // Lua VM instructions per hook call (about 0.1-0.5 s)
  size_t max_memory = size_t(64) << 20;    // bytes the whole Lua state may hold
};

struct ChatMessage {
  std::string role;     // "system", "user", "assistant"
  std::string content;
};

// The prompt format used when no script defines format_prompt: "role: content\n" per message,
// then "assistant:" (a neutral transcript for models without a chat format).
std::string plain_chat_prompt(const std::vector<ChatMessage>& messages);

class Script final : public runtime::GenerationHooks {
 public:
  // Loads and runs the script's main chunk (under the limits). `name` is used in messages.
  static format::Status load_file(const std::string& path, const Limits& limits, std::unique_ptr<Script>* out);
  static format::Status load_string(std::string_view code, const std::string& name, const Limits& limits,
                                    std::unique_ptr<Script>* out);
  ~Script() override;

  const std::string& name() const { return name_; }
  // Whether the script defines the hook: "process_logits", "sample", "on_token", "format_prompt".
  bool has_hook(std::string_view hook) const;
  // The model ctx describes (vocabulary, tokenizer, special tokens, chat template); generate()
  // attaches its own model, so this is needed only for format_prompt outside generation.
  format::Status attach(const runtime::Model* model);
  // The script's format_prompt(messages, ctx), or plain_chat_prompt when it has none.
  format::Status format_prompt(const std::vector<ChatMessage>& messages, std::string* out);
  // Bytes the Lua state holds now.
  size_t memory_used() const;

  // runtime::GenerationHooks
  format::Status begin(const runtime::HookContext& ctx) override;
  bool has_process_logits() const override { return refs_[kProcessLogits] >= 0; }
  format::Status process_logits(std::span<float> logits, const runtime::HookContext& ctx) override;
  bool has_sample() const override { return refs_[kSample] >= 0; }
  format::Status sample(std::span<float> logits, const runtime::HookContext& ctx, int32_t* token) override;
  bool has_on_token() const override { return refs_[kOnToken] >= 0; }
  format::Status on_token(int32_t token, const std::string& text, const runtime::HookContext& ctx,
                          runtime::TokenAction* action) override;

  // Hook indices (refs_, where_); also the order of kHookNames in script.cpp.
  enum Hook { kProcessLogits, kSample, kOnToken, kFormatPrompt, kHookCount };

 private:
  struct Impl;
  Script();
  format::Status call_hook(Hook hook, const runtime::HookContext* ctx, std::span<float> logits, int32_t token,
                           const std::string* text, const std::vector<ChatMessage>* messages);
  std::string what(Hook hook) const;

  std::string name_;
  std::unique_ptr<Impl> impl_;  // the BindingState and then the Vm (destroyed in that reverse order)
  int refs_[kHookCount] = {-1, -1, -1, -1};  // registry references of the hook functions; -1: absent
  std::string where_[kHookCount];           // "file:line" where each hook is defined
};

}  // namespace ingot::scripting
