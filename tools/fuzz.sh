#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer + ASan + UBSan) of the parsers that read untrusted input:
# tokenizer.json and tokenizing, chat templates, safetensors, .npy, artifacts, config.json
# (`slc import`) and the limited JSON parser. docs/fuzzing.md describes the targets.
#
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Installs clang-19 + libFuzzer when missing, configures and builds build-fuzz/ (clang, SL_FUZZ=ON),
# then runs each target (all of them by default; names as in tests/fuzz/<name>_fuzzer.cpp) for
# SECONDS_PER_TARGET seconds (default 25: the bounded CI run), one at a time, starting from the
# committed seeds (tests/fuzz/corpus/<name>/) plus the corpus grown by earlier runs
# (build-fuzz/corpus/<name>/, not committed). Prints per target the executions, exec/s,
# coverage (cov/ft of libFuzzer's final stats), corpus size and the result; a crash, timeout
# (-timeout=10), out-of-memory (-rss_limit_mb=2048) or sanitizer report fails the target and its
# input is kept in build-fuzz/crashes/<name>/. Exits non-zero if any target failed; the last line
# reads "N passed, M failed".
# Environment: SL_FUZZ_JOBS (build parallelism, default 2), SL_FUZZ_CC / SL_FUZZ_CXX (compilers,
# default clang-19 / clang++-19), SL_FUZZ_IMPORTER=0 (skip the importer target, which builds the
# MLIR dialect).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-25}
shift || true
build="$root/build-fuzz"
cc=${SL_FUZZ_CC:-clang-19}
cxx=${SL_FUZZ_CXX:-clang++-19}

# clang-19 and its runtime libraries (libFuzzer, sanitizers) match the project's LLVM/MLIR 19.
packages=(clang-19 libclang-rt-19-dev cmake ninja-build nlohmann-json3-dev libpcre2-dev
          flatbuffers-compiler libflatbuffers-dev libgtest-dev)
if [ "${SL_FUZZ_IMPORTER:-1}" != 0 ]; then
  packages+=(llvm-19-dev libmlir-19-dev mlir-19-tools)
fi
"$root/tools/install_packages.sh" fuzz.sh "${packages[@]}"

cuda=${CUDA_HOME:-/usr/local/cuda}
compiler=ON
[ "${SL_FUZZ_IMPORTER:-1}" != 0 ] || compiler=OFF
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCUDAToolkit_ROOT="$cuda" \
    -DSL_FUZZ=ON -DSL_BUILD_COMPILER="$compiler" >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log" >&2; rm -f "$build/build.ninja"; exit 1; }
fi
# Only the fuzzers (and what they link) are built here, never the whole project.
cmake --build "$build" --target sl-fuzzers -j "${SL_FUZZ_JOBS:-2}"

targets=("$@")
if ((${#targets[@]} == 0)); then
  for binary in "$build"/bin/*_fuzzer; do
    name=$(basename "$binary")
    targets+=("${name%_fuzzer}")
  done
fi

passed=0
failed=0
failures=()
printf '%-18s %6s %10s %8s %7s %7s %7s  %s\n' target secs execs exec/s cov ft corpus result
for name in "${targets[@]}"; do
  binary="$build/bin/${name}_fuzzer"
  if [ ! -x "$binary" ]; then
    printf '%-18s %s\n' "$name" "FAILED: no binary $binary"
    failed=$((failed + 1)); failures+=("$name"); continue
  fi
  corpus="$build/corpus/$name"
  crashes="$build/crashes/$name"
  seeds="$root/tests/fuzz/corpus/$name"
  log="$build/logs/$name.log"
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$crashes/")
  [ -f "$root/tests/fuzz/$name.dict" ] && args+=(-dict="$root/tests/fuzz/$name.dict")
  dirs=("$corpus")
  [ -d "$seeds" ] && dirs+=("$seeds")
  start=$(date +%s)
  status=0
  (cd "$build" && "$binary" "${args[@]}" "${dirs[@]}") >"$log" 2>&1 || status=$?
  elapsed=$(($(date +%s) - start))
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  execs=$(stat number_of_executed_units)
  rate=$(stat average_exec_per_sec)
  # The last status line ("#N DONE cov: C ft: F corp: K/..." or the last pulse) has the coverage.
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(ls "$corpus" | wc -l)
  if [ "$status" -eq 0 ] && ! grep -qE 'ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:' "$log"; then
    result=ok; passed=$((passed + 1))
  else
    reason=$(grep -m1 -oE 'ERROR: [A-Za-z]+: [a-z-]+[^(]*|runtime error: .*|fuzz invariant failed: .*' "$log" || echo "exit status $status")
    result="FAILED ($reason; input in ${crashes#$root/}, log ${log#$root/})"
    failed=$((failed + 1)); failures+=("$name")
  fi
  printf '%-18s %6s %10s %8s %7s %7s %7s  %s\n' "$name" "$elapsed" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "$corp" "$result"
done
((failed == 0)) || echo "failed targets: ${failures[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
