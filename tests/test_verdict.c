/* test_verdict.c — honest verdicts: a check whose judgement was not made
 * says "not run" (and why), one that could not decide says "unknown", and
 * neither is ever shown as pass; a run a violation stops still records the
 * KV operations in flight, as unknown, and RUN_END — through the engine's
 * API, the run command's text and --json output, and determinism. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/check/check.h"
#include "sim/engine/sim.h"
#include "scenario_runs.h"
#include "tests.h"

/* Raft + KV + SWIM; n3 crashes at 2 s and membership_converged gives the
 * views 1 ms to agree, so it fails at once, mid-run, every time, while the
 * three KV clients (1000 ops/s each) have operations in flight. */
static const char *const stopped_text =
	"[run]\nname = stopped-by-violation\nseed = 3\nduration = 6s\n"
	"[cluster]\nnodes = 3\nservices = raft,kv,swim\n"
	"[network]\nlatency = uniform(1ms,3ms)\n"
	"[workload]\nkv_clients = 3\nkv_rate = 1000/s\n"
	"[fault.crash]\nat = 2s\naction = crash\ntarget = n3\n"
	"[check]\ninvariants = raft_safety, linearizable_kv\n"
	"liveness = membership_converged:1ms, leader_within:3s\n";

/* The verdict and reason of check `name`; fails the test if it is not on. */
static const char *verdict(struct au_sim *sim, const char *name, char *why, size_t len)
{
	const char *names[32], *results[32];
	size_t n = au_check_results(sim, names, results, 32);
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0) {
			if (!au_check_reason(sim, i, why, len))
				why[0] = '\0';
			return results[i];
		}
	ck_abort_msg("check %s is not on", name);
	return NULL;
}

