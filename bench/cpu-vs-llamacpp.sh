#!/usr/bin/env bash
# ingot against llama.cpp on the CPU, same weights, same run (issue 16). A benchmark, not a test.
#
#   bench/cpu-vs-llamacpp.sh [BUILD_DIR (default build-dev)]
#   env: WEIGHTS (q4: the 4-bit models below; f16: dense f16 weights on both sides, llama.cpp's
#        F16 GGUF against `ingotc build --method none --dtype f16` of it), INGOT_QUANT_ACT (int8, or f32), ROUNDS (2), THREADS ("1 2"), GEN (32 decoded tokens), REPEATS (3 per tool call),
#        INGOT_BENCH_CACHE (~/.cache/ingot/bench: the models, 3 GB), INGOT_SHARED (../shared)
#
# 1. bench/random_gguf.py writes an F16 GGUF of the TinyLlama-1.1B shape (dim 2048, ffn 5632,
#    22 layers, 32 heads, 4 KV heads, vocab 32000) with seeded random weights;
# 2. llama-quantize makes the Q4_0 model of it, `ingotc build --method rtn --bits 4
#    --group-size 128` the ingot model of the same file, and a second one with `--lm-head-bits 8`
#    (the classifier 8-bit instead of f16: llama.cpp's Q4_0 model keeps its own in Q6_K);
# 3. `ingot bench` and `llama-bench` run alternately, ROUNDS times, at each thread count: decode,
#    prefill of 64 and of 512 tokens; the load average is logged beside every call.
# Prints one table (medians over rounds: test, threads, ingot, llama.cpp, ratio) and writes the
# whole log to bench/results/cpu-vs-llamacpp-DATE.log.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-dev}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
rounds="${ROUNDS:-2}" threads="${THREADS:-1 2}" gen="${GEN:-32}" repeats="${REPEATS:-3}"
cache="${INGOT_BENCH_CACHE:-$HOME/.cache/ingot/bench}"
shared="${INGOT_SHARED:-$root/../shared}"
for exe in "$build/runtime/ingot" "$build/compiler/ingotc"; do
  if [ ! -x "$exe" ]; then
    echo "cpu-vs-llamacpp.sh: $exe is missing: build the ingot and ingotc targets in $build" >&2
    exit 2
  fi
done
tokenizer="$shared/models/llama2-tokenizer/tokenizer.bin"
if [ ! -f "$tokenizer" ]; then echo "cpu-vs-llamacpp.sh: $tokenizer is missing (shared assets)" >&2; exit 77; fi
llama_bin="$(bash "$root/bench/peer/llamacpp.sh")" || { echo "cpu-vs-llamacpp.sh: no llama.cpp build" >&2; exit 77; }
py="$(bash "$root/tests/oracle/oracle_venv.sh")" || { echo "cpu-vs-llamacpp.sh: no oracle venv (gguf, numpy)" >&2; exit 77; }

# The int8-activation kernels (kernels/cpu/quant_int8.h) unless the caller says INGOT_QUANT_ACT=f32.
export INGOT_QUANT_ACT="${INGOT_QUANT_ACT:-int8}"
mkdir -p "$cache"
f16="$cache/tinyllama-shape-random-f16.gguf"
q40="$cache/tinyllama-shape-random-q4_0.gguf"
ing="$cache/tinyllama-shape-random-rtn4-g128.ingot"
ing_h8="$cache/tinyllama-shape-random-rtn4-g128-head8.ingot"
weights="${WEIGHTS:-q4}"
case "$weights" in q4 | f16) ;; *) echo "cpu-vs-llamacpp.sh: WEIGHTS=$weights is neither q4 nor f16" >&2; exit 2 ;; esac
if [ ! -f "$f16" ]; then
  nice "$py" "$root/bench/random_gguf.py" "$f16.tmp" "$tokenizer" --seed 0 && mv "$f16.tmp" "$f16"
fi
if [ ! -f "$q40" ]; then
  nice "$llama_bin/llama-quantize" "$f16" "$q40.tmp" Q4_0 >"$cache/llama-quantize.log" 2>&1 && mv "$q40.tmp" "$q40"
fi
if [ ! -f "$ing" ]; then
  nice "$build/compiler/ingotc" build "$f16" -o "$ing.tmp" --method rtn --bits 4 --group-size 128 >"$cache/ingotc.log" 2>&1 &&
    mv "$ing.tmp" "$ing"
fi
ing_f16="$cache/tinyllama-shape-random-f16.ingot"
if [ "$weights" = f16 ] && [ ! -f "$ing_f16" ]; then
  nice "$build/compiler/ingotc" build "$f16" -o "$ing_f16.tmp" --method none --dtype f16 >"$cache/ingotc-f16.log" 2>&1 &&
    mv "$ing_f16.tmp" "$ing_f16"
