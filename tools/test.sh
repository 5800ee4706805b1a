#!/usr/bin/env bash
# Builds (tools/build.sh), runs every test suite, and ends with one line
# "N passed, M failed, K skipped". Exits non-zero when any test failed or a suite could not run.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

"$root/tools/build.sh" || { echo "0 passed, 1 failed (build)"; exit 1; }

# Test oracles and clients from PyPI: numpy (.npy comparisons), tokenizers (HF's tokenizer),
# openai (the server's client).
python3 -c "import numpy, tokenizers, openai" 2>/dev/null ||
  python3 -m pip install --quiet numpy tokenizers openai ||
  { echo "0 passed, 1 failed (cannot install numpy, tokenizers, openai)"; exit 1; }

results="$root/build/test-results"
rm -rf "$results" && mkdir -p "$results"
status=0

echo "== lit (IR, passes, models)"
python3 /usr/lib/llvm-19/build/utils/lit/lit.py -sv --xunit-xml-output "$results/lit.xml" \
  "$root/build/tests" || status=1

echo "== unit tests (ctest)"
ctest --test-dir "$root/build" --output-on-failure --output-junit "$results/ctest.xml" || status=1

python3 "$root/tools/test_summary.py" "$results"/*.xml || status=1
exit $status
