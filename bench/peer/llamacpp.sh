#!/usr/bin/env bash
# llama.cpp, the CPU peer of our benchmarks and the reference of the interop checks, built from
# the source that PyPI's llama-cpp-python sdist vendors (vendor/llama.cpp), in a cache folder
# outside the repository:
#   ${INGOT_LLAMACPP_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ingot/llama.cpp}
# Prints the folder holding the binaries (llama-bench, llama-batched-bench, llama-quantize,
# llama-perplexity, llama-simple, llama-server) on stdout. Exit 77 when it cannot be fetched or
# built; the message says why. Never part of CI (a build takes ~15 min on 2 cores).
#   llamacpp.sh --cached   only looks: prints the folder when a finished build of this version is
#                          there (its stamp), else exit 77; never fetches or builds (for tests).
set -uo pipefail
version="0.3.36"
root="${INGOT_LLAMACPP_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ingot/llama.cpp}"
targets=(llama-bench llama-batched-bench llama-quantize llama-perplexity llama-simple llama-server)
bin="$root/build/bin"
stamp="$root/.ingot-version"
ready() {
  [ "$(cat "$stamp" 2>/dev/null)" = "$version" ] || return 1
  for t in "${targets[@]}"; do [ -x "$bin/$t" ] || return 1; done
}
if ready; then echo "$bin"; exit 0; fi
if [ "${1:-}" = "--cached" ]; then
  echo "llamacpp.sh: no finished llama.cpp $version build in $root (run bench/peer/llamacpp.sh to build it)" >&2
  exit 77
fi
mkdir -p "$root"
exec 9>"$root.lock"
flock 9
if ready; then echo "$bin"; exit 0; fi
log="$root/build.log"
: >"$log"
src="$root/src"
if [ ! -f "$src/CMakeLists.txt" ] || [ "$(cat "$stamp.src" 2>/dev/null)" != "$version" ]; then
  tmp="$(mktemp -d)"
  if ! python3 -m pip download --no-deps --no-binary :all: --disable-pip-version-check -q \
      -d "$tmp" "llama-cpp-python==$version" >>"$log" 2>&1; then
    echo "llamacpp.sh: pip download llama-cpp-python==$version failed (is PyPI reachable?), see $log" >&2
    rm -rf "$tmp"; exit 77
  fi
  tar -xzf "$tmp"/llama_cpp_python-"$version".tar.gz -C "$tmp" || { echo "llamacpp.sh: cannot unpack the sdist" >&2; exit 77; }
  rm -rf "$src"
  mv "$tmp/llama_cpp_python-$version/vendor/llama.cpp" "$src"
  rm -rf "$tmp"
  echo "$version" >"$stamp.src"
fi
if ! cmake -S "$src" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF >>"$log" 2>&1; then
  echo "llamacpp.sh: cmake configure failed, see $log" >&2; exit 77
fi
if ! cmake --build "$root/build" -j "$(nproc)" --target "${targets[@]}" >>"$log" 2>&1; then
  echo "llamacpp.sh: build failed, see $log" >&2; exit 77
fi
echo "$version" >"$stamp"
echo "$bin"
