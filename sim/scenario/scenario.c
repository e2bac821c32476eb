/* scenario.c — loading and validating scenario files (GLib key files).
 *
 * Every value is parsed strictly: units are required on durations,
 * trailing garbage is rejected, numbers are range-checked, and every error
 * names the file, the group and the key.  Inline comments (" # ...") after
 * a value are allowed, as in DESIGN.md's examples.  The reading itself is
 * config/'s (values, keys, [cluster] and the services' groups); here are
 * [run], [network], [disk], the faults, and the order in which the groups
 * of registered modules ([check], [trace], [chaos]) are read.
 */
#include "scenario.h"

#include <glib.h>
#include <string.h>

/* ---- the loader ---------------------------------------------------------- */

/* A scenario file being read: the key file, and the scenario it fills. */
struct loader {
	struct au_keys K;
	struct au_scenario *sc;
};

static const struct au_scenario_hook *hooks[AU_SCENARIO_MAX_HOOKS];
static size_t n_hooks;

void au_scenario_register(const struct au_scenario_hook *hook)
{
	for (size_t i = 0; i < n_hooks; i++)
		if (hooks[i] == hook)
			return;
	g_assert(n_hooks < AU_SCENARIO_MAX_HOOKS);
	hooks[n_hooks++] = hook;
}

static bool has_service(const struct au_scenario *sc, const char *name)
{
	return au_cluster_spec_runs(&sc->cluster, name);
}

/* [run], [network] and [disk] take these keys and no more. */
static bool only_keys(struct loader *L, const char *group, const char *const *keys)
{
	return au_keys_only(&L->K, group, keys, NULL);
}

static bool load_run(struct loader *L)
{
	static const char *const keys[] = {"name", "seed", "duration", NULL};
	struct au_scenario *sc = L->sc;
	if (!g_key_file_has_group(L->K.kf, "run"))
		return au_keys_fail(&L->K, "run", NULL, "missing group (needs at least duration)");
	if (!only_keys(L, "run", keys))
		return false;
	g_autofree char *name = au_keys_value(&L->K, "run", "name");
	sc->name = name ? g_strdup(name) : g_path_get_basename(L->K.path);
	g_autofree char *seed = au_keys_value(&L->K, "run", "seed");
	if (seed && !au_parse_u64(seed, &sc->seed))
		return au_keys_fail(&L->K, "run", "seed", "'%s' is not a non-negative integer below 2^64", seed);
	if (!au_keys_duration(&L->K, "run", "duration", &sc->duration, true))
		return false;
	if (sc->duration <= 0)
		return au_keys_fail(&L->K, "run", "duration", "must be longer than 0");
	return true;
}

static bool load_network(struct loader *L)
{
	static const char *const keys[] = {"latency", "loss", "duplicate", "bandwidth", NULL};
	struct au_scenario *sc = L->sc;
	const char *why;
	au_parse_dist("uniform(1ms,5ms)", &sc->latency, &why);
	if (!g_key_file_has_group(L->K.kf, "network"))
		return true;
	if (!only_keys(L, "network", keys))
		return false;
	g_autofree char *lat = au_keys_value(&L->K, "network", "latency");
	if (lat && !au_parse_dist(lat, &sc->latency, &why))
		return au_keys_fail(&L->K, "network", "latency", "'%s': %s", lat, why);
	if (!au_keys_prob(&L->K, "network", "loss", &sc->loss, false) ||
	    !au_keys_prob(&L->K, "network", "duplicate", &sc->duplicate, false))
		return false;
	g_autofree char *bw = au_keys_value(&L->K, "network", "bandwidth");
	if (bw && !au_parse_bandwidth(bw, &sc->bandwidth_bps))
		return au_keys_fail(&L->K, "network", "bandwidth",
			    "'%s' is not a bandwidth (a positive number with bit, kbit, Mbit or Gbit)",
			    bw);
	return true;
}

