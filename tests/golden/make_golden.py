#!/usr/bin/env python3
"""Builds the golden fixtures of the end-to-end tests with transformers' own NemotronHForCausalLM.

Run on a machine with torch and transformers 5.x (the H200 machine has them; the model runs on
the CPU in fp32):  python3 tests/golden/make_golden.py OUT_DIR [NAME ...]
For each tiny config below it writes OUT_DIR/<name>/: config.json + model.safetensors
(save_pretrained), prompt.npy (int32 [T]), logits.npy (float32 [T, vocab], every prompt
position), greedy.npy (int32 [16], the greedy continuation by full forward passes) and
experts.npy (int32 [MoE layers, T, top_k]: the experts transformers' router chose at every
prompt position, in layer order, ascending within a row) and meta.json (versions, seeds). Weights are random and non-trivial: A_log, D, dt_bias, every norm,
the conv bias and the router correction bias are drawn away from their default 0/1 values, so a
wrong formula cannot hide behind zeros and ones.
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers import NemotronHConfig, NemotronHForCausalLM

CONFIGS = {
    # Mamba, MoE, attention; two Mamba and two MoE layers carry state/routing across layers.
    "tiny-mem-a": dict(
        vocab_size=256, hidden_size=64, num_hidden_layers=5, hybrid_override_pattern="MEM*E",
        mamba_num_heads=8, mamba_head_dim=8, n_groups=2, ssm_state_size=16, conv_kernel=4,
        chunk_size=32, n_routed_experts=8, num_experts_per_tok=2, moe_intermediate_size=32,
        moe_shared_expert_intermediate_size=48, n_shared_experts=1, routed_scaling_factor=2.5,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, prompt_length=45, seed=11),
    # An MLP layer, two attention layers with a GQA group of 3, a wider Mamba head, vocab not a
    # power of two.
    "tiny-mlp-b": dict(
        vocab_size=300, hidden_size=96, num_hidden_layers=6, hybrid_override_pattern="M*-E*M",
        mamba_num_heads=4, mamba_head_dim=32, n_groups=1, ssm_state_size=32, conv_kernel=4,
        chunk_size=32, intermediate_size=128, n_routed_experts=4, num_experts_per_tok=2,
        moe_intermediate_size=48, moe_shared_expert_intermediate_size=64, n_shared_experts=1,
        routed_scaling_factor=1.5, num_attention_heads=6, num_key_value_heads=2, head_dim=16,
        prompt_length=37, seed=23),
    # Shapes that are not powers of two (the Nemotron-H family has Mamba head_dim 80, 96 heads):
    # 6 Mamba heads of head_dim 24 in 3 groups with state 24 and chunk_size 8, attention
    # head_dim 80, 6 experts top-3, an odd vocab.
    "tiny-odd-c": dict(
        vocab_size=301, hidden_size=72, num_hidden_layers=5, hybrid_override_pattern="MEM*E",
        mamba_num_heads=6, mamba_head_dim=24, n_groups=3, ssm_state_size=24, conv_kernel=4,
        chunk_size=8, n_routed_experts=6, num_experts_per_tok=3, moe_intermediate_size=40,
        moe_shared_expert_intermediate_size=56, n_shared_experts=1, routed_scaling_factor=2.0,
        num_attention_heads=4, num_key_value_heads=2, head_dim=80, prompt_length=53, seed=31),
    # 12 Mamba heads of head_dim 80 in one group, state 40, chunk_size 48; attention head_dim 96
    # with a GQA group of 2; an MLP layer; 7 experts top-3.
    "tiny-odd-d": dict(
        vocab_size=257, hidden_size=80, num_hidden_layers=6, hybrid_override_pattern="M*-EMM",
        mamba_num_heads=12, mamba_head_dim=80, n_groups=1, ssm_state_size=40, conv_kernel=4,
        chunk_size=48, intermediate_size=100, n_routed_experts=7, num_experts_per_tok=3,
        moe_intermediate_size=36, moe_shared_expert_intermediate_size=52, n_shared_experts=1,
        routed_scaling_factor=1.5, num_attention_heads=6, num_key_value_heads=3, head_dim=96,
        prompt_length=70, seed=37),
    # A long prompt (150 tokens: several scan chunks in one call): 12 Mamba heads of head_dim
    # 24 in 3 groups, state 20, chunk_size 48; attention head_dim 64 with 3 heads on 1 kv head.
    "tiny-odd-e": dict(
        vocab_size=333, hidden_size=48, num_hidden_layers=4, hybrid_override_pattern="MEM*",
        mamba_num_heads=12, mamba_head_dim=24, n_groups=3, ssm_state_size=20, conv_kernel=4,
        chunk_size=48, n_routed_experts=6, num_experts_per_tok=3, moe_intermediate_size=24,
        moe_shared_expert_intermediate_size=32, n_shared_experts=1, routed_scaling_factor=2.5,
        num_attention_heads=3, num_key_value_heads=1, head_dim=64, prompt_length=150, seed=41),
    # Superlinear (model_type superlinear-exp): two multi-step attention layers (window 15 at
    # sw_index 3, p = 0.5; 2 spans) after Mamba layers, an MLP layer; the 220-token prompt puts
    # 205 queries past the window, so anchors, top-k, spans and the gate all act. Built by the
    # PyTorch model the NIAH model trains with (tools/niah/superlinear_torch.py).
    "tiny-msa-f": dict(
        vocab_size=272, hidden_size=64, num_hidden_layers=6, hybrid_override_pattern="MM*-M*",
        mamba_num_heads=4, mamba_head_dim=16, n_groups=1, ssm_state_size=16, conv_kernel=4,
        chunk_size=32, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
        head_dim=16, span_attention_sw_index=3, span_attention_num_spans=2,
        span_attention_backward_factor=3.0, span_attention_forward_factor=1.0,
        span_attention_search_power=0.5, span_attention_span_power=0.5, prompt_length=220,
        seed=53),
}
NEW_TOKENS = 16


def perturb(model, generator):
    """Moves the parameters that default to 0/1 away from them."""
    def rand(shape, scale, offset=0.0):
        return torch.randn(shape, generator=generator) * scale + offset

    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("A_log"):
                param.copy_(torch.log(torch.rand(param.shape, generator=generator) * 7 + 1))
            elif name.endswith(".D"):
                param.copy_(rand(param.shape, 0.5, 1.0))
            elif name.endswith("dt_bias"):
                param.copy_(rand(param.shape, 0.5, -2.0))
            elif "norm" in name and name.endswith("weight"):
                param.copy_(rand(param.shape, 0.2, 1.0))
            elif "conv1d.bias" in name:
                param.copy_(rand(param.shape, 0.2))
        for name, buffer in model.named_buffers():
            if name.endswith("e_score_correction_bias"):
                buffer.copy_(rand(buffer.shape, 0.2))
        for name, param in model.named_parameters():
            if name.endswith("e_score_correction_bias"):
                param.copy_(rand(param.shape, 0.2))


def build(name, spec, out_dir):
    spec = dict(spec)
    prompt_length, seed = spec.pop("prompt_length"), spec.pop("seed")
    torch.manual_seed(seed)
    common = dict(mlp_hidden_act="relu2", layer_norm_epsilon=1e-5, use_conv_bias=True,
                  initializer_range=0.08, tie_word_embeddings=False, use_mamba_kernels=False,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0, torch_dtype="float32")
    superlinear = "span_attention_sw_index" in spec
    if superlinear:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                        "tools", "niah"))
        import superlinear_torch
        model = superlinear_torch.build_model({**spec, **common}).float().eval()
        config = model.config
    else:
        config = NemotronHConfig(**spec, **common)
        model = NemotronHForCausalLM(config).float().eval()
    generator = torch.Generator().manual_seed(seed + 1)
    perturb(model, generator)
    prompt = torch.randint(3, config.vocab_size, (1, prompt_length), generator=generator)
    # The router's choices of the full-prompt forward pass, one entry per MoE layer in order.
    choices = []
    routers = [m for m in model.modules() if type(m).__name__ == "NemotronHTopkRouter"]
    hooks = [r.register_forward_hook(lambda _m, _i, out: choices.append(out[2].detach().clone()))
             for r in routers]
    with torch.no_grad():
        logits = model(prompt).logits[0].float().numpy()
    for hook in hooks:
        hook.remove()
    experts = None
    if routers:
        experts = np.stack([np.sort(c.numpy(), axis=-1) for c in choices]).astype(np.int32)
        assert experts.shape == (len(routers), prompt_length, config.num_experts_per_tok)
    with torch.no_grad():
        ids = prompt.clone()
        for _ in range(NEW_TOKENS):
            step = model(ids).logits[0, -1]
            ids = torch.cat([ids, step.argmax().view(1, 1)], dim=1)
        greedy = ids[0, prompt_length:].numpy().astype(np.int32)
    target = os.path.join(out_dir, name)
    if superlinear:
        superlinear_torch.save_checkpoint(model, spec, target)
    else:
        model.save_pretrained(target, safe_serialization=True)
    np.save(os.path.join(target, "prompt.npy"), prompt[0].numpy().astype(np.int32))
    np.save(os.path.join(target, "logits.npy"), logits.astype(np.float32))
    np.save(os.path.join(target, "greedy.npy"), greedy)
    if experts is not None:
        np.save(os.path.join(target, "experts.npy"), experts)
    meta = {"transformers": transformers.__version__, "torch": torch.__version__,
            "seed": seed, "prompt_length": prompt_length, "new_tokens": NEW_TOKENS,
            "logit_scale": float(np.abs(logits).max()),
            "tensors": sorted(n for n, _ in model.state_dict().items())}
    with open(os.path.join(target, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"{name}: logits {logits.shape}, |logits| max {meta['logit_scale']:.3f}, "
          f"greedy {greedy.tolist()}")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "golden-out"
    names = sys.argv[2:] or list(CONFIGS)
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        build(name, CONFIGS[name], out_dir)


if __name__ == "__main__":
    main()
