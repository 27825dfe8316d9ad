// Jinja2's built-in filters that chat templates use, and transformers' tojson.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include "chat_template/evaluator.h"

namespace ingot::chat_template {

const Value* find_arg(const CallArgs& args, size_t position, const char* keyword) {
  for (const auto& [k, v] : args.kwargs)
    if (k == keyword) return &v;
  if (position < args.args.size()) return &args.args[position];
  return nullptr;
}

Value arg_or(const CallArgs& args, size_t position, const char* keyword, Value fallback) {
  const Value* v = find_arg(args, position, keyword);
  return v ? *v : fallback;
}

namespace {

using FilterFn = Value (*)(Evaluator&, const Value&, CallArgs&, int);


// Jinja2's sort key: strings lowered unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (v.is_string() && !case_sensitive) return Value::string(py_lower(v.s));
  return v;
}

void sort_values(Evaluator& ev, std::vector<Value>& items, const std::function<Value(const Value&)>& key, int line) {
  try {
    std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) { return py_less(key(a), key(b)); });
  } catch (const TemplateError& e) {
    ev.fail(line, e.message());
  }
}

// The value of a dotted attribute path ("a.b", "0"), as Jinja2's make_attrgetter reads it.
Value attr_path(Evaluator& ev, const Value& v, const Value& attribute, int line) {
  if (attribute.kind == Kind::integer) return ev.get_item(v, attribute, line);
  std::string path = py_str(attribute);
  Value cur = v;
  size_t pos = 0;
  for (;;) {
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = ev.get_item(cur, numeric ? Value::integer(std::atoll(part.c_str())) : Value::string(part), line);
    if (dot == std::string::npos) return cur;
    pos = dot + 1;
  }
}

Value f_length(Evaluator& ev, const Value& v, CallArgs&, int line) {
  switch (v.kind) {
    case Kind::undefined: return Value::integer(0);
    case Kind::string: return Value::integer(static_cast<int64_t>(utf8_decode(v.s).size()));
    case Kind::list:
      if (v.list->generator) break;
      return Value::integer(static_cast<int64_t>(v.list->items.size()));
    case Kind::dict: return Value::integer(static_cast<int64_t>(v.dict->items.size()));
    default: break;
  }
  ev.fail(line, std::string("object of type '") + kind_name(v) + "' has no len()");
}

Value f_tojson(Evaluator& ev, const Value& v, CallArgs& a, int line) {
  // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  JsonDumpOptions o;
  o.ensure_ascii = arg_or(a, 0, "ensure_ascii", Value::boolean(false)).truthy();
  Value indent = arg_or(a, 1, "indent", Value::none());
  if (!indent.is_none()) {
    o.has_indent = true;
    o.item_separator = ",";
    if (indent.is_string()) o.indent = indent.s;
    else if (indent.kind == Kind::integer) o.indent = std::string(indent.i > 0 ? static_cast<size_t>(std::min<int64_t>(indent.i, 1024)) : 0, ' ');
    else ev.fail(line, "tojson: indent must be an int or a string");
  }
  Value seps = arg_or(a, 2, "separators", Value::none());
  if (!seps.is_none()) {
    if (!seps.is_list() || seps.list->items.size() != 2 || !seps.list->items[0].is_string() || !seps.list->items[1].is_string())
      ev.fail(line, "tojson: separators must be a pair of strings");
    o.item_separator = seps.list->items[0].s;
    o.key_separator = seps.list->items[1].s;
  }
  o.sort_keys = arg_or(a, 3, "sort_keys", Value::boolean(false)).truthy();
  try {
    std::string s = py_json_dumps(v, o);
    ev.check_size(s.size(), line);
    return Value::string(std::move(s));
  } catch (const TemplateError& e) {
    if (e.kind() == TemplateError::Kind::render) ev.fail(line, e.message());
    throw;
  }
}

// A str result of a filter that keeps Markup as Markup (Markup's str methods return Markup).
Value keep_safe(const Value& input, std::string s) {
  Value v = Value::string(std::move(s));
  v.safe = input.is_string() && input.safe;
  return v;
}

Value f_trim(Evaluator&, const Value& v, CallArgs& a, int) {
  return keep_safe(v, py_strip(py_str(v), arg_or(a, 0, "chars", Value::none()), true, true));
}
Value f_string(Evaluator&, const Value& v, CallArgs&, int) { return v.is_string() ? v : Value::string(py_str(v)); }
Value f_safe(Evaluator&, const Value& v, CallArgs&, int) {
  Value out = Value::string(py_str(v));
  out.safe = true;
  return out;
}
Value f_lower(Evaluator&, const Value& v, CallArgs&, int) { return keep_safe(v, py_lower(py_str(v))); }
Value f_upper(Evaluator&, const Value& v, CallArgs&, int) { return keep_safe(v, py_upper(py_str(v))); }

