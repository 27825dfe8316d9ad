#include "ingot/scripting/script.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "binding_state.h"
#include "ctx_binding.h"
#include "logits_binding.h"
#include "sandbox.h"
#include "vm.h"

namespace ingot::scripting {

using format::fail;
using format::Status;
using format::StatusCode;

namespace {
const char* const kHookNames[Script::kHookCount] = {"process_logits", "sample", "on_token", "format_prompt"};
}  // namespace

struct Script::Impl {
  BindingState state;       // declared first: the Vm (and its __gc finalizers) go before it
  std::unique_ptr<Vm> vm;
};

namespace {

// Arguments of the protected C functions below (passed as a light userdata): everything they touch
// is prepared by C++ before lua_pcall, so inside them only Lua can raise, and it unwinds cleanly.
struct Call {
  Script::Hook hook = Script::kSample;
  int ref = -1;
  int32_t token = -1;
  const std::string* text = nullptr;
  const std::vector<ChatMessage>* messages = nullptr;
  uint64_t seed = 0;
  int* refs = nullptr;            // find_hooks: where the references go
  std::string* where = nullptr;   // find_hooks: "file:line" of each hook
  bool failed_to_store = false;
};

Call* call_of(lua_State* L) { return static_cast<Call*>(lua_touserdata(L, 1)); }

int setup_state(lua_State* L) {
  open_sandbox(L);
  open_logits(L);
  open_ctx(L);
  return 0;
}

int attach_model(lua_State* L) {
  set_ctx_model(L);
  return 0;
}

int reseed(lua_State* L) {
  seed_random(L, call_of(L)->seed);
  return 0;
}

// Reads the hook globals raw (a metatable on _G runs no code here) and keeps references to them.
int find_hooks(lua_State* L) {
  Call* c = call_of(L);
  lua_pushglobaltable(L);
  for (int i = 0; i < Script::kHookCount; ++i) {
    lua_pushstring(L, kHookNames[i]);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    if (!lua_isfunction(L, -1)) {
      return luaL_error(L, "global '%s' is a %s; a hook must be a function", kHookNames[i], luaL_typename(L, -1));
    }
    lua_Debug ar;
    lua_pushvalue(L, -1);
    lua_getinfo(L, ">S", &ar);
    try {
      c->where[i] = std::string(ar.short_src) + ":" + std::to_string(ar.linedefined);
    } catch (...) {
      c->failed_to_store = true;
    }
    c->refs[i] = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  return 0;
}

// Calls one hook with its arguments and leaves its first result.
int invoke(lua_State* L) {
  Call* c = call_of(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
  int nargs = 0;
  switch (c->hook) {
    case Script::kProcessLogits:
    case Script::kSample:
      push_logits(L);
      push_ctx(L);
      nargs = 2;
      break;
    case Script::kOnToken:
      lua_pushinteger(L, c->token);
      lua_pushlstring(L, c->text->data(), c->text->size());
      push_ctx(L);
      nargs = 3;
      break;
    case Script::kFormatPrompt: {
      const std::vector<ChatMessage>& m = *c->messages;
      lua_createtable(L, int(m.size()), 0);
      for (size_t i = 0; i < m.size(); ++i) {
        lua_createtable(L, 0, 2);
        lua_pushlstring(L, m[i].role.data(), m[i].role.size());
        lua_setfield(L, -2, "role");
        lua_pushlstring(L, m[i].content.data(), m[i].content.size());
        lua_setfield(L, -2, "content");
        lua_rawseti(L, -2, lua_Integer(i + 1));
      }
      push_ctx(L);
      nargs = 2;
      break;
    }
    case Script::kHookCount:
      break;
  }
  lua_call(L, nargs, 1);
  return 1;
}

Status read_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(StatusCode::io_error, "cannot open script '", path, "'");
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return fail(StatusCode::io_error, "cannot read script '", path, "'");
  *out = s.str();
  return Status::success();
}

}  // namespace

std::string plain_chat_prompt(const std::vector<ChatMessage>& messages) {
  std::string out;
  for (const ChatMessage& m : messages) out += m.role + ": " + m.content + "\n";
  return out + "assistant:";
}

Script::Script() : impl_(std::make_unique<Impl>()) {}

Script::~Script() = default;

Status Script::load_file(const std::string& path, const Limits& limits, std::unique_ptr<Script>* out) {
  std::string code;
  INGOT_RETURN_IF_ERROR(read_file(path, &code));
  return load_string(code, path, limits, out);
}

Status Script::load_string(std::string_view code, const std::string& name, const Limits& limits,
                           std::unique_ptr<Script>* out) {
  try {
    std::unique_ptr<Script> s(new Script());
    s->name_ = name;
    const std::string prefix = "script '" + name + "'";
    Status st = Vm::create(limits.max_memory, limits.max_instructions, &s->impl_->state, &s->impl_->vm);
    if (!st.ok()) return Status(st.code(), prefix + ": " + st.message());
    Vm& vm = *s->impl_->vm;
    lua_State* L = vm.state();
    if (!lua_checkstack(L, 8)) return fail(StatusCode::out_of_memory, prefix, ": cannot grow the Lua stack");
    lua_pushcfunction(L, setup_state);
    INGOT_RETURN_IF_ERROR(vm.call(0, 0, prefix + ", setting up the sandbox"));
    // "@name": Lua prints the name as the file in "file:line:" positions. Text only: Lua does not
    // verify bytecode, so a binary chunk could corrupt the VM.
    const std::string chunkname = "@" + name;
    const int rc = luaL_loadbufferx(L, code.data(), code.size(), chunkname.c_str(), "t");
    if (rc != LUA_OK) {
      const char* m = lua_tostring(L, -1);
      std::string reason = rc == LUA_ERRMEM ? "memory limit exceeded while compiling" : (m != nullptr ? m : "?");
      lua_pop(L, 1);
      return fail(StatusCode::script_error, prefix, ": ", reason);
    }
    INGOT_RETURN_IF_ERROR(vm.call(0, 0, prefix + ", main chunk"));
    Call c;
    c.refs = s->refs_;
    c.where = s->where_;
    lua_pushcfunction(L, find_hooks);
    lua_pushlightuserdata(L, &c);
    INGOT_RETURN_IF_ERROR(vm.call(1, 0, prefix));
    if (c.failed_to_store) return fail(StatusCode::out_of_memory, prefix, ": out of memory");
    *out = std::move(s);
    return Status::success();
  } catch (const std::exception& e) {
    return fail(StatusCode::out_of_memory, "script '", name, "': ", e.what());
  }
}

bool Script::has_hook(std::string_view hook) const {
  for (int i = 0; i < kHookCount; ++i) {
    if (hook == kHookNames[i]) return refs_[i] >= 0;
  }
  return false;
}

size_t Script::memory_used() const { return impl_->vm->memory_used(); }

std::string Script::what(Hook hook) const { return "script '" + name_ + "', " + kHookNames[hook]; }

Status Script::attach(const runtime::Model* model) {
  impl_->state.model = model;
  lua_State* L = impl_->vm->state();
  lua_pushcfunction(L, attach_model);
  return impl_->vm->call(0, 0, "script '" + name_ + "', attaching the model");
}

Status Script::begin(const runtime::HookContext& ctx) {
  if (ctx.model != impl_->state.model) INGOT_RETURN_IF_ERROR(attach(ctx.model));
  impl_->state.rng.seed(ctx.seed);
  Call c;
  c.seed = ctx.seed;
  lua_State* L = impl_->vm->state();
  lua_pushcfunction(L, reseed);
  lua_pushlightuserdata(L, &c);
  return impl_->vm->call(1, 0, "script '" + name_ + "', seeding math.random");
}

Status Script::call_hook(Hook hook, const runtime::HookContext* ctx, std::span<float> logits, int32_t token,
                         const std::string* text, const std::vector<ChatMessage>* messages) {
  BindingState& st = impl_->state;
  st.hook = ctx != nullptr ? *ctx : runtime::HookContext{};
  st.logits = logits;
  Call c;
  c.hook = hook;
  c.ref = refs_[hook];
  c.token = token;
  c.text = text;
  c.messages = messages;
  lua_State* L = impl_->vm->state();
  lua_pushcfunction(L, invoke);
  lua_pushlightuserdata(L, &c);
  Status s = impl_->vm->call(1, 1, what(hook));
  // The buffer and the history belong to the caller: nothing may reach them after the hook.
  st.logits = {};
  st.hook.history = {};
  return s;
}

Status Script::process_logits(std::span<float> logits, const runtime::HookContext& ctx) {
  if (refs_[kProcessLogits] < 0) return Status::success();
  INGOT_RETURN_IF_ERROR(call_hook(kProcessLogits, &ctx, logits, -1, nullptr, nullptr));
  lua_pop(impl_->vm->state(), 1);  // the return value is ignored
  // Usually decided by the first element; a full scan only when the script banned nearly everything.
  if (!std::any_of(logits.begin(), logits.end(), [](float v) { return v > -INFINITY; })) {
    return fail(StatusCode::script_error, what(kProcessLogits), ": ", where_[kProcessLogits],
                ": left no token with a finite logit (everything banned or NaN)");
  }
  return Status::success();
}

Status Script::sample(std::span<float> logits, const runtime::HookContext& ctx, int32_t* token) {
  if (refs_[kSample] < 0) return fail(StatusCode::invalid_argument, what(kSample), ": the script defines no sample");
  INGOT_RETURN_IF_ERROR(call_hook(kSample, &ctx, logits, -1, nullptr, nullptr));
  lua_State* L = impl_->vm->state();
  int is_int = 0;
  const lua_Integer id = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &is_int) : 0;
  const std::string type = luaL_typename(L, -1);
  lua_pop(L, 1);
  if (!is_int) {
    return fail(StatusCode::script_error, what(kSample), ": ", where_[kSample], ": returned ",
                type == "number" ? "a non-integer number" : "a " + type, ", expected an integer token id");
  }
  if (id < 0 || size_t(id) >= logits.size()) {
    return fail(StatusCode::script_error, what(kSample), ": ", where_[kSample], ": returned token id ", id,
                ", outside the vocabulary [0, ", logits.size(), ")");
  }
  *token = int32_t(id);
  return Status::success();
}

Status Script::on_token(int32_t token, const std::string& text, const runtime::HookContext& ctx,
                        runtime::TokenAction* action) {
  *action = runtime::TokenAction::keep;
  if (refs_[kOnToken] < 0) return Status::success();
  INGOT_RETURN_IF_ERROR(call_hook(kOnToken, &ctx, {}, token, &text, nullptr));
  lua_State* L = impl_->vm->state();
  const int type = lua_type(L, -1);
  const bool is_stop = type == LUA_TSTRING && std::string_view(lua_tostring(L, -1)) == "stop";
  const bool boolean = lua_toboolean(L, -1) != 0;
  const std::string type_name = luaL_typename(L, -1);
  lua_pop(L, 1);
  if (type == LUA_TNIL || (type == LUA_TBOOLEAN && boolean)) return Status::success();
  if (type == LUA_TBOOLEAN) {
    *action = runtime::TokenAction::keep_stop;
    return Status::success();
  }
  if (is_stop) {
    *action = runtime::TokenAction::drop_stop;
    return Status::success();
  }
  return fail(StatusCode::script_error, what(kOnToken), ": ", where_[kOnToken], ": returned ",
              type == LUA_TSTRING ? "a string other than \"stop\"" : "a " + type_name,
              ", expected true, false, \"stop\" or nothing");
}

Status Script::format_prompt(const std::vector<ChatMessage>& messages, std::string* out) {
  try {
    if (refs_[kFormatPrompt] < 0) {
      *out = plain_chat_prompt(messages);
      return Status::success();
    }
    INGOT_RETURN_IF_ERROR(call_hook(kFormatPrompt, nullptr, {}, -1, nullptr, &messages));
    lua_State* L = impl_->vm->state();
    if (lua_type(L, -1) != LUA_TSTRING) {
      const std::string type = luaL_typename(L, -1);
      lua_pop(L, 1);
      return fail(StatusCode::script_error, what(kFormatPrompt), ": ", where_[kFormatPrompt], ": returned a ", type,
                  ", expected the prompt string");
    }
    size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    out->assign(s, len);
    lua_pop(L, 1);
    return Status::success();
  } catch (const std::exception& e) {
    return fail(StatusCode::out_of_memory, what(kFormatPrompt), ": ", e.what());
  }
}

}  // namespace ingot::scripting
