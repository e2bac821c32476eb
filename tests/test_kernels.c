/* test_kernels.c — the numeric kernels against answers known in closed form
 * or from a direct solve, and the property RQML rests on: shard outputs
 * computed separately, in any order, and aggregated in shard order give
 * the sequential reference's bits. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "pcg32.h"
#include "tests.h"

/* Threshold policy for the tests: stop once the residual is <= *tol. */
static enum au_kernel_verdict below_tol(const void *arg, const double *res, uint32_t rounds)
{
	return res[rounds - 1] <= *(const double *)arg ? AU_KERNEL_CONVERGED : AU_KERNEL_CONTINUE;
}

/* Run to convergence; returns the state (caller frees). */
static double *run_ref(const struct au_kernel_problem *kp, double tol, uint32_t max_rounds,
		       uint32_t *rounds, enum au_kernel_verdict *v)
{
	double *state = calloc(kp->state_len, sizeof(double));
	double *res = calloc(max_rounds, sizeof(double));
	*rounds = au_kernel_reference(kp, below_tol, &tol, max_rounds, state, res, v);
	free(res);
	return state;
}

/* Solve A x = b (n x n, row-major, overwritten) by Gaussian elimination
 * with partial pivoting. */
static void solve_dense(double *a, double *b, double *x, int n)
{
	for (int c = 0; c < n; c++) {
		int p = c;
		for (int r = c + 1; r < n; r++)
			if (fabs(a[r * n + c]) > fabs(a[p * n + c]))
				p = r;
		for (int j = 0; j < n; j++) {
			double t = a[c * n + j];
			a[c * n + j] = a[p * n + j];
			a[p * n + j] = t;
		}
		double t = b[c];
		b[c] = b[p];
		b[p] = t;
		for (int r = c + 1; r < n; r++) {
			double f = a[r * n + c] / a[c * n + c];
			for (int j = c; j < n; j++)
				a[r * n + j] -= f * a[c * n + j];
			b[r] -= f * b[c];
		}
	}
	for (int r = n - 1; r >= 0; r--) {
		double s = b[r];
		for (int j = r + 1; j < n; j++)
			s -= a[r * n + j] * x[j];
		x[r] = s / a[r * n + r];
	}
}

START_TEST(pagerank_cycle_is_uniform)
{
	enum { N = 10 };
	uint32_t src[N], dst[N];
	for (uint32_t i = 0; i < N; i++) {
		src[i] = i;
		dst[i] = (i + 1) % N;
	}
	struct au_kernel_problem kp;
	char err[128];
	ck_assert_int_eq(au_kernel_build_pagerank_edges(&kp, N, src, dst, N, 3, 0.85, err, sizeof(err)), 0);
	ck_assert_uint_eq(kp.n_dangling, 0);
	uint32_t rounds;
	enum au_kernel_verdict v;
	double *x = run_ref(&kp, 1e-14, 100, &rounds, &v);
	ck_assert_int_eq(v, AU_KERNEL_CONVERGED);
	for (int i = 0; i < N; i++)
		ck_assert_msg(fabs(x[i] - 0.1) < 1e-15, "x[%d] = %.17g", i, x[i]);
	free(x);
	au_kernel_free(&kp);
}
END_TEST

START_TEST(pagerank_star_matches_closed_form)
{
	/* Centre 0 <-> leaves 1..L: x_c = (1 + dL) / (n (1 + d)), and each leaf
	 * x_l = (1-d)/n + d x_c / L. */
	enum { L = 6, N = L + 1 };
	uint32_t src[2 * L], dst[2 * L];
	for (uint32_t i = 0; i < L; i++) {
		src[2 * i] = 0, dst[2 * i] = i + 1;
		src[2 * i + 1] = i + 1, dst[2 * i + 1] = 0;
	}
	struct au_kernel_problem kp;
	double d = 0.85;
	ck_assert_int_eq(au_kernel_build_pagerank_edges(&kp, N, src, dst, 2 * L, 2, d, NULL, 0), 0);
	uint32_t rounds;
	enum au_kernel_verdict v;
	double *x = run_ref(&kp, 1e-15, 1000, &rounds, &v);
	ck_assert_int_eq(v, AU_KERNEL_CONVERGED);
	double xc = (1 + d * L) / (N * (1 + d)), xl = (1 - d) / N + d * xc / L;
	ck_assert_msg(fabs(x[0] - xc) < 1e-14, "centre %.17g, want %.17g", x[0], xc);
	for (int i = 1; i <= L; i++)
		ck_assert_msg(fabs(x[i] - xl) < 1e-14, "leaf %d: %.17g, want %.17g", i, x[i], xl);
	free(x);
	au_kernel_free(&kp);
}
END_TEST

