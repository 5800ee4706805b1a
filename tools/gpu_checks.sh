# Sourced by tools/gpu_e2e_check.sh and tools/gpu_family_check.sh (run on a GPU machine):
# `check NAME COMMAND...` runs the command, prints "PASS NAME: <its last line>" or "FAIL NAME:"
# with its output, and counts failures in $failed; $out is a scratch folder, $compare the
# comparison script of the end-to-end tests.
compare="python3 $root/tests/e2e/compare_npy.py"
out=$(mktemp -d)
failed=0
check() {  # name, command...
  local name=$1
  shift
  if "$@" >"$out/log" 2>&1; then echo "PASS $name: $(tail -1 "$out/log")"; else
    echo "FAIL $name:"; tail -40 "$out/log"; failed=$((failed + 1)); fi
}
