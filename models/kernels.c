/* kernels.c — PageRank, Jacobi and k-means as shardable rounds (see
 * kernels.h for the contract: fixed reduction order, shard partition,
 * costs). */
#include "kernels.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "env.h"
#include "models_internal.h"
#include "pcg32.h"
#include "sha256.h"

/* R-MAT quadrant probabilities in percent (a, b, c; d is the rest), the
 * usual Graph500-like skew: most edges land among low-numbered vertices,
 * which a random relabelling then scatters. */
#define RMAT_A 57u
#define RMAT_B 19u
#define RMAT_C 19u
#define PAGERANK_DAMPING 0.85
#define KMEANS_BOX 100.0    /* cluster centres lie in [0, 100)^dims */
#define KMEANS_SPREAD 1.0   /* points lie within +-2 of their centre */
#define MAX_EDGES 100000000u
#define MAX_JACOBI_SIDE 16384u
#define MAX_KMEANS_POINTS 10000000u

static int fail(char *err, size_t errlen, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -AU_EINVAL;
}

const char *au_kernel_kind_name(enum au_kernel_kind kind)
{
	switch (kind) {
	case AU_KERNEL_PAGERANK:
		return "pagerank";
	case AU_KERNEL_JACOBI:
		return "jacobi";
	case AU_KERNEL_KMEANS:
		return "kmeans";
	}
	return "?";
}

const char *au_kernel_verdict_name(uint32_t verdict)
{
	static const char *const names[] = {"running", "converged", "max_rounds",
					    "stalled", "failed",    "cancelled"};
	return verdict < AU_KERNEL_VERDICTS ? names[verdict] : "?";
}

enum au_kernel_kind au_kernel_kind_parse(const char *name)
{
	for (int k = AU_KERNEL_PAGERANK; k <= AU_KERNEL_KMEANS; k++)
		if (name && strcmp(name, au_kernel_kind_name((enum au_kernel_kind)k)) == 0)
			return (enum au_kernel_kind)k;
	return (enum au_kernel_kind)0;
}

void au_kernel_free(struct au_kernel_problem *kp)
{
	if (!kp)
		return;
	free(kp->rowptr);
	free(kp->col);
	free(kp->order);
	free(kp->grp_deg);
	free(kp->grp_len);
	free(kp->shard_grp);
	free(kp->dang_list);
	free(kp->shard_dang);
	free(kp->invdeg);
	free(kp->dangling);
	free(kp->rhs);
	free(kp->points);
	memset(kp, 0, sizeof(*kp));
}

static int check_shards(uint32_t shards, uint32_t units, char *err, size_t errlen)
{
	if (shards < 1 || shards > AU_KERNEL_MAX_SHARDS)
		return fail(err, errlen, "shards = %u: need 1..%u", shards, AU_KERNEL_MAX_SHARDS);
	if (shards > units)
		return fail(err, errlen, "shards = %u: more shards than units to split (%u)", shards,
			    units);
	return 0;
}

/* ---- PageRank ------------------------------------------------------------- */

/* Degree-grouped visiting order per shard (see kernels.h): a counting sort
 * of each shard's rows by in-degree, stable, so rows of one degree stay in
 * index order; the sources are copied into that order. */
static void pagerank_layout(struct au_kernel_problem *kp)
{
	uint32_t n = kp->p.size, S = kp->p.shards;
	uint32_t *col = au_xcalloc(kp->p.edges, sizeof(uint32_t));
	kp->order = au_xcalloc(n, sizeof(uint32_t));
	kp->shard_grp = au_xcalloc((size_t)S + 1, sizeof(uint32_t));
	kp->shard_dang = au_xcalloc((size_t)S + 1, sizeof(uint32_t));
	kp->dang_list = au_xcalloc(kp->n_dangling, sizeof(uint32_t));
	GArray *gdeg = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	GArray *glen = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	uint32_t nd = 0;
	for (uint32_t s = 0; s < S; s++) {
		uint32_t lo, hi;
		au_kernel_shard_range(kp, s, &lo, &hi);
		uint32_t maxdeg = 0;
		for (uint32_t i = lo; i < hi; i++)
			if (kp->rowptr[i + 1] - kp->rowptr[i] > maxdeg)
				maxdeg = kp->rowptr[i + 1] - kp->rowptr[i];
		uint32_t *start = au_xcalloc((size_t)maxdeg + 2, sizeof(uint32_t));
		for (uint32_t i = lo; i < hi; i++)
			start[kp->rowptr[i + 1] - kp->rowptr[i] + 1]++;
		for (uint32_t d = 0; d <= maxdeg; d++) {
			if (start[d + 1]) {
				g_array_append_val(gdeg, d);
				g_array_append_val(glen, start[d + 1]);
			}
			start[d + 1] += start[d];
		}
		for (uint32_t i = lo; i < hi; i++)
			kp->order[lo + start[kp->rowptr[i + 1] - kp->rowptr[i]]++] = i;
		uint32_t at = kp->rowptr[lo];
		for (uint32_t q = lo; q < hi; q++) {
			uint32_t i = kp->order[q], d = kp->rowptr[i + 1] - kp->rowptr[i];
			memcpy(col + at, kp->col + kp->rowptr[i], (size_t)d * sizeof(uint32_t));
			at += d;
		}
		assert(at == kp->rowptr[hi]);
		kp->shard_grp[s + 1] = gdeg->len;
		for (uint32_t i = lo; i < hi; i++)
			if (kp->dangling[i])
				kp->dang_list[nd++] = i;
		kp->shard_dang[s + 1] = nd;
		free(start);
	}
	assert(nd == kp->n_dangling);
	free(kp->col);
	kp->col = col;
	kp->grp_deg = (uint32_t *)(void *)g_array_free(gdeg, FALSE);
	kp->grp_len = (uint32_t *)(void *)g_array_free(glen, FALSE);
}

