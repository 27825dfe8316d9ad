// Python's semantics for the template's values: str(), repr(), json.dumps(), ==, <.
#include "chat_template/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "chat_template/chat_template.h"

namespace ingot::chat_template {

namespace {

// Moves the children of values that nobody else holds onto a work list, so that destroying a
// deeply nested value takes constant stack.
void release(std::vector<Value>& stack) {
  while (!stack.empty()) {
    Value v = std::move(stack.back());
    stack.pop_back();
    if (v.list && v.list.use_count() == 1) {
      for (auto& x : v.list->items) stack.push_back(std::move(x));
      v.list->items.clear();
    }
    if (v.dict && v.dict.use_count() == 1) {
      for (auto& [k, x] : v.dict->items) {
        stack.push_back(std::move(k));
        stack.push_back(std::move(x));
      }
      v.dict->items.clear();
    }
  }
}

// Python raises RecursionError printing or comparing values nested about 1000 deep; so do we.
thread_local int g_depth = 0;
struct DepthGuard {
  DepthGuard() {
    if (++g_depth > 900) {
      g_depth = 0;
      throw TemplateError(TemplateError::Kind::limit, 0, "values nested deeper than 900 levels");
    }
  }
  ~DepthGuard() {
    if (g_depth > 0) --g_depth;
  }
};

}  // namespace

List::~List() {
  if (items.empty()) return;
  std::vector<Value> stack = std::move(items);
  release(stack);
}

Dict::~Dict() {
  if (items.empty()) return;
  std::vector<Value> stack;
  for (auto& [k, v] : items) {
    stack.push_back(std::move(k));
    stack.push_back(std::move(v));
  }
  items.clear();
  release(stack);
}

const Value* Dict::find(const std::string& key) const {
  for (const auto& [k, v] : items)
    if (k.kind == Kind::string && k.s == key) return &v;
  return nullptr;
}
const Value* Dict::find(const Value& key) const {
  for (const auto& [k, v] : items)
    if (py_equal(k, key)) return &v;
  return nullptr;
}
void Dict::set(const std::string& key, Value value) { set(Value::string(key), std::move(value)); }
void Dict::set(const Value& key, Value value) {
  for (auto& [k, v] : items)
    if (py_equal(k, key)) {
      v = std::move(value);
      return;
    }
  items.emplace_back(key, std::move(value));
}

Value Value::undefined(std::string name) { Value v; v.s = std::move(name); return v; }
Value Value::none() { Value v; v.kind = Kind::none; return v; }
Value Value::boolean(bool b) { Value v; v.kind = Kind::boolean; v.b = b; v.i = b; return v; }
Value Value::integer(int64_t i) { Value v; v.kind = Kind::integer; v.i = i; return v; }
Value Value::floating(double f) { Value v; v.kind = Kind::floating; v.f = f; return v; }
Value Value::string(std::string s) { Value v; v.kind = Kind::string; v.s = std::move(s); return v; }
Value Value::new_list(std::vector<Value> items, bool tuple) {
  Value v;
  v.kind = Kind::list;
  v.list = std::make_shared<List>();
  v.list->items = std::move(items);
  v.list->tuple = tuple;
  return v;
}
Value Value::new_generator(std::vector<Value> items) {
  Value v = new_list(std::move(items));
  v.list->generator = true;
  return v;
}
Value Value::new_dict() { Value v; v.kind = Kind::dict; v.dict = std::make_shared<Dict>(); return v; }
Value Value::new_namespace() { Value v; v.kind = Kind::ns; v.dict = std::make_shared<Dict>(); return v; }
Value Value::function(std::string name, std::function<Value(Evaluator&, CallArgs&)> call) {
  Value v;
  v.kind = Kind::callable;
  v.fn = std::make_shared<Callable>(Callable{std::move(name), std::move(call)});
  return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  DepthGuard guard;  // a caller's JSON nested deeper than Python could print
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return none();
    case nlohmann::ordered_json::value_t::boolean: return boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return floating(static_cast<double>(u));
      return integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return floating(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      Value v = new_list();
      for (const auto& e : j) v.list->items.push_back(from_json(e));
      return v;
    }
    case nlohmann::ordered_json::value_t::object: {
      Value v = new_dict();
      for (auto it = j.begin(); it != j.end(); ++it) v.dict->set(it.key(), from_json(it.value()));
      return v;
    }
    default: return none();
  }
}

