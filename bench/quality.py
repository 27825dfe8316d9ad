#!/usr/bin/env python3
"""Quality table: stories260K perplexity for FP, RTN and GPTQ across bits, groups, act-order, sym/asym.

Builds every configuration with ingotc, scores it with `ingot perplexity` (ctx 256) on TinyStories
val and WikiText-2 test, and writes bench/quality.md. Run from the repository root after a build:

    python3 bench/quality.py [--build build] [--jobs N] [--max-chunks N] [--out bench/quality.md]

--max-chunks limits the windows scored per text (0 = the whole file, the default); the table says
what was used. --jobs runs that many configurations at once, each single-threaded (on this tiny
model one thread per process beats threads inside one). A second section repeats one setting over
several calibration seeds to show how much of a GPTQ/RTN gap is calibration-draw noise.
"""
import argparse
import concurrent.futures
import datetime
import hashlib
import json
import threading
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time

BITS = [8, 4, 3, 2]
GROUPS = [-1, 64, 32, 16]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return p.stdout


def cache_stamp(files, max_chunks):
    """A cached result counts only for the same binaries, texts and command lines: this names them."""
    stamp = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            stamp.update(hashlib.sha256(fh.read()).digest())
    stamp.update(str(max_chunks).encode())
    return stamp.hexdigest()[:16]


def cached_rows(path, stamp):
    """The rows of the JSON-lines cache at `path` (may be empty or absent) made under `stamp`."""
    if not path or not os.path.exists(path):
        return []
    with open(path) as fh:
        return [r for r in map(json.loads, fh) if r.get("stamp") == stamp]