START_TEST(pagerank_rows_hold_their_sources_in_order)
{
	/* Each row's sources, as laid out for the shards, are exactly the
	 * sources of the edges into it (duplicates kept) in ascending order:
	 * the gathers walk x forward and sum in a fixed order. */
	enum { N = 97, M = 1500 };
	static uint32_t src[M], dst[M], count[N][N];
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, 11, 12);
	memset(count, 0, sizeof(count));
	for (int e = 0; e < M; e++) {
		src[e] = au_pcg32_below(&rng, N - 7); /* a few vertices dangle */
		dst[e] = au_pcg32_below(&rng, N / 3) * 3 % N; /* many rows stay empty */
		count[dst[e]][src[e]]++;
	}
	struct au_kernel_problem kp;
	ck_assert_int_eq(au_kernel_build_pagerank_edges(&kp, N, src, dst, M, 4, 0.85, NULL, 0), 0);
	for (uint32_t s = 0; s < kp.p.shards; s++) {
		uint32_t lo, hi;
		au_kernel_shard_range(&kp, s, &lo, &hi);
		uint32_t at = kp.rowptr[lo];
		for (uint32_t q = lo; q < hi; q++) {
			uint32_t i = kp.order[q], d = kp.rowptr[i + 1] - kp.rowptr[i];
			for (uint32_t k = 0; k < d; k++) {
				uint32_t from = kp.col[at + k];
				ck_assert_uint_lt(from, N);
				if (k > 0)
					ck_assert_uint_le(kp.col[at + k - 1], from);
				ck_assert_uint_gt(count[i][from], 0);
				count[i][from]--;
			}
			at += d;
		}
	}
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			ck_assert_msg(count[i][j] == 0, "edge %d -> %d missing from row %d", j, i, i);
	au_kernel_free(&kp);
}
END_TEST

/* FNV-1a over a byte range, continuing from h (for known answers). */
static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *d = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * UINT64_C(0x100000001b3);
	return h;
}

START_TEST(pagerank_rmat_graph_known_answer)
{
	/* The generated graph is part of every PageRank job's result: a faster
	 * generator must produce the same graph bit for bit.  The digest was
	 * taken from the first version (branchy quadrant choice, qsort per row). */
	struct au_kernel_params p = {.kind = AU_KERNEL_PAGERANK, .seed = 42, .size = 1024,
				     .edges = 8192, .shards = 3};
	struct au_kernel_problem kp;
	char err[128];
	ck_assert_int_eq(au_kernel_build(&kp, &p, err, sizeof(err)), 0);
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	h = fnv_bytes(h, kp.rowptr, (p.size + 1) * sizeof(uint32_t));
	h = fnv_bytes(h, kp.col, p.edges * sizeof(uint32_t));
	h = fnv_bytes(h, kp.order, p.size * sizeof(uint32_t));
	h = fnv_bytes(h, kp.invdeg, p.size * sizeof(double));
	ck_assert_uint_eq(kp.n_dangling, 328);
	ck_assert_msg(h == UINT64_C(0x33b15e049ca5a924), "graph digest %016" PRIx64, h);
	au_kernel_free(&kp);
}
END_TEST

