#!/usr/bin/env python3
"""Checks the runtime's tokenizer (through sl-tokenize) against HuggingFace `tokenizers`, the
oracle (pip install tokenizers).

    check_tokenizer.py path/to/sl-tokenize WORKDIR

Trains several byte-level BPE tokenizers on a corpus written here (GPT-2 style ByteLevel; a
Llama-3/Qwen style Split regex + ByteLevel(use_regex=False) with chat special tokens; a
TemplateProcessing bos; digit/punctuation splitting with a Lowercase normalizer; a Llama-2
style byte-fallback BPE; a BPE with continuing_subword_prefix/end_of_word_suffix), saves them
under WORKDIR, generates thousands of test strings (many scripts, CJK, emoji with ZWJ and skin
tones, combining marks, whitespace runs, digits, special tokens inside text, the empty string,
byte-derived text) and checks that encode ids, decode text, decode(encode(s)) and streaming
decode all equal HF's. Also checks models/tiny's tokenizer and that unsupported components are
rejected with an error naming them. Prints one PASS/FAIL line per tokenizer; exits 1 on any
failure."""
import json
import os
import random
import subprocess
import sys

from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                        pre_tokenizers, processors, trainers)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
CHAT_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>", "<think>",
                 "</think>", "<tool_call>", "</tool_call>"]

ENGLISH = """The quick brown fox jumps over the lazy dog. It's a truth universally acknowledged,
that a single man in possession of a good fortune, must be in want of a wife. We'll see; they've
gone and I'm sure you'd agree. Don't PANIC! The year 2024 had 366 days; pi is 3.14159265.
def main(argv):\n    return sum(int(x) for x in argv[1:])  # add numbers\n
if (a < b && c >= d) { printf("%d\\n", a); }\n\tindented\twith\ttabs
Email: someone@example.com, URL: https://example.org/path?q=1&r=2#frag
"""
MULTILINGUAL = """Съешь же ещё этих мягких французских булок, да выпей чаю. Быстрая лиса.
Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Γειά σου κόσμε! Ἀρχιμήδης.
我能吞下玻璃而不伤身体。你好，世界！今天天气很好，我们去公园散步吧。
いろはにほへと ちりぬるを。日本語のテキストとカタカナ、ひらがな。
다람쥐 헌 쳇바퀴에 타고파. 안녕하세요 세계!
זה כיף סתם לשמוע איך תנצח קרפד עץ טוב בגן. مرحبا بالعالم، كيف حالك؟
नमस्ते दुनिया। यह एक परीक्षण है। สวัสดีชาวโลก ภาษาไทย
Żółć gęślą jaźń. Příliš žluťoučký kůň úpěl ďábelské ódy. Ça va? Naïve café, façade, über.
Բարեւ աշխարհ. გამარჯობა მსოფლიო. Xin chào thế giới. Merhaba dünya, İstanbul.
Emoji: 👍 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🇺🇸 🇯🇵 😀😃😄 🤖 🧑🏿‍💻
"""
CORPUS = (ENGLISH + MULTILINGUAL).splitlines() * 3

WORDS = [
    "the", "quick", "brown", "fox", "don't", "I'M", "we've", "they'll", "she'd", "it's",
    "hello", "world", "tokenizer", "naïve", "café", "résumé", "Straße", "über", "ÉCOLE",
    "Привет", "мир", "Ёлка", "Γειά", "ΣΟΦΊΑ", "σοφία", "你好", "世界", "日本語", "カタカナ",
    "ひらがな", "안녕하세요", "한국어", "مرحبا", "שלום", "नमस्ते", "สวัสดี", "Բարեւ", "გამარჯობა",
    "Xin", "chào", "thế", "giới", "ọ̀", "e\u0301", "a\u0308\u0323", "n\u0303", "ﬁ", "Ⅻ", "½", "²",
    "١٢٣", "४५६", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝟘𝟙𝟚", "👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇺🇸", "🧑🏿‍💻",
    "😀", "🤖", "™", "©", "€100", "$5.00", "1,000,000", "3.14159", "2024-06-01", "12345678901",
    "0x1F", "foo_bar", "camelCase", "snake_case_name", "C++", "->", "=>", "!=", "...", "—", "–",
    "«quoted»", "“smart”", "‘single’", "(paren)", "[bracket]", "{brace}", "<tag>", "</tag>",
    "#hashtag", "@mention", "a/b", "x=y+z", "100%", "ℕ", "∑", "√2", "∞", "∀x∃y", "中文,English",
    "Ünïcödé", "ÅÄÖ", "ÆØÅ", "İ", "ı", "ß", "ẞ", "Ǆ", "ǅ", "ǆ", "Ω", "K", "Å",
]
SPACES = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", " \n", "\n ", "\r\n", " \t ", "\u00a0",
          "\u3000", "\u2009", "\u200b", "", "", "      ", "\n\n\n", "\t\t"]


