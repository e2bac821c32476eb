/* test_one.c — ONE, the results repository: the machine on its own (put,
 * exactly-once rejection, malformed commands, job order, children,
 * snapshots) and replicated through Raft on a simulated cluster, across a
 * crash that makes a node recover its records from disk. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "one.h"
#include "raft/raft.h"
#include "trace_kinds.h"
#include "sim/engine/sim.h"
#include "scenario_runs.h"
#include "tests.h"

static void make_record(struct au_one_record *r, uint64_t job, uint64_t parent, uint8_t fill,
			double *res, uint32_t *workers)
{
	memset(r, 0, sizeof(*r));
	r->job = job;
	r->parent = parent;
	r->kind = AU_KERNEL_PAGERANK;
	r->verdict = AU_KERNEL_CONVERGED;
	memset(r->digest, fill, 32);
	r->rounds = 3;
	r->n_residuals = 3;
	r->residuals = res;
	res[0] = 0.5, res[1] = 0.25, res[2] = 1e-9;
	r->n_workers = 2;
	r->workers = workers;
	workers[0] = 2, workers[1] = 5;
}

static enum au_one_status put(struct au_one *o, uint64_t index, const struct au_one_record *r)
{
	uint8_t buf[4096];
	size_t n = au_one_encode_put(r, buf, sizeof(buf));
	ck_assert_uint_gt(n, 0);
	return au_one_apply(o, index, buf, n);
}

START_TEST(put_get_and_exactly_once)
{
	struct au_one *o = au_one_new();
	struct au_one_record r;
	double res[3];
	uint32_t w[2];
	make_record(&r, 7, 0, 0xaa, res, w);
	ck_assert_int_eq(put(o, 10, &r), AU_ONE_STORED);
	const struct au_one_record *got = au_one_get(o, 7);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got->index, 10);
	ck_assert_uint_eq(got->rounds, 3);
	ck_assert(got->residuals[2] == 1e-9);
	ck_assert_uint_eq(got->workers[1], 5);
	ck_assert_uint_eq(got->digest[31], 0xaa);
	/* A second put for job 7, even with another digest, is rejected. */
	make_record(&r, 7, 0, 0xbb, res, w);
	ck_assert_int_eq(put(o, 11, &r), AU_ONE_DUPLICATE);
	ck_assert_uint_eq(au_one_duplicates(o), 1);
	ck_assert_uint_eq(au_one_get(o, 7)->digest[0], 0xaa);
	ck_assert_uint_eq(au_one_get(o, 7)->index, 10);
	ck_assert_uint_eq(au_one_count(o), 1);
	au_one_free(o);
}
END_TEST

START_TEST(job_order_and_children)
{
	struct au_one *o = au_one_new();
	struct au_one_record r;
	double res[3];
	uint32_t w[2];
	static const uint64_t jobs[] = {9, 2, 14, 5, 3};
	static const uint64_t parents[] = {0, 0, 2, 2, 9};
	for (int i = 0; i < 5; i++) {
		make_record(&r, jobs[i], parents[i], (uint8_t)i, res, w);
		ck_assert_int_eq(put(o, 20 + (uint64_t)i, &r), AU_ONE_STORED);
	}
	uint64_t last = 0;
	for (uint32_t i = 0; i < au_one_count(o); i++) {
		ck_assert_uint_gt(au_one_at(o, i)->job, last);
		last = au_one_at(o, i)->job;
	}
	ck_assert_ptr_null(au_one_at(o, 5));
	uint64_t kids[4];
	ck_assert_uint_eq(au_one_children(o, 2, kids, 4), 2);
	ck_assert_uint_eq(kids[0], 5);
	ck_assert_uint_eq(kids[1], 14);
	ck_assert_uint_eq(au_one_children(o, 9, kids, 4), 1);
	ck_assert_uint_eq(au_one_children(o, 14, kids, 4), 0);
	ck_assert_ptr_null(au_one_get(o, 4));
	au_one_free(o);
}
END_TEST

