// The globals a script sees: an allow-list of Lua's standard libraries with the unsafe parts taken
// out (Redis's script_lua.c does the same). Nothing here touches files, processes or the clock.
#pragma once

#include <cstdint>

#include <lua.hpp>

namespace ingot::scripting {

// Opens base, string, table, math, utf8 and coroutine in L and removes or replaces the rest:
// no io, os, package/require, debug, dofile, loadfile, string.dump; `load` accepts text only;
// `print` writes to stderr; math.random is seeded with 0 until seed_random() is called.
void open_sandbox(lua_State* L);

// Seeds math.random (xoshiro256** inside Lua) from the run's seed, so a script's random choices
// repeat with the seed.
void seed_random(lua_State* L, uint64_t seed);

}  // namespace ingot::scripting
