#!/usr/bin/env python3
"""The dense-attention control of a superlinear checkpoint: the same weights with every
multi-step attention layer as ordinary causal attention (model_type nemotron_h, no span_attention_*
keys, the routing projections q1_proj dropped). Tokenizer, chat template and task files are
copied. Usage: make_dense_variant.py SUPERLINEAR_DIR OUT_DIR"""
import json
import os
import shutil
import sys

from safetensors.numpy import load_file, save_file


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(src, "config.json")) as f:
        config = json.load(f)
    if config.get("model_type") != "superlinear-exp":
        sys.exit(f"{src}/config.json: model_type is {config.get('model_type')!r}, "
                 "expected 'superlinear-exp'")
    config["model_type"] = "nemotron_h"
    for key in [k for k in config if k.startswith("span_attention_")]:
        del config[key]
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    tensors = load_file(os.path.join(src, "model.safetensors"))
    dense = {k: v for k, v in tensors.items() if ".q1_proj." not in k}
    save_file(dense, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json",
                 "chat_template.jinja", "niah_task.json"):
        if os.path.exists(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), os.path.join(out, name))
    print(f"{out}: {len(tensors) - len(dense)} routing projections dropped")


if __name__ == "__main__":
    main()