static bool load_disk(struct loader *L)
{
	static const char *const keys[] = {"sync_latency", "capacity", NULL};
	struct au_scenario *sc = L->sc;
	const char *why;
	au_parse_dist("uniform(1ms,3ms)", &sc->sync_latency, &why);
	if (!g_key_file_has_group(L->K.kf, "disk"))
		return true;
	if (!only_keys(L, "disk", keys))
		return false;
	g_autofree char *v = au_keys_value(&L->K, "disk", "sync_latency");
	if (v && !au_parse_dist(v, &sc->sync_latency, &why))
		return au_keys_fail(&L->K, "disk", "sync_latency", "'%s': %s", v, why);
	g_autofree char *cap = au_keys_value(&L->K, "disk", "capacity");
	if (cap && strcmp(cap, "unlimited") != 0 && !au_parse_bytes(cap, &sc->disk_capacity))
		return au_keys_fail(&L->K, "disk", "capacity",
			    "'%s' is not a size (a positive number with B, KB, MB, GB, KiB, MiB or GiB) "
			    "or unlimited", cap);
	return true;
}

/* ---- faults ---------------------------------------------------------------- */

static const char *const action_names[AU_FAULT_ACTIONS_] = {
	"crash", "restart", "partition", "heal", "clog", "loss",
	"pause", "resume", "skew", "disk_fault", "corrupt",
	"transfer_leader", "add_voter", "remove_voter", "leave", "drain", "duplicate",
};

const char *au_fault_action_name(enum au_fault_action a)
{
	return (unsigned)a < AU_FAULT_ACTIONS_ ? action_names[a] : "?";
}

static const char *const disk_kind_names[] = {
	[AU_DISK_READ_ERROR] = "read_error", [AU_DISK_CORRUPT] = "corrupt",
	[AU_DISK_SLOW_SYNC] = "slow_sync",   [AU_DISK_FULL] = "disk_full",
	[AU_DISK_WRITE_ERROR] = "write_error", [AU_DISK_SYNC_ERROR] = "sync_error",
};

const char *au_disk_fault_kind_name(enum au_disk_fault_kind k)
{
	return (unsigned)k < G_N_ELEMENTS(disk_kind_names) ? disk_kind_names[k] : "?";
}

static const char *const action_keys[AU_FAULT_ACTIONS_][9] = {
	[AU_FAULT_CRASH] = {"at", "action", "target", "restart_after", NULL},
	[AU_FAULT_RESTART] = {"at", "action", "target", NULL},
	[AU_FAULT_PARTITION] = {"at", "action", "groups", "oneway", "until", NULL},
	[AU_FAULT_HEAL] = {"at", "action", NULL},
	[AU_FAULT_CLOG] = {"at", "action", "target", "link", "extra", "until", NULL},
	[AU_FAULT_LOSS] = {"at", "action", "target", "link", "rate", "until", NULL},
	[AU_FAULT_PAUSE] = {"at", "action", "target", "until", NULL},
	[AU_FAULT_RESUME] = {"at", "action", "target", NULL},
	[AU_FAULT_SKEW] = {"at", "action", "target", "skew", "drift", "until", NULL},
	[AU_FAULT_DISK] = {"at", "action", "target", "kind", "extra", "rate", "until", NULL},
	[AU_FAULT_CORRUPT] = {"at", "action", "target", "link", "rate", "until", NULL},
	[AU_FAULT_TRANSFER] = {"at", "action", "target", NULL},
	[AU_FAULT_ADD_VOTER] = {"at", "action", "target", NULL},
	[AU_FAULT_REMOVE_VOTER] = {"at", "action", "target", NULL},
	[AU_FAULT_LEAVE] = {"at", "action", "target", NULL},
	[AU_FAULT_DRAIN] = {"at", "action", "target", "until", NULL},
	[AU_FAULT_DUPLICATE] = {"at", "action", "target", "link", "rate", "until", NULL},
};


static bool parse_target(struct loader *L, const char *g, const char *k, const char *text,
			 struct au_target *t, bool allow_rest)
{
	if (strcmp(text, "leader") == 0) {
		if (!has_service(L->sc, "raft"))
			return au_keys_fail(&L->K, g, k, "'leader' needs a service that elects one (raft), "
					     "which this scenario does not run");
		t->kind = AU_TARGET_LEADER;
		return true;
	}
	if (strcmp(text, "random") == 0 && !allow_rest) {
		t->kind = AU_TARGET_RANDOM;
		return true;
	}
	if (strcmp(text, "rest") == 0 && allow_rest) {
		t->kind = AU_TARGET_REST;
		return true;
	}
	if ((strcmp(text, "lease_holder") == 0 || strcmp(text, "lock_holder") == 0) && !allow_rest) {
		if (!has_service(L->sc, "aureon"))
			return au_keys_fail(&L->K, g, k, "'%s' needs the execution layer (aureon), which this "
					     "scenario does not run", text);
		t->kind = text[1] == 'e' ? AU_TARGET_LEASE_HOLDER : AU_TARGET_LOCK_HOLDER;
		return true;
	}
	if (au_parse_node(text, L->sc->cluster.nodes, &t->node)) {
		t->kind = AU_TARGET_NODE;
		return true;
	}
	return au_keys_fail(&L->K, g, k, "'%s' is not %s", text,
		    allow_rest ? "a node n1..nN, leader or rest"
			       : "a node n1..nN, leader, random, lease_holder or lock_holder");
}

