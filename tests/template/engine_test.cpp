// The chat-template engine's pieces against hand-written expectations taken from Jinja2's
// documented behaviour (with transformers' settings: trim_blocks, lstrip_blocks, loop controls)
// and Python's: whitespace control, str() of values, scoping, filters, tests, methods, errors
// and the bounds on hostile templates.
#include <gtest/gtest.h>

#include <string>

#include "chat_template/chat_template.h"

namespace ct = ingot::chat_template;
using nlohmann::ordered_json;

namespace {

std::string r(const std::string& source, const ordered_json& context = ordered_json::object(),
                   const ct::RenderOptions& options = {}) {
  return ct::render(source, context, options);
}

// The TemplateError a source raises (parse or render).
ct::TemplateError error_of(const std::string& source, const ct::RenderOptions& options = {}) {
  try {
    ct::render(source, ordered_json::object(), options);
  } catch (const ct::TemplateError& e) {
    return e;
  }
  ADD_FAILURE() << "no error from: " << source;
  return ct::TemplateError(ct::TemplateError::Kind::render, 0, "");
}

}  // namespace

TEST(ChatTemplateWhitespace, TrimBlocksDropsTheNewlineAfterABlockTag) {
  EXPECT_EQ(r("{% if true %}\n  yes\n{% endif %}\nafter"), "  yes\nafter");
  EXPECT_EQ(r("{# a comment #}\nx"), "x");  // comments too
  EXPECT_EQ(r("{{ 'a' }}\n{{ 'b' }}"), "a\nb");  // not after {{ }}
}

TEST(ChatTemplateWhitespace, LstripBlocksDropsIndentationBeforeABlockTag) {
  EXPECT_EQ(r("  {% if true %}x{% endif %}"), "x");
  EXPECT_EQ(r("line\n    {% if true %}x\n    {% endif %}y"), "line\nx\ny");
  EXPECT_EQ(r("  {{ 'x' }}"), "  x");  // not before {{ }}
  EXPECT_EQ(r("a {% if true %}x{% endif %}"), "a x");  // only at the start of a line
  EXPECT_EQ(r("  {%+ if true %}x{% endif %}"), "  x");  // + turns it off
}

TEST(ChatTemplateWhitespace, MinusStripsAllWhitespaceOnItsSide) {
  EXPECT_EQ(r("a  \n {%- if true %} b {% endif -%} \n\n c"), "a b c");
  EXPECT_EQ(r("a\n{{- 'b' -}}\n c"), "abc");
  EXPECT_EQ(r("{% if true +%}\nx{% endif %}"), "\nx");  // +%} keeps the newline
}

TEST(ChatTemplateWhitespace, OneTrailingNewlineOfTheSourceIsDropped) {
  EXPECT_EQ(r("x\n"), "x");
  EXPECT_EQ(r("x\n\n"), "x\n");
  EXPECT_EQ(r("a\r\nb"), "a\nb");  // line ends become \n
}

TEST(ChatTemplateValues, PrintAsPythonStrDoes) {
  EXPECT_EQ(r("{{ [1, 'a', none, true, 1.0] }}"), "[1, 'a', None, True, 1.0]");
  EXPECT_EQ(r("{{ {'a': 1, 'b': [false]} }}"), "{'a': 1, 'b': [False]}");
  EXPECT_EQ(r("{{ [\"it's\"] }}|{{ ('x',) }}"), "[\"it's\"]|('x',)");
  EXPECT_EQ(r("{{ 10 / 4 }} {{ 10 // 4 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 4 / 2 }}"),
            "2.5 2 -4 2 1024 2.0");
  EXPECT_EQ(r("{{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1.5e-7 }} {{ 123456789.0 }}"),
            "1e+20 0.30000000000000004 1.5e-07 123456789.0");
  EXPECT_EQ(r("{{ none }}|{{ missing }}|{{ 1 ~ 'a' ~ none }}"), "None||1aNone");
  EXPECT_EQ(r("{{ msg }}", {{"msg", {{"role", "user"}, {"n", 2}}}}), "{'role': 'user', 'n': 2}");
}