START_TEST(malformed_commands_are_counted_and_ignored)
{
	struct au_one *o = au_one_new();
	struct au_one_record r;
	double res[3];
	uint32_t w[2];
	make_record(&r, 1, 0, 1, res, w);
	uint8_t buf[4096];
	size_t n = au_one_encode_put(&r, buf, sizeof(buf));
	/* Every truncation, and a trailing byte, is rejected. */
	for (size_t cut = 0; cut < n; cut++)
		ck_assert_int_eq(au_one_apply(o, 1, buf, cut), AU_ONE_MALFORMED);
	buf[n] = 0;
	ck_assert_int_eq(au_one_apply(o, 1, buf, n + 1), AU_ONE_MALFORMED);
	buf[0] = 9; /* unknown op */
	ck_assert_int_eq(au_one_apply(o, 1, buf, n), AU_ONE_MALFORMED);
	ck_assert_uint_eq(au_one_count(o), 0);
	ck_assert_uint_eq(au_one_malformed(o), n + 2);
	/* The encoder refuses what the decoder would reject. */
	w[0] = 5; /* workers not ascending */
	ck_assert_uint_eq(au_one_encode_put(&r, buf, sizeof(buf)), 0);
	w[0] = 2;
	r.job = 0;
	ck_assert_uint_eq(au_one_encode_put(&r, buf, sizeof(buf)), 0);
	r.job = 1;
	r.n_residuals = 4; /* more residuals than rounds */
	ck_assert_uint_eq(au_one_encode_put(&r, buf, sizeof(buf)), 0);
	r.n_residuals = 3;
	ck_assert_uint_eq(au_one_encode_put(&r, buf, 10), 0); /* does not fit */
	au_one_free(o);
}
END_TEST

START_TEST(snapshot_roundtrip_and_corruption)
{
	struct au_one *o = au_one_new(), *p = au_one_new();
	struct au_one_record r;
	double res[3];
	uint32_t w[2];
	for (uint64_t j = 1; j <= 6; j++) {
		make_record(&r, j * 3, j > 1 ? 3 : 0, (uint8_t)j, res, w);
		put(o, j, &r);
	}
	put(o, 7, &r); /* a duplicate, counted */
	uint8_t *snap;
	size_t n = au_one_snapshot(o, &snap);
	ck_assert(au_one_restore(p, snap, n));
	ck_assert_uint_eq(au_one_state_hash(o), au_one_state_hash(p));
	ck_assert_uint_eq(au_one_duplicates(p), 1);
	ck_assert_uint_eq(au_one_applied_index(p), 7);
	ck_assert_uint_eq(au_one_get(p, 9)->index, 3);
	/* Any truncation or flipped magic is refused and leaves it empty. */
	for (size_t cut = 0; cut < n; cut += 7) {
		ck_assert(!au_one_restore(p, snap, cut));
		ck_assert_uint_eq(au_one_count(p), 0);
	}
	snap[0] ^= 1;
	ck_assert(!au_one_restore(p, snap, n));
	free(snap);
	au_one_free(o);
	au_one_free(p);
}
END_TEST

/* ---- replicated through Raft -------------------------------------------------- */

static const char *const cluster_ini =
	"[run]\nname = one-test\nduration = 20s\n"
	"[cluster]\nnodes = 5\nservices = raft,one\n"
	"[network]\nlatency = uniform(1ms,3ms)\n"
	"[raft]\nsnapshot_every = 4\n"
	"[fault.c]\nat = 6s\naction = crash\ntarget = n5\nrestart_after = 3s\n";

static struct au_raft *raft_of(struct au_sim *sim, au_node_id n)
{
	if (!au_sim_node_up(sim, n))
		return NULL;
	const struct au_env *e = au_sim_env(sim, n, 0);
	return e->ops->local_service(e->ctx, "raft");
}

static struct au_one *one_of(struct au_sim *sim, au_node_id n)
{
	if (!au_sim_node_up(sim, n))
		return NULL;
	const struct au_env *e = au_sim_env(sim, n, 1);
	return e->ops->local_service(e->ctx, "one");
}

static au_node_id leader_of(struct au_sim *sim)
{
	for (au_node_id n = 1; n <= 5; n++) {
		struct au_raft *r = raft_of(sim, n);
		if (r && au_raft_is_leader(r))
			return n;
	}
	return 0;
}

static void ignore_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len)
{
	(void)ctx, (void)ok, (void)index, (void)result, (void)len;
}

