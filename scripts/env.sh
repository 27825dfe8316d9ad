# Sourced by the scripts: common settings. Puts a CUDA toolkit installed in the usual place on PATH
# so INGOT_CUDA=AUTO finds nvcc, and picks a generator and parallelism.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
INGOT_JOBS="${INGOT_JOBS:-$(nproc)}"
INGOT_GENERATOR="Unix Makefiles"
if command -v ninja >/dev/null 2>&1; then INGOT_GENERATOR="Ninja"; fi