int au_kernel_build_pagerank_edges(struct au_kernel_problem *kp, uint32_t n, const uint32_t *src,
				   const uint32_t *dst, uint32_t m, uint32_t shards, double damping,
				   char *err, size_t errlen)
{
	memset(kp, 0, sizeof(*kp));
	if (n < 1 || n > (1u << 30))
		return fail(err, errlen, "size = %u: need 1..2^30 vertices", n);
	if (m > MAX_EDGES)
		return fail(err, errlen, "edges = %u: at most %u", m, MAX_EDGES);
	if (damping == 0.0)
		damping = PAGERANK_DAMPING;
	if (!(damping > 0.0 && damping < 1.0))
		return fail(err, errlen, "damping must lie strictly between 0 and 1");
	int rc = check_shards(shards, n, err, errlen);
	if (rc)
		return rc;
	for (uint32_t e = 0; e < m; e++)
		if (src[e] >= n || dst[e] >= n)
			return fail(err, errlen, "edge %u (%u -> %u) leaves the graph of %u vertices", e,
				    src[e], dst[e], n);
	kp->p.kind = AU_KERNEL_PAGERANK;
	kp->p.size = n;
	kp->p.edges = m;
	kp->p.shards = shards;
	kp->p.damping = damping;
	kp->units = n;
	kp->state_len = n + 1; /* the ranks, then the dangling vertices' total rank */
	kp->rowptr = au_xcalloc((size_t)n + 1, sizeof(uint32_t));
	kp->col = au_xcalloc(m, sizeof(uint32_t));
	kp->invdeg = au_xcalloc(n, sizeof(double));
	kp->dangling = au_xcalloc(n, 1);
	uint32_t *outdeg = au_xcalloc(n, sizeof(uint32_t));
	for (uint32_t e = 0; e < m; e++) {
		kp->rowptr[dst[e] + 1]++;
		outdeg[src[e]]++;
	}
	for (uint32_t i = 0; i < n; i++)
		kp->rowptr[i + 1] += kp->rowptr[i];
	/* Sources in ascending order within a row (the gathers walk x
	 * forward): group the edges by source first (a counting sort), then
	 * deal them out to their rows source by source. */
	uint32_t *srcptr = au_xcalloc((size_t)n + 1, sizeof(uint32_t));
	for (uint32_t i = 0; i < n; i++)
		srcptr[i + 1] = srcptr[i] + outdeg[i];
	uint32_t *by_src = au_xcalloc(m ? m : 1, sizeof(uint32_t));
	uint32_t *fill = au_xcalloc(n, sizeof(uint32_t));
	for (uint32_t e = 0; e < m; e++)
		by_src[srcptr[src[e]] + fill[src[e]]++] = dst[e];
	memset(fill, 0, (size_t)n * sizeof(uint32_t));
	for (uint32_t s = 0; s < n; s++)
		for (uint32_t k = srcptr[s]; k < srcptr[s + 1]; k++)
			kp->col[kp->rowptr[by_src[k]] + fill[by_src[k]]++] = s;
	free(by_src);
	free(srcptr);
	for (uint32_t i = 0; i < n; i++) {
		kp->dangling[i] = outdeg[i] == 0;
		kp->n_dangling += kp->dangling[i];
		kp->invdeg[i] = outdeg[i] ? 1.0 / (double)outdeg[i] : 0.0;
	}
	free(fill);
	free(outdeg);
	assert(kp->rowptr[n] == m);
	pagerank_layout(kp);
	return 0;
}

/* R-MAT (Chakrabarti, Zhan, Faloutsos 2004): each edge descends `scale`
 * levels of the adjacency matrix choosing a quadrant with probabilities
 * a, b, c, d; vertex ids are then relabelled by a random permutation. */
