#!/usr/bin/env bash
# Installs the Debian packages ingot's build and tests need; only those missing.
# Idempotent: a second run installs nothing and touches no package list.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  liblua5.4-dev libzstd-dev libxxhash-dev
  libflatbuffers-dev flatbuffers-compiler
  libcli11-dev nlohmann-json3-dev
  libopenblas-dev liblapacke-dev
  libsentencepiece-dev
  libgtest-dev libgmock-dev
)
# Optional extras: clang builds the libFuzzer target (and its runtime brings the sanitizers).
if [ "${INGOT_WITH_CLANG:-0}" = 1 ]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
