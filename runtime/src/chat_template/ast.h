// The parsed template: statements holding expressions. Nodes own their children; each carries
// the line it starts on, for error messages.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat_template/value.h"

namespace ingot::chat_template {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprType {
  constant,   // value
  name,       // name
  list,       // items
  tuple,      // items
  dict,       // items: key, value, key, value, ...
  attr,       // items[0].name
  item,       // items[0][items[1]]
  slice,      // items[0][items[1]:items[2]:items[3]] (null: omitted)
  call,       // items[0](items[1..], kwargs)
  filter,     // items[0] | name(items[1..], kwargs); items[0] null inside a filter block
  test,       // items[0] is [not] name(items[1..], kwargs)
  unary,      // op items[0]: "-", "+", "not"
  binary,     // items[0] op items[1]: arithmetic, "~", "and", "or", comparisons, "in", "not in"
  condition,  // items[1] if items[0] else items[2] (items[2] null: undefined)
};

struct Expr {
  ExprType type;
  int line = 0;
  std::string name;  // name, attribute, filter/test name, operator
  bool negated = false;  // test: `is not`
  Value value;
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;  // binary "chain": a < b <= c is items a, b, c and ops "<", "<="
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtType {
  text,        // text
  output,      // {{ expr }}
  if_,         // branches (conditions[k] -> bodies[k]), else_body
  for_,        // for targets in expr [if condition] body [else else_body]
  set,         // set targets = expr; or set ns.attr = expr (attr non-empty)
  set_block,   // set targets[0] [| filters] body endset
  macro,       // macro name(params = defaults) body
  call_block,  // call[(params)] expr body
  filter_block,// filter expr (chain of filters on a null input) body
  break_,
  continue_,
  generation,  // transformers' {% generation %} body: rendered as is
};

struct Param {
  std::string name;
  ExprPtr default_value;  // null: required
};

struct Stmt {
  StmtType type;
  int line = 0;
  std::string text;
  std::vector<std::string> targets;
  std::string attr;
  ExprPtr expr;
  ExprPtr condition;
  bool recursive = false;
  std::vector<Param> params;
  std::vector<ExprPtr> conditions;
  std::vector<Body> bodies;
  Body body;
  Body else_body;
};

}  // namespace ingot::chat_template
