#!/usr/bin/env bash
# The NIAH measurements of models/niah-tiny on a GPU machine (docs/niah.md), stages that fit a
# device lease:
#   prepare (here, with slc):  tools/niah/gpu_niah.sh prepare      -> $SL_BUILD_DIR/niah-gpu/
#   on the GPU:                tools/niah/gpu_niah.sh STAGE...      (results under $OUT or ./niah-out)
# Stages: trained (lengths trained on and 4x, 5 depths x 8 trials), long (64K..1M, and 4M with
# LONG_4M=1), control (no needle), dense (the dense-attention variant of the same weights),
# cpu16k (CPU and CUDA backends on the same 16K grid, replies compared). More than 8 result
# files are packed into niah-results.tgz.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="$root/${SL_BUILD_DIR:-build}"
dir="$build/niah-gpu"
out=${OUT:-$root/niah-out}
mkdir -p "$out"
model="$root/models/niah-tiny"

if [ "${1:-}" = prepare ]; then
  mkdir -p "$dir"
  python3 "$root/tools/niah/make_dense_variant.py" "$model" "$dir/dense" || exit 1
  "$build/bin/slc" import "$model" -o "$dir/niah-tiny.mlir" &&
    "$build/bin/slc" compile "$dir/niah-tiny.mlir" --target=sm_90a,sm_100a --prefill-chunk=16384 \
      -o "$dir/niah-tiny.slpkg" &&
    "$build/bin/slc" import "$dir/dense" -o "$dir/dense.mlir" &&
    "$build/bin/slc" compile "$dir/dense.mlir" --target=sm_90a,sm_100a --prefill-chunk=16384 \
      -o "$dir/dense.slpkg" || exit 1
  cp "$build/bin/slrun" "$dir/slrun"
  echo "gpu_niah: carry ${dir#$root/} to the GPU machine"
  exit 0
fi

slrun="$dir/slrun"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
niah() {  # name, args...
  local name=$1
  shift
  echo "== $name"
  "$slrun" niah --output="$out/$name.jsonl" --heatmap="$out/$name.png" "$@" 2>"$out/$name.err" |
    tee "$out/$name.txt"
}
for stage in "$@"; do
  case $stage in
    trained)
      niah cuda-trained --artifact "$dir/niah-tiny.slpkg" --weights "$model" --device=cuda \
        --lengths=1024,4096,16384 --depths=5 --trials=8 --seed=1 --label="niah-tiny, $gpu, cuda" ;;
    long)
      lengths=65536,262144,1048576
      [ "${LONG_4M:-0}" = 1 ] && lengths=$lengths,4194304
      niah cuda-long --artifact "$dir/niah-tiny.slpkg" --weights "$model" --device=cuda \
        --lengths=$lengths --depths=5 --trials=2 --seed=2 --label="niah-tiny, $gpu, cuda" ;;
    control)
      niah cuda-control --artifact "$dir/niah-tiny.slpkg" --weights "$model" --device=cuda \
        --lengths=4096,65536 --depths=3 --trials=4 --seed=3 --no-needle \
        --label="niah-tiny without needles (control), $gpu" ;;
    dense)
      niah cuda-dense --artifact "$dir/dense.slpkg" --weights "$dir/dense" --device=cuda \
        --lengths=1024,4096,16384,65536 --depths=5 --trials=2 --seed=1 \
        --label="niah-tiny weights, dense attention, $gpu" ;;
    cpu16k)
      for device in cpu cuda; do
        niah $device-16k --artifact "$dir/niah-tiny.slpkg" --weights "$model" --device=$device \
          --lengths=16384 --depths=3 --trials=2 --seed=4 --label="niah-tiny, 16K, $device"
      done
      python3 "$root/tests/niah/check_niah.py" same "$out/cpu-16k.jsonl" "$out/cuda-16k.jsonl" ;;
    *) echo "gpu_niah: unknown stage $stage"; exit 2 ;;
  esac
done
# A device call brings back at most 8 files: more stages' outputs travel as one archive.
if [ "$(ls "$out" | wc -l)" -gt 8 ]; then
  archive=$(mktemp) && tar czf "$archive" -C "$out" . &&
    find "$out" -maxdepth 1 -type f -delete && mv "$archive" "$out/niah-results.tgz"
  echo "gpu_niah: results in $out/niah-results.tgz"
fi
