/* test_results.c — the blob store behind ONE's digests (models/blob.c):
 * placement, synthetic jobs, the wire codec, the results_retrievable check
 * (passing, and failing when it should), determinism. */
#include <check.h>
#include <gio/gio.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob.h"
#include "one.h"
#include "scenario_runs.h"
#include "shim_cluster.h"
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

/* RQML's replicas keep the result vectors they finish: fetched and checked. */
START_TEST(rqml_results_are_retrievable)
{
	au_test_scenario_passes("scenarios/one-results-rqml.ini", 1);
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

/* ---- real processes on 127.0.0.1 ---------------------------------------------- */

#define BIG (16u << 20)

static pid_t node_pid[4];
static char *proc_dir;

/* shim_cluster.c's free_port: never the same port twice in a run. */
static uint16_t free_udp_port(void)
{
	return free_port(G_SOCKET_TYPE_DATAGRAM);
}

static void stop_node(int i)
{
	if (node_pid[i] > 0) {
		kill(node_pid[i], SIGKILL);
		waitpid(node_pid[i], NULL, 0);
		node_pid[i] = 0;
	}
}

static void procs_teardown(void)
{
	for (int i = 1; i <= 3; i++)
		stop_node(i);
	if (proc_dir && !getenv("AU_KEEP_SHIM_DIR")) {
		g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", proc_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", proc_dir);
	}
	g_free(proc_dir);
	proc_dir = NULL;
}

static void start_nodes(const char *ini)
{
	for (int i = 1; i <= 3; i++) {
		g_autofree char *id = g_strdup_printf("n%d", i);
		g_autofree char *data = g_strdup_printf("%s/data-n%d", proc_dir, i);
		g_autofree char *log = g_strdup_printf("%s/n%d.log", proc_dir, i);
		g_autofree char *bin = g_strdup_printf("%s/aureon-node", au_test_bin());
		pid_t parent = getpid();
		pid_t pid = fork();
		ck_assert(pid >= 0);
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			FILE *f = freopen(log, "a", stdout);
			if (f)
				dup2(fileno(f), 2);
			execl(bin, bin, "--config", ini, "--id", id, "--data", data, "--seed", "42", (char *)NULL);
			_exit(127);
		}
		node_pid[i] = pid;
	}
}

static int ctl_run(const char *ini, const char *args, char **out)
{
	g_autofree char *cmd = g_strdup_printf("%s/aureon-ctl --config %s %s 2>&1", au_test_bin(), ini, args);
	return au_test_run(cmd, out);
}

static void file_sha256(const char *path, uint8_t out[32], gsize *len)
{
	gchar *data = NULL;
	ck_assert(g_file_get_contents(path, &data, len, NULL));
	sha256((const uint8_t *)data, *len, out);
	g_free(data);
}

/* The "done when" for results: a 16 MiB result fetched with its
 * digest compared, an existing file refused, and the node serving the
 * fetch killed mid-way (it is also the leader when it is n1). */
