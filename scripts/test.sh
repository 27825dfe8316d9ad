#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, then
#   1. the format tests under AddressSanitizer + UndefinedBehaviorSanitizer (CPU only);
#   2. a short libFuzzer smoke run over the reader, when clang is installable;
#   3. the full build (CUDA compiled when nvcc is found) and every test (GPU tests skip cleanly
#      without a device).
# Any failure fails the script. Set INGOT_SKIP_SANITIZE=1 / INGOT_SKIP_FUZZ=1 to leave out 1 / 2.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps.sh" --with-clang
source "$root/scripts/env.sh"
ctest_args=(--output-on-failure --no-tests=error -j "$INGOT_JOBS")

if [ "${INGOT_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== format tests under ASan+UBSan"
  cmake -S "$root" -B "$root/build-asan" -G "$INGOT_GENERATOR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DINGOT_SANITIZE=ON -DINGOT_CUDA=OFF
  cmake --build "$root/build-asan" -j "$INGOT_JOBS" --target \
        format_roundtrip_test format_writer_test format_corruption_test format_large_test
  (cd "$root/build-asan" && ctest -L format "${ctest_args[@]}")
fi

if [ "${INGOT_SKIP_FUZZ:-0}" != 1 ]; then
  if command -v clang++ >/dev/null 2>&1; then
    echo "== libFuzzer smoke run over the reader"
    CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -G "$INGOT_GENERATOR" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINGOT_FUZZ=ON -DINGOT_CUDA=OFF
    cmake --build "$root/build-fuzz" -j "$INGOT_JOBS" --target fuzz_reader make_seeds
    (cd "$root/build-fuzz" && ctest -L fuzz "${ctest_args[@]}")
  else
    echo "== clang is not installed: skipping the libFuzzer smoke run"
  fi
fi

echo "== full build and test suite"
cmake -S "$root" -B "$root/build" -G "$INGOT_GENERATOR" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$root/build" -j "$INGOT_JOBS"
(cd "$root/build" && ctest -LE fuzz "${ctest_args[@]}")
