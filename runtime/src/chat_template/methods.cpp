// The methods of Python's str, list and dict that templates call. ImmutableSandboxedEnvironment
// lets templates read these but not call the ones that modify a list or dict (append, pop,
// update, ...): those raise, as the sandbox's SecurityError does.
#include <algorithm>

#include "chat_template/evaluator.h"

namespace ingot::chat_template {

namespace {

bool is_py_space(char32_t c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f) || c == 0x85 || c == 0xa0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
         c == 0x205f || c == 0x3000;
}

std::vector<std::string> split(const std::string& s, const Value& sep, int64_t maxsplit, int line, Evaluator& ev) {
  std::vector<std::string> parts;
  if (sep.is_none() || sep.is_undefined()) {
    std::u32string u = utf8_decode(s);
    size_t k = 0;
    while (k < u.size()) {
      while (k < u.size() && is_py_space(u[k])) ++k;
      if (k >= u.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        size_t end = u.size();
        while (end > k && is_py_space(u[end - 1])) --end;
        parts.push_back(utf8_encode(u.substr(k, end - k)));
        break;
      }
      size_t start = k;
      while (k < u.size() && !is_py_space(u[k])) ++k;
      parts.push_back(utf8_encode(u.substr(start, k - start)));
    }
    return parts;
  }
  if (!sep.is_string()) ev.fail(line, "must be str or None, not " + std::string(kind_name(sep)));
  if (sep.s.empty()) ev.fail(line, "empty separator");
  size_t pos = 0;
  for (;;) {
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) break;
    size_t found = s.find(sep.s, pos);
    if (found == std::string::npos) break;
    parts.push_back(s.substr(pos, found - pos));
    pos = found + sep.s.size();
  }
  parts.push_back(s.substr(pos));
  return parts;
}

Value string_list(const std::vector<std::string>& parts) {
  Value v = Value::new_list();
  for (const auto& p : parts) v.list->items.push_back(Value::string(p));
  return v;
}

std::string py_title(const std::string& s) {
  std::u32string u = utf8_decode(s);
  bool prev_cased = false;
  for (char32_t& c : u) {
    bool is_upper = c >= 'A' && c <= 'Z', is_lower = c >= 'a' && c <= 'z';
    if (is_upper || is_lower) {
      if (prev_cased && is_upper) c = c - 'A' + 'a';
      if (!prev_cased && is_lower) c = c - 'a' + 'A';
      prev_cased = true;
    } else {
      prev_cased = false;
    }
  }
  return utf8_encode(u);
}

// str.format with {} / {0} / {name} fields and {{ }} escapes; format specs are not supported.
std::string py_format(Evaluator& ev, const std::string& fmt, CallArgs& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t k = 0; k < fmt.size(); ++k) {
    char c = fmt[k];
    if (c == '{' && k + 1 < fmt.size() && fmt[k + 1] == '{') {
      out += '{';
      ++k;
    } else if (c == '}' && k + 1 < fmt.size() && fmt[k + 1] == '}') {
      out += '}';
      ++k;
    } else if (c == '{') {
      size_t end = fmt.find('}', k);
      if (end == std::string::npos) ev.fail(a.line, "Single '{' encountered in format string");
      std::string field = fmt.substr(k + 1, end - k - 1);
      if (field.find_first_of(":!.[") != std::string::npos)
        throw TemplateError(TemplateError::Kind::unsupported, a.line,
                            "unsupported construct: str.format field '{" + field + "}'");
      const Value* v = nullptr;
      if (field.empty()) {
        if (auto_index >= a.args.size()) ev.fail(a.line, "Replacement index out of range for positional args tuple");
        v = &a.args[auto_index++];
      } else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
        size_t index = field.size() > 9 ? SIZE_MAX : std::stoul(field);
        if (index >= a.args.size()) ev.fail(a.line, "Replacement index out of range for positional args tuple");
        v = &a.args[index];
      } else {
        for (const auto& [key, x] : a.kwargs)
          if (key == field) v = &x;
        if (!v) ev.fail(a.line, "KeyError: '" + field + "'");
      }
      out += py_str(*v);
      k = end;
    } else if (c == '}') {
      ev.fail(a.line, "Single '}' encountered in format string");
    } else {
      out += c;
    }
  }
  return out;
}

