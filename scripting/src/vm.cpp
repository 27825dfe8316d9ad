#include "vm.h"

#include <cstdlib>

namespace ingot::scripting {

using format::fail;
using format::Status;
using format::StatusCode;

namespace {
// "file:line" of the innermost Lua function on L's stack ("?" when there is none). Reads the call
// info only, so it is safe inside the allocator and inside hooks.
std::string innermost_lua_position(lua_State* L) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(L, level, &ar) != 0; ++level) {
    if (lua_getinfo(L, "Sl", &ar) != 0 && ar.currentline > 0) {
      return std::string(ar.short_src) + ":" + std::to_string(ar.currentline);
    }
  }
  return "?";
}
}  // namespace

Status Vm::create(size_t max_memory, uint64_t max_instructions, void* user, std::unique_ptr<Vm>* out) {
  if (max_memory < 64 * 1024) return fail(StatusCode::invalid_argument, "script memory limit ", max_memory,
                                          " bytes is below the 64 KiB a Lua state needs to start");
  if (max_instructions == 0) return fail(StatusCode::invalid_argument, "script instruction budget must be positive");
  std::unique_ptr<Vm> vm(new Vm());
  vm->max_memory_ = max_memory;
  vm->max_instructions_ = max_instructions;
  vm->user_ = user;
  vm->hook_interval_ = int(std::min<uint64_t>(max_instructions, 1000));
  vm->L_ = lua_newstate(&Vm::allocate, vm.get());
  if (vm->L_ == nullptr) return fail(StatusCode::out_of_memory, "cannot create a Lua state");
  // Every thread (coroutine) copies the main thread's extra space, so each finds this Vm.
  *static_cast<Vm**>(lua_getextraspace(vm->L_)) = vm.get();
  *out = std::move(vm);
  return Status::success();
}

Vm::~Vm() {
  if (L_ == nullptr) return;
  // lua_close runs pending __gc finalizers: give them a budget too, so none can hang the close.
  arm_budget();
  lua_close(L_);
}

void* Vm::allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
  Vm* vm = static_cast<Vm*>(ud);
  const size_t old = ptr != nullptr ? osize : 0;  // with ptr null, osize is a type tag, not a size
  if (nsize == 0) {
    std::free(ptr);
    vm->used_ -= old;
    return nullptr;
  }
  if (nsize > old && nsize - old > vm->max_memory_ - vm->used_) {
    if (!vm->memory_refused_ && vm->L_ != nullptr) {
      try {  // called from Lua's C code: nothing may throw through it
        vm->memory_where_ = innermost_lua_position(vm->L_);
      } catch (...) {
        vm->memory_where_.clear();
      }
    }
    vm->memory_refused_ = true;
    vm->refused_ptr_ = ptr, vm->refused_osize_ = osize, vm->refused_nsize_ = nsize;
    return nullptr;  // Lua collects garbage and retries once, then raises LUA_ERRMEM
  }
  void* p = std::realloc(ptr, nsize);
  if (p == nullptr) return nullptr;
  vm->used_ = vm->used_ - old + nsize;
  if (vm->memory_refused_ && ptr == vm->refused_ptr_ && osize == vm->refused_osize_ && nsize == vm->refused_nsize_) {
    vm->memory_refused_ = false;  // the emergency collection made room: the request succeeded
    vm->refused_ptr_ = nullptr, vm->refused_nsize_ = 0;
  }
  return p;
}

void Vm::count_hook(lua_State* L, lua_Debug*) {
  Vm& vm = of(L);
  if (!vm.killed_) {
    vm.executed_ += uint64_t(vm.hook_interval_);
    if (!vm.memory_refused_ && vm.executed_ <= vm.max_instructions_) return;
    try {  // called from Lua's C code: nothing may throw through it
      if (vm.memory_refused_) {
        // Past the memory cap the script is stopped, not left to retry: each retry near the cap
        // costs a full garbage collection.
        vm.kill_message_ = vm.memory_message();
      } else {
        vm.kill_message_ = innermost_lua_position(L) + ": instruction budget of " +
                           std::to_string(vm.max_instructions_) + " exceeded";
      }
    } catch (...) {
      vm.kill_message_.clear();
    }
    vm.killed_ = true;
  }
  // Fire on every instruction from now on, in whichever coroutine runs.
  lua_sethook(L, &Vm::count_hook, LUA_MASKCOUNT, 1);
  lua_pushstring(L, vm.kill_message_.empty() ? "script limit exceeded" : vm.kill_message_.c_str());
  lua_error(L);
}

std::string Vm::memory_message() const {
  return (memory_where_.empty() ? std::string("?") : memory_where_) + ": memory limit of " +
         std::to_string(max_memory_) + " bytes exceeded";
}

void Vm::arm_budget() {
  executed_ = 0;
  killed_ = false;
  kill_message_.clear();
  memory_refused_ = false;
  memory_where_.clear();
  lua_sethook(L_, &Vm::count_hook, LUA_MASKCOUNT, hook_interval_);
}

Status Vm::call(int nargs, int nresults, const std::string& what) {
  arm_budget();
  const int rc = lua_pcall(L_, nargs, nresults, 0);
  if (rc == LUA_OK && !killed_ && !memory_refused_) return Status::success();
  try {
    return failure(rc, nresults, what);
  } catch (const std::exception&) {
    lua_settop(L_, 0);
    return Status(StatusCode::out_of_memory, what + ": out of memory while reporting a script error");
  }
}

Status Vm::failure(int rc, int nresults, const std::string& what) {
  std::string reason;
  if (killed_) {
    reason = kill_message_;  // whatever the script made of the error it caught
  } else if (rc == LUA_ERRMEM || memory_refused_) {
    reason = memory_message();
  } else if (lua_type(L_, -1) == LUA_TSTRING) {
    // Deliberately no __tostring: an error object's metamethods are script code too.
    size_t len = 0;
    const char* s = lua_tolstring(L_, -1, &len);
    reason.assign(s, len);
  } else if (lua_isinteger(L_, -1)) {
    reason = std::to_string(lua_tointeger(L_, -1));  // not lua_tostring: it would allocate in Lua, unprotected
  } else if (lua_type(L_, -1) == LUA_TNUMBER) {
    reason = std::to_string(lua_tonumber(L_, -1));
  } else {
    reason = std::string("error object is a ") + luaL_typename(L_, -1) + " value";
  }
  if (rc == LUA_ERRERR) reason = "error in error handling: " + reason;
  lua_pop(L_, rc == LUA_OK ? nresults : 1);
  return Status(StatusCode::script_error, what + ": " + reason);
}

}  // namespace ingot::scripting
