/* test_results.c — the blob store behind ONE's digests (models/blob.c):
 * placement, synthetic jobs, the wire codec, the results_retrievable check
 * (passing, and failing when it should), determinism. */
#include <check.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "one.h"
#include "scenario_runs.h"
#include "tests.h"

static void sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(ck, p, n);
	gsize dl = 32;
	g_checksum_get_digest(ck, out, &dl);
	g_checksum_free(ck);
}

START_TEST(holders_are_distinct_stable_and_capped)
{
	uint8_t d[32] = {1, 2, 3}, e[32] = {9, 9, 9};
	au_node_id h[8], h2[8], all[8];
	ck_assert_uint_eq(au_blob_holders(d, 5, 3, h), 3);
	ck_assert_uint_eq(au_blob_holders(d, 5, 3, h2), 3);
	ck_assert_mem_eq(h, h2, sizeof(au_node_id) * 3);
	ck_assert(h[0] != h[1] && h[1] != h[2] && h[0] != h[2]);
	for (int i = 0; i < 3; i++)
		ck_assert(h[i] >= 1 && h[i] <= 5);
	/* k above the cluster size is capped; the full ranking starts with the holders */
	ck_assert_uint_eq(au_blob_holders(d, 5, 9, all), 5);
	ck_assert_mem_eq(all, h, sizeof(au_node_id) * 3);
	/* another digest goes elsewhere for some k = 1 placement among 64 digests */
	bool moved = false;
	for (int i = 0; i < 64 && !moved; i++) {
		e[5] = (uint8_t)i;
		au_node_id x;
		au_blob_holders(e, 5, 1, &x);
		moved = x != h[0];
	}
	ck_assert(moved);
}
END_TEST

START_TEST(synthetic_bytes_are_a_function_of_job_and_seed)
{
	uint8_t a[103], b[103], c[103];
	au_blob_synth_bytes(7, 1, a, sizeof(a));
	au_blob_synth_bytes(7, 1, b, sizeof(b));
	ck_assert_mem_eq(a, b, sizeof(a));
	au_blob_synth_bytes(7, 2, c, sizeof(c));
	ck_assert(memcmp(a, c, sizeof(a)) != 0);
	au_blob_synth_bytes(8, 1, c, sizeof(c));
	ck_assert(memcmp(a, c, sizeof(a)) != 0);
	/* a prefix of a longer stream */
	uint8_t d[64];
	au_blob_synth_bytes(7, 1, d, sizeof(d));
	ck_assert_mem_eq(a, d, sizeof(d));
}
END_TEST

START_TEST(one_records_a_synthetic_job_once)
{
	struct au_one *o = au_one_new();
	uint8_t cmd[64];
	size_t n = au_one_encode_synth(42, 100000, 5, cmd, sizeof(cmd));
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(au_one_apply(o, 3, cmd, n), AU_ONE_STORED);
	const struct au_one_record *r = au_one_get(o, 42);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->kind, AU_ONE_KIND_SYNTHETIC);
	uint8_t *bytes = malloc(100000), d[32];
	au_blob_synth_bytes(42, 5, bytes, 100000);
	sha256(bytes, 100000, d);
	free(bytes);
	ck_assert_mem_eq(r->digest, d, 32);
	ck_assert_int_eq(au_one_apply(o, 4, cmd, n), AU_ONE_DUPLICATE);
	/* bad sizes are refused by the encoder and by apply */
	ck_assert_uint_eq(au_one_encode_synth(43, 0, 5, cmd, sizeof(cmd)), 0);
	ck_assert_uint_eq(au_one_encode_synth(43, AU_BLOB_SYNTH_MAX + 1, 5, cmd, sizeof(cmd)), 0);
	ck_assert_uint_eq(au_one_encode_synth(0, 10, 5, cmd, sizeof(cmd)), 0);
	n = au_one_encode_synth(43, 10, 5, cmd, sizeof(cmd));
	cmd[9] = 0, cmd[10] = 0, cmd[11] = 0, cmd[12] = 0; /* size 0 */
	ck_assert_int_eq(au_one_apply(o, 5, cmd, n), AU_ONE_MALFORMED);
	ck_assert_int_eq(au_one_apply(o, 6, cmd, n - 1), AU_ONE_MALFORMED);
	ck_assert_uint_eq(au_one_count(o), 1);
	/* snapshots carry the record */
	uint8_t *snap = NULL;
	size_t sl = au_one_snapshot(o, &snap);
	struct au_one *o2 = au_one_new();
	ck_assert(au_one_restore(o2, snap, sl));
	ck_assert_mem_eq(au_one_get(o2, 42)->digest, d, 32);
	g_free(snap);
	au_one_free(o2);
	au_one_free(o);
}
END_TEST

