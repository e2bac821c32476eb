/* test_speed_raft.c — raft_safety keeps a window of the log (issue 17:
 * flat memory over long runs): what it releases, and that the checks
 * above the window's floor still fire, fed forged Raft traces. */
#include <glib.h>
#include <string.h>

#include "trace_kinds.h"
#include "sim/engine/sim.h"
#include "sim/check/check.h"
#include "scenario_runs.h"
#include "tests.h"

/* A 3-node Raft cluster that stays quiet (elections 10 s away), so only
 * the forged traces below reach the checker. */
static struct au_sim *quiet_cluster(struct au_scenario **sc)
{
	char *err = NULL;
	*sc = au_scenario_load_text("w.ini", "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft\n"
					     "[raft]\nelection_timeout = 10s..11s\n", &err);
	ck_assert_msg(*sc, "%s", err ? err : "");
	struct au_sim *sim = au_sim_new(*sc, 1);
	au_sim_run(sim, 0);
	return sim;
}

static void tr(struct au_sim *sim, au_node_id n, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	au_trace(au_sim_env(sim, n, 0), kind, a, b, c);
}

static int64_t chain_of(uint64_t i) { return (int64_t)(i * 7919 + 1); }

/* n1 leads term 1; the nodes in `followers` append and commit 1..upto;
 * every node in `snapping` snapshots each 5,000 entries. */
static void replicate(struct au_sim *sim, uint64_t from, uint64_t upto, unsigned followers,
		      unsigned snapping)
{
	for (uint64_t i = from; i <= upto; i++) {
		for (au_node_id n = 1; n <= 3; n++)
			if (n == 1 || (followers & (1u << n)))
				tr(sim, n, AU_TR_RAFT_APPEND, (int64_t)i, 1, chain_of(i));
		for (au_node_id n = 1; n <= 3; n++)
			if (n == 1 || (followers & (1u << n)))
				tr(sim, n, AU_TR_RAFT_COMMIT, (int64_t)i, 1, chain_of(i));
		if (i % 5000 == 0)
			for (au_node_id n = 1; n <= 3; n++)
				if (snapping & (1u << n))
					tr(sim, n, AU_TR_RAFT_SNAPSHOT, (int64_t)i, 1, chain_of(i));
	}
}

static const char *rs_note(struct au_sim *sim, char *buf, size_t len)
{
	const char *names[32], *results[32];
	size_t n = au_check_results(sim, names, results, 32);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], "raft_safety") == 0)
			au_check_note(sim, i, buf, len);
	return buf;
}

static const char *violation_of(struct au_sim *sim)
{
	const struct au_violation *v = au_sim_violation(sim);
	return v ? v->detail : "";
}

