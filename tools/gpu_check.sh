#!/usr/bin/env bash
# Builds the GPU kernel checks (tests/gpu/*_check.cu: every kernel-library template against a
# host reference on random inputs) with nvcc and runs them. Without a GPU it says so and exits 0.
# Usage: tools/gpu_check.sh [check-name ...]   (default: all; e.g. "dense msa")
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nvcc=${CUDA_HOME:-/usr/local/cuda}/bin/nvcc
out="$root/${SL_BUILD_DIR:-build}/gpu"
mkdir -p "$out"

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for file in "$root"/tests/gpu/*_check.cu; do names+=("$(basename "$file" _check.cu)"); done
fi

for name in "${names[@]}"; do
  if [ ! -x "$out/${name}_check" ] || [ "$root/tests/gpu/${name}_check.cu" -nt "$out/${name}_check" ]; then
    "$nvcc" -std=c++17 -O2 -arch=sm_90a -I"$root/runtime/kernels" -I"$root/runtime/math" \
      -I"$root/tests/gpu" "$root/tests/gpu/${name}_check.cu" -o "$out/${name}_check" ||
      { echo "gpu_check: ${name}_check does not build"; exit 1; }
  fi
done

if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no GPU on this machine; built ${#names[@]} checks, ran none (skipped)"
  exit 0
fi
nvidia-smi -L
failed=0
for name in "${names[@]}"; do
  echo "== ${name}_check"
  "$out/${name}_check" || failed=$((failed + 1))
done
echo "gpu_check: $(( ${#names[@]} - failed )) passed, $failed failed"
[ $failed -eq 0 ]
