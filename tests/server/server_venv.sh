#!/usr/bin/env bash
# The client of the server tests and of bench/serve-load.py: the real `openai` Python package, in a
# virtual environment cached outside the repository:
#   ${INGOT_SERVER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ingot/server-venv}
# Prints the venv's python on stdout; exit 77 (with a message) when it cannot be made
# (tests/oracle/pinned_venv.sh). The version is pinned so a test's expectations never move under it.
exec "$(dirname "$0")/../oracle/pinned_venv.sh" server_venv.sh \
  "${INGOT_SERVER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ingot/server-venv}" "openai==3.51.0"
