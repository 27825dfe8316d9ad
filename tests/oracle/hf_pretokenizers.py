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

TEKKEN = ("[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
          "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}|"
          " ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
# DeepSeek LLM's letter and punctuation classes and DeepSeek's CJK class, as their tokenizer.json
# files spell them (llama.cpp's llama-vocab.cpp copies the same strings).
DEEPSEEK_LETTERS = ("\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293"
                    "\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c"
                    "\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5"
                    "\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77"
                    "\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59"
                    "\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc"
                    "\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107"
                    "\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"
                    "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee"
                    "\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e"
                    "\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f"
                    "\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2"
                    "\U000118a0-\U000118df\U0001e900-\U0001e943]+")
DEEPSEEK_PUNCT = "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+"
DEEPSEEK_CJK = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"


def split(regex):
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False}


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
    # deepseek-ai/deepseek-llm-7b-base tokenizer.json
    "deepseek-llm": ({"type": "Sequence", "pretokenizers": [
        split("[\r\n]"), split(DEEPSEEK_LETTERS), split(DEEPSEEK_PUNCT), split("\\s+$"), split(DEEPSEEK_CJK),
        {"type": "Digits", "individual_digits": False}, BYTE_LEVEL_NO_REGEX]}, False),
    # deepseek-ai/deepseek-coder-6.7b-base tokenizer.json
    "deepseek-coder": ({"type": "Sequence", "pretokenizers": [
        split("[\r\n]"), split("\\s?\\p{L}+"), split("\\s?\\p{P}+"), split(DEEPSEEK_CJK),
        {"type": "Digits", "individual_digits": True}, BYTE_LEVEL_NO_REGEX]}, False),
    # tiiuae/falcon-7b tokenizer.json: Digits and the 3-digit split run on ByteLevel's output
    "falcon": ({"type": "Sequence", "pretokenizers": [
        {"type": "Punctuation", "behavior": "Contiguous"}, BYTE_LEVEL_REGEX,
        {"type": "Digits", "individual_digits": False}, split("[0-9][0-9][0-9]")]}, False),
    # mistralai/Mistral-Nemo-Base-2407 tokenizer.json (tekken)
    "tekken": ({"type": "Sequence", "pretokenizers": [split(TEKKEN), BYTE_LEVEL_NO_REGEX]}, True),
    # llama.cpp's "default" (llama-vocab.cpp's regex list for a GGUF without tokenizer.ggml.pre):
    # no tokenizer.json publishes it, so its regexes run here as Hugging Face Split steps.
    "default": ({"type": "Sequence", "pretokenizers": [
        split("[\\p{P}\\$\\+<=>\\^~\\|]+"),
        split("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"),
        split("\\p{N}+"), split("[0-9][0-9][0-9]"), BYTE_LEVEL_NO_REGEX]}, False),
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
    "HelloWorld XMLHttpRequest iPhone McDonald's \u01c5ungla \u02b0aspirated", "e\u0301\u0301 \u0915\u094d\u0937",
    "\u4e2d\u6587\u6df7\u5408English\u6587\u672c 123\u4e2a \ud55c\uae00abc", "\u3042\u3044\u3046 \u30ab\u30bf\u30ab\u30ca",
    "\uff01\uff1f\uff08\u5168\u89d2\uff09 \u2018quoted\u2019 \u201cdouble\u201d \u3000\u3001\u3002",
    "x\u00b2+y\u00b3=\u00bd \u00b9 \u00bc\u00be \u4f60\u597d\u00bd", "path/to/file.txt // comment /* c */",
    "a=b+c<d>e^f~g|h`i$j", "1234567890 12 1234 \u0661\u0662\u0663\u0664", "trailing spaces   \n  next  ",
    "\u0391\u03b8\u03ae\u03bd\u03b1 \u1f08\u03b8\u1fc6\u03bd\u03b1\u03b9 \u0410\u0411\u0412", "tab\there\r\nCRLF\rCR",
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
