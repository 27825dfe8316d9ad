#!/usr/bin/env bash
# The main job, from a fresh clone: installs what is missing, builds (Release, CUDA when nvcc is
# found) and runs the main job: compile the stories260K checkpoint with GPTQ (4-bit, groups of 32,
# act-order, calibrated on the C4 sample), verify the container, and generate a story on the CPU.
# Without ../shared (the model), it writes a small container with the format library instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps.sh"
source "$root/scripts/env.sh"

# build/ is the quick start's own folder (scripts/test.sh builds in build-test/ and others), and
# every option is set (scripts/env.sh: ingot_configure), so whatever configured build/ before,
# this builds the Release tools. The test suite is not built here: it is scripts/test.sh's job.
build="${INGOT_BUILD_DIR:-$root/build}"
ingot_configure "$build" Release -DINGOT_BUILD_TESTS=OFF
cmake --build "$build" -j "$INGOT_JOBS"

mkdir -p "$root/out"
shared="${INGOT_SHARED:-$root/../shared}"
model="$shared/models/stories260K"
if [ -f "$model/stories260K.bin" ]; then
  "$build/compiler/ingotc" build "$model/stories260K.bin" --tokenizer "$model/tok512.model" \
      --method gptq --bits 4 --group-size 32 \
      --calib "$shared/data/c4/c4_sample.json" --calib-samples 32 --calib-seqlen 256 \
      -o "$root/out/stories260K.ingot"
  "$build/runtime/ingot" verify "$root/out/stories260K.ingot"
  "$build/runtime/ingot" run "$root/out/stories260K.ingot" -p "Once upon a time" -n 120 --temp 0
else
  echo "quickstart: $model not found (set INGOT_SHARED); writing a sample container instead"
  "$build/samples/write-container" "$root/out/sample.ingot"
  "$build/runtime/ingot" inspect "$root/out/sample.ingot"
  "$build/runtime/ingot" verify "$root/out/sample.ingot"
fi
