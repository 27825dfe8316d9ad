#!/usr/bin/env bash
# The CUDA backend's check on a lent GPU, in one command (docs/cuda.md, issue 18).
#
#   scripts/gpu-check.sh --prepare    here, without a GPU: builds build-gpu/ for sm_90 (the device's
#                                     H200) and packs build-gpu/carry/ (binaries, the shared libraries
#                                     `ldd` lists beyond glibc, stories260K), checking it fits the
#                                     device tool's 64 MiB carry limit.
#   scripts/gpu-check.sh              on the device (run tool, carry ["build-gpu/carry"]): unpacks the
#                                     carry, then runs, each step logged and timed:
#                                       1. nvidia-smi, and the gpu tests (every kernel vs the CPU;
#                                          stories260K greedy CUDA == CPU)
#                                       2. compute-sanitizer memcheck and racecheck on a short run
#                                          (INGOT_GPU_TEST_QUICK=1: the small shapes only)
#                                       3. the GEMV benchmark (4-bit g128 LLaMA-2-7B shape vs a device
#                                          copy and cuBLAS f16) and decode tokens/s at batch 1 and
#                                          2–16 on a synthetic 7B-shaped 4-bit model (8 layers)
#                                     and prints one table; the raw log goes to $OUT/gpu-check.log.
# Without a GPU the GPU steps report SKIP (the rehearsal: scripts/gpu-check.sh --rehearse runs
# the same steps from build-gpu/carry on this machine).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
carry="$root/build-gpu/carry"
mode="${1:-run}"

if [ "$mode" = "--prepare" ]; then
  set -e
  # shellcheck source=/dev/null
  source "$root/scripts/env.sh"
  ingot_configure "$root/build-gpu" Release -DINGOT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache >/dev/null
  targets="cuda_kernels_test cuda_backend_test cuda_device_test cuda_math_test gptq_cuda_test cuda-gemv-bench synthetic-model gptq-layer-speed ingot ingotc"
  # shellcheck disable=SC2086
  nice cmake --build "$root/build-gpu" -j"${INGOT_JOBS:-2}" --target $targets
  rm -rf "$carry" && mkdir -p "$carry/stage/bin" "$carry/stage/lib" "$carry/stage/shared/models/stories260K"
  for t in tests/cuda_kernels_test tests/cuda_backend_test tests/cuda_device_test tests/cuda_math_test \
           tests/gptq_cuda_test bench/cuda-gemv-bench bench/synthetic-model bench/gptq-layer-speed runtime/ingot \
           compiler/ingotc; do
    cp "$root/build-gpu/$t" "$carry/stage/bin/"
  done
  strip "$carry"/stage/bin/* 2>/dev/null || true
  # The libraries the binaries load, except glibc's own (the device's newer glibc serves them) and
  # cuBLAS / cuSOLVER and theirs (0.7 GB: the device's CUDA toolkit and its nvidia-* wheels have
  # them; the run below finds them there).
  for b in "$carry"/stage/bin/*; do ldd "$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' |
    grep -Ev '/lib(cublas|cublasLt|cusolver|cusparse|nvJitLink)\.so' | while read -r lib; do
      cp -L "$lib" "$carry/stage/lib/"
    done
  shared="${INGOT_SHARED:-$root/../shared}"
  cp "$shared/models/stories260K/stories260K.bin" "$shared/models/stories260K/tok512.model" \
     "$carry/stage/shared/models/stories260K/"
  mkdir -p "$carry/stage/shared/data/c4" "$carry/stage/shared/data/tinystories"
  cp "$shared/data/c4/c4_sample.json" "$carry/stage/shared/data/c4/"
  cp "$shared/data/tinystories/tinystories_val.txt" "$carry/stage/shared/data/tinystories/"
  tar -C "$carry/stage" -czf "$carry/carry.tar.gz" .
  rm -rf "$carry/stage"
  size=$(stat -c %s "$carry/carry.tar.gz")
  echo "gpu-check: build-gpu/carry/carry.tar.gz is $((size / 1048576)) MiB (limit 64 MiB with the working tree)"
  [ "$size" -lt $((56 * 1048576)) ] || { echo "gpu-check: the carry is too large" >&2; exit 1; }
  exit 0
fi

out="${OUT:-$root/build-gpu/out}"
mkdir -p "$out"
log="$out/gpu-check.log"
: >"$log"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ ! -f "$carry/carry.tar.gz" ]; then
  echo "gpu-check: no build-gpu/carry/carry.tar.gz; run scripts/gpu-check.sh --prepare first (and carry build-gpu/carry)" >&2
  exit 2
fi
tar -C "$work" -xzf "$carry/carry.tar.gz"
bin="$work/bin"
# Only the carried libraries the machine lacks go on the path: a newer system libstdc++ serves our
# binaries too, and the machine's own tools (compute-sanitizer, nvidia-smi) keep theirs.
mkdir -p "$work/missing"
for lib in "$work"/lib/*; do
  name="$(basename "$lib")"
  if ! ldconfig -p 2>/dev/null | grep -q "^[[:space:]]*$name "; then ln -s "$lib" "$work/missing/$name"; fi
done
# cuBLAS and cuSOLVER (not carried): the toolkit's lib64, else the nvidia-* wheels' lib folders.
cuda_libs=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         $(python3 -c 'import glob, site; print(" ".join(sorted({p for s in site.getsitepackages() for p in glob.glob(s + "/nvidia/*/lib")})))' 2>/dev/null); do
  if ls "$d"/libcublas.so* "$d"/libcusolver.so* >/dev/null 2>&1 || ls "$d"/libcublasLt.so* >/dev/null 2>&1 ||
     ls "$d"/libnvJitLink.so* "$d"/libcusparse.so* >/dev/null 2>&1; then
    cuda_libs="$cuda_libs${cuda_libs:+:}$d"
  fi
