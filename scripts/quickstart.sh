#!/usr/bin/env bash
# The main job, from a fresh clone: installs what is missing, builds (Release, CUDA when nvcc is
# found) and runs the most complete path that exists today: write a container with the format
# library, then inspect and verify it with the `ingot` tool.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps.sh"
source "$root/scripts/env.sh"

build="${INGOT_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -G "$INGOT_GENERATOR" -DCMAKE_BUILD_TYPE=Release -DINGOT_BUILD_TESTS=OFF
cmake --build "$build" -j "$INGOT_JOBS"

mkdir -p "$root/out"
"$build/samples/write-container" "$root/out/sample.ingot"
"$build/runtime/ingot" inspect "$root/out/sample.ingot"
"$build/runtime/ingot" verify "$root/out/sample.ingot"