static int build_pagerank_rmat(struct au_kernel_problem *kp, const struct au_kernel_params *p,
			       char *err, size_t errlen)
{
	uint32_t n = p->size;
	if (n < 2 || (n & (n - 1)) != 0 || n > (1u << 30))
		return fail(err, errlen, "size = %u: R-MAT needs a power of two in 2..2^30 vertices", n);
	if (p->edges < 1 || p->edges > MAX_EDGES)
		return fail(err, errlen, "edges = %u: need 1..%u", p->edges, MAX_EDGES);
	uint32_t scale = 0;
	while ((1u << scale) < n)
		scale++;
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, p->seed, UINT64_C(0x524d4154)); /* "RMAT" */
	uint32_t *perm = au_xcalloc(n, sizeof(uint32_t));
	for (uint32_t i = 0; i < n; i++)
		perm[i] = i;
	for (uint32_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
		uint32_t j = au_pcg32_below(&rng, i + 1);
		uint32_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	uint32_t *src = au_xcalloc(p->edges, sizeof(uint32_t));
	uint32_t *dst = au_xcalloc(p->edges, sizeof(uint32_t));
	for (uint32_t e = 0; e < p->edges; e++) {
		uint32_t u = 0, v = 0;
		for (uint32_t level = 0; level < scale; level++) {
			/* The quadrant: a (neither bit), b (v's), c (u's) or d
			 * (both), without branches (the draw is random: a branch
			 * on it mispredicts half the time). */
			uint32_t r = au_pcg32_below(&rng, 100);
			uint32_t in_b = (r >= RMAT_A) & (r < RMAT_A + RMAT_B);
			uint32_t in_cd = r >= RMAT_A + RMAT_B;
			uint32_t in_d = r >= RMAT_A + RMAT_B + RMAT_C;
			u |= in_cd << level;
			v |= (in_b | in_d) << level;
		}
		src[e] = perm[u];
		dst[e] = perm[v];
	}
	int rc = au_kernel_build_pagerank_edges(kp, n, src, dst, p->edges, p->shards, p->damping, err,
						errlen);
	if (rc == 0)
		kp->p = *p;
	if (rc == 0 && kp->p.damping == 0.0)
		kp->p.damping = PAGERANK_DAMPING;
	free(src);
	free(dst);
	free(perm);
	return rc;
}

static void pagerank_init(const struct au_kernel_problem *kp, double *x)
{
	uint32_t n = kp->p.size;
	double r0 = 1.0 / (double)n;
	for (uint32_t i = 0; i < n; i++)
		x[i] = r0;
	/* The dangling total the same way the aggregation forms it: partial
	 * sums per shard in index order, then the shards in order. */
	double total = 0.0;
	for (uint32_t s = 0; s < kp->p.shards; s++) {
		uint32_t lo, hi;
		au_kernel_shard_range(kp, s, &lo, &hi);
		double part = 0.0;
		for (uint32_t i = lo; i < hi; i++)
			if (kp->dangling[i])
				part += x[i];
		total += part;
	}
	x[n] = total;
}

/* x_new[i] = (1-d)/n + d * (D/n + sum over edges j->i of x[j]/outdeg(j)),
 * D the rank held by dangling vertices (state[n]).  Output: the rows, then
 * this shard's L1 change and its dangling vertices' new rank.  `y` is
 * scratch for x[j]/outdeg(j) (the same product the formula takes). */
static void pagerank_shard(const struct au_kernel_problem *kp, const double *x, uint32_t s,
			   uint32_t lo, uint32_t hi, double *out, double *y)
{
	const uint32_t *restrict col = kp->col, *restrict order = kp->order;
	const double *restrict invdeg = kp->invdeg;
	uint32_t n = kp->p.size;
	double d = kp->p.damping;
	double teleport = (1.0 - d) / (double)n, dshare = x[n] / (double)n;
	for (uint32_t j = 0; j < n; j++)
		y[j] = x[j] * invdeg[j];
	const uint32_t *c = col + kp->rowptr[lo];
	uint32_t q = lo;
	for (uint32_t g = kp->shard_grp[s]; g < kp->shard_grp[s + 1]; g++) {
		uint32_t deg = kp->grp_deg[g], qend = q + kp->grp_len[g];
		if (deg == 0) {
			/* The general formula with every partial sum zero. */
			double v0 = teleport + d * (dshare + ((0.0 + 0.0) + (0.0 + 0.0)));
			for (; q < qend; q++)
				out[order[q] - lo] = v0;
			continue;
		}
		for (; q < qend; q++, c += deg) {
			/* Four interleaved partial sums: a fixed order that does not
			 * serialise every edge behind one add's latency. */
			double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
			uint32_t k = 0;
			for (; k + 4 <= deg; k += 4) {
				s0 += y[c[k]];
				s1 += y[c[k + 1]];
				s2 += y[c[k + 2]];
				s3 += y[c[k + 3]];
			}
			if (k < deg)
				s0 += y[c[k]];
			if (k + 1 < deg)
				s1 += y[c[k + 1]];
			if (k + 2 < deg)
				s2 += y[c[k + 2]];
			out[order[q] - lo] = teleport + d * (dshare + ((s0 + s1) + (s2 + s3)));
		}
	}
	assert(q == hi);
	/* The change in four lanes by row index, then the lanes combined. */
	double c0 = 0.0, c1 = 0.0, c2 = 0.0, c3 = 0.0;
	uint32_t i = lo;
	for (; i + 4 <= hi; i += 4) {
		c0 += fabs(out[i - lo] - x[i]);
		c1 += fabs(out[i + 1 - lo] - x[i + 1]);
		c2 += fabs(out[i + 2 - lo] - x[i + 2]);
		c3 += fabs(out[i + 3 - lo] - x[i + 3]);
	}
	for (; i < hi; i++)
		c0 += fabs(out[i - lo] - x[i]);
	double dang = 0.0;
	for (uint32_t t = kp->shard_dang[s]; t < kp->shard_dang[s + 1]; t++)
		dang += out[kp->dang_list[t] - lo];
	out[hi - lo] = (c0 + c1) + (c2 + c3);
	out[hi - lo + 1] = dang;
}

