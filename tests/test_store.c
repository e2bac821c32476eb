/* test_store.c — from a failure to insight (issue 19): violations placed
 * at the offending operations (linearizable_kv's window), the violation's
 * text and JSON, reproducers pinned to their build (and the warning when
 * another build replays one), shrunk headers that tell the truth, and the
 * store directory a failing chaos seed leaves.  The screenshot check of
 * timeline.html is `make test-timeline` (needs Chromium and a planted-bug
 * build).
 */
#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/chaos/pin.h"
#include "sim/check/check.h"
#include "sim/check/linearize.h"
#include "sim/report/violation.h"
#include "tests.h"

/* ---- linearizable_kv placed at its operations ----------------------------- */

/* A write of 1 completes at 10 ns; a read from 20 to 30 ns still returns
 * 0: not linearizable.  The violation is the read's: t = 30, the node
 * that served it (n5), its record — not the end of the run. */
START_TEST(lin_window_is_placed_at_the_operations)
{
	struct au_lin_history *h = au_lin_new();
	struct au_lin_entry put = {.client = 3, .op = AU_LIN_PUT, .value = 1, .call_ns = 0,
				   .return_ns = 10, .outcome = AU_LIN_OK, .id = 100, .server = 2};
	struct au_lin_entry get = {.client = 7, .op = AU_LIN_GET, .value = 0, .call_ns = 20,
				   .return_ns = 30, .outcome = AU_LIN_OK, .id = 140, .server = 5};
	struct au_lin_entry late = {.client = 7, .op = AU_LIN_GET, .value = 1, .call_ns = 900,
				    .return_ns = 950, .outcome = AU_LIN_OK, .id = 300, .server = 1};
	au_lin_add(h, &put);
	au_lin_add(h, &get);
	au_lin_add(h, &late);
	struct au_lin_result r;
	au_lin_check(h, 1000000, &r);
	ck_assert(!r.linearizable && !r.gave_up);
	struct au_violation w;
	ck_assert(au_check_lin_window(&r, &w));
	ck_assert_int_eq(w.t_ns, 30);
	ck_assert_uint_eq(w.node, 5);
	ck_assert_uint_eq(w.record, 140);
	ck_assert(w.has_window);
	ck_assert_int_eq(w.window_lo_ns, 0);
	ck_assert_int_eq(w.window_hi_ns, 30);
	ck_assert_uint_eq(w.window_ops, 2);
	ck_assert_uint_eq(w.window_first_record, 100);
	ck_assert_uint_eq(w.window_last_record, 140);
	ck_assert_msg(strstr(w.window_text, "id 140  by n5") && strstr(w.window_text, "id 100  by n2"),
		      "%s", w.window_text);
	/* As the run reports it: judged at the end (1 s), placed at 30 ns. */
	g_strlcpy(w.check, "linearizable_kv", sizeof(w.check));
	g_strlcpy(w.detail, "key 0: 2 operations with no legal order", sizeof(w.detail));
	w.judged_ns = 1000000000;
	g_autofree char *line = au_violation_line(&w);
	ck_assert_str_eq(line, "linearizable_kv at t=0.000000030s on n5 (judged at t=1.000000000s), "
			       "trace record 140: key 0: 2 operations with no legal order");
	GString *j = g_string_new(NULL);
	au_violation_json(j, &w);
	ck_assert_msg(strstr(j->str, "\"t_ns\": 30, \"node\": 5, \"record\": 140") &&
			      strstr(j->str, "\"judged_ns\": 1000000000") &&
			      strstr(j->str, "\"window\": {\"first_ns\": 0, \"last_ns\": 30, \"ops\": 2, "
					     "\"first_record\": 100, \"last_record\": 140, \"lines\": [\"client 3") &&
			      g_str_has_suffix(j->str, "]}}"),
		      "%s", j->str);
	g_string_free(j, TRUE);
	au_lin_result_free(&r);
	au_lin_free(h);
	/* An empty window places nothing. */
	struct au_lin_result empty = {0};
	ck_assert(!au_check_lin_window(&empty, &w));
	ck_assert(!w.has_window);
}
END_TEST

/* A check judged as events happen has no window and no later judgement. */
START_TEST(violation_without_window)
{
	struct au_violation v = {.check = "raft_safety", .t_ns = 2000000000, .judged_ns = 2000000000,
				 .node = 0, .record = 7, .detail = "two leaders"};
	g_autofree char *line = au_violation_line(&v);
	ck_assert_str_eq(line, "raft_safety at t=2.000000000s, trace record 7: two leaders");
	GString *j = g_string_new(NULL);
	au_violation_json(j, &v);
	ck_assert_msg(g_str_has_suffix(j->str, "\"window\": null}"), "%s", j->str);
	g_string_free(j, TRUE);
}
END_TEST

