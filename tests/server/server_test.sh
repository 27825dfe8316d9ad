#!/usr/bin/env bash
# server_openai_test: INGOT_BIN INGOTC_BIN WORK_DIR. Compiles stories260K (and SmolLM2 when the
# shared GGUF is there), then runs server_test.py with the openai venv's python. Exit 77 (skip)
# with the reason when shared/ or the venv is missing.
set -uo pipefail
ingot="$1" ingotc="$2" work="$3"
here="$(cd "$(dirname "$0")" && pwd)"
shared="${INGOT_SHARED:-${INGOT_SHARED_DEFAULT:-$here/../../../shared}}"
if [ ! -f "$shared/models/stories260K/stories260K.bin" ]; then
  echo "server_test: SKIPPED: $shared/models/stories260K is absent (set INGOT_SHARED)"
  exit 77
fi
python="$("$here/server_venv.sh")"
rc=$?
if [ $rc -ne 0 ]; then
  echo "server_test: SKIPPED: no openai venv (server_venv.sh exit $rc)"
  exit 77
fi
mkdir -p "$work"
"$ingotc" build "$shared/models/stories260K/stories260K.bin" --tokenizer "$shared/models/stories260K/tok512.model" \
  -o "$work/stories260K.ingot" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
smol_gguf="$shared/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
smol=""
if [ -f "$smol_gguf" ]; then
  if [ ! -f "$work/smollm2.ingot" ] || [ "$smol_gguf" -nt "$work/smollm2.ingot" ] || [ "$ingotc" -nt "$work/smollm2.ingot" ]; then
    "$ingotc" build "$smol_gguf" --method none -o "$work/smollm2.ingot" >"$work/build-smol.log" 2>&1 ||
      { cat "$work/build-smol.log"; exit 1; }
  fi
  smol="$work/smollm2.ingot"
fi
exec "$python" "$here/server_test.py" --ingot "$ingot" --stories "$work/stories260K.ingot" --smol "$smol"
