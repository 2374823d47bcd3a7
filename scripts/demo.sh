#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, start the
# local two-region cluster of configs/local.conf (a PostgreSQL per region,
# queue nodes, routers, replay daemons), write through the routers for users
# homed in both regions, show the replication lag, check that both regions'
# databases agree, show the cluster, drill one campus (drillctl: baseline,
# block, after; every module judged) and show its verdict, and stop
# everything it started.
#   scripts/demo.sh [--records N] [--users N] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."

records=50000
users=1000
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --records) records=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
echo "== writing $records records for $users users homed in sh and hk through the routers, then waiting for both regions to agree"
build/triadctl workload -f "$dir/cluster.conf" --replication --records "$records" --users "$users"
echo "== replication lag"
build/triadctl lag -f "$dir/cluster.conf"
echo "== comparing the regions' databases"
build/triadctl verify -f "$dir/cluster.conf" --wait 60
echo "== cluster status"
build/triadctl status -f "$dir/cluster.conf"
echo "== the ID service: a user's sequence, a unique name (claimed at the global master sh, looked up in hk), 64-bit ids"
build/triadctl seq -f "$dir/cluster.conf" -n 3 42
build/triadctl claim -f "$dir/cluster.conf" --region hk demo-alice 42
for _ in $(seq 50); do
  build/triadctl lookup -f "$dir/cluster.conf" --region hk demo-alice >/dev/null 2>&1 && break
  sleep 0.1
done
build/triadctl lookup -f "$dir/cluster.conf" --region hk demo-alice
build/triadctl genid -f "$dir/cluster.conf" -n 3 --decode
echo "== drilling campus sh/b: baseline 5 s, block 10 s, after 5 s, every module judged"
drill_rc=0
build/drill/drillctl run -f "$dir/cluster.conf" --module all --campus sh/b \
  --baseline 5s --block 10s --after 5s || drill_rc=$?
echo "== the drill's record (drillctl history)"
build/drill/drillctl history -f "$dir/cluster.conf" --limit 4
report=$PWD/drill-report.html
build/drill/drillctl report -f "$dir/cluster.conf" --last 4 --format html -o "$report"
echo "== the drill's report page (error rate and p99 over the windows): $report"
if [ "$drill_rc" -ne 0 ]; then
  echo "demo: the drill of sh/b did not pass (exit $drill_rc)" >&2
  exit "$drill_rc"
fi
echo "demo: the drill of sh/b passed: losing a campus cost nothing"