/* ---- pinning ---------------------------------------------------------------- */

START_TEST(pin_round_trip_and_mismatch)
{
	/* This build's own pin: no warning. */
	g_autofree char *hdr = au_pin_header();
	/* au_pin_header's lines are not commented: comment them as a header. */
	g_auto(GStrv) lines = g_strsplit(hdr, "\n", -1);
	GString *text = g_string_new("# a reproducer\n");
	for (char **l = lines; *l; l++)
		if (**l)
			g_string_append_printf(text, "# %s\n", *l);
	g_string_append(text, "[run]\nname = x\n");
	struct au_pin p;
	au_pin_read(text->str, &p);
	ck_assert_str_eq(p.commit, au_pin_commit());
	ck_assert_str_eq(p.flags, au_pin_flags());
	ck_assert_str_eq(p.sha256, au_pin_binary_sha256());
	ck_assert_uint_eq(strlen(p.sha256), 64);
	au_pin_clear(&p);
	ck_assert_ptr_null(au_pin_mismatch("own.ini", text->str));
	/* Not pinned at all: nothing to say. */
	ck_assert_ptr_null(au_pin_mismatch("plain.ini", "[run]\nname = x\n"));
	/* Made by a build with a planted bug (this one has none). */
	ck_assert_ptr_null(strstr(au_pin_flags(), "AU_BUG_"));
	const char *other = "# Build commit: 654f76b\n# Build flags: -O2 -DAU_BUG_KV_LOCAL_READ\n"
			    "# Build binary sha256: 00ff\n[run]\nname = x\n";
	g_autofree char *w = au_pin_mismatch("repro-23.ini", other);
	ck_assert_ptr_nonnull(w);
	ck_assert_msg(strstr(w, "WARNING: repro-23.ini was made by another build") &&
			      strstr(w, "made by: commit 654f76b, flags -O2 -DAU_BUG_KV_LOCAL_READ") &&
			      strstr(w, "PLANTED BUGS DIFFER: AU_BUG_KV_LOCAL_READ there, none here"),
		      "%s", w);
	g_string_free(text, TRUE);
}
END_TEST

START_TEST(shrunk_text_tells_the_truth)
{
	const char *repro =
		"# aureon-sim chaos reproducer: scenario s (s.ini), seed 4\n"
		"# Fails: raft_safety at t=1.000000000s, trace record 9: x\n"
		"# Trace hash: abc\n"
		"# Build commit: c1\n# Build flags: -O2\n# Build binary sha256: 11\n"
		"# the scenario's own comment\n[run]\nseed = 4\n\n"
		"# ---- chaos plan of seed 4: 30 faults (kinds on for this seed: crash)\n"
		"[fault.chaos-01-crash]\naction = crash\n";
	g_autofree char *t = au_pin_shrunk_text(repro, 2);
	ck_assert_msg(g_str_has_prefix(t, "# the scenario's own comment\n[run]"), "%s", t);
	ck_assert_msg(strstr(t, "# ---- chaos plan of seed 4: 30 faults generated, 2 left after "
				"shrinking (kinds on for this seed: crash)\n"), "%s", t);
	ck_assert_ptr_null(strstr(t, "Trace hash: abc"));
	/* A text without either is left alone. */
	g_autofree char *u = au_pin_shrunk_text("[run]\nseed = 1\n", 0);
	ck_assert_str_eq(u, "[run]\nseed = 1\n");
}
END_TEST

/* ---- the store directory, through the command line ------------------------- */

/* test_chaos.c's scenario whose liveness bound many seeds cannot meet. */
static const char *const impossible_liveness =
	"[run]\nname = impossible-liveness\nduration = 4s\n"
	"[cluster]\nnodes = 3\nservices = raft,kv\n"
	"[workload]\nkv_clients = 1\nkv_rate = 20/s\n"
	"[chaos]\nmax_faults = 4\nstart = 500ms\nquiet_period = 1s\nfault_duration = 50ms..1s\n"
	"[check]\ninvariants = raft_safety, linearizable_kv\nliveness = leader_within:30ms\n";

static char *slurp(const char *path)
{
	char *s = NULL;
	ck_assert_msg(g_file_get_contents(path, &s, NULL, NULL), "%s missing", path);
	return s;
}

