#!/usr/bin/env python3
"""The oracle of the chat-template conformance test: Python Jinja2 set up as transformers sets it
up (transformers/utils/chat_template_utils.py, _compile_jinja_template): an
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the loopcontrols
extension and transformers' {% generation %} tag, transformers' tojson filter (json.dumps with
ensure_ascii=False, no HTML escaping, insertion order), raise_exception raising TemplateError and
strftime_now. Run it with the virtual environment of fetch_templates.py.

Writes a JSON list: {"template", "conversation", "ok": true, "output"} or {..., "ok": false,
"error"} for every template x conversation. strftime_now formats the fixed time --now (seconds
since the epoch, local time), which the C++ side uses as well.
"""
import argparse
import datetime
import json
import os
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTag(Extension):
    # transformers' AssistantTracker: {% generation %}...{% endgeneration %} renders its body
    # (it also records where the body lies, which does not change the text).
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_environment(now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.datetime.fromtimestamp(now).strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--templates", required=True)
    ap.add_argument("--conversations", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--now", type=int, required=True)
    args = ap.parse_args()
    env = make_environment(args.now)
    with open(args.conversations, encoding="utf-8") as f:
        conversations = json.load(f)
    results = []
    for name in sorted(os.listdir(args.templates)):
        if not name.endswith(".jinja"):
            continue
        with open(os.path.join(args.templates, name), encoding="utf-8", newline="") as f:
            source = f.read()
        try:
            compiled = env.from_string(source)
            compile_error = None
        except Exception as e:
            compiled, compile_error = None, f"{type(e).__name__}: {e}"
        for conv in conversations:
            entry = {"template": name, "conversation": conv["name"]}
            if compiled is None:
                entry.update(ok=False, error=compile_error)
            else:
                try:
                    entry.update(ok=True, output=compiled.render(**conv["context"]))
                except Exception as e:
                    entry.update(ok=False, error=f"{type(e).__name__}: {e}")
            results.append(entry)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=True, indent=1)
    print(f"oracle: Jinja2 {jinja2.__version__}, {len(results)} renders written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
