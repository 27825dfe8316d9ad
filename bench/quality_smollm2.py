#!/usr/bin/env python3
"""Quality table on a real model: SmolLM2-135M-Instruct (the shared Q4_1 GGUF, dequantized to f32
at import) for FP, RTN and GPTQ, scored as the GPTQ paper scores (ctx 2048). Run through
`python3 bench/quality.py --model smollm2 [...]`, which calls main() here; the table goes into
bench/quality.md between the markers below (the stories260K part of the file is left as it is).

Protocol (the issue's anchor; docs/perplexity.md, protocol gptq):
- WikiText-2 test as the GPTQ/AutoGPTQ string: the Hugging Face rows joined with "\\n\\n" (rebuilt
  exactly from shared/data's copy, which joined them with "\\n"; shared/data/README.md), tokenized
  whole; SmolLM2 adds no BOS. First 24 windows of 2048 tokens (--wt-chunks).
- C4: the last 50 documents of shared/data/c4/c4_sample.json joined with " " (as get_c4 joins its
  validation documents), every whole window of 2048.
- GPTQ calibration: 64 windows of 512 tokens (32,768 tokens) drawn with seed 3 from the first 150
  documents of the same file (never the evaluation documents). damp 0.01, true-sequential,
  block 128. Embeddings and classifier stay f32 (tied). --calib-draw stream (default: the 150
  documents joined into one token stream) or documents (each window inside one document longer
  than 512 tokens, as the reference's get_c4); --calib-samples/--calib-seqlen/--seed/--damp vary
  the calibration for the study in docs/gptq.md (--study writes its table from the cache).

Cache: rows are reused when the binaries, texts and options are the same (the stamp); rows of an
earlier build are reused only when --also-stamps names its stamp, and the table marks them.
"""
import concurrent.futures
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

BEGIN, END = "<!-- smollm2:begin -->", "<!-- smollm2:end -->"

# The anchor: the paper's code (IST-DASLab gptq.py/quant.py) on this model through
# transformers, fp32, WikiText-2 first 24 windows of 2048, 64 x 512 calibration (seed 3), sym g128.
ANCHOR = {"FP (f32)": 21.30, "RTN 3-bit g128 sym": 247.9, "GPTQ 3-bit g128 sym": 104.9,
          "GPTQ 3-bit g128 sym act-order": 84.2, "RTN 4-bit g128 sym": 32.44, "GPTQ 4-bit g128 sym": 32.98,
          "GPTQ 4-bit g128 sym act-order": 29.80}

# (bits, group, sym): the settings. The anchor's two come first so they finish first.
SETTINGS = [(4, 128, True), (3, 128, True), (8, 128, True), (4, 128, False), (4, 32, False), (8, 128, False)]


class Failed(Exception):
    pass


def run(cmd):
    """(stdout, stderr) of a command that must succeed."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise Failed(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return p.stdout, p.stderr


def wikitext_gptq_string(path):
    """shared/data's file is "\\n".join(rows), text rows ending in "\\n": rebuild the rows, join with "\\n\\n"."""
    raw = open(path, encoding="utf-8").read()
    rows, i = [], 0
    while True:
        j = raw.find("\n", i)
        if j < 0:
            rows.append(raw[i:])
            break
        if j == i:
            rows.append("")
            i = j + 1
        else:
            rows.append(raw[i:j + 1])
            i = j + 2
    if len(rows) != 4358 or sum(1 for r in rows if r) != 2891:
        sys.exit(f"{path}: expected 4358 rows (2891 with text), rebuilt {len(rows)}")
    return "\n\n".join(rows)


def configs():
    out = [("FP (f32)", ["--method", "none", "--dtype", "f32"])]
    for bits, group, sym in SETTINGS:
        s = f"{bits}-bit g{group} {'sym' if sym else 'asym'}"
        q = ["--bits", str(bits), "--group-size", str(group), "--sym" if sym else "--asym", "--dtype", "f32"]
        out.append((f"RTN {s}", ["--method", "rtn"] + q))
        for act in (False, True):
            out.append((f"GPTQ {s}{' act-order' if act else ''}",
                        ["--method", "gptq", "--act-order" if act else "--no-act-order", "--gptq-preset", "paper"] + q))
    return out


