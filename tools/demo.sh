#!/usr/bin/env bash
# The main job on the bundled default: builds, then parses, verifies and round-trips the bundled
# tiny hybrid model with slc-opt, and shows its multi-step attention layer decomposed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tools/build.sh"

model="$root/models/tiny_hybrid.mlir"
out="$root/build/demo"
opt="$root/build/bin/slc-opt"
mkdir -p "$out"

echo
echo "== 1. parse + verify $model"
"$opt" "$model" -o "$out/tiny_hybrid.mlir"
"$opt" "$model" --print-op-stats -o /dev/null 2>&1 | grep -E "sl\.|func\." | sed 's/^ */   /'

echo "== 2. round trip (custom -> custom, custom -> generic -> custom)"
"$opt" "$out/tiny_hybrid.mlir" -o "$out/tiny_hybrid.again.mlir"
"$opt" "$model" --mlir-print-op-generic -o "$out/tiny_hybrid.generic.mlir"
"$opt" "$out/tiny_hybrid.generic.mlir" -o "$out/tiny_hybrid.from-generic.mlir"
cmp -s "$out/tiny_hybrid.mlir" "$out/tiny_hybrid.again.mlir" &&
  cmp -s "$out/tiny_hybrid.mlir" "$out/tiny_hybrid.from-generic.mlir" ||
  { echo "demo: round trip changed the model (see $out)" >&2; exit 1; }
echo "   identical after both round trips ($(wc -l <"$out/tiny_hybrid.mlir") lines)"

echo "== 3. sl-decompose-multi-step-attention"
"$opt" "$model" --sl-decompose-multi-step-attention -o "$out/tiny_hybrid.decomposed.mlir"
grep -oE "sl\.(kv_append|anchor_grid|route_topk|segment_attention|gate_combine)[^:]*" \
  "$out/tiny_hybrid.decomposed.mlir" | sed 's/^/   /'
echo
echo "demo: done; outputs in $out"
