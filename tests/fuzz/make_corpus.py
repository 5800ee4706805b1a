#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/ (committed; keep
them small). Seeds come from models/tiny, tests/ and hand-made inputs: valid files and truncated
or slightly broken ones.

usage: make_corpus.py [ARTIFACT.slpkg]
The artifact seed is an `slc compile` of models/tiny (tools/fuzz.sh documents the commands); without
the argument the artifact corpus is left as it is.
"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TINY = os.path.join(ROOT, "models", "tiny")
CORPUS = os.path.join(HERE, "corpus")


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def truncations(data, count=3):
    """A few prefixes of `data` (for the binary readers' truncation checks)."""
    return [data[: len(data) * i // (count + 1)] for i in range(1, count + 1)]


# --- JSON --------------------------------------------------------------------------------------
JSON_TEXTS = {
    "object": '{"a": 1, "b": [true, false, null], "c": {"d": "e\\u00e9\\ud83d\\ude00"}, "f": -1.5e-3}',
    "array": '[1, 2.5, -3, 18446744073709551615, -9223372036854775808, 1e308, "x", [], {}]',
    "deep": "[" * 70 + "]" * 70,
    "duplicates": '{"k": 1, "k": 2, "l": {"m": 3, "m": 4}}',
    "many-keys": json.dumps({"k%d" % i: i for i in range(200)}),
    "strings": json.dumps(["", "\t\n\"\\/", "\u0000\u001f", "\u00e9\u4e2d\U0001f600"]),
    "broken": '{"a": [1, 2,, 3]}',
    "trailing": '{"a": 1} x',
    "request": json.dumps({"model": "tiny", "messages": [{"role": "user", "content": "hi"}],
                           "max_tokens": 8, "stream": True, "temperature": 0.5}),
}


def json_corpus():
    texts = dict(JSON_TEXTS)
    texts["config"] = read(os.path.join(TINY, "config.json"), "r")
    texts["tokenizer-config"] = read(os.path.join(TINY, "tokenizer_config.json"), "r")
    # Byte 0 selects ordered/duplicates/limits (json_fuzzer.cpp): 0xFC = unordered, duplicates
    # rejected, depth 64, keys unlimited; 0xFD ordered; 0xFE duplicates allowed; 0x08 = depth 2,
    # one key per object.
    for name, text in texts.items():
        for mode in (0xFC, 0xFD, 0xFE, 0x08):
            write("json", "%s-%02x.json" % (name, mode), bytes([mode]) + text.encode("utf-8"))


# --- tokenizer ---------------------------------------------------------------------------------
def small_tokenizer(**parts):
    vocab = {"<unk>": 0, "<s>": 1, "a": 2, "b": 3, "ab": 4, "\u0120": 5, "\u0120a": 6, "c": 7,
             "<0x41>": 8, "\u2581": 9, "\u2581a": 10}
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 1, "content": "<s>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None, "pre_tokenizer": None, "post_processor": None, "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": ["a b", ["\u0120", "a"], "\u2581 a"]},
    }
    tok.update(parts)
    return json.dumps(tok, ensure_ascii=False, indent=1)


def tokenizer_corpus():
    real = read(os.path.join(TINY, "tokenizer.json"))
    write("tokenizer_load", "tiny-tokenizer.json", real)
    write("tokenizer_load", "tiny-truncated.json", real[:5000])
    write("tokenizer_load", "minimal.json", small_tokenizer())
    write("tokenizer_load", "normalizers.json", small_tokenizer(normalizer={
        "type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"}, {"type": "NFKC"}, {"type": "Lowercase"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
            {"type": "Strip", "strip_left": True, "strip_right": True}]}))
    write("tokenizer_load", "pretokenizers.json", small_tokenizer(pre_tokenizer={
        "type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "\\p{L}+|\\s+(?!\\S)|[0-9]{1,3}"},
             "behavior": "Isolated", "invert": False},
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
             "use_regex": False}]}))
    write("tokenizer_load", "decoders.json", small_tokenizer(decoder={
        "type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}))
    write("tokenizer_load", "processors.json", small_tokenizer(post_processor={
        "type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
             "use_regex": False},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}]}))
    write("tokenizer_load", "byte-fallback.json", small_tokenizer(model={
        "type": "BPE", "unk_token": "<unk>", "fuse_unk": True, "byte_fallback": True,
        "continuing_subword_prefix": "##", "end_of_word_suffix": "</w>",
        "vocab": {"<unk>": 0, "<0x41>": 1, "a": 2, "##b": 3, "ab": 4, "b</w>": 5, "##b</w>": 6},
        "merges": ["a ##b"]}))
    # tokenizer_encode: byte 0 = mode (bit 0 add special tokens, bit 1 skip special tokens when
    # decoding, bit 2 the rest is int32 ids), then text (tokenizer_encode_fuzzer.cpp).
    texts = {
        "ascii": "Hello, world! It's 2026; x=1+2.",
        "unicode": "caf\u00e9 \u20ac \U0001f600 \u4e2d\u6587 \u0645\u0631\u062d\u0628\u0627 \u00a0\u200b",
        "special": "<|im_start|>user\nhi<|im_end|>\n<think>x</think><tool_call>",
        "whitespace": "  a\t\tb\n\n\r\n   \u3000 end  ",
        "long-word": "a" * 300 + " " + "ab" * 100,
        "digits": "0123456789 3.14159 1,000,000",
    }
    for name, text in texts.items():
        write("tokenizer_encode", name + ".txt", bytes([0]) + text.encode("utf-8"))
        write("tokenizer_encode", name + "-special.txt", bytes([3]) + text.encode("utf-8"))
    write("tokenizer_encode", "invalid-utf8.txt", bytes([0]) + b"ab\xc3(\xff\xfe\xe2\x82")
    ids = [0, 1, 2, 3, 4, 5, 100, 300, 511, 512, 70000, -1, 0x7FFFFFFF]
    write("tokenizer_encode", "ids.bin", bytes([4]) + struct.pack("<%di" % len(ids), *ids))
    write("tokenizer_encode", "ids-skip.bin", bytes([6]) + struct.pack("<%di" % len(ids), *ids))


