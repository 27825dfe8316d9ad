#!/usr/bin/env python3
"""Writes tests/tokenizer/llama3_reference_ids.json: LLaMA-3 token ids from Hugging Face
`tokenizers` (the reference implementation), for byte_level_test.cpp to match exactly.

    pip install tokenizers          # the file in the repository was made with tokenizers 0.23.3
    python3 tests/tokenizer/make_llama3_reference.py [--shared /work/shared]

Strings: lines sampled with a fixed seed from the three shared data files (wikitext-2 test,
TinyStories validation, C4 sample: whole paragraphs and random windows) plus hand-written edge
cases (contractions in both cases, long numbers, whitespace runs, newlines, tabs, emoji, CJK,
accents, code, special-token text, characters new in Unicode 15/16). For each string:
  ids        tokenizer.encode(text, add_special_tokens=False).ids, special-token text parsed
             (what ingot's encode(text, parse_special=true) must give);
  ids_plain  present when it differs: the same with encode_special_tokens = True, i.e. special-token
             text encoded as plain text (ingot's encode(text, parse_special=false)).
Run once; the test never runs Python.
"""
import argparse
import hashlib
import json
import pathlib
import random
import sys

import tokenizers
from tokenizers import Tokenizer

SEED = 20240425

EDGE_CASES = [
    "",
    "Hello",
    "Hello world",
    " Hello world!",
    # contractions, lower and upper case, and near misses
    "I'm here, you're there, we've won, they'll go, he'd say, it's done, don't.",
    "I'M HERE, YOU'RE THERE, WE'VE WON, THEY'LL GO, HE'D SAY, IT'S DONE, DON'T.",
    "It'S mIxEd: yOu'Re, We'Ve, tHeY'lL, i'M, hE'd",
    "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'VE 'M 'LL 'D",
    "''s '''re x'sx rock'n'roll 'tis 'twas",
    "\u2019s curly apostrophe: it\u2019s, you\u2019re",
    "'\u017f long s",
    # numbers
    "1 12 123 1234 12345 123456 1234567",
    "12345678901234567890123456789",
    "3.14159265358979 -42 +7 1,000,000 1e-10 0x1F 0b1010",
    "Version 2.0.1-rc3 released on 2024-04-18 at 09:30.",
    "\u0663\u0664\u0665\u0666 \u00b2\u00b3 \u216b \u00bd \u2460\u2461 \uff11\uff12\uff13",
    "abc123def 123abc abc 456",
    # whitespace
    " ",
    "  ",
    "   hello",
    "hello   ",
    "hello   world",
    "a  b   c    d",
    "\t\tindented with tabs\tand\ttabs",
    "\n",
    "\n\n\n",
    "a\nb",
    "a\n\nb",
    "\r\n",
    "a\r\n\r\nb",
    " \n \n ",
    "x \n",
    "x  \n  y",
    "line one\n  line two\n\tline three\n",
    "trailing spaces   \n   leading spaces",
    "\u00a0non-breaking\u00a0space",
    "\u3000ideographic\u3000space",
    "line\u2028separator\u2029paragraph",
    "\x0bvertical\x0cform feed",
    "\x1c\x1d\x1e\x1f unit separators",
    "next\x85line",
    "\u200bzero\u200bwidth",
    # emoji
    "\U0001F44B\U0001F30D",
    "I \u2764\ufe0f you \U0001F60D\U0001F60D\U0001F60D",
    "\U0001F3F3\ufe0f\u200d\U0001F308 flag",
    "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 family",
    "\U0001F44D\U0001F3FD thumbs",
    # CJK and other scripts
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002",
    "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4.",
    "Mixed \u4e2d\u6587 and English \u548c\u6570\u5b57123",
    "caf\u00e9 na\u00efve fa\u00e7ade \u00c5ngstr\u00f6m \u00fcber Stra\u00dfe",
    "cafe\u0301 decomposed e\u0301",
    "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442",
    "\u05e2\u05d1\u05e8\u05d9\u05ea \u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "\u0939\u093f\u0928\u094d\u0926\u0940 \u0e44\u0e17\u0e22",
    "\U00031350\U00031351 CJK ext H, \U00010D50\U00010D51 Garay (Unicode 16)",
    "\U00011F04 Kawi, \U0001E030 modifier",
    # code and markup
    "def f(x):\n    return x ** 2\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n",
    "<html><body class=\"main\"><p>Hi &amp; bye</p></body></html>",
    "SELECT * FROM users WHERE age >= 18 AND name LIKE '%smith%';",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
    "https://example.com/path/to/page?q=1&r=two#frag",
    "mailto:first.last+tag@example.co.uk",
    "regex: ^[a-z0-9_\\-]+\\.(txt|md)$",
    "C:\\Users\\name\\file.txt",
    "x+=1;y-=2;z*=3;w/=4;",
    "    indented_code_block()\n        deeper()",
    # punctuation and symbols
    "!!!???...",
    "\u2014\u2013- dashes \u2026 ellipsis",
    "\"quoted\" 'single' \u201ccurly\u201d \u00abguillemets\u00bb",
    "$$$ 100% #hashtag @mention",
    "a_b_c __init__ snake_case_name",
    "==== Heading ====",
    " @-@ wikitext @,@ style @.@ ",
    # special-token text
    "<|begin_of_text|>Hello",
    "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>",
    "<|eot_id|><|eot_id|>",
    "x<|end_of_text|>y",
    "<|begin_of_text",
    "<|reserved_special_token_5|> <|reserved_special_token_250|>",
    "< |eot_id| >",
    "<|eot_id|>\n<|eot_id|> spaced",
    # long runs
    "a" * 300,
    " " * 100,
    "!" * 200,
    "1" * 50,
    "\n" * 20,
    "\t" * 10 + "x",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "Supercalifragilisticexpialidocious" * 3,
    # characters that look like byte-level pieces, and controls
    "\u0120world \u010a newline",
    "\x00\x01\x02 nul and \x7f del",
    "\ufeffbyte order mark",
    "a\u200db joiner",
    "replacement \ufffd character",
]


