#!/bin/bash
# tests/shim_disk_full.sh — `make test-disk` (and `make test` when root):
# the full-disk story of issue 14 on three real aureon-node processes over
# loopback, each with its data directory on its own small tmpfs.
#
#   1. A follower's disk fills up (a filler file takes every free byte) and
#      the other follower is SIGKILLed: only {leader, full follower} are
#      left to acknowledge writes.  The full follower must not acknowledge
#      entries it could not write, so no write may be acknowledged now.
#      Its /ready must say 503 (cannot persist) meanwhile.
#   2. The leader is frozen (SIGSTOP); the full follower is restarted and
#      the killed one started again; then the filler is removed so the disk
#      has room again.  Their leader must hold every acknowledged write.
#   3. The frozen leader resumes (SIGCONT): it must not abort (it used to,
#      on `truncate_log: Assertion 'from > r->commit'`), and every node
#      reads back every acknowledged write.
#
# Needs root (mount -t tmpfs).  AU_BIN=DIR picks the binaries: run it on a
# build with -DAU_BUG_IGNORE_STORAGE_ERROR (`make BUILD=build-bug
# EXTRA_CFLAGS=-DAU_BUG_IGNORE_STORAGE_ERROR`) to see it fail.  REC_DIR=DIR
# runs every node with `--record DIR` (outside the tmpfs disks), for
# `aureon-sim replay DIR --check` (tests/shim_replay_bug.sh); LOST_FILE=F
# lists every read that missed an acknowledged write.  Exit 0 pass,
# 1 fail, 2 cannot run here (not root, no tmpfs).  Everything it starts is
# killed and every mount undone on exit.
set -u

BIN=${AU_BIN:-build}
N=3
fail() { echo "shim_disk_full: FAIL: $*"; exit 1; }

if [ "$(id -u)" != 0 ]; then
	echo "shim_disk_full: needs root (tmpfs mounts); not run"
	exit 2
fi
command -v python3 >/dev/null || { echo "shim_disk_full: needs python3"; exit 2; }
[ -x "$BIN/aureon-node" ] && [ -x "$BIN/aureon-ctl" ] || { echo "shim_disk_full: build $BIN/aureon-node and aureon-ctl first"; exit 2; }
BIN=$(cd "$BIN" && pwd)

TMP=$(mktemp -d /tmp/aureon-diskfull-XXXXXX)
declare -a PIDS
MOUNTS=()
cleanup() {
	for i in $(seq 1 $N); do
		if [ -n "${PIDS[$i]:-}" ]; then
			kill -CONT "${PIDS[$i]}" 2>/dev/null
			kill -9 "${PIDS[$i]}" 2>/dev/null
		fi
	done
	wait 2>/dev/null
	for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
	if [ -n "${KEEP:-}" ]; then echo "shim_disk_full: files kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for i in $(seq 1 $N); do
	mkdir -p "$TMP/disk-n$i"
	mount -t tmpfs -o size=4m tmpfs "$TMP/disk-n$i" 2>/dev/null ||
		{ echo "shim_disk_full: cannot mount a tmpfs here; not run"; exit 2; }
	MOUNTS+=("$TMP/disk-n$i")
done

BASE=$(( 20000 + ($$ % 2000) * 10 ))
"$BIN/aureon-ctl" keygen "$TMP/cluster.key" 2>/dev/null || fail "keygen"
{
	echo "[cluster]"; echo "nodes = $N"; echo "services = raft,kv"
	echo "[raft]"; echo "election_timeout = 300ms..600ms"; echo "heartbeat = 50ms"
	echo "[hosts]"; for i in $(seq 1 $N); do echo "n$i = 127.0.0.1:$((BASE + i))"; done
	echo "[http]"; for i in $(seq 1 $N); do echo "n$i = 127.0.0.1:$((BASE + 5 + i))"; done
	echo "[auth]"; echo "key_file = cluster.key"
} > "$TMP/cluster.ini"

start() {
	"$BIN/aureon-node" --config "$TMP/cluster.ini" --id n$1 --data "$TMP/disk-n$1/data" \
		${REC_DIR:+--record "$REC_DIR"} >> "$TMP/n$1.log" 2>&1 &
	PIDS[$1]=$!
}
ctl() { "$BIN/aureon-ctl" --config "$TMP/cluster.ini" "$@"; }
# LOST_FILE=F: every read that missed an acknowledged write, "key read acknowledged".
lost() { [ -z "${LOST_FILE:-}" ] || echo "$1 $2 ${WANT[$1]}" >> "$LOST_FILE"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
leader() {
	ctl --timeout 1s status --json 2>/dev/null | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except Exception:
    sys.exit(0)
if s.get("leader"):
    print(s["leader"][1:], s["term"])'
}
wait_leader() { # seconds -> sets L T
	local t0; t0=$(ms); L=""
	while [ -z "$L" ] && [ $(( $(ms) - t0 )) -lt $(( $1 * 1000 )) ]; do
		read -r L T < <(leader); [ -z "$L" ] && sleep 0.2
	done
}
http() { python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        print(r.status, r.read().decode().strip())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().strip())
except Exception as e:
    print(0, e)
PY
}

for i in $(seq 1 $N); do start $i; done
wait_leader 20
[ -n "$L" ] || fail "no leader within 20 s"
LEAD=$L
FULL=""; KILL=""
for i in $(seq 1 $N); do
	[ "$i" = "$LEAD" ] && continue
	if [ -z "$FULL" ]; then FULL=$i; else KILL=$i; fi
done
declare -A WANT
for k in $(seq 1 10); do ctl put $k $((k * 3)) >/dev/null && WANT[$k]=$((k * 3)); done
[ ${#WANT[@]} -eq 10 ] || fail "only ${#WANT[@]} of 10 writes acknowledged on a healthy cluster"
echo "shim_disk_full: n$LEAD leads; n$FULL's disk will fill up, n$KILL will be killed"

# ---- 1. full disk on a follower, the other follower killed ------------------------------
dd if=/dev/zero of="$TMP/disk-n$FULL/filler" bs=4k >/dev/null 2>&1 # until ENOSPC
kill -9 "${PIDS[$KILL]}"; wait "${PIDS[$KILL]}" 2>/dev/null; PIDS[$KILL]=""
# tmpfs counts whole pages, so the follower's open log segment still has
# room in its last page: write until the follower runs out (then, with
# nothing durable on a majority, puts stop being acknowledged), at most 300.
acked=0; misses=0; k=100
while [ $k -lt 400 ] && [ $misses -lt 5 ]; do
	k=$((k + 1))
	if ctl --timeout 500ms put $k $((k * 3)) >/dev/null 2>&1; then
		WANT[$k]=$((k * 3)); acked=$((acked + 1)); misses=0
	else
		misses=$((misses + 1))
	fi
done
echo "shim_disk_full: with n$FULL full and n$KILL dead: $acked of $((k - 100)) writes acknowledged (those that fit in n$FULL's last allocated page), then none"
# What the full node says about itself (judged at the end, after the data).
LATER=""
r=$(http "http://127.0.0.1:$((BASE + 5 + FULL))/ready")
case "$r" in 503*) echo "shim_disk_full: n$FULL /ready while full: $r";; *) LATER="$LATER; n$FULL /ready while its disk is full: $r";; esac
metrics=$(http "http://127.0.0.1:$((BASE + 5 + FULL))/metrics")
case "$metrics" in *'aureon_storage_failing 1'*) ;;
*) LATER="$LATER; n$FULL /metrics does not say aureon_storage_failing 1";; esac

