#!/usr/bin/env bash
# tests/mutants.sh — `make mutants`: build every planted bug (models/*.c,
# AU_BUG_* flags) into its own binary and run scenarios seed by seed until
# a check fails (exit 1).  Prints, per mutant, whether it was caught, where,
# by which check and after how many runs, and a command that reproduces it.
# Exits non-zero unless every mutant is caught cleanly (a crash or a hang
# is reported but does not count as a catch).
#
# MUTANT_SEEDS=N changes the per-scenario seed budget (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=${MUTANT_SEEDS:-60}

# name : scenarios to try, in order
declare -A plan=(
	[FOLLOWER_COMMIT_BEYOND]="raft-storm raft-figure8"
	[VOTE_NO_LOG_CHECK]="raft-storm raft-leader-crash"
	[KV_LOCAL_READ]="raft-storm raft-partition-heal"
	[VOTE_NOT_PERSISTED]="raft-storm raft-disk-faults raft-leader-crash"
	[VOTEDFOR_CLEARED]="raft-storm raft-leader-crash raft-partition-heal"
	[COMMIT_OLD_TERM]="raft-figure8 raft-storm raft-leader-crash"
	[MEMBERSHIP_EARLY]="raft-membership raft-storm"
)
order=(FOLLOWER_COMMIT_BEYOND VOTE_NO_LOG_CHECK KV_LOCAL_READ VOTE_NOT_PERSISTED
       VOTEDFOR_CLEARED COMMIT_OLD_TERM MEMBERSHIP_EARLY)

echo "building ${#order[@]} mutants..."
for m in "${order[@]}"; do
	make -s BUILD="build-mut-$m" EXTRA_CFLAGS="-DAU_BUG_$m" "build-mut-$m/aureon-sim" >/dev/null &
	# two builds at a time
	while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
done
wait

caught=0
start=$(date +%s)
for m in "${order[@]}"; do
	bin="build-mut-$m/aureon-sim"
	runs=0 result="NOT CAUGHT" where="" detail=""
	for sc in ${plan[$m]}; do
		for seed in $(seq 1 "$seeds"); do
			runs=$((runs + 1))
			set +e
			out=$(timeout 120 "$bin" run "scenarios/$sc.ini" --seed "$seed" --json 2>/dev/null)
			rc=$?
			set -e
			if [ "$rc" -eq 1 ]; then
				result="CAUGHT"
				where="$sc seed $seed"
				detail=$(echo "$out" | grep -o '"check": "[a-z_]*"' | head -1 | cut -d'"' -f4)
				break 2
			elif [ "$rc" -ne 0 ]; then
				result="CRASHED (exit $rc)"
				where="$sc seed $seed"
				break 2
			fi
		done
	done
	printf '%-24s %-18s %-28s %-16s %4d runs\n' "$m" "$result" "$where" "$detail" "$runs"
	if [ "$result" = "CAUGHT" ]; then
		caught=$((caught + 1))
		echo "    reproduce: make BUILD=build-mut-$m EXTRA_CFLAGS=-DAU_BUG_$m build-mut-$m/aureon-sim && $bin run scenarios/${where% seed*}.ini --seed ${where##* }"
	fi
done
echo "$caught of ${#order[@]} mutants caught ($(( $(date +%s) - start )) s, up to $seeds seeds per scenario)"
[ "$caught" -eq "${#order[@]}" ]
