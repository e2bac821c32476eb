/* test_cli.c — aureon-sim as a user runs it: exit codes, error messages,
 * --json, determinism across runs and optimisation levels, the record
 * dump and the divergence finder, and the PHOLD bench. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/registry.h"
#include "tests.h"

static int sim_cmd(const char *bin_dir, const char *args, char **out)
{
	g_autofree char *cmd = g_strdup_printf("%s/aureon-sim %s", bin_dir, args);
	return au_test_run(cmd, out);
}

START_TEST(help_and_usage_errors)
{
	char *out = NULL;
	ck_assert_int_eq(sim_cmd(au_test_bin(), "--help", &out), 0);
	ck_assert(strstr(out, "usage: aureon-sim"));
	g_free(out);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run --help", &out), 0);
	g_free(out);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "bench phold --help", &out), 0);
	g_free(out);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "2>/dev/null", NULL), 2);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "frobnicate 2>/dev/null", NULL), 2);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run 2>/dev/null", NULL), 2);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run scenarios/ping.ini --seed x 2>/dev/null", NULL), 2);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run scenarios/ping.ini --until 5 2>/dev/null", NULL), 2);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run scenarios/ping.ini --bogus 2>/dev/null", NULL), 2);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "bench phold --lps 0 2>/dev/null", NULL), 2);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "bench phold --remote 2 2>/dev/null", NULL), 2);
}
END_TEST

START_TEST(bad_scenario_exits_2_naming_it)
{
	char path[] = "/tmp/aureon-bad-XXXXXX";
	int fd = mkstemp(path);
	ck_assert(fd >= 0);
	const char *text = "[run]\nduration = 10s\n[cluster]\nnodes = 3\nservices = ping\n"
			   "[network]\nlatency = uniform(5ms,1ms)\n";
	ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	g_autofree char *args = g_strdup_printf("run %s 2>&1", path);
	char *out = NULL;
	ck_assert_int_eq(sim_cmd(au_test_bin(), args, &out), 2);
	ck_assert_msg(strstr(out, path) && strstr(out, "[network] latency"), "%s", out);
	g_free(out);
	unlink(path);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run /nonexistent/x.ini 2>/dev/null", NULL), 2);
	/* binary junk never crashes the loader */
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run build/aureon-sim 2>/dev/null", NULL), 2);
}
END_TEST

START_TEST(json_twice_same_hash_other_seed_differs)
{
	char *a = NULL, *b = NULL, *c = NULL;
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run scenarios/ping.ini --json", &a), 0);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run scenarios/ping.ini --json", &b), 0);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run scenarios/ping.ini --json --seed 7", &c), 0);
	ck_assert(strstr(a, "\"result\": \"pass\"") && strstr(a, "\"seed\": 42"));
	ck_assert(strstr(a, "\"checks\": {\"ping_integrity\": \"pass\"}"));
	g_autofree char *ha = au_test_json_hash(a), *hb = au_test_json_hash(b), *hc = au_test_json_hash(c);
	ck_assert(ha && hb && hc);
	ck_assert_str_eq(ha, hb);
	ck_assert_str_ne(ha, hc);
	g_free(a);
	g_free(b);
	g_free(c);
}
END_TEST

START_TEST(same_hash_at_O0_and_O2)
{
	const char *o0 = getenv("AU_BIN_O0");
	if (!o0 || !*o0) {
		fprintf(stderr, "same_hash_at_O0_and_O2: AU_BIN_O0 not set, skipped\n");
		return;
	}
	for (int seed = 1; seed <= 3; seed++) {
		g_autofree char *args = g_strdup_printf("run scenarios/ping.ini --json --seed %d", seed);
		char *a = NULL, *b = NULL;
		ck_assert_int_eq(sim_cmd(au_test_bin(), args, &a), 0);
		ck_assert_int_eq(sim_cmd(o0, args, &b), 0);
		g_autofree char *ha = au_test_json_hash(a), *hb = au_test_json_hash(b);
		ck_assert_msg(ha && hb && strcmp(ha, hb) == 0, "seed %d: -O2 %s, -O0 %s", seed, ha, hb);
		g_free(a);
		g_free(b);
	}
}
END_TEST

/* The default scenario (`make run`: the whole stack under faults) passes
 * every check, twice with one hash, and with the same hash at -O0; its run
 * summary names each fault and what it hit. */