# Issue 19's options on this model (docs/gptq.md), with act-order and symmetric grids; "paper" is
# --gptq-preset paper, "gptaq" GPTAQ on the paper's min/max grids (ingotc's default grid is hessian
# since this study). The settings the goal names (4-bit g128, 3-bit g128) come first, so an
# interrupted run has those.
STUDY_SETTINGS = [(4, 128), (3, 128), (4, 32), (3, -1)]
STUDY_OPTIONS = [
    ("paper", ["--gptq-preset", "paper"]),
    ("grid hessian", ["--gptq-grid", "hessian"]),
    ("grid hessian + gptaq", ["--gptq-grid", "hessian", "--gptaq"]),
    ("gptaq", ["--gptq-grid", "minmax", "--gptaq"]),
    ("grid mse", ["--gptq-grid", "mse"]),
    ("foem", ["--gptq-grid", "minmax", "--foem"]),
    ("grid hessian + foem", ["--gptq-grid", "hessian", "--foem"]),
    ("grid hessian, no true-sequential", ["--gptq-grid", "hessian", "--no-true-sequential"]),
]


def options_configs(a, calib_opts):
    """(name, opts) of the options study in the order they run: FP, RTN of each setting, then per
    setting the paper and each option over the seeds, paper and grid hessian first."""
    seeds = [int(x) for x in (a.study_seeds or "3,4,5").split(",")]
    out = [("FP (f32)", ["--method", "none", "--dtype", "f32"])]
    q = lambda bits, group: ["--bits", str(bits), "--group-size", str(group), "--sym", "--dtype", "f32"]
    for bits, group in STUDY_SETTINGS:  # the same rows (names and options) as configs()
        out.append((f"RTN {bits}-bit g{group} sym", ["--method", "rtn"] + q(bits, group)))
    options = [o for o in STUDY_OPTIONS if o[0] == "paper" or not a.study_only or re.search(a.study_only, o[0])]
    first = ("paper", "grid hessian")
    for batch in ([o for o in options if o[0] in first], [o for o in options if o[0] not in first]):
        for bits, group in STUDY_SETTINGS:
            for name, flags in batch:
                for seed in seeds:
                    out.append((f"{name} {bits}-bit g{group}",
                                ["--method", "gptq", "--act-order"] + q(bits, group) + flags + calib_opts(seed)))
    return out


