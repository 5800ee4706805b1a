#!/usr/bin/env python3
"""Compares two .npy files: `exact` (identical values), `logits` (max |a - b| <= tol times
the largest |b|, the logit scale), or `positions` (logits [T, vocab]: the rows whose max
|a - b| <= tol times the logit scale must be at least the fraction given as the next argument).
Expert choices (`slrun logits --expert-choices`, int32 [MoE layers, T, top_k], rows ascending):
`experts A B FRACTION` requires the (token, layer) pairs whose choices agree to be at least
FRACTION; `experts-floor A B FLOOR_A FLOOR_B FACTOR` requires, in every layer, the share of
pairs where A and B disagree to be at most FACTOR times the share where FLOOR_A and FLOOR_B do
(the noise floor, e.g. the reference against itself under another chunking) plus 2 pairs;
`logits-where-agree GOT WANT GOT_EXPERTS WANT_EXPERTS TOL [MIN_FRACTION]` applies the
`logits` bound to the positions where every layer's choices agree (a bf16 rounding difference
may flip a choice, which moves that position's logits far), and fails unless at least
MIN_FRACTION (default 0.9) of the positions remain. Prints the measured agreement or error;
exit status 1 on a mismatch."""
import sys

import numpy as np


def load_experts(path):
    choices = np.load(path)
    if choices.ndim != 3 or choices.dtype != np.int32:
        raise SystemExit(f"{path}: expected int32 expert choices [layers, T, top_k], got "
                         f"{choices.dtype} {list(choices.shape)}")
    return choices


def agreeing_pairs(actual_path, expected_path):
    """[layers, T] booleans: the pairs whose chosen sets are the same."""
    actual, expected = load_experts(actual_path), load_experts(expected_path)
    if actual.shape != expected.shape:
        raise SystemExit(f"expert choices {list(actual.shape)} != expected {list(expected.shape)}")
    # Compared as sets: rows are written ascending, sorting again costs nothing.
    return (np.sort(actual, axis=2) == np.sort(expected, axis=2)).all(axis=2)


def experts(actual_path, expected_path, fraction):
    agree = agreeing_pairs(actual_path, expected_path)
    within = float(agree.mean())
    per_layer = " ".join(f"{x:.3f}" for x in agree.mean(axis=1))
    print(f"{within:.3f} of {agree.size} (token, layer) expert choices agree "
          f"(per layer: {per_layer}; bound {fraction:g})")
    return 0 if within >= fraction else 1


def experts_floor(args):
    actual, expected, floor_a, floor_b, factor = args[0], args[1], args[2], args[3], float(args[4])
    disagree = 1.0 - agreeing_pairs(actual, expected).mean(axis=1)
    floor = 1.0 - agreeing_pairs(floor_a, floor_b).mean(axis=1)
    tokens = load_experts(actual).shape[1]
    status = 0
    for layer, (d, f) in enumerate(zip(disagree, floor)):
        bound = factor * f + 2.0 / tokens
        print(f"MoE layer {layer}: {d:.4f} of {tokens} choices disagree, the noise floor "
              f"{f:.4f} (bound {bound:.4f})")
        status |= int(d > bound)
    return status


def logits_where_agree(args):
    got_path, want_path, got_experts, want_experts, tol = args[:5]
    tol = float(tol)
    min_fraction = float(args[5]) if len(args) > 5 else 0.9
    got, want = np.load(got_path), np.load(want_path)
    if got.shape != want.shape or got.ndim != 2:
        print(f"logits {got.shape} != expected {want.shape} (or not [T, vocab])")
        return 1
    agree = agreeing_pairs(got_experts, want_experts).all(axis=0)
    if agree.shape[0] != got.shape[0]:
        print(f"expert choices cover {agree.shape[0]} positions, the logits {got.shape[0]}")
        return 1
    kept = float(agree.mean())
    scale = float(np.abs(want).max())
    if not agree.any():
        print(f"no position where every layer's expert choices agree (of {len(agree)})")
        return 1
    error = float(np.abs(got[agree].astype(np.float64) - want[agree]).max())
    print(f"{kept:.3f} of {len(agree)} positions with the same expert choices "
          f"(at least {min_fraction:g}); there max abs error {error:.3g} = {error / scale:.3g} "
          f"of the logit scale {scale:.3g}")
    return 0 if kept >= min_fraction and error <= tol * scale else 1


def main():
    mode = sys.argv[1]
    if mode == "experts":
        return experts(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    if mode == "experts-floor":
        return experts_floor(sys.argv[2:])
    if mode == "logits-where-agree":
        return logits_where_agree(sys.argv[2:])
    actual_path, expected_path = sys.argv[2:4]
    actual, expected = np.load(actual_path), np.load(expected_path)
    if actual.shape != expected.shape:
        print(f"shape {actual.shape} != expected {expected.shape}")
        return 1
    if mode == "exact":
        equal = np.array_equal(actual, expected)
        print("equal" if equal else f"differ: {actual.tolist()} != {expected.tolist()}")
        return 0 if equal else 1
    tol = float(sys.argv[4])
    scale = float(np.abs(expected).max())
    if mode == "positions":
        fraction = float(sys.argv[5])
        rows = np.abs(actual.astype(np.float64) - expected).max(axis=1) / scale
        within = float((rows <= tol).mean())
        print(f"{within:.3f} of {len(rows)} positions within {tol:g} of the logit scale "
              f"{scale:.3g} (median {np.median(rows):.3g}, worst {rows.max():.3g})")
        return 0 if within >= fraction else 1
    error = float(np.abs(actual.astype(np.float64) - expected).max())
    print(f"max abs error {error:.3g} = {error / scale:.3g} of the logit scale {scale:.3g}")
    return 0 if error <= tol * scale else 1


if __name__ == "__main__":
    sys.exit(main())
