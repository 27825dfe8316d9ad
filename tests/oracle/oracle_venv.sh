#!/usr/bin/env bash
# The Python oracles of the interop tests (gguf-py's dequantizers and quantizers, Hugging Face
# `tokenizers`), in a virtual environment cached outside the repository:
#   ${INGOT_ORACLE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ingot/oracle-venv}
# Prints the venv's python on stdout. Exit 77 when the venv cannot be made (no python3 -m venv,
# PyPI unreachable): the tests that need it skip with this script's message.
# Versions are pinned so a test's expectations never move under it; a venv holding other versions
# is rebuilt.
set -uo pipefail
pins=("gguf==0.19.0" "tokenizers==0.23.3" "numpy==2.4.6")
venv="${INGOT_ORACLE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ingot/oracle-venv}"
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
  echo "oracle_venv.sh: python3 -m venv failed: $(tail -1 "$log")" >&2
  rm -f "$log"
  exit 77
fi
if ! "$venv/bin/pip" install --disable-pip-version-check -q --timeout 30 "${pins[@]}" >"$log" 2>&1; then
  echo "oracle_venv.sh: pip install ${pins[*]} failed (is PyPI reachable?): $(tail -1 "$log")" >&2
  rm -rf "$venv" "$log"
  exit 77
fi
rm -f "$log"
echo "$want" >"$stamp"
echo "$venv/bin/python"
