#!/bin/bash
# tests/shim_netns.sh — `make test-netns`: five aureon-nodes, each in its
# own network namespace, joined by a bridge that lives in a namespace of its
# own (nothing touches the host's network), with tc netem delay, jitter and
# loss on every node's link (where the kernel has no sch_netem, loss alone
# through nftables, and the script says so).  aureon-ctl runs from a sixth
# namespace.
#
# It writes keys, SIGKILLs the leader and times the new election, cuts a
# follower off for a few seconds, restarts the killed node and waits for it
# to catch up from its files, and checks that every acknowledged write reads
# back.  Needs root (namespaces, tc).  Everything it starts is killed and
# every namespace deleted on exit, whatever happens.
set -u

BIN=${AU_BIN:-build}
DELAY=${NETEM_DELAY:-20ms}
JITTER=${NETEM_JITTER:-5ms}
LOSS=${NETEM_LOSS:-2%}
N=5

fail() { echo "shim_netns: FAIL: $*"; exit 1; }

if [ "$(id -u)" != 0 ]; then
	echo "shim_netns: needs root (network namespaces and tc); not run"
	exit 2
fi
for tool in ip tc python3; do
	command -v $tool >/dev/null || { echo "shim_netns: needs $tool (Debian: iproute2, python3)"; exit 2; }
done
[ -x "$BIN/aureon-node" ] && [ -x "$BIN/aureon-ctl" ] || { echo "shim_netns: build $BIN/aureon-node and aureon-ctl first"; exit 2; }
BIN=$(cd "$BIN" && pwd)

P=au$$   # namespace prefix, unique per run
BR=${P}br
CTL=${P}ctl
TMP=$(mktemp -d /tmp/aureon-netns-XXXXXX)
declare -a PIDS