START_TEST(store_layout_and_pinned_replay)
{
	g_autofree char *d = g_dir_make_tmp("aureon-store-XXXXXX", NULL);
	g_autofree char *f = g_build_filename(d, "s.ini", NULL);
	ck_assert(g_file_set_contents(f, impossible_liveness, -1, NULL));
	g_autofree char *cmd = g_strdup_printf(
		"%s/aureon-sim chaos %s --seeds 1-4 --jobs 2 --out %s/out --store %s/store --shrink 1 "
		"--shrink-time 20 --store-max 1 2>&1", au_test_bin(), f, d, d);
	char *out = NULL;
	ck_assert_int_eq(au_test_run(cmd, &out), 1);
	/* The first failing seed is the one stored. */
	const char *fail = strstr(out, "FAIL seed ");
	ck_assert_msg(fail, "%s", out);
	uint64_t seed = g_ascii_strtoull(fail + strlen("FAIL seed "), NULL, 10);
	g_autofree char *dir = g_strdup_printf("%s/store/impossible-liveness/seed-%" G_GUINT64_FORMAT, d,
					       seed);
	g_autofree char *said = g_strdup_printf("stored seed %" G_GUINT64_FORMAT ": %s/", seed, dir);
	ck_assert_msg(strstr(out, said), "%s", out);
	g_free(out);
	const char *files[] = {"reproducer.ini", "shrunk.ini", "run.txt", "trace.h5", "history.edn",
			       "history.json", "report/summary.md", "timeline.html", "README.txt"};
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *p = g_build_filename(dir, files[i], NULL);
		ck_assert_msg(g_file_test(p, G_FILE_TEST_IS_REGULAR), "%s missing", p);
	}
	g_autofree char *readme = g_build_filename(dir, "README.txt", NULL);
	g_autofree char *rd = slurp(readme);
	ck_assert_msg(!strstr(rd, "What did not work"), "%s", rd);
	g_autofree char *repro = g_build_filename(dir, "reproducer.ini", NULL);
	g_autofree char *rt = slurp(repro);
	ck_assert_msg(strstr(rt, "# Build commit: ") && strstr(rt, "# Build flags: ") &&
			      strstr(rt, "# Build binary sha256: ") && strstr(rt, "# Fails: leader_within at t="),
		      "%s", rt);
	g_autofree char *summary = g_build_filename(dir, "report", "summary.md", NULL);
	g_autofree char *st = slurp(summary);
	ck_assert_msg(strstr(st, "\n\n**Verdict: FAIL** — `leader_within`"), "%.400s", st);
	g_autofree char *tl = g_build_filename(dir, "timeline.html", NULL);
	g_autofree char *tt = slurp(tl);
	ck_assert_msg(strstr(tt, "Violation: leader_within") && strstr(tt, "window-strip"),
		      "timeline.html lacks the violation");
	ck_assert_ptr_null(strstr(tt, "<script"));
	ck_assert_ptr_null(strstr(tt, "src=\"http"));
	g_autofree char *edn = g_build_filename(dir, "history.edn", NULL);
	g_autofree char *et = slurp(edn);
	ck_assert_msg(strstr(et, "client << 32 | sequence number"), "%.300s", et);

	/* Replayed by this build: no warning; with another build's pin: a loud
	 * one on stderr, and the run still runs (exit 1: it fails here too). */
	g_autofree char *run_same = g_strdup_printf("%s/aureon-sim run %s 2>&1 >/dev/null", au_test_bin(),
						    repro);
	ck_assert_int_eq(au_test_run(run_same, &out), 1); /* it fails here too */
	ck_assert_msg(!strstr(out, "WARNING"), "%s", out);
	g_free(out);
	GRegex *re = g_regex_new("^# Build flags: .*$", G_REGEX_MULTILINE, 0, NULL);
	g_autofree char *moved = g_regex_replace_literal(re, rt, -1, 0,
							 "# Build flags: -O2 -DAU_BUG_KV_LOCAL_READ", 0, NULL);
	g_regex_unref(re);
	g_autofree char *other = g_build_filename(d, "other.ini", NULL);
	ck_assert(g_file_set_contents(other, moved, -1, NULL));
	g_autofree char *run_other = g_strdup_printf("%s/aureon-sim run %s --json 2>&1", au_test_bin(),
						     other);
	ck_assert_int_eq(au_test_run(run_other, &out), 1);
	ck_assert_msg(strstr(out, "WARNING: ") && strstr(out, "PLANTED BUGS DIFFER: AU_BUG_KV_LOCAL_READ "
								 "there, none here"), "%s", out);
	ck_assert_msg(strstr(out, "\"violation\": {\"check\": \"leader_within\"") &&
			      strstr(out, "\"judged_ns\": ") && strstr(out, "\"window\": null}"),
		      "%s", out);
	g_free(out);
	g_autofree char *rm = g_strdup_printf("rm -rf '%s'", d);
	ck_assert_int_eq(system(rm), 0);
}
END_TEST

Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, lin_window_is_placed_at_the_operations);
	tcase_add_test(tc, violation_without_window);
	tcase_add_test(tc, pin_round_trip_and_mismatch);
	tcase_add_test(tc, shrunk_text_tells_the_truth);
	tcase_add_test(tc, store_layout_and_pinned_replay);
	suite_add_tcase(s, tc);
	return s;
}
