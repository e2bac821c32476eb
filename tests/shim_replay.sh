#!/bin/sh
# tests/shim_replay.sh — issue 18's real-process check: three aureon-nodes on
# loopback, each with --record, under an aureon-ctl load writer; the leader
# is SIGKILLed mid-load and restarted (a second boot, recorded too) and a
# follower is paused (SIGSTOP) for 1.5 s; then every node is stopped and
# `aureon-sim replay` must find every boot of every node exact (its
# checkpoints' raft state digests, terms, commit indexes and output digests
# equal), and `aureon-sim replay --check` (all nodes in one simulated run,
# every checker on) must pass, judging the writer's operations as a KV
# history; `replay --to-scenario` must name the kill and the pause, and its
# scenario must run and pass.  Exit 0 pass, 1 fail, 2 cannot run.
# usage: tests/shim_replay.sh [BUILD_DIR]   (KEEP_DIR=1 keeps the files;
#        REC_OUT=DIR copies the record logs there on success)
set -eu
BIN=${1:-${AU_BIN:-build}}
CTL="$BIN/aureon-ctl"
NODE="$BIN/aureon-node"
SIM="$BIN/aureon-sim"
for b in "$CTL" "$NODE" "$SIM"; do
	[ -x "$b" ] || { echo "shim_replay: $b not built" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "shim_replay: needs python3 (free ports)" >&2; exit 2; }
LC_WHO=shim_replay
. "$(dirname "$0")/lib/loopback_cluster.sh"
lc_init replay
lc_cluster
start() { lc_start "$1" --record "$DIR/rec" --record-max-bytes 256KiB; }
for i in 1 2 3; do start "$i"; done
C="$CTL --config $DIR/cluster.ini --timeout 10s"
$C wait-leader >/dev/null
$C load --writes 3000 --concurrency 16 --keys 200 >"$DIR/load1.txt"
LEADER=$($C status 2>/dev/null | awk '/leader/ && match($0, /n[0-9]+/) { print substr($0, RSTART + 1, RLENGTH - 1); exit }')
case "$LEADER" in 1|2|3) ;; *) LEADER=1 ;; esac
eval "VICTIM=\$PID$LEADER"
$C load --writes 3000 --concurrency 16 --keys 200 >"$DIR/load2.txt" 2>&1 &
LOADPID=$!
sleep 0.3
kill -KILL "$VICTIM"
wait "$VICTIM" 2>/dev/null || true
sleep 0.5
start "$LEADER"
# A paused follower: its inputs wait in its socket and come late.
PAUSED=$(( LEADER % 3 + 1 ))
eval "kill -STOP \$PID$PAUSED"
sleep 1.5
eval "kill -CONT \$PID$PAUSED"
wait "$LOADPID" || true
$C wait-leader >/dev/null
$C load --writes 1000 --concurrency 16 --keys 200 >"$DIR/load3.txt"
for i in 1 2 3; do eval "kill -TERM \$PID$i"; done
for i in 1 2 3; do eval "wait \$PID$i" || true; done
PIDS=""
ls -l "$DIR/rec" >&2
rc=0
"$SIM" replay "$DIR/rec" >"$DIR/replay.txt" || rc=$?
cat "$DIR/replay.txt"
[ "$rc" = 0 ] || { echo "shim_replay: FAIL: replay exited $rc" >&2; exit 1; }
BOOTS=$(grep -c ': exact: ' "$DIR/replay.txt" || true)
[ "$BOOTS" -ge 4 ] || { echo "shim_replay: FAIL: $BOOTS exact boots, want 4 (3 nodes + the restart)" >&2; exit 1; }
grep -q "n$LEADER boot .*without a stop record" "$DIR/replay.txt" ||
	{ echo "shim_replay: FAIL: the killed node's first boot should end without a stop record" >&2; exit 1; }
"$SIM" replay "$DIR/rec" --check >"$DIR/check.txt" || rc=$?
cat "$DIR/check.txt"
[ "$rc" = 0 ] || { echo "shim_replay: FAIL: replay --check exited $rc" >&2; exit 1; }
OPS=$(sed -n 's/.*kv history .*: \([0-9]*\) operations.*/\1/p' "$DIR/check.txt")
[ "${OPS:-0}" -ge 4000 ] || { echo "shim_replay: FAIL: replay --check judged ${OPS:-0} KV operations, want at least the 4000 of the first and last loads" >&2; exit 1; }
# The scenario made from the logs: the kill and the pause as they happened,
# and it runs (and passes) in the simulator like any scenario.
"$SIM" replay "$DIR/rec" --to-scenario "$DIR/from-hosts.ini" >/dev/null || rc=$?
[ "$rc" = 0 ] || { echo "shim_replay: FAIL: replay --to-scenario exited $rc" >&2; exit 1; }
grep -q "^\[fault.kill-n$LEADER-" "$DIR/from-hosts.ini" && grep -q "^\[fault.pause-n$PAUSED-" "$DIR/from-hosts.ini" ||
	{ cat "$DIR/from-hosts.ini"; echo "shim_replay: FAIL: the scenario lacks the kill of n$LEADER or the pause of n$PAUSED" >&2; exit 1; }
"$SIM" run "$DIR/from-hosts.ini" >"$DIR/from-hosts.txt" || rc=$?
[ "$rc" = 0 ] || { cat "$DIR/from-hosts.ini" "$DIR/from-hosts.txt"; echo "shim_replay: FAIL: the scenario from the logs fails in the simulator (exit $rc)" >&2; exit 1; }
[ -z "${REC_OUT:-}" ] || cp -r "$DIR/rec" "$REC_OUT"
echo "shim_replay: pass: $BOOTS boots replayed exactly (n$LEADER SIGKILLed and restarted, n$PAUSED paused 1.5 s); merged with every check on: pass, $OPS KV operations judged; its scenario runs and passes"