bool Value::truthy() const {
  switch (kind) {
    case Kind::undefined:
    case Kind::none: return false;
    case Kind::boolean: return b;
    case Kind::integer: return i != 0;
    case Kind::floating: return f != 0.0;
    case Kind::string: return !s.empty();
    case Kind::list: return list->generator || !list->items.empty();
    case Kind::dict: return !dict->items.empty();
    case Kind::callable:
    case Kind::ns: return true;
  }
  return false;
}

double Value::as_double() const {
  if (kind == Kind::floating) return f;
  return static_cast<double>(i);
}

const char* kind_name(const Value& v) {
  switch (v.kind) {
    case Kind::undefined: return "Undefined";
    case Kind::none: return "NoneType";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::list: return v.list->generator ? "generator" : v.list->tuple ? "tuple" : "list";
    case Kind::dict: return "dict";
    case Kind::callable: return "function";
    case Kind::ns: return "Namespace";
  }
  return "object";
}

// repr(float): the shortest digits that read back the same; scientific notation when the
// decimal exponent is < -4 or >= 16, as Python's float_repr_style 'short' does.
std::string py_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  int exponent = std::atoi(sci.c_str() + e + 1);
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + ebuf;
  }
  if (exponent < 0) {
    out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
    out += digits + std::string(static_cast<size_t>(exponent) + 1 - digits.size(), '0') + ".0";
  } else {
    out += digits.substr(0, static_cast<size_t>(exponent) + 1) + "." + digits.substr(static_cast<size_t>(exponent) + 1);
  }
  return out;
}

std::u32string utf8_decode(const std::string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) {  // not UTF-8: keep the byte as a code point
      out += c;
      ++i;
      continue;
    }
    char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    out += cp;
    i += n;
  }
  return out;
}

std::string utf8_encode(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : s) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  return out;
}

static std::string str_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t cp : utf8_decode(s)) {
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out += utf8_encode(std::u32string(1, cp));
    }
  }
  out += quote;
  return out;
}

std::string py_repr(const Value& v) {
  DepthGuard guard;
  switch (v.kind) {
    case Kind::string: return str_repr(v.s);
    case Kind::list: {
      if (v.list->generator) return "<generator object>";
      std::string out = v.list->tuple ? "(" : "[";
      for (size_t k = 0; k < v.list->items.size(); ++k) {
        if (k) out += ", ";
        out += py_repr(v.list->items[k]);
      }
      if (v.list->tuple && v.list->items.size() == 1) out += ",";
      return out + (v.list->tuple ? ")" : "]");
    }
    case Kind::dict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, item] : v.dict->items) {
        if (!first) out += ", ";
        first = false;
        out += py_repr(k) + ": " + py_repr(item);
      }
      return out + "}";
    }
    case Kind::ns: {
      Value d;
      d.kind = Kind::dict;
      d.dict = v.dict;
      return "<Namespace " + py_repr(d) + ">";
    }
    case Kind::undefined: return "Undefined";
    default: return py_str(v);
  }
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string py_str(const Value& v) {
  switch (v.kind) {
    case Kind::undefined: return "";
    case Kind::none: return "None";
    case Kind::boolean: return v.b ? "True" : "False";
    case Kind::integer: return std::to_string(v.i);
    case Kind::floating: return py_float_repr(v.f);
    case Kind::string: return v.s;
    case Kind::callable: return "<function " + v.fn->name + ">";
    default: return py_repr(v);
  }
}

static std::string json_string(const std::string& s, bool ensure_ascii) {
  std::string out = "\"";
  if (ensure_ascii) {
    for (char32_t cp : utf8_decode(s)) {
      if (cp < 0x80) {
        out += json_string(std::string(1, static_cast<char>(cp)), false).substr(1);
        out.pop_back();
        if (cp == 0x7f) out.replace(out.size() - 1, 1, "\\u007f");
        continue;
      }
      char buf[16];
      if (cp >= 0x10000) {
        char32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xd800 + (v >> 10)),
                      static_cast<unsigned>(0xdc00 + (v & 0x3ff)));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      }
      out += buf;
    }
    return out + "\"";
  }
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

