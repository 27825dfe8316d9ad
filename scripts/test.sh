#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, then
#   1. asan:  the format tests under AddressSanitizer + UndefinedBehaviorSanitizer (CPU only);
#   2. tsan:  the C API tests (one model, sessions on several threads) under ThreadSanitizer;
#   3. fuzz:  a short libFuzzer smoke run over the container and GGUF readers, when clang is
#             installable;
#   4. full:  the full build (CUDA compiled when nvcc is found) and every test (GPU tests skip
#             cleanly without a device).
# and ends with a table: per stage, the tests run, passed, skipped and failed (GoogleTest cases,
# plus one for each test that is a script), and the seconds the stage took, build included.
#
# Every stage runs, even after one fails; the script fails if any did. Each stage has its own
# build folder (build-asan, build-tsan, build-fuzz, build-test), configured with every option set
# (scripts/env.sh: ingot_configure), and builds exactly the executables its tests run (the
# tests_<label> targets), so neither an earlier `scripts/quickstart.sh` (build/) nor a folder
# configured by hand changes what a stage tests. Set INGOT_SKIP_SANITIZE=1 / INGOT_SKIP_TSAN=1 /
# INGOT_SKIP_FUZZ=1 to leave out 1 / 2 / 3.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps.sh" --with-clang
source "$root/scripts/env.sh"
ctest_args=(--output-on-failure --no-tests=error -j "$INGOT_JOBS")

summary=()   # "stage run passed skipped failed seconds result", one per stage
any_failed=0