def main():
    # Weight quantization alone, as the GPTQ paper scores it: the runtime's int8 activations (its
    # default since 2026-12-02) stay off for every perplexity these tables report.
    os.environ["INGOT_QUANT_ACT"] = "f32"
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--shared", default=os.environ.get("INGOT_SHARED", "../shared"))
    ap.add_argument("--max-chunks", type=int, default=0)
    ap.add_argument("--calib-samples", type=int, default=None, help="GPTQ calibration windows (32; smollm2: 64)")
    ap.add_argument("--calib-seqlen", type=int, default=None, help="GPTQ calibration tokens per window (256; smollm2: 512)")
    ap.add_argument("--out", default="bench/quality.md")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cache", default="", help="JSON Lines of finished configurations: appended to as they "
                    "finish, reused on a rerun with the same binaries and options (resume after an interruption)")
    ap.add_argument("--seed-study", default="4:-1:asym", help="bits:group:sym|asym repeated over seeds 1..5; '' = off")
    ap.add_argument("--model", choices=["stories260K", "smollm2"], default="stories260K",
                    help="smollm2: the SmolLM2-135M table (bench/quality_smollm2.py), written into the same file")
    ap.add_argument("--threads", type=int, default=2, help="smollm2: threads per configuration")
    ap.add_argument("--wt-chunks", type=int, default=24, help="smollm2: WikiText-2 windows of 2048 scored")
    ap.add_argument("--only", default="", help="smollm2: regex of the configuration names to run")
    ap.add_argument("--texts", default="", help="smollm2: regex of the texts to score")
    ap.add_argument("--seed", type=int, default=3, help="smollm2: calibration seed")
    ap.add_argument("--table-only", action="store_true", help="smollm2: write the table from --cache, compute nothing")
    ap.add_argument("--calib-draw", choices=["stream", "documents"], default="stream",
                    help="smollm2: ingotc --calib-draw for the GPTQ rows")
    ap.add_argument("--damp", type=float, default=None, help="smollm2: ingotc --damp (default: ingotc's, 0.01)")
    ap.add_argument("--also-stamps", default="", help="smollm2: comma list of earlier cache stamps whose rows are reused")
    ap.add_argument("--keep-dir", default="", help="smollm2: keep each GPTQ container here instead of deleting it")
    ap.add_argument("--report-dir", default="", help="smollm2: write each GPTQ build's --report (per-tensor losses) here")
    ap.add_argument("--study", default="", help="smollm2: write a table of every cached row of --only "
                    "(configuration × draw × seed × damp × calibration size) to this file; compute nothing")
    ap.add_argument("--options-study", action="store_true",
                    help="the GPTQ options past the paper (docs/gptq.md) against --gptq-preset paper "
                    "at 4-bit g128/g32, 3-bit g128/g-1 over --study-seeds; writes --out (its own file). "
                    "smollm2: its options (quality_smollm2.STUDY_OPTIONS), --only picks rows by name, "
                    "--study-seeds default 3,4,5")
    ap.add_argument("--study-seeds", default="", help="options study: calibration seeds (0,1,2; smollm2: 3,4,5)")
    ap.add_argument("--study-only", default="", help="options study: regex of the option names to run")
    a = ap.parse_args()
    if a.options_study and a.model == "stories260K":
        options_study(a)
        return
    small = a.model == "stories260K"
    a.calib_samples = a.calib_samples or (32 if small else 64)
    a.calib_seqlen = a.calib_seqlen or (256 if small else 512)
    if a.model == "smollm2":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import quality_smollm2
        quality_smollm2.main(a)
        return
    ingotc, ingot = f"{a.build}/compiler/ingotc", f"{a.build}/runtime/ingot"
    model = f"{a.shared}/models/stories260K"
    texts = {"TinyStories val": f"{a.shared}/data/tinystories/tinystories_val.txt",
             "WikiText-2 test": f"{a.shared}/data/wikitext-2-raw-v1/test.txt"}
    calib = f"{a.shared}/data/c4/c4_sample.json"

    configs = [("FP (f32)", ["--method", "none", "--dtype", "f32"])]
    for bits, group, sym in itertools.product(BITS, GROUPS, [True, False]):
        q = ["--bits", str(bits), "--group-size", str(group), "--sym" if sym else "--asym", "--dtype", "f32"]
        configs.append((f"RTN {bits}-bit g{group} {'sym' if sym else 'asym'}", ["--method", "rtn"] + q))
        for act in [False, True]:
            configs.append((f"GPTQ {bits}-bit g{group} {'sym' if sym else 'asym'}{' act-order' if act else ''}",
                            ["--method", "gptq", "--act-order" if act else "--no-act-order", "--gptq-preset",
                             "paper"] + q))

    calib_opts = lambda seed: ["--calib", calib, "--calib-samples", str(a.calib_samples),
                               "--calib-seqlen", str(a.calib_seqlen), "--seed", str(seed)]
    study = []
    if a.seed_study:
        bits, group, sym = a.seed_study.split(":")
        q = ["--bits", bits, "--group-size", group, f"--{sym}", "--dtype", "f32"]
        for seed in range(1, 6):
            for act in [False, True]:
                study.append((f"GPTQ {bits}-bit g{group} {sym}{' act-order' if act else ''} seed {seed}",
                              ["--method", "gptq", "--act-order" if act else "--no-act-order", "--gptq-preset",
                               "paper"] + calib_opts(seed) + q))
    configs = [(n, o + (calib_opts(0) if "gptq" in o else [])) for n, o in configs]

    t0 = time.time()
    done = [0]

    stamp = cache_stamp([ingotc, ingot, *texts.values(), calib], a.max_chunks)
    cached, lock = {}, threading.Lock()
    for r in cached_rows(a.cache, stamp):
        cached[(r["name"], tuple(r["opts"]))] = (r["name"], r["ts"], r["wt"])

    def evaluate(item, tmp):
        i, (name, opts) = item
        if (name, tuple(opts)) in cached:
            return cached[(name, tuple(opts))]
        out = os.path.join(tmp, f"m{i}.ingot")
        run([ingotc, "build", f"{model}/stories260K.bin", "--tokenizer", f"{model}/tok512.model", "-o", out,
             "--threads", "1"] + opts)
        ppl = []
        for path in texts.values():
            o = run([ingot, "perplexity", out, "-f", path, "--ctx", "256", "--max-chunks", str(a.max_chunks),
                     "--threads", "1"])
            ppl.append(float(re.search(r"ppl = ([0-9.]+)\s*$", o).group(1)))
        os.remove(out)
        if a.cache:
            with lock, open(a.cache, "a") as fh:
                fh.write(json.dumps({"stamp": stamp, "name": name, "opts": opts, "ts": ppl[0], "wt": ppl[1]}) + "\n")
        done[0] += 1
        print(f"[{done[0]}/{len(configs) + len(study)}] {name}: {ppl[0]:.4f} {ppl[1]:.4f} "
              f"({time.time() - t0:.0f} s)", flush=True)
        return (name, *ppl)

    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        results = list(pool.map(lambda item: evaluate(item, tmp), enumerate(configs + study)))
    rows, study_rows = results[:len(configs)], results[len(configs):]

    fp = rows[0]
    lines = ["# stories260K quality: FP vs RTN vs GPTQ", "",
             f"Generated by `python3 bench/quality.py --jobs {a.jobs} --max-chunks {a.max_chunks}` on "
             f"{datetime.date.today()} ({time.time() - t0:.0f} s).",
             f"Perplexity at ctx 256 (protocol: docs/perplexity.md), "
             f"{'all windows' if a.max_chunks == 0 else f'first {a.max_chunks} windows of 256 tokens'} of each text. "
             f"GPTQ calibration: {a.calib_samples} windows of {a.calib_seqlen} tokens from the C4 sample, seed 0, "
             "damp 0.01, true-sequential. Embeddings and classifier stay f32 (tied). GPTQ rows are the paper's "
             "algorithm (`--gptq-preset paper`); ingotc's default grid search and the other options past the "
             "paper: docs/gptq.md and bench/results/gptq-options-*.md.", "",
             "| configuration | TinyStories val | Δ vs FP | WikiText-2 test | Δ vs FP |", "|---|---:|---:|---:|---:|"]
    for name, ts, wt in rows:
        lines.append(f"| {name} | {ts:.4f} | {100 * (ts / fp[1] - 1):+.2f}% | {wt:.4f} | {100 * (wt / fp[2] - 1):+.2f}% |")
    # GPTQ (either act-order) vs RTN at the same bits/group/sym.
    by = {n: (ts, wt) for n, ts, wt in rows}
    lines += ["", "## GPTQ vs RTN (same bits, group, sym/asym; best of act-order on/off shown separately)", "",
              "| setting | RTN TS | GPTQ TS | GPTQ act TS | RTN WT | GPTQ WT | GPTQ act WT |", "|---|---:|---:|---:|---:|---:|---:|"]
    losses = []
    for bits, group, sym in itertools.product(BITS, GROUPS, [True, False]):
        s = f"{bits}-bit g{group} {'sym' if sym else 'asym'}"
        r, g, ga = by[f"RTN {s}"], by[f"GPTQ {s}"], by[f"GPTQ {s} act-order"]
        lines.append(f"| {s} | {r[0]:.4f} | {g[0]:.4f} | {ga[0]:.4f} | {r[1]:.4f} | {g[1]:.4f} | {ga[1]:.4f} |")
        for k in range(2):
            for gg, tag in ((g, ""), (ga, " act-order")):
                if bits in (3, 4) and gg[k] >= r[k]:
                    losses.append(f"{s}{tag} on {'TinyStories' if k == 0 else 'WikiText-2'}")
    lines += ["", "GPTQ not better than RTN at 3/4 bits: " + (", ".join(losses) if losses else "none") + "."]
    if study_rows:
        lines += ["", f"## Calibration-seed spread ({a.seed_study}, seeds 1..5; seed 0 is in the table above)", "",
                  "The calibration windows are a random draw; this is how much GPTQ's perplexity moves with it.", "",
                  "| configuration | TinyStories val | WikiText-2 test |", "|---|---:|---:|"]
        for name, ts, wt in study_rows:
            lines.append(f"| {name} | {ts:.4f} | {wt:.4f} |")
        bits, group, sym = a.seed_study.split(":")
        r = by.get(f"RTN {bits}-bit g{group} {sym}")
        if r:
            lines.append(f"| RTN {bits}-bit g{group} {sym} (no calibration) | {r[0]:.4f} | {r[1]:.4f} |")
    # The SmolLM2 section (bench/quality_smollm2.py) is kept as it is.
    old = open(a.out).read() if os.path.exists(a.out) else ""
    keep = ""
    if "<!-- smollm2:begin -->" in old:
        keep = "\n" + old[old.index("<!-- smollm2:begin -->"):]
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n" + keep)
    print(f"wrote {a.out}")


