#!/usr/bin/env python3
"""Weight-space facts behind the SmolLM2 quality table (docs/gptq.md, SmolLM2 section), from the
shared Q4_1 GGUF alone (no calibration, no perplexity): run with the oracle venv's python
(tests/oracle/oracle_venv.sh prints it; gguf + numpy from PyPI):

    $(tests/oracle/oracle_venv.sh) bench/smollm2_weight_study.py [--shared ../shared]

1. The Q4_1 origin: every linear weight is Q4_1, blocks of 32 along the input, w = d·q + m with
   q in 0..15 and f16 d, m (gguf-py dequantizes them; d and m are read from the blocks here).
   Round-to-nearest at 4-bit g32 asym with the GPTQ reference's quantizer (quant.py find_params:
   range [min(w, 0), max(w, 0)], scale = range / 15, integer zero round(-xmin / scale)) has the same
   groups; it reproduces a block exactly only where its grid is Q4_1's: 0 inside [m, m + 15d]
   (else the range widens to include 0) and m / d an integer.
2. The short last group of 576-wide inputs: 576 = 4.5 × 128, so every g128 linear on the hidden
   size (q, k, v, o, gate, up) has four groups of 128 columns and one of 64. RTN 4-bit g128 sym
   relative error ‖w − q‖² / ‖w‖² per group position.
3. With --export DIR (an `ingotc export --format gptq` of a g128 container, several allowed): the
   mean per-group scale of its quantized weights over the RTN scale of the same group from the
   source weights (quant.py find_params, here), per group position; natural-order GPTQ's error
   feedback can widen the later groups' ranges (docs/gptq.md, "Where GPTQ loses to RTN").
The quantizer here is written from quant.py's semantics in float64 numpy, independently of ingotc.
"""
import json
import os
import argparse
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def rtn(w, bits, group, sym):
    """(rows, cols) float64 -> dequantized RTN, quant.py find_params/quantize per group."""
    maxq = 2 ** bits - 1
    out = np.empty_like(w)
    for c0 in range(0, w.shape[1], group):
        x = w[:, c0:c0 + group]
        xmin = np.minimum(x.min(1), 0.0)
        xmax = np.maximum(x.max(1), 0.0)
        if sym:
            xmax = np.maximum(np.abs(xmin), xmax)
            xmin = np.where(xmin < 0, -xmax, xmin)
        both0 = (xmin == 0) & (xmax == 0)
        xmin = np.where(both0, -1.0, xmin)
        xmax = np.where(both0, 1.0, xmax)
        scale = (xmax - xmin) / maxq
        zero = np.full_like(scale, (maxq + 1) / 2) if sym else np.round(-xmin / scale)
        q = np.clip(np.round(x / scale[:, None]) + zero[:, None], 0, maxq)
        out[:, c0:c0 + group] = scale[:, None] * (q - zero[:, None])
    return out


def q4_1_params(t):
    """(rows, cols / 32) d and m of a Q4_1 tensor's blocks (20 bytes: f16 d, f16 m, 16 nibble bytes)."""
    raw = np.asarray(t.data).reshape(-1, 20)
    d = raw[:, 0:2].copy().view(np.float16).astype(np.float64)[:, 0]
    m = raw[:, 2:4].copy().view(np.float16).astype(np.float64)[:, 0]
    rows = int(t.shape[1])
    return d.reshape(rows, -1), m.reshape(rows, -1)


