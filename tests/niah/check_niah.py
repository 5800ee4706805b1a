#!/usr/bin/env python3
"""Checks of `slrun niah` output for the lit tests in tests/niah (stdlib only).

  check_niah.py grid RESULTS.jsonl TABLE.txt --lengths 300,600 --depths 0,0.5,1 --trials 2
                [--png FILE] [--needles N] [--no-needle] [--device cpu]
      the JSON lines (fields, types, exact prompt lengths, cells = their trials, prefill reuse),
      the table on stdout against the cells, and the PNG heat map: decoded here (zlib, struct),
      its size as printed and every cell's colour for its accuracy.
  check_niah.py same A.jsonl B.jsonl [--fields key,value,reply,correct,prompt_tokens]
      the trial lines of two runs agree in the fields (same prompts, same answers).
  check_niah.py differ A.jsonl B.jsonl --field key
      the trials of two runs differ in that field (another seed draws other needles).
  check_niah.py accuracy RESULTS.jsonl [--at-least F] [--at-most F]
      the fraction of correct trials lies in the bounds (a trained model answers; a control
      without needles does not).

Prints "PASS <what>"; any failure exits non-zero with the reason."""
import argparse
import json
import re
import struct
import sys
import zlib

TRIAL_FIELDS = {"bench": str, "kind": str, "length": int, "prompt_tokens": int, "depth": float,
                "trial": int, "needles": int, "needle": bool, "key": str, "value": str,
                "reply": str, "correct": bool}
CELL_FIELDS = {"bench": str, "kind": str, "length": int, "depth": float, "trials": int,
               "correct": int, "accuracy": float, "needle": bool, "model": str, "label": str,
               "seconds": float, "prefill_tokens": int, "prompt_tokens": int}


def fail(message):
    print("FAIL " + message)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def typed(value, kind):
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def colour(accuracy):
    """The documented scale: red (0) -> yellow (0.5) -> green (1), linear, rounded."""
    anchors = [(215, 48, 39), (254, 224, 139), (26, 152, 80)]
    a = min(max(accuracy, 0.0), 1.0)
    lo = 0 if a < 0.5 else 1
    t = (a - 0.5 * lo) * 2
    return tuple(int(round(anchors[lo][i] + (anchors[lo + 1][i] - anchors[lo][i]) * t + 1e-9))
                 for i in range(3))


def decode_png(path):
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: no PNG signature")
    at, idat, chunks = 8, b"", []
    width = height = None
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        crc, = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        check(zlib.crc32(kind + body) == crc, f"{path}: bad CRC of {kind}")
        chunks.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
            check((depth, colour_type) == (8, 2), f"{path}: not 8-bit RGB")
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    check(chunks[0] == b"IHDR" and chunks[-1] == b"IEND", f"{path}: chunks {chunks}")
    raw = zlib.decompress(idat)
    stride = width * 3
    check(len(raw) == (stride + 1) * height, f"{path}: IDAT holds {len(raw)} bytes")
    rows = []
    for y in range(height):
        row = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        check(row[0] == 0, f"{path}: row {y} uses filter {row[0]}")
        rows.append(row[1:])
    return width, height, rows


