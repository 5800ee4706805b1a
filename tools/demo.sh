#!/usr/bin/env bash
# The main job on the bundled default: builds, imports the bundled tiny superlinear model
# (models/tiny/config.json: Mamba-2, MoE and multi-step attention layers), compiles it to an
# artifact whose kernels NVRTC checks for H100/H200 (sm_90a) and B200 (sm_100a), shows what the
# artifact holds, generates tokens with it on the CPU backend (greedy and sampled), round-trips
# the hand-written models/tiny_hybrid.mlir, and ends with the trained models/niah-tiny: a needle
# hidden in a haystack of 3,000 tokens, asked for on the CPU backend (slrun niah) and through the
# OpenAI-compatible server (slrun serve, slrun niah --url), printing the question and the answers.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tools/build.sh"

bin="$root/${SL_BUILD_DIR:-build}/bin"
out="$root/${SL_BUILD_DIR:-build}/demo"
mkdir -p "$out"

echo
echo "== 1. slc import models/tiny -> $out/tiny.mlir"
"$bin/slc" import "$root/models/tiny" -o "$out/tiny.mlir"
"$bin/slc-opt" "$out/tiny.mlir" --print-op-stats -o /dev/null 2>&1 | grep -E "sl\." | sed 's/^ */   /'

echo "== 2. slc compile --target=sm_90a,sm_100a -> $out/tiny.slpkg"
start=$(date +%s%N)
"$bin/slc" compile "$out/tiny.mlir" --target=sm_90a,sm_100a -o "$out/tiny.slpkg"
echo "   compiled and NVRTC-checked in $(( ($(date +%s%N) - start) / 1000000 )) ms," \
  "$(stat -c %s "$out/tiny.slpkg") bytes"
"$bin/slc" compile "$out/tiny.mlir" --emit=cuda -o "$out/tiny.cu"
echo "   kernel sources: $out/tiny.cu"

echo "== 3. the artifact (sl-artifact-dump)"
"$bin/sl-artifact-dump" "$out/tiny.slpkg" > "$out/tiny.dump.txt"
grep -E "^(schema|plans|kernels|weights|states|plan )" "$out/tiny.dump.txt" | sed 's/^/   /'
echo "   decode step (the sm_90a plan):"
awk '/^plan sm_90a function decode/ {f = 1; next} /^plan / {if (f) exit} f' "$out/tiny.dump.txt" |
  cut -c1-110 | sed 's/^/   /'

echo "== 4. slrun generate on the CPU backend (random weights: models/tiny/make_weights.py; the text is noise)"
"$bin/slc" compile "$out/tiny.mlir" --prefill-chunk=256 -o "$out/tiny-cpu.slpkg"
"$bin/slrun" generate --artifact "$out/tiny-cpu.slpkg" --weights "$root/models/tiny" \
  --tokens=@"$root/models/tiny/prompt.npy" --max-new-tokens=24 --greedy --chunk=8 \
  --output=@"$out/generated.npy" | sed 's/^/   /'
"$bin/slrun" generate --artifact "$out/tiny-cpu.slpkg" --weights "$root/models/tiny" \
  --tokens=@"$root/models/tiny/prompt.npy" --max-new-tokens=24 --temperature=0.8 --top-p=0.9 \
  --seed=1 --output=@"$out/sampled.npy" | sed 's/^/   /'

echo "== 5. the hand-written models/tiny_hybrid.mlir round-trips (custom and generic form)"
"$bin/slc-opt" "$root/models/tiny_hybrid.mlir" -o "$out/tiny_hybrid.mlir"
"$bin/slc-opt" "$root/models/tiny_hybrid.mlir" --mlir-print-op-generic | "$bin/slc-opt" -o "$out/tiny_hybrid.generic.mlir"
cmp -s "$out/tiny_hybrid.mlir" "$out/tiny_hybrid.generic.mlir" ||
  { echo "demo: round trip changed the model (see $out)" >&2; exit 1; }
echo "   identical after the round trip"
echo "== 6. the trained models/niah-tiny finds a needle: on the CPU backend and through slrun serve"
# A fresh needle every run (SL_DEMO_SEED fixes it): a pass key hidden halfway into a haystack of
# 3,000 tokens, asked for at the end; the answer is right when it holds the key's value.
seed=${SL_DEMO_SEED:-$(( $(date +%s) % 100000 ))}
"$bin/slc" import "$root/models/niah-tiny" -o "$out/niah-tiny.mlir"
"$bin/slc" compile "$out/niah-tiny.mlir" --prefill-chunk=1024 -o "$out/niah-tiny.slpkg"
niah=(--lengths=3000 --depths=0.5 --trials=1 --seed="$seed")
rm -f "$out/niah-cpu.jsonl" "$out/niah-serve.jsonl"
"$bin/slrun" niah --artifact "$out/niah-tiny.slpkg" --weights "$root/models/niah-tiny" \
  "${niah[@]}" --output="$out/niah-cpu.jsonl" >"$out/niah-cpu.txt" 2>&1
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/slrun" serve --artifact "$out/niah-tiny.slpkg" --weights "$root/models/niah-tiny" \
  --host 127.0.0.1 --port "$port" >"$out/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
python3 - "$port" "$out" <<'PY'
import sys, time, urllib.request
for _ in range(300):
    try:
        if urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1).status == 200:
            break
    except Exception:
        time.sleep(0.1)
else:
    sys.exit(f"demo: the server did not become healthy (see {sys.argv[2]}/serve.log)")
PY
"$bin/slrun" niah --url "http://127.0.0.1:$port" --model niah-tiny.slpkg \
  --tokenizer "$root/models/niah-tiny" "${niah[@]}" --output="$out/niah-serve.jsonl" \
  >"$out/niah-serve.txt" 2>&1
python3 - "$root/models/niah-tiny/niah_task.json" "$out/niah-cpu.jsonl" "$out/niah-serve.jsonl" "$seed" <<'PY'
import json, sys
task = json.load(open(sys.argv[1]))
trials = [next(json.loads(l) for l in open(path) if '"kind":"trial"' in l) for path in sys.argv[2:4]]
t = trials[0]
print(f"   seed {sys.argv[4]}: a haystack of {t['prompt_tokens']} tokens, at depth {t['depth']:.0%} the needle "
      f"{task['needle'].format(key=t['key'], value=t['value'])!r}")
print(f"   question: {task['question'].format(key=t['key']).strip()!r}")
for where, trial in zip(("CPU backend", "slrun serve"), trials):
    verdict = "right" if trial["correct"] else "WRONG"
    print(f"   answer ({where}): {trial['reply']!r} -> {verdict} (the value is {trial['value']})")
PY
echo
echo "demo: done; outputs in $out"
