/* test_speed.c — what issue 17 changed for speed, held to the old
 * behaviour: job inputs shared between a run's nodes (env.h,
 * shared_input), and the chunked simulated disk. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "kernels.h"
#include "scenario_runs.h"
#include "sha256.h"
#include "sim/engine/sim.h"
#include "sim/check/check_internal.h"
#include "kv.h"
#include "tests.h"

static const struct au_kernel_params pr = {
	.kind = AU_KERNEL_PAGERANK, .seed = 7, .size = 1024, .edges = 8192, .shards = 4,
};

/* Two problems equal in every generated array. */
static void assert_same_problem(const struct au_kernel_problem *a,
				const struct au_kernel_problem *b)
{
	ck_assert_uint_eq(a->units, b->units);
	ck_assert_uint_eq(a->state_len, b->state_len);
	ck_assert_uint_eq(a->n_dangling, b->n_dangling);
	uint32_t n = a->p.size, m = a->p.edges;
	ck_assert(memcmp(a->rowptr, b->rowptr, (n + 1) * sizeof(uint32_t)) == 0);
	ck_assert(memcmp(a->col, b->col, m * sizeof(uint32_t)) == 0);
	ck_assert(memcmp(a->order, b->order, n * sizeof(uint32_t)) == 0);
	ck_assert(memcmp(a->invdeg, b->invdeg, n * sizeof(double)) == 0);
	ck_assert(memcmp(a->dangling, b->dangling, n) == 0);
}