def grid(args):
    lines = read_lines(args.results)
    lengths = [int(x) for x in args.lengths.split(",")]
    depths = [float(x) for x in args.depths.split(",")]
    trials = [l for l in lines if l.get("kind") == "trial"]
    cells = [l for l in lines if l.get("kind") == "cell"]
    check(len(trials) == len(lengths) * len(depths) * args.trials,
          f"{len(trials)} trial lines for {len(lengths)} x {len(depths)} x {args.trials}")
    check(len(cells) == len(lengths) * len(depths), f"{len(cells)} cell lines")
    check(len(lines) == len(trials) + len(cells), "lines of another kind")
    for line in trials:
        for field, kind in TRIAL_FIELDS.items():
            check(field in line and typed(line[field], kind), f"trial field {field}: {line}")
        check(line["bench"] == "niah", f"bench: {line}")
        # Exact, except the one count a needle last can skip (docs/niah.md: one length per
        # word is one token short at depth 1).
        short = 1 if line["depth"] == 1.0 and line["needle"] else 0
        check(line["length"] - short <= line["prompt_tokens"] <= line["length"],
              f"prompt of {line['prompt_tokens']} tokens for length {line['length']}")
        check(line["needles"] == args.needles and line["needle"] == (not args.no_needle),
              f"needles/needle: {line}")
        check(re.fullmatch(r"[bcdfghjklmnprstvwz][aeiou][bcdfghjklmnprstvwz][aeiou]"
                           r"[bcdfghjklmnprstvwz]", line["key"]), f"key: {line['key']}")
        check(re.fullmatch(r"[0-9]{6}", line["value"]), f"value: {line['value']}")
        check(line["correct"] == (line["value"] in line["reply"]), f"scoring: {line}")
    keys = {(l["length"], l["key"]) for l in trials}
    check(len(keys) > len(trials) // 2, "the needles are not fresh per trial")
    order = []
    for cell in cells:
        for field, kind in CELL_FIELDS.items():
            check(field in cell and typed(cell[field], kind), f"cell field {field}: {cell}")
        check(cell.get("device") == args.device, f"device: {cell}")
        mine = [t for t in trials if t["length"] == cell["length"] and t["depth"] == cell["depth"]]
        check(len(mine) == cell["trials"] == args.trials, f"trials of {cell}")
        check(cell["correct"] == sum(t["correct"] for t in mine), f"correct of {cell}")
        check(abs(cell["accuracy"] - cell["correct"] / cell["trials"]) < 1e-12, f"accuracy {cell}")
        check(cell["prompt_tokens"] == sum(t["prompt_tokens"] for t in mine), f"tokens {cell}")
        check(cell["prefill_tokens"] == sum(t["prefill_tokens"] for t in mine), f"prefill {cell}")
        order.append((cell["length"], cell["depth"]))
    check(order == [(l, d) for l in lengths for d in depths], f"cell order {order}")
    # Prefix reuse: within each length only the first trial prefills its whole prompt (with
    # distractors at random places the shared prefixes are shorter: just bounded then).
    check(all(0 < t["prefill_tokens"] <= t["prompt_tokens"] for t in trials), "prefill range")
    for length in lengths if args.needles == 1 else []:
        mine = [t for t in trials if t["length"] == length]
        check(mine[0]["prefill_tokens"] == mine[0]["prompt_tokens"],
              f"the first prompt of {length} was not prefilled whole")
        check(all(t["prefill_tokens"] < t["prompt_tokens"] for t in mine[1:]),
              f"a later prompt of {length} reused nothing: {[t['prefill_tokens'] for t in mine]}")
        deepest = [t for t in mine if t["depth"] == depths[-1]][-1]
        check(deepest["prefill_tokens"] < deepest["prompt_tokens"] // 4,
              f"the last trial at the deepest depth prefilled {deepest['prefill_tokens']}")
    print("PASS json lines")

    # The table: one row per length, a column per depth and "all", each the cells' accuracy.
    table = open(args.table).read().splitlines()
    header = [l for l in table if l.split()[:1] == ["length"]]
    check(len(header) == 1, "no table header")
    labels = header[0].split()[1:]
    check(labels == [f"{d * 100:g}%" for d in depths] + ["all"], f"depth columns {labels}")
    for length in lengths:
        row = [l for l in table if l.split()[:1] == [str(length)]]
        check(len(row) == 1, f"no row for {length}")
        values = [float(x) for x in row[0].split()[1:]]
        mine = [c for c in cells if c["length"] == length]
        expected = [100 * c["accuracy"] for c in mine]
        expected.append(100 * sum(c["correct"] for c in mine) / sum(c["trials"] for c in mine))
        check(all(abs(a - b) < 0.051 for a, b in zip(values, expected)) and
              len(values) == len(expected), f"row {length}: {values} vs {expected}")
    total = sum(c["correct"] for c in cells)
    count = sum(c["trials"] for c in cells)
    check(any(l.startswith(f"overall: {total} of {count} correct") for l in table), "overall")
    computed = sum(c["prefill_tokens"] for c in cells)
    prompt = sum(c["prompt_tokens"] for c in cells)
    check(any(l.startswith(f"prefill: {computed} of {prompt} prompt tokens computed")
              for l in table), "prefill line")
    print("PASS table")

    if args.png:
        printed = [l for l in table if l.startswith("heatmap: ")]
        check(len(printed) == 1, "no heatmap line")
        m = re.search(r"\((\d+) x (\d+) pixels; cells of (\d+) x (\d+) from x (\d+), y (\d+)\)",
                      printed[0])
        check(m, f"heatmap line: {printed[0]}")
        w, h, cw, ch, gx, gy = map(int, m.groups())
        width, height, rows = decode_png(args.png)
        check((width, height) == (w, h), f"PNG is {width} x {height}, printed {w} x {h}")
        check(gx + len(lengths) * cw <= width and gy + len(depths) * ch <= height, "grid inside")
        for c in cells:
            col, row = lengths.index(c["length"]), depths.index(c["depth"])
            x, y = gx + col * cw + 2, gy + row * ch + 2
            pixel = tuple(rows[y][3 * x:3 * x + 3])
            check(pixel == colour(c["accuracy"]),
                  f"cell ({c['length']}, {c['depth']}): {pixel}, expected {colour(c['accuracy'])}")
        # The background is white and something (the text) is drawn on it.
        check(tuple(rows[0][0:3]) == (255, 255, 255), "background")
        dark = sum(1 for r in rows[:gy] for i in range(0, len(r), 3) if r[i] < 100)
        check(dark > 50, "no title drawn")
        print("PASS heatmap")


def same(args):
    a = [l for l in read_lines(args.a) if l["kind"] == "trial"]
    b = [l for l in read_lines(args.b) if l["kind"] == "trial"]
    check(len(a) == len(b) and a, f"{len(a)} vs {len(b)} trials")
    fields = args.fields.split(",")
    for x, y in zip(a, b):
        for field in fields:
            check(x[field] == y[field], f"{field}: {x[field]!r} vs {y[field]!r} "
                                        f"(length {x['length']}, depth {x['depth']}, "
                                        f"trial {x['trial']})")
    print(f"PASS same {','.join(fields)} in {len(a)} trials")


def differ(args):
    a = [l[args.field] for l in read_lines(args.a) if l["kind"] == "trial"]
    b = [l[args.field] for l in read_lines(args.b) if l["kind"] == "trial"]
    check(len(a) == len(b) and a, f"{len(a)} vs {len(b)} trials")
    check(sum(x != y for x, y in zip(a, b)) > len(a) // 2, f"{args.field} mostly equal")
    print(f"PASS {args.field} differs")


def accuracy(args):
    trials = [t for t in read_lines(args.results) if t.get("kind") == "trial"]
    check(trials, f"{args.results}: no trial lines")
    right = sum(1 for t in trials if t["correct"])
    fraction = right / len(trials)
    wrong = [f"{t['length']}@{t['depth']}: {t['value']} -> {t['reply']!r}" for t in trials
             if not t["correct"]]
    what = f"{right} of {len(trials)} correct ({fraction:.1%})"
    if args.at_least is not None:
        check(fraction >= args.at_least, f"{what}, expected at least {args.at_least:.0%}; "
              f"wrong: {wrong}")
    if args.at_most is not None:
        check(fraction <= args.at_most, f"{what}, expected at most {args.at_most:.0%}")
    print(f"PASS accuracy: {what}")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grid")
    g.add_argument("results")
    g.add_argument("table")
    g.add_argument("--lengths", required=True)
    g.add_argument("--depths", required=True)
    g.add_argument("--trials", type=int, required=True)
    g.add_argument("--needles", type=int, default=1)
    g.add_argument("--no-needle", action="store_true")
    g.add_argument("--device", default="cpu")
    g.add_argument("--png")
    s = sub.add_parser("same")
    s.add_argument("a")
    s.add_argument("b")
    s.add_argument("--fields", default="length,prompt_tokens,depth,trial,key,value,reply,correct")
    d = sub.add_parser("differ")
    d.add_argument("a")
    d.add_argument("b")
    d.add_argument("--field", required=True)
    a = sub.add_parser("accuracy")
    a.add_argument("results")
    a.add_argument("--at-least", type=float)
    a.add_argument("--at-most", type=float)
    args = parser.parse_args()
    {"grid": grid, "same": same, "differ": differ, "accuracy": accuracy}[args.command](args)


if __name__ == "__main__":
    main()