START_TEST(pagerank_dangling_matches_direct_solve)
{
	/* A random graph with dangling vertices: PageRank is the solution of
	 * (I - d P^T - (d/n) 1 dang^T) x = (1-d)/n 1, solved directly. */
	enum { N = 12, M = 20 };
	uint32_t src[M], dst[M];
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, 5, 6);
	for (int e = 0; e < M; e++) {
		src[e] = au_pcg32_below(&rng, N - 4); /* vertices 8..11 never point anywhere */
		dst[e] = au_pcg32_below(&rng, N);
	}
	double d = 0.85;
	struct au_kernel_problem kp;
	ck_assert_int_eq(au_kernel_build_pagerank_edges(&kp, N, src, dst, M, 5, d, NULL, 0), 0);
	ck_assert_uint_ge(kp.n_dangling, 4);
	double a[N * N] = {0}, b[N], want[N];
	for (int i = 0; i < N; i++) {
		a[i * N + i] = 1.0;
		b[i] = (1 - d) / N;
	}
	for (int e = 0; e < M; e++)
		a[dst[e] * N + src[e]] -= d * kp.invdeg[src[e]];
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			if (kp.dangling[j])
				a[i * N + j] -= d / N;
	solve_dense(a, b, want, N);
	uint32_t rounds;
	enum au_kernel_verdict v;
	double *x = run_ref(&kp, 1e-15, 2000, &rounds, &v);
	ck_assert_int_eq(v, AU_KERNEL_CONVERGED);
	double sum = 0;
	for (int i = 0; i < N; i++) {
		ck_assert_msg(fabs(x[i] - want[i]) < 1e-13, "x[%d] = %.17g, want %.17g", i, x[i], want[i]);
		sum += x[i];
	}
	ck_assert_msg(fabs(sum - 1.0) < 1e-13, "ranks sum to %.17g", sum);
	free(x);
	au_kernel_free(&kp);
}
END_TEST

START_TEST(jacobi_eigenfunction_closed_form)
{
	/* f = 2 pi^2 sin(pi x) sin(pi y) is an eigenvector of the discrete
	 * Laplacian with eigenvalue lambda = (8/h^2) sin^2(pi h / 2), so the
	 * discrete solution is (2 pi^2 / lambda) sin(pi x) sin(pi y). */
	enum { N = 15 };
	double f[N * N], h = 1.0 / (N + 1);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			f[i * N + j] = 2 * M_PI * M_PI * sin(M_PI * (i + 1) * h) * sin(M_PI * (j + 1) * h);
	struct au_kernel_problem kp;
	ck_assert_int_eq(au_kernel_build_jacobi_rhs(&kp, N, f, 4, NULL, 0), 0);
	uint32_t rounds;
	enum au_kernel_verdict v;
	double *u = run_ref(&kp, 1e-14, 5000, &rounds, &v);
	ck_assert_int_eq(v, AU_KERNEL_CONVERGED);
	double s = sin(M_PI * h / 2), lambda = 8 / (h * h) * s * s, c = 2 * M_PI * M_PI / lambda;
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			double want = c * sin(M_PI * (i + 1) * h) * sin(M_PI * (j + 1) * h);
			ck_assert_msg(fabs(u[i * N + j] - want) < 1e-12, "u[%d][%d] = %.17g, want %.17g", i,
				      j, u[i * N + j], want);
		}
	free(u);
	au_kernel_free(&kp);
}
END_TEST

START_TEST(jacobi_tiny_grid_matches_direct_solve)
{
	enum { N = 4, U = N * N };
	double f[U], a[U * U] = {0}, b[U], want[U], h = 1.0 / (N + 1);
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, 11, 12);
	for (int i = 0; i < U; i++)
		f[i] = au_pcg32_unit(&rng) - 0.5;
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			int r = i * N + j;
			a[r * U + r] = 4.0;
			if (i > 0)
				a[r * U + r - N] = -1.0;
			if (i + 1 < N)
				a[r * U + r + N] = -1.0;
			if (j > 0)
				a[r * U + r - 1] = -1.0;
			if (j + 1 < N)
				a[r * U + r + 1] = -1.0;
			b[r] = h * h * f[r];
		}
	solve_dense(a, b, want, U);
	struct au_kernel_problem kp;
	ck_assert_int_eq(au_kernel_build_jacobi_rhs(&kp, N, f, 3, NULL, 0), 0);
	uint32_t rounds;
	enum au_kernel_verdict v;
	double *u = run_ref(&kp, 1e-16, 1000, &rounds, &v);
	ck_assert_int_eq(v, AU_KERNEL_CONVERGED);
	for (int i = 0; i < U; i++)
		ck_assert_msg(fabs(u[i] - want[i]) < 1e-15, "u[%d] = %.17g, want %.17g", i, u[i], want[i]);
	free(u);
	au_kernel_free(&kp);
}
END_TEST

