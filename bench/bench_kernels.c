/* bench_kernels.c — `aureon-sim bench kernels` (see bench_kernels.h).
 *
 * Timing is wall-clock and only ever reported, never fed back into a
 * simulation.  Each measurement is the best of several repetitions (the
 * machine is shared, so the minimum is the least disturbed run).  Bytes
 * are what the kernel must move at least: every array it reads or writes
 * counted once per round (au_kernel_shard_cost), plus the aggregation's
 * copy; the triad moves 24 bytes per element (two reads, one write), the
 * STREAM convention.
 */
#include "bench_kernels.h"

#include <errno.h>
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "sim/report/report.h"
#include "config/values.h"

enum { BK_EXIT_OK = 0, BK_EXIT_USAGE = 2 };

static const char *const usage =
	"usage: aureon-sim bench kernels [options]\n"
	"  Times the RQML kernels against a STREAM-like triad measured in the same run.\n"
	"  --vertices N    PageRank graph vertices, a power of two (131072)\n"
	"  --edges M       PageRank R-MAT edges (1000000)\n"
	"  --side N        Jacobi grid side: N x N unknowns (2048)\n"
	"  --points N      k-means points (200000; k = 16, 8 dimensions)\n"
	"  --shards S      shards per round (1)\n"
	"  --rounds R      rounds per timed repetition (10)\n"
	"  --repeats K     interleaved repetitions; the best of each is kept (7)\n"
	"  --triad-mb MB   size of each triad array in MiB (256)\n"
	"  --json          one JSON object instead of the table\n";

