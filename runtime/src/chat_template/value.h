// The values a chat template computes with: Python's types as Jinja2 sees them (None, bool, int,
// float, str, list/tuple, dict with insertion order, callables, namespace) plus Jinja2's
// Undefined. Lists, dicts and namespaces are shared by reference, as Python objects are, so a
// namespace assigned inside a loop is seen outside it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ingot::chat_template {

class Evaluator;
struct Value;

// Both free their children iteratively: a template can nest values a million levels deep
// (`{% set ns.l = [ns.l] %}` in a loop), which a recursive destructor would overflow the stack on.
struct List {
  List() = default;
  List(const List&) = default;
  List& operator=(const List&) = default;
  ~List();
  std::vector<Value> items;
  bool tuple = false;  // prints as (a, b) instead of [a, b]
  // A Python generator (what map, select, unique, ... return): iterated once, no len(), no
  // JSON form, always true.
  bool generator = false;
};

// A Python dict: keys are strings (JSON objects), or any hashable value of a template literal
// ({0: 'a'}); the order of insertion kept.
struct Dict {
  Dict() = default;
  Dict(const Dict&) = default;
  Dict& operator=(const Dict&) = default;
  ~Dict();
  std::vector<std::pair<Value, Value>> items;
  const Value* find(const std::string& key) const;
  const Value* find(const Value& key) const;
  void set(const std::string& key, Value value);
  void set(const Value& key, Value value);
};

// Positional and keyword arguments of a call.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
  int line = 0;
};

struct Callable {
  std::string name;
  std::function<Value(Evaluator&, CallArgs&)> call;
};

enum class Kind { undefined, none, boolean, integer, floating, string, list, dict, callable, ns };

struct Value {
  Kind kind = Kind::undefined;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;  // string; for undefined: the name that was missing (for error messages)
  // A markupsafe.Markup string (from |safe or |escape): `+` with a plain str HTML-escapes the str.
  bool safe = false;
  std::shared_ptr<List> list;
  std::shared_ptr<Dict> dict;  // dict and namespace
  std::shared_ptr<Callable> fn;

  static Value undefined(std::string name = {});
  static Value none();
  static Value boolean(bool v);
  static Value integer(int64_t v);
  static Value floating(double v);
  static Value string(std::string v);
  static Value new_list(std::vector<Value> items = {}, bool tuple = false);
  static Value new_generator(std::vector<Value> items);
  static Value new_dict();
  static Value new_namespace();
  static Value function(std::string name, std::function<Value(Evaluator&, CallArgs&)> call);
  static Value from_json(const nlohmann::ordered_json& j);

  bool is_undefined() const { return kind == Kind::undefined; }
  bool is_none() const { return kind == Kind::none; }
  bool is_string() const { return kind == Kind::string; }
  bool is_list() const { return kind == Kind::list; }
  bool is_dict() const { return kind == Kind::dict; }
  bool is_number() const { return kind == Kind::integer || kind == Kind::floating || kind == Kind::boolean; }
  bool truthy() const;
  double as_double() const;  // for numbers (bool as 0/1)
};

const char* kind_name(const Value& v);  // Python's type name: 'str', 'list', 'dict', ...

// markupsafe.escape() of a str: & < > " ' as HTML entities.
std::string html_escape(const std::string& s);

// Python's str() and repr() of a value (str of Undefined is empty).
std::string py_str(const Value& v);
std::string py_repr(const Value& v);
std::string py_float_repr(double v);

// json.dumps(v, ensure_ascii=False, indent=indent, separators=..., sort_keys=...), as transformers'
// tojson filter calls it. indent: empty for None. Throws TemplateError for values JSON has no form for.
struct JsonDumpOptions {
  bool has_indent = false;
  std::string indent;  // the indentation unit when has_indent
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;  // non-ASCII as \uXXXX (UTF-16 surrogate pairs above U+FFFF)
};
std::string py_json_dumps(const Value& v, const JsonDumpOptions& options);

// Python ==, and < for sorting (throws TemplateError where Python raises TypeError).
bool py_equal(const Value& a, const Value& b);
bool py_less(const Value& a, const Value& b);

// Strings as Python sees them: sequences of code points (UTF-8 here).
std::u32string utf8_decode(const std::string& s);
std::string utf8_encode(const std::u32string& s);

}  // namespace ingot::chat_template