START_TEST(replicated_exactly_once_across_a_crash)
{
	struct au_scenario *sc = au_test_load_text("<one-test>", cluster_ini);
	struct au_sim *sim = au_sim_new(sc, 3);
	uint8_t buf[4096];
	struct au_one_record r;
	double res[3];
	uint32_t w[2];
	/* Ten puts for jobs 1..10 before the crash and ten more after, each
	 * submitted twice under different sessions: the second is a new
	 * command, which ONE itself must reject. */
	au_time t = 2 * AU_NS_PER_S;
	for (int batch = 0; batch < 2; batch++) {
		ck_assert_int_eq(au_sim_run(sim, t), 0);
		au_node_id l = leader_of(sim);
		ck_assert_uint_ne(l, 0);
		for (uint64_t j = 1; j <= 10; j++) {
			uint64_t job = (uint64_t)batch * 10 + j;
			make_record(&r, job, 0, (uint8_t)job, res, w);
			size_t n = au_one_encode_put(&r, buf, sizeof(buf));
			ck_assert_int_eq(au_raft_submit(raft_of(sim, l), AU_ONE_MACHINE, 100 + job, 1, buf, n,
							ignore_done, NULL), 0);
			ck_assert_int_eq(au_raft_submit(raft_of(sim, l), AU_ONE_MACHINE, 200 + job, 1, buf, n,
							ignore_done, NULL), 0);
		}
		t = 12 * AU_NS_PER_S; /* after n5 crashed at 6 s and came back at 9 s */
	}
	ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	uint64_t h = au_one_state_hash(one_of(sim, 1));
	for (au_node_id n = 1; n <= 5; n++) {
		struct au_one *o = one_of(sim, n);
		ck_assert_ptr_nonnull(o);
		ck_assert_msg(au_one_count(o) == 20, "n%u has %u records", n, au_one_count(o));
		ck_assert_msg(au_one_duplicates(o) == 20, "n%u rejected %llu", n,
			      (unsigned long long)au_one_duplicates(o));
		ck_assert_msg(au_one_state_hash(o) == h, "n%u's records differ", n);
	}
	char line[512];
	au_sim_model_summary(sim, 5, 1, line, sizeof(line));
	ck_assert_msg(strstr(line, "records=20 duplicates_rejected=20"), "%s", line);
	char *report = au_sim_model_report(sim, 1);
	ck_assert_ptr_nonnull(report);
	ck_assert_msg(strstr(report, "20 records, 20 duplicate writes rejected"), "%s", report);
	ck_assert_msg(strstr(report, "job 20 pagerank: converged after 3 rounds"), "%s", report);
	ck_assert_msg(strstr(report, "0 records disagreeing"), "%s", report);
	g_free(report);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(one_needs_raft_first)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"<x>", "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = one,raft\n", &err);
	ck_assert_ptr_null(sc);
	ck_assert_msg(strstr(err, "[cluster] services: service one needs raft, listed before it"), "%s",
		      err);
	g_free(err);
}
END_TEST

/* Feed ONE_STORE events to a fresh run and return the violation detail. */
static char *forged_stores(const int64_t (*ev)[4], size_t n)
{
	struct au_scenario *sc = au_test_load_text(
		"f.ini", "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft,one\n"
			 "[raft]\nelection_timeout = 10s..11s\n[check]\ninvariants = exactly_once_one\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 0);
	for (size_t i = 0; i < n; i++)
		au_trace(au_sim_env(sim, (au_node_id)ev[i][0], 1), AU_TR_ONE_STORE, ev[i][1], ev[i][2],
			 ev[i][3]);
	const struct au_violation *v = au_sim_violation(sim);
	char *detail = g_strdup(v ? v->detail : "");
	au_sim_free(sim);
	au_scenario_free(sc);
	return detail;
}

START_TEST(exactly_once_checker_is_not_vacuous)
{
	/* node, job, index, digest */
	static const int64_t replay[][4] = {{1, 4, 10, 77}, {2, 4, 10, 77}, {1, 4, 10, 77}, {3, 5, 11, 1}};
	static const int64_t twice[][4] = {{1, 4, 10, 77}, {2, 4, 12, 77}};
	static const int64_t differ[][4] = {{1, 4, 10, 77}, {3, 4, 10, 78}};
	char *d = forged_stores(replay, 4);
	ck_assert_str_eq(d, "");
	g_free(d);
	d = forged_stores(twice, 2);
	ck_assert_msg(strstr(d, "job 4 stored in ONE twice: at log index 10"), "%s", d);
	g_free(d);
	d = forged_stores(differ, 2);
	ck_assert_msg(strstr(d, "n1 stored digest"), "%s", d);
	g_free(d);
}
END_TEST

Suite *one_suite(void)
{
	Suite *s = suite_create("one");
	TCase *tc = tcase_create("machine");
	tcase_add_test(tc, put_get_and_exactly_once);
	tcase_add_test(tc, job_order_and_children);
	tcase_add_test(tc, malformed_commands_are_counted_and_ignored);
	tcase_add_test(tc, snapshot_roundtrip_and_corruption);
	tcase_add_test(tc, one_needs_raft_first);
	tcase_add_test(tc, exactly_once_checker_is_not_vacuous);
	suite_add_tcase(s, tc);
	TCase *tr = tcase_create("replicated");
	tcase_set_timeout(tr, 60);
	tcase_add_test(tr, replicated_exactly_once_across_a_crash);
	suite_add_tcase(s, tr);
	return s;
}
