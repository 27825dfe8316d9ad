#!/usr/bin/env bash
# pinned_venv.sh NAME VENV PIN...: a Python virtual environment at VENV holding exactly PIN...
# (pip requirement strings), made once and cached; the venvs of the tests' Python oracles and
# clients (oracle_venv.sh, tests/server/server_venv.sh) are all made here.
# Prints the venv's python on stdout. Exit 77 when the venv cannot be made (no python3 -m venv,
# PyPI unreachable), with a message that starts with NAME: the tests that need it skip with it.
# A venv holding other versions is rebuilt, so a test's expectations never move under it.
set -uo pipefail
name="$1"
venv="$2"
shift 2
pins=("$@")
stamp="$venv/.ingot-pins"
want="${pins[*]}"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi
mkdir -p "$(dirname "$venv")"
# One maker at a time (ctest -j runs several oracle tests at once).
exec 9>"$venv.lock"
flock 9
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi
rm -rf "$venv"
log="$(mktemp)"
if ! python3 -m venv "$venv" >"$log" 2>&1; then
  echo "$name: python3 -m venv failed: $(tail -1 "$log")" >&2
  rm -f "$log"
  exit 77
fi
if ! "$venv/bin/pip" install --disable-pip-version-check -q --timeout 30 "${pins[@]}" >"$log" 2>&1; then
  echo "$name: pip install ${pins[*]} failed (is PyPI reachable?): $(tail -1 "$log")" >&2
  rm -rf "$venv" "$log"
  exit 77
fi
rm -f "$log"
echo "$want" >"$stamp"
echo "$venv/bin/python"
