#!/usr/bin/env bash
# tests/mutants.sh — proof that the checkers are not vacuous.
#
# models/ (raft/*.c, kv, swim, taskq, lock, orchestrator, rqml) carry
# deliberately planted bugs behind AU_BUG_* compile flags.  For each one this script builds a mutant binary
# (build-mut-NAME/aureon-sim, two builds at a time), then runs the mutant's
# scenarios seed by seed — seed 1 on every scenario of its list, then seed
# 2, ... up to its seed budget — and stops at the first run that exits 1
# (a check failed: the bug was caught).  Any other exit status (abort,
# signal, usage error, timeout) is a crash: it is reported as CRASHED, not
# as a catch, and that mutant stops there.
#
# A catch only counts if the same scenario and seed pass on a build without
# any planted bug (build-mut-CONTROL/aureon-sim, built alongside): a run
# that fails there too is reported as FALSE CATCH.
#
# Output: one line per mutant (result, scenario, seed, the check that
# fired, runs it took, time), the reproduction command of each first
# failing run (also written to build-mut-NAME/repro.sh), and "N of M
# mutants caught".  Exit status 0 only if every mutant was caught cleanly.
#
# Then every mutant is swept with `aureon-sim chaos` (generated fault
# plans): the standard chaos scenarios (chaos-raft-tight and chaos-raft for
# Raft/KV bugs, chaos-aureon for the execution layer's and SWIM's,
# chaos-rqml for RQML's), then its scripted
# scenarios with generated faults on top; the table reports the seeds each
# sweep needed.
# The exit status depends on the scripted hunt only (the chaos sweeps do not
# catch every mutant within their budget; README says which).
#
# Usage: tests/mutants.sh [NAME...]      (default: every mutant below)
# Environment: AU_MUTANT_TIMEOUT  seconds one run may take (default 60)
#              AU_MUTANT_JOBS     parallel builds and sweep workers (default 2)
#              AU_MUTANT_CHAOS_SEEDS  seeds per standard chaos scenario (default 300)
set -euo pipefail

cd "$(dirname "$0")/.."

# name | seed budget | scenarios (scenarios/NAME.ini), tried in this order.
# The mutant-*.ini scenarios are scripted for one bug each (their header
# comments say how); raft-storm.ini is the random fault storm.
MUTANTS=(
	"COMMIT_OLD_TERM|40|mutant-figure8 raft-figure8 raft-storm"
	"VOTE_NOT_PERSISTED|40|mutant-vote-lost raft-storm"
	"VOTEDFOR_CLEARED|40|mutant-vote-cleared mutant-vote-lost raft-storm"
	"FOLLOWER_COMMIT_BEYOND|60|raft-storm mutant-figure8"
	"VOTE_NO_LOG_CHECK|60|raft-storm mutant-vote-cleared"
	"MEMBERSHIP_EARLY|40|mutant-membership-early raft-membership raft-storm"
	"KV_LOCAL_READ|60|raft-storm mutant-vote-cleared"
	"SWIM_NO_SUSPICION_TIMEOUT|10|swim-crash-detect swim-basic"
	"SWIM_NO_REFUTE|20|swim-lossy swim-partition-heal"
	"ACK_NO_TOKEN|20|aureon-locks aureon-partition"
	"EXPIRY_WORKER_CLOCK|20|aureon-skew aureon-expiry"
	"DEAD_NOT_RECLAIMED|20|aureon-worker-crash"
	"LOCK_NO_FENCE|20|aureon-locks aureon-partition"
	"RQML_DUP_SHARD|20|mutant-rqml-dup-shard rqml-kmeans"
	"IGNORE_STORAGE_ERROR|20|raft-disk-full"
	"REPLICA_DIVERGE|20|mutant-replica-diverge chaos-raft"
	"RQML_RECORD_CONVERGED_ONLY|10|mutant-jobs-unrecorded"
	"RQML_FAIL_SILENT|5|rqml-shard-failures"
	"CANCEL_IGNORED|10|mutant-cancel-ignored aureon-cancel-failover"
	"BLOB_STALE_CHUNK|5|one-results"
)

