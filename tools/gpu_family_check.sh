#!/usr/bin/env bash
# The GPU checks of the Nemotron-H family beyond Nemotron-3-Nano-30B-A3B (which
# tools/gpu_e2e_check.sh covers), in one script: the Mamba kernels at non-power-of-two shapes
# against their host reference and their per-element speed (head_dim 80 against 64), the golden
# models with non-power-of-two shapes (tests/golden/tiny-odd-*: transformers' logits and greedy
# continuations; Mamba heads 6/12, head_dim 24/80, groups 1/3, state 20-40, attention head_dim
# 80/96) on CUDA, the other real configs of tests/import/Inputs as 5-layer models at their real
# widths on CUDA against the CPU backend, and `slrun bench` of every real config at contexts 0
# and 131072 (synthetic weights).
# The CPU machine compiles (the GPU machine has no MLIR) and computes the CPU backend's logits:
#   tools/gpu_family_check.sh prepare     (CPU machine; a few minutes)
# then carry build/bin, build/gpu and build/gpu-family and run there:
#   tools/gpu_family_check.sh run [bench]  (without "bench": the correctness checks only)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
art="$root/${SL_BUILD_DIR:-build}/gpu-family"
bin="$root/${SL_BUILD_DIR:-build}/bin"
goldens=(tiny-odd-c tiny-odd-d tiny-odd-e)
configs=(nemotron-3-nano-4b nemotron-nano-9b-v2 nemotron-nano-12b-v2 nemotron-h-8b-base
         nemotron-h-47b-base)
benched=("${configs[@]}" nemotron-3-nano-30b-a3b superlinear-exp-30b-a3b)

if [ "${1:-}" = prepare ]; then
  mkdir -p "$art"
  "$root/tools/gpu_check.sh" mamba >/dev/null || exit 1
  for model in "${goldens[@]}"; do
    chunk=64 && [ "$model" = tiny-odd-e ] && chunk=256
    "$bin/slc" import "$root/tests/golden/$model" -o "$art/$model.mlir" &&
      "$bin/slc" compile "$art/$model.mlir" --target=sm_90a --aot --prefill-chunk=$chunk \
        -o "$art/$model.slpkg" || exit 1
  done
  # 5 layers at each real config's widths (Mamba, MLP, attention: these checkpoints have no
  # MoE layers) and a 64-token prompt; the vocab cut to 8192 (the same LM-head kernel) keeps the
  # CPU logits carried to the GPU machine at 2 MiB a model.
  python3 - "$root/tests/import/Inputs" "$art" "${configs[@]}" <<'PY' || exit 1
import json, os, sys
import numpy as np
inputs, art, names = sys.argv[1], sys.argv[2], sys.argv[3:]
for name in names:
    config = json.load(open(f"{inputs}/{name}/config.json"))
    assert "E" not in config.get("hybrid_override_pattern", ""), name
    config = dict(config, hybrid_override_pattern="M-M*-", num_hidden_layers=5, vocab_size=8192)
    config.pop("layers_block_type", None)
    os.makedirs(f"{art}/five-{name}", exist_ok=True)
    json.dump(config, open(f"{art}/five-{name}/config.json", "w"), indent=1)
np.save(f"{art}/prompt64.npy", np.random.default_rng(5).integers(0, 8192, 64, dtype=np.int32))
PY
  for name in "${benched[@]}"; do
    "$bin/slc" import "$root/tests/import/Inputs/$name" -o "$art/$name.mlir" &&
      "$bin/slc" compile "$art/$name.mlir" --target=sm_90a --aot --prefill-chunk=8192 \
        -o "$art/$name.slpkg" || exit 1
  done
  for name in "${configs[@]}"; do
    "$bin/slc" import "$art/five-$name" -o "$art/five-$name.mlir" &&
      "$bin/slc" compile "$art/five-$name.mlir" --target=sm_90a --aot --prefill-chunk=64 \
        -o "$art/five-$name.slpkg" || exit 1
    if [ ! -f "$art/five-$name.cpu.npy" ] || [ "$art/five-$name.slpkg" -nt "$art/five-$name.cpu.npy" ]; then
      "$bin/slrun" logits --device=cpu --random-weights --artifact "$art/five-$name.slpkg" \
        --tokens=@"$art/prompt64.npy" --chunk=24 --output=@"$art/five-$name.cpu.npy" || exit 1
    fi
  done
  echo "gpu_family_check: artifacts in $art"
  exit 0
fi

if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_family_check: no GPU on this machine; skipped"
  exit 0
fi
nvidia-smi -L
source "$root/tools/gpu_checks.sh"
check "Mamba kernels against the host reference (tests/gpu/mamba_check.cu)" "$root/${SL_BUILD_DIR:-build}/gpu/mamba_check"
for model in "${goldens[@]}"; do
  golden="$root/tests/golden/$model"
  run="$bin/slrun"
  a="--device=cuda --artifact $art/$model.slpkg --weights $golden --tokens=@$golden/prompt.npy"
  check "$model logits (cuda vs transformers)" bash -c "$run logits $a --output=@$out/l.npy && $compare logits $out/l.npy $golden/logits.npy 1e-3"
  check "$model chunks of 7, decode from 30 (cuda vs transformers)" bash -c "$run logits $a --chunk=7 --decode-from=30 --output=@$out/ld.npy && $compare logits $out/ld.npy $golden/logits.npy 1e-3"
  check "$model greedy continuation (cuda, chunks of 10 + decode)" bash -c "$run generate $a --chunk=10 --max-new-tokens=16 --greedy --output=@$out/g.npy && $compare exact $out/g.npy $golden/greedy.npy"
done
# Real widths: the same synthetic weights on both backends (the production bf16 kernels; CPU
# prefill in chunks of 24, CUDA in chunks of 24 to position 48 and decode steps after): logits
# within 2e-2 of the logit scale, the bound of tools/gpu_e2e_check.sh's dense check.
for name in "${configs[@]}"; do
  check "$name, 5 layers at real widths, cuda vs cpu" bash -c "$bin/slrun logits --device=cuda --random-weights --artifact $art/five-$name.slpkg --tokens=@$art/prompt64.npy --chunk=24 --decode-from=48 --output=@$out/f.npy && $compare logits $out/f.npy $art/five-$name.cpu.npy 2e-2"
done
"$root/${SL_BUILD_DIR:-build}/gpu/mamba_check" --bench | sed 's/^/    /'
if [ "${2:-}" = bench ]; then
  for name in "${benched[@]}"; do
    check "$name bench at contexts 0 and 131072" bash -c "$bin/slrun bench --device=cuda --random-weights --artifact $art/$name.slpkg --contexts=0,131072 --decode-steps=8 --name=$name | tee $out/$name.bench"
    [ -f "$out/$name.bench" ] && sed 's/^/    /' "$out/$name.bench"
  done
fi
echo "gpu_family_check: $failed failed"
[ $failed -eq 0 ]