static void json_dump(const Value& v, const JsonDumpOptions& o, int level, std::string& out) {
  DepthGuard guard;
  auto newline = [&](int lvl) {
    if (!o.has_indent) return;
    out += '\n';
    for (int k = 0; k < lvl; ++k) out += o.indent;
  };
  switch (v.kind) {
    case Kind::none: out += "null"; return;
    case Kind::boolean: out += v.b ? "true" : "false"; return;
    case Kind::integer: out += std::to_string(v.i); return;
    case Kind::floating:
      if (std::isnan(v.f)) out += "NaN";
      else if (std::isinf(v.f)) out += v.f < 0 ? "-Infinity" : "Infinity";
      else out += py_float_repr(v.f);
      return;
    case Kind::string: out += json_string(v.s, o.ensure_ascii); return;
    case Kind::list: {
      if (v.list->generator) break;
      if (v.list->items.empty()) { out += "[]"; return; }
      out += '[';
      for (size_t k = 0; k < v.list->items.size(); ++k) {
        if (k) out += o.item_separator;
        newline(level + 1);
        json_dump(v.list->items[k], o, level + 1, out);
      }
      newline(level);
      out += ']';
      return;
    }
    case Kind::dict: {
      if (v.dict->items.empty()) { out += "{}"; return; }
      // json.dumps turns keys into strings: str as is, numbers as repr, True/False/None as JSON.
      std::vector<std::pair<std::string, const Value*>> items;
      for (const auto& [k, x] : v.dict->items) {
        std::string key;
        if (k.kind == Kind::string) key = k.s;
        else if (k.kind == Kind::boolean) key = k.b ? "true" : "false";
        else if (k.kind == Kind::none) key = "null";
        else if (k.kind == Kind::integer) key = std::to_string(k.i);
        else if (k.kind == Kind::floating) key = py_float_repr(k.f);
        else throw TemplateError(TemplateError::Kind::render, 0, std::string("keys must be str, int, float, bool or None, not ") + kind_name(k));
        items.emplace_back(std::move(key), &x);
      }
      if (o.sort_keys)
        std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      out += '{';
      for (size_t k = 0; k < items.size(); ++k) {
        if (k) out += o.item_separator;
        newline(level + 1);
        out += json_string(items[k].first, o.ensure_ascii) + o.key_separator;
        json_dump(*items[k].second, o, level + 1, out);
      }
      newline(level);
      out += '}';
      return;
    }
    default: break;
  }
  throw TemplateError(TemplateError::Kind::render, 0,
                          std::string("Object of type ") + kind_name(v) + " is not JSON serializable");
}

std::string py_json_dumps(const Value& v, const JsonDumpOptions& options) {
  std::string out;
  json_dump(v, options, 0, out);
  return out;
}

bool py_equal(const Value& a, const Value& b) {
  DepthGuard guard;
  if ((a.is_list() && a.list->generator) || (b.is_list() && b.list->generator))
    return a.is_list() && b.is_list() && a.list == b.list;
  if (a.is_number() && b.is_number()) {
    if (a.kind != Kind::floating && b.kind != Kind::floating) return a.i == b.i;
    return a.as_double() == b.as_double();
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::undefined:
    case Kind::none: return true;
    case Kind::string: return a.s == b.s;
    case Kind::list:
      if (a.list == b.list) return true;  // Python compares an object with itself by identity
      if (a.list->tuple != b.list->tuple || a.list->items.size() != b.list->items.size()) return false;
      for (size_t k = 0; k < a.list->items.size(); ++k)
        if (!py_equal(a.list->items[k], b.list->items[k])) return false;
      return true;
    case Kind::dict:
      if (a.dict == b.dict) return true;
      if (a.dict->items.size() != b.dict->items.size()) return false;
      for (const auto& [k, v] : a.dict->items) {
        const Value* other = b.dict->find(k);
        if (!other || !py_equal(v, *other)) return false;
      }
      return true;
    case Kind::callable: return a.fn == b.fn;
    case Kind::ns: return a.dict == b.dict;
    default: return false;
  }
}

bool py_less(const Value& a, const Value& b) {
  DepthGuard guard;
  if (a.is_number() && b.is_number()) {
    if (a.kind != Kind::floating && b.kind != Kind::floating) return a.i < b.i;
    return a.as_double() < b.as_double();
  }
  if (a.is_string() && b.is_string()) {
    return utf8_decode(a.s) < utf8_decode(b.s);
  }
  if (a.is_list() && b.is_list() && a.list->tuple == b.list->tuple) {
    const auto& x = a.list->items;
    const auto& y = b.list->items;
    for (size_t k = 0; k < x.size() && k < y.size(); ++k) {
      if (!py_equal(x[k], y[k])) return py_less(x[k], y[k]);
    }
    return x.size() < y.size();
  }
  throw TemplateError(TemplateError::Kind::render, 0,
                      std::string("'<' not supported between instances of '") + kind_name(a) + "' and '" +
                          kind_name(b) + "'");
}

}  // namespace ingot::chat_template
