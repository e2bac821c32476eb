/* bench_raft.h — Raft benchmarks of aureon-sim:
 *
 *   bench raft-election   Figure 16 of the Raft paper (Ongaro & Ousterhout
 *                         2014, §9.3): time to elect a new leader after the
 *                         old one crashes, for ten election-timeout ranges.
 *   bench raft            replication throughput: committed commands per
 *                         wall second (and per simulated second) on a
 *                         5-node cluster with log compaction on.
 *
 * Both take the options that follow the bench name, print a table (or one
 * JSON object with --json) on stdout, and return 0 on success or 2 on a
 * usage error (message on stderr).
 */
#ifndef AU_BENCH_RAFT_H
#define AU_BENCH_RAFT_H

#include <stdint.h>

/* `aureon-sim bench raft-election [--trials N] [--seed S] [--json] [--csv FILE]`. */
int au_bench_raft_election(int argc, char **argv);

/* `aureon-sim bench raft [--commands N] [--nodes K] [--json]`. */
int au_bench_raft(int argc, char **argv);

/* For both: the Raft instance of node `n` of a running simulation
 * (service index 0 must be raft), or NULL while the node is down. */
struct au_raft;
struct au_sim;
struct au_raft *au_bench_raft_of(struct au_sim *sim, uint32_t n);

#endif