START_TEST(shared_input_is_built_once_and_equals_a_private_build)
{
	struct au_scenario *sc = au_test_load("scenarios/rqml-pagerank.ini");
	struct au_sim *sim = au_sim_new(sc, 1);
	const struct au_env *e1 = au_sim_env(sim, 1, 0), *e2 = au_sim_env(sim, 2, 0);
	struct au_kernel_problem own1, own2, mine;
	bool owned1, owned2;
	const struct au_kernel_problem *a = au_kernel_acquire(e1, &pr, &own1, &owned1);
	const struct au_kernel_problem *b = au_kernel_acquire(e2, &pr, &own2, &owned2);
	ck_assert_ptr_nonnull(a);
	ck_assert(!owned1 && !owned2);
	ck_assert_ptr_eq(a, b); /* one copy for both nodes */
	ck_assert_uint_eq(au_sim_stats(sim)->shared_builds, 1);
	ck_assert_uint_eq(au_sim_stats(sim)->shared_hits, 1);
	ck_assert_int_eq(au_kernel_build(&mine, &pr, NULL, 0), 0);
	assert_same_problem(a, &mine);
	/* Another spec gets another object. */
	struct au_kernel_params other = pr;
	other.seed = 8;
	const struct au_kernel_problem *c = au_kernel_acquire(e1, &other, &own1, &owned1);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_ne(c, a);
	ck_assert_uint_eq(au_sim_stats(sim)->shared_builds, 2);
	au_kernel_free(&mine);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

static int builds;
static void *build_counted(const void *spec, size_t len)
{
	(void)spec;
	(void)len;
	builds++;
	return malloc(1);
}

START_TEST(shared_input_refuses_a_key_that_is_not_the_digest)
{
	struct au_scenario *sc = au_test_load("scenarios/rqml-pagerank.ini");
	struct au_sim *sim = au_sim_new(sc, 1);
	uint8_t spec[48], key[32];
	size_t len = au_kernel_spec_encode(&pr, spec);
	au_kernel_spec_key(spec, len, key);
	builds = 0;
	key[0] ^= 1;
	ck_assert_ptr_null(au_sim_shared_input(sim, key, spec, len, build_counted, free));
	ck_assert_int_eq(builds, 0);
	key[0] ^= 1;
	const void *obj = au_sim_shared_input(sim, key, spec, len, build_counted, free);
	ck_assert_ptr_nonnull(obj);
	ck_assert_ptr_eq(au_sim_shared_input(sim, key, spec, len, build_counted, free), obj);
	ck_assert_int_eq(builds, 1);
	/* Bytes that do not hash to the key are refused, cached or not. */
	spec[8] ^= 1;
	ck_assert_ptr_null(au_sim_shared_input(sim, key, spec, len, build_counted, free));
	ck_assert_int_eq(builds, 1);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* A host without the op (aureon-node): the model builds its own. */
START_TEST(no_shared_input_builds_a_private_copy)
{
	struct au_env_ops ops = {0};
	struct au_env env = {.ops = &ops};
	struct au_kernel_problem own;
	bool owned = false;
	const struct au_kernel_problem *kp = au_kernel_acquire(&env, &pr, &own, &owned);
	ck_assert_ptr_eq(kp, &own);
	ck_assert(owned);
	au_kernel_free(&own);
	ck_assert_ptr_eq(au_kernel_acquire(NULL, &pr, &own, &owned), &own);
	ck_assert(owned);
	au_kernel_free(&own);
}
END_TEST

/* A whole run: the nodes and the checker share one copy per job spec,
 * the run passes and its trace is the same twice. */
START_TEST(rqml_run_shares_inputs_and_is_deterministic)
{
	struct au_scenario *sc = au_test_load("scenarios/rqml-pagerank.ini");
	char h1[65], h2[65];
	struct au_sim *sim = NULL;
	au_test_run_passes(sc, 3, "rqml-pagerank", NULL, h1, &sim);
	const struct au_sim_stats *st = au_sim_stats(sim);
	ck_assert_uint_gt(st->shared_builds, 0);
	ck_assert_uint_gt(st->shared_hits, st->shared_builds);
	au_sim_free(sim);
	au_test_run_passes(sc, 3, "rqml-pagerank", NULL, h2, NULL);
	ck_assert_str_eq(h1, h2);
	au_scenario_free(sc);
}
END_TEST

/* bench stack: one JSON object with its six lines, every run passing,
 * the plain lines run --repeat times; bad arguments and a missing
 * scenario directory exit 2. */
START_TEST(bench_stack_reports_every_line)
{
	char *out = NULL;
	g_autofree char *cmd = g_strdup_printf("%s/aureon-sim bench stack --seeds 1 --repeat 2 --json",
					       au_test_bin());
	ck_assert_int_eq(au_test_run(cmd, &out), 0);
	const char *names[] = {"phold", "raft-basic", "default", "chaos-raft", "chaos-aureon",
			       "chaos-rqml"};
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *want = g_strdup_printf("\"name\": \"%s\", \"runs\": %d, \"failed\": 0",
							names[i], i < 3 ? 2 : 1);
		ck_assert_msg(strstr(out, want), "no line %s in %s", names[i], out);
	}
	ck_assert(strstr(out, "\"seeds_per_min_2cores\""));
	free(out);
	const char *bad[] = {"--seeds 0", "--seeds x", "--repeat 0", "--repeat", "--bogus",
			     "--dir /nonexistent-dir"};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *c = g_strdup_printf("%s/aureon-sim bench stack %s 2>/dev/null",
						     au_test_bin(), bad[i]);
		ck_assert_int_eq(au_test_run(c, &out), 2);
		free(out);
	}
}
END_TEST

/* The trace hash's SHA-256, hardware and portable, against GLib's over
 * lengths around every block boundary, fed in uneven pieces. */
START_TEST(sha256_matches_glib)
{
	static uint8_t data[1000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 131 + 7);
	for (int portable = 0; portable < 2; portable++) {
		au_sha256_force_portable(portable);
		for (size_t len = 0; len < sizeof(data); len += len < 200 ? 1 : 37) {
			struct au_sha256 s;
			au_sha256_init(&s);
			for (size_t off = 0, piece = 1; off < len; off += piece, piece = piece * 3 % 97 + 1)
				au_sha256_update(&s, data + off, piece < len - off ? piece : len - off);
			char got[65];
			au_sha256_hex(&s, got);
			g_autofree char *want = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
			ck_assert_msg(strcmp(got, want) == 0, "len %zu portable %d: %s != %s", len,
				      portable, got, want);
		}
	}
	au_sha256_force_portable(false);
}
END_TEST