Value f_capitalize(Evaluator&, const Value& v, CallArgs&, int) {
  std::string s = py_lower(py_str(v));
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return Value::string(s);
}

// Jinja2's title filter: a capital after each run of '-', whitespace, '(', '{', '[' or '<'.
Value f_title(Evaluator&, const Value& v, CallArgs&, int) {
  std::string s = py_str(v), out;
  bool start = true;
  for (char c : s) {
    bool sep = c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '(' ||
               c == '{' || c == '[' || c == '<';
    if (sep) {
      out += c;
      start = true;
    } else if (start) {
      out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
      start = false;
    } else {
      out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
  }
  return Value::string(out);
}

Value f_first(Evaluator& ev, const Value& v, CallArgs&, int line) {
  std::vector<Value> items = ev.iterate(v, line);
  return items.empty() ? Value::undefined("first") : items.front();
}
Value f_last(Evaluator& ev, const Value& v, CallArgs&, int line) {
  if (v.is_list() && v.list->generator) ev.fail(line, "'generator' object is not reversible");
  std::vector<Value> items = ev.iterate(v, line);
  return items.empty() ? Value::undefined("last") : items.back();
}

Value f_join(Evaluator& ev, const Value& v, CallArgs& a, int line) {
  std::string sep = py_str(arg_or(a, 0, "d", Value::string("")));
  Value attribute = arg_or(a, 1, "attribute", Value::none());
  std::string out;
  bool first = true;
  for (const Value& item : ev.iterate(v, line)) {
    if (!first) out += sep;
    first = false;
    out += py_str(attribute.is_none() ? item : attr_path(ev, item, attribute, line));
    ev.check_size(out.size(), line);
  }
  return Value::string(out);
}

Value f_default(Evaluator&, const Value& v, CallArgs& a, int) {
  Value fallback = arg_or(a, 0, "default_value", Value::string(""));
  bool boolean = arg_or(a, 1, "boolean", Value::boolean(false)).truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return fallback;
  return v;
}

Value f_list(Evaluator& ev, const Value& v, CallArgs&, int line) { return Value::new_list(ev.iterate(v, line)); }

Value f_int(Evaluator&, const Value& v, CallArgs& a, int) {
  Value fallback = arg_or(a, 0, "default", Value::integer(0));
  if (arg_or(a, 1, "base", Value::integer(10)).i != 10)
    throw TemplateError(TemplateError::Kind::unsupported, a.line, "unsupported construct: int filter with a base");
  if (v.kind == Kind::integer || v.kind == Kind::boolean) return Value::integer(v.i);
  if (v.kind == Kind::floating) {
    if (!std::isfinite(v.f) || std::fabs(v.f) >= 9.2e18) return fallback;
    return Value::integer(static_cast<int64_t>(v.f));
  }
  if (v.is_string()) {
    std::string s = py_strip(v.s, Value::none(), true, true);
    if (s.empty()) return fallback;
    char* end = nullptr;
    errno = 0;
    long long i = std::strtoll(s.c_str(), &end, 10);
    if (*end == '\0' && errno == 0) return Value::integer(i);
    // int(float(s)): Python's float() reads no hex, which strtod would.
    if (s.find_first_of("xX") != std::string::npos) return fallback;
    double d = std::strtod(s.c_str(), &end);
    if (*end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value::integer(static_cast<int64_t>(d));
  }
  return fallback;
}

Value f_float(Evaluator&, const Value& v, CallArgs& a, int) {
  Value fallback = arg_or(a, 0, "default", Value::floating(0.0));
  if (v.is_number()) return Value::floating(v.as_double());
  if (v.is_string()) {
    std::string s = py_strip(v.s, Value::none(), true, true);
    char* end = nullptr;
    if (s.find_first_of("xX") != std::string::npos) return fallback;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == '\0') return Value::floating(d);
  }
  return fallback;
}

Value f_indent(Evaluator& ev, const Value& v, CallArgs& a, int line) {
  Value width = arg_or(a, 0, "width", Value::integer(4));
  bool first = arg_or(a, 1, "first", Value::boolean(false)).truthy();
  bool blank = arg_or(a, 2, "blank", Value::boolean(false)).truthy();
  std::string ind = width.is_string() ? width.s : std::string(width.i > 0 ? static_cast<size_t>(std::min<int64_t>(width.i, 4096)) : 0, ' ');
  std::vector<std::string> lines = py_splitlines(py_str(v) + "\n");
  std::string out;
  if (blank) {
    for (size_t k = 0; k < lines.size(); ++k) out += (k ? "\n" + ind : "") + lines[k];
  } else {
    out = lines.empty() ? "" : lines[0];
    for (size_t k = 1; k < lines.size(); ++k) {
      out += "\n";
      if (!lines[k].empty()) out += ind;
      out += lines[k];
      ev.check_size(out.size(), line);
    }
  }
  if (first) out = ind + out;
  ev.check_size(out.size(), line);
  return Value::string(out);
}

Value f_replace(Evaluator& ev, const Value& v, CallArgs& a, int line) {
  Value s = Value::string(py_str(v));
  Value m = find_method(ev, s, "replace", line);
  CallArgs args;
  args.line = line;
  args.args.push_back(arg_or(a, 0, "old", Value::none()));
  args.args.push_back(arg_or(a, 1, "new", Value::none()));
  args.args.push_back(arg_or(a, 2, "count", Value::integer(-1)));
  if (args.args[2].is_none()) args.args[2] = Value::integer(-1);
  return ev.call(m, args, line);
}

Value f_unique(Evaluator& ev, const Value& v, CallArgs& a, int line) {
  bool case_sensitive = arg_or(a, 0, "case_sensitive", Value::boolean(false)).truthy();
  Value attribute = arg_or(a, 1, "attribute", Value::none());
  Value out = Value::new_generator({});
  std::vector<Value> seen;
  for (const Value& item : ev.iterate(v, line)) {
    Value key = sort_key(attribute.is_none() ? item : attr_path(ev, item, attribute, line), case_sensitive);
    bool dup = false;
    for (const auto& s : seen) dup = dup || py_equal(s, key);
    if (dup) continue;
    seen.push_back(key);
    out.list->items.push_back(item);
  }
  return out;
}

Value f_dictsort(Evaluator& ev, const Value& v, CallArgs& a, int line) {
  if (!v.is_dict()) ev.fail(line, "dictsort: expected a dict");
  bool case_sensitive = arg_or(a, 0, "case_sensitive", Value::boolean(false)).truthy();
  std::string by = py_str(arg_or(a, 1, "by", Value::string("key")));
  bool reverse = arg_or(a, 2, "reverse", Value::boolean(false)).truthy();
  int pos = by == "key" ? 0 : by == "value" ? 1 : -1;
  if (pos < 0) ev.fail(line, "You can only sort by either \"key\" or \"value\"");
  std::vector<Value> items;
  for (const auto& [k, x] : v.dict->items) items.push_back(Value::new_list({k, x}, true));
  sort_values(ev, items, [&](const Value& p) { return sort_key(p.list->items[static_cast<size_t>(pos)], case_sensitive); }, line);
  if (reverse) std::reverse(items.begin(), items.end());
  return Value::new_list(std::move(items));
}

Value f_sort(Evaluator& ev, const Value& v, CallArgs& a, int line) {
  bool reverse = arg_or(a, 0, "reverse", Value::boolean(false)).truthy();
  bool case_sensitive = arg_or(a, 1, "case_sensitive", Value::boolean(false)).truthy();
  Value attribute = arg_or(a, 2, "attribute", Value::none());
  std::vector<Value> items = ev.iterate(v, line);
  sort_values(ev, items, [&](const Value& x) {
    return sort_key(attribute.is_none() ? x : attr_path(ev, x, attribute, line), case_sensitive);
  }, line);
  if (reverse) std::reverse(items.begin(), items.end());
  return Value::new_list(std::move(items));
}

Value f_items(Evaluator& ev, const Value& v, CallArgs&, int line) {
  if (v.is_undefined()) return Value::new_generator({});
  if (!v.is_dict()) ev.fail(line, "items: can only get item pairs from a mapping");
  Value out = Value::new_generator({});
  for (const auto& [k, x] : v.dict->items) out.list->items.push_back(Value::new_list({k, x}, true));
  return out;
}

Value f_reverse(Evaluator& ev, const Value& v, CallArgs&, int line) {
  if (v.is_string()) {
    std::u32string u = utf8_decode(v.s);
    std::reverse(u.begin(), u.end());
    return Value::string(utf8_encode(u));
  }
  std::vector<Value> items = ev.iterate(v, line);
  std::reverse(items.begin(), items.end());
  return Value::new_generator(std::move(items));  // a reverse iterator in Python
}

Value f_abs(Evaluator& ev, const Value& v, CallArgs&, int line) {
  if (v.kind == Kind::integer || v.kind == Kind::boolean) {
    if (v.i == INT64_MIN) ev.fail(line, "integer overflow");
    return Value::integer(v.i < 0 ? -v.i : v.i);
  }
  if (v.kind == Kind::floating) return Value::floating(std::fabs(v.f));
  ev.fail(line, std::string("bad operand type for abs(): '") + kind_name(v) + "'");
}

Value f_round(Evaluator& ev, const Value& v, CallArgs& a, int line) {
  int64_t precision = arg_or(a, 0, "precision", Value::integer(0)).i;
  std::string method = py_str(arg_or(a, 1, "method", Value::string("common")));
  if (!v.is_number()) ev.fail(line, std::string("round: a number is needed, not '") + kind_name(v) + "'");
  if (precision < 0 || precision > 15)
    throw TemplateError(TemplateError::Kind::unsupported, line, "unsupported construct: round with precision outside 0..15");
  double scale = std::pow(10.0, static_cast<double>(precision));
  if (method == "common") {
    if (v.kind != Kind::floating) return Value::integer(v.i);  // round(int, n) is the int
    return Value::floating(std::nearbyint(v.f * scale) / scale);  // half to even, as Python's round
  }
  if (method != "ceil" && method != "floor") ev.fail(line, "method must be common, ceil or floor");
  double x = v.as_double() * scale;
  return Value::floating((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value min_max(Evaluator& ev, const Value& v, CallArgs& a, int line, bool max) {
  bool case_sensitive = arg_or(a, 0, "case_sensitive", Value::boolean(false)).truthy();
  Value attribute = arg_or(a, 1, "attribute", Value::none());
  std::vector<Value> items = ev.iterate(v, line);
  if (items.empty()) return Value::undefined(max ? "max" : "min");
  auto key = [&](const Value& x) { return sort_key(attribute.is_none() ? x : attr_path(ev, x, attribute, line), case_sensitive); };
  Value best = items[0];
  try {
    for (size_t k = 1; k < items.size(); ++k)
      if (max ? py_less(key(best), key(items[k])) : py_less(key(items[k]), key(best))) best = items[k];
  } catch (const TemplateError& e) {
    ev.fail(line, e.message());
  }
  return best;
}
Value f_min(Evaluator& ev, const Value& v, CallArgs& a, int line) { return min_max(ev, v, a, line, false); }
Value f_max(Evaluator& ev, const Value& v, CallArgs& a, int line) { return min_max(ev, v, a, line, true); }

Value f_sum(Evaluator& ev, const Value& v, CallArgs& a, int line) {
  Value attribute = arg_or(a, 0, "attribute", Value::none());
  Value total = arg_or(a, 1, "start", Value::integer(0));
  for (const Value& item : ev.iterate(v, line)) {
    Value x = attribute.is_none() ? item : attr_path(ev, item, attribute, line);
    if (!x.is_number() || !total.is_number()) ev.fail(line, "sum: unsupported operand types");
    if (x.kind == Kind::floating || total.kind == Kind::floating) total = Value::floating(total.as_double() + x.as_double());
    else if (__builtin_add_overflow(total.i, x.i, &total.i)) ev.fail(line, "integer overflow");
    else total = Value::integer(total.i);
  }
  return total;
}

Value f_attr(Evaluator& ev, const Value& v, CallArgs& a, int line) {
  return ev.get_attr(v, py_str(arg_or(a, 0, "name", Value::string(""))), line);
}

Value f_escape(Evaluator&, const Value& v, CallArgs&, int) {
  if (v.is_string() && v.safe) return v;
  Value out = Value::string(html_escape(py_str(v)));
  out.safe = true;
  return out;
}

Value f_wordcount(Evaluator& ev, const Value& v, CallArgs&, int line) {
  (void)ev;
  (void)line;
  int64_t n = 0;
  bool in_word = false;
  for (char c : py_str(v)) {
    bool w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
             static_cast<unsigned char>(c) >= 0x80;
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

// map, select, reject, selectattr, rejectattr
Value f_map(Evaluator& ev, const Value& v, CallArgs& a, int line) {
  if (!v.truthy()) return Value::new_generator({});  // Jinja2: `if value:` before iterating
  std::vector<Value> items = ev.iterate(v, line);
  Value out = Value::new_generator({});
  if (const Value* attribute = find_arg(a, SIZE_MAX, "attribute")) {
    Value fallback = arg_or(a, SIZE_MAX, "default", Value::undefined());
    for (const Value& item : items) {
      Value x = attr_path(ev, item, *attribute, line);
      out.list->items.push_back(x.is_undefined() && !fallback.is_undefined() ? fallback : x);
    }
    return out;
  }
  if (a.args.empty()) ev.fail(line, "map requires a filter argument");
  std::string name = py_str(a.args[0]);
  if (!filter_known(name)) ev.fail(line, "No filter named '" + name + "'");
  CallArgs rest;
  rest.line = line;
  rest.args.assign(a.args.begin() + 1, a.args.end());
  rest.kwargs = a.kwargs;
  for (const Value& item : items) {
    ev.count_iterations(1, line);
    CallArgs copy = rest;
    out.list->items.push_back(apply_filter(ev, name, item, copy, line));
  }
  return out;
}

Value select_impl(Evaluator& ev, const Value& v, CallArgs& a, int line, bool by_attr, bool keep_if) {
  if (!v.truthy()) return Value::new_generator({});  // Jinja2: `if value:` before iterating
  std::vector<Value> items = ev.iterate(v, line);
  size_t k = 0;
  Value attribute;
  if (by_attr) {
    if (a.args.empty()) ev.fail(line, "selectattr/rejectattr need an attribute");
    attribute = a.args[k++];
  }
  std::string test;
  if (k < a.args.size()) test = py_str(a.args[k++]);
  if (!test.empty() && !test_known(test)) ev.fail(line, "No test named '" + test + "'");
  CallArgs rest;
  rest.line = line;
  rest.args.assign(a.args.begin() + static_cast<long>(k), a.args.end());
  rest.kwargs = a.kwargs;
  Value out = Value::new_generator({});
  for (const Value& item : items) {
    ev.count_iterations(1, line);
    Value x = by_attr ? attr_path(ev, item, attribute, line) : item;
    CallArgs copy = rest;
    bool r = test.empty() ? x.truthy() : apply_test(ev, test, x, copy, line);
    if (r == keep_if) out.list->items.push_back(item);
  }
  return out;
}
Value f_select(Evaluator& ev, const Value& v, CallArgs& a, int line) { return select_impl(ev, v, a, line, false, true); }
Value f_reject(Evaluator& ev, const Value& v, CallArgs& a, int line) { return select_impl(ev, v, a, line, false, false); }
Value f_selectattr(Evaluator& ev, const Value& v, CallArgs& a, int line) { return select_impl(ev, v, a, line, true, true); }
Value f_rejectattr(Evaluator& ev, const Value& v, CallArgs& a, int line) { return select_impl(ev, v, a, line, true, false); }

const std::vector<std::pair<const char*, FilterFn>>& filters() {
  static const std::vector<std::pair<const char*, FilterFn>> table = {
      {"abs", f_abs},           {"attr", f_attr},       {"capitalize", f_capitalize}, {"count", f_length},
      {"d", f_default},         {"default", f_default}, {"dictsort", f_dictsort},     {"e", f_escape},
      {"escape", f_escape},     {"first", f_first},     {"float", f_float},           {"indent", f_indent},
      {"int", f_int},           {"items", f_items},     {"join", f_join},             {"last", f_last},
      {"length", f_length},     {"list", f_list},       {"lower", f_lower},           {"map", f_map},
      {"max", f_max},           {"min", f_min},         {"reject", f_reject},         {"rejectattr", f_rejectattr},
      {"replace", f_replace},   {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe},             {"select", f_select},
      {"selectattr", f_selectattr}, {"sort", f_sort},   {"string", f_string},         {"sum", f_sum},
      {"title", f_title},       {"tojson", f_tojson},   {"trim", f_trim},             {"unique", f_unique},
      {"upper", f_upper},       {"wordcount", f_wordcount},
  };
  return table;
}

}  // namespace

bool filter_known(const std::string& name) {
  for (const auto& [n, f] : filters())
    if (name == n) return true;
  return false;
}

bool filter_jinja_builtin(const std::string& name) {
  static const std::set<std::string> jinja = {
      "batch", "center", "filesizeformat", "forceescape", "format", "groupby", "pprint", "random",
      "slice", "striptags", "truncate", "urlencode", "urlize", "wordwrap", "xmlattr"};
  return jinja.count(name) != 0;
}

Value apply_filter(Evaluator& ev, const std::string& name, const Value& input, CallArgs& args, int line) {
  for (const auto& [n, f] : filters())
    if (name == n) return f(ev, input, args, line);
  if (filter_jinja_builtin(name))
    throw TemplateError(TemplateError::Kind::unsupported, line, "unsupported construct: filter '" + name + "'");
  ev.fail(line, "No filter named '" + name + "'");
}

}  // namespace ingot::chat_template