/* ---- Jacobi ------------------------------------------------------------------ */

static int build_jacobi_common(struct au_kernel_problem *kp, uint32_t n, uint32_t shards,
			       char *err, size_t errlen)
{
	memset(kp, 0, sizeof(*kp));
	if (n < 1 || n > MAX_JACOBI_SIDE)
		return fail(err, errlen, "size = %u: the grid side must be 1..%u", n, MAX_JACOBI_SIDE);
	int rc = check_shards(shards, n, err, errlen);
	if (rc)
		return rc;
	kp->p.kind = AU_KERNEL_JACOBI;
	kp->p.size = n;
	kp->p.shards = shards;
	kp->units = n; /* grid rows */
	kp->state_len = n * n;
	kp->rhs = au_xcalloc((size_t)n * n, sizeof(double));
	return 0;
}

int au_kernel_build_jacobi_rhs(struct au_kernel_problem *kp, uint32_t n, const double *f,
			       uint32_t shards, char *err, size_t errlen)
{
	int rc = build_jacobi_common(kp, n, shards, err, errlen);
	if (rc)
		return rc;
	double h = 1.0 / (double)(n + 1), h2 = h * h;
	for (size_t i = 0; i < (size_t)n * n; i++)
		kp->rhs[i] = h2 * f[i];
	return 0;
}

/* f uniform in [0, 1) per grid point, from the seed. */
static int build_jacobi_random(struct au_kernel_problem *kp, const struct au_kernel_params *p,
			       char *err, size_t errlen)
{
	int rc = build_jacobi_common(kp, p->size, p->shards, err, errlen);
	if (rc)
		return rc;
	kp->p = *p;
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, p->seed, UINT64_C(0x4a41434f)); /* "JACO" */
	double h = 1.0 / (double)(p->size + 1), h2 = h * h;
	for (size_t i = 0; i < (size_t)p->size * p->size; i++)
		kp->rhs[i] = h2 * au_pcg32_unit(&rng);
	return 0;
}

/* Two doubles at a time with GCC's vector extension (SSE2 on x86-64, the
 * baseline): element-wise IEEE arithmetic, so the same bits as the scalar
 * expressions, at -O0 and -O2 alike; the plain -O2 build does not
 * vectorise these loops by itself. */
typedef double au_v2d __attribute__((vector_size(16)));

