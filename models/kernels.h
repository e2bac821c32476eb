/* kernels.h — the numeric kernels RQML jobs run, as pure functions over
 * plain arrays: PageRank power iteration on a generated R-MAT graph, Jacobi
 * iteration for the 2-D Poisson equation, and k-means (Lloyd's algorithm)
 * on generated points.
 *
 * Every kernel is iterative and shardable the same way.  A round maps the
 * previous round's full state (a vector of doubles) to the next one: the
 * problem's units (graph vertices, grid rows, points) are split into
 * `shards` contiguous ranges [lo, hi); a shard computes its part of the
 * next round from the previous full state alone; the aggregation takes the
 * shard outputs in shard order and builds the next state and the round's
 * residual.  Every floating-point reduction has one fixed order (index
 * order within a shard, then shard order; within a PageRank row four
 * interleaved partial sums combined as (s0+s1)+(s2+s3)), so a distributed
 * run that aggregates the same shard outputs gets the same bits as the
 * sequential reference runner here, which uses the same partition.  Build
 * with -ffp-contract=off; only +, -, *, / and sqrt are used, which IEEE 754
 * rounds exactly.
 *
 * Each shard also has a cost: flops and the bytes it must move (every
 * array it reads or writes counted once), for the simulator's cost model
 * and for the bandwidth benchmark.
 */
#ifndef AU_KERNELS_H
#define AU_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum au_kernel_kind {
	AU_KERNEL_PAGERANK = 1,
	AU_KERNEL_JACOBI = 2,
	AU_KERNEL_KMEANS = 3,
};

#define AU_KERNEL_MAX_SHARDS 1024u
#define AU_KERNEL_MAX_KMEANS_K 256u
#define AU_KERNEL_MAX_KMEANS_DIMS 64u

/* What a generated problem is made of.  Unused fields are ignored. */
struct au_kernel_params {
	enum au_kernel_kind kind;
	uint64_t seed;   /* generator seed (PCG32) */
	uint32_t size;   /* pagerank: vertices (a power of two); jacobi: grid side N
			    (N x N unknowns); kmeans: points */
	uint32_t edges;  /* pagerank: edges */
	uint32_t k;      /* kmeans: clusters */
	uint32_t dims;   /* kmeans: dimensions */
	uint32_t shards; /* shards per round, 1..AU_KERNEL_MAX_SHARDS, <= units */
	double damping;  /* pagerank: damping factor in (0,1); 0 means 0.85 */
};

/* A problem instance: the generated input every round reads, shared by all
 * shards and never written after it is built.  Build with one of the
 * au_kernel_build* functions, free with au_kernel_free. */
struct au_kernel_problem {
	struct au_kernel_params p;
	uint32_t units;     /* what shards split: vertices, grid rows, points */
	uint32_t state_len; /* doubles in a round state */
	/* pagerank: in-edges.  Row i has rowptr[i+1]-rowptr[i] sources.
	 * Within each shard the rows are visited grouped by in-degree
	 * (ascending; index order within a degree), so the inner loop's trip
	 * count repeats and the branch predictor learns it: order[lo..hi) is
	 * that visiting order of the shard's rows, and col[rowptr[lo]..
	 * rowptr[hi]) holds their sources in that order, each row's sources
	 * ascending.  A row's sum does not depend on when the row is visited. */
	uint32_t *rowptr;   /* [size+1] */
	uint32_t *col;      /* [edges] */
	uint32_t *order;    /* [size] */
	uint32_t *grp_deg, *grp_len; /* degree groups, all shards back to back */
	uint32_t *shard_grp;         /* [shards+1]: shard s owns groups [shard_grp[s], [s+1]) */
	uint32_t *dang_list;         /* [n_dangling]: dangling vertices, ascending */
	uint32_t *shard_dang;        /* [shards+1]: shard s owns dang_list[shard_dang[s]..[s+1]) */
	double *invdeg;     /* [size]: 1/outdegree, 0 for dangling vertices */
	uint8_t *dangling;  /* [size]: 1 if the vertex has no out-edges */
	uint32_t n_dangling;
	/* jacobi: the right-hand side scaled by h^2, row-major N x N */
	double *rhs;
	/* kmeans: points, row-major [size][dims] */
	double *points;
};

