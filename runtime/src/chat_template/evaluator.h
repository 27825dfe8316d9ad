// Renders a parsed template: statements, expressions, scopes and the bounds of Limits. Filters,
// tests, methods of str/list/dict and the globals live in their own files and call back into
// the evaluator through this interface.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "chat_template/ast.h"
#include "chat_template/chat_template.h"
#include "chat_template/value.h"

namespace ingot::chat_template {

class Evaluator {
 public:
  Evaluator(const RenderOptions& options, Value context);
  std::string render(const Body& body);

  Value eval(const Expr& e);
  Value call(const Value& callee, CallArgs& args, int line);
  Value get_attr(const Value& obj, const std::string& name, int line);
  Value get_item(const Value& obj, const Value& key, int line);
  // The items a for loop (and list(), join, map, ...) sees: list items, dict keys, characters.
  std::vector<Value> iterate(const Value& v, int line);
  // One more loop iteration (or item produced by a filter), against max_loop_iterations.
  void count_iterations(int64_t n, int line);
  // A string or list of this size is within bounds.
  void check_size(size_t n, int line);
  [[noreturn]] void fail(int line, const std::string& message) const;

  const RenderOptions& options() const { return options_; }

 private:
  enum class Flow { normal, break_, continue_ };
  using Frame = std::unordered_map<std::string, Value>;

  Flow exec_body(const Body& body);
  Flow exec(const Stmt& s);
  Flow exec_for(const Stmt& s);
  void exec_set(const Stmt& s);
  void assign(const std::vector<std::string>& targets, const Value& v, int line);
  void emit(const std::string& text, int line);
  std::string capture(const Body& body);
  Value lookup(const std::string& name) const;
  Value make_macro(const Stmt& s);
  Value eval_binary(const Expr& e);
  Value apply_binary(const std::string& op, const Value& a, const Value& b, int line);
  Value eval_filter(const Expr& e);

  const RenderOptions& options_;
  std::vector<Frame> frames_;  // frames_[0]: globals, the context and top-level assignments
  std::vector<std::string> out_;  // the output being written, innermost capture last
  int64_t iterations_ = 0;
  int call_depth_ = 0;
  std::vector<Value> filter_input_;  // the body a {% filter %} block applies its chain to
};

// filters.cpp, tests.cpp, methods.cpp, globals.cpp
bool filter_known(const std::string& name);          // implemented here
bool filter_jinja_builtin(const std::string& name);  // a Jinja2 filter this engine lacks otherwise
Value apply_filter(Evaluator& ev, const std::string& name, const Value& input, CallArgs& args, int line);
bool test_known(const std::string& name);
bool apply_test(Evaluator& ev, const std::string& name, const Value& v, CallArgs& args, int line);
// A method of a str, list or dict (`"a b".split()`, `d.items()`), or undefined if there is none.
Value find_method(Evaluator& ev, const Value& obj, const std::string& name, int line);
void add_globals(std::unordered_map<std::string, Value>& frame);

// Arguments by position or keyword: the value, or `fallback` when neither is given.
const Value* find_arg(const CallArgs& args, size_t position, const char* keyword);
Value arg_or(const CallArgs& args, size_t position, const char* keyword, Value fallback);

// Python string helpers shared by filters and methods.
std::string py_strip(const std::string& s, const Value& chars, bool left, bool right);
std::string py_lower(const std::string& s);
std::string py_upper(const std::string& s);
std::vector<std::string> py_splitlines(const std::string& s);

}  // namespace ingot::chat_template
