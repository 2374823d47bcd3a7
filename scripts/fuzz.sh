#!/bin/sh
# fuzz.sh - build the libFuzzer targets with clang and run each one.
#
# usage: scripts/fuzz.sh [SECONDS]        (default 30 seconds per target)
#
# Configures its own build directory, build-fuzz/ at the top of the tree
# (or $TRIAD_FUZZ_BUILD), with CC=clang -DTRIAD_FUZZ=ON -DTRIAD_TESTS=OFF,
# builds fuzz_entry, fuzz_wire and fuzz_batch, refreshes the seeds in
# tests/fuzz/corpus/ (make_seeds is deterministic, so unchanged formats
# leave them as they are), and runs each target for SECONDS with
# -max_total_time.  New inputs the fuzzer finds go to BUILD/corpus/TARGET/,
# crashing inputs to BUILD/artifacts/, the full output to BUILD/TARGET.log.
# Prints one line per target; exits 1 if any target crashed, 2 on a usage
# or build error.
set -eu

usage() {
	echo "usage: $0 [SECONDS]" >&2
	exit 2
}

[ $# -le 1 ] || usage
secs=${1:-30}
case $secs in
'' | *[!0-9]*) usage ;;
esac
[ "$secs" -gt 0 ] || usage

root=$(cd "$(dirname "$0")/.." && pwd)
build=${TRIAD_FUZZ_BUILD:-$root/build-fuzz}
targets="fuzz_entry fuzz_wire fuzz_batch"

if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz.sh: clang is needed and was not found" >&2
	exit 2
fi

mkdir -p "$build"
if ! CC=clang cmake -S "$root" -B "$build" -DTRIAD_FUZZ=ON \
    -DTRIAD_TESTS=OFF >"$build/configure.log" 2>&1; then
	cat "$build/configure.log" >&2
	echo "fuzz.sh: configuring $build failed" >&2
	exit 2
fi
# shellcheck disable=SC2086 # targets is a list
if ! cmake --build "$build" --target $targets make_seeds -j2 \
    >"$build/build.log" 2>&1; then
	cat "$build/build.log" >&2
	echo "fuzz.sh: building the fuzz targets failed" >&2
	exit 2
fi
if ! "$build/tests/fuzz/make_seeds" "$root/tests/fuzz/corpus"; then
	echo "fuzz.sh: writing the seeds failed" >&2
	exit 2
fi

failed=0
mkdir -p "$build/artifacts"
for t in $targets; do
	mkdir -p "$build/corpus/$t"
	log="$build/$t.log"
	printf '%s: running for %s s... ' "$t" "$secs"
	if "$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 \
	    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
	    "$build/corpus/$t" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
		    "$log" | tail -n 1)
		echo "ok, ${runs:-?} runs"
	else
		echo "FAILED (see $log and $build/artifacts/)"
		failed=1
	fi
done
exit "$failed"
