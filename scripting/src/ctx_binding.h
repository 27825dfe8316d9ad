// The `ctx` table every hook receives: the run's seeded RNG, the token history, the position,
// tokenizer and vocabulary lookups and the model's special tokens and chat template. Methods read
// BindingState; fields are refreshed before each hook call. Listed in spec/scripting.md.
#pragma once

#include <lua.hpp>

namespace ingot::scripting {

// Creates the ctx table and its methods and keeps it in the registry. Call in protected mode.
void open_ctx(lua_State* L);

// Sets the fields that come from the model (BindingState::model; cleared when null). Protected mode.
void set_ctx_model(lua_State* L);

// Pushes ctx after refreshing position, n_prompt, n_generated and seed from BindingState::hook.
void push_ctx(lua_State* L);

}  // namespace ingot::scripting