static bool parse_groups(struct loader *L, const char *g, struct au_fault *f)
{
	g_autofree char *v = au_keys_value(&L->K, g, "groups");
	if (!v)
		return au_keys_fail(&L->K, g, "groups", "missing (e.g. groups = n1,n2 | n3,n4,n5)");
	g_auto(GStrv) groups = g_strsplit(v, "|", -1);
	guint ng = g_strv_length(groups);
	if (ng < 2)
		return au_keys_fail(&L->K, g, "groups", "'%s' needs at least two groups separated by |", v);
	GArray *members = g_array_new(FALSE, FALSE, sizeof(struct au_group_member));
	bool *seen = g_new0(bool, (gsize)L->sc->cluster.nodes + 1);
	bool ok = true, rest = false, leader = false;
	for (guint gi = 0; ok && gi < ng; gi++) {
		g_auto(GStrv) names = g_strsplit(groups[gi], ",", -1);
		guint count = 0;
		for (guint i = 0; ok && names[i]; i++) {
			g_strstrip(names[i]);
			if (!*names[i])
				continue;
			struct au_group_member m = {.group = gi + 1};
			ok = parse_target(L, g, "groups", names[i], &m.who, true);
			if (!ok)
				break;
			bool *flag = m.who.kind == AU_TARGET_REST ? &rest
				     : m.who.kind == AU_TARGET_LEADER ? &leader
									: &seen[m.who.node];
			if (*flag)
				ok = au_keys_fail(&L->K, g, "groups", "'%s' appears twice", names[i]);
			*flag = true;
			g_array_append_val(members, m);
			count++;
		}
		if (ok && count == 0)
			ok = au_keys_fail(&L->K, g, "groups", "group %u of '%s' is empty", gi + 1, v);
	}
	g_free(seen);
	f->n_groups = ng;
	f->n_members = members->len;
	f->members = (struct au_group_member *)g_array_free(members, FALSE);
	return ok;
}

static bool parse_link(struct loader *L, const char *g, struct au_fault *f)
{
	g_autofree char *v = au_keys_value(&L->K, g, "link");
	g_auto(GStrv) ends = g_strsplit(v, "-", -1);
	if (g_strv_length(ends) != 2 || !au_parse_node(g_strstrip(ends[0]), L->sc->cluster.nodes, &f->link_a) ||
	    !au_parse_node(g_strstrip(ends[1]), L->sc->cluster.nodes, &f->link_b) || f->link_a == f->link_b)
		return au_keys_fail(&L->K, g, "link", "'%s' is not a link nA-nB between two nodes of n1..n%u", v,
			    L->sc->cluster.nodes);
	f->has_link = true;
	return true;
}