START_TEST(kmeans_separated_clusters_find_the_means)
{
	/* Three tight clusters far apart; point i belongs to cluster i % 3, so
	 * the initial centroids (points 0, 20, 40) start in different ones. */
	enum { N = 60, D = 2, K = 3 };
	static const double centre[K][D] = {{0, 0}, {10, 0}, {0, 10}};
	double pts[N * D], mean[K][D] = {{0}};
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, 3, 9);
	for (int i = 0; i < N; i++)
		for (int t = 0; t < D; t++) {
			pts[i * D + t] = centre[i % K][t] + au_pcg32_unit(&rng) - 0.5;
			mean[i % K][t] += pts[i * D + t] / (N / K);
		}
	struct au_kernel_problem kp;
	ck_assert_int_eq(au_kernel_build_kmeans_points(&kp, N, D, K, pts, 4, NULL, 0), 0);
	uint32_t rounds;
	enum au_kernel_verdict v;
	double *c = run_ref(&kp, 0.0, 50, &rounds, &v);
	ck_assert_int_eq(v, AU_KERNEL_CONVERGED); /* Lloyd reaches a fixed point exactly */
	ck_assert_uint_le(rounds, 5);
	/* Initial centroid j is point j*20, which is in cluster (j*20) % 3. */
	for (int j = 0; j < K; j++)
		for (int t = 0; t < D; t++) {
			int cl = (j * 20) % K;
			ck_assert_msg(fabs(c[j * D + t] - mean[cl][t]) < 1e-12, "centroid %d dim %d: %.17g vs %.17g",
				      j, t, c[j * D + t], mean[cl][t]);
		}
	free(c);
	au_kernel_free(&kp);
}
END_TEST

/* Run `rounds` rounds the distributed way: each shard into its own buffer,
 * computed in reverse shard order, its bytes sent through a little-endian
 * round trip; aggregated in shard order. */
static void run_distributed(const struct au_kernel_problem *kp, uint32_t rounds, double *state)
{
	uint32_t S = kp->p.shards;
	double **outs = calloc(S, sizeof(double *));
	double *next = calloc(kp->state_len, sizeof(double));
	au_kernel_init_state(kp, state);
	for (uint32_t r = 0; r < rounds; r++) {
		for (uint32_t s = S; s-- > 0;) {
			uint32_t len = au_kernel_shard_out_len(kp, s);
			double *tmp = calloc(len, sizeof(double));
			au_kernel_shard(kp, state, s, tmp, NULL);
			uint8_t *bytes = malloc((size_t)len * 8);
			for (uint32_t i = 0; i < len; i++) {
				uint64_t u;
				memcpy(&u, &tmp[i], 8);
				for (int b = 0; b < 8; b++)
					bytes[i * 8 + b] = (uint8_t)(u >> (8 * b));
			}
			free(outs[s]);
			outs[s] = calloc(len, sizeof(double));
			for (uint32_t i = 0; i < len; i++) {
				uint64_t u = 0;
				for (int b = 0; b < 8; b++)
					u |= (uint64_t)bytes[i * 8 + b] << (8 * b);
				memcpy(&outs[s][i], &u, 8);
			}
			free(bytes);
			free(tmp);
		}
		au_kernel_aggregate(kp, state, (const double *const *)outs, next);
		memcpy(state, next, (size_t)kp->state_len * sizeof(double));
	}
	for (uint32_t s = 0; s < S; s++)
		free(outs[s]);
	free(outs);
	free(next);
}

