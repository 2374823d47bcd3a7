#!/usr/bin/env bash
# Build the release flavour and run the sequence benchmark: triad's SEQ and
# PostgreSQL's UPDATE ... RETURNING side by side (see BENCHMARKS.md,
# "Sequences").
#   scripts/seq-bench.sh [seq-bench options]   e.g. scripts/seq-bench.sh --json
#   SEQ_BENCH_RUNS=5 scripts/seq-bench.sh      five runs, then the median of
#                                              each figure (needs python3)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh release >&2
runs=${SEQ_BENCH_RUNS:-1}
case "$runs" in
  ''|*[!0-9]*|0) echo "seq-bench.sh: SEQ_BENCH_RUNS must be a number >= 1" >&2; exit 2 ;;
esac
if [ "$runs" -eq 1 ]; then
  exec build/tests/seq-bench "$@"
fi

out=$(mktemp -d /tmp/seq-bench-runs.XXXXXX)
trap 'rm -rf "$out"' EXIT
for i in $(seq 1 "$runs"); do
  echo "seq-bench.sh: run $i of $runs" >&2
  build/tests/seq-bench --json "$@" >"$out/run$i.json"
done
python3 - "$out"/run*.json <<'PY'
import json, statistics, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
m = runs[0]["machine"]
print(f"seq-bench: median of {len(runs)} runs; {m['ncpu']} CPUs, {m['cpu']}; {m['kernel']}")
print(f"{'clients':>7}  {'system':<31} {'values/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
      f"{'p99.9 ms':>8}  vs PG (range)")
names = {"triad": "triad, threads, 1 in flight",
         "pipelined": f"triad, threads, {runs[0].get('inflight', 0)} in flight",
         "loop": f"triad, one loop, {runs[0].get('loop_inflight', 0)} in flight",
         "postgres": "PostgreSQL",
         "echo": "ZeroMQ echo, 1 in flight",
         "echo_loop": f"ZeroMQ echo, loop, {runs[0].get('loop_inflight', 0)} in flight"}
for k, r0 in enumerate(runs[0]["rounds"]):
    for side in ("triad", "pipelined", "loop", "postgres", "echo", "echo_loop"):
        if not all(r["rounds"][k].get(side, {}).get("ran") for r in runs):
            continue
        def med(key):
            return statistics.median(r["rounds"][k][side][key] for r in runs)
        ratios = [r["rounds"][k][side]["values_per_s"] / r["rounds"][k]["postgres"]["values_per_s"]
                  for r in runs if side not in ("postgres", "echo", "echo_loop") and r["rounds"][k]["postgres"]["ran"]
                  and r["rounds"][k]["postgres"]["values_per_s"] > 0]
        vs = (f"{statistics.median(ratios):.1f}x ({min(ratios):.1f}-{max(ratios):.1f})"
              if ratios else "")
        print(f"{r0['clients']:>7}  {names[side]:<31} {med('values_per_s'):>10.0f} "
              f"{med('p50_ms'):>8.3f} {med('p99_ms'):>8.3f} {med('p999_ms'):>8.3f}  {vs}")
PY
