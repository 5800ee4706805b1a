#!/usr/bin/env bash
# The main job on the bundled default: builds, imports the bundled tiny superlinear model
# (models/tiny/config.json: Mamba-2, MoE and multi-step attention layers), compiles it to an
# artifact whose kernels NVRTC checks for H100/H200 (sm_90a) and B200 (sm_100a), shows what the
# artifact holds, and generates tokens with it on the CPU backend (greedy and sampled). Also
# verifies and round-trips the hand-written models/tiny_hybrid.mlir.
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
echo
echo "demo: done; outputs in $out"
