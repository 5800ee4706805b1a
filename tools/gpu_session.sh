#!/usr/bin/env bash
# The GPU work of one device call, packed here and run there: the GPU machine has no MLIR, the
# device tool carries about 64 MB with the tree and brings back a few files.
#   here:   tools/gpu_session.sh prepare TASK...   -> $SL_BUILD_DIR/gpu-session.tgz
#   there:  (carry that file) END_S=570 tools/gpu_session.sh run TASK...  -> $OUT/results.tgz
# Tasks run in the order given, each within the time left before END_S seconds (default 570):
#   e2e      tools/gpu_e2e_check.sh: kernel families, golden and real-width models, 1M-token
#            multi-step attention, serving (the kernel checks are built here with nvcc)
#   bench47b Nemotron-H-47B-Base with synthetic weights: decode at 0 and 128K, an 8K chunk
#            (docs/model-family.md)
#   niah     tools/niah/gpu_niah.sh trained long control dense cpu16k (docs/niah.md)
#   tune     tools/tune.sh run: the tile sweep of the 30B model (docs/tuning.md; RESUME=file
#            continues a sweep stopped by its time limit)
#   tp       tools/gpu_tp_check.sh on several GPUs (BENCH=1: the scaling benchmark)
# The commit of the binaries labels every benchmark line (COMMIT in the pack).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rel=${SL_BUILD_DIR:-build}
build="$root/$rel"
pack="$build/gpu-session.tgz"
mode=${1:-}
shift || true
[ $# -gt 0 ] || { echo "usage: tools/gpu_session.sh prepare|run e2e|bench47b|niah|tune|tp ..."; exit 2; }

if [ "$mode" = prepare ]; then
  paths=("$rel/bin/slrun" "$rel/COMMIT")
  git -C "$root" rev-parse --short HEAD > "$build/COMMIT"
  for task in "$@"; do
    case $task in
      e2e)
        SL_BUILD_DIR=$rel "$root/tools/gpu_e2e_check.sh" prepare >/dev/null &&
          SL_BUILD_DIR=$rel "$root/tools/gpu_check.sh" >/dev/null || exit 1
        paths+=("$rel/bin/sl-msa-long-check" "$rel/gpu" "$rel/gpu-artifacts") ;;
      bench47b)
        mkdir -p "$build/gpu-47b"
        "$build/bin/slc" import "$root/tests/import/Inputs/nemotron-h-47b-base" -o "$build/gpu-47b/47b.mlir" &&
          "$build/bin/slc" compile "$build/gpu-47b/47b.mlir" --target=sm_90a --aot --prefill-chunk=8192 \
            -o "$build/gpu-47b/nemotron-h-47b-base.slpkg" || exit 1
        paths+=("$rel/gpu-47b/nemotron-h-47b-base.slpkg") ;;
      niah)
        SL_BUILD_DIR=$rel "$root/tools/niah/gpu_niah.sh" prepare >/dev/null || exit 1
        paths+=("$rel/niah-gpu") ;;
      tune)
        SL_BUILD_DIR=$rel "$root/tools/tune.sh" prepare >/dev/null || exit 1
        paths+=("$rel/tune/sweep.slpkg" "$rel/tune/sltune" "$rel/tune/COMMIT") ;;
      tp)
        SL_BUILD_DIR=$rel "$root/tools/gpu_tp_check.sh" prepare >/dev/null || exit 1
        paths+=("$rel/tp-artifacts") ;;
      *) echo "gpu_session: unknown task $task"; exit 2 ;;
    esac
  done
  # What the GPU machine does not run: the .mlir sources and the 30B benchmark artifact.
  tar czf "$pack" -C "$root" --exclude='*.mlir' --exclude='sl30b.slpkg' "${paths[@]}" || exit 1
  echo "gpu_session: $(du -h "$pack" | cut -f1) in ${pack#$root/}; carry it and run: tools/gpu_session.sh run $*"
  exit 0
fi

[ "$mode" = run ] || { echo "usage: tools/gpu_session.sh prepare|run TASK..."; exit 2; }
out=${OUT:-$root/gpu-session-out}
results="$out/results"
mkdir -p "$results"
tar xzf "$pack" -C "$root" || exit 1
# Built here, carried: newer than their sources, so that gpu_check.sh does not rebuild them.
[ -d "$build/gpu" ] && touch "$build/gpu"/*
commit=$(cat "$build/COMMIT")
end=${END_S:-570}
left() { echo $(( end - SECONDS )); }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$results/gpus.txt"
for task in "$@"; do
  [ "$(left)" -gt 20 ] || { echo "gpu_session: no time left for $task"; continue; }
  echo "== $task (${SECONDS}s, $(left)s left)"
  case $task in
    e2e) SL_BUILD_DIR=$rel timeout "$(left)" "$root/tools/gpu_e2e_check.sh" > "$results/e2e.txt" 2>&1 ;;
    bench47b)
      timeout "$(left)" "$build/bin/slrun" bench --device=cuda --random-weights \
        --artifact "$build/gpu-47b/nemotron-h-47b-base.slpkg" --contexts=0,131072 --decode-steps=16 \
        --name=nemotron-h-47b-base --commit="$commit" --output="$results/47b.jsonl" > "$results/47b.txt" 2>&1 ;;
    niah)
      OUT=$results/niah SL_BUILD_DIR=$rel timeout "$(left)" "$root/tools/niah/gpu_niah.sh" \
        trained long control dense cpu16k > "$results/niah.txt" 2>&1 ;;
    tune) OUT=$results/tune SL_BUILD_DIR=$rel SWEEP_S=$(( $(left) - 10 )) "$root/tools/tune.sh" run \
        > "$results/tune.txt" 2>&1 ;;
    tp) OUT=$results COMMIT=$commit SL_BUILD_DIR=$rel timeout "$(left)" "$root/tools/gpu_tp_check.sh" \
        > "$results/tp.txt" 2>&1 ;;
    *) echo "gpu_session: unknown task $task"; continue ;;
  esac
  echo "$task: status $? at ${SECONDS}s" | tee -a "$results/status.txt"
  tail -3 "$results/$task.txt" 2>/dev/null
done
tar czf "$out/results.tgz" -C "$out" results && rm -rf "$results"
echo "gpu_session: $out/results.tgz"