/* Check `p` without generating anything: the same rules au_kernel_build
 * applies.  Returns 0, or -AU_EINVAL with a message naming the parameter. */
int au_kernel_check(const struct au_kernel_params *p, char *err, size_t errlen);

/* Largest shard output (doubles) a problem with parameters `p` produces;
 * `p` must pass au_kernel_check. */
uint32_t au_kernel_max_shard_out(const struct au_kernel_params *p);

/* Generate the problem `p` describes (R-MAT graph, random right-hand side,
 * clustered points), all from p->seed.  Returns 0, or -AU_EINVAL with a
 * message in err naming the bad parameter. */
int au_kernel_build(struct au_kernel_problem *kp, const struct au_kernel_params *p, char *err,
		    size_t errlen);

/* PageRank over an explicit edge list (src[e] -> dst[e]); for tests and
 * hand-made graphs.  Returns 0 or -AU_EINVAL. */
int au_kernel_build_pagerank_edges(struct au_kernel_problem *kp, uint32_t n, const uint32_t *src,
				   const uint32_t *dst, uint32_t m, uint32_t shards, double damping,
				   char *err, size_t errlen);

/* Jacobi for -laplace(u) = f on the unit square, zero on the boundary, with
 * the given f on the N x N interior grid (row-major).  Returns 0 or
 * -AU_EINVAL. */
int au_kernel_build_jacobi_rhs(struct au_kernel_problem *kp, uint32_t n, const double *f,
			       uint32_t shards, char *err, size_t errlen);

/* k-means over the given points (row-major [n][dims]), initial centroids
 * the points at indices i*n/k.  Returns 0 or -AU_EINVAL. */
int au_kernel_build_kmeans_points(struct au_kernel_problem *kp, uint32_t n, uint32_t dims,
				  uint32_t k, const double *points, uint32_t shards, char *err,
				  size_t errlen);

void au_kernel_free(struct au_kernel_problem *kp);

/* ---- shared inputs (kernel_input.c) ---------------------------------------------------- */
struct au_env;

/* The parameters in a fixed 48-byte little-endian layout: the content
 * address of the problem they generate.  Returns the length (48). */
size_t au_kernel_spec_encode(const struct au_kernel_params *p, uint8_t out[48]);

/* SHA-256 of an encoded spec: the key a host files the problem under. */
void au_kernel_spec_key(const uint8_t *spec, size_t len, uint8_t key[32]);

/* The problem `p` describes (p must pass au_kernel_check): the host's
 * shared copy when `env` offers one (env.h, shared_input; never written),
 * else one built here into *own, and then *owned is true and the caller
 * au_kernel_free()s *own when done.  NULL if it does not build. */
const struct au_kernel_problem *au_kernel_acquire(const struct au_env *env,
						  const struct au_kernel_params *p,
						  struct au_kernel_problem *own, bool *owned);

/* Kind name ("pagerank", "jacobi", "kmeans") and back (0 if unknown). */
const char *au_kernel_kind_name(enum au_kernel_kind kind);
enum au_kernel_kind au_kernel_kind_parse(const char *name);

/* Round 0's state (state_len doubles). */
void au_kernel_init_state(const struct au_kernel_problem *kp, double *state);

/* Units [lo, hi) of shard `s` (s < shards): lo = s*units/shards. */
void au_kernel_shard_range(const struct au_kernel_problem *kp, uint32_t s, uint32_t *lo,
			   uint32_t *hi);

/* Doubles in shard s's output. */
uint32_t au_kernel_shard_out_len(const struct au_kernel_problem *kp, uint32_t s);

/* Doubles of scratch space au_kernel_shard needs (0 for some kernels). */
size_t au_kernel_scratch_len(const struct au_kernel_problem *kp);