def random_codepoint_text(rng, n):
    ranges = [(0x20, 0x7E), (0xA0, 0x17F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x5FF),
              (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE5B), (0x1100, 0x11FF), (0x3040, 0x30FF),
              (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0x1F300, 0x1F5FF), (0x1F600, 0x1F64F),
              (0x2000, 0x206F), (0x300, 0x36F), (0x2190, 0x22FF), (0xFF01, 0xFF5E)]
    out = []
    for _ in range(n):
        lo, hi = rng.choice(ranges)
        c = chr(rng.randint(lo, hi))
        if c.isprintable() or c in "\t\n":
            out.append(c)
    return "".join(out)


def byte_derived_text(rng, n):
    data = bytes(rng.randrange(256) for _ in range(n))
    # Valid UTF-8 only ("invalid-free"), biased towards multi-byte sequences.
    text = data.decode("utf-8", errors="ignore")
    if rng.random() < 0.5:
        text += bytes([0xE4, 0xB8, rng.randrange(0x80, 0xC0)]).decode("utf-8", errors="ignore")
    return text


def make_strings(rng, specials, count):
    strings = ["", " ", "  ", "\n", "\t", "a", "A", "1", "12", "123", "1234", "é", "👍🏽",
               "👨‍👩‍👧‍👦", "e\u0301", "   leading", "trailing   ", " \n\t mixed \r\n ",
               "don't stop", "I'M HERE", "x" * 300, " " * 50, "9" * 40, "ab" * 100,
               "日本語" * 30, "\u00a0\u00a0x"]
    for s in specials:
        strings += [s, s + s, " " + s + " ", "x" + s + "y", s + "\n", "hi " + s + " there"]
    while len(strings) < count:
        kind = rng.random()
        if kind < 0.55:
            parts = []
            for _ in range(rng.randint(1, 14)):
                r = rng.random()
                if r < 0.65:
                    parts.append(rng.choice(WORDS))
                elif r < 0.8 and specials:
                    parts.append(rng.choice(specials))
                else:
                    parts.append(str(rng.randint(0, 10 ** rng.randint(1, 9))))
                parts.append(rng.choice(SPACES))
            strings.append("".join(parts))
        elif kind < 0.7:
            line = rng.choice(CORPUS)
            cut = sorted(rng.randint(0, len(line)) for _ in range(2))
            strings.append(line[cut[0]:cut[1]] + rng.choice(SPACES))
        elif kind < 0.85:
            strings.append(random_codepoint_text(rng, rng.randint(1, 40)))
        else:
            strings.append(byte_derived_text(rng, rng.randint(1, 60)))
    return strings


def train(tok, vocab_size, specials=(), **kw):
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(specials),
                                  show_progress=False, **kw)
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return tok


def save(tok, workdir, name, config=None, edit=None):
    d = os.path.join(workdir, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "tokenizer.json")
    tok.save(path)
    if edit:
        j = json.load(open(path, encoding="utf-8"))
        edit(j)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(j, f, ensure_ascii=False)
        tok = Tokenizer.from_file(path)
    if config is not None:
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(config, f)
    return d, tok


