#!/usr/bin/env python3
"""gguf-py (llama.cpp's `gguf` package) as the oracle of ingot's GGUF dequantizer
(compiler/src/import/gguf_dequant.cpp). Run by tests/interop/gguf_dequant_test.cpp with the
python of tests/oracle/oracle_venv.sh; ingot's code is never involved in what it writes.

    gguf_blocks.py random OUT_DIR [--seed N]
        OUT_DIR/blocks.gguf: one tensor per block type, written by gguf-py's GGUFWriter:
          Q4_0 Q4_1 Q5_0 Q5_1 Q8_0  random f32 rows quantized by gguf-py's own quantizers
                                    (gguf.quants.quantize), plus constant and zero rows;
          Q2_K Q3_K Q4_K Q5_K Q6_K  random bytes (dequantization is defined for any bytes)
                                    with every f16 scale field replaced by a finite half,
                                    including subnormals, zeros of both signs and +-65504;
        OUT_DIR/<tensor name>.f32: gguf.quants.dequantize of its bytes, float32 little-endian.
    gguf_blocks.py dequant FILE OUT_DIR
        OUT_DIR/<tensor name>.f32 for every tensor of FILE (read by gguf-py's GGUFReader).
        OUT_DIR/index.txt: "name type n_values" per tensor, in file order.
"""
import argparse
import pathlib
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

QUANTIZED_BY_GGUF_PY = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]
# (type, byte offsets of its f16 fields inside one block)
K_QUANTS = [(T.Q2_K, [80, 82]), (T.Q3_K, [108]), (T.Q4_K, [0, 2]), (T.Q5_K, [0, 2]), (T.Q6_K, [208])]


def finite_halves(rng, n):
    """n finite float16 values: mostly random bit patterns with a finite exponent, some edge cases."""
    bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint16)
    bits = np.where((bits & 0x7C00) == 0x7C00, bits & ~np.uint16(0x4000), bits).astype(np.uint16)  # no inf/nan
    edge = np.array([0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0xFBFF, 0x3C00, 0x2E66], dtype=np.uint16)
    k = min(n, len(edge))
    bits[:k] = edge[:k]
    return bits


def random_blocks(out: pathlib.Path, seed: int):
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(out / "blocks.gguf"), arch="ingot-test")
    expected = {}
    for qt in QUANTIZED_BY_GGUF_PY:
        bs, _ = gguf.GGML_QUANT_SIZES[qt]
        rows, cols = 6, 4 * bs
        x = (rng.standard_normal((rows, cols)) * rng.choice([1e-3, 0.05, 1.0, 300.0], size=(rows, 1))).astype(np.float32)
        x[1, :] = 0.0                       # an all-zero block row (d = 0)
        x[2, : bs] = np.float32(0.75)       # a constant block
        x[3, bs: 2 * bs] = -x[3, bs: 2 * bs]
        q = quantize(x, qt)
        name = f"{qt.name}.random"
        w.add_tensor(name, q, raw_dtype=qt)
        expected[name] = dequantize(q, qt)
    for qt, half_offsets in K_QUANTS:
        bs, ts = gguf.GGML_QUANT_SIZES[qt]
        n_blocks = 48
        b = rng.integers(0, 256, size=(n_blocks, ts), dtype=np.uint8)
        b[0, :] = 0x00  # all-zero and all-one bit fields (scales made finite below)
        b[1, :] = 0xFF
        for off in half_offsets:
            h = finite_halves(rng, n_blocks)
            b[:, off] = (h & 0xFF).astype(np.uint8)
            b[:, off + 1] = (h >> 8).astype(np.uint8)
        q = b.reshape(2, n_blocks // 2 * ts)   # 2 rows of 24 super-blocks
        name = f"{qt.name}.random"
        w.add_tensor(name, q, raw_dtype=qt)
        expected[name] = dequantize(q, qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    for name, v in expected.items():
        v = np.ascontiguousarray(v, dtype="<f4")
        if not np.all(np.isfinite(v)):
            raise SystemExit(f"{name}: non-finite expected values (scale fields must be finite)")
        (out / f"{name}.f32").write_bytes(v.tobytes())
    print(f"{out}/blocks.gguf: {len(expected)} tensors, gguf {gguf.__version__ if hasattr(gguf, '__version__') else ''}",
          file=sys.stderr)


def dequant_file(path: pathlib.Path, out: pathlib.Path):
    out.mkdir(parents=True, exist_ok=True)
    r = gguf.GGUFReader(str(path))
    lines = []
    for t in r.tensors:
        v = np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype="<f4")
        (out / f"{t.name}.f32").write_bytes(v.tobytes())
        lines.append(f"{t.name} {t.tensor_type.name} {v.size}")
    (out / "index.txt").write_text("\n".join(lines) + "\n")
    print(f"{path}: {len(lines)} tensors dequantized into {out}", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("random")
    a.add_argument("out")
    a.add_argument("--seed", type=int, default=21)
    b = sub.add_parser("dequant")
    b.add_argument("file")
    b.add_argument("out")
    args = ap.parse_args()
    if args.cmd == "random":
        random_blocks(pathlib.Path(args.out), args.seed)
    else:
        dequant_file(pathlib.Path(args.file), pathlib.Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
