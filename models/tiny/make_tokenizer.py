#!/usr/bin/env python3
"""Writes models/tiny/tokenizer.json, tokenizer_config.json and generation_config.json: a
byte-level BPE tokenizer of exactly 512 entries (256 byte symbols, the special tokens below and
merges learnt from the small English corpus in this file), trained with HuggingFace
`tokenizers` (pip install tokenizers). Deterministic: the same corpus and settings give the same
files. The chat template is models/tiny/chat_template.jinja (not written here)."""
import json
import os

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB_SIZE = 512
SPECIAL = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<think>", "</think>",
           "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]

CORPUS = """\
The quick brown fox jumps over the lazy dog. A small model can still tell a story.
Once upon a time there was a little robot who lived in a quiet town by the sea.
Every morning the robot walked to the market, said hello to the baker, and bought bread.
The baker asked, "What will you do today?" and the robot answered, "I will learn something new."
User: What is the capital of France? Assistant: The capital of France is Paris.
User: Can you add two and three? Assistant: Two plus three is five.
Hello, world! How are you today? I am fine, thank you. Let me think about it.
The weather is nice and the sun is shining. We went to the park and played with the dog.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 100 2024 3.14 42.
She said that they would come back tomorrow, but nobody knew when exactly they would arrive.
Learning to read opens the door to new ideas, new places and new people.
The compiler turns the model into a program; the runtime runs the program on the machine.
Please call the tool with the city name and return the result as a short answer.
It was the best of times, it was the worst of times, it was the age of wisdom.
In the beginning the world was dark and quiet, and then the first light came over the hills.
Question: Why is the sky blue? Answer: Sunlight is scattered by the air, and blue light most.
Good morning! Good night! See you later. Thanks for your help with this problem.
"""


def main():
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIAL, min_frequency=1,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    lines = CORPUS.splitlines() * 4
    tok.train_from_iterator(lines, trainer=trainer)
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("<|im_end|>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)])
    assert tok.get_vocab_size(with_added_tokens=True) == VOCAB_SIZE, tok.get_vocab_size()
    tok.save(os.path.join(HERE, "tokenizer.json"))

    config = {"bos_token": "<s>", "eos_token": "<|im_end|>", "unk_token": "<unk>",
              "pad_token": "<unk>", "model_max_length": 4096, "add_bos_token": True,
              "tokenizer_class": "PreTrainedTokenizerFast"}
    with open(os.path.join(HERE, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    gen = {"bos_token_id": bos, "eos_token_id": [tok.token_to_id("</s>"), eos],
           "pad_token_id": tok.token_to_id("<unk>")}
    with open(os.path.join(HERE, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
        f.write("\n")
    print(f"wrote tokenizer: vocab {VOCAB_SIZE}, bos {bos}, eos {gen['eos_token_id']}")


if __name__ == "__main__":
    main()
