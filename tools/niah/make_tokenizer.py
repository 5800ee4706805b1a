#!/usr/bin/env python3
"""Writes the byte-level tokenizer of models/niah-tiny: tokenizer.json (a byte-level BPE with no
merges, so every byte of UTF-8 text is one token), tokenizer_config.json and
generation_config.json. Ids: the special tokens first, then the 256 byte symbols in byte order,
then reserved tokens up to VOCAB_SIZE (the model's vocabulary). Needs `tokenizers` (PyPI).
Deterministic. Usage: make_tokenizer.py MODEL_DIR"""
import json
import os
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers

VOCAB_SIZE = 272
SPECIAL = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]


def byte_symbols():
    """The byte-level alphabet in byte order (byte b -> its printable stand-in character)."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) +
                 list(range(ord("®"), ord("ÿ") + 1)))
    symbol, extra = {}, 0
    for b in range(256):
        if b in printable:
            symbol[b] = chr(b)
        else:
            symbol[b] = chr(256 + extra)
            extra += 1
    return [symbol[b] for b in range(256)]


def build():
    vocab = {s: i for i, s in enumerate(SPECIAL)}
    for b, s in enumerate(byte_symbols()):
        vocab[s] = len(SPECIAL) + b
    reserved = [f"<|reserved_{i}|>" for i in range(VOCAB_SIZE - len(vocab))]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIAL + reserved)
    assert tok.get_vocab_size(with_added_tokens=True) == VOCAB_SIZE
    return tok


def main():
    out = sys.argv[1]
    tok = build()
    tok.save(os.path.join(out, "tokenizer.json"))
    # Byte b is token len(SPECIAL) + b (the training script relies on it).
    assert tok.encode("A\n", add_special_tokens=False).ids == [len(SPECIAL) + 65, len(SPECIAL) + 10]
    config = {"bos_token": "<s>", "eos_token": "<|im_end|>", "unk_token": "<unk>",
              "pad_token": "<unk>", "add_bos_token": False,
              "tokenizer_class": "PreTrainedTokenizerFast"}
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    gen = {"bos_token_id": 1, "eos_token_id": [2, 4], "pad_token_id": 0}
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