static bool load_fault(struct loader *L, const char *g, struct au_fault *f)
{
	f->name = g_strdup(g + strlen("fault."));
	f->until = -1;
	f->restart_after = -1;
	f->extra = -1;
	if (!*f->name)
		return au_keys_fail(&L->K, g, NULL, "a fault group needs a name: [fault.NAME]");
	g_autofree char *action = au_keys_value(&L->K, g, "action");
	if (!action)
		return au_keys_fail(&L->K, g, "action", "missing (crash, restart, partition, heal, clog, loss, "
					    "duplicate, pause, resume, skew, disk_fault, corrupt, transfer_leader, "
					    "add_voter, remove_voter, leave or drain)");
	int a = -1;
	for (int i = 0; i < AU_FAULT_ACTIONS_; i++)
		if (strcmp(action, action_names[i]) == 0)
			a = i;
	if (a < 0)
		return au_keys_fail(&L->K, g, "action", "unknown action '%s' (crash, restart, partition, heal, "
					    "clog, loss, duplicate, pause, resume, skew, disk_fault, corrupt, "
					    "transfer_leader, add_voter, remove_voter, leave or drain)", action);
	f->action = (enum au_fault_action)a;
	if (a >= AU_FAULT_TRANSFER && a <= AU_FAULT_REMOVE_VOTER && !has_service(L->sc, "raft"))
		return au_keys_fail(&L->K, g, "action", "%s needs the raft service", action);
	if (a == AU_FAULT_LEAVE && !has_service(L->sc, "swim"))
		return au_keys_fail(&L->K, g, "action", "%s needs the swim service", action);
	if (a == AU_FAULT_DRAIN && (!has_service(L->sc, "aureon") || !has_service(L->sc, "raft")))
		return au_keys_fail(&L->K, g, "action", "drain needs the raft and aureon services");
	g_auto(GStrv) keys = g_key_file_get_keys(L->K.kf, g, NULL, NULL);
	for (gsize i = 0; keys && keys[i]; i++) {
		bool ok = false;
		for (const char *const *k = action_keys[a]; *k; k++)
			ok = ok || strcmp(*k, keys[i]) == 0;
		if (!ok)
			return au_keys_fail(&L->K, g, keys[i], "not a key of action %s", action);
	}
	if (!au_keys_duration(&L->K, g, "at", &f->at, true))
		return false;
	if (f->at > L->sc->duration)
		return au_keys_fail(&L->K, g, "at", "fires after the run ends (duration is %" G_GINT64_FORMAT " ns)",
			    L->sc->duration);
	if (au_keys_has(&L->K, g, "until")) {
		if (!au_keys_duration(&L->K, g, "until", &f->until, true))
			return false;
		if (f->until <= f->at)
			return au_keys_fail(&L->K, g, "until", "must be later than at");
	}
	bool node_target = f->action != AU_FAULT_PARTITION && f->action != AU_FAULT_HEAL;
	bool link_ok = f->action == AU_FAULT_CLOG || f->action == AU_FAULT_LOSS ||
		       f->action == AU_FAULT_CORRUPT || f->action == AU_FAULT_DUPLICATE;
	if (node_target) {
		bool t = au_keys_has(&L->K, g, "target"), l = au_keys_has(&L->K, g, "link");
		if (t && l)
			return au_keys_fail(&L->K, g, "link", "give either target or link, not both");
		if (l && !parse_link(L, g, f))
			return false;
		if (!t && !l)
			return au_keys_fail(&L->K, g, "target", link_ok ? "missing (target = nK|leader|random, or link = nA-nB)"
							    : "missing (target = nK|leader|random)");
		if (t) {
			g_autofree char *tv = au_keys_value(&L->K, g, "target");
			if (!parse_target(L, g, "target", tv, &f->target, false))
				return false;
		}
	}
	switch (f->action) {
	case AU_FAULT_CRASH:
		if (au_keys_has(&L->K, g, "restart_after") &&
		    !au_keys_duration(&L->K, g, "restart_after", &f->restart_after, true))
			return false;
		if (au_keys_has(&L->K, g, "restart_after") && f->restart_after == 0)
			return au_keys_fail(&L->K, g, "restart_after", "must be longer than 0");
		break;
	case AU_FAULT_PARTITION:
		if (!parse_groups(L, g, f) || !au_keys_bool(&L->K, g, "oneway", &f->oneway))
			return false;
		if (f->oneway && f->n_groups != 2)
			return au_keys_fail(&L->K, g, "oneway", "a one-way partition needs exactly two groups");
		break;
	case AU_FAULT_CLOG:
		if (au_keys_has(&L->K, g, "extra")) {
			if (!au_keys_duration(&L->K, g, "extra", &f->extra, true))
				return false;
			if (f->extra == 0)
				return au_keys_fail(&L->K, g, "extra", "must be longer than 0 (omit it to hold messages)");
		}
		break;
	case AU_FAULT_LOSS:
	case AU_FAULT_CORRUPT:
	case AU_FAULT_DUPLICATE:
		if (!au_keys_prob(&L->K, g, "rate", &f->rate, true))
			return false;
		break;
	case AU_FAULT_SKEW: {
		g_autofree char *sk = au_keys_value(&L->K, g, "skew");
		g_autofree char *dr = au_keys_value(&L->K, g, "drift");
		if (!sk && !dr)
			return au_keys_fail(&L->K, g, "skew", "missing: give skew = ±duration and/or drift = ±ppm");
		if (sk) {
			bool neg = sk[0] == '-';
			const char *body = (sk[0] == '-' || sk[0] == '+') ? sk + 1 : sk;
			if (!au_parse_duration(body, &f->skew))
				return au_keys_fail(&L->K, g, "skew", "'%s' is not a signed duration (e.g. -200ms)", sk);
			if (neg)
				f->skew = -f->skew;
		}
		if (dr) {
			bool neg = dr[0] == '-';
			const char *body = (dr[0] == '-' || dr[0] == '+') ? dr + 1 : dr;
			size_t bl = strlen(body);
			g_autofree char *num = g_strdup(body);
			if (bl > 3 && strcmp(body + bl - 3, "ppm") == 0)
				num[bl - 3] = '\0';
			uint64_t ppm;
			if (!au_parse_u64(num, &ppm) || ppm >= 1000000)
				return au_keys_fail(&L->K, g, "drift", "'%s' is not a drift in ppm between -999999 and 999999", dr);
			f->drift_ppm = neg ? -(int64_t)ppm : (int64_t)ppm;
		}
		break;
	}
	case AU_FAULT_DISK: {
		const char *const *kinds = disk_kind_names;
		const size_t n_kinds = G_N_ELEMENTS(disk_kind_names);
		const char *all = "read_error, corrupt, slow_sync, disk_full, write_error or sync_error";
		g_autofree char *k = au_keys_value(&L->K, g, "kind");
		if (!k)
			return au_keys_fail(&L->K, g, "kind", "missing (%s)", all);
		size_t kind = n_kinds;
		for (size_t i = 0; i < n_kinds; i++)
			if (strcmp(k, kinds[i]) == 0)
				kind = i;
		if (kind == n_kinds)
			return au_keys_fail(&L->K, g, "kind", "'%s' is not %s", k, all);
		f->disk_kind = (enum au_disk_fault_kind)kind;
		f->slow_extra = 100 * AU_NS_PER_MS;
		if (au_keys_has(&L->K, g, "extra")) {
			if (f->disk_kind != AU_DISK_SLOW_SYNC)
				return au_keys_fail(&L->K, g, "extra", "only slow_sync takes extra");
			if (!au_keys_duration(&L->K, g, "extra", &f->slow_extra, true))
				return false;
		}
		if (f->disk_kind == AU_DISK_WRITE_ERROR || f->disk_kind == AU_DISK_SYNC_ERROR)
			f->rate = 1.0; /* every operation fails unless a rate says otherwise */
		if (au_keys_has(&L->K, g, "rate")) {
			if (f->disk_kind != AU_DISK_WRITE_ERROR && f->disk_kind != AU_DISK_SYNC_ERROR)
				return au_keys_fail(&L->K, g, "rate", "only write_error and sync_error take rate");
			if (!au_keys_prob(&L->K, g, "rate", &f->rate, true))
				return false;
			if (f->rate <= 0.0)
				return au_keys_fail(&L->K, g, "rate", "a rate of 0 fails nothing; leave the fault out");
		}
		if (f->disk_kind == AU_DISK_CORRUPT && f->until >= 0)
			return au_keys_fail(&L->K, g, "until", "a corrupted sector stays corrupted; corrupt takes no until");
		break;
	}
	default:
		break;
	}
	return true;
}

