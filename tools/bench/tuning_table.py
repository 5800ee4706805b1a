#!/usr/bin/env python3
"""The gain of tuned over heuristic tiles, per tile problem, from sltune's JSON lines.

usage: tuning_table.py tuning/h200.jsonl [more.jsonl ...]   -> a Markdown table on stdout
"""
import json
import sys


def main(paths):
    rows = []
    for path in paths:
        problems = {}
        for line in open(path):
            if not line.strip():
                continue
            record = json.loads(line)
            key = (record["gpu"], record["kernel"], json.dumps(record["bucket"], sort_keys=True))
            problem = problems.setdefault(key, {"heuristic": None, "best": None, "failed": 0})
            if "failed" in record:
                problem["failed"] += 1
                continue
            if record.get("heuristic"):
                problem["heuristic"] = record
            if problem["best"] is None or record["ms"] < problem["best"]["ms"]:
                problem["best"] = record
        for (gpu, kernel, bucket), problem in problems.items():
            heuristic, best = problem["heuristic"], problem["best"]
            if heuristic is None or best is None:
                continue
            def rate(record):
                if "tflops" in record and record["bucket"].get("m", 1) > 8:
                    return "%.0f TFLOP/s" % record["tflops"]
                if "gbps" in record:
                    return "%.0f GB/s" % record["gbps"]
                return ""
            shape = ", ".join("%s %s" % (k, v) for k, v in sorted(json.loads(bucket).items())
                              if k != "dtype")
            params = ", ".join("%s %s" % (k, v) for k, v in sorted(best["params"].items()))
            rows.append("| %s | %s | %s | %.4g ms %s | %.4g ms %s | %s | %.2fx | %d |" % (
                gpu, kernel, shape, heuristic["ms"], rate(heuristic), best["ms"], rate(best),
                "(the heuristic's)" if best is heuristic else params,
                heuristic["ms"] / best["ms"], problem["failed"]))
    print("| GPU | kernel | bucket | heuristic | tuned | tuned tiles | gain | failed |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
