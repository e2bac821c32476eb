/* test_chaos_cli.c — `aureon-sim chaos` as CI drives it (issue 19): seed
 * lists without repeats, an empty shard that writes empty reports and
 * passes, JUnit suites named by scenario and shard, TAP beside JUnit,
 * the seeds run in --json, the progress bar only for a person at a
 * terminal, a heartbeat line for logs, and `.ci/chaos` passing the sweep's
 * own exit code through make. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests.h"

/* The liveness bound (a leader within 30 ms of the last fault) many seeds
 * cannot meet: sweeps over it have failures (as in test_chaos.c). */
static const char *const impossible_liveness =
	"[run]\nname = impossible-liveness\nduration = 4s\n"
	"[cluster]\nnodes = 3\nservices = raft,kv\n"
	"[workload]\nkv_clients = 1\nkv_rate = 20/s\n"
	"[chaos]\nmax_faults = 4\nstart = 500ms\nquiet_period = 1s\nfault_duration = 50ms..1s\n"
	"[check]\ninvariants = raft_safety, linearizable_kv\nliveness = leader_within:30ms\n";

static char *tmp_dir(void)
{
	char *d = g_dir_make_tmp("aureon-chaoscli-XXXXXX", NULL);
	ck_assert(d);
	return d;
}

static void rm_rf(const char *dir)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int sim_cmd(const char *args, char **out)
{
	g_autofree char *cmd = g_strdup_printf("%s/aureon-sim %s", au_test_bin(), args);
	return au_test_run(cmd, out);
}

