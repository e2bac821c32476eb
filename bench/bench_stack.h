/* bench_stack.h — `aureon-sim bench stack`: the whole stack's speed beside
 * the engine's (issue 17).
 *
 * Runs, in one process and one command, PHOLD on the engine, a Raft-only
 * scenario, scenarios/default.ini, and a few seeds of chaos-raft,
 * chaos-aureon and chaos-rqml (their generated plans, as `aureon-sim
 * chaos` runs them), and reports for each: simulated time, events, CPU and
 * wall seconds, time acceleration (simulated seconds per CPU second), events
 * per CPU second, the cost of an event against PHOLD's and against the
 * Raft-only run's, and for the chaos scenarios seeds per minute on 2
 * cores (2 × 60 / CPU seconds per seed).  CPU time, not wall time, is the
 * measure: the machine is shared.
 */
#ifndef AU_BENCH_STACK_H
#define AU_BENCH_STACK_H

/* `aureon-sim bench stack [--seeds N] [--repeat R] [--dir D] [--json]`; returns 0, 1 if a
 * run failed a check, 2 on a usage error or a missing scenario. */
int au_bench_stack(int argc, char **argv);

#endif
