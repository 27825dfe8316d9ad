// The template's globals: Jinja2's range, namespace and dict, and transformers' raise_exception
// and strftime_now.
#include <ctime>

#include "chat_template/evaluator.h"

namespace ingot::chat_template {

void add_globals(std::unordered_map<std::string, Value>& frame) {
  frame["range"] = Value::function("range", [](Evaluator& ev, CallArgs& a) {
    int64_t start = 0, stop = 0, step = 1;
    for (const Value& v : a.args)
      if (v.kind != Kind::integer && v.kind != Kind::boolean)
        ev.fail(a.line, std::string("'") + kind_name(v) + "' object cannot be interpreted as an integer");
    if (a.args.size() == 1) stop = a.args[0].i;
    else if (a.args.size() == 2 || a.args.size() == 3) {
      start = a.args[0].i;
      stop = a.args[1].i;
      if (a.args.size() == 3) step = a.args[2].i;
    } else {
      ev.fail(a.line, "range expected 1 to 3 integer arguments");
    }
    if (step == 0) ev.fail(a.line, "range() arg 3 must not be zero");
    // The sandbox caps range() at MAX_RANGE = 100000 items; the loop bound applies as well.
    __int128 n = step > 0 ? (static_cast<__int128>(stop) - start + step - 1) / step
                          : (static_cast<__int128>(start) - stop - step - 1) / -step;
    if (n < 0) n = 0;
    if (n > 100000) ev.fail(a.line, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    ev.count_iterations(static_cast<int64_t>(n), a.line);
    Value out = Value::new_list();
    for (int64_t k = 0; k < static_cast<int64_t>(n); ++k) out.list->items.push_back(Value::integer(start + k * step));
    return out;
  });
  frame["namespace"] = Value::function("namespace", [](Evaluator& ev, CallArgs& a) {
    Value ns = Value::new_namespace();
    for (const Value& v : a.args) {
      if (!v.is_dict()) ev.fail(a.line, "namespace() takes mappings as positional arguments");
      for (const auto& [k, x] : v.dict->items) ns.dict->set(k, x);
    }
    for (const auto& [k, x] : a.kwargs) ns.dict->set(k, x);
    return ns;
  });
  frame["dict"] = Value::function("dict", [](Evaluator& ev, CallArgs& a) {
    Value d = Value::new_dict();
    for (const Value& v : a.args) {
      if (!v.is_dict()) ev.fail(a.line, "dict() takes a mapping");
      for (const auto& [k, x] : v.dict->items) d.dict->set(k, x);
    }
    for (const auto& [k, x] : a.kwargs) d.dict->set(k, x);
    return d;
  });
  frame["raise_exception"] = Value::function("raise_exception", [](Evaluator&, CallArgs& a) -> Value {
    std::string message = a.args.empty() ? "" : py_str(a.args[0]);
    throw TemplateError(TemplateError::Kind::raised, a.line, message);
  });
  frame["strftime_now"] = Value::function("strftime_now", [](Evaluator& ev, CallArgs& a) {
    if (a.args.empty() || !a.args[0].is_string()) ev.fail(a.line, "strftime_now expects a format string");
    std::time_t now = ev.options().now ? ev.options().now : std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    if (a.args[0].s.empty()) return Value::string("");
    char buf[1024];
    size_t n = std::strftime(buf, sizeof buf, a.args[0].s.c_str(), &tm);
    if (n == 0) ev.fail(a.line, "strftime_now: the formatted time is empty or too long");
    return Value::string(std::string(buf, n));
  });
}

}  // namespace ingot::chat_template