START_TEST(default_scenario_passes_and_repeats)
{
	char *a = NULL, *b = NULL, *text = NULL;
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run scenarios/default.ini --json", &a), 0);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run scenarios/default.ini --json", &b), 0);
	ck_assert(strstr(a, "\"result\": \"pass\""));
	ck_assert(strstr(a, "\"results_match_reference\": \"pass\""));
	g_autofree char *ha = au_test_json_hash(a), *hb = au_test_json_hash(b);
	ck_assert(ha && hb);
	ck_assert_str_eq(ha, hb);
	const char *o0 = getenv("AU_BIN_O0");
	if (o0 && *o0) {
		char *c = NULL;
		ck_assert_int_eq(sim_cmd(o0, "run scenarios/default.ini --json", &c), 0);
		g_autofree char *hc = au_test_json_hash(c);
		ck_assert_msg(hc && strcmp(ha, hc) == 0, "-O2 %s, -O0 %s", ha, hc);
		g_free(c);
	}
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run scenarios/default.ini", &text), 0);
	ck_assert_msg(strstr(text, "    leader-crash: crash n") && strstr(text, "(leader) at 3s, restarted 3s later"),
		      "%s", text);
	ck_assert_msg(strstr(text, "    split: partition n6,n7 | rest at 8s until 12s"), "%s", text);
	ck_assert_msg(strstr(text, "converged"), "%s", text);
	g_free(a);
	g_free(b);
	g_free(text);
}
END_TEST

START_TEST(divergence_names_first_split)
{
	char *out = NULL;
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run scenarios/ping.ini --force --records /tmp/au-rec-a.txt --json >/dev/null", NULL), 0);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run scenarios/ping.ini --force --records /tmp/au-rec-b.txt --json >/dev/null", NULL), 0);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "divergence /tmp/au-rec-a.txt /tmp/au-rec-b.txt", &out), 0);
	ck_assert(strstr(out, "identical"));
	g_free(out);
	/* Plant a divergence at record 1234 and expect it to be named. */
	ck_assert_int_eq(au_test_run("awk 'NR==1235{$NF=$NF+1} {print}' /tmp/au-rec-a.txt > /tmp/au-rec-c.txt", NULL), 0);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "divergence /tmp/au-rec-a.txt /tmp/au-rec-c.txt", &out), 1);
	ck_assert_msg(strstr(out, "diverge at record 1234"), "%s", out);
	g_free(out);
	/* A different seed diverges early and the tool says where. */
	ck_assert_int_eq(sim_cmd(au_test_bin(), "run scenarios/ping.ini --force --seed 9 --records /tmp/au-rec-d.txt --json >/dev/null", NULL), 0);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "divergence /tmp/au-rec-a.txt /tmp/au-rec-d.txt", &out), 1);
	ck_assert(strstr(out, "diverge at record"));
	g_free(out);
	unlink("/tmp/au-rec-a.txt");
	unlink("/tmp/au-rec-b.txt");
	unlink("/tmp/au-rec-c.txt");
	unlink("/tmp/au-rec-d.txt");
}
END_TEST

/* divergence judges only record dumps: an HDF5 trace, a scenario file or a
 * binary is an error (2) named on stderr, and nothing of it reaches stdout
 * (issue 19: it dumped binary and exited 1). */
START_TEST(divergence_refuses_non_records)
{
	char dir[] = "/tmp/au-div-XXXXXX";
	ck_assert(g_mkdtemp(dir));
	g_autofree char *rec = g_strdup_printf("%s/a.txt", dir), *h5 = g_strdup_printf("%s/t.h5", dir);
	g_autofree char *run = g_strdup_printf("run scenarios/ping.ini --records %s --trace %s --json "
					       ">/dev/null", rec, h5);
	ck_assert_int_eq(sim_cmd(au_test_bin(), run, NULL), 0);
	g_autofree char *bin = g_strdup_printf("%s/aureon-sim", au_test_bin());
	const char *others[] = {h5, "scenarios/ping.ini", bin};
	for (size_t i = 0; i < G_N_ELEMENTS(others); i++) {
		for (int order = 0; order < 2; order++) {
			g_autofree char *args = g_strdup_printf("divergence %s %s 2>%s/err", order ? rec : others[i],
								order ? others[i] : rec, dir);
			char *out = NULL;
			ck_assert_int_eq(sim_cmd(au_test_bin(), args, &out), 2);
			ck_assert_msg(out[0] == '\0', "%s printed: %.80s", others[i], out);
			g_free(out);
			g_autofree char *cat = g_strdup_printf("cat %s/err", dir);
			char *err = NULL;
			ck_assert_int_eq(au_test_run(cat, &err), 0);
			ck_assert_msg(strstr(err, others[i]) && strstr(err, "is not a record dump"), "%s", err);
			g_free(err);
		}
	}
	g_autofree char *rm = g_strdup_printf("rm -rf %s", dir);
	ck_assert_int_eq(au_test_run(rm, NULL), 0);
}
END_TEST

