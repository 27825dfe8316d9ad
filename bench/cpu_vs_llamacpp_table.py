"""The table of bench/cpu-vs-llamacpp.sh: medians over rounds of its JSON lines (tool, test,
threads, round, tok_s) and the ratios ingot / llama.cpp (ingot-h8: the 8-bit classifier, when
measured).  python cpu_vs_llamacpp_table.py RAW"""
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
key = lambda r: (r["test"], r["threads"])
order = []
for r in rows:
    if key(r) not in order: order.append(key(r))
tools = [t for t in ("ingot", "ingot-h8") if any(r["tool"] == t for r in rows)]
head = "".join(f" {t:>9}" for t in tools) + f" {'llama.cpp':>10}" + "".join(f" {t + '/llama':>15}" for t in tools)
print(f"\n{'test':<12} {'threads':>7}{head}   (tok/s, median over rounds)")
for k in order:
    b = [r["tok_s"] for r in rows if key(r) == k and r["tool"] == "llama.cpp"]
    a = {t: [r["tok_s"] for r in rows if key(r) == k and r["tool"] == t] for t in tools}
    if not b or not all(a.values()): continue
    m = {t: statistics.median(v) for t, v in a.items()}
    mb = statistics.median(b)
    print(f"{k[0]:<12} {k[1]:>7}" + "".join(f" {m[t]:>9.2f}" for t in tools) + f" {mb:>10.2f}" +
          "".join(f" {m[t] / mb:>15.2f}" for t in tools))