static gint fault_cmp(gconstpointer pa, gconstpointer pb)
{
	const struct au_fault *a = pa, *b = pb;
	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return a->file_order < b->file_order ? -1 : a->file_order > b->file_order;
}

/* Node-state transitions implied by explicit nK faults, for the
 * contradiction check. */
struct transition {
	au_time t;
	uint32_t order;
	uint32_t fault;
	au_node_id node;
	enum { T_CRASH, T_RESTART, T_PAUSE, T_RESUME } kind;
};

static gint transition_cmp(gconstpointer pa, gconstpointer pb)
{
	const struct transition *a = pa, *b = pb;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* A crash of a node that is already down, a restart of a running node, a
 * pause of a down or paused node, a resume of a running one: errors. */
static bool check_schedule(struct loader *L)
{
	struct au_scenario *sc = L->sc;
	GArray *tr = g_array_new(FALSE, FALSE, sizeof(struct transition));
	uint32_t order = 0;
	for (uint32_t i = 0; i < sc->n_faults; i++) {
		const struct au_fault *f = &sc->faults[i];
		if (f->target.kind != AU_TARGET_NODE)
			continue;
		struct transition t = {f->at, order++, i, f->target.node, T_CRASH};
		switch (f->action) {
		case AU_FAULT_CRASH:
			g_array_append_val(tr, t);
			if (f->restart_after >= 0) {
				struct transition r = {f->at + f->restart_after, order++, i, f->target.node,
						       T_RESTART};
				g_array_append_val(tr, r);
			}
			break;
		case AU_FAULT_RESTART:
			t.kind = T_RESTART;
			g_array_append_val(tr, t);
			break;
		case AU_FAULT_PAUSE:
			t.kind = T_PAUSE;
			g_array_append_val(tr, t);
			if (f->until >= 0) {
				struct transition r = {f->until, order++, i, f->target.node, T_RESUME};
				g_array_append_val(tr, r);
			}
			break;
		case AU_FAULT_RESUME:
			t.kind = T_RESUME;
			g_array_append_val(tr, t);
			break;
		default:
			break;
		}
	}
	g_array_sort(tr, transition_cmp);
	uint8_t *down = g_new0(uint8_t, (gsize)sc->cluster.nodes + 1);
	uint8_t *paused = g_new0(uint8_t, (gsize)sc->cluster.nodes + 1);
	bool ok = true;
	for (guint i = 0; ok && i < tr->len; i++) {
		const struct transition *t = &g_array_index(tr, struct transition, i);
		g_autofree char *g = g_strdup_printf("fault.%s", sc->faults[t->fault].name);
		switch (t->kind) {
		case T_CRASH:
			if (down[t->node])
				ok = au_keys_fail(&L->K, g, "target", "crashes n%u, which is already down then", t->node);
			down[t->node] = 1;
			paused[t->node] = 0;
			break;
		case T_RESTART:
			if (!down[t->node])
				ok = au_keys_fail(&L->K, g, sc->faults[t->fault].action == AU_FAULT_CRASH ? "restart_after" : "target",
					  "restarts n%u, which is running then", t->node);
			down[t->node] = 0;
			break;
		case T_PAUSE:
			if (down[t->node] || paused[t->node])
				ok = au_keys_fail(&L->K, g, "target", "pauses n%u, which is %s then", t->node,
					  down[t->node] ? "down" : "already paused");
			paused[t->node] = 1;
			break;
		case T_RESUME:
			/* A pause's own `until` after a crash is harmless. */
			if (!paused[t->node] && sc->faults[t->fault].action == AU_FAULT_RESUME)
				ok = au_keys_fail(&L->K, g, "target", "resumes n%u, which is not paused then", t->node);
			paused[t->node] = 0;
			break;
		}
	}
	g_free(down);
	g_free(paused);
	g_array_free(tr, TRUE);
	return ok;
}

static bool load_faults(struct loader *L)
{
	struct au_scenario *sc = L->sc;
	g_auto(GStrv) groups = g_key_file_get_groups(L->K.kf, NULL);
	GArray *faults = g_array_new(FALSE, TRUE, sizeof(struct au_fault));
	bool ok = true;
	for (gsize i = 0; ok && groups[i]; i++) {
		if (!g_str_has_prefix(groups[i], "fault."))
			continue;
		struct au_fault f = {0};
		f.file_order = faults->len;
		ok = load_fault(L, groups[i], &f);
		g_array_append_val(faults, f);
	}
	g_array_sort(faults, fault_cmp);
	sc->n_faults = faults->len;
	sc->faults = (struct au_fault *)g_array_free(faults, FALSE);
	return ok && check_schedule(L);
}

au_time au_scenario_faults_over(const struct au_scenario *sc)
{
	au_time over = 0;
	for (uint32_t i = 0; i < sc->n_faults; i++) {
		const struct au_fault *f = &sc->faults[i];
		au_time end = f->until >= 0 ? f->until : f->at;
		if (f->action == AU_FAULT_CRASH && f->restart_after >= 0)
			end = f->at + f->restart_after;
		if (end > over)
			over = end;
	}
	return over;
}

/* Every group is the loader's own, a registered module's, a fault or a
 * running service's. */
static bool check_groups(struct loader *L)
{
	static const char *const fixed[] = {"run", "cluster", "network", "disk", NULL};
	g_auto(GStrv) groups = g_key_file_get_groups(L->K.kf, NULL);
	for (gsize i = 0; groups[i]; i++) {
		bool ok = g_str_has_prefix(groups[i], "fault.");
		for (const char *const *f = fixed; *f; f++)
			ok = ok || strcmp(*f, groups[i]) == 0;
		for (size_t h = 0; h < n_hooks; h++)
			ok = ok || strcmp(hooks[h]->group, groups[i]) == 0;
		if (ok)
			continue;
		int svc = au_cluster_spec_service_group(&L->K, &L->sc->cluster, groups[i]);
		if (svc > 0)
			continue;
		if (svc < 0)
			return false;
		g_autoptr(GString) known = g_string_new(NULL);
		for (const char *const *f = fixed; *f; f++)
			g_string_append_printf(known, "%s, ", *f);
		for (size_t h = 0; h < n_hooks; h++)
			g_string_append_printf(known, "%s, ", hooks[h]->group);
		return au_keys_fail(&L->K, groups[i], NULL,
				    "unknown group (known: %sfault.NAME, and one per service)",
				    known->str);
	}
	return true;
}

/* The services' groups, then the client nodes they ask for. */
static bool load_services(struct loader *L)
{
	struct au_scenario *sc = L->sc;
	for (uint32_t i = 0; i < sc->cluster.n_services; i++) {
		if (!au_cluster_spec_load_service(&L->K, &sc->cluster, i))
			return false;
		const struct au_model *m = sc->cluster.services[i];
		if (m->client_side && m->client_nodes) {
			uint32_t c = m->client_nodes(sc->cluster.service_config[i]);
			if (c > sc->clients)
				sc->clients = c;
		}
	}
	if ((uint64_t)sc->cluster.nodes + sc->clients > AU_MAX_NODES)
		return au_keys_fail(&L->K, "workload", NULL, "too many nodes with the client nodes");
	return true;
}

/* The registered modules' groups, before the services' (load) or after
 * the faults (after_faults). */
static bool run_hooks(struct loader *L, bool after_faults)
{
	for (size_t h = 0; h < n_hooks; h++) {
		bool (*fn)(struct au_keys *, struct au_scenario *) =
			after_faults ? hooks[h]->after_faults : hooks[h]->load;
		if (fn && !fn(&L->K, L->sc))
			return false;
	}
	return true;
}

struct au_scenario *au_scenario_load_text(const char *path, const char *text, char **err)
{
	struct loader L = {.K = {.path = path}};
	L.K.kf = g_key_file_new();
	L.sc = g_new0(struct au_scenario, 1);
	L.sc->path = g_strdup(path);
	L.sc->text = g_strdup(text);
	if (au_keys_load_text(&L.K, text)) {
		(void)(load_run(&L) && au_cluster_spec_load(&L.K, &L.sc->cluster) &&
		       check_groups(&L) && load_network(&L) && load_disk(&L) &&
		       run_hooks(&L, false) && load_services(&L) && load_faults(&L) &&
		       run_hooks(&L, true));
	}
	g_key_file_free(L.K.kf);
	if (L.K.err) {
		*err = L.K.err;
		au_scenario_free(L.sc);
		return NULL;
	}
	return L.sc;
}

struct au_scenario *au_scenario_load(const char *path, char **err)
{
	g_autofree char *text = NULL;
	GError *gerr = NULL;
	if (!g_file_get_contents(path, &text, NULL, &gerr)) {
		*err = g_strdup_printf("%s: cannot read scenario: %s", path, gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	if (!g_utf8_validate(text, -1, NULL)) {
		*err = g_strdup_printf("%s: not UTF-8 text", path);
		return NULL;
	}
	return au_scenario_load_text(path, text, err);
}

void au_scenario_free(struct au_scenario *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_faults; i++) {
		g_free(s->faults[i].name);
		g_free(s->faults[i].members);
	}
	g_free(s->faults);
	au_cluster_spec_clear(&s->cluster);
	g_free(s->chaos);
	g_strfreev(s->invariants);
	g_strfreev(s->liveness);
	g_strfreev(s->trace_tables);
	g_free(s->name);
	g_free(s->text);
	g_free(s->path);
	g_free(s);
}