static inline au_v2d ld2(const double *p)
{
	au_v2d v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void st2(double *p, au_v2d v) { memcpy(p, &v, sizeof(v)); }

/* u_new[i][j] = (((up + down) + (left + right)) + h^2 f) / 4, zero outside
 * the grid.  Output: the rows, then this shard's sum of squared changes,
 * accumulated in four lanes by column (j mod 4; the last n mod 4 columns of
 * a row go to lane 0) and combined as (l0 + l1) + (l2 + l3). */
static void jacobi_shard(const struct au_kernel_problem *kp, const double *u, uint32_t lo,
			 uint32_t hi, double *out)
{
	uint32_t n = kp->p.size;
	const au_v2d quarter = {0.25, 0.25};
	au_v2d qa = {0.0, 0.0}, qb = {0.0, 0.0}; /* lanes 0,1 and 2,3 */
	for (uint32_t i = lo; i < hi; i++) {
		const double *restrict row = u + (size_t)i * n;
		const double *restrict up = i > 0 ? row - n : NULL;
		const double *restrict down = i + 1 < n ? row + n : NULL;
		const double *restrict b = kp->rhs + (size_t)i * n;
		double *restrict o = out + (size_t)(i - lo) * n;
		if (up && down && n >= 2) {
			o[0] = 0.25 * (((up[0] + down[0]) + (0.0 + row[1])) + b[0]);
			uint32_t j = 1;
			for (; j + 2 < n; j += 2) {
				au_v2d v = ((ld2(up + j) + ld2(down + j)) + (ld2(row + j - 1) + ld2(row + j + 1))) +
					   ld2(b + j);
				st2(o + j, quarter * v);
			}
			for (; j + 1 < n; j++)
				o[j] = 0.25 * (((up[j] + down[j]) + (row[j - 1] + row[j + 1])) + b[j]);
			o[n - 1] = 0.25 * (((up[n - 1] + down[n - 1]) + (row[n - 2] + 0.0)) + b[n - 1]);
		} else {
			for (uint32_t j = 0; j < n; j++) {
				double vu = up ? up[j] : 0.0, vd = down ? down[j] : 0.0;
				double vl = j > 0 ? row[j - 1] : 0.0, vr = j + 1 < n ? row[j + 1] : 0.0;
				o[j] = 0.25 * (((vu + vd) + (vl + vr)) + b[j]);
			}
		}
		uint32_t j = 0;
		for (; j + 4 <= n; j += 4) {
			au_v2d da = ld2(o + j) - ld2(row + j), db = ld2(o + j + 2) - ld2(row + j + 2);
			qa += da * da;
			qb += db * db;
		}
		for (; j < n; j++) {
			double d0 = o[j] - row[j];
			qa[0] += d0 * d0;
		}
	}
	out[(size_t)(hi - lo) * n] = (qa[0] + qa[1]) + (qb[0] + qb[1]);
}

/* ---- k-means -------------------------------------------------------------------- */

static int build_kmeans_common(struct au_kernel_problem *kp, uint32_t n, uint32_t dims, uint32_t k,
			       uint32_t shards, char *err, size_t errlen)
{
	memset(kp, 0, sizeof(*kp));
	if (n < 1 || n > MAX_KMEANS_POINTS)
		return fail(err, errlen, "size = %u: need 1..%u points", n, MAX_KMEANS_POINTS);
	if (dims < 1 || dims > AU_KERNEL_MAX_KMEANS_DIMS)
		return fail(err, errlen, "dims = %u: need 1..%u", dims, AU_KERNEL_MAX_KMEANS_DIMS);
	if (k < 1 || k > AU_KERNEL_MAX_KMEANS_K || k > n)
		return fail(err, errlen, "k = %u: need 1..%u clusters and no more than points (%u)", k,
			    AU_KERNEL_MAX_KMEANS_K, n);
	int rc = check_shards(shards, n, err, errlen);
	if (rc)
		return rc;
	kp->p.kind = AU_KERNEL_KMEANS;
	kp->p.size = n;
	kp->p.dims = dims;
	kp->p.k = k;
	kp->p.shards = shards;
	kp->units = n;
	kp->state_len = k * dims; /* the centroids */
	kp->points = au_xcalloc((size_t)n * dims, sizeof(double));
	return 0;
}

int au_kernel_build_kmeans_points(struct au_kernel_problem *kp, uint32_t n, uint32_t dims,
				  uint32_t k, const double *points, uint32_t shards, char *err,
				  size_t errlen)
{
	int rc = build_kmeans_common(kp, n, dims, k, shards, err, errlen);
	if (rc == 0)
		memcpy(kp->points, points, (size_t)n * dims * sizeof(double));
	return rc;
}

/* k centres uniform in the box; each point picks a centre and adds noise
 * that is a sum of four uniforms (bell-shaped, exact arithmetic: no libm). */
static int build_kmeans_random(struct au_kernel_problem *kp, const struct au_kernel_params *p,
			       char *err, size_t errlen)
{
	int rc = build_kmeans_common(kp, p->size, p->dims, p->k, p->shards, err, errlen);
	if (rc)
		return rc;
	kp->p = *p;
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, p->seed, UINT64_C(0x4b4d4e53)); /* "KMNS" */
	double *centre = au_xcalloc((size_t)p->k * p->dims, sizeof(double));
	for (size_t i = 0; i < (size_t)p->k * p->dims; i++)
		centre[i] = KMEANS_BOX * au_pcg32_unit(&rng);
	for (uint32_t i = 0; i < p->size; i++) {
		uint32_t c = au_pcg32_below(&rng, p->k);
		for (uint32_t t = 0; t < p->dims; t++) {
			double noise = ((au_pcg32_unit(&rng) + au_pcg32_unit(&rng)) +
					(au_pcg32_unit(&rng) + au_pcg32_unit(&rng))) - 2.0;
			kp->points[(size_t)i * p->dims + t] = centre[(size_t)c * p->dims + t] +
							      KMEANS_SPREAD * noise;
		}
	}
	free(centre);
	return 0;
}

static void kmeans_init(const struct au_kernel_problem *kp, double *c)
{
	uint32_t n = kp->p.size, k = kp->p.k, dims = kp->p.dims;
	for (uint32_t i = 0; i < k; i++) {
		uint32_t idx = (uint32_t)((uint64_t)i * n / k);
		memcpy(c + (size_t)i * dims, kp->points + (size_t)idx * dims, dims * sizeof(double));
	}
}