/* Compute shard s of the round that follows `state` into `out`
 * (au_kernel_shard_out_len doubles).  `scratch` holds
 * au_kernel_scratch_len doubles, or is NULL (then it is allocated and freed
 * here).  Pure: the output depends on kp, state and s only. */
void au_kernel_shard(const struct au_kernel_problem *kp, const double *state, uint32_t s,
		     double *out, double *scratch);

/* Build the next state from the previous one and every shard's output,
 * outs[0..shards-1] in shard order; returns the round's residual (PageRank:
 * L1 norm of the change; Jacobi: L2 norm of the change; k-means: L2 norm of
 * the centroids' movement).  `next` must not alias `prev`. */
double au_kernel_aggregate(const struct au_kernel_problem *kp, const double *prev,
			   const double *const *outs, double *next);

/* The same as au_kernel_aggregate for a list of shard outputs in any
 * order, shard_of[i] saying whose output outs[i] is: rows are placed by
 * shard (a shard listed twice: the later copy wins; a shard missing:
 * its rows keep their previous values), partial sums are added in list
 * order.  With each shard exactly once, in shard order, the result equals
 * au_kernel_aggregate's bit for bit.  (RQML aggregates a round through it;
 * its planted bug feeds it a duplicated shard.) */
double au_kernel_aggregate_list(const struct au_kernel_problem *kp, const double *prev,
				const uint32_t *shard_of, const double *const *outs, uint32_t n,
				double *next);

/* What shard s costs: floating-point operations and bytes moved. */
struct au_kernel_cost {
	uint64_t flops, bytes;
};
struct au_kernel_cost au_kernel_shard_cost(const struct au_kernel_problem *kp, uint32_t s);
/* What one aggregation costs (done by the supervisor). */
struct au_kernel_cost au_kernel_aggregate_cost(const struct au_kernel_problem *kp);

/* SHA-256 of a vector's little-endian IEEE 754 bytes. */
void au_kernel_digest(const double *v, size_t n, uint8_t out[32]);

/* The first 8 bytes of a digest, big-endian: what traces carry of it. */
static inline int64_t au_kernel_digest_prefix(const uint8_t d[32])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | d[i];
	return (int64_t)v;
}

/* A convergence decision after a round. */
enum au_kernel_verdict {
	AU_KERNEL_CONTINUE = 0,
	AU_KERNEL_CONVERGED = 1, /* residual <= tolerance */
	AU_KERNEL_MAX_ROUNDS = 2, /* max_rounds reached without converging */
	AU_KERNEL_STALLED = 3,   /* stall policy: no progress for stall_rounds */
	/* Not a policy's verdict: how RQML ends a job that never finished
	 * (rqml.h).  Such a job has no result (its digest is all zero). */
	AU_KERNEL_FAILED = 4,    /* a shard's attempts were exhausted */
	AU_KERNEL_CANCELLED = 5, /* an operator cancelled it */
};
#define AU_KERNEL_VERDICTS 6u

/* "running", "converged", "max_rounds", "stalled", "failed", "cancelled";
 * "?" for another value. */
const char *au_kernel_verdict_name(uint32_t verdict);

/* A convergence policy: a pure function of the residual history, so a new
 * supervisor decides exactly as the old one would have, and the reference
 * runner as the cluster does.  Policies live in rqml.c; the kernel layer
 * only calls them. */
typedef enum au_kernel_verdict (*au_kernel_policy_fn)(const void *policy, const double *residuals,
						      uint32_t rounds);

/* The sequential reference: run rounds from the initial state until
 * `policy` stops it (or max_rounds, a hard bound), each round computing
 * every shard in order and aggregating exactly as the cluster does.
 * Writes the final state into `state` (state_len doubles) and the residual
 * of each round into residuals[0..rounds-1] (room for max_rounds).  Returns
 * the number of rounds run and the verdict in *verdict. */
uint32_t au_kernel_reference(const struct au_kernel_problem *kp, au_kernel_policy_fn policy,
			     const void *policy_arg, uint32_t max_rounds, double *state,
			     double *residuals, enum au_kernel_verdict *verdict);

#endif