TEST(ChatTemplateValues, TojsonIsTransformersJsonDumps) {
  EXPECT_EQ(r("{{ {'a': [1, 2], 'b': 'é\"<'} | tojson }}"), "{\"a\": [1, 2], \"b\": \"é\\\"<\"}");
  EXPECT_EQ(r("{{ {'a': [1], 'e': {}} | tojson(indent=2) }}"), "{\n  \"a\": [\n    1\n  ],\n  \"e\": {}\n}");
  EXPECT_EQ(r("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}"), "{\"a\": 2, \"b\": 1}");
  EXPECT_EQ(r("{{ 'é' | tojson(ensure_ascii=true) }}"), "\"\\u00e9\"");
  EXPECT_EQ(r("{{ x | tojson }}", {{"x", {{"z", 1}, {"a", nullptr}}}}), "{\"z\": 1, \"a\": null}");
}

TEST(ChatTemplateStatements, ForLoopsWithLoopVariablesElseAndFilters) {
  EXPECT_EQ(r("{% for x in 'abc' %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}"),
            "1a,2b,3c");
  EXPECT_EQ(r("{% for x in [1, 2, 3] %}{{ loop.revindex0 }}{{ loop.revindex }}{{ loop.first }};{% endfor %}"),
            "23True;12False;01False;");
  EXPECT_EQ(r("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(r("{% for x in range(6) if x is even %}{{ x }}{{ loop.length }}{% endfor %}"), "032343");
  EXPECT_EQ(r("{% for x in range(10) %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}"), "012");
  EXPECT_EQ(r("{% for x in range(5) %}{% if x is odd %}{% continue %}{% endif %}{{ x }}{% endfor %}"), "024");
  EXPECT_EQ(r("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), "a=1;b=2;");
  EXPECT_EQ(r("{% for x in [1] %}{% for y in [2] %}{{ loop.depth }}{% endfor %}{{ loop.depth }}{% endfor %}"), "11");
}

TEST(ChatTemplateStatements, LoopPrevAndNextItems) {
  EXPECT_EQ(r("{% for x in [1, 2, 3] %}{{ loop.previtem is defined }}{{ loop.nextitem }};{% endfor %}"),
            "False2;True3;True;");
}

TEST(ChatTemplateStatements, SetScopingAndNamespaces) {
  EXPECT_EQ(r("{% set n = 0 %}{% for x in range(3) %}{% set n = n + 1 %}{% endfor %}{{ n }}"), "0");
  EXPECT_EQ(r("{% set ns = namespace(n=0) %}{% for x in range(3) %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}"),
            "3");
  EXPECT_EQ(r("{% if true %}{% set x = 'set in if' %}{% endif %}{{ x }}"), "set in if");
  EXPECT_EQ(r("{% set a, b = [1, 2] %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(r("{% set x %}a{{ 1 }}b{% endset %}{{ x }}"), "a1b");
  EXPECT_EQ(r("{% set x | upper %}abc{% endset %}{{ x }}"), "ABC");
}

TEST(ChatTemplateStatements, MacrosCallAndFilterBlocks) {
  EXPECT_EQ(r("{% macro greet(name, greeting='Hi') %}{{ greeting }}, {{ name }}!{% endmacro %}"
                   "{{ greet('Bob') }} {{ greet('Al', greeting='Yo') }} [{{ greet() }}]"),
            "Hi, Bob! Yo, Al! [Hi, !]");
  EXPECT_EQ(r("{% macro wrap(c) %}{{ c }}[{{ caller() }}]{% endmacro %}{% set v = 'in' %}"
                   "{% call wrap('w') %}{{ v }}ner{% endcall %}"),
            "w[inner]");
  EXPECT_EQ(r("{% filter upper %}abc{{ 'd' }}{% endfilter %}"), "ABCD");
  EXPECT_EQ(r("{% generation %}kept{% endgeneration %}"), "kept");
  EXPECT_EQ(r("{% raw %}{{ not rendered }}{% endraw %}"), "{{ not rendered }}");
  EXPECT_EQ(r("{% raw %}\n  {{ x }}\n{% endraw %}\nafter"), "\n  {{ x }}\nafter");  // no trim after raw
}

TEST(ChatTemplateExpressions, SlicingInInlineIfAndTests) {
  EXPECT_EQ(r("{{ 'hello'[1:4] }}{{ [1, 2, 3, 4][::-1] }}{{ 'abc'[-1] }}{{ [1, 2, 3][1:] }}"), "ell[4, 3, 2, 1]c[2, 3]");
  EXPECT_EQ(r("{{ 'y' if 1 > 2 else 'n' }}|{{ 'y' if false }}|"), "n||");
  EXPECT_EQ(r("{{ 'a' in 'cat' }}{{ 2 not in [1, 3] }}{{ 'k' in {'k': 1} }}{{ x is not defined }}"),
            "TrueTrueTrueTrue");
  EXPECT_EQ(r("{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}"
                   "{{ 3 is number }}{{ 'ab' is sequence }}{{ true is true }}{{ 1 is true }}{{ false is false }}"
                   "{{ 6 is divisibleby 3 }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}"),
            "FalseTrueTrueTrueTrueTrueTrueTrueFalseTrueTrueTrueTrueTrue");
  EXPECT_EQ(r("{{ 1 < 2 < 3 }}{{ 3 > 2 > 1 }}{{ 1 < 3 < 2 }}"), "TrueTrueFalse");  // chained, as in Python
  EXPECT_EQ(r("{{ 1 == 1.0 }}{{ 'a' != 'b' }}{{ not 0 }}{{ [] or 'empty' }}{{ 1 and 2 }}"), "TrueTrueTrueempty2");
}

TEST(ChatTemplateExpressions, UndefinedBehavesAsJinja2DefaultUndefined) {
  EXPECT_EQ(r("[{{ missing }}]{{ missing | default('d') }}{{ missing | length }}{{ missing == none }}"), "[]d0False");
  EXPECT_EQ(r("{% for x in missing %}x{% endfor %}{{ {'a': 1}.b is defined }}{{ missing ~ 'x' }}"), "Falsex");
  EXPECT_EQ(error_of("{{ missing.attr }}").kind(), ct::TemplateError::Kind::render);
  EXPECT_EQ(error_of("{{ missing + 1 }}").kind(), ct::TemplateError::Kind::render);
  EXPECT_EQ(error_of("{{ missing() }}").kind(), ct::TemplateError::Kind::render);
}

TEST(ChatTemplateMethods, StrListAndDictMethods) {
  EXPECT_EQ(r("{{ '  a b  '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}"
                   "|{{ 'a=b=c'.split('=', 1) }}"),
            "a b|axx|['a', 'b', '', 'c']|['a', 'b']|['a', 'b=c']");
  EXPECT_EQ(r("{{ 'Hello'.startswith('He') }}{{ 'Hello'.endswith(('x', 'lo')) }}|{{ 'x-y-z'.replace('-', '+', 1) }}"
                   "|{{ 'hello wORLD'.title() }}|{{ 'ab'.upper() }}{{ 'AB'.lower() }}|{{ '{} and {}'.format(1, 'b') }}"),
            "TrueTrue|x+y-z|Hello World|ABab|1 and b");
  EXPECT_EQ(r("{{ {'a': 1}.get('b', 'none') }}{{ {'a': 1}.get('a') }}{{ {'a': 1}.keys() | list }}{{ {'a': 1}.values() | list }}"),
            "none1['a'][1]");
  // The immutable sandbox refuses methods that modify a list or dict.
  EXPECT_EQ(error_of("{% set l = [] %}{{ l.append(1) }}").kind(), ct::TemplateError::Kind::render);
  EXPECT_EQ(error_of("{% set d = {} %}{{ d.update({'a': 1}) }}").kind(), ct::TemplateError::Kind::render);
}

TEST(ChatTemplateFilters, BuiltinFilters) {
  EXPECT_EQ(r("{{ [3, 1, 2] | sort | join(',') }}|{{ ['a', 'B', 'A'] | unique | list }}"
                   "|{{ [{'n': 1}, {'n': 2}] | map(attribute='n') | list }}|{{ [1, 2, 3, 4] | select('odd') | list }}"
                   "|{{ [1, 2, 3] | reject('odd') | list }}|{{ ['a', 'b'] | map('upper') | join }}"),
            "1,2,3|['a', 'B']|[1, 2]|[1, 3]|[2]|AB");
  EXPECT_EQ(r("{{ [{'a': 1}, {'b': 2}] | selectattr('a', 'defined') | list }}"
                   "{{ [{'t': 'x'}, {'t': 'y'}] | rejectattr('t', 'equalto', 'x') | list }}"),
            "[{'a': 1}][{'t': 'y'}]");
  EXPECT_EQ(r("{{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(2, first=true) }}"), "a\n  b\n\n  c|  a\n  b");
  EXPECT_EQ(r("{{ {'b': 1, 'A': 2} | dictsort }}|{{ {'a': 1} | items | list }}"), "[('A', 2), ('b', 1)]|[('a', 1)]");
  EXPECT_EQ(r("{{ 'hELLO wORLD' | capitalize }}|{{ 'hello-world x' | title }}|{{ '  t  ' | trim }}|"),
            "Hello world|Hello-World X|t|");
  EXPECT_EQ(r("{{ '42' | int + 1 }}|{{ 'x' | int }}|{{ 3.9 | int }}|{{ '2.5' | int }}|{{ 5 | string ~ '!' }}"),
            "43|0|3|2|5!");
  EXPECT_EQ(r("{{ 2.5 | round }}{{ 3 | round }}{{ 2.567 | round(2) }}{{ 2.1 | round(0, 'ceil') }}"), "2.032.573.0");
  EXPECT_EQ(r("{{ '0x1A' | int }}|{{ ' 7 ' | int }}|{{ [{}] | map(attribute='x') | list }}"), "0|7|[Undefined]");
  EXPECT_EQ(r("{{ [1, 2] | first }}{{ [1, 2] | last }}{{ 'abc' | length }}{{ [1] | count }}{{ none | default('x', true) }}"),
            "1231x");
  EXPECT_EQ(r("{{ 'a-b' | replace('-', '+') }}|{{ 'AbC' | lower }}{{ 'x' | upper }}|{{ [1, 2] | list }}"),
            "a+b|abcX|[1, 2]");
  // Markup: |safe + str escapes the str.
  EXPECT_EQ(r("{{ '<'|safe + '<' }}|{{ '<' ~ ('<'|safe) }}"), "<&lt;|<<");
  // map and select return generators: no JSON form, no length.
  EXPECT_EQ(error_of("{{ [1] | map('string') | tojson }}").kind(), ct::TemplateError::Kind::render);
}

TEST(ChatTemplateGlobals, RangeNamespaceRaiseExceptionStrftimeNow) {
  EXPECT_EQ(r("{{ range(3) | list }}{{ range(1, 7, 2) | list }}{{ range(3, 0, -1) | list }}"), "[0, 1, 2][1, 3, 5][3, 2, 1]");
  ct::TemplateError e = error_of("line 1\n{{ raise_exception('Conversation roles must alternate') }}");
  EXPECT_EQ(e.kind(), ct::TemplateError::Kind::raised);
  EXPECT_EQ(e.message(), "Conversation roles must alternate");
  EXPECT_EQ(e.line(), 2);
  ct::RenderOptions options;
  options.now = 1721995200;  // 2024-07-26 12:00:00 UTC
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(r("{{ strftime_now('%d %b %Y') }}", ordered_json::object(), options), "26 Jul 2024");
}

TEST(ChatTemplateErrors, NameTheConstructAndTheLine) {
  ct::TemplateError e = error_of("text\n\n{% include 'other.jinja' %}");
  EXPECT_EQ(e.kind(), ct::TemplateError::Kind::unsupported);
  EXPECT_EQ(e.line(), 3);
  EXPECT_NE(std::string(e.what()).find("include"), std::string::npos) << e.what();
  EXPECT_EQ(error_of("{% extends 'base' %}").kind(), ct::TemplateError::Kind::unsupported);
  EXPECT_EQ(error_of("{{ x | wordwrap }}").kind(), ct::TemplateError::Kind::unsupported);
  EXPECT_EQ(error_of("a\n{% if %}{% endif %}").line(), 2);
  EXPECT_EQ(error_of("{{ x | no_such_filter }}").kind(), ct::TemplateError::Kind::syntax);
  EXPECT_EQ(error_of("{{ 'abc").kind(), ct::TemplateError::Kind::syntax);
  EXPECT_EQ(error_of("{% if true %}never closed").kind(), ct::TemplateError::Kind::syntax);
  EXPECT_EQ(error_of("{% for x in y %}{% endif %}").kind(), ct::TemplateError::Kind::syntax);
  EXPECT_EQ(error_of("{{ 1 +  }}").kind(), ct::TemplateError::Kind::syntax);
  EXPECT_EQ(error_of("{# never closed").kind(), ct::TemplateError::Kind::syntax);
  // Unknown filters inside an if are errors only when they run, as in Jinja2.
  EXPECT_EQ(r("{% if false %}{{ x | no_such_filter }}{% endif %}ok"), "ok");
}

TEST(ChatTemplateLimits, HostileTemplatesGetClearErrors) {
  ct::RenderOptions small;
  small.limits.max_loop_iterations = 10000;
  small.limits.max_output_bytes = 1 << 16;
  EXPECT_EQ(error_of("{% for x in range(1000) %}{% for y in range(1000) %}{% endfor %}{% endfor %}", small).kind(),
            ct::TemplateError::Kind::limit);
  EXPECT_EQ(error_of("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                     small).kind(),
            ct::TemplateError::Kind::limit);
  EXPECT_EQ(error_of("{% for i in range(9000) %}xxxxxxxxxx{% endfor %}", small).kind(), ct::TemplateError::Kind::limit);
  EXPECT_EQ(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").kind(), ct::TemplateError::Kind::limit);
  EXPECT_EQ(error_of("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}").kind(),
            ct::TemplateError::Kind::limit);
  std::string deep;
  for (int k = 0; k < 5000; ++k) deep += "{% if true %}";
  EXPECT_EQ(error_of(deep).kind(), ct::TemplateError::Kind::limit);
  EXPECT_EQ(error_of("{{ 'x' * 100000000000 }}").kind(), ct::TemplateError::Kind::limit);
  EXPECT_EQ(error_of("{{ range(1000000000) | list }}").kind(), ct::TemplateError::Kind::render);  // the sandbox's MAX_RANGE
  EXPECT_EQ(error_of("{{ 2 ** 200 }}").kind(), ct::TemplateError::Kind::render);  // beyond 64 bits
  // Values nested 100000 deep: freed without recursion, printed or compared with a clear error.
  const std::string nest = "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}";
  EXPECT_EQ(r(nest + "{{ ns.l | length }}"), "1");
  EXPECT_EQ(error_of(nest + "{{ ns.l }}").kind(), ct::TemplateError::Kind::limit);
  EXPECT_EQ(error_of(nest + "{{ ns.l | tojson }}").kind(), ct::TemplateError::Kind::limit);
}
