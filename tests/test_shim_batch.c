/* test_shim_batch.c — aureon-ctl batch and load on three real processes
 * (127.0.0.1): results in input order, per-key order kept under
 * pipelining, per-line errors with line numbers and exit codes, load's
 * report and the values it wrote, and both commands against a dead
 * cluster.  Correctness only: no speed is asserted (bench/ctl_load.sh
 * measures that). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim_cluster.h"
#include "tests.h"

/* aureon-ctl ARGS < the text in DIR/NAME; exit code, stdout in *out and
 * stderr in *err (caller frees both). */
static int ctl_stdin(struct cluster_run *r, const char *name, const char *input, const char *args, char **out,
		     char **err)
{
	g_autofree char *in = g_build_filename(r->dir, name, NULL);
	g_autofree char *errf = g_strdup_printf("%s.err", in);
	write_text(in, input, 0644);
	g_autofree char *cmd = g_strdup_printf("%s < %s 2> %s", args, in, errf);
	int rc = ctl(r, cmd, out);
	ck_assert(g_file_get_contents(errf, err, NULL, NULL));
	return rc;
}

START_TEST(batch_and_load_on_loopback)
{
	struct cluster_run *r = start_cluster("raft,kv", "");
	char *out = NULL, *err = NULL;
	ck_assert_msg(ctl(r, "--timeout 10s wait-leader 2>&1", &out) == 0, "%s (logs in %s)", out, r->dir);
	g_free(out);

	/* Every command kind, comments, blank lines and three bad lines: one
	 * result line per command in input order; exit 2 for the bad lines. */
	const char *script = "# a comment\n"
			     "put 1 10\n"
			     "get 1\n"
			     "\n"
			     "cas 1 10 11   # swaps\n"
			     "cas 1 10 12\n"
			     "get 1\n"
			     "pt 3 4\n"
			     "put 2\n"
			     "  del 1\n"
			     "get 1\n"
			     "put 3 x\n"
			     "put -5 -7\n"
			     "get -5\n";
	int rc = ctl_stdin(r, "script.txt", script, "batch", &out, &err);
	ck_assert_msg(rc == 2, "exit %d: %s / %s", rc, out, err);
	ck_assert_str_eq(out, "ok\n10\nok\nfailed: 1 holds 11\n11\n"
			      "error line 8: unknown command 'pt' (batch takes put, get, del, cas)\n"
			      "error line 9: put takes 2 arguments (put KEY VALUE)\n"
			      "ok\n0\n"
			      "error line 12: 'x' is not a signed 64-bit integer (put KEY VALUE)\n"
			      "ok\n-7\n");
	ck_assert_msg(strstr(err, "aureon-ctl: batch line 8: unknown command 'pt'") &&
			      strstr(err, "aureon-ctl: batch line 12: ") &&
			      strstr(err, "12 commands in ") && strstr(err, "8 ok, 1 cas failed, 3 bad lines, 0 unavailable"),
		      "%s", err);
	g_free(out);
	g_free(err);

	/* No bad line, one failed cas: exit 1. */
	rc = ctl_stdin(r, "cas.txt", "put 7 1\ncas 7 2 3\n", "batch", &out, &err);
	ck_assert_msg(rc == 1 && strcmp(out, "ok\nfailed: 7 holds 1\n") == 0, "exit %d: %s %s", rc, out, err);
	g_free(out);
	g_free(err);

	/* Per-key order under pipelining: 40 keys written 25 times each,
	 * interleaved, with reads between; each read sees the write just
	 * before it in the input, and the last write of each key stays. */
	GString *in = g_string_new(NULL), *want = g_string_new(NULL);
	for (int round = 0; round < 25; round++)
		for (int k = 100; k < 140; k++) {
			g_string_append_printf(in, "put %d %d\n", k, round * 1000 + k);
			g_string_append(want, "ok\n");
			if (round % 8 == 3) {
				g_string_append_printf(in, "get %d\n", k);
				g_string_append_printf(want, "%d\n", round * 1000 + k);
			}
		}
	rc = ctl_stdin(r, "order.txt", in->str, "--window 32 batch", &out, &err);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_msg(strcmp(out, want->str) == 0, "batch output differs from the sequential one (logs in %s)",
		      r->dir);
	g_free(out);
	g_free(err);
	ck_assert_msg(ctl(r, "get 139", &out) == 0 && strcmp(out, "24139\n") == 0, "%s", out);
	g_free(out);
	g_string_free(in, TRUE);
	g_string_free(want, TRUE);

	/* load: every write acknowledged, a sane report, and each key holds
	 * the value its write carried (its number in the low 24 bits). */
	rc = ctl(r, "load --writes 1500 --keys 1500 --concurrency 48 --json 2>&1", &out);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "\"writes\": 1500, \"acknowledged\": 1500, \"unavailable\": 0, \"keys\": 1500, "
				  "\"concurrency\": 48"),
		      "%s", out);
	double p50 = g_ascii_strtod(strstr(out, "\"p50\": ") + 7, NULL);
	double p90 = g_ascii_strtod(strstr(out, "\"p90\": ") + 7, NULL);
	double p99 = g_ascii_strtod(strstr(out, "\"p99\": ") + 7, NULL);
	double mx = g_ascii_strtod(strstr(out, "\"max\": ") + 7, NULL);
	double rate = g_ascii_strtod(strstr(out, "\"writes_per_second\": ") + 21, NULL);
	ck_assert_msg(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= mx && rate > 0, "%s", out);
	g_free(out);
	GString *gets = g_string_new(NULL);
	for (int k = 0; k < 1500; k++)
		g_string_append_printf(gets, "get %d\n", k);
	rc = ctl_stdin(r, "gets.txt", gets->str, "batch", &out, &err);
	ck_assert_msg(rc == 0, "%s", err);
	g_string_free(gets, TRUE);
	g_auto(GStrv) vals = g_strsplit(out, "\n", -1);
	ck_assert_int_eq(g_strv_length(vals), 1501);
	for (int k = 0; k < 1500; k++) {
		int64_t v = g_ascii_strtoll(vals[k], NULL, 10);
		ck_assert_msg((v & 0xffffff) == k && v != k, "key %d holds %s", k, vals[k]);
	}
	g_free(out);
	g_free(err);
	/* The human-readable report. */
	ck_assert_msg(ctl(r, "load --writes 200 2>&1", &out) == 0, "%s", out);
	ck_assert_msg(g_str_has_prefix(out, "load: 200 of 200 writes acknowledged in ") &&
			      strstr(out, "over 1000 keys, concurrency 64: ") && strstr(out, " writes/s; latency p50 ") &&
			      strstr(out, ", max "),
		      "%s", out);
	g_free(out);

	/* Usage errors: exit 2, nothing sent. */
	static const char *const bad[] = {"load", "load --writes 0", "load --writes 5 --concurrency 0",
					  "load --writes 5 --concurrency 5000", "load --writes 5 extra",
					  "batch extra", "--writes 5 batch", "load --keys x --writes 5"};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *args = g_strdup_printf("%s 2>&1 < /dev/null", bad[i]);
		ck_assert_msg(ctl(r, args, &out) == 2, "%s: %s", bad[i], out);
		g_free(out);
	}

	/* A dead cluster: every line unavailable (exit 3, the line named),
	 * and load says how many writes were not acknowledged. */
	for (int i = 1; i <= 3; i++)
		kill_node(r, i, SIGKILL);
	rc = ctl_stdin(r, "dead.txt", "put 1 1\nget 1\n", "--timeout 600ms batch", &out, &err);
	ck_assert_msg(rc == 3, "exit %d: %s", rc, out);
	ck_assert_msg(g_str_has_prefix(out, "error line 1: no acknowledgement within the timeout; the write may or "
					    "may not have been applied") &&
			      strstr(out, "\nerror line 2: no leader answered within the timeout"),
		      "%s", out);
	g_free(out);
	g_free(err);
	ck_assert_msg(ctl(r, "--timeout 500ms load --writes 10 2>&1", &out) == 3, "%s", out);
	ck_assert_msg(strstr(out, "load: 0 of 10 writes acknowledged") && strstr(out, "10 writes not acknowledged"),
		      "%s", out);
	g_free(out);
	cluster_teardown();
}
END_TEST

Suite *shim_batch_suite(void)
{
	Suite *s = suite_create("shim_batch");
	TCase *procs = tcase_create("processes");
	tcase_set_timeout(procs, 90);
	tcase_add_unchecked_fixture(procs, NULL, cluster_teardown);
	tcase_add_test(procs, batch_and_load_on_loopback);
	suite_add_tcase(s, procs);
	return s;
}
