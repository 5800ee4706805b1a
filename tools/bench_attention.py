#!/usr/bin/env python3
"""The attention-layer benchmark: the multi-step attention layer alone (tools/bench/msa-layer.mlir:
32 query heads, 2 kv heads, head dim 128, bf16), compiled by slc and timed by `slrun bench`
(kernel time), next to dense causal attention through PyTorch scaled_dot_product_attention with
the flash and cuDNN backends, measured in the same run on the same GPU.

  tools/bench_attention.py --slrun build/bin/slrun --artifact build/gpu-artifacts/msa-layer.slpkg \
      --commit SHA --output results.jsonl

Measurements (one JSON line each: bench, phase, context, tokens, ms, tok_per_s, gpu, commit, ...):
- prefill of 64K / 256K / 1M tokens from an empty cache: slc in 32K chunks (each chunk attends
  to everything before it); SDPA in one causal call over the whole sequence (dense attention's
  best case: no chunking overhead);
- one 32K chunk at positions 1M / 4M / 10M (slc: cache synthesised; SDPA: 32K queries against
  the prefix, causal aligned bottom-right);
- one decode step at 1M and 10M.
SDPA shapes that do not fit the GPU (or a backend refuses) are recorded with "error".
"""
import argparse
import json
import math
import subprocess
import sys
import time

K = 1024
PREFILLS = [64 * K, 256 * K, 1024 * K]
POSITIONS = [1024 * K, 4096 * K, 10240 * K]
DECODES = [1024 * K, 10240 * K]
CHUNK = 32 * K
HEADS, KV_HEADS, DIM = 32, 2, 128


def slc_runs(args):
    """slrun bench of the layer: one run per prefill length (chunk + decode contexts in the last)."""
    rows = []
    for index, tokens in enumerate(PREFILLS):
        contexts = sorted(set(POSITIONS + DECODES)) if index == len(PREFILLS) - 1 else [0]
        command = [args.slrun, "bench", "--device=cuda", "--artifact", args.artifact,
                   "--name=msa_layer", f"--prefill-tokens={tokens}", f"--chunk={CHUNK}",
                   "--contexts=" + ",".join(map(str, contexts)), "--decode-steps=20",
                   f"--commit={args.commit}", f"--output={args.output}.slc"]
        if args.profile:
            command.append("--profile")
        print("+", " ".join(command), flush=True)
        result = subprocess.run(command, capture_output=True, text=True)
        print(result.stdout + result.stderr, flush=True)
        if result.returncode != 0:
            sys.exit(f"bench_attention: slrun bench failed ({result.returncode})")
    with open(args.output + ".slc") as lines:
        for line in lines:
            row = json.loads(line)
            if row["phase"] == "prefill" or (row["phase"] == "chunk" and row["context"] > 0) or \
                    (row["phase"] == "decode" and row["context"] in DECODES):
                row["impl"] = "slc multi-step"
                rows.append(row)
    return rows