RUN_TIMEOUT=${AU_MUTANT_TIMEOUT:-60}
JOBS=${AU_MUTANT_JOBS:-2}
MAKE=${MAKE:-make}
# A make that runs this script (`make mutants`) exports its jobserver
# settings; the builds below are independent makes of their own.
unset MAKEFLAGS MFLAGS

start=$(date +%s)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/aureon-mutants.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---- which mutants ---------------------------------------------------------
declare -a names=() budgets=() lists=()
for m in "${MUTANTS[@]}"; do
	IFS='|' read -r n b l <<<"$m"
	if [ $# -gt 0 ]; then
		want=0
		for a in "$@"; do [ "$a" = "$n" ] && want=1; done
		[ $want = 1 ] || continue
	fi
	names+=("$n"); budgets+=("$b"); lists+=("$l")
done
if [ ${#names[@]} -eq 0 ]; then
	echo "mutants: no mutant matches: $*" >&2
	exit 2
fi
# Every scenario must exist before anything is built.
for l in "${lists[@]}"; do
	for s in $l; do
		[ -f "scenarios/$s.ini" ] || { echo "mutants: scenarios/$s.ini missing" >&2; exit 2; }
	done
done

# ---- build, $JOBS at a time -------------------------------------------------
# A flag that no longer appears in models/ would build the correct code and
# look like "not caught" for the wrong reason: say so instead.
# CONTROL is the same code with no flag.
build_one() {
	local n=$1 flags="-DAU_BUG_$1"
	if [ "$n" = CONTROL ]; then
		flags=""
	elif ! grep -rq --include='*.c' "AU_BUG_$n\b" models/; then
		echo "no AU_BUG_$n in models/" >"$tmp/$n.build"
		return 1
	fi
	"$MAKE" -s BUILD="build-mut-$n" EXTRA_CFLAGS="$flags" "build-mut-$n/aureon-sim" \
		>"$tmp/$n.build" 2>&1
}

echo "mutants: building ${#names[@]} mutants and a control, $JOBS at a time"
declare -A built=()
running=0
for n in CONTROL "${names[@]}"; do
	if [ $running -ge "$JOBS" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	( if build_one "$n"; then touch "$tmp/$n.ok"; fi ) &
	running=$((running + 1))
done
wait || true
for n in CONTROL "${names[@]}"; do
	if [ -f "$tmp/$n.ok" ]; then
		built[$n]=1
	else
		built[$n]=0
		echo "mutants: build of $n failed:" >&2
		tail -n 20 "$tmp/$n.build" >&2 || true
	fi
done
echo "mutants: built in $(($(date +%s) - start)) s; hunting"

# ---- hunt -------------------------------------------------------------------
# The check that fired and its detail, from a run's --json output.
json_check() { sed -n 's/.*"violation": {"check": "\([a-z_]*\)".*/\1/p' "$1"; }
json_detail() { sed -n 's/.*"detail": "\(.*\)"}, "faults_applied".*/\1/p' "$1"; }

caught=0
declare -a repros=()
printf '%-24s %-12s %-30s %5s  %-16s %5s %8s\n' mutant result scenario seed check runs time
for i in "${!names[@]}"; do
	n=${names[$i]}; budget=${budgets[$i]}; list=${lists[$i]}
	bin="build-mut-$n/aureon-sim"
	result="NOT CAUGHT"; scen="-"; seedv="-"; check="-"; runs=0; detail=""
	t0=${EPOCHREALTIME/./}   # microseconds
	if [ "${built[$n]}" != 1 ] || [ "${built[CONTROL]}" != 1 ]; then
		result="BUILD FAILED"
	else
		for ((seed = 1; seed <= budget; seed++)); do
			for s in $list; do
				runs=$((runs + 1))
				rc=0
				timeout --kill-after=5 "$RUN_TIMEOUT" "$bin" run "scenarios/$s.ini" \
					--seed "$seed" --json >"$tmp/out" 2>"$tmp/err" || rc=$?
				[ $rc -eq 0 ] && continue
				scen="$s.ini"; seedv=$seed
				if [ $rc -eq 1 ]; then
					result="CAUGHT"
					check=$(json_check "$tmp/out")
					detail=$(json_detail "$tmp/out")
					# The control must pass this very run.
					crc=0
					timeout --kill-after=5 "$RUN_TIMEOUT" build-mut-CONTROL/aureon-sim run \
						"scenarios/$s.ini" --seed "$seed" --json >/dev/null 2>&1 || crc=$?
					if [ $crc -ne 0 ]; then
						result="FALSE CATCH"
						detail="the build without planted bugs fails this run too (exit $crc); $detail"
					fi
				else
					result="CRASHED"
					case $rc in
					124|137) check="timeout ${RUN_TIMEOUT}s" ;;
					*) [ $rc -gt 128 ] && check="signal $((rc - 128))" || check="exit $rc" ;;
					esac
					detail=$(tail -n 3 "$tmp/err" | tr '\n' ' ')
				fi
				break 2
			done
		done
	fi
	[ "$result" = CAUGHT ] && caught=$((caught + 1))
	cs=$(( (${EPOCHREALTIME/./} - t0) / 10000 ))   # hundredths of a second
	printf '%-24s %-12s %-30s %5s  %-16s %5s %4d.%02ds\n' "$n" "$result" "$scen" "$seedv" "$check" \
		"$runs" $((cs / 100)) $((cs % 100))
	if [ "$scen" != - ]; then
		cmd="$MAKE -s BUILD=build-mut-$n EXTRA_CFLAGS=-DAU_BUG_$n build-mut-$n/aureon-sim && $bin run scenarios/$scen --seed $seedv"
		repros+=("$n: $cmd" "    # $check: $detail")
		printf '#!/bin/sh\n# %s %s: %s\ncd "$(dirname "$0")/.." && %s\n' \
			"$n" "$result" "$check: $detail" "$cmd" >"build-mut-$n/repro.sh"
		chmod +x "build-mut-$n/repro.sh"
	fi
done

if [ ${#repros[@]} -gt 0 ]; then
	echo
	echo "first failing runs (reproduce from the repository root):"
	printf '  %s\n' "${repros[@]}"
fi
echo
echo "$caught of ${#names[@]} mutants caught by the scripted hunt ($(($(date +%s) - start)) s)"

# ---- chaos sweeps -------------------------------------------------------------
# The same mutants against generated fault plans (aureon-sim chaos): for
# Raft and KV bugs the standard chaos scenarios first, in chunks of seeds so
# a quick catch stops early; then each mutant's own scenarios (the list
# above) with generated faults on top.  "seeds" is the first failing seed of the sweep
# that caught it: how many seeds that scenario needed.  A catch counts only
# if the build without planted bugs passes that seed.
CHAOS_SEEDS=${AU_MUTANT_CHAOS_SEEDS:-300}
CHAOS_GENERAL="chaos-raft-tight chaos-raft"
chaos_failures() { # "seed check" per failing seed, in seed order, from a --json summary
	grep -o '{"seed": [0-9]*, "check": "[^"]*"' "$1" | sed 's/{"seed": \([0-9]*\), "check": "\([^"]*\)"/\1 \2/'
}
chaos_caught=0
declare -a false_catches=()
echo
echo "chaos sweeps (up to $CHAOS_SEEDS seeds per standard chaos scenario, 50 per own scenario):"
printf '%-26s %-11s %-26s %5s  %-24s %6s %8s\n' mutant result scenario seeds check run time
for i in "${!names[@]}"; do
	n=${names[$i]}; list=${lists[$i]}
	bin="build-mut-$n/aureon-sim"
	result="NOT CAUGHT"; scen="-"; seedv="-"; check="-"; total=0
	t0=${EPOCHREALTIME/./}
	plan=""
	# Raft and KV bugs: the standard chaos scenarios first.  Every mutant:
	# its own scenarios (listed above) with generated faults on top.
	# Execution-layer bugs: chaos-aureon.ini (its own fault kinds aim at
	# lease and lock holders) instead of the Raft scenarios; RQML bugs:
	# chaos-rqml.ini (the same holder kinds, aimed at shard tasks' leases);
	# SWIM bugs: chaos-aureon.ini, the standard scenario that runs SWIM
	# with its checkers on (swim_accuracy catches SWIM_NO_REFUTE there).
	case $n in
	RQML_*|BLOB_*)
		# chaos-rqml keeps and fetches the jobs' results (blob) too
		plan="$plan chaos-rqml:1-50 chaos-rqml:51-$CHAOS_SEEDS" ;;
	SWIM_*|ACK_NO_TOKEN|EXPIRY_WORKER_CLOCK|DEAD_NOT_RECLAIMED|LOCK_NO_FENCE|CANCEL_IGNORED)
		# chaos-aureon runs jobs with cancels, failures and requeues
		plan="$plan chaos-aureon:1-50 chaos-aureon:51-$CHAOS_SEEDS" ;;
	*)
		for s in $CHAOS_GENERAL; do plan="$plan $s:1-50 $s:51-$CHAOS_SEEDS"; done ;;
	esac
	for s in $list; do plan="$plan $s:1-50"; done
	if [ "${built[$n]}" != 1 ] || [ "${built[CONTROL]}" != 1 ]; then
		result="BUILD FAILED"; plan=""
	fi
	for step in $plan; do
		s=${step%%:*}; range=${step#*:}
		lo=${range%-*}; hi=${range#*-}
		[ "$lo" -le "$hi" ] || continue
		total=$((total + hi - lo + 1))
		rc=0
		"$bin" chaos "scenarios/$s.ini" --seeds "$range" --jobs "$JOBS" --no-shrink --json \
			--timeout "$RUN_TIMEOUT" --out "build-mut-$n/chaos" >"$tmp/chaos" 2>"$tmp/err" || rc=$?
		[ $rc -eq 0 ] && continue
		if [ $rc -ne 1 ]; then
			result="ERROR"; scen="$s.ini"; check="exit $rc"
			break
		fi
		# The first failing seed where the build without planted bugs does
		# not fail the same check; seeds where it does (a bug of today's
		# code, e.g. scenarios/regressions/open/) are skipped and reported.
		found=0
		while read -r sd ck; do
			crc=0
			build-mut-CONTROL/aureon-sim chaos "scenarios/$s.ini" --seeds "$sd" --jobs 1 --no-shrink \
				--json --timeout "$RUN_TIMEOUT" --out "$tmp/control" >"$tmp/control.json" 2>/dev/null || crc=$?
			cck=""
			[ $crc -ne 0 ] && read -r _ cck < <(chaos_failures "$tmp/control.json") || true
			if [ $crc -ne 0 ] && { [ "$cck" = "$ck" ] || [ $crc -ne 1 ]; }; then
				false_catches+=("$n: $s.ini seed $sd fails $ck without the planted bug too")
				continue
			fi
			seedv=$sd; check=$ck; found=1
			break
		done < <(chaos_failures "$tmp/chaos")
		[ $found = 1 ] || continue
		scen="$s.ini"; result="CAUGHT"
		total=$((total - hi + seedv))
		break
	done
	[ "$result" = CAUGHT ] && chaos_caught=$((chaos_caught + 1))
	cs=$(( (${EPOCHREALTIME/./} - t0) / 10000 ))
	printf '%-26s %-11s %-26s %5s  %-24s %6s %4d.%02ds\n' "$n" "$result" "$scen" "$seedv" "$check" \
		"$total" $((cs / 100)) $((cs % 100))
	if [ "$result" = CAUGHT ]; then
		repros+=("$n (chaos): $bin run build-mut-$n/chaos/repro-$seedv.ini")
	fi
done
if [ ${#false_catches[@]} -gt 0 ]; then
	echo "skipped (the build without planted bugs fails these too):"
	printf '  %s\n' "${false_catches[@]}"
fi
echo
echo "$chaos_caught of ${#names[@]} mutants caught by chaos sweeps"
echo "reproducers of chaos catches: build-mut-NAME/chaos/repro-SEED.ini (aureon-sim run it with that mutant's binary)"
echo
echo "$caught of ${#names[@]} mutants caught ($(($(date +%s) - start)) s)"
[ "$caught" -eq ${#names[@]} ]
