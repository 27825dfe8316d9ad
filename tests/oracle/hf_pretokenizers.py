#!/usr/bin/env python3
"""Hugging Face `tokenizers` as the oracle of ingot's byte-level BPE pre-tokenizers
(runtime/src/tokenizer/pre_tokenizer.cpp). Run by tests/tokenizer/pre_tokenizer_test.cpp with the
python of tests/oracle/oracle_venv.sh; nothing of ingot's is read or used.

    hf_pretokenizers.py GGUF SHARED OUT_DIR

The vocabulary, merges and special tokens come from GGUF (read by gguf-py; the test passes the
shared SmolLM2-135M-Instruct file). For each family below a tokenizer is built from them with the
pre_tokenizer section that family publishes in its tokenizer.json on the Hugging Face Hub (and the
model's ignore_merges flag), written to OUT_DIR/<family>.tokenizer.json, and used to encode every
string of OUT_DIR/strings.json: every non-empty line of the three shared texts (WikiText-2 test,
TinyStories validation, the C4 sample's documents split at newlines), hand-written edge cases,
special-token text and ChatML-formatted conversations. OUT_DIR/<family>.ids.json holds, per
string, encode(s, add_special_tokens=False).ids with special-token text parsed.
"""
import json
import pathlib
import sys

import gguf
import tokenizers
from tokenizers import Tokenizer

BYTE_LEVEL_NO_REGEX = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
BYTE_LEVEL_REGEX = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
LLAMA3 = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
          "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
QWEN2 = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
         "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")

# family -> (pre_tokenizer section as published, model.ignore_merges)
FAMILIES = {
    # openai-community/gpt2 tokenizer.json
    "gpt2": (BYTE_LEVEL_REGEX, False),
    # GPT-2's with add_prefix_space (as RoBERTa-style files and GGUF add_space_prefix = true say)
    "gpt2_prefix": ({"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}, False),
    # meta-llama/Meta-Llama-3-8B tokenizer.json (also the shared llama3-tokenizer)
    "llama3": ({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3}, "behavior": "Isolated", "invert": False},
        BYTE_LEVEL_NO_REGEX]}, True),
    # Qwen/Qwen2-7B tokenizer.json
    "qwen2": ({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": QWEN2}, "behavior": "Isolated", "invert": False},
        BYTE_LEVEL_NO_REGEX]}, False),
    # bigcode/starcoder and HuggingFaceTB/SmolLM2-135M-Instruct tokenizer.json
    "starcoder": ({"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, BYTE_LEVEL_REGEX]}, False),
}

EDGE = [
    "", "Hello", " Hello world!", "Hello   world", "a  b   c", "  leading", "trailing  ", "\n", "\n\n\n", "a\nb",
    "a\n\nb", "\r\n", "a\r\n\r\nb", " \n \n ", "x  \n  y", "\t\tindented\tand\ttabs", "\u00a0nbsp\u00a0space",
    "\u3000ideographic", "line\u2028sep", "I'm here, you're there, we've won, they'll go, he'd say, it's done.",
    "I'M HERE, YOU'RE THERE, WE'VE WON, THEY'LL GO", "'s 't 're 've 'm 'll 'd 'S 'T 'RE", "''s x'sx rock'n'roll",
    "it\u2019s curly", "1 12 123 1234 12345 1234567", "3.14159 -42 +7 1,000,000 1e-10 0x1F", " 2024-04-18 09:30",
    "\u0663\u0664\u0665 \u00b2\u00b3 \u216b \u00bd \u2460 \uff11\uff12", "abc123def 123abc", "\U0001F44B\U0001F30D",
    "I \u2764\ufe0f you \U0001F60D\U0001F60D", "\U0001F468\u200d\U0001F469\u200d\U0001F467 family",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01", "\ud55c\uad6d\uc5b4 \ubb38\uc7a5", "caf\u00e9 na\u00efve \u00fcber",
    "cafe\u0301 e\u0301", "\u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442",
    "\u05e2\u05d1\u05e8\u05d9\u05ea \u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\u0939\u093f\u0928\u094d\u0926\u0940",
    "def f(x):\n    return x ** 2\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n",
    "<html><p>Hi &amp; bye</p></html>", "{\"key\": [1, 2, 3]}", "https://example.com/a?q=1#f", "!!!???...",
    "\u2014\u2013- dashes \u2026", "$$$ 100% #tag @me", "a_b __init__", " @-@ wiki @,@ text @.@ ", "a" * 300,
    " " * 50, "1" * 40, "\x00\x01 nul \x7f del", "\ufeffbom", "replacement \ufffd",
]


def chat(messages, generation_prompt=True):
    s = "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in messages)
    return s + ("<|im_start|>assistant\n" if generation_prompt else "")


SPECIAL = [
    "<|im_start|>user\nHi<|im_end|>", "<|endoftext|>", "x<|endoftext|>y", "<|im_start|", "< |im_end| >",
    "<|im_end|><|im_end|>", "<repo_name>ingot<file_sep>main.cpp", "<jupyter_code>print(1)<jupyter_output>1",
    chat([("system", "You are a helpful AI assistant named SmolLM, trained by Hugging Face"),
          ("user", "What is the capital of France?")]),
    chat([("user", "Write a haiku about the sea.\nMake it 3 lines."), ("assistant", "Waves fold into foam,\n..."),
          ("user", "Now in French, 2024 edition!")]),
]


def texts(shared: pathlib.Path):
    out = []
    for rel in ["data/wikitext-2-raw-v1/test.txt", "data/tinystories/tinystories_val.txt"]:
        out += [ln + "\n" for ln in (shared / rel).read_text(encoding="utf-8").split("\n") if ln.strip()]
    for ln in (shared / "data/c4/c4_sample.json").read_text(encoding="utf-8").splitlines():
        if ln.strip():
            out += [p for p in json.loads(ln)["text"].split("\n") if p.strip()]
    return out


def main() -> int:
    gguf_path, shared, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    r = gguf.GGUFReader(str(gguf_path))
    tokens = r.fields["tokenizer.ggml.tokens"].contents()
    types = r.fields["tokenizer.ggml.token_type"].contents()
    merges = r.fields["tokenizer.ggml.merges"].contents()
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": types[i] == 3} for i, t in enumerate(tokens) if types[i] in (3, 4)]
    strings = EDGE + SPECIAL + texts(shared)
    (out / "strings.json").write_text(json.dumps(strings, ensure_ascii=True))
    for family, (pre, ignore_merges) in FAMILIES.items():
        doc = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
               "pre_tokenizer": pre, "post_processor": {"type": "ByteLevel", "add_prefix_space": False,
                                                        "trim_offsets": False, "use_regex": False},
               "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
               "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                         "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                         "ignore_merges": ignore_merges,
                         "vocab": {t: i for i, t in enumerate(tokens)},
                         "merges": merges}}
        text = json.dumps(doc, ensure_ascii=False)
        (out / f"{family}.tokenizer.json").write_text(text, encoding="utf-8")
        tok = Tokenizer.from_str(text)
        ids = [e.ids for e in tok.encode_batch(strings, add_special_tokens=False)]
        (out / f"{family}.ids.json").write_text(json.dumps(ids, separators=(",", ":")))
    print(f"{len(strings)} strings x {len(FAMILIES)} families, tokenizers {tokenizers.__version__}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
