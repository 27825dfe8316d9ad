#!/usr/bin/env python3
"""SmolLM2-135M's FP (and RTN) WikiText-2 perplexity by an independent float64 implementation, to
find where ingot's figures differ from issue 21's anchor (transformers + the GPTQ paper's code).

    smollm2_fp_reference.py [--build build-dev] [--shared ../shared] [--windows 24] [--rtn BITS]
                            [--transformers] [--skip-f64] [--skip-ingot-nll]

Needs gguf, tokenizers and numpy (tests/oracle/oracle_venv.sh's venv has them); --transformers
also transformers, torch and accelerate from PyPI. docs/gptq.md has the 2026-12-04 results.

Nothing of ingot's code computes the reference: the weights are the GGUF's, dequantized by gguf-py
(`gguf.quants.dequantize`, PyPI's llama.cpp gguf-py), the forward pass is written here in numpy
float64 from the LLaMA definition (RMSNorm, RoPE on adjacent pairs as llama.cpp's GGUF layout
stores Q and K, grouped-query attention, SwiGLU), and the tokens come from Hugging Face
`tokenizers` built from the GGUF's vocabulary and merges in two ways:
  - `smollm`: the pre-tokenizer SmolLM2's own tokenizer.json publishes (digits one by one, then
    GPT-2's byte-level regex) — what `tokenizer.ggml.pre = smollm` means in llama.cpp;
  - `transformers-gguf`: what transformers builds when it loads this GGUF
    (integrations/gguf/gguf_tokenizer_mapping.py: 'smollm' is not in its table of split regexes,
    so it keeps GPT-2's ByteLevel(use_regex=True) without the digit split) — the anchor's loader.
ingot's own ids (ingot_tokenize) and per-window NLLs (ingot_model_perplexity's progress callback)
come through the C API (libingot.so) on an f32 container that this script compiles with ingotc.

Protocol (the GPTQ paper's llama_eval, as ingot perplexity's default): the WikiText-2 test rows
joined with "\\n\\n", tokenized whole without BOS (SmolLM2 adds none), the first `--windows`
windows of 2048 tokens, every token after a window's first scored; ppl = exp(mean NLL).
`--rtn BITS` also quantizes every linear (not the embedding or classifier) with the paper's
quant.py round-to-nearest, sym, groups of 128 along the input, scales kept in float64, and scores
that model the same way (ingot's container stores f16 scales; this tells whether that matters).
"""
import argparse
import ctypes
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quality_smollm2 import wikitext_gptq_string  # noqa: E402

GGUF_REL = "models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"


# ---- tokenizers (Hugging Face) --------------------------------------------------------------

def hf_tokenizers(reader):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    f = reader.fields
    tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]).decode("utf-8") for i in f["tokenizer.ggml.tokens"].data]
    merges = [bytes(f["tokenizer.ggml.merges"].parts[i]).decode("utf-8") for i in f["tokenizer.ggml.merges"].data]
    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    out = {}
    for name in ("smollm", "transformers-gguf"):
        tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, ignore_merges=False))
        byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                             if name == "smollm" else byte_level)
        tok.decoder = decoders.ByteLevel()
        out[name] = tok
    return out


# ---- ingot through its C API ------------------------------------------------------------------

class ModelParams(ctypes.Structure):
    _fields_ = [("backend", ctypes.c_int), ("n_threads", ctypes.c_int32), ("verify_checksums", ctypes.c_bool),
                ("progress", ctypes.c_void_p), ("progress_user_data", ctypes.c_void_p), ("kv_type", ctypes.c_int),
                ("kv_budget_bytes", ctypes.c_size_t), ("activations", ctypes.c_int)]


PROGRESS = ctypes.CFUNCTYPE(None, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_double, ctypes.c_void_p)


class PplParams(ctypes.Structure):
    _fields_ = [("n_ctx", ctypes.c_int32), ("max_chunks", ctypes.c_int32), ("n_threads", ctypes.c_int32),
                ("progress", PROGRESS), ("user_data", ctypes.c_void_p)]