/* core/sha256.c (used by the engine and the models): random buffers of
 * many lengths, up to several hundred blocks, hashed one-shot and in
 * random pieces on both paths, against GLib; and the models' digests
 * (au_kernel_digest over doubles) against GLib over their
 * little-endian bytes. */
START_TEST(sha256_random_buffers_match_glib)
{
	GRand *r = g_rand_new_with_seed(17);
	enum { MAX = 40000 };
	uint8_t *data = g_malloc(MAX);
	for (int round = 0; round < 300; round++) {
		size_t len = round < 130 ? (size_t)round : (size_t)g_rand_int_range(r, 0, MAX);
		for (size_t i = 0; i < len; i++)
			data[i] = (uint8_t)g_rand_int(r);
		g_autofree char *want = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
		uint8_t wantd[32];
		GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
		g_checksum_update(ck, data, len);
		gsize dl = sizeof(wantd);
		g_checksum_get_digest(ck, wantd, &dl);
		g_checksum_free(ck);
		for (int portable = 0; portable < 2; portable++) {
			au_sha256_force_portable(portable);
			uint8_t d[32];
			au_sha256(data, len, d);
			ck_assert_msg(memcmp(d, wantd, 32) == 0, "one-shot len %zu portable %d", len,
				      portable);
			struct au_sha256 s;
			au_sha256_init(&s);
			for (size_t off = 0; off < len;) {
				size_t piece = (size_t)g_rand_int_range(r, 0, 300);
				if (piece > len - off)
					piece = len - off;
				au_sha256_update(&s, data + off, piece);
				off += piece;
			}
			char got[65];
			au_sha256_hex(&s, got);
			ck_assert_msg(strcmp(got, want) == 0, "pieces len %zu portable %d", len, portable);
			/* au_kernel_digest: the doubles' little-endian bytes */
			size_t nd = len / 8;
			double *v = g_malloc(nd * sizeof(double) + 1);
			uint8_t *le = g_malloc(nd * 8 + 1);
			for (size_t i = 0; i < nd; i++) {
				uint64_t bits = 0;
				for (int b = 0; b < 8; b++)
					bits |= (uint64_t)data[8 * i + (size_t)b] << (8 * b);
				memcpy(&v[i], &bits, 8);
				for (int b = 0; b < 8; b++)
					le[8 * i + (size_t)b] = (uint8_t)(bits >> (8 * b));
			}
			g_autofree char *wantk = g_compute_checksum_for_data(G_CHECKSUM_SHA256, le, nd * 8);
			au_kernel_digest(v, nd, d);
			char hex[65];
			for (int i = 0; i < 32; i++)
				snprintf(hex + 2 * i, 3, "%02x", d[i]);
			ck_assert_msg(strcmp(hex, wantk) == 0, "kernel digest n %zu portable %d", nd,
				      portable);
			g_free(v);
			g_free(le);
		}
	}
	au_sha256_force_portable(false);
	g_free(data);
	g_rand_free(r);
}
END_TEST

/* ---- linearizable_kv in segments (check_lin.c) ---- */

static struct au_sim *lin_sim(struct au_scenario **sc, void **state)
{
	*sc = au_test_load_text("lin.ini", "[run]\nduration = 1s\n[cluster]\nnodes = 3\n"
					  "services = raft,kv\n[workload]\nkv_clients = 2\nkv_keys = 1\n");
	struct au_sim *sim = au_sim_new(*sc, 1);
	*state = au_check_state(sim, "linearizable_kv");
	ck_assert_ptr_nonnull(*state);
	return sim;
}

static void row(void *st, uint32_t client, uint8_t op, int64_t key, int64_t value, int64_t call,
		int64_t ret, uint64_t *rec)
{
	struct au_kv_history_row r = {0};
	r.client = client;
	r.op = op;
	r.key = key;
	r.value = value;
	r.call_ns = call;
	r.return_ns = ret;
	r.outcome = AU_KV_OK;
	au_lin_check_row(st, &r, (*rec)++, 1);
}

