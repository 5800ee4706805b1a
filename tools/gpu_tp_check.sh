#!/usr/bin/env bash
# Tensor parallelism on several GPUs (slrun --devices, NCCL; docs/parallel.md), in one script for
# a multi-GPU machine (nvidia-h100-x2/x4 ...; with fewer than 2 GPUs it says so and exits 0):
# - the golden models over 2 and 4 GPUs against transformers' logits and greedy tokens and
#   against the CPU simulation of the same ranks;
# - 5 layers at the real widths of the superlinear 30B (synthetic weights) over 2 and 4 GPUs
#   against one GPU;
# - with BENCH=1, the 30B superlinear model's decode and prefill at world sizes 1, 2, 4 (as many
#   as there are GPUs) into $OUT/tp-bench.jsonl, and a 10M-token session on 2 GPUs.
# The artifacts are compiled on the CPU machine (the GPU machine has no MLIR):
# tools/gpu_tp_check.sh prepare, then carry build/bin and build/tp-artifacts and run
# tools/gpu_tp_check.sh run there. NCCL comes from the nvidia-nccl-cu13 wheel of python3, or
# SL_NCCL_LIBRARY. COMMIT labels the benchmark lines.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
art="$root/${SL_BUILD_DIR:-build}/tp-artifacts"
bin="$root/${SL_BUILD_DIR:-build}/bin"

if [ "${1:-}" = prepare ]; then
  mkdir -p "$art"
  for model in tiny-mem-a tiny-msa-f; do
    "$bin/slc" import "$root/tests/golden/$model" -o "$art/$model.mlir" || exit 1
    for n in 2 4; do
      "$bin/slc" compile "$art/$model.mlir" --prefill-chunk=64 --tensor-parallel=$n \
        -o "$art/$model-tp$n.slpkg" || exit 1
    done
  done
  python3 - "$root/tests/import/Inputs/superlinear-exp-30b-a3b/config.json" "$art" <<'PY' || exit 1
import json, os, sys
import numpy as np
config = json.load(open(sys.argv[1]))
os.makedirs(f"{sys.argv[2]}/real5-dense", exist_ok=True)
json.dump(dict(config, hybrid_override_pattern="M-M*-", num_hidden_layers=5, torch_dtype="bfloat16"),
          open(f"{sys.argv[2]}/real5-dense/config.json", "w"), indent=1)
np.save(f"{sys.argv[2]}/real5-prompt.npy",
        np.random.default_rng(5).integers(0, config["vocab_size"], 64, dtype=np.int32))
PY
  "$bin/slc" import "$art/real5-dense" -o "$art/real5-dense.mlir" || exit 1
  "$bin/slc" import "$root/tests/import/Inputs/superlinear-exp-30b-a3b" -o "$art/sl30b.mlir" || exit 1
  for n in 1 2 4; do
    "$bin/slc" compile "$art/real5-dense.mlir" --target=sm_90a --prefill-chunk=64 \
      --tensor-parallel=$n -o "$art/real5-dense-tp$n.slpkg" &&
      "$bin/slc" compile "$art/sl30b.mlir" --target=sm_90a --prefill-chunk=8192 \
        --tensor-parallel=$n -o "$art/sl30b-tp$n.slpkg" || exit 1
  done
  rm -f "$art"/*.mlir
  echo "gpu_tp_check: artifacts in $art"
  exit 0
fi

gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
if [ "$gpus" -lt 2 ]; then
  echo "gpu_tp_check: $gpus GPU(s) on this machine; skipped"
  exit 0
fi
export NCCL_NVLS_ENABLE=0  # NVLink multicast stays off on shared machines
source "$root/tools/gpu_checks.sh"
run="$bin/slrun"
worlds="2"
[ "$gpus" -ge 4 ] && worlds="2 4"
devices() { seq -s, 0 $(($1 - 1)); }
for model in tiny-mem-a tiny-msa-f; do
  golden="$root/tests/golden/$model"
  for n in $worlds; do
    a="$art/$model-tp$n.slpkg"
    d=$(devices $n)
    check "$model over $n GPUs: logits vs transformers" bash -c "$run logits --devices=$d --artifact $a --weights $golden --tokens=@$golden/prompt.npy --output=@$out/l.npy && $compare logits $out/l.npy $golden/logits.npy 1e-3"
    check "$model over $n GPUs: chunks of 7 + decode steps vs transformers" bash -c "$run logits --devices=$d --chunk=7 --decode-from=30 --artifact $a --weights $golden --tokens=@$golden/prompt.npy --output=@$out/ld.npy && $compare logits $out/ld.npy $golden/logits.npy 1e-3"
    check "$model over $n GPUs: greedy continuation (decode graphs with the all-reduces)" bash -c "$run generate --devices=$d --chunk=10 --artifact $a --weights $golden --tokens=@$golden/prompt.npy --max-new-tokens=16 --greedy --output=@$out/g.npy && $compare exact $out/g.npy $golden/greedy.npy"
    check "$model over $n GPUs vs the CPU simulation of the ranks" bash -c "$run logits --device=cpu --artifact $a --weights $golden --tokens=@$golden/prompt.npy --output=@$out/c.npy && $compare logits $out/l.npy $out/c.npy 1e-3"
  done
done
r5="--random-weights --tokens=@$art/real5-prompt.npy --chunk=24 --decode-from=48"
check "real widths, 5 layers: one GPU (reference)" $run logits --device=cuda --artifact "$art/real5-dense-tp1.slpkg" $r5 --output=@"$out/r1.npy"
for n in $worlds; do
  check "real widths, 5 layers over $n GPUs vs one GPU (bf16 partial sums: 2e-2)" bash -c "$run logits --devices=$(devices $n) --artifact $art/real5-dense-tp$n.slpkg $r5 --output=@$out/r$n.npy && $compare logits $out/r$n.npy $out/r1.npy 2e-2"
done
if [ "${BENCH:-0}" = 1 ]; then
  jsonl="${OUT:-$out}/tp-bench.jsonl"
  common="--random-weights --decode-steps=16 --name=sl30b --commit=${COMMIT:-unknown} --output=$jsonl"
  check "30B superlinear, 1 GPU: decode at 0 and 1M, an 8K chunk" $run bench --device=cuda --artifact "$art/sl30b-tp1.slpkg" --contexts=0,1048576 $common
  for n in $worlds; do
    check "30B superlinear over $n GPUs: decode at 0 and 1M, an 8K chunk" $run bench --devices=$(devices $n) --artifact "$art/sl30b-tp$n.slpkg" --contexts=0,1048576 $common
  done
  check "30B superlinear over 2 GPUs: a 10M-token session" $run bench --devices=0,1 --artifact "$art/sl30b-tp2.slpkg" --contexts=10000000 $common
fi
echo "gpu_tp_check: $failed failed"
[ $failed -eq 0 ]