def write_options_table(a, todo, results, texts, stamp, seconds):
    """Mean ± sd over seeds of each option's perplexity, the share of the RTN -> FP gap it closes,
    and its difference from the paper preset on the same seed (percentage points of the gap)."""
    import statistics
    seed_of = lambda opts: int(opts[opts.index("--seed") + 1]) if "--seed" in opts else None
    rows = {}  # name -> {seed: res}
    for (name, opts), (_, res) in zip(todo, results):
        if res:
            rows.setdefault(name, {})[seed_of(opts)] = res
    fp = rows.get("FP (f32)", {}).get(None, {})
    ms = lambda v: (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0)
    lines = ["| setting | option | " + " | ".join(f"{t[0]} mean ± sd | gap closed | Δ vs paper (pp)" for t in texts)
             + " | compile (s) |", "|---|---|" + "---:|---:|---:|" * len(texts) + "---:|"]
    seeds_all = sorted({seed_of(o) for _, o in todo if seed_of(o) is not None})
    missing = sum(1 for (_, o), (_, r) in zip(todo, results) if len(r) < len(texts))
    for bits, group in STUDY_SETTINGS:
        rtn = rows.get(f"RTN {bits}-bit g{group} sym", {}).get(None)
        if not rtn:
            continue
        cells = []
        for t in texts:
            cells += [f"{rtn[t[0]]['ppl']:.3f}" if t[0] in rtn else "", "0%", ""]
        lines.append(f"| {bits}-bit g{group} | RTN | " + " | ".join(cells) + " | |")
        paper = rows.get(f"paper {bits}-bit g{group}", {})
        for name, _ in STUDY_OPTIONS:
            got = rows.get(f"{name} {bits}-bit g{group}", {})
            if not got:
                continue
            cells = []
            for t in texts:
                k = t[0]
                have = {s: r[k]["ppl"] for s, r in got.items() if k in r}
                if not have or k not in rtn or k not in fp:
                    cells += ["", "", ""]
                    continue
                gap = rtn[k]["ppl"] - fp[k]["ppl"]
                m, sd = ms(list(have.values()))
                sm, ssd = ms([100 * (rtn[k]["ppl"] - v) / gap for v in have.values()])
                paired = [100 * (paper[s][k]["ppl"] - v) / gap for s, v in have.items() if s in paper and k in paper[s]]
                dm, dsd = ms(paired) if paired else (None, None)
                cells += [f"{m:.3f} ± {sd:.3f}", f"{sm:.1f} ± {ssd:.1f}%",
                          "" if name == "paper" or dm is None else f"{dm:+.1f} ± {dsd:.1f}"]
            build = [r[next(iter(r))]["build_s"] for r in got.values() if r]
            seeds_note = "" if sorted(got) == seeds_all else f" (seeds {','.join(str(s) for s in sorted(got))})"
            lines.append(f"| {bits}-bit g{group} | {name}{seeds_note} | " + " | ".join(cells)
                         + f" | {statistics.mean(build):.0f} |")
    head = [f"SmolLM2-135M-Instruct, `python3 bench/quality.py --model smollm2 --options-study --jobs {a.jobs} "
            f"--threads {a.threads} --study-seeds {','.join(map(str, seeds_all))}` on {datetime.date.today()} "
            f"({seconds:.0f} s this run; cache stamp {stamp}). Protocol of bench/quality_smollm2.py (ctx 2048, "
            f"WikiText-2 first {a.wt_chunks} windows, C4 the last 50 sample documents); calibration "
            f"{a.calib_samples} × {a.calib_seqlen} tokens from the first 150 C4-sample documents, per seed; "
            "act-order, sym. FP (f32): " + ", ".join(f"{t[0]} {fp[t[0]]['ppl']:.3f}" for t in texts if t[0] in fp)
            + ". Gap closed: (RTN − option) / (RTN − FP) per seed; Δ vs paper: the same seed's difference from "
            "--gptq-preset paper in percentage points of the gap; ± is the sample sd over seeds; compile: mean "
            f"ingotc build seconds at {a.threads} thread(s)."
            + (f" PARTIAL: {missing} of {len(todo)} runs have not finished." if missing else ""), ""]
    earlier = sorted({r["stamp"] for _, res in results for r in res.values() if r["stamp"] != stamp})
    if earlier:
        names = sorted({n for (n, _), (_, res) in zip(todo, results) for r in res.values() if r["stamp"] != stamp})
        lines += ["", f"Rows from an earlier build of the same sources (cache stamp {', '.join(earlier)}, accepted "
                  f"with --also-stamps): {', '.join(names)}."]
    out = a.out if a.out != "bench/quality.md" else f"bench/results/gptq-options-smollm2-{datetime.date.today()}.md"
    open(out, "w").write("\n".join(head + lines) + "\n")
    print(f"wrote {out}")


