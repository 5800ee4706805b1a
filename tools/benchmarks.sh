#!/usr/bin/env bash
# The benchmarks of docs/benchmarks/ on a GPU machine: the multi-step attention layer alone next
# to PyTorch SDPA (tools/bench_attention.py) and the superlinear Nemotron-3-Nano-30B-A3B at real
# shapes with synthetic weights (slrun bench). Artifacts and binaries come from the CPU machine:
# run `tools/gpu_e2e_check.sh prepare` there and carry build/bin and build/gpu-artifacts.
# Usage: tools/benchmarks.sh OUTDIR [COMMIT]   -> OUTDIR/{attention,model}.{jsonl,txt}
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: tools/benchmarks.sh OUTDIR [COMMIT]}
commit=${2:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}
art="$root/${SL_BUILD_DIR:-build}/gpu-artifacts"
export LD_LIBRARY_PATH="$art/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$out"
nvidia-smi -L
python3 "$root/tools/bench_attention.py" --slrun "$root/${SL_BUILD_DIR:-build}/bin/slrun" \
  --artifact "$art/msa-layer.slpkg" --commit "$commit" --output "$out/attention.jsonl" \
  2>&1 | tee "$out/attention.txt"
"$root/${SL_BUILD_DIR:-build}/bin/slrun" bench --device=cuda --random-weights --artifact "$art/sl30b.slpkg" \
  --prefill-tokens=1048576 --contexts=0,1048576,4194304,10485760 --decode-steps=32 \
  --commit="$commit" --output="$out/model.jsonl" 2>&1 | tee "$out/model.txt"
