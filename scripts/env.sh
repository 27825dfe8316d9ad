# Sourced by the scripts: common settings. Puts a CUDA toolkit installed in the usual place on PATH
# so INGOT_CUDA=AUTO finds nvcc, and picks a generator and parallelism.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
INGOT_JOBS="${INGOT_JOBS:-$(nproc)}"
INGOT_GENERATOR="Unix Makefiles"
if command -v ninja >/dev/null 2>&1; then INGOT_GENERATOR="Ninja"; fi

# ingot_configure DIR BUILD_TYPE [-DNAME=VALUE ...]
# Configures DIR with every project option set explicitly: the defaults below, then the
# arguments, then $INGOT_CMAKE_ARGS (extra options of the user's, e.g. -DINGOT_WERROR=ON). CMake
# keeps an option in the folder's cache until it is set again, so a script that left one out
# would inherit whatever the previous command (or a person, by hand) configured there: that is
# how quickstart's INGOT_BUILD_TESTS=OFF once left scripts/test.sh with no tests. Each script
# also has a folder of its own (build/ for the quick start, build-test/ and build-<sanitizer>/ for
# the tests), so neither rebuilds the other's. An existing folder keeps its generator, which
# CMake cannot change in place.
ingot_configure() {
  local dir="$1" type="$2"
  shift 2
  local generator="$INGOT_GENERATOR"
  if [ -f "$dir/CMakeCache.txt" ]; then
    local cached
    cached="$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$dir/CMakeCache.txt")"
    if [ -n "$cached" ]; then generator="$cached"; fi
  fi
  # shellcheck disable=SC2086  # INGOT_CMAKE_ARGS is a list of words
  cmake -S "$root" -B "$dir" -G "$generator" -DCMAKE_BUILD_TYPE="$type" \
        -DINGOT_CUDA=AUTO -DINGOT_SANITIZE=OFF -DINGOT_TSAN=OFF -DINGOT_FUZZ=OFF \
        -DINGOT_BUILD_TESTS=ON -DINGOT_WERROR=OFF "$@" ${INGOT_CMAKE_ARGS:-}
}
