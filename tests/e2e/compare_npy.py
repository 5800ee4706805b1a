#!/usr/bin/env python3
"""Compares two .npy files: `exact` (identical values) or `logits` (max |a - b| <= tol times
the largest |b|, the logit scale). Prints the measured error; exit status 1 on a mismatch."""
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
    error = float(np.abs(actual.astype(np.float64) - expected).max())
    print(f"max abs error {error:.3g} = {error / scale:.3g} of the logit scale {scale:.3g}")
    return 0 if error <= tol * scale else 1


if __name__ == "__main__":
    sys.exit(main())