def main(a):
    ingotc, ingot = f"{a.build}/compiler/ingotc", f"{a.build}/runtime/ingot"
    gguf = f"{a.shared}/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
    c4 = f"{a.shared}/data/c4/c4_sample.json"
    for f in (gguf, c4, f"{a.shared}/data/wikitext-2-raw-v1/test.txt"):
        if not os.path.exists(f):
            sys.exit(f"missing {f}")
    docs = [json.loads(line)["text"] for line in open(c4, encoding="utf-8")]
    if len(docs) != 200:
        sys.exit(f"{c4}: expected 200 documents, found {len(docs)}")
    work = tempfile.mkdtemp(prefix="ingot-quality-")
    wt, c4e, calib = (os.path.join(work, n) for n in ("wikitext2_test_gptq.txt", "c4_last50.txt", "c4_first150.jsonl"))
    open(wt, "w", encoding="utf-8").write(wikitext_gptq_string(f"{a.shared}/data/wikitext-2-raw-v1/test.txt"))
    open(c4e, "w", encoding="utf-8").write(" ".join(docs[150:]))
    with open(calib, "w", encoding="utf-8") as fh:
        for d in docs[:150]:
            fh.write(json.dumps({"text": d}) + "\n")
    texts = [("WikiText-2 test", wt, a.wt_chunks), ("C4 last 50", c4e, 0)]
    if a.texts:
        texts = [t for t in texts if re.search(a.texts, t[0])]
    def calib_opts(seed):
        o = ["--calib", calib, "--calib-samples", str(a.calib_samples), "--calib-seqlen", str(a.calib_seqlen),
             "--seed", str(seed)]
        # Given only when not the default, so that rows cached before these options keep their keys.
        if a.calib_draw != "stream":
            o += ["--calib-draw", a.calib_draw]
        if a.damp is not None:
            o += ["--damp", str(a.damp)]
        return o
    if a.options_study:
        todo = [(n, o) for n, o in options_configs(a, calib_opts) if re.search(a.only or ".", n)]
    else:
        todo = [(n, o + (calib_opts(a.seed) if "gptq" in o else [])) for n, o in configs()
                if re.search(a.only or ".", n)]

    stamp = hashlib.sha256()
    for f in [ingotc, ingot, gguf, wt, c4e, calib]:
        with open(f, "rb") as fh:
            stamp.update(hashlib.sha256(fh.read()).digest())
    stamp = stamp.hexdigest()[:16]
    # Options as cached: the calibration file lives in a fresh temporary folder each run. The paper's
    # algorithm was ingotc's default before the hessian grid: rows of such builds (--also-stamps) have
    # no flag where the scripts now say --gptq-preset paper or --gptq-grid minmax, so both are left
    # out of the key.
    def key_opts(opts):
        out, skip = [], {("--gptq-preset", "paper"), ("--gptq-grid", "minmax")}
        i = 0
        while i < len(opts):
            if tuple(opts[i:i + 2]) in skip:
                i += 2
                continue
            out.append("<calib>" if opts[i].endswith("c4_first150.jsonl") else opts[i])
            i += 1
        return tuple(out)
    # Rows of this stamp, and of the earlier stamps --also-stamps accepts (an earlier build of the
    # same sources: the table marks those rows with their stamp).
    stamps = [stamp] + [x for x in a.also_stamps.split(",") if x]
    cache = {}
    if a.cache and os.path.exists(a.cache):
        for line in open(a.cache):
            r = json.loads(line)
            if r.get("stamp") in stamps:
                k = (r["name"], r["text"], key_opts(r["opts"]), r["chunks"])
                if k not in cache or r["stamp"] == stamp:
                    cache[k] = r
    if a.study:
        write_study(a, [r for r in cache.values() if re.search(a.only or ".", r["name"])], texts, stamp)
        return
    lock, t0 = threading.Lock(), time.time()

    def evaluate(i, name, opts):
        res = {}
        missing = [t for t in texts if (name, t[0], key_opts(opts), t[2]) not in cache]
        if a.table_only:  # write the table from the cache; compute nothing
            missing = []
        for t in texts:
            if (name, t[0], key_opts(opts), t[2]) in cache:
                res[t[0]] = cache[(name, t[0], key_opts(opts), t[2])]
        if missing:
            out = os.path.join(work, f"m{i}.ingot")
            tb = time.time()
            report = []
            if a.report_dir and "gptq" in opts:
                os.makedirs(a.report_dir, exist_ok=True)
                slug = hashlib.sha256(json.dumps([name, list(key_opts(opts)), stamp]).encode()).hexdigest()[:12]
                report = ["--report", os.path.join(a.report_dir, f"{re.sub(r'[^A-Za-z0-9]+', '-', name)}-{slug}.json")]
            _, log = run(["/usr/bin/time", "-f", "peak_rss_kb=%M", ingotc, "build", gguf, "-o", out,
                       "--threads", str(a.threads)] + opts + report)
            build_s = time.time() - tb
            rss = int(re.search(r"peak_rss_kb=(\d+)", log).group(1))
            note = re.search(r"note: calibration: (.*)", log)
            for label, path, chunks in missing:
                te = time.time()
                o, _ = run([ingot, "perplexity", out, "-f", path, "--ctx", "2048", "--max-chunks", str(chunks),
                         "--threads", str(a.threads), "--json"])
                js = json.loads(o[o.index("{"):o.rindex("}") + 1])
                r = {"stamp": stamp, "name": name, "text": label, "opts": opts, "chunks": chunks,
                     "ppl": float(re.search(r"ppl = ([0-9.]+)\s*$", o).group(1)), "windows": js.get("chunks"),
                     "scored": js.get("scored_tokens", js.get("scored")), "build_s": round(build_s, 1),
                     "build_peak_rss_kb": rss, "eval_s": round(time.time() - te, 1)}
                if note:
                    r["calib_note"] = note.group(1)
                if report:
                    r["report"] = os.path.basename(report[1])
                res[label] = r
                if a.cache:
                    with lock, open(a.cache, "a") as fh:
                        fh.write(json.dumps(r) + "\n")
                print(f"{name} / {label}: ppl {r['ppl']:.4f} (build {build_s:.0f} s, eval {r['eval_s']:.0f} s, "
                      f"{time.time() - t0:.0f} s in all)", flush=True)
            if a.keep_dir and "gptq" in opts:  # for the weight study (bench/smollm2_weight_study.py --containers)
                os.makedirs(a.keep_dir, exist_ok=True)
                slug = hashlib.sha256(json.dumps([name, list(key_opts(opts)), stamp]).encode()).hexdigest()[:12]
                os.replace(out, os.path.join(a.keep_dir, f"{re.sub(r'[^A-Za-z0-9]+', '-', name)}-{slug}.ingot"))
            else:
                os.remove(out)
        return name, res

    def guarded(i, name, opts):
        try:
            return evaluate(i, name, opts)
        except Failed as e:  # one configuration failing leaves the others (and the cache) standing
            print(f"{name}: {e}", flush=True)
            return name, {}

    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        results = list(pool.map(lambda x: guarded(x[0], *x[1]), enumerate(todo)))
    if a.options_study:
        write_options_table(a, todo, results, texts, stamp, time.time() - t0)
    else:
        write_table(a, results, texts, stamp)