Value method(const Value& self, const char* name, std::function<Value(Evaluator&, CallArgs&, const Value&)> fn) {
  return Value::function(name, [self, fn](Evaluator& ev, CallArgs& a) { return fn(ev, a, self); });
}

Value unsafe(const Value& obj, const std::string& name) {
  std::string type = kind_name(obj);
  return Value::function(name, [type, name](Evaluator& ev, CallArgs& a) -> Value {
    ev.fail(a.line, "access to attribute '" + name + "' of '" + type + "' object is unsafe (the template may not modify it)");
  });
}

std::string str_arg(Evaluator& ev, const CallArgs& a, size_t k, const char* name) {
  const Value* v = find_arg(a, k, name);
  if (!v || !v->is_string()) ev.fail(a.line, std::string("expected a string argument for ") + name);
  return v->s;
}

bool prefix_test(Evaluator& ev, const CallArgs& a, const std::string& s, bool suffix) {
  const Value* p = find_arg(a, 0, "prefix");
  if (!p) ev.fail(a.line, "missing argument");
  auto one = [&](const std::string& x) {
    if (x.size() > s.size()) return false;
    return suffix ? s.compare(s.size() - x.size(), x.size(), x) == 0 : s.compare(0, x.size(), x) == 0;
  };
  if (p->is_string()) return one(p->s);
  if (p->is_list() && p->list->tuple) {
    for (const auto& x : p->list->items) {
      if (!x.is_string()) ev.fail(a.line, "tuple for startswith/endswith must only contain str");
      if (one(x.s)) return true;
    }
    return false;
  }
  ev.fail(a.line, "startswith/endswith first arg must be str or a tuple of str");
}

