#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, start the
# local cluster of configs/local.conf, run a workload through its quorum
# queue, show the result, and stop everything it started.
#   scripts/demo.sh [--records N] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."

records=200000
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --records) records=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done

scripts/deps.sh
scripts/build.sh release

dir=$(mktemp -d /tmp/triad-demo-XXXXXX)
cleanup() {
  build/triadctl down --dir "$dir" || true
  if [ "$keep" = 0 ]; then rm -rf "$dir"; else echo "demo: kept $dir"; fi
}
trap cleanup EXIT

echo "== starting the local cluster of configs/local.conf in $dir"
build/triadctl up -f configs/local.conf --dir "$dir"
echo "== writing $records records of 100 bytes through region sh's quorum queue, then reading them back"
build/triadctl workload -f "$dir/cluster.conf" --region sh --records "$records"
echo "== cluster status"
build/triadctl status -f "$dir/cluster.conf"