/* Assign each point to its nearest centroid (squared distance, lowest
 * index on ties).  Output: per cluster the sum of its points (k*dims),
 * then the counts (k), then this shard's sum of squared distances. */
static void kmeans_shard(const struct au_kernel_problem *kp, const double *cent, uint32_t lo,
			 uint32_t hi, double *out)
{
	uint32_t k = kp->p.k, dims = kp->p.dims;
	double *sums = out, *counts = out + (size_t)k * dims;
	memset(out, 0, ((size_t)k * dims + k + 1) * sizeof(double));
	double sse = 0.0;
	for (uint32_t i = lo; i < hi; i++) {
		const double *pt = kp->points + (size_t)i * dims;
		uint32_t best = 0;
		double best_d = 0.0;
		for (uint32_t c = 0; c < k; c++) {
			const double *ce = cent + (size_t)c * dims;
			double dist = 0.0;
			for (uint32_t t = 0; t < dims; t++) {
				double diff = pt[t] - ce[t];
				dist += diff * diff;
			}
			if (c == 0 || dist < best_d) {
				best = c;
				best_d = dist;
			}
		}
		for (uint32_t t = 0; t < dims; t++)
			sums[(size_t)best * dims + t] += pt[t];
		counts[best] += 1.0;
		sse += best_d;
	}
	out[(size_t)k * dims + k] = sse;
}

/* ---- the common interface -------------------------------------------------------- */

int au_kernel_check(const struct au_kernel_params *p, char *err, size_t errlen)
{
	uint32_t units = 0;
	switch (p->kind) {
	case AU_KERNEL_PAGERANK:
		if (p->size < 2 || (p->size & (p->size - 1)) != 0 || p->size > (1u << 30))
			return fail(err, errlen, "size = %u: R-MAT needs a power of two in 2..2^30 vertices",
				    p->size);
		if (p->edges < 1 || p->edges > MAX_EDGES)
			return fail(err, errlen, "edges = %u: need 1..%u", p->edges, MAX_EDGES);
		if (!(p->damping >= 0.0 && p->damping < 1.0))
			return fail(err, errlen, "damping must lie strictly between 0 and 1");
		units = p->size;
		break;
	case AU_KERNEL_JACOBI:
		if (p->size < 1 || p->size > MAX_JACOBI_SIDE)
			return fail(err, errlen, "size = %u: the grid side must be 1..%u", p->size,
				    MAX_JACOBI_SIDE);
		units = p->size;
		break;
	case AU_KERNEL_KMEANS:
		if (p->size < 1 || p->size > MAX_KMEANS_POINTS)
			return fail(err, errlen, "size = %u: need 1..%u points", p->size, MAX_KMEANS_POINTS);
		if (p->dims < 1 || p->dims > AU_KERNEL_MAX_KMEANS_DIMS)
			return fail(err, errlen, "dims = %u: need 1..%u", p->dims, AU_KERNEL_MAX_KMEANS_DIMS);
		if (p->k < 1 || p->k > AU_KERNEL_MAX_KMEANS_K || p->k > p->size)
			return fail(err, errlen, "k = %u: need 1..%u clusters and no more than points (%u)",
				    p->k, AU_KERNEL_MAX_KMEANS_K, p->size);
		units = p->size;
		break;
	default:
		return fail(err, errlen, "unknown kernel kind %d", (int)p->kind);
	}
	return check_shards(p->shards, units, err, errlen);
}

