// Seeds for fuzz_chat_template: a few hand-written templates covering every construct the engine
// knows, plus the real templates of the conformance test when its cache holds them
// ($INGOT_TEMPLATE_CACHE or ${XDG_CACHE_HOME:-~/.cache}/ingot/chat-templates, tests/template).
//   make_chat_template_seeds <dir>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <seed dir>\n", argv[0]);
    return 2;
  }
  fs::path dir = argv[1];
  fs::create_directories(dir);
  const char* seeds[] = {
      "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}<<SYS>>{{ m['content'] | trim }}<</SYS>>"
      "{% elif m.role == 'user' %}[INST] {{ m.content }} [/INST]{% else %}{{ m.content }}{{ eos_token }}{% endif %}"
      "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}",
      "{%- set ns = namespace(n=0, s='') -%}\n{%- for m in messages if m.role != 'tool' -%}\n"
      "  {%- set ns.n = ns.n + loop.index0 -%}{% if loop.last %}{% break %}{% endif %}\n{%- endfor -%}{{ ns.n }}",
      "{% macro render(x, indent=2) %}{{ x | tojson(indent=indent) }}{% endmacro %}{% call render(tools) %}"
      "{{ caller() }}{% endcall %}{{ render(tools) }}{% filter upper %}abc{% endfilter %}",
      "{% set s %}{{ messages[1:] | map(attribute='role') | join(', ') }}{% endset %}{{ s.split(', ')[::-1] }}"
      "{{ 'x' if s is string else 'y' }}{{ s.startswith('u') }}{{ (messages | selectattr('role', 'equalto', 'user') | list | length) }}",
      "{{ range(3) | list }}{{ {'b': 1, 'a': [1, 2.5, none, true]} | dictsort }}{{ 7 // 2 }}{{ 7 % 3 }}{{ 2 ** 8 }}"
      "{{ '%d' if false }}{{ strftime_now('%Y-%m-%d') }}{% if x is not defined %}{{ raise_exception('no x') }}{% endif %}",
      "{%- for k, v in tools[0].function.items() -%}\n    {{ k }}={{ v | string | indent(4, first=true) }}\n{% endfor %}"
      "{# comment #}{% raw %}{{ raw }}{% endraw %}{{ 'a' ~ 1 ~ none }}{{ messages[0].content.lstrip('B').replace('e', 'E') }}",
  };
  int n = 0;
  for (const char* s : seeds) {
    std::ofstream(dir / ("seed-" + std::to_string(n++) + ".jinja"), std::ios::binary) << s;
  }
  std::string cache;
  if (const char* c = std::getenv("INGOT_TEMPLATE_CACHE")) cache = c;
  else if (const char* x = std::getenv("XDG_CACHE_HOME")) cache = std::string(x) + "/ingot/chat-templates";
  else if (const char* h = std::getenv("HOME")) cache = std::string(h) + "/.cache/ingot/chat-templates";
  std::error_code ec;
  fs::path templates = fs::path(cache) / "templates";
  if (!cache.empty() && fs::is_directory(templates, ec)) {
    for (const auto& entry : fs::directory_iterator(templates, ec)) {
      if (entry.path().extension() != ".jinja") continue;
      fs::copy_file(entry.path(), dir / entry.path().filename(), fs::copy_options::overwrite_existing, ec);
      if (!ec) ++n;
    }
  }
  std::printf("make_chat_template_seeds: %d seeds in %s\n", n, dir.c_str());
  return 0;
}
