#!/usr/bin/env bash
# The main job on the bundled default: builds, imports the bundled tiny superlinear model
# (models/tiny/config.json: Mamba-2, MoE and multi-step attention layers), compiles it to an
# artifact whose kernels NVRTC checks for H100/H200 (sm_90a) and B200 (sm_100a), shows what the
# artifact holds, generates tokens with it on the CPU backend (greedy and sampled), round-trips
# the hand-written models/tiny_hybrid.mlir, and ends by starting the OpenAI-compatible server on
# the bundled model, sending one chat request through it and printing the reply.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tools/build.sh"

bin="$root/build/bin"
out="$root/build/demo"
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
grep -E "^(schema|targets|kernels|weights|states|function)" "$out/tiny.dump.txt" | sed 's/^/   /'
echo "   decode step:"
sed -n '/^function decode/,$p' "$out/tiny.dump.txt" | tail -n +2 | cut -c1-110 | sed 's/^/   /'

echo "== 4. slrun generate on the CPU backend (random weights: models/tiny/make_weights.py)"
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
echo "== 6. slrun serve on the bundled model, one chat request through the OpenAI API"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/slrun" serve --artifact "$out/tiny-cpu.slpkg" --weights "$root/models/tiny" \
  --host 127.0.0.1 --port "$port" >"$out/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
python3 - "$port" <<'PY'
import json, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(300):
    try:
        if urllib.request.urlopen(base + "/health", timeout=1).status == 200:
            break
    except Exception:
        time.sleep(0.1)
else:
    sys.exit("demo: the server did not become healthy (see build/demo/serve.log)")
request = {"model": "tiny-cpu.slpkg", "max_tokens": 24, "temperature": 0,
           "messages": [{"role": "user", "content": "Tell me a story about the sea."}]}
print("   request:", json.dumps(request["messages"]))
reply = json.load(urllib.request.urlopen(urllib.request.Request(
    base + "/v1/chat/completions", data=json.dumps(request).encode(),
    headers={"Content-Type": "application/json"}), timeout=60))
print("   reply:  ", json.dumps(reply["choices"][0]["message"]["content"]))
print("   usage:  ", json.dumps(reply["usage"]))
print("   (random weights: the text is noise; the toolchain around it is real)")
PY
echo
echo "demo: done; outputs in $out"