def sample_lines(path: pathlib.Path, k: int, rng: random.Random):
    text = path.read_text(encoding="utf-8")
    lines = [ln + "\n" for ln in text.split("\n") if ln.strip()]
    return rng.sample(lines, k)


def sample_c4(path: pathlib.Path, k_paragraphs: int, k_windows: int, rng: random.Random):
    docs = [json.loads(ln)["text"] for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    out = []
    for doc in rng.sample(docs, k_paragraphs):
        paras = [p for p in doc.split("\n") if p.strip()]
        out.append(rng.choice(paras)[:1500])
    for doc in rng.sample(docs, k_windows):
        n = rng.randint(40, 800)
        start = rng.randint(0, max(0, len(doc) - n))
        out.append(doc[start:start + n])
    return out


def main() -> int:
    here = pathlib.Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(here.parent.parent.parent / "shared"))
    ap.add_argument("--out", default=str(here / "llama3_reference_ids.json"))
    args = ap.parse_args()
    shared = pathlib.Path(args.shared)
    tok_path = shared / "models/llama3-tokenizer/tokenizer.json"
    tok = Tokenizer.from_file(str(tok_path))

    rng = random.Random(SEED)
    strings = list(EDGE_CASES)
    strings += sample_lines(shared / "data/wikitext-2-raw-v1/test.txt", 45, rng)
    strings += sample_lines(shared / "data/tinystories/tinystories_val.txt", 35, rng)
    strings += sample_c4(shared / "data/c4/c4_sample.json", 20, 20, rng)

    cases = []
    for s in strings:
        tok.encode_special_tokens = False
        ids = tok.encode(s, add_special_tokens=False).ids
        tok.encode_special_tokens = True
        plain = tok.encode(s, add_special_tokens=False).ids
        case = {"text": s, "ids": ids}
        if plain != ids:
            case["ids_plain"] = plain
        cases.append(case)

    doc = {
        "about": "LLaMA-3 ids from Hugging Face tokenizers (add_special_tokens=False); made by "
                 "tests/tokenizer/make_llama3_reference.py",
        "tokenizers_version": tokenizers.__version__,
        "tokenizer_json_sha256": hashlib.sha256(tok_path.read_bytes()).hexdigest(),
        "seed": SEED,
        "cases": cases,
    }
    text = json.dumps(doc, ensure_ascii=True, indent=None, separators=(",", ":"))
    # One case per line keeps diffs readable.
    text = text.replace(',{"text":', ',\n{"text":')
    pathlib.Path(args.out).write_text(text + "\n")
    print(f"{args.out}: {len(cases)} cases, {len(text)} bytes, tokenizers {tokenizers.__version__}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
