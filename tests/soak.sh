#!/usr/bin/env bash
# tests/soak.sh — `make soak`: SOAK_SEEDS seeds (default 10,000) of every
# standard chaos scenario, on the build in BUILD (default build: a clean
# build, no planted bug), with every check the scenario turns on.  A pass
# means 0 failing seeds in every sweep.
#
# Prints a markdown table for bench/RESULTS.md (scenario, seeds, failures,
# wall time, seeds/min, the failing seeds if any) and leaves each sweep's
# JSON, JUnit and reproducers in $BUILD/soak/NAME/.  Exit 0 only if no seed
# failed; 1 if some did; 2 if a sweep could not run.
#
# Usage: tests/soak.sh [SCENARIO...]   (default: the standard four)
# Environment: SOAK_SEEDS (e.g. 1-10000 or 500), SOAK_JOBS (default 2)
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
SEEDS=${SOAK_SEEDS:-10000}
case "$SEEDS" in *-*) ;; *) SEEDS="1-$SEEDS";; esac
JOBS=${SOAK_JOBS:-2}
SIM=$BUILD/aureon-sim
[ -x "$SIM" ] || { echo "soak: build $SIM first (make)"; exit 2; }
if [ $# -gt 0 ]; then
	scenarios=("$@")
else
	scenarios=(scenarios/chaos-raft.ini scenarios/chaos-raft-tight.ini scenarios/chaos-aureon.ini
		   scenarios/chaos-rqml.ini)
fi

echo "| scenario | seeds | failed | wall | seeds/min | failing seeds |"
echo "|---|---|---|---|---|---|"
total_failed=0
status=0
for sc in "${scenarios[@]}"; do
	name=$(basename "$sc" .ini)
	out=$BUILD/soak/$name
	rm -rf "$out"
	mkdir -p "$out"
	CI=true "$SIM" chaos "$sc" --seeds "$SEEDS" --jobs "$JOBS" --json --out "$out" \
		--junit "$out/junit.xml" > "$out/sweep.json" 2> "$out/sweep.log"
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
		echo "| $name | $SEEDS | sweep did not run (exit $rc: see $out/sweep.log) | | | |"
		status=2
		continue
	fi
	python3 - "$out/sweep.json" "$name" "$SEEDS" <<'PY' || status=2
import json, sys
d = json.load(open(sys.argv[1]))
failing = [str(f["seed"]) for f in d.get("failing_seeds", [])]
shown = ", ".join(failing[:10]) + (" ..." if len(failing) > 10 else "")
print(f"| {sys.argv[2]} | {sys.argv[3]} | {d['failed']} | {d['wall_s']:.0f} s | {d['seeds_per_minute']:.0f} | {shown} |")
PY
	failed=$(python3 -c "import json; print(json.load(open('$out/sweep.json'))['failed'])" 2>/dev/null || echo 0)
	total_failed=$((total_failed + failed))
done
echo
echo "soak: $total_failed failing seeds in ${#scenarios[@]} sweeps of $SEEDS ($(date -u +%F), $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null))"
[ $status -ne 0 ] && exit $status
[ $total_failed -eq 0 ]