static char *write_tmp(const char *text)
{
	char *path = g_strdup("/tmp/aureon-verdict-XXXXXX.ini");
	int fd = g_mkstemp(path);
	ck_assert(fd >= 0);
	ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* A violation stops the run: the failing check fails, checks that judge
 * every record as it comes keep pass, and those with an end-of-run
 * judgement are "not run", naming the stop. */
START_TEST(stopped_run_reports_not_run)
{
	struct au_scenario *sc = au_test_load_text("t.ini", stopped_text);
	struct au_sim *sim = au_sim_new(sc, 3);
	ck_assert_int_eq(au_sim_run(sim, sc->duration), 1);
	const struct au_violation *v = au_sim_violation(sim);
	ck_assert(v);
	ck_assert_str_eq(v->check, "membership_converged");
	ck_assert_int_lt(v->t_ns, 3 * AU_NS_PER_S);
	char why[256];
	ck_assert_str_eq(verdict(sim, "membership_converged", why, sizeof(why)), AU_VERDICT_FAIL);
	ck_assert_str_eq(why, "");
	ck_assert_str_eq(verdict(sim, "raft_safety", why, sizeof(why)), AU_VERDICT_PASS);
	ck_assert_str_eq(verdict(sim, "swim_accuracy", why, sizeof(why)), AU_VERDICT_PASS);
	static const char *const skipped[] = {"linearizable_kv", "leader_within", "swim_completeness"};
	for (size_t i = 0; i < G_N_ELEMENTS(skipped); i++) {
		ck_assert_str_eq(verdict(sim, skipped[i], why, sizeof(why)), AU_VERDICT_NOT_RUN);
		ck_assert_msg(g_str_has_prefix(why, "run stopped at t=2.") &&
			      g_str_has_suffix(why, "s by membership_converged"), "%s: %s", skipped[i], why);
	}
	/* finishing a stopped run changes nothing */
	char h1[65], h2[65];
	au_sim_trace_hash(sim, h1);
	uint64_t records = au_sim_stats(sim)->records;
	ck_assert_int_eq(au_sim_finish(sim), 1);
	au_sim_trace_hash(sim, h2);
	ck_assert_str_eq(h1, h2);
	ck_assert_uint_eq(au_sim_stats(sim)->records, records);
	ck_assert_str_eq(verdict(sim, "linearizable_kv", why, sizeof(why)), AU_VERDICT_NOT_RUN);
	g_autofree char *line = au_check_text(sim);
	ck_assert_msg(strstr(line, "membership_converged fail") &&
		      strstr(line, "linearizable_kv not run (run stopped at t=2."), "%s", line);
	g_autofree char *json = au_check_json(sim);
	ck_assert_msg(strstr(json, "\"linearizable_kv\": \"not run\"") &&
		      strstr(json, "\"check_reasons\": {\"leader_within\": \"run stopped at t=2."),
		      "%s", json);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* The records after the one that stopped the run: the KV clients'
 * operations still in flight, as /history rows with outcome unknown, then
 * RUN_END — and the same records, hash and all, on every run. */
START_TEST(stopped_run_records_in_flight_ops)
{
	struct au_scenario *sc = au_test_load_text("t.ini", stopped_text);
	char hash[2][65];
	for (int run = 0; run < 2; run++) {
		char *dump = NULL;
		size_t dump_len = 0;
		FILE *f = open_memstream(&dump, &dump_len);
		ck_assert(f);
		struct au_sim *sim = au_sim_new(sc, 3);
		au_sim_set_record_dump(sim, f);
		ck_assert_int_eq(au_sim_run(sim, sc->duration), 1);
		const struct au_violation *v = au_sim_violation(sim);
		ck_assert(v);
		uint64_t stop_record = v->record;
		au_time stop_ns = v->t_ns;
		au_sim_trace_hash(sim, hash[run]);
		au_sim_free(sim);
		fclose(f);
		/* Each dump line starts with the record index. */
		g_auto(GStrv) lines = g_strsplit(dump, "\n", -1);
		free(dump);
		int history_after = 0, run_end = 0, other_after = 0;
		g_autofree char *t_stop = g_strdup_printf(" t=%" G_GINT64_FORMAT " ", stop_ns);
		for (char **l = lines; *l && **l; l++) {
			uint64_t index = g_ascii_strtoull(*l, NULL, 10);
			if (strstr(*l, " RUN_END ")) {
				run_end++;
				ck_assert_msg(strstr(*l, t_stop), "%s", *l);
			}
			if (index <= stop_record)
				continue;
			if (g_str_has_suffix(*l, " history")) {
				ck_assert_msg(strstr(*l, t_stop), "row after the stop at another time: %s", *l);
				history_after++;
			} else if (!strstr(*l, " RUN_END ")) {
				other_after++; /* the rest of the event that broke the check */
			}
		}
		ck_assert_int_eq(run_end, 1);
		ck_assert_msg(history_after >= 1 && history_after <= 3,
			      "%d history rows after the stop (3 clients)", history_after);
		(void)other_after;
	}
	ck_assert_str_eq(hash[0], hash[1]);
	/* The clients' summaries count them as unknown. */
	struct au_sim *sim = au_sim_new(sc, 3);
	au_sim_run(sim, sc->duration);
	uint64_t unknown = 0;
	for (au_node_id n = sc->cluster.nodes + 1; n <= sc->cluster.nodes + sc->clients; n++) {
		char line[256];
		au_sim_model_summary(sim, n, 1, line, sizeof(line)); /* service 1: kv */
		const char *u = strstr(line, "unknown=");
		ck_assert_msg(u, "%s", line);
		unknown += g_ascii_strtoull(u + strlen("unknown="), NULL, 10);
	}
	ck_assert_uint_ge(unknown, 1);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* A run that ends before a liveness window closes has not judged it. */
START_TEST(liveness_window_still_open_is_not_run)
{
	struct au_scenario *sc = au_test_load_text("t.ini", "[run]\nduration = 10s\n[cluster]\nnodes = 3\nservices = raft\n"
				      "[check]\nliveness = leader_within:5s\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	ck_assert_int_eq(au_sim_run(sim, 50 * AU_NS_PER_MS), 0); /* before any election */
	char why[256];
	/* not finished yet: its end-of-run judgement has not run */
	ck_assert_str_eq(verdict(sim, "leader_within", why, sizeof(why)), AU_VERDICT_NOT_RUN);
	ck_assert_msg(strstr(why, "not finished"), "%s", why);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	ck_assert_str_eq(verdict(sim, "leader_within", why, sizeof(why)), AU_VERDICT_NOT_RUN);
	ck_assert_str_eq(why, "the run ended at t=0.05s, before its window closed at t=5s");
	ck_assert_str_eq(verdict(sim, "raft_safety", why, sizeof(why)), AU_VERDICT_PASS);
	au_sim_free(sim);
	/* the whole run: judged, and it held */
	sim = au_sim_new(sc, 1);
	au_sim_run(sim, sc->duration);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	ck_assert_str_eq(verdict(sim, "leader_within", why, sizeof(why)), AU_VERDICT_PASS);
	au_sim_free(sim);
	au_scenario_free(sc);
	/* membership_converged likewise, before its deadline (crash at 2 s + 1 ms) */
	sc = au_test_load_text("t.ini", stopped_text);
	sim = au_sim_new(sc, 3);
	ck_assert_int_eq(au_sim_run(sim, AU_NS_PER_S), 0);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	ck_assert_str_eq(verdict(sim, "membership_converged", why, sizeof(why)), AU_VERDICT_NOT_RUN);
	ck_assert_str_eq(why, "the run ended at t=1s, before its deadline t=2.001s");
	ck_assert_str_eq(verdict(sim, "linearizable_kv", why, sizeof(why)), AU_VERDICT_PASS);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* linearizable_kv out of search budget: unknown, with the key — not pass. */
START_TEST(lin_budget_exhausted_is_unknown)
{
	struct au_scenario *sc = au_test_load_text("t.ini", "[run]\nduration = 2s\n[cluster]\nnodes = 3\nservices = raft,kv\n"
				      "[workload]\nkv_clients = 4\nkv_rate = 200/s\nkv_keys = 1\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_check_set_lin_budget(sim, 2);
	au_sim_run(sim, sc->duration);
	ck_assert_int_eq(au_sim_finish(sim), 0); /* no verdict is not a failure */
	char why[256];
	ck_assert_str_eq(verdict(sim, "linearizable_kv", why, sizeof(why)), AU_VERDICT_UNKNOWN);
	ck_assert_msg(strstr(why, "search budget of 2 configurations exhausted on key 0"), "%s", why);
	au_sim_free(sim);
	/* the default budget decides the same history */
	sim = au_sim_new(sc, 1);
	au_sim_run(sim, sc->duration);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	ck_assert_str_eq(verdict(sim, "linearizable_kv", why, sizeof(why)), AU_VERDICT_PASS);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* What a user sees: the summary line and --json name the verdicts and the
 * reasons; the exit code is 1 only for a failed check. */
START_TEST(run_command_shows_verdicts)
{
	g_autofree char *path = write_tmp(stopped_text);
	g_autofree char *text_cmd = g_strdup_printf("%s/aureon-sim run %s", au_test_bin(), path);
	char *out = NULL;
	ck_assert_int_eq(au_test_run(text_cmd, &out), 1);
	ck_assert_msg(strstr(out, "  checks: raft_safety pass, leader_within not run (run stopped at t=2.") &&
		      strstr(out, "s by membership_converged), replicas_agree pass, linearizable_kv not run (run stopped at t=2.") &&
		      strstr(out, "membership_converged fail\n") && strstr(out, "  result: FAIL\n"),
		      "%s", out);
	g_free(out);
	g_autofree char *json_cmd = g_strdup_printf("%s/aureon-sim run %s --json", au_test_bin(), path);
	ck_assert_int_eq(au_test_run(json_cmd, &out), 1);
	ck_assert_msg(strstr(out, "\"result\": \"fail\"") &&
		      strstr(out, "\"checks\": {\"raft_safety\": \"pass\", \"leader_within\": \"not run\", "
				  "\"replicas_agree\": \"pass\", \"linearizable_kv\": \"not run\"") &&
		      strstr(out, "\"check_reasons\": {\"leader_within\": \"run stopped at t=2.") &&
		      strstr(out, "\"check_notes\": {"), "%s", out);
	g_free(out);
	unlink(path);
	/* --until before the window closes: a pass that says what it lacks */
	g_autofree char *until = g_strdup_printf("%s/aureon-sim run scenarios/raft-basic.ini --until 100ms",
						 au_test_bin());
	ck_assert_int_eq(au_test_run(until, &out), 0);
	ck_assert_msg(strstr(out, "leader_within not run (the run ended at t=0.1s, before its window "
				  "closed at t=5s)") &&
		      strstr(out, "  result: pass (no verdict from: leader_within not run)\n"), "%s", out);
	g_free(out);
	g_autofree char *full = g_strdup_printf("%s/aureon-sim run scenarios/raft-basic.ini --json",
						au_test_bin());
	ck_assert_int_eq(au_test_run(full, &out), 0);
	ck_assert_msg(strstr(out, "\"check_reasons\": {}"), "%s", out);
	g_free(out);
}
END_TEST

/* What a run's checkers concluded: verdicts and reasons (JSON), every
 * note, the violation and the trace hash. */
static char *judged(const char *path)
{
	struct au_scenario *sc = au_test_load(path);
	struct au_sim *sim = au_sim_new(sc, sc->seed);
	if (au_sim_run(sim, sc->duration) == 0)
		au_sim_finish(sim);
	GString *o = g_string_new(NULL);
	char *checks = au_check_json(sim);
	g_string_append(o, checks);
	g_free(checks);
	char note[512];
	const char *names[32], *results[32];
	size_t n = au_check_results(sim, names, results, 32);
	for (size_t i = 0; i < n; i++)
		if (au_check_note(sim, i, note, sizeof(note)))
			g_string_append_printf(o, "\nnote %s: %s", names[i], note);
	const struct au_violation *v = au_sim_violation(sim);
	if (v)
		g_string_append_printf(o, "\nviolation %s t=%lld n%u record %llu: %s", v->check,
				       (long long)v->t_ns, v->node, (unsigned long long)v->record, v->detail);
	char hash[65];
	au_sim_trace_hash(sim, hash);
	g_string_append_printf(o, "\nhash %s records %llu", hash,
			       (unsigned long long)au_sim_stats(sim)->records);
	au_sim_free(sim);
	au_scenario_free(sc);
	return g_string_free(o, FALSE);
}

/* The judge hands each event record only to the checkers whose kind lists
 * name its kind.  Judged that way and with every record given to every
 * checker, runs with faults of every family, the mutant scenarios, the
 * regressions and a run stopped by a violation reach the same verdicts,
 * notes, violations and records: no list leaves out a kind its checker
 * reads (the checkers' forged-trace tests judge by kind too). */
START_TEST(dispatch_by_kind_judges_as_every_checker)
{
	static const char *const paths[] = {
		"scenarios/chaos-aureon.ini", "scenarios/chaos-raft.ini", "scenarios/chaos-rqml.ini",
		"scenarios/aureon-skew.ini", "scenarios/aureon-locks.ini",
		"scenarios/aureon-cancel-failover.ini", "scenarios/aureon-expiry.ini",
		"scenarios/aureon-leader-crash.ini", "scenarios/aureon-drain.ini",
		"scenarios/swim-crash-detect.ini", "scenarios/swim-partition-heal.ini",
		"scenarios/swim-lossy.ini", "scenarios/rqml-shard-failures.ini", "scenarios/rqml-chaos.ini",
		"scenarios/one-results.ini", "scenarios/ping.ini", "scenarios/raft-disk-faults.ini",
		"scenarios/raft-membership.ini", "scenarios/raft-storage-errors.ini",
		"scenarios/mutant-cancel-ignored.ini", "scenarios/mutant-figure8.ini",
		"scenarios/mutant-jobs-unrecorded.ini", "scenarios/mutant-membership-early.ini",
		"scenarios/mutant-replica-diverge.ini", "scenarios/mutant-rqml-dup-shard.ini",
		"scenarios/mutant-vote-cleared.ini", "scenarios/mutant-vote-lost.ini",
	};
	GPtrArray *all = g_ptr_array_new_with_free_func(g_free);
	for (size_t i = 0; i < G_N_ELEMENTS(paths); i++)
		g_ptr_array_add(all, g_strdup(paths[i]));
	GDir *dir = g_dir_open("scenarios/regressions", 0, NULL);
	ck_assert(dir);
	for (const char *name; (name = g_dir_read_name(dir));)
		if (g_str_has_suffix(name, ".ini"))
			g_ptr_array_add(all, g_build_filename("scenarios/regressions", name, NULL));
	g_dir_close(dir);
	ck_assert_uint_gt(all->len, G_N_ELEMENTS(paths) + 10);
	char *stopped = write_tmp(stopped_text);
	g_ptr_array_add(all, stopped);
	size_t violations = 0, noted = 0;
	for (guint i = 0; i < all->len; i++) {
		const char *path = g_ptr_array_index(all, i);
		char *by_kind = judged(path);
		au_check_dispatch_every(true);
		char *every = judged(path);
		au_check_dispatch_every(false);
		ck_assert_msg(strcmp(by_kind, every) == 0, "%s:\nby kind: %s\nevery:   %s", path, by_kind,
			      every);
		violations += strstr(by_kind, "\nviolation ") != NULL;
		noted += strstr(by_kind, "\nnote ") != NULL;
		g_free(by_kind);
		g_free(every);
	}
	ck_assert_uint_ge(violations, 1);
	ck_assert_uint_ge(noted, all->len / 2);
	unlink(stopped);
	g_ptr_array_free(all, TRUE);
}
END_TEST

Suite *verdict_suite(void)
{
	Suite *s = suite_create("verdicts");
	TCase *tc = tcase_create("verdicts");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, stopped_run_reports_not_run);
	tcase_add_test(tc, stopped_run_records_in_flight_ops);
	tcase_add_test(tc, liveness_window_still_open_is_not_run);
	tcase_add_test(tc, lin_budget_exhausted_is_unknown);
	tcase_add_test(tc, run_command_shows_verdicts);
	tcase_add_test(tc, dispatch_by_kind_judges_as_every_checker);
	suite_add_tcase(s, tc);
	return s;
}