uint32_t au_kernel_max_shard_out(const struct au_kernel_params *p)
{
	uint64_t rows = p->shards ? (p->size + p->shards - 1) / p->shards : p->size;
	uint64_t n = 0;
	switch (p->kind) {
	case AU_KERNEL_PAGERANK:
		n = rows + 2;
		break;
	case AU_KERNEL_JACOBI:
		n = rows * p->size + 1;
		break;
	case AU_KERNEL_KMEANS:
		n = (uint64_t)p->k * p->dims + p->k + 1;
		break;
	}
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int au_kernel_build(struct au_kernel_problem *kp, const struct au_kernel_params *p, char *err,
		    size_t errlen)
{
	memset(kp, 0, sizeof(*kp));
	switch (p->kind) {
	case AU_KERNEL_PAGERANK:
		return build_pagerank_rmat(kp, p, err, errlen);
	case AU_KERNEL_JACOBI:
		return build_jacobi_random(kp, p, err, errlen);
	case AU_KERNEL_KMEANS:
		return build_kmeans_random(kp, p, err, errlen);
	}
	return fail(err, errlen, "unknown kernel kind %d", (int)p->kind);
}

void au_kernel_init_state(const struct au_kernel_problem *kp, double *state)
{
	switch (kp->p.kind) {
	case AU_KERNEL_PAGERANK:
		pagerank_init(kp, state);
		break;
	case AU_KERNEL_JACOBI:
		memset(state, 0, (size_t)kp->state_len * sizeof(double));
		break;
	case AU_KERNEL_KMEANS:
		kmeans_init(kp, state);
		break;
	}
}

void au_kernel_shard_range(const struct au_kernel_problem *kp, uint32_t s, uint32_t *lo,
			   uint32_t *hi)
{
	assert(s < kp->p.shards);
	*lo = (uint32_t)((uint64_t)s * kp->units / kp->p.shards);
	*hi = (uint32_t)((uint64_t)(s + 1) * kp->units / kp->p.shards);
	assert(*lo < *hi && *hi <= kp->units);
}

uint32_t au_kernel_shard_out_len(const struct au_kernel_problem *kp, uint32_t s)
{
	uint32_t lo, hi;
	au_kernel_shard_range(kp, s, &lo, &hi);
	switch (kp->p.kind) {
	case AU_KERNEL_PAGERANK:
		return hi - lo + 2;
	case AU_KERNEL_JACOBI:
		return (hi - lo) * kp->p.size + 1;
	case AU_KERNEL_KMEANS:
		return kp->p.k * kp->p.dims + kp->p.k + 1;
	}
	return 0;
}

size_t au_kernel_scratch_len(const struct au_kernel_problem *kp)
{
	return kp->p.kind == AU_KERNEL_PAGERANK ? kp->p.size : 0;
}

void au_kernel_shard(const struct au_kernel_problem *kp, const double *state, uint32_t s,
		     double *out, double *scratch)
{
	uint32_t lo, hi;
	au_kernel_shard_range(kp, s, &lo, &hi);
	switch (kp->p.kind) {
	case AU_KERNEL_PAGERANK: {
		double *y = scratch ? scratch : au_xcalloc(kp->p.size, sizeof(double));
		pagerank_shard(kp, state, s, lo, hi, out, y);
		if (!scratch)
			free(y);
		break;
	}
	case AU_KERNEL_JACOBI:
		jacobi_shard(kp, state, lo, hi, out);
		break;
	case AU_KERNEL_KMEANS:
		kmeans_shard(kp, state, lo, hi, out);
		break;
	}
}

double au_kernel_aggregate(const struct au_kernel_problem *kp, const double *prev,
			   const double *const *outs, double *next)
{
	uint32_t shard_of[AU_KERNEL_MAX_SHARDS];
	for (uint32_t s = 0; s < kp->p.shards; s++)
		shard_of[s] = s;
	return au_kernel_aggregate_list(kp, prev, shard_of, outs, kp->p.shards, next);
}

double au_kernel_aggregate_list(const struct au_kernel_problem *kp, const double *prev,
				const uint32_t *shard_of, const double *const *outs, uint32_t n,
				double *next)
{
	assert(prev != next);
	uint32_t shards = kp->p.shards;
	uint8_t seen[AU_KERNEL_MAX_SHARDS] = {0};
	for (uint32_t i = 0; i < n; i++) {
		assert(shard_of[i] < shards);
		seen[shard_of[i]] = 1;
	}
	switch (kp->p.kind) {
	case AU_KERNEL_PAGERANK:
	case AU_KERNEL_JACOBI: {
		/* A row block per shard: rows of shards not listed keep theirs. */
		uint32_t width = kp->p.kind == AU_KERNEL_JACOBI ? kp->p.size : 1;
		for (uint32_t s = 0; s < shards; s++) {
			uint32_t lo, hi;
			au_kernel_shard_range(kp, s, &lo, &hi);
			if (!seen[s])
				memcpy(next + (size_t)lo * width, prev + (size_t)lo * width,
				       (size_t)(hi - lo) * width * sizeof(double));
		}
		double sum = 0.0, dang = 0.0;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t lo, hi;
			au_kernel_shard_range(kp, shard_of[i], &lo, &hi);
			size_t cells = (size_t)(hi - lo) * width;
			memcpy(next + (size_t)lo * width, outs[i], cells * sizeof(double));
			sum += outs[i][cells];
			if (kp->p.kind == AU_KERNEL_PAGERANK)
				dang += outs[i][cells + 1];
		}
		if (kp->p.kind == AU_KERNEL_PAGERANK) {
			next[kp->p.size] = dang;
			return sum; /* L1 change */
		}
		return sqrt(sum); /* L2 change */
	}
	case AU_KERNEL_KMEANS: {
		uint32_t k = kp->p.k, dims = kp->p.dims;
		size_t kd = (size_t)k * dims;
		double *acc = au_xcalloc(kd + k, sizeof(double));
		for (uint32_t i = 0; i < n; i++)
			for (size_t j = 0; j < kd + k; j++)
				acc[j] += outs[i][j];
		double moved = 0.0;
		for (uint32_t c = 0; c < k; c++) {
			double count = acc[kd + c];
			for (uint32_t t = 0; t < dims; t++) {
				size_t at = (size_t)c * dims + t;
				/* An empty cluster keeps its centroid. */
				next[at] = count > 0.0 ? acc[at] / count : prev[at];
				double diff = next[at] - prev[at];
				moved += diff * diff;
			}
		}
		free(acc);
		return sqrt(moved);
	}
	}
	return 0.0;
}