Value string_method(const Value& obj, const std::string& name) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool left = name != "rstrip", right = name != "lstrip";
    return method(obj, "strip", [left, right](Evaluator&, CallArgs& a, const Value& s) {
      return Value::string(py_strip(s.s, arg_or(a, 0, "chars", Value::none()), left, right));
    });
  }
  if (name == "split" || name == "rsplit") {
    bool reverse = name == "rsplit";
    return method(obj, "split", [reverse](Evaluator& ev, CallArgs& a, const Value& s) {
      Value sep = arg_or(a, 0, "sep", Value::none());
      Value maxsplit = arg_or(a, 1, "maxsplit", Value::integer(-1));
      if (reverse && maxsplit.i >= 0)
        throw TemplateError(TemplateError::Kind::unsupported, a.line, "unsupported construct: rsplit with maxsplit");
      return string_list(split(s.s, sep, maxsplit.i, a.line, ev));
    });
  }
  if (name == "splitlines")
    return method(obj, "splitlines", [](Evaluator&, CallArgs&, const Value& s) { return string_list(py_splitlines(s.s)); });
  if (name == "startswith" || name == "endswith") {
    bool suffix = name == "endswith";
    return method(obj, "startswith", [suffix](Evaluator& ev, CallArgs& a, const Value& s) {
      return Value::boolean(prefix_test(ev, a, s.s, suffix));
    });
  }
  if (name == "replace")
    return method(obj, "replace", [](Evaluator& ev, CallArgs& a, const Value& s) {
      std::string from = str_arg(ev, a, 0, "old"), to = str_arg(ev, a, 1, "new");
      int64_t count = arg_or(a, 2, "count", Value::integer(-1)).i;
      std::string out;
      size_t pos = 0;
      if (from.empty()) {  // Python inserts `to` between every character
        std::u32string u = utf8_decode(s.s);
        for (size_t k = 0; k <= u.size(); ++k) {
          if (count < 0 || static_cast<int64_t>(k) < count) out += to;
          if (k < u.size()) out += utf8_encode(u.substr(k, 1));
          ev.check_size(out.size(), a.line);
        }
        return Value::string(out);
      }
      for (int64_t n = 0; count < 0 || n < count; ++n) {
        size_t found = s.s.find(from, pos);
        if (found == std::string::npos) break;
        out += s.s.substr(pos, found - pos) + to;
        ev.check_size(out.size(), a.line);
        pos = found + from.size();
      }
      return Value::string(out + s.s.substr(pos));
    });
  if (name == "upper") return method(obj, "upper", [](Evaluator&, CallArgs&, const Value& s) { return Value::string(py_upper(s.s)); });
  if (name == "lower") return method(obj, "lower", [](Evaluator&, CallArgs&, const Value& s) { return Value::string(py_lower(s.s)); });
  if (name == "title") return method(obj, "title", [](Evaluator&, CallArgs&, const Value& s) { return Value::string(py_title(s.s)); });
  if (name == "capitalize")
    return method(obj, "capitalize", [](Evaluator&, CallArgs&, const Value& s) {
      std::string low = py_lower(s.s);
      if (!low.empty() && low[0] >= 'a' && low[0] <= 'z') low[0] = static_cast<char>(low[0] - 'a' + 'A');
      return Value::string(low);
    });
  if (name == "format")
    return method(obj, "format", [](Evaluator& ev, CallArgs& a, const Value& s) { return Value::string(py_format(ev, s.s, a)); });
  if (name == "join")
    return method(obj, "join", [](Evaluator& ev, CallArgs& a, const Value& s) {
      const Value* items = find_arg(a, 0, "iterable");
      if (!items) ev.fail(a.line, "join() takes exactly one argument");
      std::string out;
      bool first = true;
      for (const Value& v : ev.iterate(*items, a.line)) {
        if (!v.is_string()) ev.fail(a.line, std::string("sequence item: expected str instance, ") + kind_name(v) + " found");
        if (!first) out += s.s;
        first = false;
        out += v.s;
        ev.check_size(out.size(), a.line);
      }
      return Value::string(out);
    });
  if (name == "find" || name == "rfind" || name == "count" || name == "index") {
    std::string which = name;
    return method(obj, "find", [which](Evaluator& ev, CallArgs& a, const Value& s) {
      if (a.args.size() > 1) throw TemplateError(TemplateError::Kind::unsupported, a.line, "unsupported construct: str." + which + " with start/end");
      std::string sub = str_arg(ev, a, 0, "sub");
      if (which == "count") {
        if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8_decode(s.s).size()) + 1);
        int64_t n = 0;
        for (size_t pos = s.s.find(sub); pos != std::string::npos; pos = s.s.find(sub, pos + sub.size())) ++n;
        return Value::integer(n);
      }
      size_t pos = which == "rfind" ? s.s.rfind(sub) : s.s.find(sub);
      if (pos == std::string::npos) {
        if (which == "index") ev.fail(a.line, "substring not found");
        return Value::integer(-1);
      }
      return Value::integer(static_cast<int64_t>(utf8_decode(s.s.substr(0, pos)).size()));
    });
  }
  if (name == "removeprefix" || name == "removesuffix") {
    bool suffix = name == "removesuffix";
    return method(obj, "removeprefix", [suffix](Evaluator& ev, CallArgs& a, const Value& s) {
      std::string x = str_arg(ev, a, 0, "prefix");
      if (x.size() <= s.s.size()) {
        if (!suffix && s.s.compare(0, x.size(), x) == 0) return Value::string(s.s.substr(x.size()));
        if (suffix && !x.empty() && s.s.compare(s.s.size() - x.size(), x.size(), x) == 0)
          return Value::string(s.s.substr(0, s.s.size() - x.size()));
      }
      return s;
    });
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "isupper" ||
      name == "islower") {
    std::string which = name;
    return method(obj, "is", [which](Evaluator&, CallArgs&, const Value& s) {
      std::u32string u = utf8_decode(s.s);
      if (which == "isupper" || which == "islower") {
        bool cased = false, ok = true;
        for (char32_t c : u) {
          bool up = c >= 'A' && c <= 'Z', lo = c >= 'a' && c <= 'z';
          cased = cased || up || lo;
          if (which == "isupper" ? lo : up) ok = false;
        }
        return Value::boolean(cased && ok);
      }
      if (u.empty()) return Value::boolean(false);
      for (char32_t c : u) {
        bool digit = c >= '0' && c <= '9', alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool ok = which == "isdigit" ? digit : which == "isalpha" ? alpha : which == "isalnum" ? digit || alpha : is_py_space(c);
        if (!ok) return Value::boolean(false);
      }
      return Value::boolean(true);
    });
  }
  return Value::undefined(name);
}

}  // namespace

