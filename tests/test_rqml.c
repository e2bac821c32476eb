/* test_rqml.c — RQML jobs: convergence policies, job and task ids, the
 * scenario keys, every rqml-* scenario over seeds with all checks on,
 * supervisor failover, determinism (twice, another seed, -O0), and each
 * RQML checker reporting the violation it exists for when fed one. */
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "pcg32.h"
#include "rqml.h"
#include "rqml_internal.h"
#include "trace_kinds.h"
#include "sim/engine/sim.h"
#include "scenario_runs.h"
#include "tests.h"

/* ---- policies ------------------------------------------------------------------ */

START_TEST(threshold_policy)
{
	struct au_rqml_policy p;
	ck_assert(au_rqml_policy_parse("threshold", &p));
	p.tolerance = 1e-3;
	p.max_rounds = 5;
	double res[] = {1.0, 0.1, 0.01, 0.001, 0.5};
	ck_assert_int_eq(au_rqml_decide(&p, res, 1), AU_KERNEL_CONTINUE);
	ck_assert_int_eq(au_rqml_decide(&p, res, 3), AU_KERNEL_CONTINUE);
	ck_assert_int_eq(au_rqml_decide(&p, res, 4), AU_KERNEL_CONVERGED); /* <= tolerance */
	ck_assert_int_eq(au_rqml_decide(&p, res, 5), AU_KERNEL_MAX_ROUNDS);
	/* A threshold policy never stalls, however flat the history. */
	double flat[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
	p.max_rounds = 100;
	ck_assert_int_eq(au_rqml_decide(&p, flat, 10), AU_KERNEL_CONTINUE);
}
END_TEST

START_TEST(stall_policy)
{
	struct au_rqml_policy p;
	ck_assert(au_rqml_policy_parse("stall:3", &p));
	ck_assert_int_eq(p.kind, AU_RQML_POLICY_STALL);
	ck_assert_uint_eq(p.stall_rounds, 3);
	p.tolerance = 0;
	p.max_rounds = 100;
	/* Best before the last 3 rounds is 0.1; the last 3 never beat it. */
	double stuck[] = {1.0, 0.1, 0.2, 0.15, 0.1};
	ck_assert_int_eq(au_rqml_decide(&p, stuck, 4), AU_KERNEL_CONTINUE); /* not enough rounds */
	ck_assert_int_eq(au_rqml_decide(&p, stuck, 5), AU_KERNEL_STALLED);
	/* Still improving: a new lowest residual within the window. */
	double going[] = {1.0, 0.1, 0.2, 0.09, 0.3};
	ck_assert_int_eq(au_rqml_decide(&p, going, 5), AU_KERNEL_CONTINUE);
	/* Convergence wins over stalling. */
	double zero[] = {1.0, 0.1, 0.2, 0.15, 0.0};
	ck_assert_int_eq(au_rqml_decide(&p, zero, 5), AU_KERNEL_CONVERGED);
	static const char *const bad[] = {"stall", "stall:", "stall:1", "stall:x", "stall:3x",
					  "Threshold", "", "stall:99999999999"};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		ck_assert_msg(!au_rqml_policy_parse(bad[i], &p), "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(stall_policy_stops_a_real_job_at_the_rounding_floor)
{
	/* Jacobi on an 8 x 8 grid with tolerance 0 never converges for this
	 * seed: the residual sinks to rounding noise and wanders there. */
	struct au_rqml_policy p = {AU_RQML_POLICY_STALL, 8, 0.0, 3000};
	struct au_kernel_params kp = {AU_KERNEL_JACOBI, 7, 8, 0, 0, 0, 4, 0.0};
	struct au_kernel_problem prob;
	ck_assert_int_eq(au_kernel_build(&prob, &kp, NULL, 0), 0);
	double *state = calloc(prob.state_len, sizeof(double)), *res = calloc(3000, sizeof(double));
	enum au_kernel_verdict v;
	uint32_t rounds = au_kernel_reference(&prob, au_rqml_decide, &p, 3000, state, res, &v);
	ck_assert_int_eq(v, AU_KERNEL_STALLED);
	ck_assert_msg(rounds > 100 && rounds < 3000, "stalled after %u rounds", rounds);
	ck_assert_msg(res[rounds - 1] > 0 && res[rounds - 1] < 1e-15, "residual %g", res[rounds - 1]);
	free(state);
	free(res);
	au_kernel_free(&prob);
}
END_TEST

/* ---- ids and specs ---------------------------------------------------------------- */

START_TEST(task_ids_roundtrip)
{
	uint64_t job;
	uint32_t round, shard, attempt;
	uint64_t id = au_rqml_task_id(10101, 99999, 1023, 7);
	ck_assert(id >> 63);
	ck_assert(au_rqml_task_decode(id, &job, &round, &shard, &attempt));
	ck_assert_uint_eq(job, 10101);
	ck_assert_uint_eq(round, 99999);
	ck_assert_uint_eq(shard, 1023);
	ck_assert_uint_eq(attempt, 7);
	ck_assert(!au_rqml_task_decode(42, &job, &round, &shard, &attempt)); /* a workload task */
	ck_assert_uint_ne(au_rqml_task_id(1, 2, 3, 0), au_rqml_task_id(1, 2, 3, 1));
}
END_TEST

static struct au_scenario *load_text(const char *workload, char **err)
{
	g_autofree char *text = g_strdup_printf(
		"[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft,swim,aureon,one,rqml\n"
		"[workload]\n%s\n", workload);
	return au_scenario_load_text("t.ini", text, err);
}

static const struct au_rqml_config *rqml_config(const struct au_scenario *sc)
{
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		if (sc->cluster.services[i] == &au_rqml_model)
			return sc->cluster.service_config[i];
	return NULL;
}

START_TEST(job_specs_from_the_scenario)
{
	char *err = NULL;
	struct au_scenario *sc = load_text("jobs = pagerank:2, kmeans:1, jacobi:1\n"
					   "fanout = pagerank>jacobi, pagerank>kmeans, jacobi>kmeans\n"
					   "pagerank_policy = stall:4\n", &err);
	ck_assert_msg(sc, "%s", err);
	const struct au_rqml_config *c = rqml_config(sc);
	ck_assert_uint_eq(au_rqml_top_jobs(c), 4);
	struct au_rqml_job_spec s[5];
	for (uint64_t j = 1; j <= 4; j++)
		ck_assert(au_rqml_top_spec(c, j, &s[j]));
	ck_assert(!au_rqml_top_spec(c, 5, &s[0]));
	/* Jobs are numbered by kind: pagerank, then jacobi, then kmeans. */
	ck_assert_int_eq(s[1].params.kind, AU_KERNEL_PAGERANK);
	ck_assert_int_eq(s[2].params.kind, AU_KERNEL_PAGERANK);
	ck_assert_int_eq(s[3].params.kind, AU_KERNEL_JACOBI);
	ck_assert_int_eq(s[4].params.kind, AU_KERNEL_KMEANS);
	ck_assert(s[1].params.seed != s[2].params.seed);
	ck_assert_int_eq(s[1].policy.kind, AU_RQML_POLICY_STALL);
	ck_assert_uint_eq(s[1].policy.stall_rounds, 4);
	ck_assert_int_eq(s[3].policy.kind, AU_RQML_POLICY_THRESHOLD);
	enum au_kernel_kind kids[8];
	ck_assert_uint_eq(au_rqml_children(c, AU_KERNEL_PAGERANK, kids, 8), 2);
	ck_assert_int_eq(kids[0], AU_KERNEL_JACOBI);
	ck_assert_int_eq(kids[1], AU_KERNEL_KMEANS);
	ck_assert_uint_eq(au_rqml_children(c, AU_KERNEL_KMEANS, kids, 8), 0);
	/* A child takes its seed from the parent's digest, and has depth. */
	uint8_t digest[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
	struct au_rqml_job_spec child, grandchild, too_deep;
	ck_assert(au_rqml_child_spec(c, &s[1], digest, 1, AU_KERNEL_JACOBI, &child));
	ck_assert_uint_eq(child.job, 101);
	ck_assert_uint_eq(child.parent, 1);
	ck_assert_uint_eq(child.depth, 1);
	ck_assert(child.params.seed == UINT64_C(0x0102030405060708));
	ck_assert(au_rqml_child_spec(c, &child, digest, 1, AU_KERNEL_KMEANS, &grandchild));
	ck_assert_uint_eq(grandchild.job, 10101);
	ck_assert(!au_rqml_child_spec(c, &grandchild, digest, 1, AU_KERNEL_KMEANS, &too_deep));
	au_scenario_free(sc);
}
END_TEST

START_TEST(bad_keys_are_rejected_with_their_name)
{
	static const struct {
		const char *workload, *want;
	} cases[] = {
		{"pagerank_size = 1000", "pagerank_size = 1000: R-MAT needs a power of two"},
		{"jobs = jacobi:1\njacobi_size = 4\njacobi_shards = 8", "jacobi_shards = 8: more shards"},
		{"fanout = pagerank>fft", "fanout: 'pagerank>fft' is not a list"},
		{"fanout = pagerank", "fanout: 'pagerank' is not a list"},
		{"kmeans_policy = sometimes\nfanout = pagerank>kmeans", "kmeans_policy: 'sometimes'"},
		{"pagerank_size = 65536\npagerank_shards = 2", "pagerank_shards: a shard's output would be"},
		{"pagerank_tolerance = -1", "[workload] pagerank_tolerance: '-1' is not a finite number"},
		{"pagerank_tolerance = 1e-6x", "pagerank_tolerance: '1e-6x'"},
		{"jobs = pagerank:100", "jobs: at most 99 jobs"},
		{"jobs = fft:1", "[workload] jobs:"},
		{"pagerank_colour = red", "[workload] pagerank_colour: unknown key"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *err = NULL;
		struct au_scenario *sc = load_text(cases[i].workload, &err);
		ck_assert_msg(!sc, "'%s' was accepted", cases[i].workload);
		ck_assert_msg(strstr(err, cases[i].want), "'%s': %s", cases[i].workload, err);
		g_free(err);
	}
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"t.ini", "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft,one,rqml\n", &err);
	ck_assert(!sc);
	ck_assert_msg(strstr(err, "service rqml needs aureon, listed before it"), "%s", err);
	g_free(err);
}
END_TEST

/* ---- scenarios ------------------------------------------------------------------------ */

/* Run a scenario; fail with the violation if a check failed.  Returns the
 * trace hash in out. */
static void run_checked(const char *path, uint64_t seed, char out[65])
{
	struct au_scenario *sc = au_test_load(path);
	struct au_sim *sim = NULL;
	au_test_run_passes(sc, seed, path, NULL, out, &sim);
	/* Every job finished and is in ONE. */
	for (uint32_t s = 0; s < sc->cluster.n_services; s++) {
		if (strcmp(sc->cluster.services[s]->name, "one") != 0)
			continue;
		char *report = au_sim_model_report(sim, s);
		ck_assert_msg(report && !strstr(report, "running"), "%s seed %llu: %s", path,
			      (unsigned long long)seed, report ? report : "no report");
		ck_assert_msg(strstr(report, "0 records disagreeing"), "%s", report);
		g_free(report);
	}
	au_sim_free(sim);
	au_scenario_free(sc);
}

static const char *const fast_scenarios[] = {
	"scenarios/rqml-pagerank.ini", "scenarios/rqml-kmeans.ini", "scenarios/mutant-rqml-dup-shard.ini",
};

/* _i = scenario * 100 + seed */
START_TEST(scenario_passes)
{
	run_checked(fast_scenarios[_i / 100], (uint64_t)(_i % 100), NULL);
}
END_TEST

START_TEST(slow_scenario_passes)
{
	static const char *const slow[] = {"scenarios/rqml-jacobi.ini", "scenarios/rqml-chaos.ini"};
	run_checked(slow[_i / 100], (uint64_t)(_i % 100), NULL);
}
END_TEST

START_TEST(deterministic)
{
	char a[65], b[65], c[65];
	run_checked("scenarios/rqml-kmeans.ini", 3, a);
	run_checked("scenarios/rqml-kmeans.ini", 3, b);
	run_checked("scenarios/rqml-kmeans.ini", 4, c);
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
}
END_TEST

START_TEST(same_hash_at_O0)
{
	static const char *const paths[] = {"scenarios/rqml-kmeans.ini", "scenarios/rqml-pagerank.ini"};
	au_test_same_hash_at_O0(paths, G_N_ELEMENTS(paths), 1, true);
}
END_TEST

/* The summary line of service `name` on node n. */
static void summary_of(struct au_sim *sim, const struct au_scenario *sc, au_node_id n,
		       const char *name, char *buf, size_t len)
{
	buf[0] = 0;
	for (uint32_t s = 0; s < sc->cluster.n_services; s++)
		if (strcmp(sc->cluster.services[s]->name, name) == 0)
			au_sim_model_summary(sim, n, s, buf, len);
}

START_TEST(supervisor_failover_mid_round)
{
	/* rqml-pagerank crashes the leader at 1.5 s.  Just before, the leader
	 * is supervising running jobs; at the end another node leads and every
	 * job finished with the reference result (the checks). */
	struct au_scenario *sc = au_test_load("scenarios/rqml-pagerank.ini");
	struct au_sim *sim = au_sim_new(sc, 1);
	ck_assert_int_eq(au_sim_run(sim, 1490 * AU_NS_PER_MS), 0);
	au_node_id old = 0;
	char line[512];
	for (au_node_id n = 1; n <= sc->cluster.nodes && !old; n++) {
		summary_of(sim, sc, n, "raft", line, sizeof(line));
		if (g_str_has_prefix(line, "leader"))
			old = n;
	}
	ck_assert_uint_ne(old, 0);
	const char *ot = strstr(line, "term=");
	ck_assert(ot);
	uint64_t old_term = strtoull(ot + 5, NULL, 10);
	summary_of(sim, sc, old, "rqml", line, sizeof(line));
	ck_assert_msg(strstr(line, "running=2"), "before the crash: %s", line);
	ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	au_node_id now = 0;
	for (au_node_id n = 1; n <= sc->cluster.nodes && !now; n++) {
		summary_of(sim, sc, n, "raft", line, sizeof(line));
		if (g_str_has_prefix(line, "leader"))
			now = n;
	}
	/* Another node took over after the crash (the old one may lead
	 * again by the end, after its restart): a later term leads. */
	summary_of(sim, sc, now, "raft", line, sizeof(line));
	const char *t = strstr(line, "term=");
	ck_assert_msg(now != 0 && t && strtoull(t + 5, NULL, 10) > old_term,
		      "leader n%u in term %llu before, n%u after: %s", old,
		      (unsigned long long)old_term, now, line);
	summary_of(sim, sc, now, "rqml", line, sizeof(line));
	ck_assert_msg(strstr(line, "running=0 finished=4"), "%s", line);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* ---- the checkers are not vacuous ------------------------------------------------------ */

static int64_t bits(double v)
{
	int64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

/* Feed events to a fresh 3-node run with one pagerank job configured and
 * return the violated check and its detail ("" if none). */
static char *run_forged(const struct au_test_forged *ev, size_t n)
{
	char *err = NULL;
	struct au_scenario *sc = load_text("jobs = pagerank:1\npagerank_size = 64\npagerank_edges = 256\n"
					   "pagerank_shards = 2\n", &err);
	ck_assert_msg(sc, "%s", err);
	return au_test_forged_verdict(sc, 4, ev, n); /* service 4: rqml */
}

START_TEST(checkers_report_each_violation)
{
	/* The real first residual of job 1, from the reference runner. */
	char *err = NULL;
	struct au_scenario *sc = load_text("jobs = pagerank:1\npagerank_size = 64\npagerank_edges = 256\n"
					   "pagerank_shards = 2\n", &err);
	ck_assert(sc);
	struct au_rqml_job_spec spec;
	ck_assert(au_rqml_top_spec(rqml_config(sc), 1, &spec));
	au_scenario_free(sc);
	struct au_kernel_problem kp;
	ck_assert_int_eq(au_kernel_build(&kp, &spec.params, NULL, 0), 0);
	double st[65], res[2];
	enum au_kernel_verdict v;
	au_kernel_reference(&kp, NULL, NULL, 2, st, res, &v);
	au_kernel_free(&kp);
	int64_t tok0 = 1000, tok1 = 1001;
	int64_t t0 = (int64_t)au_rqml_task_id(1, 1, 0, 0), t1 = (int64_t)au_rqml_task_id(1, 1, 1, 0);
	int64_t w0 = 1 << 16 | 0, w1 = 1 << 16 | 1;
	/* A correct round: passes every checker. */
	const struct au_test_forged good[] = {
		{1, AU_TR_RQML_JOB, 1, AU_KERNEL_PAGERANK, 0}, {1, AU_TR_TASKQ_ACK, t0, tok0, 0},
		{1, AU_TR_TASKQ_ACK, t1, tok1, 0},           {1, AU_TR_RQML_SHARD_USED, 1, w0, tok0},
		{1, AU_TR_RQML_SHARD_USED, 1, w1, tok1},      {1, AU_TR_RQML_ROUND, 1, 1, bits(res[0])},
	};
	char *d = run_forged(good, G_N_ELEMENTS(good));
	ck_assert_str_eq(d, ": ");
	g_free(d);
	/* A wrong residual. */
	struct au_test_forged wrong[G_N_ELEMENTS(good)];
	memcpy(wrong, good, sizeof(good));
	wrong[5].c = bits(res[0] * 2);
	d = run_forged(wrong, G_N_ELEMENTS(wrong));
	ck_assert_msg(strstr(d, "results_match_reference: job 1 round 1: residual"), "%s", d);
	g_free(d);
	/* A duplicated shard (the planted bug's signature). */
	struct au_test_forged dup[G_N_ELEMENTS(good) + 1];
	memcpy(dup, good, 5 * sizeof(struct au_test_forged));
	dup[5] = (struct au_test_forged){1, AU_TR_RQML_SHARD_USED, 1, w1, tok1};
	dup[6] = good[5];
	d = run_forged(dup, G_N_ELEMENTS(dup));
	ck_assert_msg(strstr(d, "shards_once: n1 aggregated job 1 round 1 with a shard twice"), "%s", d);
	g_free(d);
	/* A missing shard. */
	const struct au_test_forged missing[] = {good[0], good[1], good[3], good[5]};
	d = run_forged(missing, G_N_ELEMENTS(missing));
	ck_assert_msg(strstr(d, "shards_once") && strstr(d, "too few shards"), "%s", d);
	g_free(d);
	/* An output whose token the queue never accepted (a stale lease). */
	struct au_test_forged stale[G_N_ELEMENTS(good)];
	memcpy(stale, good, sizeof(good));
	stale[4].c = 999;
	d = run_forged(stale, G_N_ELEMENTS(stale));
	ck_assert_msg(strstr(d, "shards_once") && strstr(d, "never accepted"), "%s", d);
	g_free(d);
	/* Rounds out of order on a replica. */
	const struct au_test_forged skip[] = {good[0], {2, AU_TR_RQML_JOB, 1, AU_KERNEL_PAGERANK, 0},
				      {2, AU_TR_RQML_ROUND, 1, 2, bits(res[1])}};
	d = run_forged(skip, G_N_ELEMENTS(skip));
	ck_assert_msg(strstr(d, "rounds_monotone: n2 aggregated round 2 of job 1 after round 0"), "%s", d);
	g_free(d);
	/* Two replicas disagree on a round. */
	const struct au_test_forged split[] = {
		good[0], {2, AU_TR_RQML_JOB, 1, AU_KERNEL_PAGERANK, 0}, {1, AU_TR_RQML_ROUND, 1, 1, 5},
		{2, AU_TR_RQML_ROUND, 1, 1, 6}};
	d = run_forged(split, G_N_ELEMENTS(split));
	ck_assert_msg(strstr(d, "rounds_monotone: replicas disagree on job 1 round 1") ||
			      strstr(d, "results_match_reference"), "%s", d);
	g_free(d);
	/* A finished job whose digest is not the reference's. */
	const struct au_test_forged done[] = {good[0], {1, AU_TR_RQML_DONE, 1, 3 | INT64_C(1) << 32, 12345}};
	d = run_forged(done, G_N_ELEMENTS(done));
	ck_assert_msg(strstr(d, "results_match_reference: job 1 finished after 3 rounds"), "%s", d);
	g_free(d);
}
END_TEST

/* The bulk f64 codecs give the bytes and the short-read / overflow
 * outcome of one au_get_f64 / au_put_f64 call per value, when everything
 * fits and when it does not. */
START_TEST(bulk_f64_codecs_match_one_at_a_time)
{
	double v[5] = {1.5, -0.0, 1e300, NAN, 3.25};
	uint8_t a[64], b[64];
	for (size_t cap = 0; cap <= 48; cap += 4) {
		struct au_wbuf wa, wb;
		memset(a, 0xee, sizeof(a));
		memset(b, 0xee, sizeof(b));
		au_wbuf_init(&wa, a, cap);
		au_wbuf_init(&wb, b, cap);
		au_put_u32(&wa, 7);
		au_put_u32(&wb, 7);
		for (int i = 0; i < 5; i++)
			au_put_f64(&wa, v[i]);
		rqml_put_f64s(&wb, v, 5);
		ck_assert_uint_eq(wa.len, wb.len);
		ck_assert_int_eq(wa.overflow, wb.overflow);
		ck_assert_int_eq(memcmp(a, b, sizeof(a)), 0);
	}
	struct au_wbuf w;
	au_wbuf_init(&w, a, sizeof(a));
	for (int i = 0; i < 5; i++)
		au_put_f64(&w, v[i]);
	for (size_t len = 0; len <= 40; len += 3) {
		struct au_rbuf ra, rb;
		au_rbuf_init(&ra, a, len);
		au_rbuf_init(&rb, a, len);
		double x[5], y[5];
		for (int i = 0; i < 5; i++)
			x[i] = au_get_f64(&ra);
		rqml_get_f64s(&rb, y, 5);
		ck_assert_uint_eq(ra.pos, rb.pos);
		ck_assert_int_eq(ra.short_read, rb.short_read);
		ck_assert_int_eq(memcmp(x, y, sizeof(x)), 0);
	}
}
END_TEST

/* The same on random bits (every byte pattern: NaNs, denormals), lengths
 * 0..600 and buffers at every offset mod 8 (the codecs copy memory on a
 * little-endian host, byte by byte elsewhere). */
START_TEST(bulk_f64_codecs_random)
{
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, 17, 4);
	size_t max = 600;
	double *v = malloc(max * 8), *x = malloc(max * 8), *y = malloc(max * 8);
	uint8_t *a = malloc(max * 8 + 16), *b = malloc(max * 8 + 16);
	for (int iter = 0; iter < 200; iter++) {
		size_t n = au_pcg32_next(&rng) % (max + 1), off = au_pcg32_next(&rng) % 8;
		for (size_t i = 0; i < n; i++) {
			uint64_t bits = (uint64_t)au_pcg32_next(&rng) << 32 | au_pcg32_next(&rng);
			memcpy(&v[i], &bits, 8);
		}
		memset(a, 0xee, max * 8 + 16);
		memset(b, 0xee, max * 8 + 16);
		struct au_wbuf wa, wb;
		au_wbuf_init(&wa, a + off, n * 8 + 8);
		au_wbuf_init(&wb, b + off, n * 8 + 8);
		for (size_t i = 0; i < n; i++)
			au_put_f64(&wa, v[i]);
		rqml_put_f64s(&wb, v, n);
		ck_assert_uint_eq(wa.len, wb.len);
		ck_assert_int_eq(memcmp(a, b, max * 8 + 16), 0);
		struct au_rbuf ra, rb;
		au_rbuf_init(&ra, a + off, n * 8);
		au_rbuf_init(&rb, a + off, n * 8);
		for (size_t i = 0; i < n; i++)
			x[i] = au_get_f64(&ra);
		rqml_get_f64s(&rb, y, n);
		ck_assert_uint_eq(ra.pos, rb.pos);
		ck_assert(!rb.short_read);
		ck_assert_int_eq(memcmp(x, y, n * 8), 0);
		ck_assert_int_eq(memcmp(v, y, n * 8), 0);
	}
	free(v);
	free(x);
	free(y);
	free(a);
	free(b);
}
END_TEST

Suite *rqml_suite(void)
{
	Suite *s = suite_create("rqml");
	TCase *tu = tcase_create("units");
	tcase_set_timeout(tu, 60);
	tcase_add_test(tu, threshold_policy);
	tcase_add_test(tu, stall_policy);
	tcase_add_test(tu, stall_policy_stops_a_real_job_at_the_rounding_floor);
	tcase_add_test(tu, task_ids_roundtrip);
	tcase_add_test(tu, bulk_f64_codecs_match_one_at_a_time);
	tcase_add_test(tu, bulk_f64_codecs_random);
	tcase_add_test(tu, job_specs_from_the_scenario);
	tcase_add_test(tu, bad_keys_are_rejected_with_their_name);
	tcase_add_test(tu, checkers_report_each_violation);
	suite_add_tcase(s, tu);
	TCase *ts = tcase_create("scenarios");
	tcase_set_timeout(ts, 300);
	for (int sc = 0; sc < (int)G_N_ELEMENTS(fast_scenarios); sc++)
		tcase_add_loop_test(ts, scenario_passes, sc * 100 + 1, sc * 100 + 3);
	tcase_add_loop_test(ts, slow_scenario_passes, 1, 2);
	tcase_add_loop_test(ts, slow_scenario_passes, 101, 102);
	tcase_add_test(ts, deterministic);
	tcase_add_test(ts, same_hash_at_O0);
	tcase_add_test(ts, supervisor_failover_mid_round);
	suite_add_tcase(s, ts);
	/* make test-all: more seeds of every scenario. */
	TCase *tl = tcase_create("scenarios-many-seeds");
	tcase_set_tags(tl, "slow");
	tcase_set_timeout(tl, 3600);
	for (int sc = 0; sc < (int)G_N_ELEMENTS(fast_scenarios); sc++)
		tcase_add_loop_test(tl, scenario_passes, sc * 100 + 3, sc * 100 + 30);
	tcase_add_loop_test(tl, slow_scenario_passes, 2, 12);
	tcase_add_loop_test(tl, slow_scenario_passes, 102, 112);
	suite_add_tcase(s, tl);
	return s;
}
