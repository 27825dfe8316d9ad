#include "chat_template/evaluator.h"

#include <cmath>
#include <limits>

namespace ingot::chat_template {

namespace {

[[noreturn]] void raise(TemplateError::Kind kind, int line, const std::string& message) {
  throw TemplateError(kind, line, message);
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t py_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

}  // namespace

Evaluator::Evaluator(const RenderOptions& options, Value context) : options_(options) {
  frames_.emplace_back();
  add_globals(frames_[0]);
  if (context.is_dict())
    for (auto& [k, v] : context.dict->items) frames_[0][k.s] = v;
}

void Evaluator::fail(int line, const std::string& message) const { raise(TemplateError::Kind::render, line, message); }

void Evaluator::count_iterations(int64_t n, int line) {
  iterations_ += n;
  if (iterations_ > options_.limits.max_loop_iterations)
    raise(TemplateError::Kind::limit, line,
          "more than " + std::to_string(options_.limits.max_loop_iterations) + " loop iterations");
}

void Evaluator::check_size(size_t n, int line) {
  if (n > options_.limits.max_output_bytes)
    raise(TemplateError::Kind::limit, line,
          "output or value larger than " + std::to_string(options_.limits.max_output_bytes) + " bytes");
}

std::string Evaluator::render(const Body& body) {
  out_.emplace_back();
  Flow flow = exec_body(body);
  if (flow != Flow::normal) fail(0, "'break' or 'continue' outside a loop");
  std::string text = std::move(out_.back());
  out_.pop_back();
  return text;
}

void Evaluator::emit(const std::string& text, int line) {
  std::string& out = out_.back();
  check_size(out.size() + text.size(), line);
  out += text;
}

std::string Evaluator::capture(const Body& body) {
  out_.emplace_back();
  Flow flow = exec_body(body);
  std::string text = std::move(out_.back());
  out_.pop_back();
  if (flow != Flow::normal) fail(0, "'break' or 'continue' outside a loop");
  return text;
}

Evaluator::Flow Evaluator::exec_body(const Body& body) {
  for (const auto& s : body) {
    Flow flow = exec(*s);
    if (flow != Flow::normal) return flow;
  }
  return Flow::normal;
}

Value Evaluator::lookup(const std::string& name) const {
  for (size_t k = frames_.size(); k-- > 0;) {
    auto it = frames_[k].find(name);
    if (it != frames_[k].end()) return it->second;
  }
  return Value::undefined(name);
}

void Evaluator::assign(const std::vector<std::string>& targets, const Value& v, int line) {
  if (targets.size() == 1) {
    frames_.back()[targets[0]] = v;
    return;
  }
  std::vector<Value> items = iterate(v, line);
  if (items.size() != targets.size())
    fail(line, "cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(targets.size()) +
                   " names");
  for (size_t k = 0; k < targets.size(); ++k) frames_.back()[targets[k]] = items[k];
}

Evaluator::Flow Evaluator::exec(const Stmt& s) {
  switch (s.type) {
    case StmtType::text: emit(s.text, s.line); return Flow::normal;
    case StmtType::output: emit(py_str(eval(*s.expr)), s.line); return Flow::normal;
    case StmtType::if_:
      for (size_t k = 0; k < s.conditions.size(); ++k)
        if (eval(*s.conditions[k]).truthy()) return exec_body(s.bodies[k]);
      return exec_body(s.else_body);
    case StmtType::for_: return exec_for(s);
    case StmtType::set: exec_set(s); return Flow::normal;
    case StmtType::set_block: {
      Value v = Value::string(capture(s.body));
      if (s.expr) {
        filter_input_.push_back(v);
        v = eval(*s.expr);
        filter_input_.pop_back();
      }
      frames_.back()[s.targets[0]] = v;
      return Flow::normal;
    }
    case StmtType::macro: frames_.back()[s.text] = make_macro(s); return Flow::normal;
    case StmtType::call_block: {
      // The callee sees `caller`, a macro whose body is this block.
      const Expr& call = *s.expr;
      Value callee = eval(*call.items[0]);
      CallArgs args;
      args.line = s.line;
      for (size_t k = 1; k < call.items.size(); ++k) args.args.push_back(eval(*call.items[k]));
      for (const auto& [key, e] : call.kwargs) args.kwargs.emplace_back(key, eval(*e));
      args.kwargs.emplace_back("caller", make_macro(s));
      emit(py_str(this->call(callee, args, s.line)), s.line);
      return Flow::normal;
    }
    case StmtType::filter_block: {
      filter_input_.push_back(Value::string(capture(s.body)));
      Value v = eval(*s.expr);
      filter_input_.pop_back();
      emit(py_str(v), s.line);
      return Flow::normal;
    }
    case StmtType::break_: return Flow::break_;
    case StmtType::continue_: return Flow::continue_;
    case StmtType::generation: return exec_body(s.body);
  }
  return Flow::normal;
}

void Evaluator::exec_set(const Stmt& s) {
  Value v = eval(*s.expr);
  if (s.attr.empty()) {
    assign(s.targets, v, s.line);
    return;
  }
  Value ns = lookup(s.targets[0]);
  if (ns.kind != Kind::ns) fail(s.line, "cannot assign attribute on non-namespace object");
  ns.dict->set(s.attr, v);
}

Evaluator::Flow Evaluator::exec_for(const Stmt& s) {
  if (s.recursive) raise(TemplateError::Kind::unsupported, s.line, "unsupported construct 'for ... recursive'");
  std::vector<Value> items = iterate(eval(*s.expr), s.line);
  if (s.condition) {
    // `for x in xs if cond`: the condition sees the loop variable, not `loop`.
    std::vector<Value> kept;
    for (const Value& item : items) {
      count_iterations(1, s.line);
      frames_.emplace_back();
      assign(s.targets, item, s.line);
      bool keep = eval(*s.condition).truthy();
      frames_.pop_back();
      if (keep) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec_body(s.else_body);
  int64_t n = static_cast<int64_t>(items.size());
  for (int64_t k = 0; k < n; ++k) {
    count_iterations(1, s.line);
    frames_.emplace_back();
    Value loop = Value::new_dict();
    Dict& d = *loop.dict;
    d.set("index0", Value::integer(k));
    d.set("index", Value::integer(k + 1));
    d.set("revindex0", Value::integer(n - k - 1));
    d.set("revindex", Value::integer(n - k));
    d.set("first", Value::boolean(k == 0));
    d.set("last", Value::boolean(k == n - 1));
    d.set("length", Value::integer(n));
    d.set("depth", Value::integer(1));  // the depth of a recursive loop; nested loops are each at 1
    d.set("depth0", Value::integer(0));
    d.set("previtem", k > 0 ? items[static_cast<size_t>(k - 1)] : Value::undefined("loop.previtem"));
    d.set("nextitem", k + 1 < n ? items[static_cast<size_t>(k + 1)] : Value::undefined("loop.nextitem"));
    d.set("cycle", Value::function("loop.cycle", [k](Evaluator& ev, CallArgs& a) {
            if (a.args.empty()) ev.fail(a.line, "no items for cycling given");
            return a.args[static_cast<size_t>(k) % a.args.size()];
          }));
    frames_.back()["loop"] = loop;
    assign(s.targets, items[static_cast<size_t>(k)], s.line);
    Flow flow = exec_body(s.body);
    frames_.pop_back();
    if (flow == Flow::break_) break;
  }
  return Flow::normal;
}

Value Evaluator::make_macro(const Stmt& s) {
  const Stmt* stmt = &s;
  std::string name = s.type == StmtType::macro ? s.text : "caller";
  // A caller() block sees the frames where it was written; a macro sees the globals.
  bool is_caller = s.type == StmtType::call_block;
  std::vector<Frame> closure;
  if (is_caller) closure = frames_;
  return Value::function(name, [stmt, name, is_caller, closure](Evaluator& ev, CallArgs& a) {
    if (ev.call_depth_ >= ev.options_.limits.max_call_depth)
      raise(TemplateError::Kind::limit, a.line,
            "macro calls nested deeper than " + std::to_string(ev.options_.limits.max_call_depth));
    if (a.args.size() > stmt->params.size())
      ev.fail(a.line, "macro '" + name + "' takes not more than " + std::to_string(stmt->params.size()) +
                          " argument(s)");
    Frame frame;
    Value caller;
    for (size_t k = 0; k < stmt->params.size(); ++k) {
      if (k < a.args.size()) frame[stmt->params[k].name] = a.args[k];
    }
    for (auto& [key, v] : a.kwargs) {
      if (key == "caller") {
        caller = v;
        continue;
      }
      bool found = false;
      for (const auto& p : stmt->params) found = found || p.name == key;
      if (!found) ev.fail(a.line, "macro '" + name + "' takes no keyword argument '" + key + "'");
      frame[key] = v;
    }
    std::vector<Frame> saved;
    if (is_caller) {
      saved = std::move(ev.frames_);
      ev.frames_ = closure;
    } else {
      saved.assign(std::make_move_iterator(ev.frames_.begin() + 1), std::make_move_iterator(ev.frames_.end()));
      ev.frames_.resize(1);
    }
    ev.frames_.emplace_back();
    ++ev.call_depth_;
    std::string text;
    try {
      for (const auto& p : stmt->params) {
        if (frame.count(p.name)) {
          ev.frames_.back()[p.name] = frame[p.name];
        } else if (p.default_value) {
          ev.frames_.back()[p.name] = ev.eval(*p.default_value);
        } else {
          ev.frames_.back()[p.name] = Value::undefined(p.name);
        }
      }
      if (!caller.is_undefined()) ev.frames_.back()["caller"] = caller;
      ev.frames_.back()["varargs"] = Value::new_list({}, true);
      ev.frames_.back()["kwargs"] = Value::new_dict();
      text = ev.capture(stmt->body);
    } catch (...) {
      --ev.call_depth_;
      if (is_caller) {
        ev.frames_ = std::move(saved);
      } else {
        ev.frames_.resize(1);
        for (auto& f : saved) ev.frames_.push_back(std::move(f));
      }
      throw;
    }
    --ev.call_depth_;
    if (is_caller) {
      ev.frames_ = std::move(saved);
    } else {
      ev.frames_.resize(1);
      for (auto& f : saved) ev.frames_.push_back(std::move(f));
    }
    return Value::string(std::move(text));
  });
}

std::vector<Value> Evaluator::iterate(const Value& v, int line) {
  // v is const, but a generator's items are shared state that iterating empties.
  switch (v.kind) {
    case Kind::undefined: return {};
    case Kind::list:
      if (v.list->generator) return std::move(v.list->items);  // consumed, as a Python generator is
      return v.list->items;
    case Kind::dict: {
      std::vector<Value> keys;
      for (const auto& item : v.dict->items) keys.push_back(item.first);
      return keys;
    }
    case Kind::string: {
      std::vector<Value> chars;
      for (char32_t cp : utf8_decode(v.s)) chars.push_back(Value::string(utf8_encode(std::u32string(1, cp))));
      return chars;
    }
    default: fail(line, std::string("'") + kind_name(v) + "' object is not iterable");
  }
}

Value Evaluator::get_attr(const Value& obj, const std::string& name, int line) {
  if (obj.is_undefined()) {
    fail(line, obj.s.empty() ? "'" + name + "' of an undefined value"
                             : "'" + obj.s + "' is undefined (reading its attribute '" + name + "')");
  }
  if (!name.empty() && name[0] == '_') return Value::undefined(name);  // the sandbox hides these
  if (obj.kind == Kind::ns) {
    const Value* v = obj.dict->find(name);
    return v ? *v : Value::undefined(name);
  }
  Value method = find_method(*this, obj, name, line);
  if (!method.is_undefined()) return method;
  if (obj.is_dict()) {
    const Value* v = obj.dict->find(name);
    return v ? *v : Value::undefined(name);
  }
  return Value::undefined(name);
}

Value Evaluator::get_item(const Value& obj, const Value& key, int line) {
  if (obj.is_undefined()) fail(line, "'" + obj.s + "' is undefined (subscripted)");
  if (obj.is_dict()) {
    if (const Value* v = obj.dict->find(key)) return *v;
    if (!key.is_string()) return Value::undefined(py_repr(key));
  }
  if (obj.is_list() && obj.list->generator) fail(line, "'generator' object is not subscriptable");
  if ((obj.is_list() || obj.is_string()) && (key.kind == Kind::integer || key.kind == Kind::boolean)) {
    if (obj.is_list()) {
      int64_t n = static_cast<int64_t>(obj.list->items.size());
      int64_t k = key.i < 0 ? key.i + n : key.i;
      if (k < 0 || k >= n) return Value::undefined("[" + std::to_string(key.i) + "]");
      return obj.list->items[static_cast<size_t>(k)];
    }
    std::u32string s = utf8_decode(obj.s);
    int64_t n = static_cast<int64_t>(s.size());
    int64_t k = key.i < 0 ? key.i + n : key.i;
    if (k < 0 || k >= n) return Value::undefined("[" + std::to_string(key.i) + "]");
    return Value::string(utf8_encode(s.substr(static_cast<size_t>(k), 1)));
  }
  if (key.is_string()) return get_attr(obj, key.s, line);  // Jinja2 falls back to getattr
  return Value::undefined();
}

Value Evaluator::call(const Value& callee, CallArgs& args, int line) {
  args.line = line;
  if (callee.kind != Kind::callable) {
    if (callee.is_undefined()) fail(line, "'" + callee.s + "' is undefined (called)");
    fail(line, std::string("'") + kind_name(callee) + "' object is not callable");
  }
  return callee.fn->call(*this, args);
}

Value Evaluator::eval_filter(const Expr& e) {
  Value input;
  if (e.items[0]) input = eval(*e.items[0]);
  else input = filter_input_.back();
  CallArgs args;
  args.line = e.line;
  for (size_t k = 1; k < e.items.size(); ++k) args.args.push_back(eval(*e.items[k]));
  for (const auto& [key, x] : e.kwargs) args.kwargs.emplace_back(key, eval(*x));
  return apply_filter(*this, e.name, input, args, e.line);
}

Value Evaluator::eval(const Expr& e) {
  switch (e.type) {
    case ExprType::constant: return e.value;
    case ExprType::name: return lookup(e.name);
    case ExprType::list:
    case ExprType::tuple: {
      Value v = Value::new_list({}, e.type == ExprType::tuple);
      for (const auto& item : e.items) v.list->items.push_back(eval(*item));
      return v;
    }
    case ExprType::dict: {
      Value v = Value::new_dict();
      for (size_t k = 0; k + 1 < e.items.size(); k += 2) {
        Value key = eval(*e.items[k]);
        if (key.is_list() || key.is_dict() || key.is_undefined() || key.kind == Kind::ns)
          fail(e.line, std::string("unhashable type: '") + kind_name(key) + "'");
        v.dict->set(key, eval(*e.items[k + 1]));
      }
      return v;
    }
    case ExprType::attr: return get_attr(eval(*e.items[0]), e.name, e.line);
    case ExprType::item: {
      Value obj = eval(*e.items[0]);
      return get_item(obj, eval(*e.items[1]), e.line);
    }
    case ExprType::slice: {
      Value obj = eval(*e.items[0]);
      if (obj.is_undefined()) fail(e.line, "'" + obj.s + "' is undefined (sliced)");
      int64_t parts[3] = {0, 0, 1};
      bool given[3] = {false, false, false};
      for (int k = 0; k < 3; ++k) {
        if (!e.items[static_cast<size_t>(k) + 1]) continue;
        Value p = eval(*e.items[static_cast<size_t>(k) + 1]);
        if (p.is_none()) continue;
        if (p.kind != Kind::integer && p.kind != Kind::boolean)
          fail(e.line, "slice indices must be integers or None");
        parts[k] = p.i;
        given[k] = true;
      }
      int64_t step = parts[2];
      if (step == 0) fail(e.line, "slice step cannot be zero");
      std::u32string chars;
      int64_t n;
      if (obj.is_list() && obj.list->generator) fail(e.line, "'generator' object is not subscriptable");
      if (obj.is_list()) n = static_cast<int64_t>(obj.list->items.size());
      else if (obj.is_string()) n = static_cast<int64_t>((chars = utf8_decode(obj.s)).size());
      else fail(e.line, std::string("'") + kind_name(obj) + "' object is not subscriptable");
      // Python's slice.indices()
      auto clamp = [&](int64_t v, bool is_given, int64_t fallback) {
        if (!is_given) return fallback;
        if (v < 0) v += n;
        if (step > 0) return v < 0 ? 0 : v > n ? n : v;
        return v < -1 ? -1 : v > n - 1 ? n - 1 : v;
      };
      int64_t start = clamp(parts[0], given[0], step > 0 ? 0 : n - 1);
      int64_t stop = clamp(parts[1], given[1], step > 0 ? n : -1);
      std::vector<int64_t> idx;
      for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) idx.push_back(k);
      if (obj.is_list()) {
        Value v = Value::new_list({}, obj.list->tuple);
        for (int64_t k : idx) v.list->items.push_back(obj.list->items[static_cast<size_t>(k)]);
        return v;
      }
      std::u32string out;
      for (int64_t k : idx) out += chars[static_cast<size_t>(k)];
      return Value::string(utf8_encode(out));
    }
    case ExprType::call: {
      Value callee = eval(*e.items[0]);
      CallArgs args;
      for (size_t k = 1; k < e.items.size(); ++k) args.args.push_back(eval(*e.items[k]));
      for (const auto& [key, x] : e.kwargs) args.kwargs.emplace_back(key, eval(*x));
      return call(callee, args, e.line);
    }
    case ExprType::filter: return eval_filter(e);
    case ExprType::test: {
      Value v = eval(*e.items[0]);
      CallArgs args;
      args.line = e.line;
      for (size_t k = 1; k < e.items.size(); ++k) args.args.push_back(eval(*e.items[k]));
      for (const auto& [key, x] : e.kwargs) args.kwargs.emplace_back(key, eval(*x));
      bool r = apply_test(*this, e.name, v, args, e.line);
      return Value::boolean(e.negated ? !r : r);
    }
    case ExprType::unary: {
      Value v = eval(*e.items[0]);
      if (e.name == "not") return Value::boolean(!v.truthy());
      if (v.kind == Kind::integer || v.kind == Kind::boolean) {
        if (e.name == "-" && v.i == std::numeric_limits<int64_t>::min()) fail(e.line, "integer overflow");
        return Value::integer(e.name == "-" ? -v.i : v.i);
      }
      if (v.kind == Kind::floating) return Value::floating(e.name == "-" ? -v.f : v.f);
      fail(e.line, "bad operand type for unary " + e.name + ": '" + kind_name(v) + "'");
    }
    case ExprType::binary: return eval_binary(e);
    case ExprType::condition: {
      if (eval(*e.items[0]).truthy()) return eval(*e.items[1]);
      if (e.items[2]) return eval(*e.items[2]);
      return Value::undefined();
    }
  }
  return Value::undefined();
}

Value Evaluator::eval_binary(const Expr& e) {
  const std::string& op = e.name;
  if (op == "and") {
    Value a = eval(*e.items[0]);
    return a.truthy() ? eval(*e.items[1]) : a;
  }
  if (op == "or") {
    Value a = eval(*e.items[0]);
    return a.truthy() ? a : eval(*e.items[1]);
  }
  if (op == "chain") {
    Value left = eval(*e.items[0]);
    for (size_t k = 0; k < e.ops.size(); ++k) {
      Value right = eval(*e.items[k + 1]);
      Value r = apply_binary(e.ops[k], left, right, e.line);
      if (!r.truthy()) return r;
      left = std::move(right);
    }
    return Value::boolean(true);
  }
  return apply_binary(op, eval(*e.items[0]), eval(*e.items[1]), e.line);
}

Value Evaluator::apply_binary(const std::string& op, const Value& a, const Value& b, int line) {
  if (op == "~") {
    std::string s = py_str(a) + py_str(b);
    check_size(s.size(), line);
    return Value::string(std::move(s));
  }
  if (op == "==") return Value::boolean(py_equal(a, b));
  if (op == "!=") return Value::boolean(!py_equal(a, b));
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    if (a.is_undefined() || b.is_undefined()) fail(line, "comparison with an undefined value");
    try {
      if (op == "<") return Value::boolean(py_less(a, b));
      if (op == ">") return Value::boolean(py_less(b, a));
      if (op == "<=") return Value::boolean(!py_less(b, a));
      return Value::boolean(!py_less(a, b));
    } catch (const TemplateError& err) {
      fail(line, err.message());
    }
  }
  if (op == "in" || op == "not in") {
    bool found = false;
    if (b.is_string()) {
      if (!a.is_string()) fail(line, std::string("'in <string>' requires string as left operand, not ") + kind_name(a));
      found = b.s.find(a.s) != std::string::npos;
    } else if (b.is_list()) {
      for (const auto& item : b.list->items) found = found || py_equal(a, item);
    } else if (b.is_dict()) {
      found = b.dict->find(a) != nullptr;
    } else if (!b.is_undefined()) {
      fail(line, std::string("argument of type '") + kind_name(b) + "' is not iterable");
    }
    return Value::boolean(op == "in" ? found : !found);
  }
  if (a.is_undefined() || b.is_undefined())
    fail(line, "'" + (a.is_undefined() ? a.s : b.s) + "' is undefined (operand of " + op + ")");
  bool ints = (a.kind == Kind::integer || a.kind == Kind::boolean) && (b.kind == Kind::integer || b.kind == Kind::boolean);
  bool nums = a.is_number() && b.is_number();
  auto type_error = [&]() {
    fail(line, "unsupported operand type(s) for " + op + ": '" + kind_name(a) + "' and '" + kind_name(b) + "'");
  };
  if (op == "+") {
    if (ints) {
      int64_t r;
      if (__builtin_add_overflow(a.i, b.i, &r)) fail(line, "integer overflow");
      return Value::integer(r);
    }
    if (nums) return Value::floating(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) {
      check_size(a.s.size() + b.s.size(), line);
      if (!a.safe && !b.safe) return Value::string(a.s + b.s);
      // Markup + str escapes the str (and str + Markup), whatever the environment's autoescape.
      Value v = Value::string((a.safe ? a.s : html_escape(a.s)) + (b.safe ? b.s : html_escape(b.s)));
      check_size(v.s.size(), line);
      v.safe = true;
      return v;
    }
    if (a.is_list() && b.is_list() && a.list->tuple == b.list->tuple && !a.list->generator && !b.list->generator) {
      check_size(a.list->items.size() + b.list->items.size(), line);
      Value v = Value::new_list(a.list->items, a.list->tuple);
      v.list->items.insert(v.list->items.end(), b.list->items.begin(), b.list->items.end());
      return v;
    }
    type_error();
  }
  if (op == "-") {
    if (ints) {
      int64_t r;
      if (__builtin_sub_overflow(a.i, b.i, &r)) fail(line, "integer overflow");
      return Value::integer(r);
    }
    if (nums) return Value::floating(a.as_double() - b.as_double());
    type_error();
  }
  if (op == "*") {
    if (ints) {
      int64_t r;
      if (__builtin_mul_overflow(a.i, b.i, &r)) fail(line, "integer overflow");
      return Value::integer(r);
    }
    if (nums) return Value::floating(a.as_double() * b.as_double());
    const Value* seq = a.is_string() || a.is_list() ? &a : &b;
    const Value* count = seq == &a ? &b : &a;
    if ((seq->is_string() || (seq->is_list() && !seq->list->generator)) && (count->kind == Kind::integer || count->kind == Kind::boolean)) {
      int64_t n = count->i < 0 ? 0 : count->i;
      size_t unit = seq->is_string() ? seq->s.size() : seq->list->items.size();
      if (unit != 0 && static_cast<uint64_t>(n) > options_.limits.max_output_bytes / unit) check_size(SIZE_MAX, line);
      if (seq->is_string()) {
        std::string s;
        for (int64_t k = 0; k < n; ++k) s += seq->s;
        return Value::string(std::move(s));
      }
      Value v = Value::new_list({}, seq->list->tuple);
      for (int64_t k = 0; k < n; ++k)
        v.list->items.insert(v.list->items.end(), seq->list->items.begin(), seq->list->items.end());
      return v;
    }
    type_error();
  }
  if (op == "/") {
    if (!nums) type_error();
    if (b.as_double() == 0.0) fail(line, "division by zero");
    return Value::floating(a.as_double() / b.as_double());
  }
  if (op == "//" || op == "%") {
    if (a.is_string() && op == "%")
      raise(TemplateError::Kind::unsupported, line, "unsupported construct: printf-style string formatting ('%')");
    if (!nums) type_error();
    if (b.as_double() == 0.0) fail(line, op == "%" ? "modulo by zero" : "division by zero");
    if (ints) {
      if (a.i == std::numeric_limits<int64_t>::min() && b.i == -1) fail(line, "integer overflow");
      return Value::integer(op == "//" ? floor_div(a.i, b.i) : py_mod(a.i, b.i));
    }
    double x = a.as_double(), y = b.as_double();
    if (op == "//") return Value::floating(std::floor(x / y));
    double r = std::fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return Value::floating(r);
  }
  if (op == "**") {
    if (!nums) type_error();
    if (ints && b.i >= 0) {
      if (a.i == 0 || a.i == 1) return Value::integer(b.i == 0 ? 1 : a.i);
      if (a.i == -1) return Value::integer(b.i % 2 == 0 ? 1 : -1);
      int64_t r = 1;  // |a| >= 2 overflows within 63 steps
      for (int64_t k = 0; k < b.i; ++k)
        if (__builtin_mul_overflow(r, a.i, &r)) fail(line, "integer overflow");
      return Value::integer(r);
    }
    return Value::floating(std::pow(a.as_double(), b.as_double()));
  }
  fail(line, "unknown operator " + op);
}

}  // namespace ingot::chat_template
