#!/usr/bin/env python3
"""Test setup for the chat-template conformance test (tests/template/template.cmake).

Fetches, once, into a cache outside the repository:
  <cache>/templates/*.jinja   the real chat templates that PyPI's llama-cpp-python sdist vendors
                              (vendor/llama.cpp/models/templates/), nothing else of the sdist
  <cache>/venv                a virtual environment with Jinja2, the oracle's renderer

<cache> is $INGOT_TEMPLATE_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/ingot/chat-templates.
Prints the cache folder. Exit status 77 (the test's "skip") when PyPI cannot be reached.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import venv

LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"  # pinned: the template set the expectations cover
JINJA2 = "Jinja2==3.1.6"
TEMPLATE_DIR = "/vendor/llama.cpp/models/templates/"
SKIP = 77


def default_cache():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("INGOT_TEMPLATE_CACHE") or os.path.join(base, "ingot", "chat-templates")


def run(cmd, what):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        tail = "\n".join(r.stdout.splitlines()[-15:])
        print(f"fetch_templates: {what} failed (PyPI unreachable?):\n{tail}", file=sys.stderr)
        sys.exit(SKIP)


def venv_python(cache):
    return os.path.join(cache, "venv", "bin", "python")


def ensure_venv(cache):
    py = venv_python(cache)
    if os.path.exists(py) and subprocess.run([py, "-c", "import jinja2"], capture_output=True).returncode == 0:
        return
    shutil.rmtree(os.path.join(cache, "venv"), ignore_errors=True)
    try:
        venv.create(os.path.join(cache, "venv"), with_pip=True)
    except Exception as e:  # Debian without python3-venv: no ensurepip
        print(f"fetch_templates: cannot create a virtual environment ({e}); install python3-venv", file=sys.stderr)
        sys.exit(SKIP)
    run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", JINJA2], "pip install " + JINJA2)


def ensure_templates(cache):
    dest = os.path.join(cache, "templates")
    done = os.path.join(dest, ".complete")
    if os.path.exists(done):
        return
    sdist = os.path.join(cache, "sdist")
    if not any(n.endswith(".tar.gz") for n in os.listdir(sdist)) if os.path.isdir(sdist) else True:
        os.makedirs(sdist, exist_ok=True)
        run([venv_python(cache), "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--no-binary", ":all:", LLAMA_CPP_PYTHON, "-d", sdist], "pip download " + LLAMA_CPP_PYTHON)
    archives = [n for n in os.listdir(sdist) if n.endswith(".tar.gz")]
    if not archives:
        print("fetch_templates: pip download left no sdist", file=sys.stderr)
        sys.exit(SKIP)
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    n = 0
    with tarfile.open(os.path.join(sdist, archives[0])) as tar:
        for member in tar:
            if TEMPLATE_DIR in member.name and member.name.endswith(".jinja") and member.isfile():
                data = tar.extractfile(member).read()
                with open(os.path.join(dest, os.path.basename(member.name)), "wb") as f:
                    f.write(data)
                n += 1
    if n == 0:
        print("fetch_templates: the sdist holds no templates", file=sys.stderr)
        sys.exit(1)
    open(done, "w").close()
    shutil.rmtree(sdist, ignore_errors=True)  # 77 MB; the templates are all we keep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=default_cache())
    args = ap.parse_args()
    try:
        os.makedirs(args.cache, exist_ok=True)
        ensure_venv(args.cache)  # its pip downloads the sdist (the system python may have none)
        ensure_templates(args.cache)
    except OSError as e:
        print(f"fetch_templates: cannot set up the cache {args.cache}: {e}", file=sys.stderr)
        sys.exit(SKIP)
    print(args.cache)


if __name__ == "__main__":
    main()
