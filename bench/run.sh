#!/usr/bin/env bash
# bench/run.sh — `make bench`: PHOLD through the engine against the bare
# binary-heap baseline (bench/phold_min.c), each pair run back to back so the
# ratio is measured under the same machine load, plus the 1,000-node ping
# scenario's wall time, raft-hour, the whole stack (bench stack) and SWIM.
# Prints markdown tables for bench/RESULTS.md.
#
# Usage: bench/run.sh [BUILD_DIR]   (REPS=N to change repetitions, default 3;
#                                    EVENTS=M to change PHOLD events, default 20M)
set -euo pipefail
build=${1:-build}
reps=${REPS:-3}
events=${EVENTS:-20000000}
sim=$build/aureon-sim
base=$build/phold_min

field() { grep -o "\"$1\": *[0-9.e+]*" | head -1 | cut -d: -f2 | tr -d ' '; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "## make bench — $(date -u +%Y-%m-%d) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
echo "| PHOLD config | engine M ev/s (median of $reps) | bare heap M ev/s | ratio | engine ns/event | engine peak RSS |"
echo "|---|---|---|---|---|---|"
for cfg in "1024 16" "262144 4"; do
  set -- $cfg
  eng=(); bas=(); rat=(); nse=(); rss=()
  for _ in $(seq "$reps"); do
    e=$($sim bench phold --lps "$1" --init "$2" --remote 0.9 --events "$events" --json)
    b=$($base --lps "$1" --init "$2" --remote 0.9 --events "$events" --json)
    ee=$(echo "$e" | field events_per_sec); bb=$(echo "$b" | field events_per_sec)
    eng+=("$ee"); bas+=("$bb"); nse+=("$(echo "$e" | field ns_per_event)"); rss+=("$(echo "$e" | field peak_rss_bytes)")
    rat+=("$(awk -v a="$ee" -v b="$bb" 'BEGIN{printf "%.3f", a/b}')")
  done
  me=$(printf '%s\n' "${eng[@]}" | median); mb=$(printf '%s\n' "${bas[@]}" | median)
  mr=$(printf '%s\n' "${rat[@]}" | median); mn=$(printf '%s\n' "${nse[@]}" | median)
  mm=$(printf '%s\n' "${rss[@]}" | median)
  printf '| %s LPs x %s (%s pending) | %.2f | %.2f | %s (per-pair: %s) | %.1f | %.0f MiB |\n' \
    "$1" "$2" "$(( $1 * $2 ))" "$(awk -v x="$me" 'BEGIN{print x/1e6}')" \
    "$(awk -v x="$mb" 'BEGIN{print x/1e6}')" "$mr" "${rat[*]}" "$mn" \
    "$(awk -v x="$mm" 'BEGIN{print x/1048576}')"
done
echo
# ping-1000 untraced and traced, interleaved so both see the same load.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
plain=(); traced=()
for _ in $(seq "$reps"); do
  s=$(date +%s.%N); $sim run scenarios/ping-1000.ini --json > "$tmp/plain.json"; e=$(date +%s.%N)
  plain+=("$(awk -v a="$s" -v b="$e" 'BEGIN{print b-a}')")
  s=$(date +%s.%N); $sim run scenarios/ping-1000.ini --json --trace "$tmp/t.h5" --force > "$tmp/traced.json"; e=$(date +%s.%N)
  traced+=("$(awk -v a="$s" -v b="$e" 'BEGIN{print b-a}')")
done
mp=$(printf '%s\n' "${plain[@]}" | median); mt=$(printf '%s\n' "${traced[@]}" | median)
events=$(field events < "$tmp/plain.json")
records=$(h5dump -a /records "$tmp/t.h5" | grep -o '(0): [0-9]*' | cut -d' ' -f2)
bytes=$(stat -c %s "$tmp/t.h5")
evrows=$(h5ls "$tmp/t.h5/events" | grep -o '{[0-9]*' | tr -d '{')
evbytes=$(h5ls -v "$tmp/t.h5/events" | grep -o '[0-9]* allocated' | cut -d' ' -f1)
echo "| ping-1000 (1,000 nodes, 60 simulated s) | value | target |"
echo "|---|---|---|"
printf '| wall time, untraced (median of %s) | %.2f s (%s engine events) | < 10 s |\n' "$reps" "$mp" "$events"
printf '| wall time, --trace (median of %s) | %.2f s: %.2fx untraced | <= 2x |\n' "$reps" "$mt" \
  "$(awk -v a="$mt" -v b="$mp" 'BEGIN{print a/b}')"
printf '| trace file | %s bytes, %s records: %.1f bytes/record; /events %.1f bytes/row | <= 12 bytes/event |\n' \
  "$bytes" "$records" "$(awk -v a="$bytes" -v b="$records" 'BEGIN{print a/b}')" \
  "$(awk -v a="$evbytes" -v b="$evrows" 'BEGIN{print a/b}')"

echo
echo "| Raft | value | target |"
echo "|---|---|---|"
/usr/bin/time -f '%e %M' -o "$tmp/hour.time" $sim run scenarios/raft-hour.ini --json > "$tmp/hour.json"
read -r wall rss < "$tmp/hour.time"
printf '| raft-hour: 5 nodes, 1,000 client ops/s, 1 simulated hour, all checks | %s s wall, peak RSS %.1f MB, %s events, result %s | < 15 s (issue 17), flat memory |\n' \
  "$wall" "$(awk -v k="$rss" 'BEGIN{print k/1000}')" "$(field events < "$tmp/hour.json")" \
  "$(grep -o '"result": "[a-z]*"' "$tmp/hour.json" | cut -d'"' -f4)"
# 1,000 seeds of raft-flaky-network, two workers (odd and even seeds).
s=$(date +%s.%N)
for half in 0 1; do
  ( fails=0; for seed in $(seq $((1 + half)) 2 1000); do
      $sim run scenarios/raft-flaky-network.ini --seed "$seed" --json > /dev/null || fails=$((fails + 1))
    done; echo "$fails" > "$tmp/flaky.$half" ) &
done
wait
e=$(date +%s.%N)
printf '| 1,000 seeds of raft-flaky-network (30 simulated s each), 2 workers | %.1f s wall, %s failed | < 60 s |\n' \
  "$(awk -v a="$s" -v b="$e" 'BEGIN{print b-a}')" "$(( $(cat "$tmp/flaky.0") + $(cat "$tmp/flaky.1") ))"

# The whole stack against the engine (issue 17): default.ini's time
# acceleration, the per-event cost against Raft alone and chaos seeds per
# minute, all from one `bench stack` run (PHOLD and raft-basic in the same
# process).  Targets: default.ini >= 300x, an event within 5x of
# raft-basic's, chaos-raft >= 5,000 and chaos-aureon / chaos-rqml >= 3,000
# seeds/min on 2 cores.
echo
echo "Whole stack (issue 17; targets: default.ini accel >= 300, xRaft <= 5, seeds/min 5,000 / 3,000 / 3,000):"
echo
echo '```'
$sim bench stack --seeds 20
echo '```'

# SWIM (issue 5): the two scale runs under /usr/bin/time (CPU, wall, peak
# RSS), then the validation bench in its quick form (the full one:
# build/aureon-sim bench swim, several minutes; see bench/RESULTS.md).
echo
echo "| SWIM | value | target |"
echo "|---|---|---|"
for sc in swim-1000 swim-10k; do
  /usr/bin/time -f '%U %S %e %M' -o "$tmp/$sc.time" $sim run "scenarios/$sc.ini" --json > "$tmp/$sc.json"
  read -r user sys wall rss < "$tmp/$sc.time"
  printf '| %s: 10 simulated minutes | %s s wall (%.0fx real time), %s s user + %s s sys, peak RSS %.0f MiB, %s events, result %s | %s |\n' \
    "$sc" "$wall" "$(awk -v w="$wall" 'BEGIN{print 600/w}')" "$user" "$sys" \
    "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$(field events < "$tmp/$sc.json")" \
    "$(grep -o '"result": "[a-z]*"' "$tmp/$sc.json" | cut -d'"' -f4)" \
    "$([ "$sc" = swim-10k ] && echo '< 120 s, < 4 GiB' || echo '>= 100x real time')"
done
echo
$sim bench swim --quick