# --- chat templates ----------------------------------------------------------------------------
def template_corpus():
    write("jinja_template", "tiny-chat-template.jinja", read(os.path.join(TINY, "chat_template.jinja")))
    sys.path.insert(0, os.path.join(ROOT, "tests", "chat"))
    try:
        import check_templates  # the engine's compatibility cases (needs jinja2)
        for name, source in check_templates.TEMPLATES.items():
            write("jinja_template", name + ".jinja", source)
        for i, source in enumerate(check_templates.SNIPPETS):
            write("jinja_template", "snippet%03d.jinja" % i, source)
    except ImportError as e:
        print("make_corpus.py: tests/chat/check_templates.py not importable (%s): "
              "only the hand-made templates" % e, file=sys.stderr)
    hand = {
        "macro-recursion": "{% macro f(n) %}{{ n }}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}",
        "loops": "{% for m in messages if m.role != 'tool' %}{{ loop.index }}/{{ loop.length }}"
                 "{% if loop.first %}^{% endif %}{{ m.role | upper }}{% else %}none{% endfor %}",
        "filters": "{{ text | split(',') | join('|') }} {{ messages | map(attribute='role') | unique | list }}"
                   " {{ tools | tojson(indent=2) }} {{ x | abs }} {{ n | string | center(9) }}",
        "set-namespace": "{% set ns = namespace(a=0) %}{% for i in range(n) %}{% set ns.a = ns.a + i %}"
                         "{% endfor %}{{ ns.a }}{% set b %}block{% endset %}{{ b | trim }}",
        "call-block": "{% macro w() %}[{{ caller() }}]{% endmacro %}{% call w() %}in{% endcall %}",
        "nesting": "{{ ((((((((((1)))))))))) }}{% if 1 %}{% if 2 %}{% if 3 %}x{% endif %}{% endif %}{% endif %}",
        "arith": "{{ 2 ** 62 }} {{ 9223372036854775807 + 1 }} {{ 'ab' * 3 }} {{ [1] * 3 }} {{ -9223372036854775808 // -1 }}",
        "whitespace": "  {%- if true +%}  x  {%+ endif -%}  \n{# c #}\n{% raw %}{{ raw }}{% endraw %}",
    }
    for name, source in hand.items():
        write("jinja_template", name + ".jinja", source)

    # chat_messages: {"messages", "tools", "add_generation_prompt", "extra"} or bare messages.
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather.",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                             "required": ["city"]}}}]
    requests = {
        "simple": {"messages": [{"role": "user", "content": "Hi"}]},
        "system-tools": {"messages": [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "Weather in Paris?"}],
                         "tools": tools, "add_generation_prompt": True},
        "tool-turns": {"messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": "", "reasoning_content": "call it",
             "tool_calls": [{"type": "function", "function": {"name": "get_weather",
                                                            "arguments": {"city": "Paris"}}}]},
            {"role": "tool", "content": "sunny"},
            {"role": "assistant", "content": "Sunny."}], "tools": tools,
            "extra": {"enable_thinking": False}},
        "list-content": {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                                   "b", {"type": "image"}]}]},
        "bad-system": {"messages": [{"role": "user", "content": "x"},
                                    {"role": "system", "content": "late"}]},
        "wrong-types": {"messages": [{"role": 1, "content": None}, "str", [], {"content": {"a": 1}}],
                        "tools": "x", "extra": {"enable_thinking": "yes"}},
    }
    for name, request in requests.items():
        write("chat_messages", name + ".json", json.dumps(request, ensure_ascii=False))
    write("chat_messages", "bare-list.json", json.dumps([{"role": "user", "content": "hi"}]))


