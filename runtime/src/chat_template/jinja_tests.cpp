// Jinja2's tests: `x is defined`, `x is not none`, `x is divisibleby 3`, ...
#include <cmath>

#include "chat_template/evaluator.h"

namespace ingot::chat_template {

namespace {

const Value& operand(Evaluator& ev, const CallArgs& a, const std::string& name) {
  if (a.args.empty()) ev.fail(a.line, "test '" + name + "' needs an argument");
  return a.args[0];
}

bool compare(Evaluator& ev, const std::string& op, const Value& a, const Value& b, int line) {
  try {
    if (op == "lt") return py_less(a, b);
    if (op == "gt") return py_less(b, a);
    if (op == "le") return !py_less(b, a);
    return !py_less(a, b);
  } catch (const TemplateError& e) {
    ev.fail(line, e.message());
  }
}

std::string canonical(const std::string& name) {
  if (name == "==" || name == "equalto") return "eq";
  if (name == "!=") return "ne";
  if (name == "<" || name == "lessthan") return "lt";
  if (name == ">" || name == "greaterthan") return "gt";
  if (name == "<=") return "le";
  if (name == ">=") return "ge";
  return name;
}

}  // namespace

bool test_known(const std::string& name) {
  static const char* names[] = {"defined", "undefined", "none", "boolean", "false", "true", "integer", "float",
                                "number", "string", "mapping", "sequence", "iterable", "callable", "lower", "upper",
                                "odd", "even", "divisibleby", "sameas", "in", "eq", "ne", "lt", "gt", "le", "ge",
                                "escaped", "filter", "test"};
  std::string n = canonical(name);
  for (const char* k : names)
    if (n == k) return true;
  return false;
}

bool apply_test(Evaluator& ev, const std::string& raw_name, const Value& v, CallArgs& a, int line) {
  std::string name = canonical(raw_name);
  a.line = line;
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind == Kind::boolean;
  if (name == "false") return v.kind == Kind::boolean && !v.b;
  if (name == "true") return v.kind == Kind::boolean && v.b;
  if (name == "integer") return v.kind == Kind::integer;
  if (name == "float") return v.kind == Kind::floating;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  // Jinja2: sequence is "has len() and __getitem__"; iterable is "iter() works". Undefined has both.
  if (name == "sequence") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "iterable") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "callable") return v.kind == Kind::callable;
  if (name == "lower") return v.is_string() && py_lower(v.s) == v.s;
  if (name == "upper") return v.is_string() && py_upper(v.s) == v.s;
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (v.kind != Kind::integer && v.kind != Kind::boolean && v.kind != Kind::floating)
      ev.fail(line, std::string("test '") + name + "' needs a number, not '" + kind_name(v) + "'");
    double x = v.as_double();
    double d = name == "divisibleby" ? operand(ev, a, name).as_double() : 2.0;
    if (d == 0) ev.fail(line, "modulo by zero");
    double r = std::fmod(x, d);
    if (r != 0 && ((r < 0) != (d < 0))) r += d;
    return name == "odd" ? r == 1 : r == 0;
  }
  if (name == "sameas") {
    const Value& o = operand(ev, a, name);
    if (v.kind != o.kind) return false;
    switch (v.kind) {
      case Kind::none:
      case Kind::undefined: return true;
      case Kind::boolean: return v.b == o.b;
      case Kind::list: return v.list == o.list;
      case Kind::dict:
      case Kind::ns: return v.dict == o.dict;
      case Kind::callable: return v.fn == o.fn;
      default: return py_equal(v, o);  // small ints and interned strings are the same object in CPython
    }
  }
  if (name == "in") {
    const Value& seq = operand(ev, a, name);
    if (seq.is_string()) return v.is_string() && seq.s.find(v.s) != std::string::npos;
    if (seq.is_dict()) return seq.dict->find(v) != nullptr;
    for (const Value& x : ev.iterate(seq, line))
      if (py_equal(v, x)) return true;
    return false;
  }
  if (name == "eq") return py_equal(v, operand(ev, a, name));
  if (name == "ne") return !py_equal(v, operand(ev, a, name));
  if (name == "lt" || name == "gt" || name == "le" || name == "ge") return compare(ev, name, v, operand(ev, a, name), line);
  if (name == "escaped") return false;
  if (name == "filter") return filter_known(py_str(v));
  if (name == "test") return test_known(py_str(v));
  ev.fail(line, "No test named '" + raw_name + "'");
}

}  // namespace ingot::chat_template
