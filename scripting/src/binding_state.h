// What the logits and ctx bindings read and write while a hook runs. Owned by the Script; the Vm's
// user pointer points at it. Scratch vectors live here, not on the C stack, because a Lua error
// unwinds with longjmp and would skip the destructors of locals.
#pragma once

#include <cstdint>
#include <cstdio>
#include <exception>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "generate.h"
#include "model/model.h"
#include "vm.h"

namespace ingot::scripting {

struct BindingState {
  const runtime::Model* model = nullptr;  // may be null (format_prompt without a model)
  runtime::HookContext hook;              // the generation in progress (empty history outside one)

  std::span<float> logits;                // (vocab) the buffer the current hook may change; empty outside
  std::mt19937_64 rng{0};                 // ctx:random and logits:sample_top_p; seeded by begin()

  // Scratch for the bindings (reused across calls; see the file comment).
  std::vector<int32_t> ids;
  std::vector<float> values;
  std::vector<double> probs;
  std::string text;
  std::unordered_map<std::string, int32_t> piece_to_id;  // built on the first ctx:token_id call
  bool piece_map_built = false;

  // A uniform double in [0, 1): the same formula as runtime::Sampler::uniform, so a script and the
  // built-in sampler draw the same numbers from the same seed.
  double uniform() { return double(rng() >> 11) * 0x1.0p-53; }
};

inline BindingState& binding_state(lua_State* L) { return *static_cast<BindingState*>(Vm::of(L).user()); }

// Runs C++ work that may throw (allocation, tokenizer errors) and raises the exception's message,
// prefixed with `fn`, as a Lua error only after the handler has finished, so no C++ frame is live
// when Lua unwinds with longjmp (it would skip destructors).
template <typename F>
void guarded(lua_State* L, const char* fn, F&& work) {
  char message[256];
  message[0] = '\0';
  try {
    work();
  } catch (const std::exception& e) {
    std::snprintf(message, sizeof message, "%s: %s", fn, e.what());
  }
  if (message[0] != '\0') luaL_error(L, "%s", message);
}

}  // namespace ingot::scripting
