/* chaos_config.c — the [chaos] group of scenario files: the bounds within
 * which `aureon-sim chaos` generates a fault plan per seed (chaos.h struct
 * au_chaos_config).  Read after the faults, with defaults that make every
 * scenario sweepable; registered with the scenario loader by
 * au_chaos_register.
 */
#include "chaos.h"

#include <glib.h>
#include <string.h>

/* The longest liveness window ([check] liveness = NAME:T, ...), or 0. */
static au_time longest_liveness(const struct au_scenario *sc)
{
	au_time longest = 0;
	for (char **l = sc->liveness; l && *l; l++) {
		au_time t = 0;
		const char *colon = strchr(*l, ':');
		if (colon)
			au_parse_duration(colon + 1, &t);
		if (t > longest)
			longest = t;
	}
	return longest;
}

/* [chaos]: bounds for generated fault plans (plan.c).  Defaults make
 * every scenario sweepable; what is given is checked like everything else. */
static bool load_chaos(struct au_keys *K, struct au_scenario *sc)
{
	static const char *const keys[] = {"mode",	   "max_faults",     "kinds",    "start",
					   "quiet_period", "fault_duration", "max_rate", "correlated",
					   NULL};
	struct au_chaos_config *c = sc->chaos = g_new0(struct au_chaos_config, 1);
	const char *g = "chaos";
	c->mode = AU_CHAOS_SWARM;
	c->max_faults = 12;
	c->kinds = au_chaos_default_kinds(sc);
	c->start = 0;
	au_time live = longest_liveness(sc);
	/* Room after the last fault for every liveness window, plus a second. */
	c->quiet_period = live ? live + AU_NS_PER_S : 0;
	c->fault_lo_ns = 50 * AU_NS_PER_MS;
	c->fault_hi_ns = 5 * AU_NS_PER_S;
	c->max_rate = 0.5;
	c->correlated = AU_CHAOS_CORRELATED_DEFAULT;
	c->present = g_key_file_has_group(K->kf, g);
	if (!c->present) {
		/* A scenario made only to be run may be too short for the default
		 * quiet period; `chaos` says so when it is swept. */
		if (c->quiet_period >= sc->duration)
			c->quiet_period = live;
		return true;
	}
	if (!au_keys_only(K, g, keys, NULL))
		return false;
	g_autofree char *mode = au_keys_value(K, g, "mode");
	if (mode && strcmp(mode, "unrestricted") == 0)
		c->mode = AU_CHAOS_UNRESTRICTED;
	else if (mode && strcmp(mode, "swarm") != 0)
		return au_keys_fail(K, g, "mode", "'%s' is not swarm or unrestricted", mode);
	g_autofree char *mf = au_keys_value(K, g, "max_faults");
	uint64_t u;
	if (mf && (!au_parse_u64(mf, &u) || u < 1 || u > AU_CHAOS_MAX_FAULTS))
		return au_keys_fail(K, g, "max_faults", "'%s' is not an integer in 1..%u", mf,
			    AU_CHAOS_MAX_FAULTS);
	if (mf)
		c->max_faults = (uint32_t)u;
	g_autofree char *kinds = au_keys_value(K, g, "kinds");
	if (kinds) {
		uint32_t all = au_chaos_supported_kinds(sc);
		c->kinds = 0;
		g_auto(GStrv) names = g_strsplit(kinds, ",", -1);
		for (gsize i = 0; names[i]; i++) {
			const char *n = g_strstrip(names[i]);
			if (!*n)
				continue;
			if (strcmp(n, "all") == 0) {
				c->kinds |= all;
				continue;
			}
			if (strcmp(n, "default") == 0) {
				c->kinds |= au_chaos_default_kinds(sc);
				continue;
			}
			int k = au_chaos_kind_from_name(n);
			if (k < 0) {
				g_autofree char *list = au_chaos_kind_list(UINT32_MAX);
				return au_keys_fail(K, g, "kinds", "unknown fault kind '%s' (known: %s, or all, default)",
					    n, list);
			}
			if (!(all & (1u << k)))
				return au_keys_fail(K, g, "kinds", "fault kind '%s' needs a service this scenario "
					    "does not run (%s)", n,
					    k == AU_CK_LEAVE ? "swim"
					    : k == AU_CK_LOCK_PAUSE ? "raft and aureon with [workload] lock_keys"
					    : k == AU_CK_DRAIN || k >= AU_CK_HOLDER_PAUSE ? "raft and aureon"
											  : "raft");
			c->kinds |= 1u << k;
		}
		if (c->kinds == 0)
			return au_keys_fail(K, g, "kinds", "names no fault kind");
	}
	if (!au_keys_duration(K, g, "start", &c->start, false) ||
	    !au_keys_duration(K, g, "quiet_period", &c->quiet_period, false))
		return false;
	if (au_keys_has(K, g, "quiet_period") && c->quiet_period < live)
		return au_keys_fail(K, g, "quiet_period",
			    "is shorter than the liveness window %" G_GINT64_FORMAT " ns of [check] "
			    "liveness: generated faults could end too late for it", live);
	if (c->start + c->quiet_period >= sc->duration)
		return au_keys_fail(K, g, au_keys_has(K, g, "start") ? "start" : "quiet_period",
			    "start + quiet_period (%" G_GINT64_FORMAT " ns) leaves no time for faults "
			    "in a run of %" G_GINT64_FORMAT " ns", c->start + c->quiet_period,
			    sc->duration);
	g_autofree char *fd = au_keys_value(K, g, "fault_duration");
	if (fd) {
		g_auto(GStrv) parts = g_strsplit(fd, "..", 2);
		au_time r[2];
		if (g_strv_length(parts) != 2 || !au_parse_duration(g_strstrip(parts[0]), &r[0]) ||
		    !au_parse_duration(g_strstrip(parts[1]), &r[1]) || r[0] <= 0 || r[1] < r[0])
			return au_keys_fail(K, g, "fault_duration",
				    "'%s' is not a duration range lo..hi with 0 < lo <= hi (e.g. 50ms..5s)", fd);
		c->fault_lo_ns = r[0];
		c->fault_hi_ns = r[1];
	}
	if (!au_keys_prob(K, g, "max_rate", &c->max_rate, false))
		return false;
	if (c->max_rate <= 0.0)
		return au_keys_fail(K, g, "max_rate", "must be above 0");
	return au_keys_prob(K, g, "correlated", &c->correlated, false);
}

static const struct au_scenario_hook chaos_hook = {"chaos", NULL, load_chaos};

void au_chaos_register(void)
{
	au_scenario_register(&chaos_hook);
}
