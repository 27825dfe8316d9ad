#!/usr/bin/env bash
# The Python oracles of the interop tests (gguf-py's dequantizers and quantizers, Hugging Face
# `tokenizers`), in a virtual environment cached outside the repository:
#   ${INGOT_ORACLE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ingot/oracle-venv}
# Prints the venv's python on stdout; exit 77 (with a message) when it cannot be made
# (pinned_venv.sh). Versions are pinned so a test's expectations never move under it.
exec "$(dirname "$0")/pinned_venv.sh" oracle_venv.sh \
  "${INGOT_ORACLE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ingot/oracle-venv}" \
  "gguf==0.19.0" "tokenizers==0.23.3" "numpy==2.4.6"
