/* bench_kernels.h — `aureon-sim bench kernels`: the RQML kernels' throughput
 * against this machine's memory bandwidth.
 *
 * It measures a STREAM-like triad (a[i] = b[i] + s*c[i], a plain -O2 loop)
 * over arrays far larger than the caches, which gives the bandwidth bound,
 * then times PageRank and Jacobi rounds (every shard, then the
 * aggregation) and k-means, all in the same command, and prints for each
 * kernel the bytes it must move per round, the achieved GB/s and the ratio
 * of its time to the time the triad bandwidth would need for those bytes.
 */
#ifndef AU_BENCH_KERNELS_H
#define AU_BENCH_KERNELS_H

/* `aureon-sim bench kernels [--vertices N] [--edges M] [--side N]
 * [--points N] [--shards S] [--rounds R] [--triad-mb MB] [--json]`.
 * Returns 0, or 2 on a usage error (message on stderr). */
int au_bench_kernels(int argc, char **argv);

#endif
