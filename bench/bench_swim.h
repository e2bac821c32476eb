/* bench_swim.h — `aureon-sim bench swim`: SWIM measured against its
 * theory.
 *
 *   detection      crash one member at a time in clusters of 16 .. 10,000
 *                  and time the first detection (SWIM §3.1: a crashed
 *                  member is first probed after 1/(1 - e^-1) ~ 1.58
 *                  protocol periods on average) and the dissemination of
 *                  the suspicion to every live member (O(log n) rounds);
 *   false positives  a 64-node cluster without crashes under 0, 1, 5 and
 *                  10 % message loss, with and without the suspicion
 *                  mechanism: failed probes and members declared dead
 *                  against the loss model's prediction;
 *   load           messages and bytes per member per second (constant in
 *                  n) and view memory per (node, member) entry.
 *
 * Prints markdown tables (or one JSON object with --json) and, with
 * --csv PREFIX, per-trial CSV files for analysis/swim_bench.
 */
#ifndef AU_BENCH_SWIM_H
#define AU_BENCH_SWIM_H

/* `aureon-sim bench swim [options]` (see --help); 0, or 2 on a usage error. */
int au_bench_swim(int argc, char **argv);

#endif
