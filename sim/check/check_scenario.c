/* check_scenario.c — how the checks plug in: the [check] group of
 * scenario files (the invariants a scenario relies on, checked against the
 * checkers this build has and the services they need, and its liveness
 * windows, which must close before the run ends), registered with the
 * scenario loader, and the checkers (check.c) registered as the engine's
 * judge.
 */
#include <string.h>

#include "check_internal.h"

static bool load_check(struct au_keys *K, struct au_scenario *sc)
{
	static const char *const keys[] = {"invariants", "liveness", "swim_false_deaths_max", NULL};
	sc->swim_false_deaths_max = -1; /* auto */
	if (!g_key_file_has_group(K->kf, "check")) {
		sc->invariants = g_new0(char *, 1);
		sc->liveness = g_new0(char *, 1);
		return true;
	}
	if (!au_keys_only(K, "check", keys, NULL))
		return false;
	g_autofree char *fdm = au_keys_value(K, "check", "swim_false_deaths_max");
	if (fdm) {
		uint64_t u;
		if (!au_cluster_spec_runs(&sc->cluster, "swim"))
			return au_keys_fail(K, "check", "swim_false_deaths_max",
				    "needs the swim service, which this scenario does not run");
		if (strcmp(fdm, "auto") != 0 && (!au_parse_u64(fdm, &u) || u > 1000000000))
			return au_keys_fail(K, "check", "swim_false_deaths_max",
				    "'%s' is not auto or a count between 0 and 1000000000", fdm);
		if (strcmp(fdm, "auto") != 0)
			sc->swim_false_deaths_max = (int64_t)u;
	}
	g_autofree char *inv = au_keys_value(K, "check", "invariants");
	sc->invariants = g_strsplit(inv ? inv : "", ",", -1);
	GPtrArray *clean = g_ptr_array_new();
	for (gsize i = 0; sc->invariants[i]; i++) {
		g_strstrip(sc->invariants[i]);
		if (!*sc->invariants[i])
			continue;
		bool known = false;
		for (const char *const *c = au_check_names; *c; c++)
			known = known || strcmp(*c, sc->invariants[i]) == 0;
		if (!known) {
			g_ptr_array_free(clean, TRUE);
			g_autoptr(GString) names = g_string_new(NULL);
			for (const char *const *c = au_check_names; *c; c++)
				g_string_append_printf(names, "%s%s", names->len ? ", " : "", *c);
			return au_keys_fail(K, "check", "invariants",
				    "unknown or not yet implemented check '%s' (this build has: %s)",
				    sc->invariants[i], names->str);
		}
		const char *needs = au_check_service(sc->invariants[i]);
		if (needs && !au_cluster_spec_runs(&sc->cluster, needs)) {
			g_ptr_array_free(clean, TRUE);
			return au_keys_fail(K, "check", "invariants", "check '%s' needs service %s, which this "
				    "scenario does not run", sc->invariants[i], needs);
		}
		g_ptr_array_add(clean, g_strdup(sc->invariants[i]));
	}
	g_ptr_array_add(clean, NULL);
	g_strfreev(sc->invariants);
	sc->invariants = (char **)g_ptr_array_free(clean, FALSE);
	g_autofree char *live = au_keys_value(K, "check", "liveness");
	sc->liveness = g_strsplit(live ? live : "", ",", -1);
	GPtrArray *keep = g_ptr_array_new();
	bool ok = true;
	for (gsize i = 0; ok && sc->liveness[i]; i++) {
		char *item = g_strstrip(sc->liveness[i]);
		au_time t;
		if (!*item)
			continue;
		/* leader_within:T and replicas_caught_up:T need raft,
		 * membership_converged:T needs swim. */
		const char *colon = strchr(item, ':');
		const char *needs = g_str_has_prefix(item, "leader_within:")          ? "raft"
				    : g_str_has_prefix(item, "replicas_caught_up:")   ? "raft"
				    : g_str_has_prefix(item, "membership_converged:") ? "swim"
										       : NULL;
		if (!needs || !au_parse_duration(colon + 1, &t) || t <= 0)
			ok = au_keys_fail(K, "check", "liveness",
				  "'%s' is not a liveness check (this build has: leader_within:DURATION, "
				  "replicas_caught_up:DURATION, membership_converged:DURATION)", item);
		else if (!au_cluster_spec_runs(&sc->cluster, needs))
			ok = au_keys_fail(K, "check", "liveness", "'%s' needs the %s service", item, needs);
		else
			g_ptr_array_add(keep, g_strdup(item));
	}
	g_ptr_array_add(keep, NULL);
	g_strfreev(sc->liveness);
	sc->liveness = (char **)g_ptr_array_free(keep, FALSE);
	return ok;
}

/* A liveness window that ends after the run is an impossible schedule. */
static bool check_liveness_window(struct au_keys *K, struct au_scenario *sc)
{
	au_time over = au_scenario_faults_over(sc);
	for (char **l = sc->liveness; l && *l; l++) {
		au_time t = 0;
		au_parse_duration(strchr(*l, ':') + 1, &t);
		if (over + t > sc->duration)
			return au_keys_fail(K, "check", "liveness",
				    "'%s': the faults end at %" G_GINT64_FORMAT " ns, so the window ends "
				    "after the run (duration %" G_GINT64_FORMAT " ns)", *l, over, sc->duration);
	}
	return true;
}

static const struct au_scenario_hook check_hook = {"check", load_check, check_liveness_window};

void au_check_register(void)
{
	au_scenario_register(&check_hook);
	au_sim_register_judge(&au_check_judge);
}