static const struct au_kernel_params generated[] = {
	{AU_KERNEL_PAGERANK, 7, 1024, 8000, 0, 0, 7, 0.0},
	{AU_KERNEL_JACOBI, 8, 33, 0, 0, 0, 5, 0.0},
	{AU_KERNEL_KMEANS, 9, 3000, 0, 6, 3, 4, 0.0},
};

START_TEST(distributed_equals_reference_bitwise)
{
	const struct au_kernel_params *p = &generated[_i];
	struct au_kernel_problem kp;
	char err[128];
	ck_assert_msg(au_kernel_build(&kp, p, err, sizeof(err)) == 0, "%s", err);
	uint32_t max = 40;
	double *ref = calloc(kp.state_len, sizeof(double)), *res = calloc(max, sizeof(double));
	enum au_kernel_verdict v;
	uint32_t rounds = au_kernel_reference(&kp, NULL, NULL, max, ref, res, &v);
	ck_assert_uint_eq(rounds, max);
	ck_assert_int_eq(v, AU_KERNEL_MAX_ROUNDS);
	double *dist = calloc(kp.state_len, sizeof(double));
	run_distributed(&kp, rounds, dist);
	uint8_t a[32], b[32];
	au_kernel_digest(ref, kp.state_len, a);
	au_kernel_digest(dist, kp.state_len, b);
	ck_assert_msg(memcmp(a, b, 32) == 0, "%s: distributed result differs from the reference",
		      au_kernel_kind_name(p->kind));
	ck_assert_msg(memcmp(ref, dist, (size_t)kp.state_len * 8) == 0, "bits differ");
	/* The residual history must be going down (these problems converge). */
	ck_assert_msg(res[max - 1] < res[0], "%s: residual %.3g -> %.3g", au_kernel_kind_name(p->kind),
		      res[0], res[max - 1]);
	free(ref);
	free(dist);
	free(res);
	au_kernel_free(&kp);
}
END_TEST

/* A buffer of n doubles, every byte `fill`. */
static double *filled(size_t n, int fill)
{
	double *v = malloc((n ? n : 1) * sizeof(double));
	memset(v, fill, (n ? n : 1) * sizeof(double));
	return v;
}

/* au_kernel_shard and au_kernel_aggregate_list write every value of their
 * output, whatever the list (all shards, one missing, one twice): RQML
 * hands them unzeroed (reused) buffers.  A buffer full of garbage must
 * come out equal to a zeroed one, for a few rounds of each kernel. */
START_TEST(outputs_are_written_whole)
{
	static const struct au_kernel_params extra[] = {
		{AU_KERNEL_JACOBI, 3, 1, 0, 0, 0, 1, 0.0}, /* a 1 x 1 grid: the edge rows */
	};
	const struct au_kernel_params *p = _i < 3 ? &generated[_i] : &extra[_i - 3];
	struct au_kernel_problem kp;
	char err[128];
	ck_assert_msg(au_kernel_build(&kp, p, err, sizeof(err)) == 0, "%s", err);
	uint32_t S = kp.p.shards;
	size_t L = kp.state_len;
	double *state = calloc(L, sizeof(double));
	au_kernel_init_state(&kp, state);
	double **outs = calloc(S + 1, sizeof(double *));
	uint32_t *shard_of = calloc(S + 1, sizeof(uint32_t));
	for (uint32_t r = 0; r < 4; r++) {
		for (uint32_t s = 0; s < S; s++) {
			uint32_t len = au_kernel_shard_out_len(&kp, s);
			double *z = filled(len, 0), *g = filled(len, 0xa5);
			au_kernel_shard(&kp, state, s, z, NULL);
			au_kernel_shard(&kp, state, s, g, NULL);
			ck_assert_msg(memcmp(z, g, (size_t)len * 8) == 0, "%s round %u shard %u",
				      au_kernel_kind_name(p->kind), r, s);
			free(g);
			free(outs[s]);
			outs[s] = z;
			shard_of[s] = s;
		}
		/* lists: every shard; the last one missing; shard 0 twice */
		for (int list = 0; list < 3; list++) {
			uint32_t n = S;
			if (list == 1)
				n = S - 1;
			if (list == 2) {
				outs[S] = outs[0];
				shard_of[S] = 0;
				n = S + 1;
			}
			double *z = filled(L, 0), *g = filled(L, 0x5a);
			double rz = au_kernel_aggregate_list(&kp, state, shard_of,
							     (const double *const *)outs, n, z);
			double rg = au_kernel_aggregate_list(&kp, state, shard_of,
							     (const double *const *)outs, n, g);
			ck_assert_msg(memcmp(z, g, L * 8) == 0 && memcmp(&rz, &rg, 8) == 0,
				      "%s round %u list %d", au_kernel_kind_name(p->kind), r, list);
			if (list == 0)
				memcpy(state, z, L * 8);
			free(z);
			free(g);
		}
	}
	for (uint32_t s = 0; s < S; s++)
		free(outs[s]);
	free(outs);
	free(shard_of);
	free(state);
	au_kernel_free(&kp);
}
END_TEST

