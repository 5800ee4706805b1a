#!/usr/bin/env python3
"""Multi-step attention through the whole toolchain against an independent naive implementation
of SUPERLINEAR.md section 3 (written here, in numpy, from the document alone).

For each case it writes a one-layer .mlir (sl.multi_step_attention), compiles it with slc, runs
it with `slrun run` on random inputs (or a planted needle) and compares with the naive result.
Usage: msa_reference.py SLC SLRUN WORKDIR
"""
import math
import os
import subprocess
import sys

import numpy as np

HEADS, KV_HEADS, D = 4, 2, 16


def floor_power(i, p):
    inv = 1.0 / p
    if float(round(inv)) == inv:
        return i ** int(round(inv))
    return int(math.floor(i ** inv))


def naive(q1, q2, k, v, sw, k_spans, bf, ff, p, sp):
    """q1, q2: [T, H, D]; k, v: [T, KV, D] (the whole sequence, the queries are all positions)."""
    T = q1.shape[0]
    W = floor_power(sw + 1, p) - 1
    group = HEADS // KV_HEADS
    out = np.zeros((T, HEADS, D))
    for pos in range(T):
        t = pos + 1
        sw_start = max(pos - W + 1, 0)
        for h in range(HEADS):
            kvh = h // group
            cands = []
            i = sw + 1
            while True:
                a = pos - floor_power(i, p) + 1
                if a < 0:
                    break
                cands.append((float(np.dot(q1[pos, h].astype(np.float64), k[a, kvh])), i, a))
                i += 1
            cands.sort(key=lambda c: (-c[0], -c[1]))  # best score first, ties -> farther anchor
            top = cands[:k_spans]
            window = list(range(sw_start, pos + 1))

            def attend(keys):
                s = np.array([np.dot(q2[pos, h].astype(np.float64), k[j, kvh]) for j in keys])
                s /= math.sqrt(D)
                w = np.exp(s - s.max())
                return (w[:, None] * v[keys, kvh]).sum(0) / w.sum()

            if not top:
                out[pos, h] = attend(window)
                continue
            outs, scores = [], []
            for score, _, a in top:
                lo = max(a - math.ceil(bf * t ** sp), 0)
                hi = min(a + math.ceil(ff * t ** sp), pos, sw_start - 1)
                outs.append(attend(list(range(lo, hi + 1)) + window))
                scores.append(score)
            g = np.exp(np.array(scores) - max(scores))
            g /= g.sum()
            out[pos, h] = sum(gj * oj for gj, oj in zip(g, outs))
    return out


MLIR = """#msa = #sl.msa<sw_index = {sw}, num_spans = {k}, backward_factor = {bf:.1f}, forward_factor = {ff:.1f},
               search_power = {p}, span_power = {sp}>
!kv = !sl.kv_cache<kv_heads = {kv}, head_dim = {d}, element_type = f32>
func.func @msa_layer(%q1: tensor<?x{hd}xf32>, %q2: tensor<?x{hd}xf32>, %k: tensor<?x{kvd}xf32>,
                     %v: tensor<?x{kvd}xf32>, %cache: !kv) -> (tensor<?x{hd}xf32>, !kv) {{
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %cache {{config = #msa, num_heads = {h} : i64}}
      : (tensor<?x{hd}xf32>, tensor<?x{hd}xf32>, tensor<?x{kvd}xf32>, tensor<?x{kvd}xf32>, !kv)
      -> (tensor<?x{hd}xf32>, !kv)
  return %o, %c1 : tensor<?x{hd}xf32>, !kv
}}
"""


def run_case(slc, slrun, work, name, T, sw, k_spans, p, sp=0.5, bf=3.0, ff=1.0, needle=False,
             seed=0):
    rng = np.random.default_rng(seed)
    q1 = rng.standard_normal((T, HEADS, D)).astype(np.float32)
    q2 = rng.standard_normal((T, HEADS, D)).astype(np.float32)
    k = rng.standard_normal((T, KV_HEADS, D)).astype(np.float32)
    v = rng.standard_normal((T, KV_HEADS, D)).astype(np.float32)
    query, far = T - 1, 7
    if needle:
        # The last query's routing query points at key `far` of kv head 0; its value is marked.
        k[far, 0] = 4.0 * q1[query, 0] / np.linalg.norm(q1[query, 0])
        q2[query, 0] = 3.0 * k[far, 0]
        v[far, 0] = 50.0
    base = os.path.join(work, name)
    with open(base + ".mlir", "w") as f:
        f.write(MLIR.format(sw=sw, k=k_spans, bf=bf, ff=ff, p=p, sp=sp, kv=KV_HEADS, d=D,
                            hd=HEADS * D, kvd=KV_HEADS * D, h=HEADS))
    subprocess.run([slc, "compile", base + ".mlir", f"--prefill-chunk={T}", "-o",
                    base + ".slpkg"], check=True)
    names = []
    for label, array in (("q1", q1), ("q2", q2), ("k", k), ("v", v)):
        np.save(f"{base}.{label}.npy", array.reshape(T, -1))
        names.append(f"--input=@{base}.{label}.npy")
    subprocess.run([slrun, "run", "--artifact", base + ".slpkg", "--function=msa_layer", *names,
                    f"--output=@{base}.out.npy"], check=True)
    got = np.load(base + ".out.npy").reshape(T, HEADS, D)
    want = naive(q1, q2, k, v, sw, k_spans, bf, ff, p, sp)
    error = float(np.abs(got - want).max())
    ok = error <= 2e-4 * max(1.0, float(np.abs(want).max()))
    detail = ""
    if needle:
        # The needle's value dominates that query's head-0 output.
        dominated = got[query, 0].mean() > 25.0
        ok = ok and dominated
        detail = f", needle output mean {got[query, 0].mean():.1f}"
    W = floor_power(sw + 1, p) - 1
    print(f"{'PASS' if ok else 'FAIL'} {name}: T={T} W={W} k={k_spans} p={p} "
          f"max abs error {error:.2e}{detail}")
    return ok


def main():
    slc, slrun, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    cases = [
        # (name, T, sw_index, k, search_power)
        ("short-is-dense", 12, 3, 2, 0.5),      # T < W = 15: plain causal attention
        ("sw3-k2-p0.5", 400, 3, 2, 0.5),        # W = 15, many stripes
        ("sw5-k1-p0.55", 500, 5, 1, 0.55),      # W = floor(6^(1/0.55)) - 1 = 24
        ("sw8-k3-p0.55", 600, 8, 3, 0.55),      # W = 53
        ("sw4-k3-p0.5", 300, 4, 3, 0.5),        # W = 24
    ]
    ok = all(run_case(slc, slrun, work, *case, seed=i) for i, case in enumerate(cases))
    ok = run_case(slc, slrun, work, "needle", 500, 3, 2, 0.5, needle=True, seed=99) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