START_TEST(window_releases_below_every_nodes_older_snapshot)
{
	struct au_scenario *sc;
	struct au_sim *sim = quiet_cluster(&sc);
	tr(sim, 1, AU_TR_RAFT_ROLE, 1, 3, 1);
	replicate(sim, 1, 20000, 2 | 4 | 8, 2 | 4 | 8);
	char note[256];
	/* snapshots at 15,000 and 20,000 everywhere: the older one is the floor */
	ck_assert_str_eq(rs_note(sim, note, sizeof(note)),
			 "log indexes below 15000 released (every Raft node has two durable "
			 "snapshots above), 5001 kept");
	ck_assert_str_eq(violation_of(sim), "");
	/* a node recovering from its older snapshot diverges right above it */
	tr(sim, 3, AU_TR_RAFT_RECOVER, 15000, 15000, chain_of(15000));
	tr(sim, 3, AU_TR_RAFT_APPEND, 15001, 1, 12345);
	ck_assert(strstr(violation_of(sim), "log matching"));
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(window_checks_state_machine_safety_at_its_top)
{
	struct au_scenario *sc;
	struct au_sim *sim = quiet_cluster(&sc);
	tr(sim, 1, AU_TR_RAFT_ROLE, 1, 3, 1);
	replicate(sim, 1, 20000, 2 | 4 | 8, 2 | 4 | 8);
	tr(sim, 2, AU_TR_RAFT_APPLY, 19999, 1, 777);
	ck_assert(strstr(violation_of(sim), "state machine safety: applied a different entry at 19999"));
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* A node that never took two snapshots (here: one that lags at 50)
 * holds the floor: its later appends are still compared at their index. */
START_TEST(a_lagging_node_holds_the_window)
{
	struct au_scenario *sc;
	struct au_sim *sim = quiet_cluster(&sc);
	tr(sim, 1, AU_TR_RAFT_ROLE, 1, 3, 1);
	replicate(sim, 1, 50, 2 | 4 | 8, 2 | 4 | 8);
	replicate(sim, 51, 20000, 2 | 4, 2 | 4);
	char note[256];
	ck_assert_str_eq(rs_note(sim, note, sizeof(note)), "");
	tr(sim, 3, AU_TR_RAFT_APPEND, 51, 1, 4242);
	ck_assert(strstr(violation_of(sim), "log matching: entry 51 of term 1"));
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* Leader Completeness finds the newest entry committed in an earlier term
 * from run-length terms.  Term 1 (n1) commits 1..30, term 3 (n2) commits
 * 31..40; a paused candidate then leads term 2: it must hold 1..30 (what
 * term 1 committed), not 31..40. */
static void two_terms_committed(struct au_sim *sim)
{
	tr(sim, 1, AU_TR_RAFT_ROLE, 1, 3, 1);
	replicate(sim, 1, 30, 4, 0);
	tr(sim, 2, AU_TR_RAFT_ROLE, 3, 3, 2);
	for (int64_t i = 31; i <= 40; i++) {
		tr(sim, 2, AU_TR_RAFT_APPEND, i, 3, chain_of((uint64_t)i));
		tr(sim, 2, AU_TR_RAFT_COMMIT, i, 3, chain_of((uint64_t)i));
	}
	for (int64_t i = 1; i <= 29; i++)
		tr(sim, 3, AU_TR_RAFT_APPEND, i, 1, chain_of((uint64_t)i));
}

START_TEST(leader_completeness_uses_the_commit_runs)
{
	struct au_scenario *sc;
	struct au_sim *sim = quiet_cluster(&sc);
	two_terms_committed(sim);
	tr(sim, 3, AU_TR_RAFT_APPEND, 30, 1, chain_of(30));
	tr(sim, 3, AU_TR_RAFT_ROLE, 2, 3, 3);
	ck_assert_str_eq(violation_of(sim), "");
	tr(sim, 3, AU_TR_RAFT_ROLE, 4, 3, 3); /* term 4: 31..40 are from an earlier term now */
	ck_assert(strstr(violation_of(sim), "new leader of term 4 has 30 entries, 40 were committed"));
	au_sim_free(sim);
	au_scenario_free(sc);

	sim = quiet_cluster(&sc);
	two_terms_committed(sim);
	tr(sim, 3, AU_TR_RAFT_APPEND, 30, 2, 99); /* another entry at 30 */
	tr(sim, 3, AU_TR_RAFT_ROLE, 2, 3, 3);
	ck_assert(strstr(violation_of(sim), "new leader of term 2 lacks committed entry 30"));
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* A whole run with compaction: the window moves, the verdict is pass, the
 * hash is the same twice. */
START_TEST(compacting_run_releases_and_passes)
{
	static const char ini[] =
		"[run]\nduration = 40s\n[cluster]\nnodes = 3\nservices = raft,kv\n"
		"[raft]\nsnapshot_every = 500\n[workload]\nkv_clients = 10\nkv_rate = 50/s\nkv_keys = 20\n"
		"[trace]\nmessages = none\n[check]\ninvariants = raft_safety, linearizable_kv\n";
	char h[2][65];
	for (int k = 0; k < 2; k++) {
		char *err = NULL;
		struct au_scenario *sc = au_scenario_load_text("c.ini", ini, &err);
		ck_assert_msg(sc, "%s", err ? err : "");
		struct au_sim *sim = au_sim_new(sc, 3);
		au_sim_run(sim, sc->duration);
		ck_assert_str_eq(violation_of(sim), "");
		char note[256];
		ck_assert_msg(strstr(rs_note(sim, note, sizeof(note)), "released"), "note: %s", note);
		au_sim_trace_hash(sim, h[k]);
		au_sim_free(sim);
		au_scenario_free(sc);
	}
	ck_assert_str_eq(h[0], h[1]);
}
END_TEST

Suite *speed_raft_suite(void)
{
	Suite *s = suite_create("speed_raft");
	TCase *tc = tcase_create("window");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, window_releases_below_every_nodes_older_snapshot);
	tcase_add_test(tc, window_checks_state_machine_safety_at_its_top);
	tcase_add_test(tc, a_lagging_node_holds_the_window);
	tcase_add_test(tc, leader_completeness_uses_the_commit_runs);
	tcase_add_test(tc, compacting_run_releases_and_passes);
	suite_add_tcase(s, tc);
	return s;
}
