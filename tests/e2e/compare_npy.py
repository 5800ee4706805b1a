#!/usr/bin/env python3
"""Compares two .npy files: `exact` (identical values), `logits` (max |a - b| <= tol times
the largest |b|, the logit scale), or `positions` (logits [T, vocab]: the rows whose max
|a - b| <= tol times the logit scale must be at least the fraction given as the next argument,
for bf16 MoE models whose expert choice may flip on a rounding difference). Prints the measured
error; exit status 1 on a mismatch."""
import sys

import numpy as np


def main():
    mode, actual_path, expected_path = sys.argv[1:4]
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
