/* test_trace.c — HDF5 trace files: byte-identical for identical runs,
 * parseable by h5dump, sampling that leaves the hash alone, and every
 * trace-path problem reported (exit 2) before the run starts. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests.h"

static int sim(const char *args, char **out)
{
	g_autofree char *cmd = g_strdup_printf("%s/aureon-sim %s", au_test_bin(), args);
	return au_test_run(cmd, out);
}

static char *tmp_path(const char *name)
{
	return g_strdup_printf("/tmp/aureon-test-%d-%s", (int)getpid(), name);
}

START_TEST(identical_runs_identical_files)
{
	g_autofree char *a = tmp_path("a.h5"), *b = tmp_path("b.h5");
	g_autofree char *ra = g_strdup_printf("run scenarios/ping.ini --json --trace %s --force", a);
	g_autofree char *rb = g_strdup_printf("run scenarios/ping.ini --json --trace %s --force", b);
	char *oa = NULL, *ob = NULL;
	ck_assert_int_eq(sim(ra, &oa), 0);
	ck_assert_int_eq(sim(rb, &ob), 0);
	g_autofree char *cmp = g_strdup_printf("cmp -s %s %s", a, b);
	ck_assert_msg(au_test_run(cmp, NULL) == 0, "two runs wrote different bytes");
	/* The file's trace_hash attribute is the printed hash. */
	g_autofree char *ha = au_test_json_hash(oa);
	g_autofree char *dump = g_strdup_printf("h5dump -a /trace_hash %s", a);
	char *d = NULL;
	ck_assert_int_eq(au_test_run(dump, &d), 0);
	ck_assert_msg(strstr(d, ha), "trace_hash attribute differs from %s", ha);
	g_free(d);
	/* h5dump parses the whole header (enums, compound types). */
	g_autofree char *hdr = g_strdup_printf("h5dump -H %s", a);
	ck_assert_int_eq(au_test_run(hdr, &d), 0);
	ck_assert(strstr(d, "DATASET \"events\"") && strstr(d, "DATASET \"messages\"") &&
		  strstr(d, "DATASET \"ping\"") && strstr(d, "\"PING_RTT\"") &&
		  strstr(d, "\"partitioned\""));
	g_free(d);
	g_free(oa);
	g_free(ob);
	unlink(a);
	unlink(b);
}
END_TEST

START_TEST(tracing_does_not_change_the_hash)
{
	g_autofree char *a = tmp_path("c.h5");
	g_autofree char *args = g_strdup_printf("run scenarios/ping.ini --json --trace %s --force", a);
	char *with = NULL, *without = NULL;
	ck_assert_int_eq(sim(args, &with), 0);
	ck_assert_int_eq(sim("run scenarios/ping.ini --json", &without), 0);
	g_autofree char *h1 = au_test_json_hash(with), *h2 = au_test_json_hash(without);
	ck_assert_str_eq(h1, h2);
	g_free(with);
	g_free(without);
	unlink(a);
}
END_TEST

START_TEST(sampling_and_table_choice)
{
	/* 1-in-10 message sampling writes a tenth of the messages but hashes
	 * them all; tables = events drops the other datasets. */
	g_autofree char *sc = tmp_path("s.ini"), *h = tmp_path("s.h5"), *full = tmp_path("f.h5");
	g_autofree char *text = NULL;
	ck_assert(g_file_get_contents("scenarios/ping.ini", &text, NULL, NULL));
	g_autofree char *sampled = g_strconcat(text, "\n[trace]\nmessages = 1/10\n", NULL);
	ck_assert(g_file_set_contents(sc, sampled, -1, NULL));
	g_autofree char *a1 = g_strdup_printf("run %s --json --trace %s --force", sc, h);
	g_autofree char *a2 = g_strdup_printf("run scenarios/ping.ini --json --trace %s --force", full);
	char *o1 = NULL, *o2 = NULL;
	ck_assert_int_eq(sim(a1, &o1), 0);
	ck_assert_int_eq(sim(a2, &o2), 0);
	g_autofree char *h1 = au_test_json_hash(o1), *h2 = au_test_json_hash(o2);
	ck_assert_str_eq(h1, h2);
	g_autofree char *q1 = g_strdup_printf("h5ls %s/messages | grep -o '{[0-9]*'", h);
	g_autofree char *q2 = g_strdup_printf("h5ls %s/messages | grep -o '{[0-9]*'", full);
	char *n1 = NULL, *n2 = NULL;
	au_test_run(q1, &n1);
	au_test_run(q2, &n2);
	long m1 = strtol(n1 + 1, NULL, 10), m2 = strtol(n2 + 1, NULL, 10);
	ck_assert_msg(m2 > 1000 && m1 == (m2 + 9) / 10, "sampled %ld of %ld", m1, m2);
	g_free(n1);
	g_free(n2);
	g_autofree char *only = g_strconcat(text, "\n[trace]\ntables = events\n", NULL);
	ck_assert(g_file_set_contents(sc, only, -1, NULL));
	char *o3 = NULL;
	ck_assert_int_eq(sim(a1, &o3), 0);
	g_autofree char *q3 = g_strdup_printf("h5dump -H %s", h);
	char *d = NULL;
	ck_assert_int_eq(au_test_run(q3, &d), 0);
	ck_assert(strstr(d, "\"events\"") && !strstr(d, "DATASET \"messages\"") &&
		  !strstr(d, "DATASET \"ping\""));
	g_free(d);
	g_free(o1);
	g_free(o2);
	g_free(o3);
	unlink(sc);
	unlink(h);
	unlink(full);
}
END_TEST