/* Two clients on key 7, rows in return order.  Odd rounds: PUT i, then
 * GET i (with `stale` == i: the value before).  Even rounds: two
 * concurrent PUTs, -i and i, whose last in every order is not known —
 * a GET reads -i, so i came first — then PUT i, GET i; both clients touch
 * key 8 in between, so a cut could fall right after the pair (where a
 * wrong carried value would turn the GET of -i into a false violation). */
static const struct au_violation *run_history(int stale, char *note, size_t len)
{
	struct au_scenario *sc;
	void *st;
	struct au_sim *sim = lin_sim(&sc, &st);
	uint64_t rec = 0;
	for (int i = 1; i <= 600; i++) {
		int64_t t = (int64_t)i * 100;
		if (i % 2) {
			row(st, 101, AU_KV_PUT, 7, i, t, t + 10, &rec);
			row(st, 102, AU_KV_GET, 7, i == stale ? i - 1 : i, t + 85, t + 95, &rec);
			continue;
		}
		row(st, 101, AU_KV_PUT, 7, i, t + 20, t + 30, &rec);
		row(st, 102, AU_KV_PUT, 7, -i, t + 5, t + 40, &rec);
		row(st, 101, AU_KV_GET, 8, 0, t + 41, t + 45, &rec);
		row(st, 102, AU_KV_GET, 8, 0, t + 42, t + 48, &rec);
		row(st, 102, AU_KV_GET, 7, -i, t + 50, t + 60, &rec);
		row(st, 101, AU_KV_PUT, 7, i, t + 70, t + 80, &rec);
		row(st, 102, AU_KV_GET, 7, i, t + 85, t + 95, &rec);
	}
	au_lin_check_note(st, sim, note, len);
	/* The rows were fed by hand, the engine never ran: judge at the end
	 * of the run's second, after every operation (a violation is placed
	 * at its operations, never after the checker's judgement). */
	sim->now = AU_NS_PER_S;
	au_sim_finish(sim);
	static struct au_violation v;
	const struct au_violation *got = au_sim_violation(sim);
	if (got)
		v = *got;
	au_sim_free(sim);
	au_scenario_free(sc);
	return got ? &v : NULL;
}

START_TEST(lin_segments_release_and_keep_the_verdict)
{
	char note[256];
	const struct au_violation *bad = run_history(0, note, sizeof(note));
	ck_assert_msg(!bad, "%s", bad ? bad->detail : "");
	/* most of the 2,700 operations went during the run */
	unsigned long long ops, released, segs;
	ck_assert_int_eq(sscanf(note, "%llu operations; %llu checked and released during the run in %llu",
				&ops, &released, &segs), 3);
	ck_assert_msg(ops == 2700, "%s", note);
	ck_assert_msg(released > 2000, "%s", note);
	ck_assert_uint_gt(segs, 10);
	/* a stale read early (in a released segment) and late (in what remains) */
	int stales[] = {31, 599};
	for (size_t i = 0; i < G_N_ELEMENTS(stales); i++) {
		const struct au_violation *v = run_history(stales[i], note, sizeof(note));
		ck_assert_ptr_nonnull(v);
		ck_assert_str_eq(v->check, "linearizable_kv");
		ck_assert_msg(strstr(v->detail, "key 7:"), "%s", v->detail);
	}
}
END_TEST

Suite *speed_suite(void)
{
	Suite *s = suite_create("speed");
	TCase *tc = tcase_create("shared inputs");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, shared_input_is_built_once_and_equals_a_private_build);
	tcase_add_test(tc, shared_input_refuses_a_key_that_is_not_the_digest);
	tcase_add_test(tc, no_shared_input_builds_a_private_copy);
	tcase_add_test(tc, rqml_run_shares_inputs_and_is_deterministic);
	tcase_add_test(tc, sha256_matches_glib);
	tcase_add_test(tc, sha256_random_buffers_match_glib);
	tcase_add_test(tc, lin_segments_release_and_keep_the_verdict);
	suite_add_tcase(s, tc);
	TCase *bench = tcase_create("bench stack");
	tcase_set_timeout(bench, 120);
	tcase_add_test(bench, bench_stack_reports_every_line);
	suite_add_tcase(s, bench);
	return s;
}