START_TEST(generation_is_deterministic_and_seeded)
{
	const struct au_kernel_params *p = &generated[_i];
	struct au_kernel_params q = *p;
	struct au_kernel_problem k1, k2, k3;
	ck_assert_int_eq(au_kernel_build(&k1, p, NULL, 0), 0);
	ck_assert_int_eq(au_kernel_build(&k2, p, NULL, 0), 0);
	q.seed++;
	ck_assert_int_eq(au_kernel_build(&k3, &q, NULL, 0), 0);
	uint8_t d1[32], d2[32], d3[32];
	double *s1 = calloc(k1.state_len, 8), *s2 = calloc(k1.state_len, 8), *s3 = calloc(k1.state_len, 8);
	double res[3];
	enum au_kernel_verdict v;
	au_kernel_reference(&k1, NULL, NULL, 3, s1, res, &v);
	au_kernel_reference(&k2, NULL, NULL, 3, s2, res, &v);
	au_kernel_reference(&k3, NULL, NULL, 3, s3, res, &v);
	au_kernel_digest(s1, k1.state_len, d1);
	au_kernel_digest(s2, k2.state_len, d2);
	au_kernel_digest(s3, k3.state_len, d3);
	ck_assert(memcmp(d1, d2, 32) == 0);
	ck_assert_msg(memcmp(d1, d3, 32) != 0, "another seed gave the same result");
	if (p->kind == AU_KERNEL_PAGERANK) {
		ck_assert_uint_eq(k1.rowptr[k1.p.size], p->edges);
		double sum = 0;
		for (uint32_t i = 0; i < k1.p.size; i++)
			sum += s1[i];
		ck_assert_msg(fabs(sum - 1.0) < 1e-12, "ranks sum to %.17g", sum);
	}
	free(s1);
	free(s2);
	free(s3);
	au_kernel_free(&k1);
	au_kernel_free(&k2);
	au_kernel_free(&k3);
}
END_TEST

START_TEST(costs_cover_the_work)
{
	const struct au_kernel_params *p = &generated[_i];
	struct au_kernel_problem kp;
	ck_assert_int_eq(au_kernel_build(&kp, p, NULL, 0), 0);
	uint64_t flops = 0, units = 0;
	for (uint32_t s = 0; s < kp.p.shards; s++) {
		struct au_kernel_cost c = au_kernel_shard_cost(&kp, s);
		ck_assert(c.flops > 0 && c.bytes > 0);
		flops += c.flops;
		uint32_t lo, hi;
		au_kernel_shard_range(&kp, s, &lo, &hi);
		ck_assert_uint_eq(lo, units); /* contiguous, in order */
		units = hi;
	}
	ck_assert_uint_eq(units, kp.units);
	if (p->kind == AU_KERNEL_PAGERANK)
		ck_assert_uint_eq(flops, p->edges + p->shards * p->size + 8u * p->size);
	if (p->kind == AU_KERNEL_JACOBI)
		ck_assert_uint_eq(flops, 9u * p->size * p->size);
	ck_assert(au_kernel_aggregate_cost(&kp).bytes > 0);
	au_kernel_free(&kp);
}
END_TEST

