#!/usr/bin/env bash
# Build the release flavour and run the replication benchmark (see
# BENCHMARKS.md, "Replication").
#   scripts/repl-bench.sh [repl-bench options]   e.g. scripts/repl-bench.sh --json
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh release >&2
exec build/tests/repl-bench "$@"
