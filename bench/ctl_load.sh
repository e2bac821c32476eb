#!/bin/sh
# bench/ctl_load.sh — `make bench-ctl`: acknowledged KV writes per second
# through aureon-ctl on a 3-node loopback cluster (issue 16's target: the
# batch client >= 1,000 writes/s).  Starts three aureon-node processes
# (raft,kv; fdatasync on, data under a temporary directory), then in one
# run, back to back:
#   1. the baseline: `aureon-ctl put` once per write, a process each
#      (BASE_WRITES, 200), as a shell loop would;
#   2. `aureon-ctl load --writes LOAD_WRITES (20000) --concurrency 64`;
#   3. one `aureon-ctl batch` of BATCH_WRITES (20000) puts on stdin;
# and prints each rate and the ratio to the baseline.  A benchmark, not a
# test: it fails only if a command fails, never on speed.
#
# usage: bench/ctl_load.sh [BUILD_DIR]   (env: BASE_WRITES LOAD_WRITES BATCH_WRITES
#        CONCURRENCY KEEP_DIR=1 to keep the cluster's files)
set -eu
BIN=${1:-build}
BASE_WRITES=${BASE_WRITES:-200}
LOAD_WRITES=${LOAD_WRITES:-20000}
BATCH_WRITES=${BATCH_WRITES:-20000}
CONCURRENCY=${CONCURRENCY:-64}
CTL="$BIN/aureon-ctl"
NODE="$BIN/aureon-node"
for b in "$CTL" "$NODE"; do
	[ -x "$b" ] || { echo "bench-ctl: $b not built (make all)" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "bench-ctl: needs python3 (free ports)" >&2; exit 2; }

LC_WHO=bench-ctl
. "$(dirname "$0")/../tests/lib/loopback_cluster.sh"
lc_init bench-ctl
lc_cluster http
# RECORD=1: every node also writes its input log (--record, docs/replay.md)
for i in 1 2 3; do lc_start "$i" ${RECORD:+--record "$DIR/rec"}; done
C="$CTL --config $DIR/cluster.ini"
$C --timeout 10s wait-leader

now_ns() { date +%s%N; }
rate() { # COUNT START_NS END_NS -> writes/s
	awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / ((b - a) / 1e9) }'
}

echo "== baseline: aureon-ctl put, one process per write ($BASE_WRITES writes)"
t0=$(now_ns)
i=0
while [ "$i" -lt "$BASE_WRITES" ]; do
	$C put "$i" "$i" >/dev/null
	i=$((i + 1))
done
t1=$(now_ns)
BASE=$(rate "$BASE_WRITES" "$t0" "$t1")
echo "baseline: $BASE_WRITES writes in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }') s: $BASE writes/s"

echo "== load: $LOAD_WRITES writes, concurrency $CONCURRENCY, 1000 keys"
LOAD_JSON=$($C load --writes "$LOAD_WRITES" --concurrency "$CONCURRENCY" --keys 1000 --json)
echo "$LOAD_JSON"
LOAD=$(echo "$LOAD_JSON" | python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["writes_per_second"])')

echo "== batch: $BATCH_WRITES puts on stdin, window $CONCURRENCY"
awk -v n="$BATCH_WRITES" 'BEGIN { for (i = 0; i < n; i++) printf "put %d %d\n", 100000 + i, i }' >"$DIR/batch.txt"
t0=$(now_ns)
$C --window "$CONCURRENCY" batch <"$DIR/batch.txt" >"$DIR/batch.out" 2>"$DIR/batch.err"
t1=$(now_ns)
OKS=$(grep -c '^ok$' "$DIR/batch.out" || true)
[ "$OKS" = "$BATCH_WRITES" ] || { echo "bench-ctl: batch acknowledged $OKS of $BATCH_WRITES" >&2; exit 1; }
BATCH=$(rate "$BATCH_WRITES" "$t0" "$t1")
cat "$DIR/batch.err"
echo "batch: $BATCH_WRITES writes acknowledged, $BATCH writes/s (process start to exit)"

if [ -n "${RECORD:-}" ]; then
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	PIDS=""
	echo "== record logs: $(cat "$DIR"/rec/*.aurec | wc -c) bytes in $(ls "$DIR"/rec | wc -l) segments"
	"$BIN/aureon-sim" replay "$DIR/rec" | sed 's/^/replay: /'
fi
echo "== summary"
awk -v b="$BASE" -v l="$LOAD" -v s="$BATCH" 'BEGIN {
	printf "acknowledged writes/s: per-process put %d; load %d (%.0fx); batch %d (%.0fx); target >= 1000: %s\n",
	       b, l, l / b, s, s / b, (l >= 1000 && s >= 1000) ? "met" : "NOT met" }'