def safetensors(path):
    """{name: (dtype, shape, bytes)} of a .safetensors file (8-byte header size, JSON header, data)."""
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    head = json.loads(raw[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        out[k] = (v["dtype"], v["shape"], raw[8 + n + b:8 + n + e])
    return out


def rtn_scales(w, bits, group, sym):
    """(groups, rows) scales of quant.py find_params per group of `group` columns."""
    maxq = 2 ** bits - 1
    out = []
    for c0 in range(0, w.shape[1], group):
        x = w[:, c0:c0 + group]
        xmin, xmax = np.minimum(x.min(1), 0.0), np.maximum(x.max(1), 0.0)
        if sym:
            xmax = np.maximum(np.abs(xmin), xmax)
            xmin = np.where(xmin < 0, -xmax, xmin)
        out.append((xmax - xmin) / maxq)
    return np.array(out)


HF = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
      "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
      "ffn_down": "mlp.down_proj"}


def scale_study(export_dir, weights, sym):
    """Per group position and tensor kind: mean over rows of the GPTQ scales / mean over rows of the
    RTN scales, averaged over layers. A ratio of means over rows does not depend on the row order,
    which the export may change (q/k back to the Hugging Face RoPE order)."""
    st = safetensors(os.path.join(export_dir, "model.safetensors"))
    print(f"\n3. {export_dir}: mean GPTQ scale / mean RTN scale per g128 group position (sym={sym})")
    for kind, hf in HF.items():
        ratios = []
        for layer in range(30):
            name = f"model.layers.{layer}.{hf}.scales"
            if name not in st:
                continue
            dt, shape, b = st[name]
            g = np.frombuffer(b, dtype=np.float16).astype(np.float64).reshape(shape)  # (groups, out)
            r = rtn_scales(weights[(layer, kind)], 4, 128, sym)
            ratios.append(g.mean(1) / r.mean(1))
        if ratios:
            print(f"{kind:12} " + " ".join(f"{x:.3f}" for x in np.mean(ratios, 0)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--export", action="append", default=[], help="ingotc export --format gptq folder (g128 sym)")
    a = ap.parse_args()
    weights = {}
    r = GGUFReader(f"{a.shared}/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
    kinds = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
    tot = {k: np.zeros(8) for k in kinds}
    groups = {k: np.zeros((2, 12)) for k in kinds}  # (err, norm) per g128 group position
    for t in r.tensors:
        kind = t.name.split(".")[-2] if t.name.startswith("blk.") else None
        if kind not in kinds:
            continue
        w = dequantize(t.data, t.tensor_type).astype(np.float64).reshape(int(t.shape[1]), int(t.shape[0]))
        weights[(int(t.name.split(".")[1]), kind)] = w
        d, m = q4_1_params(t)
        n2 = float((w ** 2).sum())
        g32a = rtn(w, 4, 32, False)
        blk = np.abs(g32a - w).reshape(w.shape[0], -1, 32).max(2)  # (rows, blocks) max |error|
        exact = blk <= 1e-6 * np.maximum(d, 1e-30)
        zero_inside = (m <= 0) & (m + 15 * d >= 0)
        integral = np.abs(m / np.where(d == 0, 1, d) - np.round(m / np.where(d == 0, 1, d))) < 1e-9
        g128s = rtn(w, 4, 128, True)
        g128a = rtn(w, 4, 128, False)
        g32s = rtn(w, 4, 32, True)
        tot[kind] += [exact.sum(), exact.size, zero_inside.sum(), (zero_inside & integral).sum(),
                      ((g32a - w) ** 2).sum() / n2, ((g32s - w) ** 2).sum() / n2, ((g128s - w) ** 2).sum() / n2,
                      ((g128a - w) ** 2).sum() / n2]
        e = (g128s - w) ** 2
        for k, c0 in enumerate(range(0, w.shape[1], 128)):
            groups[kind][0, k] += e[:, c0:c0 + 128].sum()
            groups[kind][1, k] += (w[:, c0:c0 + 128] ** 2).sum()
    print("1. Q4_1 blocks (32 input columns) reproduced exactly by RTN 4-bit g32 asym (the reference's quantizer),")
    print("   and mean relative weight error ||w - q||^2 / ||w||^2 over the 30 layers per RTN setting")
    print(f"{'tensor':12} {'exact':>8} {'blocks':>9} {'0 inside':>9} {'& m/d int':>10} "
          f"{'g32 asym':>9} {'g32 sym':>9} {'g128 sym':>9} {'g128 asym':>9}")
    for k in kinds:
        x = tot[k]
        print(f"{k:12} {int(x[0]):8d} {int(x[1]):9d} {int(x[2]):9d} {int(x[3]):10d} "
              f"{x[4] / 30:9.5f} {x[5] / 30:9.5f} {x[6] / 30:9.5f} {x[7] / 30:9.5f}")
    print("\n2. RTN 4-bit g128 sym relative error per group position (columns c0..c0+127; 576-wide: the 5th is 64 wide)")
    for k in kinds:
        g = groups[k]
        n = int((g[1] > 0).sum())
        print(f"{k:12} " + " ".join(f"{g[0, i] / g[1, i]:.5f}" for i in range(n)))
    for e in a.export:
        scale_study(e, weights, sym=True)


if __name__ == "__main__":
    main()
