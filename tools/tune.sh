#!/usr/bin/env bash
# Tile sweeps for the committed tuning databases (docs/tuning.md), in two stages:
#   prepare (here, with slc):   tools/tune.sh prepare   -> $SL_BUILD_DIR/tune/ (sweep + sltune)
#   on the GPU machine:         tools/tune.sh run       -> $OUT/<gpu>.jsonl (h200, h100, ...)
# The model is the superlinear Nemotron-3-Nano-30B-A3B (8192-token prefill chunks, sm_90a);
# MODEL=<hf config dir> TARGET=<sm_XY> CHUNK=<tokens> choose another. A run stopped by its time
# limit (SWEEP_S seconds, default 480) resumes when its output is passed back as $RESUME.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/${SL_BUILD_DIR:-build}"
dir="$build/tune"
model=${MODEL:-$root/tests/import/Inputs/superlinear-exp-30b-a3b}
target=${TARGET:-sm_90a}

case ${1:-} in
  prepare)
    mkdir -p "$dir"
    "$build/bin/slc" import "$model" -o "$dir/model.mlir" &&
      "$build/bin/slc" compile "$dir/model.mlir" --tuning-sweep --target="$target" \
        --prefill-chunk="${CHUNK:-8192}" --aot -o "$dir/sweep.slpkg" || exit 1
    cp "$build/bin/sltune" "$dir/sltune"
    git -C "$root" rev-parse --short HEAD > "$dir/COMMIT"
    echo "tune: carry ${dir#$root/} to the GPU machine"
    ;;
  run)
    out=${OUT:-$root/tune-out}
    mkdir -p "$out"
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
    name=$(echo "$gpu" | grep -o '[HBA][0-9]\{2,3\}' | head -1 | tr 'A-Z' 'a-z')
    [ -n "$name" ] || { echo "tune: cannot name the GPU '$gpu'"; exit 1; }
    [ -n "${RESUME:-}" ] && cp "$RESUME" "$out/$name.jsonl"
    timeout "${SWEEP_S:-480}" "$dir/sltune" --artifact "$dir/sweep.slpkg" --device=cuda \
      --output="$out/$name.jsonl" --commit="$(cat "$dir/COMMIT")" 2>&1 | tee "$out/$name.txt"
    status=${PIPESTATUS[0]}
    [ "$status" = 124 ] && echo "tune: stopped by the time limit; pass $out/$name.jsonl as RESUME"
    python3 "$root/tools/bench/tuning_table.py" "$out/$name.jsonl" > "$out/$name.md"
    exit "$status"
    ;;
  *) echo "usage: tools/tune.sh prepare|run"; exit 2 ;;
esac
