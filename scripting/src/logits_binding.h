// The `logits` userdata: a view of the runtime's (vocab) float buffer with vectorised methods in
// C++ (no copy into a Lua table). One userdata lives for the whole state; it points at the buffer
// only while a hook that received it runs, so a script that keeps it gets an error, not a
// dangling pointer. Methods are listed in spec/scripting.md.
#pragma once

#include <lua.hpp>

namespace ingot::scripting {

// Creates the metatable and the userdata and keeps it in the registry. Call in protected mode.
void open_logits(lua_State* L);

// Pushes the logits userdata (which reads BindingState::logits).
void push_logits(lua_State* L);

}  // namespace ingot::scripting