def build_tokenizers(workdir):
    out = []
    alphabet = pre_tokenizers.ByteLevel.alphabet()

    # 1. GPT-2 style.
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    t.post_processor = processors.ByteLevel(trim_offsets=True)
    train(t, 1200, ["<|endoftext|>"], initial_alphabet=alphabet)
    out.append(("gpt2-bytelevel", *save(t, workdir, "gpt2-bytelevel",
                                         {"bos_token": "<|endoftext|>",
                                          "eos_token": "<|endoftext|>"}), ["<|endoftext|>"]))

    # 2. Llama-3 / Qwen style: Split regex + ByteLevel without regex, chat special tokens,
    # ignore_merges, and non-special added tokens with lstrip/rstrip/single_word.
    t = Tokenizer(models.BPE(ignore_merges=True))
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    t.post_processor = processors.ByteLevel(trim_offsets=False)
    train(t, 1500, CHAT_SPECIALS, initial_alphabet=alphabet)
    t.add_tokens([AddedToken("<tool>", lstrip=True, rstrip=True, normalized=False),
                  AddedToken("hello world", single_word=True, normalized=False),
                  AddedToken("日本", single_word=False, normalized=True)])
    extra = ["<tool>", "hello world", "日本"]
    out.append(("llama3-split", *save(t, workdir, "llama3-split",
                                       {"bos_token": "<|begin_of_text|>",
                                        "eos_token": {"content": "<|im_end|>"}}),
                CHAT_SPECIALS + extra))

    # 3. A bos (and eos) added by TemplateProcessing, in a post-processor Sequence; ByteLevel
    # with add_prefix_space; a Replace normalizer.
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.Sequence([normalizers.Replace("\r\n", "\n"),
                                         normalizers.Replace(Regex("\u00a0+"), " ")])
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    t.decoder = decoders.ByteLevel()
    train(t, 900, ["<s>", "</s>", "<pad>"], initial_alphabet=alphabet)
    bos, eos = t.token_to_id("<s>"), t.token_to_id("</s>")
    t.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=True),
        processors.TemplateProcessing(single="<s> $A", pair="<s> $A </s> $B:1",
                                      special_tokens=[("<s>", bos), ("</s>", eos)])])
    out.append(("template-bos", *save(t, workdir, "template-bos",
                                       {"bos_token": "<s>", "eos_token": "</s>"}),
                ["<s>", "</s>", "<pad>"]))

    # 4. Digits, punctuation and space splitting with the other behaviours, Lowercase.
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.Sequence([normalizers.Lowercase(),
                                         normalizers.Replace(Regex(" {2,}"), " "),
                                         normalizers.Prepend("^")])
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.Split(" ", behavior="merged_with_next"),
        pre_tokenizers.Split(Regex(r"[.,!?;:]"), behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex(r"\t+"), behavior="removed"),
        pre_tokenizers.Split(Regex(r"\p{L}+"), behavior="contiguous", invert=True),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.Sequence([decoders.ByteLevel(), decoders.Replace("^", "")])
    train(t, 1000, ["<eos>"], initial_alphabet=alphabet)
    out.append(("split-behaviors", *save(t, workdir, "split-behaviors", {"eos_token": "<eos>"}),
                ["<eos>"]))

    # 5. Llama-2 style: byte fallback, fuse_unk, Prepend/Replace normalizers, and the decoder
    # Sequence Replace/ByteFallback/Fuse/Strip. The <0xXX> tokens are appended to the vocab.
    t = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"),
                                         normalizers.Replace(" ", "▁")])
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                   decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    train(t, 800, ["<unk>", "<s>", "</s>"], limit_alphabet=120)
    bos = t.token_to_id("<s>")
    t.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])

    def add_bytes(j):
        vocab = j["model"]["vocab"]
        n = max(vocab.values()) + 1
        for b in range(256):
            vocab.setdefault("<0x%02X>" % b, n + b)
    out.append(("llama2-bytefallback", *save(t, workdir, "llama2-bytefallback",
                                              {"bos_token": "<s>", "eos_token": "</s>"},
                                              edit=add_bytes), ["<s>", "</s>"]))

    # 6. continuing_subword_prefix / end_of_word_suffix and unk without fusing.
    t = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##",
                             end_of_word_suffix="</w>"))
    t.pre_tokenizer = pre_tokenizers.Split(Regex(r"\w+|[^\w\s]+"), behavior="isolated")
    t.decoder = decoders.Sequence([decoders.Replace("</w>", " "), decoders.Replace("##", "")])
    train(t, 1000, ["[UNK]", "[CLS]"], limit_alphabet=150, continuing_subword_prefix="##",
          end_of_word_suffix="</w>")
    out.append(("subword-affixes", *save(t, workdir, "subword-affixes"), ["[CLS]"]))
    return out


def run_tool(tool, directory, mode, records):
    data = "".join(json.dumps(r) + "\n" for r in records)
    p = subprocess.run([tool, "--tokenizer", directory, mode], input=data.encode(),
                       capture_output=True)
    if p.returncode != 0:
        raise RuntimeError(f"sl-tokenize {mode} on {directory} failed ({p.returncode}): "
                           + p.stderr.decode(errors="replace")[:2000])
    lines = p.stdout.decode().split("\n")[:-1]  # not splitlines(): U+2028 is text
    if len(lines) != len(records):
        raise RuntimeError(f"sl-tokenize {mode}: {len(lines)} outputs for {len(records)} inputs")
    return [json.loads(line) for line in lines]


