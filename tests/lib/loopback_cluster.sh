# tests/lib/loopback_cluster.sh — sourced (POSIX sh) by tests/shim_replay.sh
# and bench/ctl_load.sh: a 3-node raft,kv cluster of aureon-node processes
# on 127.0.0.1 ports that were free, with a fresh cluster key, in a
# temporary directory removed on exit (KEEP_DIR=1 keeps it).
# The caller sets NODE and CTL (binaries) and LC_WHO (its name in messages).

# lc_init TAG: DIR=/tmp/aureon-TAG-XXXXXX, PIDS, and the cleanup trap.
lc_init() {
	DIR=$(mktemp -d "/tmp/aureon-$1-XXXXXX")
	PIDS=""
	trap lc_cleanup EXIT INT TERM
}

# Kill every node started, then drop DIR unless KEEP_DIR=1.
lc_cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	if [ "${KEEP_DIR:-}" = 1 ]; then echo "$LC_WHO: files kept in $DIR" >&2; else rm -rf "$DIR"; fi
}

# lc_cluster [http]: $DIR/cluster.ini (with "http", a /metrics port per
# node in [http]) and $DIR/cluster.key.
lc_cluster() {
	http=${1:-}
	ports=$(python3 -c '
import socket, sys
kinds = [socket.SOCK_DGRAM] * 3 + ([socket.SOCK_STREAM] * 3 if sys.argv[1] else [])
keep = []
for kind in kinds:
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    keep.append(s)
print(" ".join(str(s.getsockname()[1]) for s in keep))' "$http")
	set -- $ports
	{
		echo "# written by tests/lib/loopback_cluster.sh for $LC_WHO"
		printf '[cluster]\nnodes = 3\nservices = raft,kv\n'
		printf '[raft]\nelection_timeout = 150ms..300ms\nheartbeat = 50ms\n'
		printf '[hosts]\nn1 = 127.0.0.1:%s\nn2 = 127.0.0.1:%s\nn3 = 127.0.0.1:%s\n' "$1" "$2" "$3"
		[ -z "$http" ] || printf '[http]\nn1 = 127.0.0.1:%s\nn2 = 127.0.0.1:%s\nn3 = 127.0.0.1:%s\n' "$4" "$5" "$6"
		printf '[auth]\nkey_file = cluster.key\n'
	} > "$DIR/cluster.ini"
	"$CTL" keygen "$DIR/cluster.key" 2>/dev/null
}

# lc_start I [aureon-node options...]: start nI; its pid in PIDI and PIDS,
# its output appended to $DIR/nI.log (a restart keeps the earlier lines).
lc_start() {
	i=$1
	shift
	"$NODE" --config "$DIR/cluster.ini" --id "n$i" --data "$DIR/n$i" --quiet "$@" >>"$DIR/n$i.log" 2>&1 &
	eval "PID$i=$!"
	PIDS="$PIDS $!"
}