fi
tools="ingot ingot-h8 llama"
if [ "$weights" = f16 ]; then  # one ingot model: the dense one
  q40="$f16" ing="$ing_f16" tools="ingot llama"
fi
if [ ! -f "$ing_h8" ]; then
  nice "$build/compiler/ingotc" build "$f16" -o "$ing_h8.tmp" --method rtn --bits 4 --group-size 128 --lm-head-bits 8 \
    >"$cache/ingotc-head8.log" 2>&1 && mv "$ing_h8.tmp" "$ing_h8"
fi

mkdir -p "$root/bench/results"
log="$root/bench/results/cpu-vs-llamacpp-$( [ "$weights" = f16 ] && echo f16- )$(date -u +%Y-%m-%d-%H%M).log"
raw="$(mktemp)"
trap 'rm -f "$raw"' EXIT
{
  echo "# bench/cpu-vs-llamacpp.sh $*  (ROUNDS=$rounds THREADS='$threads' GEN=$gen REPEATS=$repeats)"
  echo "# date $(date -u +%FT%TZ), ingot $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo '+dirty')"
  echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores," \
       "$(grep -o -m1 -w 'avx512_vnni' /proc/cpuinfo || echo 'no avx512_vnni')"
  echo "# INGOT_QUANT_ACT=$INGOT_QUANT_ACT; INGOT_SIMD=${INGOT_SIMD:-} INGOT_NO_SIMD=${INGOT_NO_SIMD:-}"
  if [ "$weights" = f16 ]; then
    echo "# WEIGHTS=f16; models: $f16 (llama.cpp), $ing (ingotc --method none --dtype f16 of it)"
  else
    echo "# models: $f16 -> $q40 (llama-quantize Q4_0), $ing (ingotc rtn 4-bit g128), $ing_h8 (the same, --lm-head-bits 8)"
  fi
} | tee "$log"

load() { cut -d' ' -f1-3 /proc/loadavg; }
# One JSON line a measurement: tool, test, threads, round, tok_s, load average before the call.
run_ingot() {  # model tool-name test prompt gen threads round
  local l out
  l="$(load)"
  out="$("$build/runtime/ingot" bench "$1" --prompt "$4" --gen "$5" --repeats "$repeats" --threads "$6" --json)"
  "$py" -c 'import json,sys; j=json.loads(sys.argv[1]); t=sys.argv[3]
v=j["decode_tok_s"] if t=="decode" else j["prefill_tok_s"]
print(json.dumps({"tool":sys.argv[2],"test":t,"threads":int(sys.argv[4]),"round":int(sys.argv[5]),"tok_s":v,"load":sys.argv[6]}))' \
    "$out" "$2" "$3" "$6" "$7" "$l"
}
run_llama() {  # test prompt gen threads round
  local l out
  l="$(load)"
  out="$("$llama_bin/llama-bench" -m "$q40" -p "$2" -n "$3" -t "$4" -r "$repeats" -o json 2>/dev/null)"
  "$py" -c 'import json,sys; j=json.loads(sys.argv[1]); r=j[0]
print(json.dumps({"tool":"llama.cpp","test":sys.argv[2],"threads":int(sys.argv[3]),"round":int(sys.argv[4]),"tok_s":r["avg_ts"],"load":sys.argv[5]}))' \
    "$out" "$1" "$4" "$5" "$l"
}
for round in $(seq 1 "$rounds"); do
  for t in $threads; do
    # Rotate which tool goes first, so none always meets another's leftover heat or load.
    case $((round % 3)) in 1) order="ingot ingot-h8 llama" ;; 2) order="llama ingot ingot-h8" ;; *) order="ingot-h8 llama ingot" ;; esac
    [ "$tools" = "ingot llama" ] && order="$( [ $((round % 2)) = 1 ] && echo "ingot llama" || echo "llama ingot")"
    for tool in $order; do
      if [ "$tool" != llama ]; then
        model="$ing"
        [ "$tool" = ingot-h8 ] && model="$ing_h8"
        run_ingot "$model" "$tool" decode 8 "$gen" "$t" "$round"
        run_ingot "$model" "$tool" prefill64 64 1 "$t" "$round"
        run_ingot "$model" "$tool" prefill512 512 1 "$t" "$round"
      else
        run_llama decode 0 "$gen" "$t" "$round"
        run_llama prefill64 64 0 "$t" "$round"
        run_llama prefill512 512 0 "$t" "$round"
      fi
    done | tee -a "$raw" "$log"
  done
done

"$py" "$root/bench/cpu_vs_llamacpp_table.py" "$raw" | tee -a "$log"
echo "log: $log"