# count_results BUILD_DIR JUNIT: prints "run passed skipped failed" for the ctest run whose JUnit
# file is JUNIT. A test with a GoogleTest result file counts its cases (one more failure when
# ctest saw it fail after its cases passed, e.g. a sanitizer report at exit); any other test
# counts once, by ctest's status ("Unable to find executable" is a failure, not a skip).
count_results() {
  local gtest_dir="$1/Testing/gtest" junit="$2"
  local run=0 passed=0 skipped=0 failed=0 name status message xml
  while IFS=$'\t' read -r name status message; do
    xml="$gtest_dir/$name.xml"
    if [ -f "$xml" ]; then
      read -r t f s < <(awk '
        /<testsuite / {
          for (i = 1; i <= NF; i++) {
            split($i, kv, "=")
            gsub(/"/, "", kv[2])
            if (kv[1] == "tests") t += kv[2]
            else if (kv[1] == "disabled") t -= kv[2]
            else if (kv[1] == "failures" || kv[1] == "errors") f += kv[2]
            else if (kv[1] == "skipped") s += kv[2]
          }
        }
        END { print t + 0, f + 0, s + 0 }' "$xml")
      if [ "$status" = fail ] && [ "$f" -eq 0 ]; then f=1; t=$((t + 1)); fi
      run=$((run + t)); failed=$((failed + f)); skipped=$((skipped + s))
      passed=$((passed + t - f - s))
    else
      run=$((run + 1))
      case "$status" in
        run) passed=$((passed + 1)) ;;
        notrun) if [[ "$message" == *"Unable to find"* ]]; then failed=$((failed + 1)); else skipped=$((skipped + 1)); fi ;;
        *) failed=$((failed + 1)) ;;
      esac
    fi
  done < <(awk '
    /<testcase / {
      if (name != "") print name "\t" status "\t" message
      match($0, /name="[^"]*"/); name = substr($0, RSTART + 6, RLENGTH - 7)
      match($0, /status="[^"]*"/); status = substr($0, RSTART + 8, RLENGTH - 9)
      message = ""
    }
    /<skipped message=/ { match($0, /message="[^"]*"/); message = substr($0, RSTART + 9, RLENGTH - 10) }
    END { if (name != "") print name "\t" status "\t" message }' "$junit")
  echo "$run $passed $skipped $failed"
}

# stage NAME DIR TARGET CTEST_ARGS...: builds TARGET in the configured DIR, runs ctest there and
# records the counts. The caller configures DIR first (so a failed configure is recorded too).
stage() {
  local name="$1" dir="$2" target="$3" start="$4"
  shift 4
  local junit="$dir/Testing/ctest-$name.xml" result=ok counts="0 0 0 0"
  if ! cmake --build "$dir" -j "$INGOT_JOBS" --target "$target"; then
    result="build failed"
  else
    rm -rf "$dir/Testing/gtest" "$junit"
    if ! (cd "$dir" && ctest "${ctest_args[@]}" --output-junit "$junit" "$@"); then result=FAILED; fi
    if [ -f "$junit" ]; then counts="$(count_results "$dir" "$junit")"; fi
  fi
  read -r run passed skipped failed <<<"$counts"
  if [ "$result" = ok ] && [ "$failed" -gt 0 ]; then result=FAILED; fi
  if [ "$result" != ok ]; then any_failed=1; fi
  summary+=("$name $run $passed $skipped $failed $((SECONDS - start)) $result")
}

# configure NAME DIR BUILD_TYPE OPTIONS...: ingot_configure, or a failed stage in the table.
configure() {
  local name="$1" dir="$2" type="$3"
  shift 3
  if ! ingot_configure "$dir" "$type" "$@"; then
    summary+=("$name 0 0 0 0 0 configure failed")
    any_failed=1
    return 1
  fi
}

if [ "${INGOT_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== asan: format tests under ASan+UBSan"
  t0=$SECONDS
  if configure asan "$root/build-asan" RelWithDebInfo -DINGOT_SANITIZE=ON -DINGOT_CUDA=OFF; then
    stage asan "$root/build-asan" tests_format "$t0" -L format
  fi
fi

if [ "${INGOT_SKIP_TSAN:-0}" != 1 ]; then
  # One model shared by sessions on several threads (CPU only; the C API tests alone, to stay
  # within CI's budget). Sessions use one OpenMP thread each there: libgomp is not instrumented.
  echo "== tsan: C API tests under ThreadSanitizer"
  t0=$SECONDS
  if configure tsan "$root/build-tsan" RelWithDebInfo -DINGOT_TSAN=ON -DINGOT_CUDA=OFF; then
    INGOT_TEST_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
      stage tsan "$root/build-tsan" tests_capi "$t0" -L capi -LE install
  fi
fi

if [ "${INGOT_SKIP_FUZZ:-0}" != 1 ]; then
  if command -v clang++ >/dev/null 2>&1; then
    echo "== fuzz: libFuzzer smoke runs over the container and GGUF readers"
    t0=$SECONDS
    # The compilers are named on the command line: CC/CXX in the environment only count when a
    # folder is configured for the first time.
    if configure fuzz "$root/build-fuzz" RelWithDebInfo -DINGOT_FUZZ=ON -DINGOT_CUDA=OFF \
         -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
         -DINGOT_FUZZ_SANITIZERS=address,undefined -DINGOT_FUZZ_SMOKE_SECONDS=30; then
      stage fuzz "$root/build-fuzz" tests_fuzz "$t0" -L fuzz
    fi
  else
    echo "== fuzz: clang is not installed: skipping the libFuzzer smoke run"
    summary+=("fuzz 0 0 0 0 0 skipped (clang not installed)")
  fi
fi

echo "== full: full build and test suite"
t0=$SECONDS
if configure full "$root/build-test" RelWithDebInfo; then
  stage full "$root/build-test" all "$t0" -LE fuzz
fi

echo
echo "== summary (tests: GoogleTest cases, plus one for each script test)"
printf '%-6s %6s %7s %8s %7s %8s  %s\n' stage run passed skipped failed seconds result
total_run=0 total_passed=0 total_skipped=0 total_failed=0
for line in "${summary[@]}"; do
  read -r name run passed skipped failed seconds result <<<"$line"
  printf '%-6s %6d %7d %8d %7d %8d  %s\n' "$name" "$run" "$passed" "$skipped" "$failed" "$seconds" "$result"
  total_run=$((total_run + run)); total_passed=$((total_passed + passed))
  total_skipped=$((total_skipped + skipped)); total_failed=$((total_failed + failed))
done
printf '%-6s %6d %7d %8d %7d %8d\n' total "$total_run" "$total_passed" "$total_skipped" "$total_failed" "$SECONDS"
if [ "$any_failed" != 0 ] && [ "$total_failed" -eq 0 ]; then total_failed=1; fi
echo "test.sh: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit "$any_failed"
