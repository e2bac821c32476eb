#!/usr/bin/env bash
# tests/fresh_machine.sh — `make test-fresh`: prove that the README's two
# commands work the first time on a Debian 12 machine that has none of the
# project's packages, each on its own, in either order.
#
# It makes a minimal Debian 12 (bookworm) root with debootstrap (the
# machine's own mirror; installs debootstrap first if missing), adds only
# what a newcomer must have to type the commands at all — make and git —
# and then, in two fresh copies of that root:
#   A. clones this repository and runs `make run` first, then `make test`;
#   B. clones it and runs `make test` first, then `make run`.
# Each first command must install the missing packages itself and succeed.
# Needs root (debootstrap, chroot, mounts).  ~10-20 minutes, ~1.5 GB in
# FRESH_DIR (default /tmp/aureon-fresh; KEEP=1 keeps it).
# Exit 0 both orders passed, 1 one failed, 2 cannot run here.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
DIR=${FRESH_DIR:-/tmp/aureon-fresh}
MIRROR=${FRESH_MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" = 0 ] || { echo "fresh_machine: needs root (debootstrap, chroot); not run"; exit 2; }
if ! command -v debootstrap >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
		{ echo "fresh_machine: cannot install debootstrap"; exit 2; }
fi

MOUNTED=()
cleanup() {
	for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTED[$i]}" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "fresh_machine: kept $DIR" || rm -rf "$DIR"
}
trap cleanup EXIT

rm -rf "$DIR"; mkdir -p "$DIR"
echo "fresh_machine: debootstrap bookworm (minbase) from $MIRROR"
debootstrap --variant=minbase bookworm "$DIR/base" "$MIRROR" > "$DIR/debootstrap.log" 2>&1 ||
	{ tail -20 "$DIR/debootstrap.log"; echo "fresh_machine: debootstrap failed"; exit 2; }
chroot "$DIR/base" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make git ca-certificates >/dev/null' ||
	{ echo "fresh_machine: cannot install make and git in the new root"; exit 2; }
for p in libglib2.0-dev libhdf5-dev check pkg-config gcc; do
	chroot "$DIR/base" dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q "install ok installed" &&
		{ echo "fresh_machine: $p is already in the new root: not a fresh machine"; exit 2; }
done

# One order in a fresh copy of the root: clone, run the two commands.
try() { # name first second
	local root=$DIR/$1
	cp -a "$DIR/base" "$root"
	for m in proc sys dev dev/pts; do mount --bind /$m "$root/$m" && MOUNTED+=("$root/$m"); done
	git clone -q "$REPO" "$root/src" || return 1
	[ -d "$REPO/../shared" ] && cp -a "$REPO/../shared" "$root/shared"
	local rc=0
	for cmd in "$2" "$3"; do
		echo "fresh_machine: [$1] make $cmd"
		if ! chroot "$root" bash -c "cd /src && make $cmd" > "$DIR/$1-$cmd.log" 2>&1; then
			tail -30 "$DIR/$1-$cmd.log"
			echo "fresh_machine: [$1] make $cmd FAILED (log: $DIR/$1-$cmd.log)"
			rc=1
			break
		fi
		grep -E '^[0-9]+%: Checks|result:|passed' "$DIR/$1-$cmd.log" | sed "s/^/fresh_machine: [$1]   /"
	done
	for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
		case "${MOUNTED[$i]}" in "$root"/*) umount -l "${MOUNTED[$i]}"; unset 'MOUNTED[i]';; esac
	done
	MOUNTED=("${MOUNTED[@]}")
	rm -rf "$root"
	return $rc
}

fail=0
try run-first run test || fail=1
try test-first test run || fail=1
[ $fail = 0 ] && echo "fresh_machine: both orders passed on a fresh Debian 12 root" || echo "fresh_machine: FAILED"
exit $fail
