#!/usr/bin/env bash
# tests/test_timeline.sh — `make test-timeline`: from a planted-bug sweep, one
# command leaves a store directory whose timeline.html shows the violating
# window.  Builds the KV_LOCAL_READ planted bug (the leader serves reads
# without ReadIndex), sweeps seeds 20-31 of chaos-raft-tight into a store
# (seed 23 fails linearizable_kv), checks the store's files, opens the
# seed's timeline.html in headless Chromium and checks the screenshot
# (tests/test_timeline.py): the highlight colour where the window's times
# put it, and nowhere else on the overview's strip.
set -euo pipefail
cd "$(dirname "$0")/.."
MUT=build-mut-KV_LOCAL_READ
OUT=${AU_TIMELINE_OUT:-build/test-timeline}
make --no-print-directory BUILD=$MUT EXTRA_CFLAGS=-DAU_BUG_KV_LOCAL_READ $MUT/aureon-sim >/dev/null
rm -rf "$OUT"
rc=0
$MUT/aureon-sim chaos scenarios/chaos-raft-tight.ini --seeds 20-31 --jobs 2 --out "$OUT" \
	--shrink 1 --shrink-time 30 --quiet >"$OUT.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || { echo "test-timeline: the sweep exited $rc, expected 1 (a failing seed)"; cat "$OUT.log"; exit 1; }
SEED="$OUT/store/chaos-raft-tight/seed-23"
for f in reproducer.ini shrunk.ini trace.h5 history.edn history.json report/summary.md timeline.html README.txt; do
	[ -s "$SEED/$f" ] || { echo "test-timeline: $SEED/$f missing"; exit 1; }
done
grep -q '^# Build flags: .*-DAU_BUG_KV_LOCAL_READ' "$SEED/reproducer.ini" ||
	{ echo "test-timeline: reproducer.ini does not record the planted bug"; exit 1; }
head -3 "$SEED/report/summary.md" | grep -q 'FAIL' ||
	{ echo "test-timeline: summary.md does not start with the verdict"; exit 1; }
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1300,1100 \
	--screenshot="$OUT/timeline.png" "file://$PWD/$SEED/timeline.html" >/dev/null 2>&1
/usr/bin/python3 tests/test_timeline.py "$SEED/trace.h5" "$OUT/timeline.png"
echo "test-timeline: ok ($SEED)"