class PplResult(ctypes.Structure):
    _fields_ = [("ppl", ctypes.c_double), ("mean_nll", ctypes.c_double), ("n_tokens", ctypes.c_size_t),
                ("n_scored", ctypes.c_size_t), ("n_chunks", ctypes.c_size_t)]


class Ingot:
    def __init__(self, lib_path, container, threads):
        self.lib = lib = ctypes.CDLL(lib_path)
        lib.ingot_model_default_params.restype = ModelParams
        lib.ingot_model_load.argtypes = [ctypes.c_char_p, ModelParams, ctypes.POINTER(ctypes.c_void_p)]
        lib.ingot_last_error.restype = ctypes.c_char_p
        lib.ingot_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_bool,
                                       ctypes.POINTER(ctypes.c_int32), ctypes.c_size_t,
                                       ctypes.POINTER(ctypes.c_size_t)]
        lib.ingot_perplexity_default_params.restype = PplParams
        lib.ingot_model_perplexity.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, PplParams,
                                               ctypes.POINTER(PplResult)]
        p = lib.ingot_model_default_params()
        p.n_threads, p.activations = threads, 1  # INGOT_ACTIVATIONS_F32
        self.model = ctypes.c_void_p()
        if lib.ingot_model_load(container.encode(), p, ctypes.byref(self.model)) != 0:
            sys.exit(f"ingot_model_load: {lib.ingot_last_error().decode()}")

    def tokenize(self, text):
        b = text.encode("utf-8")
        n = ctypes.c_size_t()
        buf = (ctypes.c_int32 * (len(b) + 16))()
        if self.lib.ingot_tokenize(self.model, b, len(b), False, buf, len(buf), ctypes.byref(n)) != 0:
            sys.exit(f"ingot_tokenize: {self.lib.ingot_last_error().decode()}")
        return list(buf[:n.value])

    def window_nlls(self, text, windows):
        """Mean NLL of each window, from the running perplexity the progress callback reports."""
        ppls = []
        cb = PROGRESS(lambda done, total, ppl, _: ppls.append(ppl))
        p = self.lib.ingot_perplexity_default_params()
        p.n_ctx, p.max_chunks, p.progress = 2048, windows, cb
        r = PplResult()
        b = text.encode("utf-8")
        if self.lib.ingot_model_perplexity(self.model, b, len(b), p, ctypes.byref(r)) != 0:
            sys.exit(f"ingot_model_perplexity: {self.lib.ingot_last_error().decode()}")
        cum = [k * math.log(x) for k, x in enumerate(ppls, 1)]
        return [c - (cum[k - 1] if k else 0.0) for k, c in enumerate(cum)], r.ppl


# ---- the float64 LLaMA --------------------------------------------------------------------------