struct au_kernel_cost au_kernel_shard_cost(const struct au_kernel_problem *kp, uint32_t s)
{
	uint32_t lo, hi;
	au_kernel_shard_range(kp, s, &lo, &hi);
	uint64_t rows = hi - lo;
	struct au_kernel_cost c = {0, 0};
	switch (kp->p.kind) {
	case AU_KERNEL_PAGERANK: {
		uint64_t e = kp->rowptr[hi] - kp->rowptr[lo];
		/* x[j]/outdeg(j) once per vertex, an add per edge; per row the
		 * combine (3), the update (3) and the change (2). */
		c.flops = e + kp->p.size + 8 * rows;
		/* What the algorithm must touch: row pointers, the visiting order
		 * and column indices, x and 1/outdeg (each counted once, whole),
		 * and the output.  Gathers that miss the cache cost more. */
		c.bytes = 4 * (rows + 1) + 4 * e + 16 * (uint64_t)kp->p.size + 12 * rows;
		break;
	}
	case AU_KERNEL_JACOBI: {
		uint64_t pts = rows * kp->p.size;
		c.flops = 9 * pts; /* 4 adds, a multiply; the change: sub, mul, add */
		c.bytes = 24 * pts; /* u and the right-hand side read, the output written */
		break;
	}
	case AU_KERNEL_KMEANS: {
		uint64_t k = kp->p.k, d = kp->p.dims;
		c.flops = rows * (3 * k * d + d + 2);
		c.bytes = rows * d * 8 + (k * d + k + 1) * 8;
		break;
	}
	}
	return c;
}

struct au_kernel_cost au_kernel_aggregate_cost(const struct au_kernel_problem *kp)
{
	struct au_kernel_cost c = {0, 0};
	uint64_t sh = kp->p.shards;
	switch (kp->p.kind) {
	case AU_KERNEL_PAGERANK:
	case AU_KERNEL_JACOBI:
		c.flops = 2 * sh;
		c.bytes = 16 * (uint64_t)kp->state_len; /* read the outputs, write the state */
		break;
	case AU_KERNEL_KMEANS: {
		uint64_t kd = (uint64_t)kp->p.k * kp->p.dims;
		c.flops = sh * (kd + kp->p.k) + 4 * kd;
		c.bytes = 8 * (sh * (kd + kp->p.k + 1) + 2 * kd);
		break;
	}
	}
	return c;
}

void au_kernel_digest(const double *v, size_t n, uint8_t out[32])
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* The doubles' memory already is their little-endian bytes. */
	au_sha256(v, n * sizeof(double), out);
#else
	struct au_sha256 s;
	au_sha256_init(&s);
	uint8_t buf[8 * 512];
	size_t fill = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t bits;
		memcpy(&bits, &v[i], sizeof(bits));
		for (int b = 0; b < 8; b++)
			buf[fill++] = (uint8_t)(bits >> (8 * b));
		if (fill == sizeof(buf)) {
			au_sha256_update(&s, buf, fill);
			fill = 0;
		}
	}
	au_sha256_update(&s, buf, fill);
	au_sha256_digest(&s, out);
#endif
}

uint32_t au_kernel_reference(const struct au_kernel_problem *kp, au_kernel_policy_fn policy,
			     const void *policy_arg, uint32_t max_rounds, double *state,
			     double *residuals, enum au_kernel_verdict *verdict)
{
	uint32_t shards = kp->p.shards;
	double **outs = au_xcalloc(shards, sizeof(double *));
	for (uint32_t s = 0; s < shards; s++)
		outs[s] = au_xcalloc(au_kernel_shard_out_len(kp, s), sizeof(double));
	double *next = au_xcalloc(kp->state_len, sizeof(double));
	double *scratch = au_xcalloc(au_kernel_scratch_len(kp), sizeof(double));
	au_kernel_init_state(kp, state);
	enum au_kernel_verdict v = AU_KERNEL_MAX_ROUNDS;
	uint32_t rounds = 0;
	while (rounds < max_rounds) {
		for (uint32_t s = 0; s < shards; s++)
			au_kernel_shard(kp, state, s, outs[s], scratch);
		residuals[rounds] = au_kernel_aggregate(kp, state, (const double *const *)outs, next);
		memcpy(state, next, (size_t)kp->state_len * sizeof(double));
		rounds++;
		v = policy ? policy(policy_arg, residuals, rounds) : AU_KERNEL_CONTINUE;
		if (v != AU_KERNEL_CONTINUE)
			break;
	}
	if (v == AU_KERNEL_CONTINUE)
		v = AU_KERNEL_MAX_ROUNDS;
	for (uint32_t s = 0; s < shards; s++)
		free(outs[s]);
	free(outs);
	free(next);
	free(scratch);
	*verdict = v;
	return rounds;
}