START_TEST(path_errors_before_the_run)
{
	g_autofree char *existing = tmp_path("exists.h5");
	ck_assert(g_file_set_contents(existing, "x", 1, NULL));
	struct {
		const char *path, *want;
	} cases[] = {
		{existing, "exists (pass --force"},
		{"/nonexistent-dir/x.h5", "does not exist"},
		{"/dev/full", "not a regular file"},
		{"/tmp", "is a directory"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *args = g_strdup_printf("run scenarios/ping.ini --trace %s 2>&1", cases[i].path);
		char *out = NULL;
		ck_assert_int_eq(sim(args, &out), 2);
		ck_assert_msg(strstr(out, cases[i].want), "%s: %s", cases[i].path, out);
		/* before the run: no summary was printed */
		ck_assert_msg(!strstr(out, "trace hash"), "%s: the run started", cases[i].path);
		g_free(out);
	}
	/* the existing file was left alone */
	g_autofree char *content = NULL;
	ck_assert(g_file_get_contents(existing, &content, NULL, NULL));
	ck_assert_str_eq(content, "x");
	unlink(existing);
	ck_assert_int_eq(sim("run scenarios/ping.ini --trace 2>/dev/null", NULL), 2);
}
END_TEST

START_TEST(write_failure_mid_run_exits_2_and_removes_the_file)
{
	/* A file-size limit stands in for a disk that fills up during the run. */
	g_autofree char *h = tmp_path("full.h5");
	g_autofree char *cmd = g_strdup_printf(
		"sh -c \"trap '' XFSZ; ulimit -f 40; %s/aureon-sim run scenarios/ping-1000.ini "
		"--until 20s --trace %s --force 2>&1\"", au_test_bin(), h);
	char *out = NULL;
	ck_assert_int_eq(au_test_run(cmd, &out), 2);
	ck_assert_msg(strstr(out, "failed") && strstr(out, "removed"), "%s", out);
	ck_assert(!g_file_test(h, G_FILE_TEST_EXISTS));
	g_free(out);
}
END_TEST

START_TEST(trace_group_errors)
{
	static const struct {
		const char *extra, *want;
	} cases[] = {
		{"[trace]\nmessages = some\n", "[trace] messages"},
		{"[trace]\nmessages = 1/0\n", "[trace] messages"},
		{"[trace]\ntables = events,raft\n", "[trace] tables: no table 'raft'"},
		{"[trace]\nmetrics_period = 0s\n", "[trace] metrics_period"},
		{"[trace]\nsample = 3\n", "[trace] sample: unknown key"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *sc = tmp_path("t.ini");
		g_autofree char *text = g_strconcat(
			"[run]\nduration = 1s\n[cluster]\nnodes = 2\nservices = ping\n", cases[i].extra, NULL);
		ck_assert(g_file_set_contents(sc, text, -1, NULL));
		g_autofree char *args = g_strdup_printf("run %s 2>&1", sc);
		char *out = NULL;
		ck_assert_int_eq(sim(args, &out), 2);
		ck_assert_msg(strstr(out, cases[i].want), "case %zu: %s", i, out);
		g_free(out);
		unlink(sc);
	}
}
END_TEST

Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("hdf5");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, identical_runs_identical_files);
	tcase_add_test(tc, tracing_does_not_change_the_hash);
	tcase_add_test(tc, sampling_and_table_choice);
	tcase_add_test(tc, path_errors_before_the_run);
	tcase_add_test(tc, write_failure_mid_run_exits_2_and_removes_the_file);
	tcase_add_test(tc, trace_group_errors);
	suite_add_tcase(s, tc);
	return s;
}
