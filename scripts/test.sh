#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, then
#   1. the format tests under AddressSanitizer + UndefinedBehaviorSanitizer (CPU only);
#   2. the C API tests (one model, sessions on several threads) under ThreadSanitizer (CPU only);
#   3. a short libFuzzer smoke run over the reader, when clang is installable;
#   4. the full build (CUDA compiled when nvcc is found) and every test (GPU tests skip cleanly
#      without a device).
# Any failure fails the script. Set INGOT_SKIP_SANITIZE=1 / INGOT_SKIP_TSAN=1 / INGOT_SKIP_FUZZ=1 to
# leave out 1 / 2 / 3.
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
        format_roundtrip_test format_writer_test format_corruption_test format_large_test interop_gguf_import_test
  (cd "$root/build-asan" && ctest -L format "${ctest_args[@]}")
fi

if [ "${INGOT_SKIP_TSAN:-0}" != 1 ]; then
  # One model shared by sessions on several threads (CPU only; the C API tests alone, to stay
  # within CI's budget). Sessions use one OpenMP thread each there: libgomp is not instrumented.
  echo "== C API tests under ThreadSanitizer"
  cmake -S "$root" -B "$root/build-tsan" -G "$INGOT_GENERATOR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DINGOT_TSAN=ON -DINGOT_CUDA=OFF
  cmake --build "$root/build-tsan" -j "$INGOT_JOBS" --target capi_test capi_threads_test capi_script_test
  (cd "$root/build-tsan" && INGOT_TEST_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
     ctest -L capi -LE install "${ctest_args[@]}")
fi

if [ "${INGOT_SKIP_FUZZ:-0}" != 1 ]; then
  if command -v clang++ >/dev/null 2>&1; then
    echo "== libFuzzer smoke runs over the container and GGUF readers"
    CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -G "$INGOT_GENERATOR" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINGOT_FUZZ=ON -DINGOT_CUDA=OFF
    cmake --build "$root/build-fuzz" -j "$INGOT_JOBS" --target fuzz_reader make_seeds fuzz_gguf make_gguf_seeds
    (cd "$root/build-fuzz" && ctest -L fuzz "${ctest_args[@]}")
  else
    echo "== clang is not installed: skipping the libFuzzer smoke run"
  fi
fi

echo "== full build and test suite"
cmake -S "$root" -B "$root/build" -G "$INGOT_GENERATOR" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$root/build" -j "$INGOT_JOBS"
(cd "$root/build" && ctest -LE fuzz "${ctest_args[@]}")