static char *slurp(const char *dir, const char *name)
{
	g_autofree char *p = g_build_filename(dir, name, NULL);
	char *text = NULL;
	ck_assert_msg(g_file_get_contents(p, &text, NULL, NULL), "%s missing", p);
	return text;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Overlapping ranges and repeats run each seed once, in the order first
 * listed; --json lists them; JUnit names each once. */
START_TEST(seed_list_without_repeats)
{
	g_autofree char *d = tmp_dir();
	g_autofree char *args = g_strdup_printf("chaos scenarios/ping.ini --seeds 5,1-3,2-4,1 --no-shrink "
						"--json --out %s --junit %s/j.xml --tap %s/t.tap", d, d, d);
	char *out = NULL;
	ck_assert_int_eq(sim_cmd(args, &out), 0);
	ck_assert_msg(strstr(out, "\"seeds_run\": 5,") && strstr(out, "\"seeds\": [5, 1, 2, 3, 4]"), "%s", out);
	g_free(out);
	g_autofree char *xml = slurp(d, "j.xml"), *tap = slurp(d, "t.tap");
	for (int s = 1; s <= 5; s++) {
		g_autofree char *c = g_strdup_printf("name=\"seed %d\"", s);
		ck_assert_msg(count(xml, c) == 1, "%s: %s", c, xml);
	}
	ck_assert_msg(strstr(tap, "1..5\n") && strstr(tap, "ok 1 - seed 5\n") && strstr(tap, "ok 5 - seed 4\n"),
		      "%s", tap);
	rm_rf(d);
}
END_TEST

/* A shard the list leaves empty passes (0) with empty reports, so a CI
 * matrix of fixed size works for any list; suites carry scenario and
 * shard. */
START_TEST(empty_shard_passes_with_empty_reports)
{
	g_autofree char *d = tmp_dir();
	g_autofree char *args = g_strdup_printf("chaos scenarios/ping.ini --seeds 1 --shard 2/2 --out %s "
						"--junit %s/j.xml --tap %s/t.tap 2>&1", d, d, d);
	char *out = NULL;
	ck_assert_int_eq(sim_cmd(args, &out), 0);
	ck_assert_msg(strstr(out, "shard 2/2 holds no seeds"), "%s", out);
	g_free(out);
	g_autofree char *xml = slurp(d, "j.xml"), *tap = slurp(d, "t.tap");
	ck_assert_msg(strstr(xml, "<testsuite name=\"chaos ping-faults shard 2/2\" tests=\"0\" failures=\"0\""),
		      "%s", xml);
	ck_assert_msg(strstr(tap, "TAP version 13\n1..0 # SKIP"), "%s", tap);
	g_autofree char *json = g_strdup_printf("chaos scenarios/ping.ini --seeds 1 --shard 2/2 --out %s --json", d);
	ck_assert_int_eq(sim_cmd(json, &out), 0);
	ck_assert_msg(strstr(out, "\"seeds_run\": 0,") && strstr(out, "\"seeds\": []") && !strstr(out, "nan"),
		      "%s", out);
	g_free(out);
	/* the other shard has the seed, under its own suite name */
	g_autofree char *one = g_strdup_printf("chaos scenarios/ping.ini --seeds 1 --shard 1/2 --out %s "
					       "--junit %s/j1.xml --quiet", d, d);
	ck_assert_int_eq(sim_cmd(one, NULL), 0);
	g_autofree char *xml1 = slurp(d, "j1.xml");
	ck_assert_msg(strstr(xml1, "<testsuite name=\"chaos ping-faults shard 1/2\" tests=\"1\""), "%s", xml1);
	rm_rf(d);
}
END_TEST

/* TAP: a test point per seed, "not ok" with a YAML block naming the check
 * and the reproducer for each failing seed — the same seeds JUnit fails. */
START_TEST(tap_report_matches_junit)
{
	g_autofree char *d = tmp_dir();
	g_autofree char *sc = g_build_filename(d, "live.ini", NULL);
	ck_assert(g_file_set_contents(sc, impossible_liveness, -1, NULL));
	g_autofree char *args = g_strdup_printf("chaos %s --seeds 1-10 --no-shrink --quiet --out %s "
						"--junit %s/j.xml --tap %s/t.tap", sc, d, d, d);
	ck_assert_int_eq(sim_cmd(args, NULL), 1);
	g_autofree char *xml = slurp(d, "j.xml"), *tap = slurp(d, "t.tap");
	int failures = count(xml, "<failure ");
	ck_assert_int_gt(failures, 0);
	ck_assert_int_eq(count(tap, "\nnot ok "), failures);
	ck_assert_int_eq(count(tap, "\nok ") + failures, 10);
	ck_assert_msg(strstr(tap, "TAP version 13\n1..10\n") && strstr(tap, "  check: 'leader_within'\n") &&
			      strstr(tap, "  reproducer: '") && strstr(tap, "# seed "),
		      "%s", tap);
	rm_rf(d);
}
END_TEST

/* Run `cmd` under script(1), so stderr is a terminal; what it printed. */
static char *on_tty(const char *cmd)
{
	g_autofree char *q = g_shell_quote(cmd);
	g_autofree char *wrapped = g_strdup_printf("script -qec %s /dev/null", q);
	char *out = NULL;
	au_test_run(wrapped, &out);
	return out;
}

/* The bar ("\r[####...]") on a terminal only without --json and CI; with
 * stderr not a terminal a heartbeat line instead, every --heartbeat
 * seconds, none with --heartbeat 0 or --quiet. */
START_TEST(progress_bar_and_heartbeat)
{
	if (system("script -qec true /dev/null >/dev/null 2>&1") != 0) {
		fprintf(stderr, "progress_bar_and_heartbeat: script(1) unavailable, tty part skipped\n");
	} else {
		g_autofree char *base = g_strdup_printf("%s/aureon-sim chaos scenarios/ping.ini --seeds 1-4 "
							"--no-shrink --out /tmp/au-chaoscli-tty", au_test_bin());
		g_autofree char *plain = g_strdup_printf("env -u CI %s", base);
		g_autofree char *ci = g_strdup_printf("env CI=true %s", base);
		g_autofree char *ci_false = g_strdup_printf("env CI=false %s", base);
		g_autofree char *json = g_strdup_printf("env -u CI %s --json", base);
		char *o = on_tty(plain);
		ck_assert_msg(strstr(o, "\r[####################] 4/4 seeds"), "%s", o);
		g_free(o);
		o = on_tty(ci_false);
		ck_assert_msg(strstr(o, "\r[####################] 4/4 seeds"), "%s", o);
		g_free(o);
		o = on_tty(ci);
		ck_assert_msg(!strstr(o, "\r["), "CI=true drew the bar: %s", o);
		g_free(o);
		o = on_tty(json);
		ck_assert_msg(!strstr(o, "\r[") && strstr(o, "\"seeds_run\": 4"), "--json drew the bar: %s", o);
		g_free(o);
		ck_assert_int_eq(system("rm -rf /tmp/au-chaoscli-tty"), 0);
	}
	g_autofree char *d = tmp_dir();
	char *out = NULL;
	g_autofree char *hb = g_strdup_printf("chaos scenarios/ping.ini --seeds 1-6 --jobs 1 --no-shrink --json "
					      "--heartbeat 0.001 --out %s 2>&1 >/dev/null", d);
	ck_assert_int_eq(sim_cmd(hb, &out), 0);
	ck_assert_msg(strstr(out, "seeds done, 0 failed, ") && strstr(out, " seeds/s, "), "%s", out);
	ck_assert_msg(!strchr(out, '\r'), "%s", out);
	g_free(out);
	g_autofree char *off = g_strdup_printf("chaos scenarios/ping.ini --seeds 1-6 --jobs 1 --no-shrink --json "
					       "--heartbeat 0 --out %s 2>&1 >/dev/null", d);
	ck_assert_int_eq(sim_cmd(off, &out), 0);
	ck_assert_msg(!strstr(out, "seeds done"), "%s", out);
	g_free(out);
	g_autofree char *quiet = g_strdup_printf("chaos scenarios/ping.ini --seeds 1-6 --jobs 1 --no-shrink "
						 "--quiet --heartbeat 0.001 --out %s 2>&1 >/dev/null", d);
	ck_assert_int_eq(sim_cmd(quiet, &out), 0);
	ck_assert_msg(!strstr(out, "seeds done"), "%s", out);
	g_free(out);
	g_autofree char *bad = g_strdup_printf("chaos scenarios/ping.ini --seeds 1 --heartbeat -1 --out %s 2>&1", d);
	ck_assert_int_eq(sim_cmd(bad, &out), 2);
	ck_assert_msg(strstr(out, "--heartbeat"), "%s", out);
	g_free(out);
	rm_rf(d);
}
END_TEST

/* make exits 2 for any failing recipe; .ci/chaos exits with the sweep's
 * own code: 0 pass, 1 a re-run differed (the determinism self-test), 2 a
 * scenario that does not load. */
START_TEST(ci_chaos_passes_the_sweep_code_through)
{
	static const struct {
		const char *env, *scenario;
		int want;
	} cases[] = {
		{"", "scenarios/ping.ini", 0},
		{"AU_CHAOS_TEST_NONDET=1", "scenarios/ping.ini", 1},
		{"", "/nonexistent/x.ini", 2},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		/* -o: use the binary under test as it is, never rebuild it */
		g_autofree char *cmd = g_strdup_printf(
			"%s .ci/chaos -o %s/aureon-sim BUILD=%s CHAOS_SCENARIO=%s CHAOS_SEEDS=1-3 CHAOS_JOBS=1 "
			">/dev/null 2>&1", cases[i].env, au_test_bin(), au_test_bin(), cases[i].scenario);
		ck_assert_int_eq(au_test_run(cmd, NULL), cases[i].want);
		g_autofree char *code = NULL;
		g_autofree char *p = g_strdup_printf("%s/chaos/exit-code", au_test_bin());
		ck_assert(g_file_get_contents(p, &code, NULL, NULL));
		ck_assert_int_eq(atoi(code), cases[i].want);
	}
}
END_TEST

Suite *chaos_cli_suite(void)
{
	Suite *s = suite_create("chaos-cli");
	TCase *tc = tcase_create("chaos-cli");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, seed_list_without_repeats);
	tcase_add_test(tc, empty_shard_passes_with_empty_reports);
	tcase_add_test(tc, tap_report_matches_junit);
	tcase_add_test(tc, progress_bar_and_heartbeat);
	tcase_add_test(tc, ci_chaos_passes_the_sweep_code_through);
	suite_add_tcase(s, tc);
	return s;
}