START_TEST(result_get_on_loopback_survives_a_killed_holder)
{
	char tmpl[] = "/tmp/aureon-results-XXXXXX";
	ck_assert(mkdtemp(tmpl));
	proc_dir = g_strdup(tmpl);
	GString *ini = g_string_new("[cluster]\nnodes = 3\nservices = raft,blob,one\n"
				    "[raft]\nelection_timeout = 150ms..300ms\nheartbeat = 50ms\n[hosts]\n");
	for (int i = 1; i <= 3; i++)
		g_string_append_printf(ini, "n%d = 127.0.0.1:%u\n", i, free_udp_port());
	g_string_append(ini, "[auth]\nkey_file = cluster.key\n");
	g_autofree char *key = g_build_filename(proc_dir, "cluster.key", NULL);
	g_autofree char *path = g_build_filename(proc_dir, "cluster.ini", NULL);
	ck_assert(g_file_set_contents(key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
				      -1, NULL));
	chmod(key, 0600);
	ck_assert(g_file_set_contents(path, ini->str, -1, NULL));
	g_string_free(ini, TRUE);
	start_nodes(path);

	/* What ONE must record: the SHA-256 of job 7's bytes (seed 1). */
	uint8_t *bytes = malloc(BIG), want[32], got[32];
	au_blob_synth_bytes(7, 1, bytes, BIG);
	sha256(bytes, BIG, want);
	free(bytes);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", want[i]);

	char *out = NULL;
	int rc = ctl_run(path, "--timeout 30s result make 7 16777216", &out);
	ck_assert_msg(rc == 0, "result make: %d: %s (logs in %s)", rc, out, proc_dir);
	g_free(out);

	g_autofree char *f1 = g_build_filename(proc_dir, "r1.bin", NULL);
	g_autofree char *a1 = g_strdup_printf("--timeout 30s result get 7 --out %s", f1);
	rc = ctl_run(path, a1, &out);
	ck_assert_msg(rc == 0 && strstr(out, hex), "result get: %d: %s", rc, out);
	g_free(out);
	gsize len;
	file_sha256(f1, got, &len);
	ck_assert_uint_eq(len, BIG);
	ck_assert_mem_eq(got, want, 32);

	/* An existing file is refused, and replaced with --force. */
	rc = ctl_run(path, a1, &out);
	ck_assert_msg(rc == 2 && strstr(out, "exists; use --force"), "%d: %s", rc, out);
	g_free(out);
	g_autofree char *a1f = g_strdup_printf("%s --force", a1);
	rc = ctl_run(path, a1f, &out);
	ck_assert_msg(rc == 0, "%d: %s", rc, out);
	g_free(out);
	/* Bad arguments: usage, exit 2. */
	rc = ctl_run(path, "result get x --out /dev/null", &out);
	ck_assert_msg(rc == 2 && strstr(out, "JOB"), "%d: %s", rc, out);
	g_free(out);
	rc = ctl_run(path, "result make 8 999999999999", &out);
	ck_assert_msg(rc == 2 && strstr(out, "SIZE"), "%d: %s", rc, out);
	g_free(out);

	/* Kill the node the fetch starts from once a MiB has arrived. */
	au_node_id order[3];
	au_blob_holders(want, 3, 3, order);
	g_autofree char *f2 = g_build_filename(proc_dir, "r2.bin", NULL);
	g_autofree char *log = g_build_filename(proc_dir, "ctl2.log", NULL);
	g_autofree char *bin = g_strdup_printf("%s/aureon-ctl", au_test_bin());
	pid_t ctl = fork();
	ck_assert(ctl >= 0);
	if (ctl == 0) {
		FILE *f = freopen(log, "w", stdout);
		if (f)
			dup2(fileno(f), 2);
		execl(bin, bin, "--config", path, "--timeout", "60s", "result", "get", "7", "--out", f2,
		      (char *)NULL);
		_exit(127);
	}
	g_autofree char *part = g_strdup_printf("%s.part-%d", f2, (int)ctl);
	struct stat st;
	bool killed = false;
	for (int t = 0; t < 3000 && !killed; t++) {
		if (stat(part, &st) == 0 && st.st_size >= (1 << 20)) {
			stop_node((int)order[0]);
			killed = true;
		}
		if (waitpid(ctl, NULL, WNOHANG) == ctl)
			ck_abort_msg("the fetch ended before a MiB was seen");
		g_usleep(1000);
	}
	ck_assert_msg(killed, "no MiB within 3 s");
	int status;
	waitpid(ctl, &status, 0);
	gchar *text = NULL;
	g_file_get_contents(log, &text, NULL, NULL);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fetch after killing n%u: %s", order[0],
		      text);
	/* chunks came from the killed node and from another one */
	g_autofree char *killed_name = g_strdup_printf("n%u", order[0]);
	ck_assert_msg(strstr(text, "from ") && strchr(strstr(text, "from "), ','), "%s", text);
	fprintf(stderr, "results: after killing %s mid-fetch: %s", killed_name, text);
	g_free(text);
	file_sha256(f2, got, &len);
	ck_assert_uint_eq(len, BIG);
	ck_assert_mem_eq(got, want, 32);
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
	tcase_add_test(tr, rqml_results_are_retrievable);
	suite_add_tcase(s, tr);
	TCase *procs = tcase_create("processes");
	tcase_set_timeout(procs, 180);
	tcase_add_unchecked_fixture(procs, NULL, procs_teardown);
	tcase_add_test(procs, result_get_on_loopback_survives_a_killed_holder);
	suite_add_tcase(s, procs);
	return s;
}
