"""Writes an F16 GGUF of a LLaMA-shaped model with random weights (numpy, seeded), for
bench/cpu-vs-llamacpp.sh: llama-quantize and `ingotc build` both start from this one file, so the
two runtimes compute with the same weights. The vocabulary is the LLaMA-2 tokenizer's (pieces and
scores read from llama2.c's tokenizer.bin), so llama.cpp loads it as an ordinary SentencePiece
model.

  python random_gguf.py OUT.gguf TOKENIZER.bin [--dim 2048 --ffn 5632 --layers 22 --heads 32
                                                --kv-heads 4 --context 2048 --seed 0]

Run with the oracle venv's python (tests/oracle/oracle_venv.sh: gguf, numpy).
"""
import argparse
import struct

import gguf
import numpy as np


def read_llama2c_tokenizer(path):
    """(pieces, scores) from llama2.c's tokenizer.bin: i32 max_len, then per token f32 score,
    i32 length, bytes. llama2.c wrote '▁' as ' ' and <s>, </s> with newlines around them."""
    pieces, scores = [], []
    with open(path, "rb") as f:
        data = f.read()
    pos = 4
    while pos < len(data):
        score, n = struct.unpack_from("<fi", data, pos)
        pos += 8
        raw = data[pos:pos + n]
        pos += n
        pieces.append(raw.decode("utf-8", errors="replace").replace(" ", "\u2581"))
        scores.append(score)
    pieces[0], pieces[1], pieces[2] = "<unk>", "<s>", "</s>"
    return pieces, scores


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("tokenizer")
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--ffn", type=int, default=5632)
    ap.add_argument("--layers", type=int, default=22)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--context", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    pieces, scores = read_llama2c_tokenizer(a.tokenizer)
    vocab = len(pieces)
    types = []
    for i, p in enumerate(pieces):
        if i == 0:
            types.append(gguf.TokenType.UNKNOWN)
        elif i in (1, 2):
            types.append(gguf.TokenType.CONTROL)
        elif p.startswith("<0x") and p.endswith(">") and len(p) == 6:
            types.append(gguf.TokenType.BYTE)
        else:
            types.append(gguf.TokenType.NORMAL)

    head_dim = a.dim // a.heads
    w = gguf.GGUFWriter(a.out, "llama")
    w.add_name("random-tinyllama-shape")
    w.add_context_length(a.context)
    w.add_embedding_length(a.dim)
    w.add_block_count(a.layers)
    w.add_feed_forward_length(a.ffn)
    w.add_head_count(a.heads)
    w.add_head_count_kv(a.kv_heads)
    w.add_rope_dimension_count(head_dim)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model("llama")
    w.add_token_list(pieces)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    rng = np.random.default_rng(a.seed)

    def mat(rows, cols):  # (out, in) row-major: GGUF's ne = [in, out]
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n, dtype=np.float32)).astype(np.float32)

    kv = a.kv_heads * head_dim
    w.add_tensor("token_embd.weight", mat(vocab, a.dim))
    for layer in range(a.layers):
        p = f"blk.{layer}."
        w.add_tensor(p + "attn_norm.weight", norm(a.dim))
        w.add_tensor(p + "attn_q.weight", mat(a.dim, a.dim))
        w.add_tensor(p + "attn_k.weight", mat(kv, a.dim))
        w.add_tensor(p + "attn_v.weight", mat(kv, a.dim))
        w.add_tensor(p + "attn_output.weight", mat(a.dim, a.dim))
        w.add_tensor(p + "ffn_norm.weight", norm(a.dim))
        w.add_tensor(p + "ffn_gate.weight", mat(a.ffn, a.dim))
        w.add_tensor(p + "ffn_up.weight", mat(a.ffn, a.dim))
        w.add_tensor(p + "ffn_down.weight", mat(a.dim, a.ffn))
    w.add_tensor("output_norm.weight", norm(a.dim))
    w.add_tensor("output.weight", mat(vocab, a.dim))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
