#!/usr/bin/env bash
# Batched decode, ingot against llama.cpp's llama-batched-bench, same weights, same run (issue 16).
# A benchmark, not a test.
#
#   bench/batched-vs-llamacpp.sh [BUILD_DIR (default build-dev)]
#   env: ROUNDS (2), THREADS ("1 2"), BATCH (1,2,4,8,16), CONTEXT (256 prompt tokens a sequence),
#        GEN (16 decoded tokens a sequence), INGOT_BENCH_CACHE (~/.cache/ingot/bench)
#
# The models are bench/cpu-vs-llamacpp.sh's (run it once first: it makes them): the TinyLlama-1.1B
# shape with seeded random weights, llama.cpp Q4_0 and ingot RTN 4-bit g128 (f16 classifier, and
# the 8-bit-classifier variant). Both tools hold B sequences of CONTEXT positions and decode GEN
# tokens each; the figure is aggregate decode tokens/s: llama-batched-bench's S_TG (B·GEN tokens
# over the generation time, prompts not shared) and `ingot bench --batch`'s decode_tok_s.
# Prints one table (medians over rounds) and writes the log to bench/results/batched-vs-llamacpp-DATE.log.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-dev}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
rounds="${ROUNDS:-2}" threads="${THREADS:-1 2}" batch="${BATCH:-1,2,4,8,16}" context="${CONTEXT:-256}" gen="${GEN:-16}"
cache="${INGOT_BENCH_CACHE:-$HOME/.cache/ingot/bench}"
q40="$cache/tinyllama-shape-random-q4_0.gguf"
ing="$cache/tinyllama-shape-random-rtn4-g128.ingot"
ing_h8="$cache/tinyllama-shape-random-rtn4-g128-head8.ingot"
for f in "$q40" "$ing" "$ing_h8"; do
  [ -f "$f" ] || { echo "batched-vs-llamacpp.sh: $f is missing: run bench/cpu-vs-llamacpp.sh once first" >&2; exit 77; }
done
[ -x "$build/runtime/ingot" ] || { echo "batched-vs-llamacpp.sh: $build/runtime/ingot is missing" >&2; exit 2; }
llama_bin="$(bash "$root/bench/peer/llamacpp.sh")" || { echo "batched-vs-llamacpp.sh: no llama.cpp build" >&2; exit 77; }
max_b="$(tr ',' '\n' <<<"$batch" | sort -n | tail -1)"
n_kv=$(( max_b * (context + gen) + 64 ))

mkdir -p "$root/bench/results"
log="$root/bench/results/batched-vs-llamacpp-$(date -u +%Y-%m-%d-%H%M).log"
raw="$(mktemp)"
trap 'rm -f "$raw"' EXIT
{
  echo "# bench/batched-vs-llamacpp.sh $*  (ROUNDS=$rounds THREADS='$threads' BATCH=$batch CONTEXT=$context GEN=$gen)"
  echo "# date $(date -u +%FT%TZ), ingot $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo '+dirty')"
  echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; INGOT_QUANT_ACT=${INGOT_QUANT_ACT:-int8 (default)}"
  echo "# models: $q40 (llama.cpp), $ing (ingot), $ing_h8 (ingot-h8)"
} | tee "$log"

load() { cut -d' ' -f1-3 /proc/loadavg; }
run_ingot() {  # model tool threads round
  local l out
  l="$(load)"
  out="$("$build/runtime/ingot" bench "$1" --batch "$batch" --context "$context" --gen "$gen" --repeats 1 --threads "$3" --json)"
  python3 -c 'import json,sys; j=json.loads(sys.argv[1])
for r in j["results"]:
    print(json.dumps({"tool":sys.argv[2],"batch":r["batch"],"threads":int(sys.argv[3]),"round":int(sys.argv[4]),"tok_s":r["decode_tok_s"],"load":sys.argv[5]}))' \
    "$out" "$2" "$3" "$4" "$l"
}
run_llama() {  # threads round
  local l out
  l="$(load)"
  out="$("$llama_bin/llama-batched-bench" -m "$q40" -c "$n_kv" -npp "$context" -ntg "$gen" -npl "$batch" -t "$1" \
         --output-format jsonl 2>/dev/null | grep '^{')"
  python3 -c 'import json,sys
for line in sys.argv[1].splitlines():
    r=json.loads(line)
    print(json.dumps({"tool":"llama.cpp","batch":r["pl"],"threads":int(sys.argv[2]),"round":int(sys.argv[3]),"tok_s":r["speed_tg"],"load":sys.argv[4]}))' \
    "$out" "$1" "$2" "$l"
}
for round in $(seq 1 "$rounds"); do
  for t in $threads; do
    case $((round % 3)) in 1) order="ingot ingot-h8 llama" ;; 2) order="llama ingot ingot-h8" ;; *) order="ingot-h8 llama ingot" ;; esac
    for tool in $order; do
      case "$tool" in
        ingot) run_ingot "$ing" ingot "$t" "$round" ;;
        ingot-h8) run_ingot "$ing_h8" ingot-h8 "$t" "$round" ;;
        *) run_llama "$t" "$round" ;;
      esac
    done | tee -a "$raw" "$log"
  done
done

python3 - "$raw" <<'PY' | tee -a "$log"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = sorted({(r["threads"], r["batch"]) for r in rows})
tools = ["ingot", "ingot-h8", "llama.cpp"]
print(f"\n{'threads':>7} {'B':>3}" + "".join(f" {t:>10}" for t in tools) + f" {'ingot/llama':>12} {'h8/llama':>9}"
      "   (aggregate decode tok/s, median over rounds)")
for k in keys:
    m = {t: statistics.median([r["tok_s"] for r in rows if (r["threads"], r["batch"]) == k and r["tool"] == t] or [float("nan")])
         for t in tools}
    print(f"{k[0]:>7} {k[1]:>3}" + "".join(f" {m[t]:>10.2f}" for t in tools) +
          f" {m['ingot'] / m['llama.cpp']:>12.2f} {m['ingot-h8'] / m['llama.cpp']:>9.2f}")
PY
echo "log: $log"