done
export LD_LIBRARY_PATH="$work/missing${cuda_libs:+:$cuda_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export INGOT_SHARED="$work/shared"

declare -a rows
# step NAME COMMAND...: runs it, logs its output, records PASS / FAIL / SKIP (77 or a gtest skip).
step() {
  local name="$1" t0 rc status skipped passed
  shift
  t0=$(date +%s)
  { echo "=== $name: $*"; date -u; } >>"$log"
  "$@" >"$work/step.out" 2>&1
  rc=$?
  cat "$work/step.out" >>"$log"
  # gtest's summary lines: "[  PASSED  ] N tests." and "[  SKIPPED ] N tests, listed below:".
  passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$work/step.out" | tail -n 1)
  skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$work/step.out" | tail -n 1)
  status=PASS
  if [ $rc -eq 77 ] || { [ $rc -eq 0 ] && [ -n "$skipped" ] && [ "${passed:-0}" -eq 0 ]; }; then
    status=SKIP
  elif [ $rc -ne 0 ]; then
    status="FAIL (exit $rc)"
  elif [ -n "$skipped" ]; then
    status="PASS, $skipped skipped"
  fi
  echo "=== $name: $status in $(( $(date +%s) - t0 )) s" >>"$log"
  rows+=("$(printf '%-36s %-18s %5ss' "$name" "$status" "$(( $(date +%s) - t0 ))")")
}

have_gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then have_gpu=1; fi
{
  echo "gpu-check $(date -u +%FT%TZ) commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "carried libraries used (the machine lacks them): $(ls "$work/missing" | tr '\n' ' ')"
} >>"$log"
if [ $have_gpu -eq 1 ]; then step "nvidia-smi" nvidia-smi; fi