def calib_words(a):
    draw = {"stream": "the documents joined into one token stream (`--calib-draw stream`)",
            "documents": "each window inside one document longer than the window, as the reference's get_c4 "
                         "(`--calib-draw documents`)"}[a.calib_draw]
    return (f"{a.calib_samples} × {a.calib_seqlen} = {a.calib_samples * a.calib_seqlen:,} tokens, seed {a.seed}, "
            f"damp {a.damp if a.damp is not None else 0.01}, {draw}")


def write_table(a, results, texts, stamp):
    by = dict(results)
    fp = by.get("FP (f32)", {})
    lines = [BEGIN, "", "# SmolLM2-135M-Instruct quality: FP vs RTN vs GPTQ (a real model)", "",
             f"Generated by `python3 bench/quality.py --model smollm2 --jobs {a.jobs} --threads {a.threads}` on "
             f"{datetime.date.today()}; protocol in bench/quality_smollm2.py's docstring (GPTQ paper's: ctx 2048, "
             f"WikiText-2 first {a.wt_chunks} windows, C4 the last 50 sample documents; GPTQ calibration "
             f"{calib_words(a)}, from the first 150 C4-sample documents). Source: the shared Q4_1 GGUF, "
             "dequantized exactly to f32 (FP is that f32 model). Anchor: the paper's own code on the same "
             "model and settings (the issue's figures; sym g128 only). Its FP and RTN figures are not what "
             "this model gives: a float64 forward written in bench/smollm2_fp_reference.py, transformers in "
             "float32 on the same GGUF, and the paper's quant.py RTN in float64 all give ours (21.156, "
             "RTN 3-bit 230.78; docs/gptq.md). GPTQ rows are the paper's algorithm "
             "(`--gptq-preset paper`); ingotc's default grid search and the other options past the paper: "
             "docs/gptq.md and bench/results/gptq-options-*.md.", "",
             "| configuration | " + " | ".join(f"{t[0]} | Δ vs FP" for t in texts) + " | anchor (WT) |",
             "|---|" + "---:|---:|" * len(texts) + "---:|"]
    earlier = set()
    for name, res in results:
        cells = []
        for t in texts:
            r = res.get(t[0])
            f = fp.get(t[0])
            mark = ""
            if r and r["stamp"] != stamp:
                earlier.add(r["stamp"])
                mark = " ¹"
            cells += [f"{r['ppl']:.4f}{mark}" if r else "", f"{100 * (r['ppl'] / f['ppl'] - 1):+.2f}%" if r and f else ""]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ANCHOR.get(name, '')} |")
    if any(res and "GPTQ" in n for n, res in results):
        made = "" if a.table_only else f": {a.threads} in this run"
        lines += ["", "Compile (ingotc build from the GGUF; seconds at the thread count of the run that made the "
                  f"row{made}, as bench/results' logs say): "
                  + "; ".join(f"{n}: {res[next(iter(res))]['build_s']:.0f} s, peak RSS "
                              f"{res[next(iter(res))]['build_peak_rss_kb'] / 1024:.0f} MiB"
                              for n, res in results if res and "GPTQ" in n) + "."]
    if earlier:
        lines += ["", f"¹ From an earlier build (cache stamp {', '.join(sorted(earlier))}, accepted with "
                  f"--also-stamps; this build's stamp is {stamp}), not rerun: these rows' options write the same "
                  "bytes in both (the GPTQ rows are `--gptq-preset paper`, whose bytes gptq_options_cli_test pins "
                  "to those of the builds before the default grid changed; the default draw writes the bytes of "
                  "the ingotc before --calib-draw), and rows rerun across builds reproduced exactly (docs/gptq.md)."]
    lines += ["", END]
    block = "\n".join(lines) + "\n"
    old = open(a.out).read() if os.path.exists(a.out) else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END) + 1:]
    else:
        new = old.rstrip("\n") + "\n\n" + block
    open(a.out, "w").write(new)
    print(f"wrote {a.out}")


def write_study(a, rows, texts, stamp):
    """The calibration study (docs/gptq.md): every cached row of the selected configurations, one
    line per (configuration, draw, seed, damp, calibration size), perplexity per text."""
    def opt(r, flag, default):
        o = r["opts"]
        return o[o.index(flag) + 1] if flag in o else default
    groups = {}
    for r in rows:
        if "--calib" not in r["opts"]:
            key = (r["name"], "", "", "", "")
        else:
            key = (r["name"], opt(r, "--calib-draw", "stream"), opt(r, "--seed", "0"), opt(r, "--damp", "0.01"),
                   f"{opt(r, '--calib-samples', '128')} × {opt(r, '--calib-seqlen', '2048')}")
        groups.setdefault(key, {})[r["text"]] = r
    lines = ["| configuration | draw | seed | damp | calibration | " + " | ".join(t[0] for t in texts) + " |",
             "|---|---|---:|---:|---|" + "---:|" * len(texts)]
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[4], k[3], int(k[2] or 0))):
        cells = [f"{groups[key][t[0]]['ppl']:.3f}" if t[0] in groups[key] else "" for t in texts]
        lines.append("| " + " | ".join(key) + " | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    open(a.study, "w").write(text)
    print(text, end="")