/* --records, like --trace, refuses to overwrite a file unless --force. */
START_TEST(records_refuses_overwrite_without_force)
{
	char path[] = "/tmp/au-rec-XXXXXX";
	int fd = mkstemp(path);
	ck_assert(fd >= 0);
	ck_assert(write(fd, "keep\n", 5) == 5);
	close(fd);
	g_autofree char *args = g_strdup_printf("run scenarios/ping.ini --json --records %s 2>&1", path);
	char *out = NULL;
	ck_assert_int_eq(sim_cmd(au_test_bin(), args, &out), 2);
	ck_assert_msg(strstr(out, path) && strstr(out, "--force"), "%s", out);
	g_free(out);
	g_autofree char *text = NULL;
	ck_assert(g_file_get_contents(path, &text, NULL, NULL));
	ck_assert_str_eq(text, "keep\n");
	g_autofree char *forced = g_strdup_printf("run scenarios/ping.ini --json --force --records %s "
						  ">/dev/null", path);
	ck_assert_int_eq(sim_cmd(au_test_bin(), forced, NULL), 0);
	g_autofree char *text2 = NULL;
	ck_assert(g_file_get_contents(path, &text2, NULL, NULL));
	ck_assert(g_str_has_prefix(text2, "0 E t=0 n1 NODE_BOOT"));
	unlink(path);
}
END_TEST

/* shrink --check with a name no check has: exit 2, the nearest name and
 * the known ones; shrink --out refuses an existing file unless --force,
 * before any shrinking. */
START_TEST(shrink_check_typo_and_out_overwrite)
{
	char *out = NULL;
	ck_assert_int_eq(sim_cmd(au_test_bin(), "shrink scenarios/ping.ini --check raft_saftey 2>&1", &out),
			 2);
	ck_assert_msg(strstr(out, "unknown check") && strstr(out, "did you mean raft_safety?") &&
			      strstr(out, "linearizable_kv") && strstr(out, "signal N"),
		      "%s", out);
	g_free(out);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "shrink scenarios/ping.ini --check zzz 2>&1", &out), 2);
	ck_assert_msg(strstr(out, "unknown check") && !strstr(out, "did you mean"), "%s", out);
	g_free(out);
	char path[] = "/tmp/au-min-XXXXXX";
	int fd = mkstemp(path);
	ck_assert(fd >= 0);
	close(fd);
	g_autofree char *args = g_strdup_printf("shrink scenarios/ping.ini --time 20 --out %s 2>&1", path);
	ck_assert_int_eq(sim_cmd(au_test_bin(), args, &out), 2);
	ck_assert_msg(strstr(out, path) && strstr(out, "--force"), "%s", out);
	g_free(out);
	/* With --force it goes on: ping.ini passes, nothing to shrink (1). */
	g_autofree char *forced = g_strdup_printf("shrink scenarios/ping.ini --time 20 --force --out %s 2>&1",
						  path);
	ck_assert_int_eq(sim_cmd(au_test_bin(), forced, &out), 1);
	ck_assert_msg(strstr(out, "nothing to shrink"), "%s", out);
	g_free(out);
	unlink(path);
}
END_TEST

/* list: names and descriptions from the registries, every checker and
 * model of this build; an unknown list is a usage error with a hint. */
START_TEST(list_from_the_registries)
{
	char *out = NULL;
	ck_assert_int_eq(sim_cmd(au_test_bin(), "list checks", &out), 0);
	ck_assert_msg(strstr(out, "raft_safety ") && strstr(out, "linearizable_kv ") &&
			      strstr(out, "lease_expiry ") && strstr(out, "membership_converged "),
		      "%s", out);
	g_free(out);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "list kinds", &out), 0);
	ck_assert_msg(strstr(out, "\ncrash ") || g_str_has_prefix(out, "crash "), "%s", out);
	ck_assert_msg(strstr(out, "\nsync_error ") && strstr(out, "\nfigure8 "), "%s", out);
	g_free(out);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "list services", &out), 0);
	size_t n;
	const struct au_model *const *all = au_registry_all(&n);
	for (size_t i = 0; i < n; i++) {
		g_autofree char *line = g_strdup_printf("%s ", all[i]->name);
		ck_assert_msg(strstr(out, line) && all[i]->about && strstr(out, all[i]->about), "%s: %s",
			      all[i]->name, out);
	}
	ck_assert_msg(strstr(out, "kv       needs raft "), "%s", out);
	g_free(out);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "list chekcs 2>&1", &out), 2);
	ck_assert_msg(strstr(out, "did you mean checks?"), "%s", out);
	g_free(out);
}
END_TEST