std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::u32string u = utf8_decode(s);
  std::u32string set;
  bool whitespace = !chars.is_string();
  if (!whitespace) set = utf8_decode(chars.s);
  auto strip_char = [&](char32_t c) { return whitespace ? is_py_space(c) : set.find(c) != std::u32string::npos; };
  size_t begin = 0, end = u.size();
  if (left)
    while (begin < end && strip_char(u[begin])) ++begin;
  if (right)
    while (end > begin && strip_char(u[end - 1])) --end;
  return utf8_encode(u.substr(begin, end - begin));
}

std::string py_lower(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string py_upper(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::vector<std::string> py_splitlines(const std::string& s) {
  std::vector<std::string> lines;
  std::u32string u = utf8_decode(s), line;
  for (size_t k = 0; k < u.size(); ++k) {
    char32_t c = u[k];
    if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e) || c == 0x85 || c == 0x2028 ||
        c == 0x2029) {
      if (c == '\r' && k + 1 < u.size() && u[k + 1] == '\n') ++k;
      lines.push_back(utf8_encode(line));
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(utf8_encode(line));
  return lines;
}

Value find_method(Evaluator& ev, const Value& obj, const std::string& name, int line) {
  (void)ev;
  (void)line;
  if (obj.is_string()) return string_method(obj, name);
  if (obj.is_list()) {
    static const char* mutators[] = {"append", "pop", "insert", "extend", "remove", "clear", "sort", "reverse"};
    for (const char* m : mutators)
      if (name == m) return unsafe(obj, name);
    if (name == "index" || name == "count") {
      bool count = name == "count";
      return method(obj, "index", [count](Evaluator& e, CallArgs& a, const Value& self) {
        const Value* x = find_arg(a, 0, "value");
        if (!x) e.fail(a.line, "missing argument");
        int64_t n = 0;
        for (size_t k = 0; k < self.list->items.size(); ++k) {
          if (!py_equal(self.list->items[k], *x)) continue;
          if (!count) return Value::integer(static_cast<int64_t>(k));
          ++n;
        }
        if (!count) e.fail(a.line, py_repr(*x) + " is not in list");
        return Value::integer(n);
      });
    }
    return Value::undefined(name);
  }
  if (obj.is_dict()) {
    static const char* mutators[] = {"pop", "popitem", "update", "setdefault", "clear"};
    for (const char* m : mutators)
      if (name == m) return unsafe(obj, name);
    if (name == "items" || name == "keys" || name == "values") {
      int which = name == "items" ? 0 : name == "keys" ? 1 : 2;
      return method(obj, "items", [which](Evaluator&, CallArgs&, const Value& self) {
        Value v = Value::new_list();
        for (const auto& [k, x] : self.dict->items) {
          if (which == 0) v.list->items.push_back(Value::new_list({k, x}, true));
          else v.list->items.push_back(which == 1 ? k : x);
        }
        return v;
      });
    }
    if (name == "get")
      return method(obj, "get", [](Evaluator& e, CallArgs& a, const Value& self) {
        const Value* key = find_arg(a, 0, "key");
        if (!key) e.fail(a.line, "get expected at least 1 argument, got 0");
        Value fallback = a.args.size() > 1 ? a.args[1] : Value::none();
        const Value* v = self.dict->find(*key);
        return v ? *v : fallback;
      });
    if (name == "copy")
      return method(obj, "copy", [](Evaluator&, CallArgs&, const Value& self) {
        Value v = Value::new_dict();
        *v.dict = *self.dict;
        return v;
      });
  }
  return Value::undefined(name);
}

}  // namespace ingot::chat_template