cleanup() {
	for i in $(seq 1 $N); do
		[ -n "${PIDS[$i]:-}" ] && kill -9 "${PIDS[$i]}" 2>/dev/null
	done
	wait 2>/dev/null
	for ns in $BR $CTL $(for i in $(seq 1 $N); do echo ${P}n$i; done); do
		ip netns del $ns 2>/dev/null
	done
	if [ -n "${KEEP:-}" ]; then echo "shim_netns: files kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the network: 10.77.0.0/24, only inside our namespaces ----------------
ip netns add $BR || fail "cannot create network namespaces"
ip -n $BR link add br0 type bridge
ip -n $BR link set br0 up
attach() { # namespace, address, netem?
	local ns=$1 addr=$2 v=v$3
	ip netns add $ns
	ip -n $BR link add $v type veth peer name eth0 netns $ns
	ip -n $BR link set $v master br0 up
	ip -n $ns addr add $addr/24 dev eth0
	ip -n $ns link set eth0 up
	ip -n $ns link set lo up
	if [ "$4" = netem ]; then
		if [ -z "${NO_NETEM:-}" ] && ip netns exec $ns tc qdisc add dev eth0 root netem \
			delay $DELAY $JITTER loss $LOSS 2>/dev/null; then
			IMPAIR="netem delay $DELAY±$JITTER, loss $LOSS"
		elif command -v nft >/dev/null && ip netns exec $ns nft -f - <<-EOF
			table inet aureon_loss {
				chain out {
					type filter hook output priority 0; policy accept;
					meta l4proto udp numgen random mod 100 < ${LOSS%\%} drop
				}
			}
			EOF
		then
			NO_NETEM=1
			IMPAIR="loss $LOSS by nftables (this kernel has no sch_netem: no delay emulated)"
		else
			fail "neither tc netem nor nftables works here (kernel module sch_netem? Debian package nftables?)"
		fi
	fi
}
for i in $(seq 1 $N); do attach ${P}n$i 10.77.0.$i $i netem; done
attach $CTL 10.77.0.100 100 plain

# ---- the cluster --------------------------------------------------------------
"$BIN/aureon-ctl" keygen "$TMP/cluster.key" 2>/dev/null || fail "keygen"
{
	echo "[cluster]"; echo "nodes = $N"; echo "services = raft,kv"
	echo "[raft]"; echo "election_timeout = 400ms..800ms"; echo "heartbeat = 100ms"
	echo "[hosts]"; for i in $(seq 1 $N); do echo "n$i = 10.77.0.$i:7000"; done
	echo "[http]"; for i in $(seq 1 $N); do echo "n$i = 10.77.0.$i:8000"; done
	echo "[auth]"; echo "key_file = cluster.key"
} > "$TMP/cluster.ini"

start() {
	ip netns exec ${P}n$1 "$BIN/aureon-node" --config "$TMP/cluster.ini" --id n$1 \
		--data "$TMP/data-n$1" >> "$TMP/n$1.log" 2>&1 &
	PIDS[$1]=$!
}
ctl() { ip netns exec $CTL "$BIN/aureon-ctl" --config "$TMP/cluster.ini" "$@"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# leader [term] from `status --json`: prints "ID TERM" or nothing
leader() {
	ctl status --json 2>/dev/null | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except Exception:
    sys.exit(0)
if s.get("leader"):
    print(s["leader"][1:], s["term"])'
}
applied() {
	ctl status --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
for n in s["status"]:
    if n["node"] == "n'$1'":
        print(n.get("applied_index", -1))'
}

for i in $(seq 1 $N); do start $i; done
t0=$(ms)
L=""
while [ -z "$L" ] && [ $(( $(ms) - t0 )) -lt 20000 ]; do read -r L T < <(leader); [ -z "$L" ] && sleep 0.2; done
[ -n "$L" ] || fail "no leader within 20 s"
echo "shim_netns: $IMPAIR on each of $N nodes' links; leader n$L (term $T) after $(( $(ms) - t0 )) ms"

declare -A WANT
put() { if ctl --timeout 10s put "$1" "$2" >/dev/null 2>"$TMP/ctl.err"; then WANT[$1]=$2; else echo "shim_netns: put $1 not acknowledged: $(cat "$TMP/ctl.err")"; fi; }
t0=$(ms)
for k in $(seq 1 40); do put $k $((k * 7)); done
echo "shim_netns: 40 writes through aureon-ctl in $(( $(ms) - t0 )) ms (one process per write)"

# ---- kill the leader ------------------------------------------------------------------
kill -9 "${PIDS[$L]}"; wait "${PIDS[$L]}" 2>/dev/null; PIDS[$L]=""
OLD=$L; OLDT=$T
t0=$(ms)
NEW=""
while [ $(( $(ms) - t0 )) -lt 15000 ]; do
	read -r NEW NT < <(leader)
	[ -n "$NEW" ] && [ "$NEW" != "$OLD" ] && [ "$NT" -gt "$OLDT" ] && break
	NEW=""
done
[ -n "$NEW" ] || fail "no new leader within 15 s of killing n$OLD"
echo "shim_netns: killed leader n$OLD; n$NEW leads term $NT, seen after $(( $(ms) - t0 )) ms (status polls wait up to 1 s for the dead node)"
for k in $(seq 41 60); do put $k $((k * 7)); done

# ---- cut a follower off for 3 s --------------------------------------------------------
CUT=""
for i in $(seq 1 $N); do [ "$i" != "$OLD" ] && [ "$i" != "$NEW" ] && CUT=$i && break; done
ip -n $BR link set v$CUT down
for k in $(seq 61 70); do put $k $((k * 7)); done
sleep 3
ip -n $BR link set v$CUT up
echo "shim_netns: n$CUT was cut off for writes 61..70 and 3 s"

# ---- restart the killed node: recovery from its files, then catch-up ---------------------
start $OLD
sleep 0.5
for k in $(seq 71 80); do put $k $((k * 7)); done
read -r L T < <(leader)
target=$(applied $L)
t0=$(ms)
got=-1
while [ $(( $(ms) - t0 )) -lt 20000 ]; do
	got=$(applied $OLD); got=${got:--1}
	[ "$got" -ge "$target" ] && break
	sleep 0.2
done
[ "$got" -ge "$target" ] || fail "restarted n$OLD applied $got of $target after 20 s"
echo "shim_netns: restarted n$OLD caught up to index $got within $(( $(ms) - t0 )) ms"
cutgot=$(applied $CUT)
[ "${cutgot:--1}" -ge "$target" ] || fail "n$CUT (cut off earlier) applied $cutgot of $target"

# ---- every acknowledged write reads back ---------------------------------------------------
bad=0
for k in "${!WANT[@]}"; do
	v=$(ctl --timeout 10s get "$k" 2>/dev/null)
	[ "$v" = "${WANT[$k]}" ] || { echo "shim_netns: key $k read '$v', want ${WANT[$k]}"; bad=$((bad + 1)); }
done
[ $bad -eq 0 ] || fail "$bad acknowledged writes lost"
echo "shim_netns: all ${#WANT[@]} acknowledged writes read back"
ctl status
echo "shim_netns: 1 passed, 0 failed"