START_TEST(wire_codec_round_trips_and_rejects_damage)
{
	uint8_t m[128];
	size_t n = au_blob_encode_synth(9, 77, 4096, 3, m, sizeof(m));
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(au_blob_encode_synth(9, 77, 4096, 3, m, 10), 0);
	ck_assert_uint_gt(au_blob_encode_get(1, 2, 3, m, sizeof(m)), 0);
	/* a CHUNK never decodes from another message type, nor damaged */
	struct au_blob_chunk c;
	ck_assert(!au_blob_decode_chunk(m, n, &c));
	uint64_t req;
	uint8_t st;
	au_node_id leader;
	ck_assert(!au_blob_decode_synth_ack(m, n, &req, &st, &leader));
	ck_assert(!au_blob_decode_chunk(m, 0, &c));
}
END_TEST

START_TEST(one_results_scenario_passes_and_fetches_everything)
{
	struct au_scenario *sc = au_test_load("scenarios/one-results.ini");
	char *buf = NULL;
	size_t len = 0;
	FILE *dump = open_memstream(&buf, &len);
	char hash[65], again[65];
	au_test_run_passes(sc, 1, "one-results", dump, hash, NULL);
	fclose(dump);
	/* three fetches, all good, and at least one GET to a node while it was down */
	int ok = 0;
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
		if (strstr(l, " BLOB_FETCH 100") && strstr(l, " 0 "))
			ok++;
	ck_assert_int_eq(ok, 3);
	free(buf);
	au_test_run_passes(sc, 1, "one-results again", NULL, again, NULL);
	ck_assert_str_eq(hash, again);
	au_test_run_passes(sc, 2, "one-results seed 2", NULL, NULL, NULL);
	au_scenario_free(sc);
	const char *paths[] = {"scenarios/one-results.ini"};
	au_test_same_hash_at_O0(paths, 1, 1, true);
}
END_TEST

/* A scenario whose only holder of job 1001's result is crashed for good. */
START_TEST(results_retrievable_is_not_vacuous)
{
	uint32_t size = 65536;
	uint8_t *bytes = malloc(size), d[32];
	au_blob_synth_bytes(1001, 0x5eed, bytes, size);
	sha256(bytes, size, d);
	free(bytes);
	au_node_id holder;
	au_blob_holders(d, 3, 1, &holder);
	char *text = g_strdup_printf("[run]\nduration = 6s\n[cluster]\nnodes = 3\nservices = raft,blob,one\n"
				     "[blob]\nreplicas = 1\nsynthetic = 1\nsynthetic_size = %u\n"
				     "[fault.gone]\nat = 4s\naction = crash\ntarget = n%u\n"
				     "[check]\ninvariants = results_retrievable\n",
				     size, holder);
	struct au_scenario *sc = au_test_load_text("gone.ini", text);
	struct au_sim *sim = au_sim_new(sc, 1);
	if (au_sim_run(sim, sc->duration) == 0)
		au_sim_finish(sim);
	const struct au_violation *v = au_sim_violation(sim);
	ck_assert_ptr_nonnull(v);
	ck_assert_msg(strstr(v->detail, "job 1001 has a ONE record but no live node keeps bytes"), "%s",
		      v->detail);
	au_sim_free(sim);
	au_scenario_free(sc);
	g_free(text);
}
END_TEST

START_TEST(bad_blob_keys_are_named)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"<x>", "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft,blob,one\n[blob]\nreplicas = 4\n",
		&err);
	ck_assert_ptr_null(sc);
	ck_assert_msg(strstr(err, "replicas") && strstr(err, "3 nodes"), "%s", err);
	g_free(err);
	sc = au_scenario_load_text("<x>",
				   "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft,blob,one\n"
				   "[blob]\nsynthetic_size = 0\n",
				   &err);
	ck_assert_ptr_null(sc);
	ck_assert_msg(strstr(err, "synthetic_size"), "%s", err);
	g_free(err);
	sc = au_scenario_load_text(
		"<x>", "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = blob,raft,one\n", &err);
	ck_assert_ptr_null(sc);
	ck_assert_msg(strstr(err, "blob needs raft"), "%s", err);
	g_free(err);
}
END_TEST

Suite *results_suite(void)
{
	Suite *s = suite_create("results");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, holders_are_distinct_stable_and_capped);
	tcase_add_test(tc, synthetic_bytes_are_a_function_of_job_and_seed);
	tcase_add_test(tc, one_records_a_synthetic_job_once);
	tcase_add_test(tc, wire_codec_round_trips_and_rejects_damage);
	tcase_add_test(tc, bad_blob_keys_are_named);
	suite_add_tcase(s, tc);
	TCase *tr = tcase_create("runs");
	tcase_set_timeout(tr, 120);
	tcase_add_test(tr, one_results_scenario_passes_and_fetches_everything);
	tcase_add_test(tr, results_retrievable_is_not_vacuous);
	suite_add_tcase(s, tr);
	return s;
}