# ---- 2. freeze the leader; the other two come back; room returns ---------------------------
kill -STOP "${PIDS[$LEAD]}"
kill -9 "${PIDS[$FULL]}"; wait "${PIDS[$FULL]}" 2>/dev/null
start $FULL
start $KILL
sleep 2
rm -f "$TMP/disk-n$FULL/filler"
wait_leader 20
[ -n "$L" ] || fail "n$FULL and n$KILL elected no leader within 20 s of the disk getting room"
[ "$L" != "$LEAD" ] || fail "the frozen n$LEAD still named leader"
bad=0
for k in "${!WANT[@]}"; do
	v=$(ctl --timeout 5s get "$k" 2>/dev/null)
	[ "$v" = "${WANT[$k]}" ] || { [ $bad -lt 5 ] && echo "shim_disk_full: n$L reads key $k as '$v', acknowledged ${WANT[$k]}"; bad=$((bad + 1)); lost "$k" "$v"; }
done
[ $bad -eq 0 ] || fail "$bad of ${#WANT[@]} acknowledged writes lost while n$LEAD was frozen"
echo "shim_disk_full: n$L leads the two that came back and holds all ${#WANT[@]} acknowledged writes"
r=$(http "http://127.0.0.1:$((BASE + 5 + FULL))/ready")
case "$r" in 200*) ;; *) fail "n$FULL /ready after its disk got room: $r";; esac

# ---- 3. the frozen leader resumes -------------------------------------------------------------
kill -CONT "${PIDS[$LEAD]}"
for k in $(seq 201 210); do ctl --timeout 5s put $k $((k * 3)) >/dev/null && WANT[$k]=$((k * 3)); done
sleep 2
for i in $(seq 1 $N); do
	kill -0 "${PIDS[$i]}" 2>/dev/null || { tail -5 "$TMP/n$i.log"; fail "n$i died"; }
done
grep -h 'Assertion\|fatal' "$TMP"/n*.log && fail "a node logged an assertion or a fatal error"
bad=0
for k in "${!WANT[@]}"; do
	v=$(ctl --timeout 5s get "$k" 2>/dev/null)
	[ "$v" = "${WANT[$k]}" ] || { [ $bad -lt 5 ] && echo "shim_disk_full: key $k reads '$v', acknowledged ${WANT[$k]}"; bad=$((bad + 1)); lost "$k" "$v"; }
done
[ $bad -eq 0 ] || fail "$bad acknowledged writes lost"
grep -q 'raft: out of service' "$TMP/n$FULL.log" || LATER="$LATER; n$FULL never logged that Raft went out of service"
[ -z "$LATER" ] || fail "${LATER#; }"
echo "shim_disk_full: n$LEAD resumed without aborting; all ${#WANT[@]} acknowledged writes read back"
echo "shim_disk_full: 1 passed, 0 failed"
