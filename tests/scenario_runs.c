/* scenario_runs.c — loading and running scenarios in tests (see
 * scenario_runs.h). */
#include "scenario_runs.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "tests.h"

struct au_scenario *au_test_load(const char *path)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load(path, &err);
	ck_assert_msg(sc, "%s", err);
	return sc;
}

struct au_scenario *au_test_load_text(const char *name, const char *text)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(name, text, &err);
	ck_assert_msg(sc, "%s", err);
	return sc;
}

void au_test_run_passes(const struct au_scenario *sc, uint64_t seed, const char *what, FILE *dump,
			char hash[65], struct au_sim **keep)
{
	struct au_sim *sim = au_sim_new(sc, seed);
	au_sim_set_record_dump(sim, dump);
	int rc = au_sim_run(sim, sc->duration);
	if (rc == 0)
		rc = au_sim_finish(sim);
	const struct au_violation *v = au_sim_violation(sim);
	ck_assert_msg(rc == 0, "%s seed %llu: %s at t=%lld on n%u: %s", what,
		      (unsigned long long)seed, v ? v->check : "?", v ? (long long)v->t_ns : 0LL,
		      v ? v->node : 0, v ? v->detail : "");
	if (hash)
		au_sim_trace_hash(sim, hash);
	if (keep)
		*keep = sim;
	else
		au_sim_free(sim);
}

void au_test_scenario_passes(const char *path, uint64_t seed)
{
	struct au_scenario *sc = au_test_load(path);
	au_test_run_passes(sc, seed, path, NULL, NULL, NULL);
	au_scenario_free(sc);
}

void au_test_run_hash(const char *path, uint64_t seed, char out[65])
{
	struct au_scenario *sc = au_test_load(path);
	struct au_sim *sim = au_sim_new(sc, seed);
	au_sim_run(sim, sc->duration);
	au_sim_finish(sim);
	au_sim_trace_hash(sim, out);
	au_sim_free(sim);
	au_scenario_free(sc);
}

void au_test_same_hash_at_O0(const char *const *paths, size_t n, size_t step, bool must_pass)
{
	const char *o0 = getenv("AU_BIN_O0");
	if (!o0 || !*o0)
		return;
	for (size_t i = 0; i < n; i += step) {
		g_autofree char *a1 = g_strdup_printf("%s/aureon-sim run %s --json", au_test_bin(), paths[i]);
		g_autofree char *a2 = g_strdup_printf("%s/aureon-sim run %s --json", o0, paths[i]);
		char *x = NULL, *y = NULL;
		int r1 = au_test_run(a1, &x), r2 = au_test_run(a2, &y);
		g_autofree char *hx = au_test_json_hash(x), *hy = au_test_json_hash(y);
		ck_assert_msg(hx && hy && strcmp(hx, hy) == 0, "%s: -O2 %s vs -O0 %s", paths[i], hx, hy);
		if (must_pass)
			ck_assert_msg(r1 == 0 && r2 == 0 && strstr(x, "\"result\": \"pass\""),
				      "%s failed: %s", paths[i], x);
		g_free(x);
		g_free(y);
	}
}

char *au_test_forged_verdict(struct au_scenario *sc, uint32_t svc, const struct au_test_forged *ev,
			     size_t n)
{
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 0);
	for (size_t i = 0; i < n; i++)
		au_trace(au_sim_env(sim, ev[i].node, svc), ev[i].kind, ev[i].a, ev[i].b, ev[i].c);
	const struct au_violation *v = au_sim_violation(sim);
	char *out = g_strdup_printf("%s: %s", v ? v->check : "", v ? v->detail : "");
	au_sim_free(sim);
	au_scenario_free(sc);
	return out;
}
