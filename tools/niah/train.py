#!/usr/bin/env python3
"""Trains models/niah-tiny: a small superlinear Nemotron-H (Mamba-2, multi-step attention and MLP
layers; superlinear_torch.py) on the needle-in-a-haystack task of models/niah-tiny/niah_task.json
(task.py), and writes the checkpoint `slc import` reads.

Loss: cross-entropy of the answer (the value's digits and <|im_end|>), plus a routing term: at the
positions that predict the answer, each multi-step layer's anchor scores (a softmax over all
valid anchors of each head) are pulled towards the anchors whose span holds the needle's value
(only where the needle lies before the window, so that routing decides). The routing term
trains what the gate alone teaches slowly: which anchor to keep in the top-k.
Lengths grow by a curriculum from --min-len to --max-len; each step has --batch-tokens tokens.

Usage (GPU): train.py --out DIR [--steps N | --time-limit S] [--resume STATE] [--state STATE]
Runs on the CPU too (slowly; for a smoke test use --steps 2 --max-len 256)."""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import superlinear_torch as slt  # noqa: E402
import task as niah  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MODEL_DIR = os.path.join(ROOT, "models", "niah-tiny")

CONFIG = dict(
    vocab_size=272, hidden_size=256, num_hidden_layers=8, hybrid_override_pattern="MM*-MM*-",
    mamba_num_heads=16, mamba_head_dim=32, n_groups=1, ssm_state_size=64, conv_kernel=4,
    chunk_size=128, intermediate_size=768, num_attention_heads=4, num_key_value_heads=2,
    head_dim=64, mlp_hidden_act="relu2", layer_norm_epsilon=1e-5, use_conv_bias=True,
    tie_word_embeddings=False, use_mamba_kernels=False, bos_token_id=1, eos_token_id=[2, 4],
    pad_token_id=0, torch_dtype="float32", initializer_range=0.02,
    # Multi-step attention: window 63 (sw_index 7 at p = 0.5), 3 spans, spans 3 sqrt(t) back
    # and sqrt(t) forward of their anchor.
    span_attention_sw_index=7, span_attention_num_spans=3, span_attention_backward_factor=3.0,
    span_attention_forward_factor=1.0, span_attention_search_power=0.5,
    span_attention_span_power=0.5)


