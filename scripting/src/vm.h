// One Lua 5.4 state with limits: a memory cap enforced by the allocator and an instruction budget
// per protected call enforced by a count hook. The sandboxing of the globals is sandbox.cpp's job;
// this file only owns the state, the limits and turning a failed call into a Status.
#pragma once

#include <lua.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "ingot/format/status.h"

namespace ingot::scripting {

class Vm {
 public:
  // max_memory: bytes the state may hold at once; max_instructions: VM instructions one call()
  // may execute, counted across every coroutine it resumes. `user` is handed back by user_of().
  static format::Status create(size_t max_memory, uint64_t max_instructions, void* user, std::unique_ptr<Vm>* out);
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  lua_State* state() const { return L_; }
  static Vm& of(lua_State* L) { return **static_cast<Vm**>(lua_getextraspace(L)); }
  void* user() const { return user_; }

  // lua_pcall of the function below `nargs` arguments on the stack, under a fresh instruction
  // budget. On failure the stack holds nothing of the call and the Status (script_error) reads
  // "<what>: <file>:<line>: <reason>".
  format::Status call(int nargs, int nresults, const std::string& what);

  size_t memory_used() const { return used_; }
  size_t max_memory() const { return max_memory_; }
  uint64_t max_instructions() const { return max_instructions_; }

 private:
  Vm() = default;
  static void* allocate(void* ud, void* ptr, size_t osize, size_t nsize);
  static void count_hook(lua_State* L, lua_Debug* ar);
  void arm_budget();
  format::Status failure(int rc, int nresults, const std::string& what);

  lua_State* L_ = nullptr;
  void* user_ = nullptr;
  size_t used_ = 0, max_memory_ = 0;
  uint64_t max_instructions_ = 0, executed_ = 0;
  int hook_interval_ = 1000;
  // A limit was hit: every further instruction raises kill_message_ again, and the call fails
  // even if the script caught the error (pcall, coroutine.resume) and returned normally.
  bool killed_ = false;
  std::string kill_message_;
  bool memory_refused_ = false; // the allocator refused a request during the current call
  std::string memory_where_;    // "file:line" of the Lua code that asked for the refused memory
  std::string memory_message() const;
  // The last refused request: Lua collects garbage and asks again once, and a retry that now fits
  // is not a failure.
  const void* refused_ptr_ = nullptr;
  size_t refused_osize_ = 0, refused_nsize_ = 0;
};

}  // namespace ingot::scripting