static bool bk_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	if (!au_parse_u64(s, &v) || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* The triad: the straightforward -O2 loop whose bandwidth bounds the
 * kernels, over arrays far larger than the caches. */
struct bk_triad {
	size_t n;
	double *a, *b, *c;
	double s, best_s;
};

static bool bk_triad_init(struct bk_triad *t, size_t n)
{
	t->n = n;
	t->a = malloc(n * sizeof(double));
	t->b = malloc(n * sizeof(double));
	t->c = malloc(n * sizeof(double));
	if (!t->a || !t->b || !t->c)
		return false;
	for (size_t i = 0; i < n; i++) {
		t->a[i] = 0.0;
		t->b[i] = (double)(i & 1023);
		t->c[i] = 1.0 / (double)((i & 7) + 1);
	}
	t->s = 3.0;
	t->best_s = 1e300;
	return true;
}

static void bk_triad_once(struct bk_triad *t)
{
	double *restrict a = t->a;
	const double *restrict b = t->b, *restrict c = t->c;
	double s = t->s, t0 = au_report_wall_seconds();
	for (size_t i = 0; i < t->n; i++)
		a[i] = b[i] + s * c[i];
	double el = au_report_wall_seconds() - t0;
	if (el < t->best_s)
		t->best_s = el;
	t->s += 1.0;
}

/* A sum over the result, printed so the loop cannot be optimised away. */
static double bk_triad_free(struct bk_triad *t)
{
	double sum = 0.0;
	for (size_t i = 0; t->a && i < t->n; i += 4096)
		sum += t->a[i];
	free(t->a);
	free(t->b);
	free(t->c);
	return sum;
}

/* One kernel under test: its problem, buffers and best times. */
struct bk_kernel {
	struct au_kernel_problem kp;
	const char *name;
	char shape[96];
	double build_s;
	double round_s;     /* best time of one round: shards + aggregation */
	double shard_s;     /* best time of a round's shards alone */
	uint64_t flops;     /* per round */
	uint64_t bytes;     /* per round, shards + aggregation */
	uint64_t shard_bytes;
	double working_mb;  /* problem arrays */
	double residual;    /* last round's, to show the work was real */
	double **outs, *state, *next, *scratch;
};

static double bk_problem_mb(const struct au_kernel_problem *kp)
{
	double b = 0;
	switch (kp->p.kind) {
	case AU_KERNEL_PAGERANK:
		b = 4.0 * (kp->p.size + 1) + 4.0 * kp->p.edges + 4.0 * kp->p.size + 25.0 * kp->p.size;
		break;
	case AU_KERNEL_JACOBI:
		b = 8.0 * kp->state_len;
		break;
	case AU_KERNEL_KMEANS:
		b = 8.0 * kp->p.size * kp->p.dims;
		break;
	}
	/* plus the state, the next state and the shard outputs */
	return (b + 24.0 * kp->state_len) / (1024.0 * 1024.0);
}

static bool bk_kernel_init(struct bk_kernel *k, const struct au_kernel_params *p)
{
	char err[256];
	double t0 = au_report_wall_seconds();
	if (au_kernel_build(&k->kp, p, err, sizeof(err)) != 0) {
		fprintf(stderr, "aureon-sim: bench kernels: %s: %s\n", au_kernel_kind_name(p->kind), err);
		return false;
	}
	k->build_s = au_report_wall_seconds() - t0;
	const struct au_kernel_problem *kp = &k->kp;
	uint32_t S = kp->p.shards;
	k->name = au_kernel_kind_name(p->kind);
	k->working_mb = bk_problem_mb(kp);
	k->outs = calloc(S, sizeof(double *));
	for (uint32_t s = 0; s < S; s++)
		k->outs[s] = calloc(au_kernel_shard_out_len(kp, s), sizeof(double));
	k->state = calloc(kp->state_len, sizeof(double));
	k->next = calloc(kp->state_len, sizeof(double));
	k->scratch = calloc(au_kernel_scratch_len(kp) + 1, sizeof(double));
	for (uint32_t s = 0; s < S; s++) {
		struct au_kernel_cost c = au_kernel_shard_cost(kp, s);
		k->flops += c.flops;
		k->shard_bytes += c.bytes;
	}
	struct au_kernel_cost ac = au_kernel_aggregate_cost(kp);
	k->flops += ac.flops;
	k->bytes = k->shard_bytes + ac.bytes;
	k->round_s = k->shard_s = 1e300;
	return true;
}

/* One repetition: `rounds` rounds from the initial state. */
static void bk_kernel_once(struct bk_kernel *k, uint32_t rounds)
{
	const struct au_kernel_problem *kp = &k->kp;
	au_kernel_init_state(kp, k->state);
	double shard_t = 0.0, t0 = au_report_wall_seconds();
	for (uint32_t r = 0; r < rounds; r++) {
		double ts = au_report_wall_seconds();
		for (uint32_t s = 0; s < kp->p.shards; s++)
			au_kernel_shard(kp, k->state, s, k->outs[s], k->scratch);
		shard_t += au_report_wall_seconds() - ts;
		k->residual = au_kernel_aggregate(kp, k->state, (const double *const *)k->outs, k->next);
		double *t = k->state;
		k->state = k->next;
		k->next = t;
	}
	double t = (au_report_wall_seconds() - t0) / rounds;
	if (t < k->round_s)
		k->round_s = t;
	if (shard_t / rounds < k->shard_s)
		k->shard_s = shard_t / rounds;
}

static void bk_kernel_free(struct bk_kernel *k)
{
	for (uint32_t s = 0; k->outs && s < k->kp.p.shards; s++)
		free(k->outs[s]);
	free(k->outs);
	free(k->state);
	free(k->next);
	free(k->scratch);
	au_kernel_free(&k->kp);
}

int au_bench_kernels(int argc, char **argv)
{
	uint32_t vertices = 131072, edges = 1000000, side = 2048, points = 200000, shards = 1;
	uint32_t rounds = 10, triad_mb = 256, repeats = 7;
	bool json = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		uint32_t *target = NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			return BK_EXIT_OK;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
			continue;
		} else if (strcmp(a, "--vertices") == 0) {
			target = &vertices;
		} else if (strcmp(a, "--edges") == 0) {
			target = &edges;
		} else if (strcmp(a, "--side") == 0) {
			target = &side;
		} else if (strcmp(a, "--points") == 0) {
			target = &points;
		} else if (strcmp(a, "--shards") == 0) {
			target = &shards;
		} else if (strcmp(a, "--rounds") == 0) {
			target = &rounds;
		} else if (strcmp(a, "--repeats") == 0) {
			target = &repeats;
		} else if (strcmp(a, "--triad-mb") == 0) {
			target = &triad_mb;
		} else {
			return au_report_usage_error(usage, "unknown option %s", a);
		}
		if (i + 1 >= argc || !bk_parse_u32(argv[i + 1], target))
			return au_report_usage_error(usage, "%s needs a non-negative integer", a);
		i++;
	}
	if (rounds < 1 || rounds > 10000)
		return au_report_usage_error(usage, "--rounds must be 1..10000");
	if (repeats < 1 || repeats > 1000)
		return au_report_usage_error(usage, "--repeats must be 1..1000");
	if (triad_mb < 1 || triad_mb > 8192)
		return au_report_usage_error(usage, "--triad-mb must be 1..8192");
	struct au_kernel_params pr = {AU_KERNEL_PAGERANK, 1, vertices, edges, 0, 0, shards, 0.0};
	struct au_kernel_params ja = {AU_KERNEL_JACOBI, 2, side, 0, 0, 0, shards, 0.0};
	struct au_kernel_params km = {AU_KERNEL_KMEANS, 3, points, 0, 16, 8, shards, 0.0};
	/* Validate everything before spending time on the triad. */
	if (vertices < 2 || (vertices & (vertices - 1)))
		return au_report_usage_error(usage, "--vertices must be a power of two >= 2");
	if (edges < 1 || edges > 100000000)
		return au_report_usage_error(usage, "--edges must be 1..100000000");
	if (side < 1 || side > 16384)
		return au_report_usage_error(usage, "--side must be 1..16384");
	if (points < 16 || points > 10000000)
		return au_report_usage_error(usage, "--points must be 16..10000000");
	if (shards < 1 || shards > AU_KERNEL_MAX_SHARDS || shards > side || shards > points ||
	    shards > vertices)
		return au_report_usage_error(usage, "--shards must be 1..%u and at most every problem's units",
				      AU_KERNEL_MAX_SHARDS);
	const struct au_kernel_params *all[3] = {&pr, &ja, &km};
	struct bk_triad triad;
	if (!bk_triad_init(&triad, (size_t)triad_mb * 1024 * 1024 / sizeof(double))) {
		fprintf(stderr, "aureon-sim: bench kernels: out of memory for the triad\n");
		bk_triad_free(&triad);
		return BK_EXIT_USAGE;
	}
	struct bk_kernel res[3];
	memset(res, 0, sizeof(res));
	bool ok = true;
	for (int k = 0; k < 3 && ok; k++)
		ok = bk_kernel_init(&res[k], all[k]);
	snprintf(res[0].shape, sizeof(res[0].shape), "%u vertices, %u edges, %u shards", vertices, edges,
		 shards);
	snprintf(res[1].shape, sizeof(res[1].shape), "%ux%u grid, %u shards", side, side, shards);
	snprintf(res[2].shape, sizeof(res[2].shape), "%u points, k=16, 8 dims, %u shards", points,
		 shards);
	/* Interleaved repetitions: the triad and each kernel take turns, so a
	 * burst of load on the shared machine hits them alike, and the best of
	 * each is compared. */
	for (uint32_t rep = 0; ok && rep < repeats; rep++) {
		bk_triad_once(&triad);
		for (int k = 0; k < 3; k++)
			bk_kernel_once(&res[k], rounds);
	}
	double checksum = bk_triad_free(&triad);
	double triad_bps = 24.0 * (double)triad.n / triad.best_s;
	if (!ok) {
		for (int k = 0; k < 3; k++)
			bk_kernel_free(&res[k]);
		return BK_EXIT_USAGE;
	}
	if (json) {
		printf("{\"triad_gbps\": %.3f, \"triad_mb\": %u, \"rounds\": %u, \"kernels\": [", triad_bps / 1e9,
		       triad_mb, rounds);
		for (int k = 0; k < 3; k++) {
			const struct bk_kernel *r = &res[k];
			double kbound = (double)r->shard_bytes / triad_bps, rbound = (double)r->bytes / triad_bps;
			printf("%s{\"kernel\": \"%s\", \"shape\": \"%s\", \"working_set_mb\": %.1f, "
			       "\"kernel_s\": %.6f, \"kernel_bytes\": %llu, \"kernel_gbps\": %.3f, "
			       "\"kernel_ratio\": %.3f, \"round_s\": %.6f, \"round_bytes\": %llu, "
			       "\"round_ratio\": %.3f, \"gflops\": %.3f, \"build_s\": %.3f, "
			       "\"last_residual\": %.6g}",
			       k ? ", " : "", r->name, r->shape, r->working_mb, r->shard_s,
			       (unsigned long long)r->shard_bytes, (double)r->shard_bytes / r->shard_s / 1e9,
			       r->shard_s / kbound, r->round_s, (unsigned long long)r->bytes,
			       r->round_s / rbound, (double)r->flops / r->round_s / 1e9, r->build_s,
			       r->residual);
		}
		printf("], \"checksum\": %.6g}\n", checksum);
		for (int k = 0; k < 3; k++)
			bk_kernel_free(&res[k]);
		return BK_EXIT_OK;
	}
	printf("triad (a = b + s*c, %u MiB arrays, best of %u): %.2f GB/s   [checksum %.6g]\n", triad_mb,
	       repeats, triad_bps / 1e9, checksum);
	printf("best of %d x %u rounds; kernel = every shard of a round, round = kernel + aggregation;\n"
	       "ratio = time / (bytes that must move / triad bandwidth)\n", repeats, rounds);
	printf("%-9s %-36s %7s %9s %8s %7s %6s %9s %6s %8s\n", "kernel", "shape", "set MiB",
	       "kernel ms", "MB", "GB/s", "ratio", "round ms", "ratio", "GFLOP/s");
	for (int k = 0; k < 3; k++) {
		const struct bk_kernel *r = &res[k];
		double kbound = (double)r->shard_bytes / triad_bps, rbound = (double)r->bytes / triad_bps;
		printf("%-9s %-36s %7.1f %9.3f %8.2f %7.2f %6.2f %9.3f %6.2f %8.2f\n", r->name, r->shape,
		       r->working_mb, r->shard_s * 1e3, (double)r->shard_bytes / 1e6,
		       (double)r->shard_bytes / r->shard_s / 1e9, r->shard_s / kbound, r->round_s * 1e3,
		       r->round_s / rbound, (double)r->flops / r->round_s / 1e9);
	}
	printf("target: kernel ratio <= 2 for pagerank and jacobi (k-means is compute-bound, shown for "
	       "scale)\n");
	for (int k = 0; k < 3; k++)
		bk_kernel_free(&res[k]);
	return BK_EXIT_OK;
}
