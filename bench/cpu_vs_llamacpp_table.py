"""The table of bench/cpu-vs-llamacpp.sh: medians over rounds of its JSON lines (tool, test,
threads, round, tok_s) and the ratio ingot / llama.cpp.  python cpu_vs_llamacpp_table.py RAW"""
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
key = lambda r: (r["test"], r["threads"])
order = []
for r in rows:
    if key(r) not in order: order.append(key(r))
print(f"\n{'test':<12} {'threads':>7} {'ingot':>9} {'llama.cpp':>10} {'ratio':>7}   (tok/s, median over rounds)")
for k in order:
    a = [r["tok_s"] for r in rows if key(r) == k and r["tool"] == "ingot"]
    b = [r["tok_s"] for r in rows if key(r) == k and r["tool"] == "llama.cpp"]
    if not a or not b: continue
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"{k[0]:<12} {k[1]:>7} {ma:>9.2f} {mb:>10.2f} {ma / mb:>7.2f}")