def sdpa_runs(args, gpu):
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention.bias import causal_lower_right
    F = torch.nn.functional
    backends = {"sdpa flash": SDPBackend.FLASH_ATTENTION, "sdpa cudnn": SDPBackend.CUDNN_ATTENTION}
    rows = []

    def timed(fn, repeats):
        fn()  # warm-up (kernel selection, workspace)
        torch.cuda.synchronize()
        times = []
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        return sorted(times)[len(times) // 2]

    def measure(name, backend, phase, context, q_len, kv_len):
        row = {"bench": "msa_layer", "impl": name, "phase": phase, "context": context,
               "tokens": q_len, "synthesized_cache": False, "device": "cuda", "gpu": gpu,
               "commit": args.commit}
        error = None
        # GQA natively (enable_gqa) where the backend takes it, else the 2 kv heads expanded to
        # the 32 query heads.
        for gqa in (True, False):
            q = k = v = None
            try:
                torch.cuda.empty_cache()
                gen = torch.Generator(device="cuda").manual_seed(context + q_len)
                q = torch.randn(1, HEADS, q_len, DIM, device="cuda", dtype=torch.bfloat16,
                                generator=gen)
                k = torch.randn(1, KV_HEADS, kv_len, DIM, device="cuda", dtype=torch.bfloat16,
                                generator=gen)
                v = torch.randn_like(k)
                if not gqa:
                    k = k.repeat_interleave(HEADS // KV_HEADS, dim=1)
                    v = v.repeat_interleave(HEADS // KV_HEADS, dim=1)
                if q_len == kv_len:
                    mask, causal = None, True
                elif q_len == 1:
                    mask, causal = None, False
                else:
                    mask, causal = causal_lower_right(q_len, kv_len), False
                with sdpa_kernel([backend]):
                    def run():
                        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                                              is_causal=causal, enable_gqa=gqa)
                    flops = 4 * q_len * kv_len * DIM * HEADS / (2 if q_len == kv_len else 1)
                    repeats = 1 if flops > 2e15 else 3 if flops > 1e14 else 10
                    ms = timed(run, repeats)
                row.update(ms=ms, tok_per_s=q_len / (ms / 1e3), gqa=gqa)
                error = None
                break
            except Exception as caught:  # recorded, not hidden: which shape and why
                error = f"{'gqa' if gqa else 'expanded'}: {type(caught).__name__}: {str(caught)[:160]}"
            finally:
                del q, k, v
        if error:
            row.update(ms=None, tok_per_s=None, error=error)
        print(json.dumps(row), flush=True)
        rows.append(row)

    for name, backend in backends.items():
        for tokens in PREFILLS:
            measure(name, backend, "prefill", 0, tokens, tokens)
        for position in POSITIONS:
            measure(name, backend, "chunk", position, CHUNK, position + CHUNK)
        for position in DECODES:
            measure(name, backend, "decode", position, 1, position + 1)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slrun", required=True)
    parser.add_argument("--artifact", required=True, help="tools/bench/msa-layer.mlir compiled "
                        "with --prefill-chunk=32768")
    parser.add_argument("--commit", default="unknown")
    parser.add_argument("--output", required=True, help="JSON lines (appended)")
    parser.add_argument("--profile", action="store_true", help="per-kernel profiles of slrun")
    parser.add_argument("--skip-sdpa", action="store_true")
    args = parser.parse_args()
    open(args.output + ".slc", "w").close()
    rows = slc_runs(args)
    gpu = rows[0]["gpu"] if rows else "unknown"
    if not args.skip_sdpa:
        rows += sdpa_runs(args, gpu)
    with open(args.output, "a") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    # Table: one line per (phase, context), every implementation side by side.
    impls = ["slc multi-step", "sdpa flash", "sdpa cudnn"]
    keys = sorted({(r["phase"], r["context"], r["tokens"]) for r in rows},
                  key=lambda k: (["prefill", "chunk", "decode"].index(k[0]), k[1], k[2]))
    print(f"{'phase':8} {'context':>9} {'tokens':>8} " + " ".join(f"{i:>16}" for i in impls) +
          "   cudnn/slc")
    for phase, context, tokens in keys:
        cells, ms = [], {}
        for impl in impls:
            match = [r for r in rows if (r["phase"], r["context"], r["tokens"], r["impl"]) ==
                     (phase, context, tokens, impl)]
            if match and match[0].get("ms") is not None:
                ms[impl] = match[0]["ms"]
                cells.append(f"{match[0]['ms']:13.3f} ms")
            else:
                cells.append(f"{'n/a' if not match else 'error':>16}")
        ratio = (f"{ms['sdpa cudnn'] / ms['slc multi-step']:8.1f}x"
                 if "sdpa cudnn" in ms and "slc multi-step" in ms else "")
        print(f"{phase:8} {context:9d} {tokens:8d} " + " ".join(cells) + "   " + ratio)
    print(f"({gpu}; slc: kernel time, chunks of {CHUNK}, chunk/decode at a position: cache "
          "synthesised; sdpa: enable_gqa where the backend takes it, else kv heads expanded; prefill in one causal call)")


if __name__ == "__main__":
    main()