# --- safetensors -------------------------------------------------------------------------------
def safetensors_file(tensors, metadata=None, header_override=None):
    header, data = {}, b""
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    if metadata is not None:
        header["__metadata__"] = metadata
    text = header_override if header_override is not None else json.dumps(header)
    text = text.encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def safetensors_corpus():
    f32 = struct.pack("<4f", 1.0, -2.5, 3.0e38, float("nan"))
    f16 = struct.pack("<4H", 0x3C00, 0x8001, 0x7C00, 0x7E00)
    bf16 = struct.pack("<4H", 0x3F80, 0xFF80, 0x0001, 0x7FC0)
    valid = safetensors_file([("w.f32", "F32", [2, 2], f32), ("w.f16", "F16", [4], f16),
                              ("w.bf16", "BF16", [1, 4], bf16), ("empty", "F32", [0, 3], b""),
                              ("scalar", "F32", [], f32[:4])], metadata={"format": "pt"})
    write("safetensors", "valid.safetensors", valid)
    for i, part in enumerate(truncations(valid)):
        write("safetensors", "valid-truncated%d.safetensors" % i, part)
    write("safetensors", "bad-offsets.safetensors", safetensors_file([], header_override=json.dumps(
        {"t": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})) + b"\0" * 8)
    write("safetensors", "huge-shape.safetensors", safetensors_file([], header_override=json.dumps(
        {"t": {"dtype": "F16", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})))
    write("safetensors", "bad-dtype.safetensors", safetensors_file([("t", "I64", [1], b"\0" * 8)]))
    write("safetensors", "huge-header-length.safetensors", struct.pack("<Q", 2**64 - 1) + b"{}")
    # The head of the real checkpoint: its whole header and the first tensors.
    write("safetensors", "tiny-head.safetensors", read(os.path.join(TINY, "model.safetensors"))[:16384])


# --- npy ---------------------------------------------------------------------------------------
def npy_file(descr, shape, payload, version=1, fortran=False, header=None):
    shape_text = "(" + "".join("%d, " % d for d in shape).rstrip(" ")
    if len(shape) != 1:
        shape_text = shape_text.rstrip(",")
    shape_text += ")"
    text = header if header is not None else "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", shape_text)
    prefix = 10 if version == 1 else 12
    total = prefix + len(text) + 1
    text += " " * ((64 - total % 64) % 64) + "\n"
    length = struct.pack("<H", len(text)) if version == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + length + text.encode("latin-1") + payload


def npy_corpus():
    write("npy", "tiny-prompt.npy", read(os.path.join(TINY, "prompt.npy")))
    write("npy", "f32.npy", npy_file("<f4", [2, 3], struct.pack("<6f", *range(6))))
    write("npy", "i64-v2.npy", npy_file("<i8", [3], struct.pack("<3q", -1, 0, 2**62), version=2))
    write("npy", "u8-v3.npy", npy_file("|u1", [], b"\x07", version=3))
    write("npy", "f16-empty.npy", npy_file("<f2", [0, 5], b""))
    write("npy", "u2.npy", npy_file("<u2", [2, 1, 2], struct.pack("<4H", 1, 2, 3, 0xFFFF)))
    write("npy", "f8.npy", npy_file("<f8", [1], struct.pack("<d", 0.5)))
    write("npy", "i4.npy", npy_file("<i4", [2], struct.pack("<2i", -5, 7)))
    write("npy", "big-endian.npy", npy_file(">f4", [1], b"\0" * 4))
    write("npy", "fortran.npy", npy_file("<f4", [1], b"\0" * 4, fortran=True))
    write("npy", "structured.npy", npy_file("", [], b"", header="{'descr': [('a', '<i4'), ('b', '<f8')], 'fortran_order': False, 'shape': (1,), }"))
    write("npy", "huge-shape.npy", npy_file("<f8", [2**40, 2**40], b""))
    valid = npy_file("<f4", [4], struct.pack("<4f", 1, 2, 3, 4))
    for i, part in enumerate(truncations(valid)):
        write("npy", "truncated%d.npy" % i, part)


# --- artifact ----------------------------------------------------------------------------------
def artifact_corpus(path):
    data = read(path)
    write("artifact", "tiny.slpkg", data)
    write("artifact", "tiny-truncated.slpkg", data[: len(data) // 2])
    write("artifact", "tiny-head.slpkg", data[:4096])


# --- config.json (slc import) ------------------------------------------------------------------
def importer_corpus():
    write("importer_config", "tiny-config.json", read(os.path.join(TINY, "config.json")))
    inputs = os.path.join(ROOT, "tests", "import", "Inputs")
    for name in sorted(os.listdir(inputs)):
        config = os.path.join(inputs, name, "config.json")
        if os.path.isfile(config):
            write("importer_config", name + "-config.json", read(config))
    dense = os.path.join(ROOT, "tests", "compile", "Inputs", "tiny-dense-bf16", "config.json")
    if os.path.isfile(dense):
        write("importer_config", "tiny-dense-bf16-config.json", read(dense))
    write("importer_config", "nonfinite.json", '{"model_type": "superlinear-exp", "hidden_size": 64, "rms_norm_eps": NaN, "x": Infinity}')
    write("importer_config", "wrong-types.json", '{"model_type": 3, "hidden_size": "64", "num_hidden_layers": -1}')


def main():
    json_corpus()
    tokenizer_corpus()
    template_corpus()
    safetensors_corpus()
    npy_corpus()
    importer_corpus()
    if len(sys.argv) > 1:
        artifact_corpus(sys.argv[1])


if __name__ == "__main__":
    main()