/* lint: 0 clean, 1 warnings (each named), 2 a scenario that does not load. */
START_TEST(lint_exit_codes_and_warnings)
{
	static const struct {
		const char *text, *want;
		int rc;
	} cases[] = {
		{"[run]\nduration = 5s\n[cluster]\nnodes = 3\nservices = ping\n", "clean", 0},
		{"[run]\nduration = 5s\n[cluster]\nnodes = 3\nservices = raft,kv\n[workload]\nkv_clients = 0\n",
		 "warning: [workload] kv_clients = 0: no KV operation is ever issued, so linearizable_kv judges "
		 "nothing", 1},
		{"[run]\nduration = 5s\n[cluster]\nnodes = 3\nservices = raft,aureon\n",
		 "warning: [workload] tasks = 0 (and no rqml jobs): no task is ever enqueued", 1},
		{"[run]\nduration = 5s\n[cluster]\nnodes = 3\nservices = phold\n", "no checker runs", 1},
		{"[run]\nduration = 5s\n[cluster]\nnodes = 3\nservices = kv\n", "service kv needs raft", 2},
	};
	char path[] = "/tmp/au-lint-XXXXXX";
	int fd = mkstemp(path);
	ck_assert(fd >= 0);
	close(fd);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		ck_assert(g_file_set_contents(path, cases[i].text, -1, NULL));
		g_autofree char *args = g_strdup_printf("lint %s 2>&1", path);
		char *out = NULL;
		ck_assert_int_eq(sim_cmd(au_test_bin(), args, &out), cases[i].rc);
		ck_assert_msg(strstr(out, cases[i].want), "case %zu: %s", i, out);
		g_free(out);
	}
	unlink(path);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "lint 2>/dev/null", NULL), 2);
}
END_TEST

/* docs/example-scenario.ini loads, lints clean and names every key of
 * every model of this build (those of services it cannot run together,
 * ping and phold, in comments), so it cannot fall behind the code. */
START_TEST(example_scenario_is_complete_and_clean)
{
	char *out = NULL;
	ck_assert_int_eq(sim_cmd(au_test_bin(), "lint docs/example-scenario.ini", &out), 0);
	ck_assert_msg(strstr(out, "clean"), "%s", out);
	g_free(out);
	g_autofree char *text = NULL;
	ck_assert(g_file_get_contents("docs/example-scenario.ini", &text, NULL, NULL));
	size_t n;
	const struct au_model *const *all = au_registry_all(&n);
	for (size_t i = 0; i < n; i++) {
		const struct au_model *m = all[i];
		const struct au_config_key *sets[2] = {m->config_keys, m->extra_keys};
		const char *groups[2] = {m->config_group, m->extra_group};
		for (int j = 0; j < 2; j++) {
			if (groups[j]) {
				g_autofree char *g = g_strdup_printf("\n[%s]\n", groups[j]);
				g_autofree char *cg = g_strdup_printf("\n# [%s]\n", groups[j]);
				ck_assert_msg(strstr(text, g) || strstr(text, cg), "group [%s] missing", groups[j]);
			}
			for (const struct au_config_key *k = sets[j]; k && k->name; k++) {
				g_autofree char *a = g_strdup_printf("\n%s = ", k->name);
				g_autofree char *b = g_strdup_printf("\n# %s = ", k->name);
				ck_assert_msg(strstr(text, a) || strstr(text, b), "[%s] %s missing from the example",
					      groups[j], k->name);
			}
		}
	}
}
END_TEST

START_TEST(phold_bench_runs_and_is_deterministic)
{
	char *a = NULL, *b = NULL;
	ck_assert_int_eq(sim_cmd(au_test_bin(), "bench phold --lps 64 --init 4 --events 200000 --json", &a), 0);
	ck_assert_int_eq(sim_cmd(au_test_bin(), "bench phold --lps 64 --init 4 --events 200000 --json", &b), 0);
	ck_assert(strstr(a, "\"events\":200000") && strstr(a, "\"events_per_sec\":"));
	const char *fa = strstr(a, "\"final_time_ns\""), *fb = strstr(b, "\"final_time_ns\"");
	ck_assert(fa && fb);
	ck_assert(strncmp(fa, fb, 40) == 0);
	g_free(a);
	g_free(b);
}
END_TEST

Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("aureon-sim");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, help_and_usage_errors);
	tcase_add_test(tc, bad_scenario_exits_2_naming_it);
	tcase_add_test(tc, json_twice_same_hash_other_seed_differs);
	tcase_add_test(tc, same_hash_at_O0_and_O2);
	tcase_add_test(tc, default_scenario_passes_and_repeats);
	tcase_add_test(tc, divergence_names_first_split);
	tcase_add_test(tc, phold_bench_runs_and_is_deterministic);
	tcase_add_test(tc, divergence_refuses_non_records);
	tcase_add_test(tc, records_refuses_overwrite_without_force);
	tcase_add_test(tc, shrink_check_typo_and_out_overwrite);
	tcase_add_test(tc, list_from_the_registries);
	tcase_add_test(tc, lint_exit_codes_and_warnings);
	tcase_add_test(tc, example_scenario_is_complete_and_clean);
	suite_add_tcase(s, tc);
	return s;
}
