#!/usr/bin/env bash
# bench/chaos.sh — chaos sweep throughput and shrink time (issue 8).
#
# Prints markdown rows for bench/RESULTS.md:
#   1. the standard chaos scenario (scenarios/chaos-raft.ini) swept over
#      SEEDS seeds with 2 workers: wall time, seeds/minute, CPU per seed;
#   2. the baseline in the same command: the same seeds as plain
#      `aureon-sim run --seed S` processes (fault-free: `run` ignores
#      [chaos]), two shell workers (odd/even seeds) — what a sweep costs
#      without the chaos runner and without faults;
#   3. the sweep with 1 worker (how it scales);
#   4. shrink time: a planted bug (AU_BUG_KV_LOCAL_READ) swept on the
#      standard scenario, its first 3 failures shrunk (wall time each).
# Usage: bench/chaos.sh [BUILD]   (default build; SEEDS=1000 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
sim=$build/aureon-sim
seeds=${SEEDS:-1000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/aureon-chaos-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unset MAKEFLAGS MFLAGS
json() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }
cpu() { awk '{print $1 + $2}' "$1"; } # user + sys seconds from /usr/bin/time -f "%U %S"

echo "| chaos (scenarios/chaos-raft.ini: 5 nodes, raft + kv, 30 simulated s) | value | target |"
echo "|---|---|---|"
$sim chaos scenarios/chaos-raft.ini --seeds "1-$seeds" --jobs 2 \
	--no-shrink --json --out "$tmp/o2" > "$tmp/j2" || true
w2=$(json "$tmp/j2" "d['wall_s']"); f2=$(json "$tmp/j2" "d['failed']")
printf '| sweep, %s seeds, --jobs 2 | %.1f s wall = **%.0f seeds/min**; %.1f ms CPU per seed (workers); %s failed | >= 3,000 seeds/min |\n' \
	"$seeds" "$w2" "$(json "$tmp/j2" "d['seeds_per_minute']")" \
	"$(json "$tmp/j2" "d['cpu_ms_per_seed']")" "$f2"
s=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$tmp/tb" bash -c '
	for half in 0 1; do
		( for seed in $(seq $((1 + half)) 2 '"$seeds"'); do
			'"$sim"' run scenarios/chaos-raft.ini --seed "$seed" --json > /dev/null || true
		  done ) &
	done; wait'
e=$(date +%s.%N)
wb=$(awk -v a="$s" -v b="$e" 'BEGIN{print b-a}')
printf '| baseline: the same seeds as `run --seed S` processes, no faults, 2 shell workers | %.1f s wall = %.0f seeds/min; %.1f ms CPU per seed | — |\n' \
	"$wb" "$(awk -v w="$wb" -v n="$seeds" 'BEGIN{print n/w*60}')" \
	"$(awk -v c="$(cpu "$tmp/tb")" -v n="$seeds" 'BEGIN{print c*1000/n}')"
printf '| ratio sweep / baseline (wall) | %.2f | — |\n' "$(awk -v a="$w2" -v b="$wb" 'BEGIN{print a/b}')"
printf '| what 2 idle cores would give at the measured CPU per seed | %.0f seeds/min | >= 3,000 seeds/min |\n' \
	"$(awk -v c="$(json "$tmp/j2" "d['cpu_ms_per_seed']")" 'BEGIN{print 2*60000/c}')"
n1=$((seeds / 3))
$sim chaos scenarios/chaos-raft.ini --seeds "1-$n1" --jobs 1 --no-shrink --json --out "$tmp/o1" > "$tmp/j1" || true
printf '| sweep, %s seeds, --jobs 1 | %.1f s wall = %.0f seeds/min, %.1f ms CPU per seed (2 workers: %.2fx) | — |\n' "$n1" \
	"$(json "$tmp/j1" "d['wall_s']")" "$(json "$tmp/j1" "d['seeds_per_minute']")" "$(json "$tmp/j1" "d['cpu_ms_per_seed']")" \
	"$(awk -v a="$(json "$tmp/j2" "d['seeds_per_minute']")" -v b="$(json "$tmp/j1" "d['seeds_per_minute']")" 'BEGIN{print a/b}')"

mut=build-mut-KV_LOCAL_READ
make -s BUILD=$mut EXTRA_CFLAGS=-DAU_BUG_KV_LOCAL_READ $mut/aureon-sim > /dev/null
$mut/aureon-sim chaos scenarios/chaos-raft.ini --seeds 1-400 --jobs 2 --shrink 3 --json \
	--out "$tmp/om" > "$tmp/jm" || true
python3 - "$tmp/jm" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for f in d["failing_seeds"]:
    s = f.get("shrunk")
    if not s or "file" not in s:
        continue
    print("| shrink, AU_BUG_KV_LOCAL_READ seed %d (%s) | %.1f s wall, %d runs: %d -> %d faults, %.1f s -> %.1f s simulated%s | < 30 s |"
          % (f["seed"], f["check"], s["wall_s"], s["runs"], s["faults_before"], s["faults_after"],
             s["duration_before_ns"] / 1e9, s["duration_after_ns"] / 1e9,
             ", budget hit" if s["budget_hit"] else ""))
EOF