class Llama64:
    def __init__(self, reader):
        from gguf.quants import dequantize
        f = reader.fields

        def scalar(key):
            return f[key].parts[f[key].data[0]][0]
        self.n_head = int(scalar("llama.attention.head_count"))
        self.n_kv = int(scalar("llama.attention.head_count_kv"))
        self.eps = float(scalar("llama.attention.layer_norm_rms_epsilon"))
        self.base = float(scalar("llama.rope.freq_base"))
        self.n_layer = int(scalar("llama.block_count"))
        self.w = {}
        for t in reader.tensors:
            a = dequantize(t.data, t.tensor_type)
            self.w[t.name] = np.asarray(a, dtype=np.float64).reshape([int(x) for x in reversed(t.shape)])
        self.dim = self.w["token_embd.weight"].shape[1]
        self.hd = self.dim // self.n_head
        if "output.weight" not in self.w:
            self.w["output.weight"] = self.w["token_embd.weight"]

    def linears(self):
        return [k for k in self.w if k.startswith("blk.") and k.endswith(".weight")
                and self.w[k].ndim == 2]

    def rms(self, x, g):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * g

    def rope(self, x, pos):  # x: (T, heads, hd), adjacent pairs (2i, 2i+1) rotated by pos·base^(-2i/hd)
        inv = self.base ** (-np.arange(0, self.hd, 2, dtype=np.float64) / self.hd)
        ang = pos[:, None] * inv[None, :]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * c - x1 * s
        out[..., 1::2] = x0 * s + x1 * c
        return out

    def nll(self, ids):
        """Mean NLL of ids[1:] given the prefixes (one window, from an empty cache)."""
        w, T = self.w, len(ids)
        x = w["token_embd.weight"][ids]
        pos = np.arange(T, dtype=np.float64)
        mask = np.triu(np.full((T, T), -np.inf), 1)
        group = self.n_head // self.n_kv
        for i in range(self.n_layer):
            p = f"blk.{i}."
            h = self.rms(x, w[p + "attn_norm.weight"])
            q = self.rope((h @ w[p + "attn_q.weight"].T).reshape(T, self.n_head, self.hd), pos)
            k = self.rope((h @ w[p + "attn_k.weight"].T).reshape(T, self.n_kv, self.hd), pos)
            v = (h @ w[p + "attn_v.weight"].T).reshape(T, self.n_kv, self.hd)
            att = np.empty((T, self.n_head, self.hd))
            for hh in range(self.n_head):
                s = q[:, hh, :] @ k[:, hh // group, :].T / math.sqrt(self.hd) + mask
                s = np.exp(s - s.max(axis=1, keepdims=True))
                att[:, hh, :] = (s / s.sum(axis=1, keepdims=True)) @ v[:, hh // group, :]
            x = x + att.reshape(T, self.dim) @ w[p + "attn_output.weight"].T
            h = self.rms(x, w[p + "ffn_norm.weight"])
            g = h @ w[p + "ffn_gate.weight"].T
            x = x + ((g / (1.0 + np.exp(-g))) * (h @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
        logits = self.rms(x, w["output_norm.weight"]) @ w["output.weight"].T
        m = logits.max(axis=1, keepdims=True)
        lse = (m[:, 0] + np.log(np.exp(logits - m).sum(axis=1)))
        return float(np.mean(lse[:-1] - logits[np.arange(T - 1), ids[1:]]))


def rtn_quant_py(wt, bits, group):
    """The GPTQ paper's quant.py Quantizer (sym, per group of `group` input columns), in float64."""
    maxq = 2 ** bits - 1
    out = np.empty_like(wt)
    for c0 in range(0, wt.shape[1], group):
        x = wt[:, c0:c0 + group]
        xmin = np.minimum(x.min(axis=1), 0)
        xmax = np.maximum(x.max(axis=1), 0)
        xmax = np.maximum(np.abs(xmin), xmax)
        xmin = np.where(xmin < 0, -xmax, xmin)
        both = (xmin == 0) & (xmax == 0)
        xmin, xmax = np.where(both, -1, xmin), np.where(both, 1, xmax)
        scale = ((xmax - xmin) / maxq)[:, None]
        zero = (maxq + 1) / 2
        q = np.clip(np.round(x / scale) + zero, 0, maxq)
        out[:, c0:c0 + group] = scale * (q - zero)
    return out


def transformers_nlls(gpath, text, windows, threads):
    """The anchor's loader: transformers (PyPI) loads the GGUF in float32, its own tokenizer
    conversion, and the GPTQ paper's llama_eval loss per window (mean cross-entropy of the shifted
    window). Returns (ids, per-window mean NLL)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(threads)
    d, f = os.path.split(gpath)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
    out = []
    with torch.no_grad():
        for k in range(windows):
            x = ids[:, k * 2048:(k + 1) * 2048]
            logits = model(x).logits.float()
            out.append(float(torch.nn.functional.cross_entropy(logits[0, :-1], x[0, 1:])))
    return ids[0].tolist(), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-dev")
    ap.add_argument("--shared", default=os.environ.get("INGOT_SHARED", "../shared"))
    ap.add_argument("--windows", type=int, default=24)
    ap.add_argument("--threads", type=int, default=1, help="ingot's threads")
    ap.add_argument("--rtn", type=int, default=0, help="also score quant.py RTN sym g128 at this many bits")
    ap.add_argument("--skip-ingot-nll", action="store_true")
    ap.add_argument("--transformers", action="store_true", help="also the anchor's path: transformers + torch "
                    "(not in the oracle venv; pip install torch transformers)")
    ap.add_argument("--skip-f64", action="store_true", help="no float64 FP pass (--rtn still runs)")
    a = ap.parse_args()
    import gguf
    gpath = os.path.join(a.shared, GGUF_REL)
    text = wikitext_gptq_string(os.path.join(a.shared, "data/wikitext-2-raw-v1/test.txt"))
    reader = gguf.GGUFReader(gpath)
    n = a.windows * 2048

    work = tempfile.mkdtemp(prefix="smollm2-fp-ref-")
    container = os.path.join(work, "f32.ingot")
    subprocess.run([f"{a.build}/compiler/ingotc", "build", gpath, "-o", container, "--method", "none",
                    "--dtype", "f32"], check=True, stdout=subprocess.DEVNULL)
    ing = Ingot(f"{a.build}/runtime/libingot.so", container, a.threads)
    ids = {"ingot": ing.tokenize(text)}
    for name, tok in hf_tokenizers(reader).items():
        ids[name] = tok.encode(text, add_special_tokens=False).ids
    for name, v in ids.items():
        same = next((i for i, (x, y) in enumerate(zip(v, ids["ingot"])) if x != y), None)
        print(f"tokens {name}: {len(v)} in all; first difference from ingot's at "
              f"{'none' if same is None and len(v) == len(ids['ingot']) else same}"
              f"; first {n} equal: {v[:n] == ids['ingot'][:n]}", flush=True)

    if not a.skip_ingot_nll:
        t = time.time()
        ours, ppl = ing.window_nlls(text, a.windows)
        print(f"ingot f32: ppl {ppl:.4f} over {a.windows} windows ({time.time() - t:.0f} s)", flush=True)
    else:
        ours = None
    if a.transformers:
        t = time.time()
        tids, tnl = transformers_nlls(gpath, text, a.windows, 2)
        print(f"transformers tokens: {len(tids)} in all; first {n} equal to ingot's: {tids[:n] == ids['ingot'][:n]}")
        for k, x in enumerate(tnl):
            rel = "" if ours is None else f", ingot {ours[k]:.6f} (rel {ours[k] / x - 1:+.2e})"
            print(f"  transformers window {k}: nll {x:.6f}{rel}", flush=True)
        print(f"transformers float32 (the anchor's path): ppl {math.exp(sum(tnl) / len(tnl)):.4f} "
              f"({time.time() - t:.0f} s)", flush=True)
    if a.skip_f64 and not a.rtn:
        return
    model = Llama64(reader)
    streams = {"ingot": ids["ingot"]}
    if ids["transformers-gguf"][:n] != ids["ingot"][:n]:
        streams["transformers-gguf"] = ids["transformers-gguf"]
    for name, v in ({} if a.skip_f64 else streams).items():
        nl, t = [], time.time()
        for k in range(a.windows):
            nl.append(model.nll(np.array(v[k * 2048:(k + 1) * 2048])))
            rel = "" if ours is None or name != "ingot" else f", ingot {ours[k]:.6f} (rel {ours[k] / nl[k] - 1:+.2e})"
            print(f"  f64 window {k} ({name} tokens): nll {nl[k]:.6f}{rel} ({time.time() - t:.0f} s)", flush=True)
        print(f"float64 reference, {name} tokens: ppl {math.exp(sum(nl) / len(nl)):.4f}", flush=True)
    if a.rtn:
        for key in model.linears():
            model.w[key] = rtn_quant_py(model.w[key], a.rtn, 128)
        nl = [model.nll(np.array(ids["ingot"][k * 2048:(k + 1) * 2048])) for k in range(a.windows)]
        print(f"float64 quant.py RTN {a.rtn}-bit g128 sym (float64 scales), ingot tokens: "
              f"ppl {math.exp(sum(nl) / len(nl)):.4f}", flush=True)


if __name__ == "__main__":
    main()
