#!/usr/bin/env bash
# Builds and runs every test suite twice: on the normal build (build/) and on the sanitized
# build (build-asan/: ASan + UBSan, where any sanitizer report fails; docs/testing.md); then
# the bounded fuzzing run (tools/fuzz.sh, build-fuzz/). Ends with one line
# "N passed, M failed, K skipped" over all of them. Exits non-zero when any test failed, a build
# failed or a suite could not run.
# Usage: tools/test.sh [--normal] [--asan] [--fuzz]   (default and CI: all three)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
summary="$root/tools/test_summary.py"
lit=/usr/lib/llvm-19/build/utils/lit/lit.py

modes=()
for arg in "$@"; do
  case "$arg" in
    --normal) modes+=(normal) ;;
    --asan) modes+=(asan) ;;
    --fuzz) modes+=(fuzz) ;;
    *) echo "usage: tools/test.sh [--normal] [--asan] [--fuzz]" >&2; exit 2 ;;
  esac
done
((${#modes[@]})) || modes=(normal asan fuzz)

# Test oracles and clients from PyPI: numpy (.npy comparisons), tokenizers (HF's tokenizer),
# openai (the server's client), nvidia-nccl-cu13 (the NCCL library slrun --devices opens; its
# loader is tested without a GPU).
python3 -c "import numpy, tokenizers, openai, nvidia.nccl" 2>/dev/null ||
  python3 -m pip install --quiet numpy tokenizers openai nvidia-nccl-cu13 ||
  { echo "0 passed, 1 failed (cannot install numpy, tokenizers, openai, nvidia-nccl-cu13)"; exit 1; }

status=0
reports=()

# run_suite NAME COMMAND...: one suite. The command writes a JUnit XML report to
# $SL_TEST_REPORT or prints a line "N passed, M failed[, K skipped]"; either counts in the
# summary, and a non-zero exit without a reported failure counts as one failure. Adding a
# suite is one line below.
run_suite() {
  local name=$1; shift
  local report="$results/$name.xml" log="$results/$name.log"
  echo "== $mode: $name"
  SL_TEST_REPORT="$report" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  ((rc == 0)) || status=1
  python3 "$summary" --suite "$name" --exit-status "$rc" --output "$log" "$report"
  reports+=("$report")
}

for mode in "${modes[@]}"; do
  if [ "$mode" = fuzz ]; then
    # Suites that build for themselves: one line each.
    results="$root/build-fuzz/test-results"
    mkdir -p "$root/build-fuzz" && rm -rf "$results" && mkdir -p "$results"
    suite_start=$(date +%s)
    run_suite fuzz "$root/tools/fuzz.sh" 25
    echo "== $mode: took $(($(date +%s) - suite_start)) s"
    continue
  fi
  if [ "$mode" = asan ]; then build_dir=build-asan sanitize=address,undefined
  else build_dir=build sanitize=""; fi
  results="$root/$build_dir/test-results"
  mkdir -p "$root/$build_dir" && rm -rf "$results" && mkdir -p "$results"

  echo "== $mode: build ($build_dir)"
  start=$(date +%s)
  if ! SL_BUILD_DIR=$build_dir SL_SANITIZE=$sanitize "$root/tools/build.sh"; then
    python3 "$summary" --case "build ($build_dir)" --failure "build failed" "$results/build.xml"
    reports+=("$results/build.xml")
    status=1
    continue
  fi
  echo "== $mode: build took $(($(date +%s) - start)) s"

  if [ "$mode" = asan ]; then
    # Every report aborts the process (a crash fails a test, also under lit's `not`). ASan and
    # LSan reports also go to $logs, which fails the run even where a test swallowed the crash;
    # gcc's libubsan ignores log_path and prints its reports to stderr.
    # container overflow: libstdc++ (gcc) does not annotate its containers unless
    # _GLIBCXX_SANITIZE_VECTOR is defined, so uninstrumented MLIR code cannot trip it.
    # tools/lsan.supp: leaks inside third-party libraries only (NVRTC).
    logs="$results/sanitizer-logs"
    mkdir -p "$logs"
    export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:log_path=$logs/report:strict_init_order=1:check_initialization_order=1:detect_stack_use_after_return=1"
    export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$logs/report"
    export LSAN_OPTIONS="suppressions=$root/tools/lsan.supp:print_suppressions=0"
    export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-19/bin/llvm-symbolizer
  fi

  suite_start=$(date +%s)
  # The suites (each on this mode's build).
  # The server's abuse test compares p99 latencies (idle against under attack): it runs alone
  # after the others, so that no other test shares the machine with its measurement.
  run_suite lit python3 "$lit" -sv --filter-out 'server/abuse\.test' \
    --xunit-xml-output "$results/lit.xml" "$root/$build_dir/tests"
  run_suite lit-alone python3 "$lit" -sv -j1 --filter 'server/abuse\.test' \
    --xunit-xml-output "$results/lit-alone.xml" "$root/$build_dir/tests"
  run_suite ctest ctest --test-dir "$root/$build_dir" -j2 --output-on-failure \
    --output-junit "$results/ctest.xml"

  if [ "$mode" = asan ]; then
    unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS ASAN_SYMBOLIZER_PATH
    # One case per sanitizer report, printed here in full.
    cases=()
    for log in "$logs"/report*; do
      [ -e "$log" ] || continue
      echo "== sanitizer report $log:"; cat "$log"
      cases+=("$log")
    done
    if ((${#cases[@]})); then
      status=1
      for i in "${!cases[@]}"; do
        python3 "$summary" --case "sanitizer report $(basename "${cases[$i]}")" \
          --failure "$(head -c 2000 "${cases[$i]}")" "$results/sanitizer-report-$i.xml"
        reports+=("$results/sanitizer-report-$i.xml")
      done
    else
      python3 "$summary" --case "no sanitizer reports" "$results/sanitizer-reports.xml"
      reports+=("$results/sanitizer-reports.xml")
    fi
  fi
  echo "== $mode: tests took $(($(date +%s) - suite_start)) s"
done

python3 "$summary" "${reports[@]}" || status=1
exit $status
