/* render.c — a plan as scenario text: every planned fault written out as
 * a [fault.chaos-NN-KIND] group in the original text, so a reproducer is
 * byte for byte the scenario that ran (see chaos.h).
 */
#include "chaos.h"

#include <glib.h>
#include <string.h>

static void put_duration(GString *s, const char *key, au_time t)
{
	char buf[40];
	au_format_duration(t < 0 ? -t : t, buf, sizeof(buf));
	g_string_append_printf(s, "%s = %s%s\n", key, t < 0 ? "-" : "", buf);
}

static void target_text(const struct au_target *t, char *buf, size_t len)
{
	switch (t->kind) {
	case AU_TARGET_LEADER:
		g_strlcpy(buf, "leader", len);
		break;
	case AU_TARGET_RANDOM:
		g_strlcpy(buf, "random", len);
		break;
	case AU_TARGET_REST:
		g_strlcpy(buf, "rest", len);
		break;
	case AU_TARGET_LEASE_HOLDER:
		g_strlcpy(buf, "lease_holder", len);
		break;
	case AU_TARGET_LOCK_HOLDER:
		g_strlcpy(buf, "lock_holder", len);
		break;
	default:
		g_snprintf(buf, len, "n%u", t->node);
		break;
	}
}

char *au_chaos_fault_text(const char *name, const struct au_fault *f)
{
	GString *s = g_string_new(NULL);
	char buf[64];
	g_string_append_printf(s, "[fault.%s]\n", name);
	g_string_append_printf(s, "action = %s\n", au_fault_action_name(f->action));
	put_duration(s, "at", f->at);
	if (f->has_link) {
		g_string_append_printf(s, "link = n%u-n%u\n", f->link_a, f->link_b);
	} else if (f->action != AU_FAULT_PARTITION && f->action != AU_FAULT_HEAL) {
		target_text(&f->target, buf, sizeof(buf));
		g_string_append_printf(s, "target = %s\n", buf);
	}
	switch (f->action) {
	case AU_FAULT_CRASH:
		if (f->restart_after >= 0)
			put_duration(s, "restart_after", f->restart_after);
		break;
	case AU_FAULT_PARTITION:
		g_string_append(s, "groups = ");
		for (uint32_t grp = 1; grp <= f->n_groups; grp++) {
			if (grp > 1)
				g_string_append(s, " | ");
			bool first = true;
			for (uint32_t m = 0; m < f->n_members; m++) {
				if (f->members[m].group != grp)
					continue;
				target_text(&f->members[m].who, buf, sizeof(buf));
				g_string_append_printf(s, "%s%s", first ? "" : ",", buf);
				first = false;
			}
		}
		g_string_append_c(s, '\n');
		if (f->oneway)
			g_string_append(s, "oneway = true\n");
		break;
	case AU_FAULT_CLOG:
		if (f->extra >= 0)
			put_duration(s, "extra", f->extra);
		break;
	case AU_FAULT_LOSS:
	case AU_FAULT_CORRUPT:
	case AU_FAULT_DUPLICATE: {
		/* Generated rates are thousandths: write them so; anything else
		 * exactly (round trip). */
		char num[G_ASCII_DTOSTR_BUF_SIZE];
		g_ascii_formatd(num, sizeof(num), "%.3f", f->rate);
		if (g_ascii_strtod(num, NULL) != f->rate)
			g_ascii_dtostr(num, sizeof(num), f->rate);
		g_string_append_printf(s, "rate = %s\n", num);
		break;
	}
	case AU_FAULT_SKEW:
		if (f->skew)
			put_duration(s, "skew", f->skew);
		if (f->drift_ppm || !f->skew)
			g_string_append_printf(s, "drift = %" G_GINT64_FORMAT "ppm\n", f->drift_ppm);
		break;
	case AU_FAULT_DISK:
		g_string_append_printf(s, "kind = %s\n", au_disk_fault_kind_name(f->disk_kind));
		if (f->disk_kind == AU_DISK_SLOW_SYNC)
			put_duration(s, "extra", f->slow_extra);
		if ((f->disk_kind == AU_DISK_WRITE_ERROR || f->disk_kind == AU_DISK_SYNC_ERROR) &&
		    f->rate < 1.0) {
			char num[G_ASCII_DTOSTR_BUF_SIZE];
			g_ascii_dtostr(num, sizeof(num), f->rate);
			g_string_append_printf(s, "rate = %s\n", num);
		}
		break;
	default:
		break;
	}
	if (f->until >= 0)
		put_duration(s, "until", f->until);
	return g_string_free(s, FALSE);
}

char *au_chaos_render(const struct au_scenario *sc, const struct au_chaos_plan *plan,
		      const char *header)
{
	struct au_ini *ini = au_ini_parse(sc->text);
	char seed[32];
	g_snprintf(seed, sizeof(seed), "%" G_GUINT64_FORMAT, plan->seed);
	au_ini_set(ini, "run", "seed", seed);
	au_ini_comment_group(ini, "chaos", "[chaos] bounds the generator; the plan it made is spelled "
					   "out below, so the group is off here:");
	if (plan->drop_liveness) {
		au_ini_set(ini, "check", "liveness", "");
		au_ini_append(ini, "# (unrestricted chaos: no quiet period, so liveness checks are off)");
	}
	if (plan->n_faults) {
		g_autofree char *kinds = au_chaos_kind_list(plan->enabled);
		g_autofree char *chains =
			plan->chains ? g_strdup_printf("; %u correlated chain%s: *-then-crash", plan->chains,
						       plan->chains == 1 ? "" : "s")
				     : g_strdup("");
		g_autofree char *line = g_strdup_printf(
			"# ---- chaos plan of seed %" G_GUINT64_FORMAT ": %u faults (kinds on for this "
			"seed: %s%s)", plan->seed, plan->n_faults, kinds, chains);
		au_ini_append(ini, "");
		au_ini_append(ini, line);
	}
	for (uint32_t i = 0; i < plan->n_faults; i++) {
		const struct au_fault *f = &plan->faults[i];
		g_autofree char *name = g_strdup(f->name);
		g_autofree char *group = g_strdup_printf("fault.%s", name);
		/* A name the scenario already uses gets a suffix. */
		while (au_ini_has_group(ini, group)) {
			char *longer = g_strconcat(name, "-x", NULL);
			g_free(name);
			name = longer;
			g_free(group);
			group = g_strdup_printf("fault.%s", name);
		}
		g_autofree char *text = au_chaos_fault_text(name, f);
		if (i > 0)
			au_ini_append(ini, "");
		au_ini_append(ini, text);
	}
	if (header)
		au_ini_prepend_comment(ini, header);
	char *out = au_ini_to_text(ini);
	au_ini_free(ini);
	return out;
}
