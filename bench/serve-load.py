#!/usr/bin/env python3
"""Serving load: N concurrent streaming clients against `ingot serve` and llama.cpp's
`llama-server -np N` on the same model, in the same run, one server at a time.

Each client sends one /v1/completions request (stream, greedy, ignore_eos, max_tokens tokens) at
the same moment; per request: time to first token (TTFT, from sending to the first text chunk)
and time per output token (TPOT, (last chunk - first chunk) / (tokens - 1)). Per N: aggregate
tokens/s (all completion tokens / wall time from the first send to the last finish) and the p50 /
p99 of TTFT and TPOT over the requests of `--rounds` rounds.

  python3 bench/serve-load.py --ingot build/runtime/ingot --ingot-model smol.ingot \\
      --llama-server ~/.cache/ingot/llama.cpp/build/bin/llama-server --gguf SmolLM2-135M-Instruct.Q4_1.gguf \\
      --clients 1,4,16 --tokens 128 --threads 2

Uses only the standard library (http.client), so both servers face the same client.
"""
import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ready(port, proc, timeout=300):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/health")
            r = c.getresponse()
            r.read()
            if r.status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server not ready")


def one_request(port, prompt, tokens, out):
    body = json.dumps({"prompt": prompt, "max_tokens": tokens, "temperature": 0, "stream": True,
                       "ignore_eos": True, "stream_options": {"include_usage": True}})
    t_send = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        out.append({"error": f"status {r.status}: {r.read()[:200]!r}"})
        return
    t_first = t_last = None
    n_chunks = 0
    usage = None
    buf = b""
    while True:
        line = r.fp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        data = line[6:]
        if data == b"[DONE]":
            break
        j = json.loads(data)
        if j.get("usage"):
            usage = j["usage"]
        for ch in j.get("choices", []):
            if ch.get("text"):
                now = time.perf_counter()
                if t_first is None:
                    t_first = now
                t_last = now
                n_chunks += 1
    c.close()
    n = usage["completion_tokens"] if usage else n_chunks
    out.append({"ttft": t_first - t_send, "tpot": (t_last - t_first) / max(n - 1, 1), "tokens": n,
                "t_send": t_send, "t_end": t_last})


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def load(port, n_clients, tokens, rounds):
    results = []
    walls = []
    total_tokens = 0
    for rnd in range(rounds):
        out = []
        ts = [threading.Thread(target=one_request, args=(port, f"Once upon a time, in a town number {i}", tokens, out))
              for i in range(n_clients)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.perf_counter() - t0
        errors = [o["error"] for o in out if "error" in o]
        if errors:
            raise RuntimeError(errors[0])
        walls.append(wall)
        total_tokens += sum(o["tokens"] for o in out)
        results += out
    return {"tok_s": total_tokens / sum(walls), "ttft_p50": pct([r["ttft"] for r in results], 50),
            "ttft_p99": pct([r["ttft"] for r in results], 99), "tpot_p50": pct([r["tpot"] for r in results], 50),
            "tpot_p99": pct([r["tpot"] for r in results], 99), "tokens": total_tokens, "wall": sum(walls)}


def start(cmd, port, log):
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    wait_ready(port, proc)
    return proc


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ingot", required=True)
    p.add_argument("--ingot-model", required=True)
    p.add_argument("--llama-server", default="")
    p.add_argument("--gguf", default="")
    p.add_argument("--clients", default="1,4,16")
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--ctx", type=int, default=512, help="context per slot")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--log", default="/tmp/serve-load-servers.log")
    a = p.parse_args()
    clients = [int(x) for x in a.clients.split(",")]
    print(f"# serve-load: tokens {a.tokens}, ctx/slot {a.ctx}, threads {a.threads}, rounds {a.rounds}; "
          f"load before: {open('/proc/loadavg').read().split()[:3]}", flush=True)
    print(f"# ingot model {a.ingot_model}; llama-server model {a.gguf or '-'}", flush=True)
    print(f"{'server':<13} {'N':>3} {'tok/s':>8} {'TTFT p50':>9} {'TTFT p99':>9} {'TPOT p50':>9} {'TPOT p99':>9}"
          f" (seconds)", flush=True)
    rows = []
    with open(a.log, "w") as log:
        for n in clients:
            servers = [("ingot", lambda port: [a.ingot, "serve", a.ingot_model, "--port", str(port), "--parallel", str(n),
                                               "--ctx", str(a.ctx), "--threads", str(a.threads)])]
            if a.llama_server and a.gguf:
                servers.append(("llama-server", lambda port: [a.llama_server, "-m", a.gguf, "--host", "127.0.0.1",
                                                              "--port", str(port), "-np", str(n), "-c", str(a.ctx * n),
                                                              "-t", str(a.threads), "--no-webui", "-cb"]))
            for name, cmd in servers:
                port = free_port()
                proc = start(cmd(port), port, log)
                try:
                    load(port, 1, 8, 1)  # warm-up
                    r = load(port, n, a.tokens, a.rounds)
                finally:
                    stop(proc)
                rows.append((name, n, r))
                print(f"{name:<13} {n:>3} {r['tok_s']:>8.1f} {r['ttft_p50']:>9.3f} {r['ttft_p99']:>9.3f} "
                      f"{r['tpot_p50']:>9.4f} {r['tpot_p99']:>9.4f}", flush=True)
    print("# ratios ingot / llama-server (tok/s; TPOT p99: lower is better)")
    for n in clients:
        ing = [r for name, m, r in rows if name == "ingot" and m == n]
        ll = [r for name, m, r in rows if name == "llama-server" and m == n]
        if ing and ll:
            print(f"N={n}: tok/s {ing[0]['tok_s'] / ll[0]['tok_s']:.2f}x, TPOT p99 {ing[0]['tpot_p99'] / ll[0]['tpot_p99']:.2f}x")
    print(f"# load after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    sys.exit(main())
