/* bench_exec.h — benchmarks of the execution layer (models/taskq.c,
 * models/orchestrator/):
 *
 *   bench aureon            the endurance run: 10,000 tasks on 20 nodes with
 *                           crashes and 1 % message loss, every invariant on;
 *                           reports wall time (target < 20 s) and when the
 *                           last task finished in simulated time.
 *   bench aureon --sweep    queue throughput in simulated time versus node
 *                           count (5, 10, 20, 50), with the leader batching
 *                           operations into Raft commands and, as the
 *                           baseline, with one operation per command.
 *
 * Prints a table, or one JSON object with --json; returns 0, 1 if a check
 * failed, 2 on a usage error.
 */
#ifndef AU_BENCH_EXEC_H
#define AU_BENCH_EXEC_H

/* `aureon-sim bench aureon [--tasks N] [--nodes K] [--seed S] [--sweep] [--json]`. */
int au_bench_exec(int argc, char **argv);

#endif