def batch(task, rng, length, size, needles=None):
    """Token ids [size, length + answer], answer-loss positions, value ranges. Without `needles`,
    1 to 4 needles (the others distractors)."""
    rows, targets, ranges = [], [], []
    for _ in range(size):
        count = needles or int(rng.integers(1, 5))
        prompt, answer, value_range, _ = task.example(rng, length, needles=count)
        ids = prompt + answer
        rows.append(ids)
        targets.append(len(prompt) - 1)          # first position that predicts the answer
        ranges.append(value_range)
    width = max(len(r) for r in rows)
    ids = torch.zeros(size, width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
    return ids, rows, targets, ranges


def losses(model, ids, rows, targets, ranges, answer_len, device):
    ids = ids.to(device)
    for layer in slt.msa_layers(model):
        layer.keep = True
    logits = model(ids).logits.float()
    B = ids.shape[0]
    pos = torch.tensor([[t + j for j in range(answer_len)] for t in targets], device=device)
    picked = torch.gather(logits, 1, pos[..., None].expand(B, answer_len, logits.shape[-1]))
    labels = torch.gather(ids, 1, pos + 1)
    answer_loss = F.cross_entropy(picked.reshape(-1, picked.shape[-1]), labels.reshape(-1))
    correct = (picked.argmax(-1) == labels).all(-1).float().mean()
    # Routing: anchors whose span covers the whole value, at the answer positions.
    route_terms = []
    for layer in slt.msa_layers(model):
        scores, anchors = layer.routing           # [B, H, T, A], [T, A]
        if scores.shape[-1] == 0:
            continue
        q = pos[:, :answer_len - 1]                # positions predicting the digits
        s = torch.gather(scores, 2, q[:, None, :, None].expand(B, scores.shape[1], q.shape[1],
                                                                scores.shape[-1]))
        a = anchors[q]                             # [B, Q, A]
        start, end = slt.span_bounds(a, q[..., None], layer.cfg)
        v0 = torch.tensor([r[0] for r in ranges], device=device)[:, None, None]
        v1 = torch.tensor([r[1] for r in ranges], device=device)[:, None, None]
        sw_start = (q - layer.cfg.window + 1).clamp(min=0)[..., None]
        cover = (a >= 0) & (start <= v0) & (end >= v1) & (v1 < sw_start)   # [B, Q, A]
        has = cover.any(-1)                        # queries where routing decides
        if not has.any():
            continue
        valid = torch.isfinite(s)
        log_all = torch.logsumexp(s.masked_fill(~valid, -1e30), -1)
        log_hit = torch.logsumexp(s.masked_fill(~cover[:, None], -1e30), -1)
        term = (log_all - log_hit)                 # [B, H, Q]
        route_terms.append(term[has[:, None].expand_as(term)].mean())
    route_loss = torch.stack(route_terms).mean() if route_terms else logits.new_zeros(())
    return answer_loss, route_loss, correct


def ceiling_at(progress, lo, hi):
    """Curriculum: lengths log-uniform up to a ceiling that grows from lo to hi over the first
    70% of the run."""
    return lo * (hi / lo) ** min(1.0, progress / 0.7)


def save_state(path, model, opt, step, elapsed, log):
    """Model (fp32) and optimizer (moments in bf16) as two files of under 16 MiB each."""
    opt_state = opt.state_dict()
    for entry in opt_state["state"].values():
        for name in ("exp_avg", "exp_avg_sq"):
            entry[name] = entry[name].to(torch.bfloat16)
    torch.save({"model": model.state_dict(), "step": step, "elapsed": elapsed, "log": log},
               path + ".model.pt")
    torch.save(opt_state, path + ".opt.pt")


def load_state(path, model, opt, device):
    state = torch.load(path + ".model.pt", map_location=device)
    model.load_state_dict(state["model"])
    opt_state = torch.load(path + ".opt.pt", map_location=device)
    for entry in opt_state["state"].values():
        for name in ("exp_avg", "exp_avg_sq"):
            entry[name] = entry[name].float()
    opt.load_state_dict(opt_state)
    return state["step"], state["elapsed"], state["log"]


@torch.no_grad()
def evaluate(model, task, device, lengths, count, seed):
    """Teacher-forced exact match of the whole answer, `count` fresh prompts per length."""
    model.eval()
    rng = np.random.default_rng(seed)
    answer_len = task.digits + 1
    result = {}
    for length in lengths:
        size = max(1, min(count, 32768 // length))
        hits = 0
        for first in range(0, count, size):
            n = min(size, count - first)
            ids, rows, targets, ranges = batch(task, rng, length, n, needles=1)
            logits = model(ids.to(device)).logits.float()
            for i, t in enumerate(targets):
                want = ids[i, t + 1:t + 1 + answer_len].to(device)
                hits += bool((logits[i, t:t + answer_len].argmax(-1) == want).all())
        result[length] = hits / count
        print(json.dumps({"eval_length": length, "exact": result[length], "prompts": count}),
              flush=True)
    model.train()
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--time-limit", type=float, default=0, help="seconds; stop and save early")
    ap.add_argument("--min-len", type=int, default=128)
    ap.add_argument("--max-len", type=int, default=4096)
    ap.add_argument("--batch-tokens", type=int, default=16384)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--route-weight", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--resume", help="state of an earlier run to continue (PATH of PATH.model.pt)")
    ap.add_argument("--state", help="where to write the state (default OUT/state)")
    ap.add_argument("--eval-lengths", type=lambda s: [int(x) for x in s.split(",")],
                    default=[1024, 4096, 16384])
    ap.add_argument("--eval-prompts", type=int, default=48)
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    slt.use_fast_scan()
    # float32 with TF32 matmuls: under bf16 autocast the routing scores and the scan's decays
    # lost the precision the answer needs, and a run of 1,876 steps learnt nothing.
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(args.seed)
    task = niah.Task.of_model(MODEL_DIR)
    model = slt.build_model(CONFIG).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.05)
    start_step, elapsed_before, log = 0, 0.0, []
    if args.resume:
        start_step, elapsed_before, log = load_state(args.resume, model, opt, device)
    rng = np.random.default_rng(args.seed * 1000 + start_step)
    params = sum(p.numel() for p in model.parameters())
    print(f"train: {params / 1e6:.2f}M parameters on {device}, steps {start_step}..{args.steps}",
          flush=True)
    answer_len = task.digits + 1
    t0 = time.time()
    step = start_step
    model.train()
    def progress():  # of the whole run: by steps, or by time when a time limit is given
        if args.time_limit:
            return (elapsed_before + time.time() - t0) / args.time_limit
        return step / args.steps

    while progress() < 1.0:
        ceiling = ceiling_at(progress(), args.min_len, args.max_len)
        length = int(math.exp(rng.uniform(math.log(args.min_len), math.log(ceiling))))
        size = max(1, args.batch_tokens // length)
        ids, rows, targets, ranges = batch(task, rng, length, size)
        lr = args.lr * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(
            math.pi * min(1.0, progress()))))
        for g in opt.param_groups:
            g["lr"] = lr
        answer_loss, route_loss, correct = losses(model, ids, rows, targets, ranges, answer_len,
                                                  device)
        loss = answer_loss + args.route_weight * route_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 25 == 0:
            row = dict(step=step, length=length, batch=size, lr=lr, answer_loss=answer_loss.item(),
                       route_loss=route_loss.item(), exact=correct.item(),
                       seconds=round(elapsed_before + time.time() - t0, 1))
            log.append(row)
            print(json.dumps(row), flush=True)
    elapsed = elapsed_before + time.time() - t0
    os.makedirs(args.out, exist_ok=True)
    save_state(args.state or os.path.join(args.out, "state"), model, opt, step, elapsed, log)
    scores = evaluate(model, task, device, args.eval_lengths, args.eval_prompts, args.seed + 99)
    export(model, args, step, elapsed, log, scores)
    print(f"train: {step} steps, {elapsed:.0f} s; checkpoint in {args.out}", flush=True)


def gpu_name():
    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def export(model, args, step, elapsed, log, scores):
    model = model.to("cpu").float()
    slt.save_checkpoint(model, CONFIG, args.out)
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json",
                 "chat_template.jinja", "niah_task.json"):
        shutil.copy(os.path.join(MODEL_DIR, name), os.path.join(args.out, name))
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"steps": step, "seconds": round(elapsed, 1), "args": vars(args),
                   "torch": torch.__version__, "gpu": gpu_name(), "teacher_forced_exact": scores,
                   "log": log}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