def check(tool, name, directory, hf, specials, rng, count, text_filter=None):
    strings = make_strings(rng, specials, count)
    if text_filter:
        strings = [s for s in strings if text_filter(s)]
    failures = []

    def bad(what, detail):
        if len(failures) < 8:
            failures.append(f"{what}: {detail}")

    add = [i % 3 == 0 for i in range(len(strings))]
    enc = run_tool(tool, directory, "encode",
                   [{"text": s, "add_special": a} for s, a in zip(strings, add)])
    hf_ids = [hf.encode(s, add_special_tokens=a).ids for s, a in zip(strings, add)]
    for s, got, want in zip(strings, enc, hf_ids):
        if got.get("ids") != want:
            bad("encode", f"{s!r}: got {got}, want {want}")

    # Decode HF's ids and random id sequences (partial UTF-8, specials), both skip modes.
    vocab = hf.get_vocab_size(with_added_tokens=True)
    dec_in = [(ids, i % 2 == 1) for i, ids in enumerate(hf_ids)]
    for i in range(max(200, count // 5)):
        dec_in.append(([rng.randrange(vocab) for _ in range(rng.randint(0, 30))], i % 2 == 0))
    records = [{"ids": ids, "skip_special": skip} for ids, skip in dec_in]
    dec = run_tool(tool, directory, "decode", records)
    stream = run_tool(tool, directory, "stream", records)
    for (ids, skip), got, st in zip(dec_in, dec, stream):
        want = hf.decode(ids, skip_special_tokens=skip)
        if got.get("text") != want:
            bad("decode", f"{ids} skip={skip}: got {got}, want {want!r}")
        if st.get("text") != want:
            bad("stream", f"{ids} skip={skip}: got {st}, want {want!r}")

    # Round trip through our own ids.
    ours = [r.get("ids", []) for r in enc]
    rt = run_tool(tool, directory, "decode", [{"ids": ids, "skip_special": False} for ids in ours])
    for s, ids, got, want in zip(strings, ours, rt, hf_ids):
        if got.get("text") != hf.decode(want, skip_special_tokens=False):
            bad("round trip", f"{s!r}: got {got}")

    if failures:
        print(f"FAIL {name}: " + "\n  ".join(failures))
        return False
    print(f"PASS {name}: {len(strings)} strings, ids identical, round trip identical, "
          f"{len(dec_in)} decodes identical, stream identical")
    return True


def check_rejections(tool, workdir):
    """Unsupported components are load errors that name them."""
    base = Tokenizer(models.BPE())
    base.pre_tokenizer = pre_tokenizers.ByteLevel()
    train(base, 300, [], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    cases = [("NFC", lambda t: setattr(t, "normalizer", normalizers.NFC())),
             ("Metaspace", lambda t: setattr(t, "pre_tokenizer", pre_tokenizers.Metaspace())),
             ("WordPiece", lambda t: setattr(t, "decoder", decoders.WordPiece()))]
    ok = True
    for component, apply in cases:
        t = Tokenizer.from_str(base.to_str())
        apply(t)
        d, _ = save(t, workdir, "reject-" + component)
        p = subprocess.run([tool, "--tokenizer", d, "encode"], input=b'{"text": "x"}\n',
                           capture_output=True)
        err = p.stderr.decode(errors="replace")
        if p.returncode == 0 or component not in err or "tokenizer.json" not in err:
            print(f"FAIL reject-{component}: rc={p.returncode} stderr={err!r}")
            ok = False
    if ok:
        print("PASS rejections: NFC, Metaspace, WordPiece rejected with errors naming them")
    return ok


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    tool, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    rng = random.Random(int(os.environ.get("SL_TOKENIZER_SEED", "1234")))
    ok = True
    for name, directory, hf, specials in build_tokenizers(workdir):
        ok &= check(tool, name, directory, hf, specials, rng, 3000)
    tiny = os.path.join(ROOT, "models", "tiny")
    hf = Tokenizer.from_file(os.path.join(tiny, "tokenizer.json"))
    ok &= check(tool, "tiny-model", tiny, hf, ["<s>", "</s>", "<|im_start|>", "<|im_end|>",
                                               "<think>", "</think>", "<tool_call>"], rng, 1000)
    ok &= check_rejections(tool, workdir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
