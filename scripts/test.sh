#!/usr/bin/env bash
# Run every test of triad on a fresh machine: install what is missing, build
# with -Werror under ASan + UBSan, run the unit and integration tests, fuzz
# each decoder for a short fixed time, then check that an application builds
# against the installed library.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
scripts/deps.sh
scripts/build.sh asan

echo "== unit and integration tests (ASan + UBSan)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --test-dir build-asan --output-on-failure -j2 2>&1 | tee "$log"
ran=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n 1)

echo "== fuzzing the decoders (${TRIAD_FUZZ_SECONDS:-20} s each)"
scripts/fuzz.sh "${TRIAD_FUZZ_SECONDS:-20}"

echo "== install and build an application against libtriad"
scripts/build.sh release
tests/install/check-install.sh build

fuzzed=$(ls tests/fuzz/fuzz_*.c | wc -l)
echo "== all tests passed in $(( $(date +%s) - start )) s"
echo "$(( ran + fuzzed + 1 )) passed, 0 failed"
