#!/usr/bin/env python3
"""Writes models/tiny/model.safetensors: random, non-trivial fp32 weights for the bundled tiny
superlinear model (config.json beside this file), in the Nemotron-H checkpoint layout with the
multi-step layers' Q1 projection as `mixer.q1_proj`. Deterministic (seed 7); needs numpy only.
The weights are random: the demo shows the toolchain working, not a trained model."""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    cfg = json.load(open(os.path.join(HERE, "config.json")))
    rng = np.random.default_rng(7)
    h, vocab = cfg["hidden_size"], cfg["vocab_size"]
    tensors = {}

    def put(name, shape, scale=0.08, offset=0.0):
        tensors[name] = (rng.standard_normal(shape) * scale + offset).astype(np.float32)

    put("backbone.embeddings.weight", (vocab, h), 0.5)
    for i, kind in enumerate(cfg["hybrid_override_pattern"]):
        p = f"backbone.layers.{i}."
        put(p + "norm.weight", (h,), 0.2, 1.0)
        m = p + "mixer."
        if kind == "M":
            heads, hd = cfg["mamba_num_heads"], cfg["mamba_head_dim"]
            inner, g, n = heads * hd, cfg["n_groups"], cfg["ssm_state_size"]
            conv = inner + 2 * g * n
            put(m + "in_proj.weight", (inner + conv + heads, h))
            put(m + "conv1d.weight", (conv, 1, cfg["conv_kernel"]), 0.3)
            put(m + "conv1d.bias", (conv,), 0.2)
            tensors[m + "A_log"] = np.log(rng.uniform(1, 8, heads)).astype(np.float32)
            put(m + "D", (heads,), 0.5, 1.0)
            put(m + "dt_bias", (heads,), 0.5, -2.0)
            put(m + "norm.weight", (inner,), 0.2, 1.0)
            put(m + "out_proj.weight", (h, inner))
        elif kind == "E":
            e, inter = cfg["n_routed_experts"], cfg["moe_intermediate_size"]
            put(m + "gate.weight", (e, h))
            put(m + "gate.e_score_correction_bias", (e,), 0.2)
            for j in range(e):
                put(m + f"experts.{j}.up_proj.weight", (inter, h))
                put(m + f"experts.{j}.down_proj.weight", (h, inter))
            shared = cfg["moe_shared_expert_intermediate_size"]
            put(m + "shared_experts.up_proj.weight", (shared, h))
            put(m + "shared_experts.down_proj.weight", (h, shared))
        elif kind == "*":
            q, kv = cfg["num_attention_heads"] * cfg["head_dim"], cfg["num_key_value_heads"] * cfg["head_dim"]
            for proj, rows in (("q_proj", q), ("q1_proj", q), ("k_proj", kv), ("v_proj", kv)):
                put(m + proj + ".weight", (rows, h), 0.2)
            put(m + "o_proj.weight", (h, q))
    put("backbone.norm_f.weight", (h,), 0.2, 1.0)
    put("lm_head.weight", (vocab, h), 0.2)

    header, offset = {}, 0
    for name in sorted(tensors):
        data = tensors[name]
        header[name] = {"dtype": "F32", "shape": list(data.shape),
                        "data_offsets": [offset, offset + data.nbytes]}
        offset += data.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(HERE, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name in sorted(tensors):
            f.write(tensors[name].tobytes())
    print(f"wrote {len(tensors)} tensors, {offset} bytes")


if __name__ == "__main__":
    main()
