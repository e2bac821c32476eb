#!/bin/bash
# tests/shim_replay_bug.sh — issue 18's planted-bug comparison: a failure
# seen on real hosts, replayed in the simulator, fails there too, at the
# same operation.
#
# It runs tests/shim_disk_full.sh (three aureon-nodes on loopback, a
# follower's disk full, the other follower killed, the leader frozen, then
# every acknowledged write read back) with every node recording
# (`--record`), twice:
#
#   1. the clean build ($AU_BIN): the hosts pass, and `aureon-sim replay
#      --check` of their logs must find every boot exact and every check
#      holding (the KV history built from the servers' requests and replies
#      judged linearizable);
#   2. a build with the planted bug IGNORE_STORAGE_ERROR ($AU_BUG_BIN, made
#      by `make test-replay-bug`): the hosts fail (acknowledged writes read
#      back as lost); the replay of their logs must be exact and fail
#      raft_safety (a leader elected without committed entries: the
#      cause), and with `--skip raft_safety` fail linearizable_kv at a read
#      the hosts saw go wrong: the same key, the same value read.
#
# Needs root (tmpfs mounts, as shim_disk_full.sh).  Exit 0 pass, 1 fail,
# 2 cannot run here.  KEEP=1 keeps the files.
set -u
BIN=${AU_BIN:-build}
BUG=${AU_BUG_BIN:-build-bug}
HERE=$(cd "$(dirname "$0")" && pwd)
fail() { echo "shim_replay_bug: FAIL: $*"; exit 1; }
if [ "$(id -u)" != 0 ]; then
	echo "shim_replay_bug: needs root (tmpfs mounts, as shim_disk_full.sh); not run"
	exit 2
fi
for b in "$BIN/aureon-sim" "$BUG/aureon-node" "$BUG/aureon-ctl" "$BUG/aureon-sim"; do
	[ -x "$b" ] || { echo "shim_replay_bug: $b not built (make test-replay-bug builds it)"; exit 2; }
done
TMP=$(mktemp -d /tmp/aureon-replaybug-XXXXXX)
cleanup() { if [ -n "${KEEP:-}" ]; then echo "shim_replay_bug: files kept in $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT

# ---- 1. clean build: hosts pass, replay passes ------------------------------------------
REC_DIR="$TMP/clean" AU_BIN="$BIN" "$HERE/shim_disk_full.sh" > "$TMP/clean-hosts.txt" 2>&1
rc=$?
cat "$TMP/clean-hosts.txt"
[ $rc = 2 ] && { echo "shim_replay_bug: not run (shim_disk_full.sh cannot run here)"; exit 2; }
[ $rc = 0 ] || fail "the clean build failed on hosts (exit $rc)"
"$BIN/aureon-sim" replay "$TMP/clean" --check > "$TMP/clean-replay.txt" 2>&1
rc=$?
cat "$TMP/clean-replay.txt"
[ $rc = 0 ] || fail "the replay of the clean hosts' logs exited $rc"
grep -q '^result: pass' "$TMP/clean-replay.txt" || fail "the clean replay does not say pass"
ops=$(sed -n 's/.*kv history .*: \([0-9]*\) operations.*/\1/p' "$TMP/clean-replay.txt")
[ "${ops:-0}" -ge 20 ] || fail "the clean replay judged ${ops:-0} KV operations, want at least the test's first 20"
# Determinism: the same logs give the same trace hash.
"$BIN/aureon-sim" replay "$TMP/clean" --check > "$TMP/clean-replay2.txt" 2>&1
h1=$(grep 'trace hash' "$TMP/clean-replay.txt"); h2=$(grep 'trace hash' "$TMP/clean-replay2.txt")
[ -n "$h1" ] && [ "$h1" = "$h2" ] || fail "two replays of the same logs differ: '$h1' vs '$h2'"

# ---- 2. the planted bug: hosts fail, replay fails at the same read -----------------------
LOST_FILE="$TMP/lost.txt" REC_DIR="$TMP/bug" AU_BIN="$BUG" "$HERE/shim_disk_full.sh" > "$TMP/bug-hosts.txt" 2>&1
rc=$?
cat "$TMP/bug-hosts.txt"
[ $rc = 1 ] || fail "with IGNORE_STORAGE_ERROR the hosts should fail (exit 1), got $rc"
[ -s "$TMP/lost.txt" ] || fail "the hosts failed but listed no lost write"
echo "shim_replay_bug: on hosts, $(wc -l < "$TMP/lost.txt") reads missed an acknowledged write"
"$BUG/aureon-sim" replay "$TMP/bug" --check > "$TMP/bug-replay.txt" 2>&1
rc=$?
cat "$TMP/bug-replay.txt"
[ $rc = 1 ] || fail "the replay of the failing hosts should fail (exit 1), got $rc"
grep -q 'DIVERGED\|not replayable' "$TMP/bug-replay.txt" && fail "the replay of the failing hosts is not exact"
grep -q '^  violation: raft_safety' "$TMP/bug-replay.txt" || fail "the replay did not fail raft_safety"
"$BUG/aureon-sim" replay "$TMP/bug" --check --skip raft_safety > "$TMP/bug-lin.txt" 2>&1
rc=$?
cat "$TMP/bug-lin.txt"
[ $rc = 1 ] || fail "the replay without raft_safety should fail (exit 1), got $rc"
grep -q '^  violation: linearizable_kv' "$TMP/bug-lin.txt" || fail "the replay did not fail linearizable_kv"
# The violating window: "key K: ..." and its operation lines "GET -> V".
key=$(sed -n 's/^  violation: linearizable_kv.* key \([0-9-]*\):.*/\1/p' "$TMP/bug-lin.txt" | head -1)
found=0
for v in $(sed -n 's/.* GET -> \([0-9-]*\) .*/\1/p' "$TMP/bug-lin.txt"); do
	grep -q "^$key $v " "$TMP/lost.txt" && found=1
done
[ $found = 1 ] || fail "the replay's failing read (key $key) is not one the hosts saw go wrong: $(head -3 "$TMP/lost.txt" | tr '\n' ';')"
echo "shim_replay_bug: pass: clean hosts replay exact and pass ($ops KV operations judged); the planted bug fails on hosts and its replay fails linearizable_kv at a read of key $key the hosts saw lose an acknowledged write (raft_safety first, at the cause)"
