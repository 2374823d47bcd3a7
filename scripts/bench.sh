#!/usr/bin/env bash
# Build the release flavour and run the quorum queue benchmark (see
# BENCHMARKS.md, "Quorum queue").
#   scripts/bench.sh [queue-bench options]   e.g. scripts/bench.sh --json
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh release >&2
exec build/tests/queue-bench "$@"