START_TEST(bad_parameters_are_rejected_with_a_reason)
{
	struct au_kernel_problem kp;
	char err[160];
	struct au_kernel_params p = {AU_KERNEL_PAGERANK, 1, 1000, 100, 0, 0, 2, 0.0};
	ck_assert_int_lt(au_kernel_build(&kp, &p, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "power of two"), "%s", err);
	p.size = 1024;
	p.shards = 2000;
	ck_assert_int_lt(au_kernel_build(&kp, &p, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "shards"), "%s", err);
	struct au_kernel_params j = {AU_KERNEL_JACOBI, 1, 4, 0, 0, 0, 5, 0.0};
	ck_assert_int_lt(au_kernel_build(&kp, &j, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "more shards than units"), "%s", err);
	struct au_kernel_params k = {AU_KERNEL_KMEANS, 1, 10, 0, 11, 2, 1, 0.0};
	ck_assert_int_lt(au_kernel_build(&kp, &k, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "k = 11"), "%s", err);
	uint32_t src[1] = {0}, dst[1] = {5};
	ck_assert_int_lt(au_kernel_build_pagerank_edges(&kp, 3, src, dst, 1, 1, 0.85, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "leaves the graph"), "%s", err);
	ck_assert_int_eq(au_kernel_kind_parse("jacobi"), AU_KERNEL_JACOBI);
	ck_assert_int_eq(au_kernel_kind_parse("fft"), 0);
}
END_TEST

START_TEST(digest_is_sha256_of_little_endian_bytes)
{
	/* python3: hashlib.sha256(struct.pack('<dd', 1.0, -2.5)).hexdigest() */
	static const char *want = "f138ae8a7b9a72de60b736f59d2474dd5b2357f5817f0dfa3309f5da5e629d87";
	double v[2] = {1.0, -2.5};
	uint8_t d[32];
	char hex[65];
	au_kernel_digest(v, 2, d);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	ck_assert_str_eq(hex, want);
	au_kernel_digest(v, 0, d);
	ck_assert_uint_eq(d[0], 0xe3); /* SHA-256 of nothing: e3b0c442... */
	ck_assert_uint_eq(d[1], 0xb0);
}
END_TEST

Suite *kernels_suite(void)
{
	Suite *s = suite_create("kernels");
	TCase *tc = tcase_create("known answers");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, pagerank_cycle_is_uniform);
	tcase_add_test(tc, pagerank_star_matches_closed_form);
	tcase_add_test(tc, pagerank_dangling_matches_direct_solve);
	tcase_add_test(tc, pagerank_rows_hold_their_sources_in_order);
	tcase_add_test(tc, pagerank_rmat_graph_known_answer);
	tcase_add_test(tc, jacobi_eigenfunction_closed_form);
	tcase_add_test(tc, jacobi_tiny_grid_matches_direct_solve);
	tcase_add_test(tc, kmeans_separated_clusters_find_the_means);
	tcase_add_test(tc, bad_parameters_are_rejected_with_a_reason);
	tcase_add_test(tc, digest_is_sha256_of_little_endian_bytes);
	suite_add_tcase(s, tc);
	TCase *tg = tcase_create("generated");
	tcase_set_timeout(tg, 60);
	tcase_add_loop_test(tg, distributed_equals_reference_bitwise, 0, 3);
	tcase_add_loop_test(tg, generation_is_deterministic_and_seeded, 0, 3);
	tcase_add_loop_test(tg, costs_cover_the_work, 0, 3);
	tcase_add_loop_test(tg, outputs_are_written_whole, 0, 4);
	suite_add_tcase(s, tg);
	return s;
}