step "cuda_math_test (host)" "$bin/cuda_math_test" --gtest_brief=1
step "cuda_device_test" "$bin/cuda_device_test"
step "cuda_kernels_test" "$bin/cuda_kernels_test"
step "cuda_backend_test (stories260K)" "$bin/cuda_backend_test"
step "gptq_cuda_test (device vs CPU GPTQ)" "$bin/gptq_cuda_test"
# stories260K through ingotc on both devices: both containers' TinyStories perplexity (issue 20:
# within 0.1%); the integers' agreement is gptq_cuda_test's.
gptq_model() {
  local s="$INGOT_SHARED/models/stories260K" d
  [ $have_gpu -eq 1 ] || return 77
  for d in cpu cuda; do
    "$bin/ingotc" build "$s/stories260K.bin" --tokenizer "$s/tok512.model" --method gptq --bits 4 --group-size 32 \
      --calib "$INGOT_SHARED/data/c4/c4_sample.json" --calib-samples 32 --calib-seqlen 256 --device "$d" \
      -o "$work/s260k-$d.ingot" || return 1
    "$bin/ingot" perplexity "$work/s260k-$d.ingot" -f "$INGOT_SHARED/data/tinystories/tinystories_val.txt" \
      --ctx 256 --max-chunks 40 | sed "s/^/$d: /" || return 1
  done
}
step "ingotc --device cuda vs cpu (stories260K)" gptq_model

if [ $have_gpu -eq 1 ] && command -v compute-sanitizer >/dev/null 2>&1; then
  san() { INGOT_GPU_TEST_QUICK=1 compute-sanitizer --tool "$1" --error-exitcode 3 "$bin/cuda_kernels_test" --gtest_brief=1; }
  step "compute-sanitizer memcheck" san memcheck
  step "compute-sanitizer racecheck" san racecheck
else
  rows+=("$(printf '%-36s %-18s' 'compute-sanitizer' 'SKIP (no GPU or no tool)')")
fi

if [ $have_gpu -eq 1 ]; then
  step "GEMV bench (7B shape, 4-bit g128)" "$bin/cuda-gemv-bench" --layers 8 --repeats 20
  model="$work/llama2-7b-shape-8l-q4g128.ingot"
  step "synthetic 7B-shape model (8 layers)" "$bin/synthetic-model" "$model" --dim 4096 --ffn 11008 --layers 8 \
    --heads 32 --kv-heads 32 --vocab 32000 --context 4096 --dtype f16 --bits 4 --group-size 128
  step "decode batch 1 (cuda)" "$bin/ingot" bench "$model" --backend cuda --prompt 64 --gen 16 --repeats 2
  step "decode batch 2-16 (cuda)" "$bin/ingot" bench "$model" --backend cuda --batch 1,2,4,8,16 --context 64 --gen 8
  nographs() { INGOT_CUDA_GRAPHS=0 "$bin/ingot" bench "$model" --backend cuda --prompt 64 --gen 16 --repeats 2; }
  step "decode batch 1 (cuda, no graphs)" nographs
  step "decode batch 1 (cpu, same model)" "$bin/ingot" bench "$model" --prompt 64 --gen 4 --repeats 1
  # Issue 20: one 7B-shaped layer through the GPTQ driver, 4 x 512 tokens, the default grid, each
  # weight on the device and then on the machine's CPU cores (the forward passes are CPU in both).
  step "gptq 7B layer (cuda)" "$bin/gptq-layer-speed" 4 512 0 grid-hessian cuda
  step "gptq 7B layer (cpu)" "$bin/gptq-layer-speed" 4 512 0 grid-hessian cpu
else
  rows+=("$(printf '%-36s %-18s' 'benchmarks' 'SKIP (no GPU)')")
fi

{
  echo
  echo "gpu-check summary (raw log: $log)"
  printf '%s\n' "${rows[@]}"
  echo
  echo "--- benchmark figures ---"
  grep -E '^(device|copy|4-bit|b-bit|q[348] n=|q4 gemm|cublas|weight-streaming)|tok/s|tokens/s|^(cpu|cuda): ppl|^\[ device \]|^layer total|GPTQ +[0-9.]+ s' "$log" || true
} | tee -a "$log"
grep -q 'FAIL' <(printf '%s\n' "${rows[@]}") && exit 1
exit 0
