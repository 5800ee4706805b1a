"""The needle-in-a-haystack task of models/niah-tiny (docs/niah.md), read from its niah_task.json:
filler words joined by single spaces, needles "The pass key for KEY is VALUE." between words, the
question after the haystack in the same user message, the needle's value as the answer. Text is
rendered with the model's chat template (ChatML after a bos token) and tokenized by its byte-level
tokenizer (byte b -> id BYTE_BASE + b)."""
import json
import os

import numpy as np

BOS, IM_START, IM_END = 1, 3, 4
BYTE_BASE = 5
PREFIX = [BOS, IM_START] + [BYTE_BASE + b for b in b"user\n"]
SUFFIX = [IM_END] + [BYTE_BASE + b for b in b"\n"] + [IM_START] + \
    [BYTE_BASE + b for b in b"assistant\n"]


def encode(text):
    return [BYTE_BASE + b for b in text.encode()]


class Task:
    def __init__(self, path):
        with open(path) as f:
            spec = json.load(f)
        self.words = spec["filler_words"]
        self.needle, self.question = spec["needle"], spec["question"]
        self.key_spec, self.digits = spec["key"], spec["value_digits"]
        self.word_ids = [encode(w) for w in self.words]
        self.filler = set(self.words)

    @classmethod
    def of_model(cls, model_dir):
        return cls(os.path.join(model_dir, "niah_task.json"))

    def key(self, rng):
        while True:
            letters = [rng.choice(list(self.key_spec["consonants" if c == "C" else "vowels"]))
                       for c in self.key_spec["pattern"]]
            key = "".join(letters)
            if key not in self.filler:
                return key

    def value(self, rng):
        return "".join(str(d) for d in rng.integers(0, 10, self.digits))

    def example(self, rng, length, needles=1, depth=None, with_needle=True):
        """One prompt of about `length` tokens (ids), its answer ids (value + <|im_end|>), and
        the token range [v0, v1] of the asked needle's value inside the prompt (None without it).
        `depth` in [0, 1] places the asked needle (else uniform); the other needles are
        distractors with other keys at uniform depths."""
        keys = []
        while len(keys) < needles:
            k = self.key(rng)
            if k not in keys:
                keys.append(k)
        values = [self.value(rng) for _ in keys]
        question = encode(self.question.format(key=keys[0]))
        budget = length - len(PREFIX) - len(SUFFIX) - len(question)
        needle_ids = [encode(self.needle.format(key=k, value=v)) for k, v in zip(keys, values)]
        budget -= sum(len(n) + 1 for n in needle_ids) if with_needle else 0
        # Filler words until the budget is spent; pieces (words and needles) are joined by single
        # spaces.
        words, used = [], 0
        while used < budget:
            w = self.word_ids[rng.integers(len(self.word_ids))]
            words.append(w)
            used += len(w) + (1 if len(words) > 1 else 0)
        slots = len(words) + 1
        depths = [depth if depth is not None else rng.random()] + \
            [rng.random() for _ in keys[1:]]
        at = [min(int(round(d * (slots - 1))), slots - 1) for d in depths]
        inserts = {}
        if with_needle:
            for i, slot in enumerate(at):
                inserts.setdefault(slot, []).append(i)
        haystack, value_range = [], None
        for slot in range(slots):
            pieces = [(i, needle_ids[i]) for i in inserts.get(slot, [])]
            if slot < len(words):
                pieces.append((None, words[slot]))
            for i, piece in pieces:
                if haystack:
                    haystack.append(BYTE_BASE + 32)
                if i == 0:
                    first = len(PREFIX) + len(haystack) + len(piece) - 1 - self.digits
                    value_range = (first, first + self.digits - 1)
                haystack += piece
        over = len(PREFIX) + len(haystack) + len(question) + len(SUFFIX) - length
        if over > 0:  # trim the tail filler, never into the asked needle
            tail = len(haystack) - over
            if value_range is None or tail > value_range[1] + 1 - len(PREFIX):
                haystack = haystack[:tail]
        prompt = PREFIX + haystack + question + SUFFIX
        answer = encode(values[0]) + [IM_END]
        return prompt, answer, value_range, values[0]
