#!/usr/bin/env bash
# The client of the server tests and of bench/serve-load.py: the real `openai` Python package, in a
# virtual environment cached outside the repository:
#   ${INGOT_SERVER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ingot/server-venv}
# Prints the venv's python on stdout. Exit 77 when the venv cannot be made (no python3 -m venv,
# PyPI unreachable): the tests that need it skip with this script's message.
# The version is pinned so a test's expectations never move under it; a venv holding another
# version is rebuilt. (The pattern of tests/oracle/oracle_venv.sh.)
set -uo pipefail
pins=("openai==3.51.0")
venv="${INGOT_SERVER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ingot/server-venv}"
stamp="$venv/.ingot-pins"
want="${pins[*]}"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi
rm -rf "$venv"
log="$(mktemp)"
if ! python3 -m venv "$venv" >"$log" 2>&1; then
  echo "server_venv.sh: python3 -m venv failed: $(tail -1 "$log")" >&2
  rm -f "$log"
  exit 77
fi
if ! "$venv/bin/pip" install --disable-pip-version-check -q --timeout 30 "${pins[@]}" >"$log" 2>&1; then
  echo "server_venv.sh: pip install ${pins[*]} failed (is PyPI reachable?): $(tail -1 "$log")" >&2
  rm -rf "$venv" "$log"
  exit 77
fi
rm -f "$log"
echo "$want" >"$stamp"
echo "$venv/bin/python"
