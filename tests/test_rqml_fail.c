/* test_rqml_fail.c — how RQML jobs end without a result: a job whose
 * shard uses its last attempt fails with a reason ([rqml] shard_attempts),
 * a cancelled job ends cancelled; both get their one ONE record (verdict
 * and reason, digest zero).  The scenario rqml-shard-failures over seeds
 * with every check on, determinism (twice, -O0), the keys and their bad
 * values, ONE's encoding of reasons, and the checkers' new judgements fed
 * forged events. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "one.h"
#include "rqml.h"
#include "sim/engine/sim.h"
#include "scenario_runs.h"
#include "taskq.h"
#include "tests.h"
#include "trace_kinds.h"

#define SCENARIO "scenarios/rqml-shard-failures.ini"

/* ---- the scenario ------------------------------------------------------------------ */

/* The service `name` of node n of a finished run. */
static void *service_of(struct au_sim *sim, au_node_id n, const char *name)
{
	const struct au_env *env = au_sim_env(sim, n, 0);
	return env ? env->ops->local_service(env->ctx, name) : NULL;
}

START_TEST(shard_failure_fails_the_job_with_its_reason)
{
	/* Without the failure path, job 2 would retry its shard until the
	 * task id's attempt bits ran out and then wait for ever: no verdict,
	 * no ONE record. */
	struct au_scenario *sc = au_test_load(SCENARIO);
	struct au_sim *sim = NULL;
	au_test_run_passes(sc, 1, SCENARIO, NULL, NULL, &sim);
	uint32_t checked = 0;
	for (au_node_id n = 1; n <= sc->cluster.nodes; n++) {
		if (!au_sim_node_up(sim, n))
			continue;
		const struct au_one *one = service_of(sim, n, "one");
		const struct au_rqml *rq = service_of(sim, n, "rqml");
		ck_assert(one && rq);
		const struct au_one_record *r1 = au_one_get(one, 1), *r2 = au_one_get(one, 2),
					   *r3 = au_one_get(one, 3);
		ck_assert_msg(r1 && r2 && r3, "n%u: records of jobs 1-3: %p %p %p", n, (void *)r1,
			      (void *)r2, (void *)r3);
		ck_assert_uint_eq(r1->verdict, AU_KERNEL_CONVERGED);
		ck_assert_uint_eq(r2->verdict, AU_KERNEL_FAILED);
		ck_assert_str_eq(r2->reason, "shard 1: 4 attempts exhausted, last error: failed (round 3)");
		ck_assert_uint_eq(r2->rounds, 2);
		static const uint8_t zero[32];
		ck_assert(memcmp(r2->digest, zero, 32) == 0);
		ck_assert_uint_eq(r3->verdict, AU_KERNEL_CANCELLED);
		ck_assert_str_eq(r3->reason, "cancelled by an operator after 2 rounds");
		ck_assert(memcmp(r3->digest, zero, 32) == 0);
		/* The replicated job says the same. */
		struct au_rqml_job_info info;
		ck_assert(au_rqml_job_info(rq, 2, &info));
		ck_assert(info.finished);
		ck_assert_uint_eq(info.verdict, AU_KERNEL_FAILED);
		ck_assert_str_eq(info.reason, r2->reason);
		struct au_rqml_stats st;
		au_rqml_get_stats(rq, &st);
		ck_assert_uint_eq(st.jobs[AU_KERNEL_FAILED], 1);
		ck_assert_uint_eq(st.jobs[AU_KERNEL_CANCELLED], 1);
		ck_assert_uint_eq(st.jobs[AU_KERNEL_CONTINUE], 0);
		checked++;
	}
	ck_assert_uint_ge(checked, 3);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(scenario_passes_over_seeds)
{
	au_test_scenario_passes(SCENARIO, (uint64_t)_i);
}
END_TEST

START_TEST(deterministic)
{
	char a[65], b[65], c[65];
	au_test_run_hash(SCENARIO, 1, a);
	au_test_run_hash(SCENARIO, 1, b);
	au_test_run_hash(SCENARIO, 2, c);
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
}
END_TEST

START_TEST(same_hash_at_O0)
{
	static const char *const paths[] = {SCENARIO};
	au_test_same_hash_at_O0(paths, 1, 1, true);
}
END_TEST

/* A larger shard_attempts lets the shard use more attempts before the job
 * fails; the reason counts them. */
START_TEST(shard_attempts_sets_the_limit)
{
	char *err = NULL;
	g_autofree char *text = NULL;
	GString *s = g_string_new(NULL);
	g_autoptr(GError) gerr = NULL;
	g_autofree char *base = NULL;
	ck_assert(g_file_get_contents(SCENARIO, &base, NULL, &gerr));
	g_string_assign(s, base);
	g_string_replace(s, "shard_attempts = 4", "shard_attempts = 6", 0);
	text = g_string_free(s, FALSE);
	struct au_scenario *sc = au_scenario_load_text("attempts6.ini", text, &err);
	ck_assert_msg(sc, "%s", err);
	struct au_sim *sim = NULL;
	au_test_run_passes(sc, 1, "attempts6.ini", NULL, NULL, &sim);
	const struct au_one *one = service_of(sim, 2, "one");
	const struct au_one_record *r = one ? au_one_get(one, 2) : NULL;
	ck_assert(r);
	ck_assert_str_eq(r->reason, "shard 1: 6 attempts exhausted, last error: failed (round 3)");
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(bad_keys_are_rejected_with_their_name)
{
	static const struct {
		const char *keys, *want;
	} cases[] = {
		{"[workload]\nfail_shard = 2", "fail_shard: '2' is not JOB:SHARD"},
		{"[workload]\nfail_shard = 0:1", "fail_shard: '0:1' is not JOB:SHARD"},
		{"[workload]\nfail_shard = 2:x", "fail_shard: '2:x'"},
		{"[workload]\nfail_shard = 2:99999", "fail_shard: '2:99999'"},
		{"[workload]\ncancel = 3", "cancel: '3' is not JOB@ROUNDS"},
		{"[workload]\ncancel = 3@-1", "cancel: '3@-1'"},
		{"[workload]\nfail_round = 0", "[workload] fail_round"},
		{"[rqml]\nshard_attempts = 0", "[rqml] shard_attempts"},
		{"[rqml]\nshard_attempts = 1001", "[rqml] shard_attempts"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *text = g_strdup_printf(
			"[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft,swim,aureon,one,rqml\n%s\n",
			cases[i].keys);
		char *err = NULL;
		struct au_scenario *sc = au_scenario_load_text("t.ini", text, &err);
		ck_assert_msg(!sc, "'%s' was accepted", cases[i].keys);
		ck_assert_msg(strstr(err, cases[i].want), "'%s': %s", cases[i].keys, err);
		g_free(err);
	}
	uint64_t job;
	uint32_t n;
	ck_assert(au_rqml_parse_fail_shard("", &job, &n) && job == 0);
	ck_assert(au_rqml_parse_fail_shard("12:3", &job, &n) && job == 12 && n == 3);
	ck_assert(au_rqml_parse_cancel("7@0", &job, &n) && job == 7 && n == 0);
	ck_assert(!au_rqml_parse_cancel("7@", &job, &n));
	ck_assert(!au_rqml_parse_cancel("8388608@1", &job, &n)); /* job id above 2^23 - 1 */
}
END_TEST

START_TEST(reason_texts)
{
	char buf[AU_RQML_REASON_LEN];
	ck_assert_str_eq(au_rqml_reason(AU_KERNEL_FAILED, 3, 3, 8, AU_TASKQ_ERR_NODE_DEAD, buf,
					sizeof(buf)),
			 "shard 3: 8 attempts exhausted, last error: node_dead (round 4)");
	ck_assert_str_eq(au_rqml_reason(AU_KERNEL_FAILED, 0, 0, 1000, AU_RQML_ERR_OUTPUT_LOST, buf,
					sizeof(buf)),
			 "shard 0: 1000 attempts exhausted, last error: output_lost (round 1)");
	ck_assert_str_eq(au_rqml_reason(AU_KERNEL_CANCELLED, 5, 0, 0, 0, buf, sizeof(buf)),
			 "cancelled by an operator after 5 rounds");
	ck_assert_str_eq(au_rqml_reason(AU_KERNEL_CONVERGED, 5, 0, 0, 0, buf, sizeof(buf)), "");
	ck_assert_str_eq(au_kernel_verdict_name(AU_KERNEL_FAILED), "failed");
	ck_assert_str_eq(au_kernel_verdict_name(AU_KERNEL_CANCELLED), "cancelled");
	ck_assert_str_eq(au_kernel_verdict_name(AU_KERNEL_VERDICTS), "?");
}
END_TEST

/* ---- ONE: records with a reason ------------------------------------------------------ */

static void failed_record(struct au_one_record *r, uint64_t job, double *res, uint32_t *workers)
{
	memset(r, 0, sizeof(*r));
	r->job = job;
	r->kind = AU_KERNEL_JACOBI;
	r->verdict = AU_KERNEL_FAILED;
	r->rounds = 2;
	r->n_residuals = 2;
	r->residuals = res;
	res[0] = 0.5, res[1] = 0.25;
	r->n_workers = 1;
	r->workers = workers;
	workers[0] = 4;
	snprintf(r->reason, sizeof(r->reason), "shard 1: 4 attempts exhausted, last error: failed");
}

START_TEST(one_keeps_the_reason)
{
	struct au_one *o = au_one_new(), *p = au_one_new();
	struct au_one_record r;
	double res[2];
	uint32_t w[1];
	failed_record(&r, 2, res, w);
	uint8_t buf[1024];
	size_t n = au_one_encode_put(&r, buf, sizeof(buf));
	ck_assert_uint_eq(n, au_one_put_size(&r));
	/* Every truncation is refused; the whole stores it with its reason. */
	for (size_t cut = 1; cut < n; cut++)
		ck_assert_int_eq(au_one_apply(o, 1, buf, cut), AU_ONE_MALFORMED);
	ck_assert_int_eq(au_one_apply(o, 5, buf, n), AU_ONE_STORED);
	ck_assert_str_eq(au_one_get(o, 2)->reason, r.reason);
	/* Through a snapshot too. */
	uint8_t *snap;
	size_t len = au_one_snapshot(o, &snap);
	ck_assert(au_one_restore(p, snap, len));
	ck_assert_str_eq(au_one_get(p, 2)->reason, r.reason);
	ck_assert_uint_eq(au_one_digest(p), au_one_digest(o));
	free(snap);
	g_autofree char *d = au_one_describe(o);
	ck_assert_msg(strstr(d, "verdict=failed") && strstr(d, "reason=\"shard 1: 4 attempts"), "%s", d);
	/* A failed record without a reason is refused by the encoder. */
	r.job = 3;
	r.reason[0] = '\0';
	ck_assert_uint_eq(au_one_encode_put(&r, buf, sizeof(buf)), 0);
	/* The reason does not count for other verdicts: their encoding is the
	 * same as before the field existed. */
	struct au_one_record c = r;
	c.verdict = AU_KERNEL_CONVERGED;
	size_t plain = au_one_put_size(&c);
	snprintf(c.reason, sizeof(c.reason), "ignored");
	ck_assert_uint_eq(au_one_put_size(&c), plain);
	ck_assert_uint_eq(au_one_encode_put(&c, buf, sizeof(buf)), plain);
	au_one_free(o);
	au_one_free(p);
}
END_TEST

/* ---- the checkers judge failed jobs ----------------------------------------------------- */

/* Feed events to a fresh 3-node run (one pagerank job, shard_attempts 4)
 * and return "check: detail" of the violation ("" if none). */
static char *run_forged(const struct au_test_forged *ev, size_t n)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"t.ini",
		"[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft,swim,aureon,one,rqml\n"
		"[rqml]\nshard_attempts = 4\n[workload]\njobs = pagerank:1\npagerank_size = 64\n"
		"pagerank_edges = 256\npagerank_shards = 2\n"
		"[check]\ninvariants = results_match_reference, shards_once, jobs_recorded\n",
		&err);
	ck_assert_msg(sc, "%s", err);
	return au_test_forged_verdict(sc, 4, ev, n); /* service 4: rqml */
}

START_TEST(checkers_judge_failures)
{
	int64_t where = 1 << 16 | 1; /* round 1, shard 1 */
	int64_t dead[4];
	for (uint32_t k = 0; k < 4; k++)
		dead[k] = (int64_t)au_rqml_task_id(1, 1, 1, k);
	int64_t why = 4 << 8 | AU_TASKQ_ERR_FAILED;
	int64_t done = (int64_t)AU_KERNEL_FAILED << 32; /* 0 rounds */
	/* An honest failure: four attempts, the last one dead-lettered. */
	const struct au_test_forged good[] = {
		{1, AU_TR_RQML_JOB, 1, AU_KERNEL_PAGERANK, 0},
		{1, AU_TR_TASKQ_DEAD_LETTER, dead[3], 1, 0},
		{1, AU_TR_RQML_FAIL, 1, where, why},
		{1, AU_TR_RQML_DONE, 1, done, 0},
	};
	char *d = run_forged(good, G_N_ELEMENTS(good));
	ck_assert_str_eq(d, ": ");
	g_free(d);
	/* Failed before using every attempt shard_attempts allows. */
	struct au_test_forged early[G_N_ELEMENTS(good)];
	memcpy(early, good, sizeof(good));
	early[2].c = 3 << 8 | AU_TASKQ_ERR_FAILED;
	d = run_forged(early, G_N_ELEMENTS(early));
	ck_assert_msg(strstr(d, "shards_once: job 1 failed on shard 1 of round 1 after 3 attempts") &&
			      strstr(d, "fewer attempts"), "%s", d);
	g_free(d);
	/* Failed while its last attempt was still alive. */
	const struct au_test_forged alive[] = {good[0], good[2], good[3]};
	d = run_forged(alive, G_N_ELEMENTS(alive));
	ck_assert_msg(strstr(d, "shards_once") && strstr(d, "never dead-lettered"), "%s", d);
	g_free(d);
	/* A failed job that claims a result. */
	struct au_test_forged result[G_N_ELEMENTS(good)];
	memcpy(result, good, sizeof(good));
	result[3].c = 0x1234;
	d = run_forged(result, G_N_ELEMENTS(result));
	ck_assert_msg(strstr(d, "results_match_reference: job 1 ended failed after 0 rounds"), "%s", d);
	g_free(d);
}
END_TEST

Suite *rqml_fail_suite(void)
{
	Suite *s = suite_create("rqml_fail");
	TCase *tu = tcase_create("units");
	tcase_set_timeout(tu, 60);
	tcase_add_test(tu, bad_keys_are_rejected_with_their_name);
	tcase_add_test(tu, reason_texts);
	tcase_add_test(tu, one_keeps_the_reason);
	tcase_add_test(tu, checkers_judge_failures);
	suite_add_tcase(s, tu);
	TCase *ts = tcase_create("scenarios");
	tcase_set_timeout(ts, 300);
	tcase_add_test(ts, shard_failure_fails_the_job_with_its_reason);
	tcase_add_loop_test(ts, scenario_passes_over_seeds, 1, 6);
	tcase_add_test(ts, deterministic);
	tcase_add_test(ts, same_hash_at_O0);
	tcase_add_test(ts, shard_attempts_sets_the_limit);
	suite_add_tcase(s, ts);
	return s;
}