# The options past the paper, each on top of the paper's algorithm with act-order and symmetric
# grids; "paper" is --gptq-preset paper; the options that are not grids run on the paper's min/max
# grids (ingotc's default grid is hessian since issue 19's study).
STUDY_SETTINGS = [(4, 128), (4, 32), (3, 128), (3, -1)]
STUDY_OPTIONS = [
    ("paper", ["--gptq-preset", "paper"]),
    ("grid mse", ["--gptq-grid", "mse"]),
    ("grid hessian", ["--gptq-grid", "hessian"]),
    ("damp choices", ["--gptq-grid", "minmax", "--damp-choices", "0.001,0.003,0.01,0.03,0.1"]),
    ("static groups", ["--gptq-grid", "minmax", "--static-groups"]),
    ("gptaq", ["--gptq-grid", "minmax", "--gptaq"]),
    ("foem", ["--gptq-grid", "minmax", "--foem"]),
]


def options_study(a):
    """Perplexity of each option over calibration seeds, and the share of the RTN -> FP gap it closes."""
    import statistics
    ingotc, ingot = f"{a.build}/compiler/ingotc", f"{a.build}/runtime/ingot"
    model = f"{a.shared}/models/stories260K"
    texts = {"TinyStories val": f"{a.shared}/data/tinystories/tinystories_val.txt",
             "WikiText-2 test": f"{a.shared}/data/wikitext-2-raw-v1/test.txt"}
    calib = f"{a.shared}/data/c4/c4_sample.json"
    seeds = [int(x) for x in (a.study_seeds or "0,1,2").split(",")]
    options = [o for o in STUDY_OPTIONS if o[0] == "paper" or not a.study_only or re.search(a.study_only, o[0])]
    jobs = [("FP", None, None, ["--method", "none", "--dtype", "f32"])]
    for bits, group in STUDY_SETTINGS:
        q = ["--bits", str(bits), "--group-size", str(group), "--dtype", "f32"]
        jobs.append((f"RTN {bits}-bit g{group}", None, None, ["--method", "rtn"] + q))
        for name, opts in options:
            for seed in seeds:
                jobs.append((f"{name} {bits}-bit g{group}", name, seed,
                             ["--method", "gptq"] + q + opts +
                             ["--calib", calib, "--calib-samples", str(a.calib_samples),
                              "--calib-seqlen", str(a.calib_seqlen), "--seed", str(seed)]))
    stamp = cache_stamp([ingotc, ingot, *texts.values(), calib], a.max_chunks)
    cached, lock = {}, threading.Lock()
    for r in cached_rows(a.cache, stamp):
        cached[tuple(r["opts"])] = r
    t0, done = time.time(), [0]

    def evaluate(item, tmp):
        i, (label, option, seed, opts) = item
        if tuple(opts) in cached:
            return cached[tuple(opts)]
        out = os.path.join(tmp, f"m{i}.ingot")
        b0 = time.time()
        run([ingotc, "build", f"{model}/stories260K.bin", "--tokenizer", f"{model}/tok512.model", "-o", out,
             "--threads", "1"] + opts)
        build_s = time.time() - b0
        ppl = []
        for path in texts.values():
            o = run([ingot, "perplexity", out, "-f", path, "--ctx", "256", "--max-chunks", str(a.max_chunks),
                     "--threads", "1"])
            ppl.append(float(re.search(r"ppl = ([0-9.]+)\s*$", o).group(1)))
        os.remove(out)
        r = {"stamp": stamp, "label": label, "option": option, "seed": seed, "opts": opts, "ts": ppl[0],
             "wt": ppl[1], "build_s": round(build_s, 2)}
        if a.cache:
            with lock, open(a.cache, "a") as fh:
                fh.write(json.dumps(r) + "\n")
        done[0] += 1
        print(f"[{done[0]}/{len(jobs)}] {label} seed {seed}: {ppl[0]:.4f} {ppl[1]:.4f} ({time.time() - t0:.0f} s)",
              flush=True)
        return r

    if a.table_only:  # from the cache alone: what is missing is left out of the table (and counted)
        results = [cached[tuple(j[3])] for j in jobs if tuple(j[3]) in cached]
        missing = len(jobs) - len(results)
    else:
        with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
            results = list(pool.map(lambda item: evaluate(item, tmp), enumerate(jobs)))
        missing = 0
    by = {}
    for r in results:
        by.setdefault(r["label"], []).append(r)
    if "FP" not in by:
        print("options study: no FP row (nothing cached for these binaries); table not written")
        return
    fp = by["FP"][0]

    def ms(v):  # mean ± sample standard deviation
        return (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0)

    lines = ["| setting | option | TS ppl mean ± sd | TS gap closed | Δ vs paper (pp) | "
             "WT ppl mean ± sd | WT gap closed | Δ vs paper (pp) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for bits, group in STUDY_SETTINGS:
        if f"RTN {bits}-bit g{group}" not in by:
            continue
        rtn = by[f"RTN {bits}-bit g{group}"][0]
        lines.append(f"| {bits}-bit g{group} | RTN | {rtn['ts']:.4f} | 0% | | {rtn['wt']:.4f} | 0% | |")
        paper = {r["seed"]: r for r in by.get(f"paper {bits}-bit g{group}", [])}
        for name, _ in options:
            rows = [r for r in by.get(f"{name} {bits}-bit g{group}", []) if r["seed"] in paper]
            if not rows:
                continue
            cells = []
            for k in ("ts", "wt"):
                gap = rtn[k] - fp[k]
                share = [100 * (rtn[k] - r[k]) / gap for r in rows]
                delta = [100 * (paper[r["seed"]][k] - r[k]) / gap for r in rows]
                m, sd = ms([r[k] for r in rows])
                sm, ssd = ms(share)
                dm, dsd = ms(delta)
                cells += [f"{m:.4f} ± {sd:.4f}", f"{sm:.1f} ± {ssd:.1f}%",
                          "" if name == "paper" else f"{dm:+.1f} ± {dsd:.1f}"]
            seeds_note = "" if len(rows) == len(seeds) else f" (seeds {','.join(str(r['seed']) for r in rows)} only)"
            lines.append(f"| {bits}-bit g{group} | {name}{seeds_note} | " + " | ".join(cells) + " |")
    head = [f"stories260K, `python3 bench/quality.py --options-study --jobs {a.jobs} --study-seeds {','.join(map(str, seeds))}` "
            f"on {datetime.date.today()} ({'table from the cache' if a.table_only else f'{time.time() - t0:.0f} s'}); FP (f32): TinyStories val {fp['ts']:.4f}, "
            f"WikiText-2 test {fp['wt']:.4f}; "
            f"{'all windows' if a.max_chunks == 0 else f'first {a.max_chunks} windows'} at ctx 256; "
            f"calibration {a.calib_samples} x {a.calib_seqlen} tokens of the C4 sample; act-order, sym. "
            "Gap closed: (RTN − option) / (RTN − FP) per seed; Δ vs paper: the same seed's difference "
            "from --gptq-preset paper, in percentage points of the gap; ± is the sample sd over seeds."
            + (f" PARTIAL: {missing} of {len(jobs)} runs had not finished." if missing else ""), ""]
    out = a.out if a.out != "bench/quality.md" else f"bench/results/gptq-options-stories260K-{datetime.date.today()}.md"
    with open(out, "w") as f:
        f.write("\n".join(head + lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
