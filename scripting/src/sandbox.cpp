#include "sandbox.h"

#include <cstdio>

namespace ingot::scripting {

namespace {

// Registry key of Lua's own math.randomseed, which the sandboxed version calls.
const char* kRandomseed = "ingot.math.randomseed";

// load(chunk [, chunkname [, mode [, env]]]) restricted to text: a binary chunk can crash the VM
// (Lua does not verify bytecode), so mode is always "t" and reader functions are refused.
int sandbox_load(lua_State* L) {
  size_t len = 0;
  const char* code = lua_tolstring(L, 1, &len);
  if (code == nullptr || lua_type(L, 1) != LUA_TSTRING) {
    luaL_pushfail(L);
    lua_pushstring(L, "load: only strings of Lua source are accepted in the sandbox");
    return 2;
  }
  const char* name = luaL_optstring(L, 2, code);
  const char* mode = luaL_optstring(L, 3, "t");
  if (mode[0] != 't' || mode[1] != '\0') {
    luaL_pushfail(L);
    lua_pushstring(L, "load: only text chunks (mode \"t\") are accepted in the sandbox");
    return 2;
  }
  const bool has_env = !lua_isnone(L, 4);
  if (luaL_loadbufferx(L, code, len, name, "t") != LUA_OK) {
    luaL_pushfail(L);
    lua_insert(L, -2);  // fail, message
    return 2;
  }
  if (has_env) {
    lua_pushvalue(L, 4);
    if (lua_setupvalue(L, -2, 1) == nullptr) lua_pop(L, 1);  // the first upvalue of a main chunk is _ENV
  }
  return 1;
}

// print(...) to stderr: stdout carries the generated text.
int sandbox_print(lua_State* L) {
  const int n = lua_gettop(L);
  std::fputs("[script] ", stderr);
  for (int i = 1; i <= n; ++i) {
    size_t len = 0;
    const char* s = luaL_tolstring(L, i, &len);
    if (i > 1) std::fputc('\t', stderr);
    std::fwrite(s, 1, len, stderr);
    lua_pop(L, 1);
  }
  std::fputc('\n', stderr);
  return 0;
}

// math.randomseed(x [, y]): an argument is required; Lua's no-argument form seeds from the clock,
// which would make runs irreproducible.
int sandbox_randomseed(lua_State* L) {
  luaL_checknumber(L, 1);
  const int n = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, kRandomseed);
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

void remove_field(lua_State* L, int table, const char* name) {
  lua_pushnil(L);
  lua_setfield(L, table, name);
}

}  // namespace

void open_sandbox(lua_State* L) {
  const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},          {LUA_STRLIBNAME, luaopen_string},
                           {LUA_TABLIBNAME, luaopen_table},    {LUA_MATHLIBNAME, luaopen_math},
                           {LUA_UTF8LIBNAME, luaopen_utf8},    {LUA_COLIBNAME, luaopen_coroutine}};
  for (const luaL_Reg& lib : libs) {
    luaL_requiref(L, lib.name, lib.func, 1);
    lua_pop(L, 1);
  }
  // luaL_requiref records each library in package.loaded's registry table; the script cannot
  // reach it (no package, no debug.getregistry), so it needs no cleaning.
  lua_pushglobaltable(L);
  const int g = lua_gettop(L);
  remove_field(L, g, "dofile");
  remove_field(L, g, "loadfile");
  remove_field(L, g, "require");
  lua_pushcfunction(L, sandbox_load);
  lua_setfield(L, g, "load");
  lua_pushcfunction(L, sandbox_print);
  lua_setfield(L, g, "print");

  lua_getfield(L, g, LUA_STRLIBNAME);
  remove_field(L, lua_gettop(L), "dump");  // bytecode is useless without binary load
  lua_pop(L, 1);

  lua_getfield(L, g, LUA_MATHLIBNAME);
  const int math = lua_gettop(L);
  lua_getfield(L, math, "randomseed");
  lua_setfield(L, LUA_REGISTRYINDEX, kRandomseed);
  lua_pushcfunction(L, sandbox_randomseed);
  lua_setfield(L, math, "randomseed");
  lua_pop(L, 2);
  seed_random(L, 0);
}

void seed_random(lua_State* L, uint64_t seed) {
  lua_getfield(L, LUA_REGISTRYINDEX, kRandomseed);
  // Two integers carry all 64 bits of the seed.
  lua_pushinteger(L, lua_Integer(seed & 0xffffffffu));
  lua_pushinteger(L, lua_Integer(seed >> 32));
  lua_call(L, 2, 0);
}

}  // namespace ingot::scripting
