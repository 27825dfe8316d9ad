// Hostile and broken scripts: each must end in a script_error Status that names the script, the
// hook, the line and the reason, within the limits, and leave the process and the script usable.
#include <gtest/gtest.h>

#include <chrono>

#include "ingot/scripting/script.h"

namespace ingot::test {
namespace {

using scripting::Limits;
using scripting::Script;

runtime::HookContext context(size_t position = 0) {
  runtime::HookContext c;
  c.position = position;
  return c;
}

// Loads `code` as "hostile.lua" and runs its sample hook on 64 logits; the Status of the first
// step that fails (or of sample).
format::Status run_sample(const std::string& code, const Limits& limits = {}, int32_t* token = nullptr) {
  std::unique_ptr<Script> s;
  INGOT_RETURN_IF_ERROR(Script::load_string(code, "hostile.lua", limits, &s));
  INGOT_RETURN_IF_ERROR(s->begin(context()));
  std::vector<float> l(64, 0.0f);
  int32_t t = -1;
  INGOT_RETURN_IF_ERROR(s->sample(l, context(), &t));
  if (token != nullptr) *token = t;
  return format::Status::success();
}

// Expects failure with `reason` in the message and "hostile.lua:<line>:" when line > 0.
void expect_error(const format::Status& s, const std::string& reason, int line) {
  ASSERT_FALSE(s.ok()) << "expected: " << reason;
  EXPECT_EQ(s.code(), format::StatusCode::script_error) << s.to_string();
  EXPECT_NE(s.message().find("script 'hostile.lua'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(reason), std::string::npos) << s.message();
  if (line > 0) {
    EXPECT_NE(s.message().find("hostile.lua:" + std::to_string(line) + ":"), std::string::npos) << s.message();
  }
}

TEST(Sandbox, NoOsIoPackageOrDebug) {
  expect_error(run_sample("function sample()\n  os.execute('touch /tmp/ingot-pwned')\nend"),
               "attempt to index a nil value (global 'os')", 2);
  expect_error(run_sample("function sample()\n  return io.open('/etc/passwd'):read('a')\nend"),
               "attempt to index a nil value (global 'io')", 2);
  expect_error(run_sample("function sample()\n  require('os')\nend"), "attempt to call a nil value (global 'require')", 2);
  expect_error(run_sample("function sample()\n  return package.loaded.os\nend"), "global 'package'", 2);
  expect_error(run_sample("function sample()\n  debug.sethook()\nend"), "global 'debug'", 2);
  expect_error(run_sample("function sample()\n  dofile('/etc/passwd')\nend"), "global 'dofile'", 2);
  expect_error(run_sample("function sample()\n  loadfile('/etc/passwd')\nend"), "global 'loadfile'", 2);
  // The main chunk is sandboxed too.
  expect_error(run_sample("local x = 1\nos.exit(1)"), "main chunk: hostile.lua:2: attempt to index a nil value", 2);
  // ... and so is code built at run time with load: same globals.
  expect_error(run_sample("function sample()\n  return load('return os.getenv(\"HOME\")')()\nend"), "global 'os'", 0);
}

TEST(Sandbox, BinaryChunksAreRefused) {
  // A precompiled chunk starts with "\27Lua"; Lua does not verify bytecode, so none may load.
  expect_error(run_sample(std::string("\x1bLuaT\x00\x19\x93\r\n\x1a\n", 12)), "attempt to load a binary chunk", 0);
  expect_error(run_sample("function sample()\n  local f, err = load('\\27LuaT\\0')\n  error(err)\nend"),
               "attempt to load a binary chunk", 3);
  expect_error(run_sample("function sample()\n  local f, err = load('return 1', 'x', 'b')\n  error(err)\nend"),
               "only text chunks", 3);
  expect_error(run_sample("function sample()\n  local f, err = load(function() return nil end)\n  error(err)\nend"),
               "only strings", 3);
  expect_error(run_sample("function sample()\n  return string.dump(sample)\nend"), "field 'dump'", 2);
  int32_t t = -1;
  EXPECT_TRUE(run_sample("function sample()\n  return load('return 7')()\nend", {}, &t).ok());
  EXPECT_EQ(t, 7);
}

TEST(Sandbox, MemoryBombsHitTheCap) {
  Limits small;
  small.max_memory = 8 << 20;
  expect_error(run_sample("function sample()\n  local s = string.rep('x', 1 << 30)\n  return 0\nend", small),
               "memory limit of 8388608 bytes exceeded", 0);
  expect_error(run_sample("function sample()\n  local s = 'xxxxxxxx'\n  while true do s = s .. s end\nend", small),
               "memory limit of 8388608 bytes exceeded", 0);
  expect_error(run_sample("function sample()\n  local t = {}\n  for i = 1, 1e9 do t[i] = i end\nend", small),
               "memory limit of 8388608 bytes exceeded", 3);
  // A bomb in the main chunk, and one caught with pcall and retried, end the same way.
  expect_error(run_sample("local t = {}\nwhile true do t[#t + 1] = {} end", small), "memory limit", 0);
  expect_error(run_sample("function sample()\n  local t = {}\n  while true do pcall(function() t[#t + 1] = "
                          "string.rep('y', 4096) .. #t end) end\nend",
                          small),
               "limit", 0);
}

TEST(Sandbox, EndlessLoopsAndRecursionEndWithinTheBudget) {
  Limits l;
  l.max_instructions = 2'000'000;
  const auto t0 = std::chrono::steady_clock::now();
  expect_error(run_sample("function sample()\n  while true do end\nend", l), "instruction budget of 2000000 exceeded", 2);
  // Catching the budget error does not help: every following instruction raises it again.
  expect_error(run_sample("function sample()\n  while true do\n    pcall(function() while true do end end)\n  end\nend", l),
               "instruction budget", 0);
  // Nor does running the loop in a coroutine: the budget counts every coroutine.
  expect_error(run_sample("function sample()\n  local co = coroutine.create(function() while true do end end)\n"
                          "  coroutine.resume(co)\n  return 0\nend",
                          l),
               "instruction budget", 0);
  expect_error(run_sample("while true do end", l), "main chunk", 1);
  expect_error(run_sample("function sample()\n  local function f(n) return 1 + f(n + 1) end\n  return f(1)\nend"),
               "stack overflow", 2);
  // Recursion through a metamethod (C stack) is caught as well.
  expect_error(run_sample("function sample()\n  local t = setmetatable({}, {})\n  getmetatable(t).__index = "
                          "function(t, k) return t[k] end\n  return t.x\nend"),
               "stack overflow", 0);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
}

TEST(Sandbox, ErrorsFromMetamethodsAndCallbacksNameTheirLine) {
  expect_error(run_sample("function sample()\n  local t = setmetatable({}, {__index = function(t, k)\n"
                          "    error('no field ' .. k)\n  end})\n  return t.missing\nend"),
               "hostile.lua:3: no field missing", 3);
  expect_error(run_sample("function sample()\n  local t = setmetatable({}, {__add = function() return nil + 1 end})\n"
                          "  return t + 1\nend"),
               "attempt to perform arithmetic on a nil value", 2);
  expect_error(run_sample("function sample()\n  table.sort({3, 1, 2}, function(a, b)\n    error('comparator failed')\n"
                          "  end)\nend"),
               "hostile.lua:3: comparator failed", 3);
  expect_error(run_sample("function sample()\n  return ('abc'):gsub('%w', function(c) return {} end)\nend"),
               "invalid replacement value", 2);
  expect_error(run_sample("function sample()\n  error({code = 1})\nend"), "error object is a table value", 0);
  expect_error(run_sample("function sample()\n  error(setmetatable({}, {__tostring = function() while true do end end}))\nend"),
               "error object is a table value", 0);
  expect_error(run_sample("function sample()\n  math.randomseed()\nend"), "bad argument #1 to 'randomseed'", 2);
}

TEST(Sandbox, CoroutinesCannotYieldAcrossTheHostBoundary) {
  expect_error(run_sample("function sample()\n  coroutine.yield(1)\nend"), "attempt to yield from outside a coroutine", 0);
  expect_error(run_sample("function sample(l)\n  local co = coroutine.wrap(function()\n"
                          "    table.sort({3, 2, 1}, function(a, b) coroutine.yield() return a < b end)\n  end)\n"
                          "  co()\n  return 0\nend"),
               "attempt to yield across a C-call boundary", 0);
  // Yielding inside a coroutine that stays within Lua is fine.
  int32_t t = -1;
  EXPECT_TRUE(run_sample("function sample()\n  local co = coroutine.wrap(function() coroutine.yield(5) end)\n"
                         "  return co()\nend", {}, &t).ok());
  EXPECT_EQ(t, 5);
}

TEST(Sandbox, WrongReturnValuesAreErrorsNamingTheHookLine) {
  expect_error(run_sample("\nfunction sample()\n  return '5'\nend"), "hostile.lua:2: returned a string, expected an integer token id", 0);
  expect_error(run_sample("function sample()\n  return 1.5\nend"), "returned a non-integer number", 1);
  expect_error(run_sample("function sample()\nend"), "returned a nil", 1);
  expect_error(run_sample("function sample()\n  return 64\nend"), "returned token id 64, outside the vocabulary [0, 64)", 1);
  expect_error(run_sample("function sample()\n  return -1\nend"), "outside the vocabulary", 1);
  expect_error(run_sample("sample = 42"), "global 'sample' is a number; a hook must be a function", 0);
  expect_error(run_sample("function sample(\n"), "hostile.lua:2:", 0);  // syntax error

  std::unique_ptr<Script> s;
  ASSERT_TRUE(Script::load_string("function on_token(id, text, ctx)\n  return 42\nend", "hostile.lua", {}, &s).ok());
  runtime::TokenAction a;
  expect_error(s->on_token(1, "x", context(), &a), "on_token: hostile.lua:1: returned a number", 0);
  ASSERT_TRUE(Script::load_string("function format_prompt(m, ctx)\n  return {}\nend", "hostile.lua", {}, &s).ok());
  std::string prompt;
  expect_error(s->format_prompt({{"user", "hi"}}, &prompt), "format_prompt: hostile.lua:1: returned a table", 0);
}

TEST(Sandbox, LogitsKeptBeyondTheirHookAreRefused) {
  std::unique_ptr<Script> s;
  ASSERT_TRUE(Script::load_string("function process_logits(l)\n  saved = l\nend\n"
                                  "function on_token(id, text, ctx)\n  return saved:argmax() > 0\nend",
                                  "hostile.lua", {}, &s).ok());
  std::vector<float> l(16, 0.0f);
  ASSERT_TRUE(s->process_logits(l, context()).ok());
  runtime::TokenAction a;
  expect_error(s->on_token(1, "x", context(), &a), "logits used outside the hook call that received them", 5);
}

TEST(Sandbox, TheScriptStaysUsableAfterAnError) {
  Limits l;
  l.max_instructions = 1'000'000;
  l.max_memory = 8 << 20;
  std::unique_ptr<Script> s;
  ASSERT_TRUE(Script::load_string(R"(
    calls = 0
    function sample(l, ctx)
      calls = calls + 1
      if ctx.position == 1 then while true do end end
      if ctx.position == 2 then local s = string.rep('x', 1 << 30) end
      if ctx.position == 3 then error('asked to fail') end
      return calls
    end)", "hostile.lua", l, &s).ok());
  std::vector<float> logits(64, 0.0f);
  int32_t t = -1;
  for (size_t pos : {1, 2, 3}) {
    const format::Status st = s->sample(logits, context(pos), &t);
    EXPECT_FALSE(st.ok()) << pos;
  }
  EXPECT_LT(s->memory_used(), size_t(1) << 20);  // the 1 GiB string was never held
  const format::Status st = s->sample(logits, context(4), &t);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(t, 4);  // every call ran, state kept
}

TEST(Sandbox, LimitsAreValidated) {
  std::unique_ptr<Script> s;
  Limits l;
  l.max_memory = 1000;
  EXPECT_FALSE(Script::load_string("", "x.lua", l, &s).ok());
  l = {};
  l.max_instructions = 0;
  EXPECT_FALSE(Script::load_string("", "x.lua", l, &s).ok());
  const format::Status st = Script::load_file("/nonexistent/dir/script.lua", {}, &s);
  EXPECT_EQ(st.code(), format::StatusCode::io_error);
  EXPECT_NE(st.message().find("/nonexistent/dir/script.lua"), std::string::npos);
}

}  // namespace
}  // namespace ingot::test
