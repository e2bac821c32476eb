/* chaos.c — fault plans from a seed, and the scenario text that carries
 * them (see chaos.h).
 *
 * Every draw comes from the seed's AU_STREAM_CHAOS stream, in a fixed
 * order, so a plan depends on nothing but (scenario, seed).  Times are
 * drawn on a 1 ms grid and rates in thousandths so reproducer files read
 * cleanly.  Faults with an explicit node (nK) are kept from contradicting
 * each other and the scenario's own faults (crashing a node that is down,
 * pausing one that is paused: load errors); `leader` and `random` targets
 * are resolved by the engine when the fault fires, and skipped if nothing
 * is eligible then.  With [chaos] correlated's chance a node fault starts a
 * chain that crashes the same explicit node again soon after (gen_chain).
 */
#include "chaos.h"

#include <glib.h>
#include <string.h>

#include "orchestrator.h"
#include "pcg32.h"
#include "raft.h"

static const char *const kind_names[AU_CK_COUNT_] = {
	[AU_CK_CRASH] = "crash",
	[AU_CK_PARTITION] = "partition",
	[AU_CK_PARTITION_ONEWAY] = "partition_oneway",
	[AU_CK_CLOG] = "clog",
	[AU_CK_LOSS] = "loss",
	[AU_CK_DUPLICATE] = "duplicate",
	[AU_CK_CORRUPT] = "corrupt",
	[AU_CK_PAUSE] = "pause",
	[AU_CK_SKEW] = "skew",
	[AU_CK_TORN_WRITE] = "torn_write",
	[AU_CK_SLOW_SYNC] = "slow_sync",
	[AU_CK_READ_ERROR] = "read_error",
	[AU_CK_DISK_CORRUPT] = "disk_corrupt",
	[AU_CK_TRANSFER_LEADER] = "transfer_leader",
	[AU_CK_ADD_VOTER] = "add_voter",
	[AU_CK_REMOVE_VOTER] = "remove_voter",
	[AU_CK_ELECTION_CHURN] = "election_churn",
	[AU_CK_LEAVE] = "leave",
	[AU_CK_DRAIN] = "drain",
	[AU_CK_HOLDER_PAUSE] = "holder_pause",
	[AU_CK_HOLDER_CRASH] = "holder_crash",
	[AU_CK_HOLDER_SKEW] = "holder_skew",
	[AU_CK_LOCK_PAUSE] = "lock_pause",
	[AU_CK_CONFIG_RACE] = "config_race",
	[AU_CK_SPLIT_VOTE] = "split_vote",
	[AU_CK_FIGURE8] = "figure8",
	[AU_CK_DISK_FULL] = "disk_full",
	[AU_CK_WRITE_ERROR] = "write_error",
	[AU_CK_SYNC_ERROR] = "sync_error",
};
_Static_assert(AU_CK_COUNT_ <= 32, "kinds are bits of a uint32_t");

#define RAFT_KINDS                                                                     \
	((1u << AU_CK_TRANSFER_LEADER) | (1u << AU_CK_ADD_VOTER) | (1u << AU_CK_REMOVE_VOTER) | \
	 (1u << AU_CK_ELECTION_CHURN) | RAFT_ORDER_KINDS)
#define EXEC_KINDS                                                                     \
	((1u << AU_CK_DRAIN) | (1u << AU_CK_HOLDER_PAUSE) | (1u << AU_CK_HOLDER_CRASH) |        \
	 (1u << AU_CK_HOLDER_SKEW) | (1u << AU_CK_LOCK_PAUSE))
/* Kinds that each play one Raft order of events with fixed roles (below). */
#define RAFT_ORDER_KINDS \
	((1u << AU_CK_CONFIG_RACE) | (1u << AU_CK_SPLIT_VOTE) | (1u << AU_CK_FIGURE8))
#define ALL_KINDS ((1u << AU_CK_COUNT_) - 1u)

const char *au_chaos_kind_name(enum au_chaos_kind k)
{
	return (unsigned)k < AU_CK_COUNT_ ? kind_names[k] : "?";
}

int au_chaos_kind_from_name(const char *name)
{
	for (int k = 0; k < AU_CK_COUNT_; k++)
		if (strcmp(kind_names[k], name) == 0)
			return k;
	return -1;
}

char *au_chaos_kind_list(uint32_t mask)
{
	GString *s = g_string_new(NULL);
	for (int k = 0; k < AU_CK_COUNT_; k++)
		if (mask & (1u << k))
			g_string_append_printf(s, "%s%s", s->len ? ", " : "", kind_names[k]);
	return g_string_free(s, FALSE);
}

uint32_t au_chaos_kind_min_faults(enum au_chaos_kind k)
{
	switch (k) {
	case AU_CK_TORN_WRITE:
	case AU_CK_READ_ERROR:
		return 2;
	case AU_CK_CONFIG_RACE:
		return 10;
	case AU_CK_SPLIT_VOTE:
		return 6;
	case AU_CK_FIGURE8:
		return 17;
	default:
		return 1;
	}
}

bool au_chaos_kind_is_order(enum au_chaos_kind k)
{
	return (unsigned)k < AU_CK_COUNT_ && (RAFT_ORDER_KINDS & (1u << k));
}

uint32_t au_chaos_kind_charge(enum au_chaos_kind k)
{
	return au_chaos_kind_is_order(k) ? 1 : au_chaos_kind_min_faults(k);
}

static bool runs_service(const struct au_scenario *sc, const char *name)
{
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		if (strcmp(sc->cluster.services[i]->name, name) == 0)
			return true;
	return false;
}

/* The execution layer's [aureon]/[workload] settings, or NULL. */
static const struct au_orch_config *orch_config(const struct au_scenario *sc)
{
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		if (strcmp(sc->cluster.services[i]->name, "aureon") == 0)
			return sc->cluster.service_config[i];
	return NULL;
}

uint32_t au_chaos_supported_kinds(const struct au_scenario *sc)
{
	uint32_t k = ALL_KINDS & ~RAFT_KINDS & ~(1u << AU_CK_LEAVE) & ~EXEC_KINDS;
	if (runs_service(sc, "raft"))
		k |= RAFT_KINDS;
	if (runs_service(sc, "swim"))
		k |= 1u << AU_CK_LEAVE;
	if (runs_service(sc, "raft") && runs_service(sc, "aureon")) {
		const struct au_orch_config *oc = orch_config(sc);
		k |= EXEC_KINDS & ~(1u << AU_CK_LOCK_PAUSE);
		if (oc && oc->lock_keys > 0)
			k |= 1u << AU_CK_LOCK_PAUSE;
	}
	return k;
}

uint32_t au_chaos_default_kinds(const struct au_scenario *sc)
{
	return au_chaos_supported_kinds(sc) &
	       ~((1u << AU_CK_READ_ERROR) | (1u << AU_CK_DISK_CORRUPT));
}

int au_chaos_fault_kind(const char *fault_name)
{
	if (!g_str_has_prefix(fault_name, "chaos-"))
		return -1;
	const char *p = fault_name + strlen("chaos-");
	while (g_ascii_isdigit(*p))
		p++;
	if (*p != '-')
		return -1;
	p++;
	size_t len = strcspn(p, "-");
	for (int k = 0; k < AU_CK_COUNT_; k++)
		if (strlen(kind_names[k]) == len && strncmp(kind_names[k], p, len) == 0)
			return k;
	return -1;
}

/* ---- the generator ---------------------------------------------------- */

struct span {
	au_time from, to; /* inclusive; to = INT64_MAX: until the end */
};

struct gen {
	const struct au_scenario *sc;
	struct au_pcg32 rng;
	bool raft;
	bool unrestricted;
	uint32_t servers;
	au_time lo, hi;         /* `at` in [lo, hi); lasting faults end by hi */
	au_time len_lo, len_hi; /* lasting fault lengths */
	uint32_t rate_hi;       /* thousandths */
	au_time el_lo, el_hi;   /* Raft's election timeout range (for election_churn) */
	au_time lease, lock_ttl; /* [aureon] lease, [workload] lock_ttl (holder_* kinds) */
	au_time hop;            /* a slow one-way message: the scenario's latency bound */
	au_time orders_until;   /* a Raft order of events is being played until then */
	uint32_t down_for_good; /* holder crashes without restart (and, with aureon, leaves) planned so far */
	bool lease_layer;       /* the scenario runs aureon (a task queue) */
	au_time hb;             /* Raft's heartbeat period */
	au_time sync_hi;        /* a slow sync: the scenario's sync latency bound */
	GArray *faults;         /* struct au_fault */
	GArray *kinds;          /* uint8_t */
	GArray *chained;        /* uint8_t: 1 for a correlated follow-up */
	uint32_t correlated_pm; /* [chaos] correlated, in thousandths */
	uint32_t chains;        /* correlated chains placed */
	GArray **busy;          /* per server: struct span of explicit crash/pause */
};

static uint64_t next64(struct gen *g)
{
	uint64_t hi = au_pcg32_next(&g->rng);
	return hi << 32 | au_pcg32_next(&g->rng);
}

static uint32_t below(struct gen *g, uint32_t n)
{
	return n ? au_pcg32_below(&g->rng, n) : 0;
}

static bool chance(struct gen *g, uint32_t percent)
{
	return below(g, 100) < percent;
}

/* Uniform on the 1 ms grid in [lo, hi]; lo if hi <= lo. */
static au_time time_in(struct gen *g, au_time lo, au_time hi)
{
	au_time lo_ms = (lo + AU_NS_PER_MS - 1) / AU_NS_PER_MS, hi_ms = hi / AU_NS_PER_MS;
	if (hi_ms <= lo_ms)
		return lo_ms * AU_NS_PER_MS;
	return (lo_ms + (au_time)(next64(g) % (uint64_t)(hi_ms - lo_ms + 1))) * AU_NS_PER_MS;
}

/* A lasting fault's length: half the time short (up to 10x the lower
 * bound), else anywhere up to the upper bound — most trouble is brief, some
 * is long. */
static au_time length(struct gen *g)
{
	au_time hi = g->len_hi;
	if (chance(g, 50) && g->len_lo * 10 < hi)
		hi = g->len_lo * 10;
	au_time t = time_in(g, g->len_lo, hi);
	return t > 0 ? t : AU_NS_PER_MS;
}

static double rate(struct gen *g)
{
	uint32_t lo = g->rate_hi >= 50 ? 50 : 1;
	return (double)(lo + below(g, g->rate_hi - lo + 1)) / 1000.0;
}

static bool busy_at(struct gen *g, au_node_id n, au_time from, au_time to)
{
	GArray *b = g->busy[n];
	for (guint i = 0; i < b->len; i++) {
		const struct span *s = &g_array_index(b, struct span, i);
		if (from <= s->to && s->from <= to)
			return true;
	}
	return false;
}

static void mark_busy(struct gen *g, au_node_id n, au_time from, au_time to)
{
	struct span s = {from, to};
	g_array_append_val(g->busy[n], s);
}

/* The scenario's own explicit crash/restart/pause/resume faults. */
static void mark_scenario_faults(struct gen *g)
{
	for (uint32_t i = 0; i < g->sc->n_faults; i++) {
		const struct au_fault *f = &g->sc->faults[i];
		if (f->target.kind != AU_TARGET_NODE || f->target.node > g->servers)
			continue;
		au_node_id n = f->target.node;
		switch (f->action) {
		case AU_FAULT_CRASH:
			mark_busy(g, n, f->at, f->restart_after >= 0 ? f->at + f->restart_after : INT64_MAX);
			break;
		case AU_FAULT_PAUSE:
			mark_busy(g, n, f->at, f->until >= 0 ? f->until : INT64_MAX);
			break;
		case AU_FAULT_RESTART:
		case AU_FAULT_RESUME:
			mark_busy(g, n, f->at, f->at);
			break;
		default:
			break;
		}
	}
}

static au_node_id any_node(struct gen *g)
{
	return 1 + below(g, g->servers);
}

/* A target for a node fault: the leader, a random node (both resolved when
 * the fault fires) or an explicit one.  For crash and pause an explicit
 * node must be free over [from, to]; if it is not, `random` is used. */
static struct au_target pick_target(struct gen *g, bool exclusive, au_time from, au_time to)
{
	struct au_target t = {AU_TARGET_RANDOM, 0};
	uint32_t r = below(g, 10);
	if (r < 3 && g->raft) {
		t.kind = AU_TARGET_LEADER;
	} else if (r >= 6) {
		au_node_id n = any_node(g);
		if (!exclusive || !busy_at(g, n, from, to)) {
			t.kind = AU_TARGET_NODE;
			t.node = n;
			if (exclusive)
				mark_busy(g, n, from, to);
		}
	}
	return t;
}

static struct au_fault *add_fault(struct gen *g, enum au_chaos_kind kind,
				  enum au_fault_action action, au_time at)
{
	struct au_fault f = {0};
	f.action = action;
	f.at = at;
	f.until = -1;
	f.restart_after = -1;
	f.extra = -1;
	f.slow_extra = 100 * AU_NS_PER_MS;
	g_array_append_val(g->faults, f);
	uint8_t k = (uint8_t)kind, no = 0;
	g_array_append_val(g->kinds, k);
	g_array_append_val(g->chained, no);
	return &g_array_index(g->faults, struct au_fault, g->faults->len - 1);
}

/* End of a lasting fault that starts at `at`: never past hi. */
static au_time end_of(struct gen *g, au_time at)
{
	au_time end = at + length(g);
	if (end > g->hi)
		end = g->hi;
	if (end <= at)
		end = at + AU_NS_PER_MS;
	return end;
}

/* Node fault (clog, loss, ...) on a node or, sometimes, on one link. */
static void node_or_link(struct gen *g, struct au_fault *f, bool link_ok)
{
	if (link_ok && g->servers >= 2 && chance(g, 40)) {
		f->has_link = true;
		f->link_a = any_node(g);
		f->link_b = 1 + (f->link_a - 1 + 1 + below(g, g->servers - 1)) % g->servers;
		return;
	}
	f->target = pick_target(g, false, 0, 0);
}

static void gen_partition(struct gen *g, au_time at, bool oneway)
{
	struct au_fault *f = add_fault(g, oneway ? AU_CK_PARTITION_ONEWAY : AU_CK_PARTITION,
				       AU_FAULT_PARTITION, at);
	f->until = end_of(g, at);
	f->oneway = oneway;
	uint32_t n = g->servers;
	if ((g->raft && chance(g, 35)) || n < 2) {
		/* The leader against everybody else (in either direction). */
		f->n_groups = 2;
		f->n_members = 2;
		f->members = g_new0(struct au_group_member, 2);
		bool leader_first = !oneway || chance(g, 50);
		f->members[0].who.kind = leader_first ? AU_TARGET_LEADER : AU_TARGET_REST;
		f->members[0].group = 1;
		f->members[1].who.kind = leader_first ? AU_TARGET_REST : AU_TARGET_LEADER;
		f->members[1].group = 2;
		if (!g->raft) { /* no leader: one node against the rest */
			f->members[leader_first ? 0 : 1].who.kind = AU_TARGET_NODE;
			f->members[leader_first ? 0 : 1].who.node = any_node(g);
		}
		return;
	}
	/* A random split: shuffle the nodes, cut into 2 (or 3) groups. */
	au_node_id *order = g_new(au_node_id, n);
	for (uint32_t i = 0; i < n; i++)
		order[i] = i + 1;
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = below(g, i + 1);
		au_node_id t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	uint32_t groups = (!oneway && n >= 3 && chance(g, 20)) ? 3 : 2;
	uint32_t cut1 = 1 + below(g, n - groups + 1);
	uint32_t cut2 = groups == 3 ? cut1 + 1 + below(g, n - cut1 - 1) : n;
	f->n_groups = groups;
	f->n_members = n;
	f->members = g_new0(struct au_group_member, n);
	for (uint32_t i = 0; i < n; i++) {
		f->members[i].who.kind = AU_TARGET_NODE;
		f->members[i].who.node = order[i];
		f->members[i].group = i < cut1 ? 1 : i < cut2 ? 2 : 3;
	}
	g_free(order);
}

/* Trouble aimed at the moments Raft is most fragile: the leader crashes,
 * and while the next election runs (its timing taken from the scenario's
 * election timeout) voters crash and come back within milliseconds, so a
 * vote or entry that was answered before it was durable is lost; or, with
 * membership kinds on, a configuration change starts, its leader dies a
 * few milliseconds later, and changes are requested again just as the
 * next leader is likely to have won — before it committed anything of its
 * term.  These are the orders of events the Raft paper's Figure 8 and
 * Ongaro's 2015 membership bug need; spreading faults uniformly in time
 * almost never produces them. */
static uint32_t gen_churn(struct gen *g, au_time at, uint32_t room, uint32_t enabled)
{
	uint32_t used = 0;
	bool membership = (enabled & ((1u << AU_CK_REMOVE_VOTER) | (1u << AU_CK_ADD_VOTER))) &&
			  room >= 3 && chance(g, 50);
	struct au_fault *f;
	au_time t = at;
	if (membership) {
		bool add = (enabled & (1u << AU_CK_ADD_VOTER)) &&
			   (!(enabled & (1u << AU_CK_REMOVE_VOTER)) || chance(g, 50));
		f = add_fault(g, AU_CK_ELECTION_CHURN, add ? AU_FAULT_ADD_VOTER : AU_FAULT_REMOVE_VOTER, t);
		f->target = (struct au_target){AU_TARGET_NODE, any_node(g)};
		used++;
		t += time_in(g, AU_NS_PER_MS, 5 * AU_NS_PER_MS);
	}
	if (t + g->el_lo >= g->hi)
		return used;
	f = add_fault(g, AU_CK_ELECTION_CHURN, AU_FAULT_CRASH, t);
	f->target.kind = AU_TARGET_LEADER;
	f->restart_after = time_in(g, AU_NS_PER_MS, 2 * g->el_hi);
	if (t + f->restart_after > g->hi)
		f->restart_after = g->hi - t;
	used++;
	uint32_t follow = 1 + below(g, 3);
	for (uint32_t i = 0; i < follow && used < room; i++) {
		au_time when = t + time_in(g, g->el_lo / 2, 2 * g->el_hi);
		if (when + 2 * AU_NS_PER_MS > g->hi)
			break;
		if (membership) {
			/* Another change, as the next leader is likely to have won. */
			bool add = (enabled & (1u << AU_CK_ADD_VOTER)) &&
				   (!(enabled & (1u << AU_CK_REMOVE_VOTER)) || chance(g, 50));
			f = add_fault(g, AU_CK_ELECTION_CHURN, add ? AU_FAULT_ADD_VOTER : AU_FAULT_REMOVE_VOTER,
				      when);
			f->target = (struct au_target){AU_TARGET_NODE, any_node(g)};
		} else {
			/* A voter down for a moment, mid-election. */
			f = add_fault(g, AU_CK_ELECTION_CHURN, AU_FAULT_CRASH, when);
			f->target.kind = chance(g, 25) ? AU_TARGET_LEADER : AU_TARGET_RANDOM;
			f->restart_after = time_in(g, AU_NS_PER_MS, g->el_lo);
			if (when + f->restart_after > g->hi)
				f->restart_after = g->hi - when;
		}
		used++;
	}
	return used;
}

/* A length in [lo, hi] (lo if hi <= lo). */
static au_time span_in(struct gen *g, au_time lo, au_time hi)
{
	return time_in(g, lo, hi > lo ? hi : lo);
}

/* The execution layer's kinds: faults aimed, when they fire, at the nodes
 * that hold something the queue or the lock service must take back (see
 * README: Chaos sweeps).  Lengths are scaled by the scenario's lease and
 * lock TTL, so a holder is away for longer than its lease — the stale
 * holder that fencing tokens exist for — or just under it. */
static uint32_t gen_exec(struct gen *g, enum au_chaos_kind kind, au_time at, uint32_t room)
{
	struct au_fault *f;
	au_time lease = g->lease;
	switch (kind) {
	case AU_CK_HOLDER_PAUSE:
	case AU_CK_LOCK_PAUSE: {
		/* 70 %: past the lease (or TTL) by 5-50 %; else a fraction of it. */
		au_time ttl = kind == AU_CK_LOCK_PAUSE ? g->lock_ttl : lease;
		au_time len = chance(g, 70) ? span_in(g, ttl + ttl / 20, ttl + ttl / 2)
					    : span_in(g, ttl / 4, ttl);
		if (at + len > g->hi)
			at = g->hi - len;
		if (at < g->lo || len < AU_NS_PER_MS)
			return 0;
		f = add_fault(g, kind, AU_FAULT_PAUSE, at);
		f->until = at + len;
		f->target.kind = kind == AU_CK_LOCK_PAUSE ? AU_TARGET_LOCK_HOLDER : AU_TARGET_LEASE_HOLDER;
		return 1;
	}
	case AU_CK_HOLDER_CRASH: {
		f = add_fault(g, kind, AU_FAULT_CRASH, at);
		f->target.kind = AU_TARGET_LEASE_HOLDER;
		uint32_t r = below(g, 10);
		/* One node down for good per plan at most: more could take a
		 * majority of the servers with them, and no leader could follow. */
		if (r >= 7 && g->down_for_good > 0)
			r = 4 + below(g, 3);
		if (r < 4) { /* back before anyone notices: the reboot revokes */
			f->restart_after = span_in(g, 10 * AU_NS_PER_MS, lease / 2);
		} else if (r < 7) { /* back after its leases went elsewhere */
			f->restart_after = span_in(g, lease, 2 * lease);
		} else {
			/* Down for good, late: only the death notice (not the lease,
			 * which outlasts the run) brings its tasks back.  Possibly in
			 * the quiet period, but 7 s before the end: time for SWIM to
			 * declare it dead and for its tasks to run again. */
			au_time lo = g->sc->duration - lease + AU_NS_PER_S, hi = g->sc->duration - 7 * AU_NS_PER_S;
			/* A lease under 8 s cannot outlast the run from there:
			 * then as late as still leaves those 7 s (at the run's
			 * very end the crash would do nothing, and a liveness
			 * window after it would not fit in the run). */
			if (hi < lo)
				lo = hi;
			if (lo < g->lo)
				lo = g->lo;
			if (hi < lo)
				hi = lo;
			f->at = time_in(g, lo, hi);
			g->down_for_good++;
			return 1;
		}
		if (f->at + f->restart_after > g->hi)
			f->restart_after = g->hi > f->at + AU_NS_PER_MS ? g->hi - f->at : AU_NS_PER_MS;
		return 1;
	}
	case AU_CK_HOLDER_SKEW: {
		/* A holder's clock far ahead (its lease deadlines would be ages
		 * away on its clock) or behind by more than a lease. */
		au_time jump = chance(g, 75) ? span_in(g, lease, 2 * g->sc->duration)
					     : -span_in(g, lease, 3 * lease);
		if (room >= 2 && g->raft && chance(g, 60)) {
			/* An explicit node, then its link to the leader cut for
			 * longer than a lease (SWIM still sees it through others):
			 * its renewals and give-up nacks are lost, so only the
			 * leader's own clock can expire its leases. */
			au_time len = span_in(g, lease + AU_NS_PER_S, lease + 4 * AU_NS_PER_S);
			au_time cut = at + span_in(g, AU_NS_PER_S, 3 * AU_NS_PER_S);
			if (cut + len > g->hi) {
				cut = g->hi - len;
				at = cut - AU_NS_PER_S;
			}
			if (at < g->lo)
				return 0;
			au_node_id n = any_node(g);
			f = add_fault(g, kind, AU_FAULT_SKEW, at);
			f->target = (struct au_target){AU_TARGET_NODE, n};
			f->skew = jump;
			f = add_fault(g, kind, AU_FAULT_PARTITION, cut);
			f->until = cut + len;
			f->n_groups = 2;
			f->n_members = 2;
			f->members = g_new0(struct au_group_member, 2);
			f->members[0] = (struct au_group_member){{AU_TARGET_NODE, n}, 1};
			f->members[1] = (struct au_group_member){{AU_TARGET_LEADER, 0}, 2};
			return 2;
		}
		f = add_fault(g, kind, AU_FAULT_SKEW, at);
		f->target.kind = AU_TARGET_LEASE_HOLDER;
		f->skew = jump;
		if (chance(g, 30)) {
			f->until = end_of(g, at);
			f->drift_ppm = 1 + below(g, 100000);
		}
		return 1;
	}
	default:
		return 0;
	}
}

/* ---- Raft orders of events with fixed roles ------------------------------ */

/* The kinds below play several faults in a set order with explicit roles.
 * Two of them overlapping would spoil both, so one starts only after the
 * one before has ended (other kinds still land anywhere). */

/* Distinct random servers into out[0..k) (k <= servers). */
static void pick_distinct(struct gen *g, au_node_id *out, uint32_t k)
{
	for (uint32_t i = 0; i < k; i++) {
		au_node_id n;
		bool dup;
		do {
			n = any_node(g);
			dup = false;
			for (uint32_t j = 0; j < i; j++)
				dup |= out[j] == n;
		} while (dup);
		out[i] = n;
	}
}

/* A partition fault between the `n_a` nodes `a` (group 1) and the `n_b`
 * nodes `b` (group 2); an empty side is every other server.  One-way: group
 * 1 cannot send to group 2. */
static struct au_fault *add_cut(struct gen *g, enum au_chaos_kind kind, au_time at, au_time until,
				const au_node_id *a, uint32_t n_a, const au_node_id *b, uint32_t n_b,
				bool oneway)
{
	struct au_fault *f = add_fault(g, kind, AU_FAULT_PARTITION, at);
	f->until = until;
	f->oneway = oneway;
	f->n_groups = 2;
	f->n_members = (n_a ? n_a : 1) + (n_b ? n_b : 1);
	f->members = g_new0(struct au_group_member, f->n_members);
	uint32_t m = 0;
	for (uint32_t i = 0; i < n_a; i++)
		f->members[m++] = (struct au_group_member){{AU_TARGET_NODE, a[i]}, 1};
	if (!n_a)
		f->members[m++] = (struct au_group_member){{AU_TARGET_REST, 0}, 1};
	for (uint32_t i = 0; i < n_b; i++)
		f->members[m++] = (struct au_group_member){{AU_TARGET_NODE, b[i]}, 2};
	if (!n_b)
		f->members[m++] = (struct au_group_member){{AU_TARGET_REST, 0}, 2};
	return f;
}

/* config_race: Ongaro's 2015 single-server membership bug as an order of
 * events, with random roles and timing (the scripted version with prevote
 * and check_quorum off is scenarios/mutant-membership-early.ini).
 *   1. remove_voter X: 4 voters are left (C0).
 *   2. Leadership goes to A (transfer_leader), then A is cut off from
 *      everybody and add_voter X reaches it: A appends Ca = C0 + X, which
 *      nobody else gets.
 *   3. D (a voter of C0) is held — its messages wait — so the other side
 *      cannot elect anyone; when the hold ends the pent-up (pre-)votes go
 *      through and, a few ms later, D goes deaf (one-way cut towards D):
 *      with luck D voted in the new leader L of C0 and got none of its
 *      entries.  L's no-op cannot commit (2 of 4 reach it).
 *   4. remove_voter D reaches L.  A correct leader refuses: it has not
 *      committed an entry of its term.  One that does not appends Cb =
 *      C0 - D and commits it with 2 of 3.
 *   5. A, X and D are cut from the rest: in Ca they are 3 of 5, D's log is
 *      no longer than A's, so A leads again without Cb — raft_safety sees
 *      a leader that lacks committed entries.
 * Needs 5 or more servers and 8 fault groups; everything is timed from
 * Raft's election timeout. */
static uint32_t gen_config_race(struct gen *g, au_time at, uint32_t room)
{
	if (!g->raft || g->servers < 5 || room < 10)
		return 0;
	au_node_id r[4];
	pick_distinct(g, r, 4);
	au_node_id x = r[0], a = r[1], d = r[2], c = r[3];
	au_time t_transfer = at + time_in(g, g->el_hi, 4 * g->el_hi);
	au_time t1 = t_transfer + time_in(g, 2 * g->el_hi, 5 * g->el_hi);
	au_time hold = time_in(g, g->el_hi + g->el_lo / 2, 3 * g->el_hi);
	au_time deaf = t1 + hold + time_in(g, g->hop, 3 * g->hop);
	au_time t_remove = deaf + time_in(g, g->el_lo / 4, g->el_hi);
	au_time t_remove2 = t_remove + time_in(g, g->el_hi, 2 * g->el_hi);
	au_time t2 = t_remove2 + time_in(g, g->el_hi, 4 * g->el_hi);
	au_time t3 = t2 + time_in(g, 4 * g->el_hi, 15 * g->el_hi);
	if (t3 > g->hi || at < g->orders_until)
		return 0;
	g->orders_until = t3;
	struct au_fault *f = add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_REMOVE_VOTER, at);
	f->target = (struct au_target){AU_TARGET_NODE, x};
	f = add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_TRANSFER, t_transfer);
	f->target = (struct au_target){AU_TARGET_NODE, a};
	add_cut(g, AU_CK_CONFIG_RACE, t1, t2, &a, 1, NULL, 0, false);
	f = add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_ADD_VOTER, t1 + time_in(g, AU_NS_PER_MS, 3 * AU_NS_PER_MS));
	f->target = (struct au_target){AU_TARGET_NODE, x};
	/* Shortly before, A's messages to C and everything of D are held (A's
	 * to them are dropped once A is cut off): the last entries reach only
	 * the fifth server B, so B alone can win the next election. */
	au_time lead = t1 - time_in(g, g->el_lo / 4, g->el_lo / 2);
	f = add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_CLOG, lead);
	f->has_link = true;
	f->link_a = a;
	f->link_b = c;
	f->until = t1 + AU_NS_PER_MS; /* extra stays -1: held until then */
	f = add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_CLOG, lead);
	f->target = (struct au_target){AU_TARGET_NODE, d};
	f->until = t1 + hold;
	/* group 1 (everybody else) cannot send to group 2 (D) */
	add_cut(g, AU_CK_CONFIG_RACE, deaf, t2, NULL, 0, &d, 1, true);
	f = add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_REMOVE_VOTER, t_remove);
	f->target = (struct au_target){AU_TARGET_NODE, d};
	f = add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_REMOVE_VOTER, t_remove2);
	f->target = (struct au_target){AU_TARGET_NODE, d};
	au_node_id side[3] = {a, x, d};
	add_cut(g, AU_CK_CONFIG_RACE, t2, t3, side, 3, NULL, 0, false);
	return 10;
}

/* split_vote: two candidates of the same term, and one voter that hears
 * from the first one's leadership before the second one's request arrives
 * (the scripted version, with prevote off, is
 * scenarios/mutant-vote-cleared.ini).  Roles: L leads (transfer_leader),
 * X, Y, W and V are the others.
 *   1. L stops reaching V (one-way cut), so V misses L's last entries.
 *      Then X stops reaching Y and W (one-way cut), and messages between
 *      Y and V take a few hops longer (clog).
 *   2. L hands leadership to X and, before X's request reaches it, to Y:
 *      both stand in the same term T (leadership transfer skips
 *      pre-vote).  X wins with L's and V's votes; Y's request to V is
 *      still on its way.
 *   3. V hears X's first append but cannot take its entries yet (it
 *      missed some).  Then Y's request reaches V.  A correct V remembers
 *      its vote for X and refuses; a V that forgot it when it heard X
 *      votes again, and Y leads term T too (with W) — raft_safety's
 *      election safety fires.
 * Half the time V is also crashed around the moment it votes and is back
 * before Y's request, so a vote answered before it was durable is lost.
 * Needs 5 or more servers and 6 fault groups (7 with the crash); times
 * follow the scenario's latency, sync latency and election timeout. */
static uint32_t gen_split_vote(struct gen *g, au_time at, uint32_t room)
{
	if (!g->raft || g->servers < 5 || room < 6)
		return 0;
	au_node_id r[5];
	pick_distinct(g, r, 5);
	au_node_id l = r[0], x = r[1], y = r[2], w = r[3], v = r[4];
	au_time d = time_in(g, 3 * g->hop / 2, 3 * g->hop);
	au_time t1 = at + time_in(g, 2 * g->el_hi, 5 * g->el_hi);
	au_time lag = t1 - time_in(g, g->hop, g->el_lo / 2);
	au_time tau = t1 + time_in(g, g->hop, 3 * g->hop);
	au_time tau_y = tau + time_in(g, 0, g->hop / 2);
	au_time end = tau + time_in(g, 3 * g->el_hi, 8 * g->el_hi);
	if (end > g->hi || at < g->orders_until)
		return 0;
	g->orders_until = end;
	struct au_fault *f = add_fault(g, AU_CK_SPLIT_VOTE, AU_FAULT_TRANSFER, at);
	f->target = (struct au_target){AU_TARGET_NODE, l};
	add_cut(g, AU_CK_SPLIT_VOTE, lag, end, &l, 1, &v, 1, true);
	au_node_id yw[2] = {y, w};
	add_cut(g, AU_CK_SPLIT_VOTE, t1, end, &x, 1, yw, 2, true);
	f = add_fault(g, AU_CK_SPLIT_VOTE, AU_FAULT_CLOG, t1);
	f->has_link = true;
	f->link_a = y;
	f->link_b = v;
	f->extra = d;
	f->until = end;
	f = add_fault(g, AU_CK_SPLIT_VOTE, AU_FAULT_TRANSFER, tau);
	f->target = (struct au_target){AU_TARGET_NODE, x};
	f = add_fault(g, AU_CK_SPLIT_VOTE, AU_FAULT_TRANSFER, tau_y);
	f->target = (struct au_target){AU_TARGET_NODE, y};
	/* Half the time V also crashes around the moment it votes for X and
	 * is back before Y's request: a vote answered before it was durable
	 * is forgotten, and V votes again. */
	if (room >= 7 && chance(g, 50)) {
		au_time crash = tau + time_in(g, g->hop, 2 * g->hop + 2 * g->sync_hi);
		au_time back = time_in(g, AU_NS_PER_MS, g->hop);
		if (!busy_at(g, v, crash, crash + back)) {
			mark_busy(g, v, crash, crash + back);
			f = add_fault(g, AU_CK_SPLIT_VOTE, AU_FAULT_CRASH, crash);
			f->target = (struct au_target){AU_TARGET_NODE, v};
			f->restart_after = back;
			return 7;
		}
	}
	return 6;
}

/* figure8: the Raft paper's Figure 8 — an entry of an old term on a
 * majority is not committed until an entry of the leader's own term is —
 * as an order of events, with random roles A, F, B, C, E (the scripted
 * version, with prevote and check_quorum off and one entry per append, is
 * scenarios/mutant-figure8.ini):
 *   1. A leads (transfer_leader).  A's messages to E and everything of C
 *      are held a moment, then A and F are cut off from B, C, E: A's last
 *      entries (term a) reach F, and then — F cut from A too — only A.
 *   2. On the other side B, the only one with A's earlier entries, wins
 *      term b with C's and E's votes when C's hold ends, and a few hops
 *      later a one-way cut makes C deaf: B's no-op reaches E only.
 *   3. A, F, C are cut from B, E.  A's clock runs 3x slow and its disk
 *      syncs slowly: A wins term c > b with F's and C's votes, copies its
 *      term-a entries to them, and they answer before A's own no-op is
 *      durable.  A correct A waits for its no-op; one that commits an
 *      earlier term's entries by counting replicas commits them now.
 *   4. Whoever leads is crashed (a few tries, timed a sync apart) and
 *      comes back when A, B, E are together and F, C away: if A lost its
 *      unsynced no-op, B (its last entry of term b > a) wins with A's and
 *      E's votes and lacks what A committed — raft_safety's leader
 *      completeness fires.
 * Needs 5 or more servers and 17 fault groups. */
static uint32_t gen_figure8(struct gen *g, au_time at, uint32_t room)
{
	enum { TRIES = 5 };
	if (!g->raft || g->servers < 5 || room < 12 + TRIES)
		return 0;
	au_node_id r[5];
	pick_distinct(g, r, 5);
	au_node_id a = r[0], f = r[1], b = r[2], c = r[3], e = r[4];
	/* A's no-op must stay unsynced past the followers' answers, which take
	 * a heartbeat of A's slowed clock, four hops and a sync; and A's own
	 * vote must be synced before A's slowed election timer fires again. */
	au_time ack = 3 * g->hb + 4 * g->hop + g->sync_hi;
	au_time s_lo = ack + g->hop, s_hi = 3 * g->el_lo * 9 / 10;
	if (s_hi <= s_lo)
		return 0;
	au_time s = time_in(g, (s_lo + s_hi) / 2, s_hi);
	au_time t1 = at + time_in(g, 2 * g->el_hi, 4 * g->el_hi);
	au_time lead = t1 - time_in(g, g->el_lo, 2 * g->el_lo);
	au_time release = t1 + time_in(g, g->el_hi + g->el_lo / 2, 3 * g->el_hi);
	au_time deaf = release + time_in(g, g->hop, 3 * g->hop);
	au_time t2 = deaf + time_in(g, 2 * g->el_hi, 4 * g->el_hi);
	au_time first_try = t2 + s + time_in(g, 0, s);
	au_time t_end = first_try + TRIES * s + time_in(g, 0, g->el_lo);
	au_time t_last = t_end + time_in(g, 4 * g->el_hi, 10 * g->el_hi);
	if (t_last > g->hi || at < g->orders_until)
		return 0;
	g->orders_until = t_last;
	struct au_fault *x = add_fault(g, AU_CK_FIGURE8, AU_FAULT_TRANSFER, at);
	x->target = (struct au_target){AU_TARGET_NODE, a};
	x = add_fault(g, AU_CK_FIGURE8, AU_FAULT_CLOG, lead);
	x->has_link = true;
	x->link_a = a;
	x->link_b = e;
	x->until = t1 + AU_NS_PER_MS; /* held, then dropped by the cut */
	x = add_fault(g, AU_CK_FIGURE8, AU_FAULT_CLOG, lead);
	x->target = (struct au_target){AU_TARGET_NODE, c};
	x->until = release;
	au_node_id af[2] = {a, f}, afc[3] = {a, f, c}, be[2] = {b, e}, fc[2] = {f, c};
	add_cut(g, AU_CK_FIGURE8, t1, t2, af, 2, NULL, 0, false);
	add_cut(g, AU_CK_FIGURE8, t1, t2, &a, 1, &f, 1, false);
	add_cut(g, AU_CK_FIGURE8, deaf, t2, NULL, 0, &c, 1, true);
	add_cut(g, AU_CK_FIGURE8, t2, t_end, afc, 3, be, 2, false);
	/* Clocks 3x slow on A, F and C: A's election timer outlasts its slow
	 * vote sync, and F and C do not stand (a pre-candidate refuses votes)
	 * while A's requests wait for that sync. */
	au_node_id slow[3] = {a, f, c};
	for (int i = 0; i < 3; i++) {
		x = add_fault(g, AU_CK_FIGURE8, AU_FAULT_SKEW, t2 - g->el_hi);
		x->target = (struct au_target){AU_TARGET_NODE, slow[i]};
		x->drift_ppm = -666667;
		x->until = t_end;
	}
	x = add_fault(g, AU_CK_FIGURE8, AU_FAULT_DISK, t2);
	x->disk_kind = AU_DISK_SLOW_SYNC;
	x->slow_extra = s;
	x->until = t_end;
	x->target = (struct au_target){AU_TARGET_NODE, a};
	/* A crash of whoever leads, every s: the first one after A wins lands
	 * in its first s, and all come back together after the switch. */
	au_time r_after = time_in(g, g->hop, g->el_lo / 2);
	for (uint32_t i = 0; i < TRIES; i++) {
		au_time when = first_try + i * s;
		x = add_fault(g, AU_CK_FIGURE8, AU_FAULT_CRASH, when);
		x->target.kind = AU_TARGET_LEADER;
		x->restart_after = t_end - when + r_after;
	}
	add_cut(g, AU_CK_FIGURE8, t_end, t_last, fc, 2, NULL, 0, false);
	return 12 + TRIES;
}

/* ---- correlated faults: one node hit again soon after ------------------- */

/* A skew kind's clock trouble: a jump (±1 ms..1 s) and/or a drift (up to
 * 10 % fast or slow). */
static void draw_skew(struct gen *g, au_time *skew, int64_t *drift_ppm)
{
	bool jump = chance(g, 60), drift = !jump || chance(g, 50);
	*skew = 0;
	*drift_ppm = 0;
	if (jump) {
		*skew = time_in(g, AU_NS_PER_MS, AU_NS_PER_S);
		if (chance(g, 50))
			*skew = -*skew;
	}
	if (drift) {
		*drift_ppm = 1 + below(g, 100000);
		if (chance(g, 50))
			*drift_ppm = -*drift_ppm;
	}
}

/* Kinds whose fault on one node can start a correlated chain. */
#define CHAIN_KINDS                                                                        \
	((1u << AU_CK_CRASH) | (1u << AU_CK_PAUSE) | (1u << AU_CK_SKEW) |                       \
	 (1u << AU_CK_PARTITION) | (1u << AU_CK_PARTITION_ONEWAY) | (1u << AU_CK_LEAVE) |       \
	 (1u << AU_CK_DRAIN) | (1u << AU_CK_HOLDER_PAUSE) | (1u << AU_CK_HOLDER_SKEW) |         \
	 (1u << AU_CK_LOCK_PAUSE) | (1u << AU_CK_DISK_FULL) | (1u << AU_CK_SYNC_ERROR))

/* How long a chain's crashed node stays down: half the time under a
 * second (it comes back mid-recovery of the fault before), else a lasting
 * fault's length. */
static au_time chain_restart(struct gen *g)
{
	return chance(g, 50) ? time_in(g, 10 * AU_NS_PER_MS, AU_NS_PER_S) : length(g);
}

/* Add a crash of `n` at `at`, back after `restart`, as a follow-up of
 * `kind`'s chain. */
static void add_chained_crash(struct gen *g, enum au_chaos_kind kind, au_node_id n, au_time at,
			      au_time restart)
{
	struct au_fault *f = add_fault(g, kind, AU_FAULT_CRASH, at);
	f->target = (struct au_target){AU_TARGET_NODE, n};
	f->restart_after = restart;
	g_array_index(g->chained, uint8_t, g->chained->len - 1) = 1;
}

/* Correlated faults: real nodes fail in runs — a node that is being
 * drained, has just left, is paused by a GC or a VM stall while it holds
 * leases, has a bad clock, is cut off, or has just rebooted is the one
 * most likely to die next.  Independently drawn targets almost never hit
 * one node twice within a second.  A chain is one fault of `kind` on an
 * explicit node nK, then a crash of nK soon after it (while the pause,
 * drain or cut still lasts; within 3 s of a leave; while a holder's lease
 * would still run; within 1 s of a crash's restart), and 30 % of the time
 * a crash of nK again within 1 s of its restart.  Every crash restarts
 * before the quiet period (a chain never takes a node down for good), and
 * nK is kept free of the plan's other explicit crashes and pauses for the
 * whole chain.  Everything is drawn before anything is added: a chain
 * that does not fit adds nothing and returns 0. */
static uint32_t gen_chain(struct gen *g, enum au_chaos_kind kind, au_time at, uint32_t room)
{
	if (room < 2)
		return 0;
	au_node_id n = any_node(g);
	enum au_fault_action act;
	au_time until = -1, restart0 = -1, skew = 0, hit_lo = at + AU_NS_PER_MS, hit_hi;
	int64_t drift = 0;
	bool node_first = true; /* partition: nK is group 1 (one-way: nK cannot send) */
	switch (kind) {
	case AU_CK_CRASH:
		act = AU_FAULT_CRASH;
		restart0 = chain_restart(g);
		if (at + restart0 > g->hi)
			restart0 = g->hi - at;
		hit_lo = at + restart0 + AU_NS_PER_MS;
		hit_hi = at + restart0 + AU_NS_PER_S;
		break;
	case AU_CK_PAUSE:
		act = AU_FAULT_PAUSE;
		until = end_of(g, at);
		hit_hi = until - AU_NS_PER_MS;
		break;
	case AU_CK_HOLDER_PAUSE:
	case AU_CK_LOCK_PAUSE: {
		/* As holder_pause and lock_pause (gen_exec), and the crash comes
		 * while the lease (TTL) it holds would still run. */
		act = AU_FAULT_PAUSE;
		au_time ttl = kind == AU_CK_LOCK_PAUSE ? g->lock_ttl : g->lease;
		au_time len = chance(g, 70) ? span_in(g, ttl + ttl / 20, ttl + ttl / 2)
					    : span_in(g, ttl / 4, ttl);
		if (at + len > g->hi)
			at = g->hi - len;
		if (at < g->lo || len < 2 * AU_NS_PER_MS)
			return 0;
		until = at + len;
		hit_lo = at + AU_NS_PER_MS;
		hit_hi = at + (len < ttl ? len : ttl) - AU_NS_PER_MS;
		break;
	}
	case AU_CK_SKEW:
		act = AU_FAULT_SKEW;
		until = end_of(g, at);
		draw_skew(g, &skew, &drift);
		hit_hi = until;
		break;
	case AU_CK_HOLDER_SKEW:
		/* As holder_skew: off by more than a lease, ahead or behind. */
		act = AU_FAULT_SKEW;
		skew = chance(g, 75) ? span_in(g, g->lease, 2 * g->sc->duration)
				     : -span_in(g, g->lease, 3 * g->lease);
		hit_hi = at + g->lease;
		break;
	case AU_CK_PARTITION:
	case AU_CK_PARTITION_ONEWAY:
		act = AU_FAULT_PARTITION;
		until = end_of(g, at);
		node_first = kind == AU_CK_PARTITION || chance(g, 50);
		hit_hi = until;
		break;
	case AU_CK_LEAVE:
		act = AU_FAULT_LEAVE;
		hit_hi = at + 3 * AU_NS_PER_S;
		break;
	case AU_CK_DISK_FULL:
	case AU_CK_SYNC_ERROR:
		/* A disk that cannot persist, then a crash while it still
		 * cannot: what the node believed durable is put to the test. */
		act = AU_FAULT_DISK;
		until = end_of(g, at);
		hit_hi = until - AU_NS_PER_MS;
		break;
	case AU_CK_DRAIN:
		act = AU_FAULT_DRAIN;
		until = end_of(g, at);
		hit_hi = until;
		break;
	default:
		return 0;
	}
	/* Leave room after the crash for it to restart before hi. */
	if (hit_hi > g->hi - 2 * AU_NS_PER_MS)
		hit_hi = g->hi - 2 * AU_NS_PER_MS;
	if (hit_hi < hit_lo || (restart0 >= 0 && restart0 < AU_NS_PER_MS))
		return 0;
	au_time c1 = time_in(g, hit_lo, hit_hi);
	au_time r1 = chain_restart(g);
	if (c1 + r1 > g->hi)
		r1 = g->hi - c1;
	if (r1 < AU_NS_PER_MS)
		return 0;
	au_time c2 = -1, r2 = -1;
	if (room >= 3 && chance(g, 30)) {
		c2 = c1 + r1 + time_in(g, AU_NS_PER_MS, AU_NS_PER_S);
		r2 = chain_restart(g);
		if (c2 + r2 > g->hi)
			r2 = g->hi - c2;
		if (r2 < AU_NS_PER_MS)
			c2 = -1;
	}
	au_time end = c2 >= 0 ? c2 + r2 : c1 + r1;
	if (until > end)
		end = until;
	if (busy_at(g, n, at, end))
		return 0;
	/* A leave is a worker gone for good for the task layer: one per plan
	 * (see gen_incident). */
	if (act == AU_FAULT_LEAVE && g->lease_layer && g->down_for_good > 0)
		return 0;
	if (act == AU_FAULT_LEAVE && g->lease_layer)
		g->down_for_good++;
	mark_busy(g, n, at, end);
	struct au_fault *f;
	if (act == AU_FAULT_PARTITION) {
		au_node_id one[1] = {n};
		f = node_first ? add_cut(g, kind, at, until, one, 1, NULL, 0, kind == AU_CK_PARTITION_ONEWAY)
			       : add_cut(g, kind, at, until, NULL, 0, one, 1, true);
	} else {
		f = add_fault(g, kind, act, at);
		f->target = (struct au_target){AU_TARGET_NODE, n};
		f->until = until;
		f->restart_after = restart0;
		f->skew = skew;
		f->drift_ppm = drift;
		if (act == AU_FAULT_DISK) {
			f->disk_kind = kind == AU_CK_DISK_FULL ? AU_DISK_FULL : AU_DISK_SYNC_ERROR;
			f->rate = kind == AU_CK_DISK_FULL ? 0.0 : 1.0;
		}
	}
	add_chained_crash(g, kind, n, c1, r1);
	if (c2 >= 0)
		add_chained_crash(g, kind, n, c2, r2);
	g->chains++;
	return c2 >= 0 ? 3 : 2;
}

/* One incident of `kind` at `at`, using at most `room` fault groups.
 * Returns the groups used (0 if the kind could not be placed). */
static uint32_t gen_incident(struct gen *g, enum au_chaos_kind kind, au_time at, uint32_t room,
			     uint32_t enabled)
{
	struct au_fault *f;
	switch (kind) {
	case AU_CK_CRASH: {
		au_time restart = end_of(g, at) - at;
		f = add_fault(g, kind, AU_FAULT_CRASH, at);
		f->restart_after = restart;
		f->target = pick_target(g, true, at, at + restart);
		return 1;
	}
	case AU_CK_PARTITION:
	case AU_CK_PARTITION_ONEWAY:
		gen_partition(g, at, kind == AU_CK_PARTITION_ONEWAY);
		return 1;
	case AU_CK_CLOG:
		f = add_fault(g, kind, AU_FAULT_CLOG, at);
		f->until = end_of(g, at);
		node_or_link(g, f, true);
		if (chance(g, 60)) /* else: held until the clog ends */
			f->extra = time_in(g, 5 * AU_NS_PER_MS, AU_NS_PER_S);
		return 1;
	case AU_CK_LOSS:
	case AU_CK_DUPLICATE:
	case AU_CK_CORRUPT:
		f = add_fault(g, kind,
			      kind == AU_CK_LOSS ? AU_FAULT_LOSS
			      : kind == AU_CK_DUPLICATE ? AU_FAULT_DUPLICATE
							: AU_FAULT_CORRUPT,
			      at);
		f->until = end_of(g, at);
		node_or_link(g, f, true);
		f->rate = rate(g);
		return 1;
	case AU_CK_PAUSE: {
		au_time until = end_of(g, at);
		f = add_fault(g, kind, AU_FAULT_PAUSE, at);
		f->until = until;
		f->target = pick_target(g, true, at, until);
		return 1;
	}
	case AU_CK_SKEW: {
		f = add_fault(g, kind, AU_FAULT_SKEW, at);
		f->until = end_of(g, at);
		f->target = pick_target(g, false, 0, 0);
		draw_skew(g, &f->skew, &f->drift_ppm);
		return 1;
	}
	case AU_CK_TORN_WRITE: {
		/* Slow syncs on one node, then a crash of that node while writes
		 * are still unsynced: they survive whole, torn or not at all. */
		if (room < 2)
			return 0;
		au_time until = end_of(g, at);
		au_time crash_at = time_in(g, at + AU_NS_PER_MS, until);
		au_time restart = time_in(g, 10 * AU_NS_PER_MS, AU_NS_PER_S);
		if (crash_at + restart > g->hi)
			restart = g->hi - crash_at > AU_NS_PER_MS ? g->hi - crash_at : AU_NS_PER_MS;
		au_node_id n = any_node(g);
		if (busy_at(g, n, crash_at, crash_at + restart) || crash_at + restart > g->hi)
			return 0;
		mark_busy(g, n, crash_at, crash_at + restart);
		f = add_fault(g, kind, AU_FAULT_DISK, at);
		f->disk_kind = AU_DISK_SLOW_SYNC;
		f->slow_extra = time_in(g, 20 * AU_NS_PER_MS, 300 * AU_NS_PER_MS);
		f->until = until;
		f->target = (struct au_target){AU_TARGET_NODE, n};
		f = add_fault(g, kind, AU_FAULT_CRASH, crash_at);
		f->restart_after = restart;
		f->target = (struct au_target){AU_TARGET_NODE, n};
		return 2;
	}
	case AU_CK_READ_ERROR: {
		/* Reads only matter at boot: a crash whose restart finds the
		 * disk unreadable for a while (Raft must wait, not boot empty). */
		if (room < 2)
			return 0;
		au_time restart = time_in(g, 10 * AU_NS_PER_MS, AU_NS_PER_S);
		if (at + restart >= g->hi)
			return 0;
		au_node_id n = any_node(g);
		au_time until = end_of(g, at + restart);
		if (busy_at(g, n, at, at + restart))
			return 0;
		mark_busy(g, n, at, at + restart);
		f = add_fault(g, kind, AU_FAULT_CRASH, at);
		f->restart_after = restart;
		f->target = (struct au_target){AU_TARGET_NODE, n};
		f = add_fault(g, kind, AU_FAULT_DISK, at + restart / 2);
		f->disk_kind = AU_DISK_READ_ERROR;
		f->until = until;
		f->target = (struct au_target){AU_TARGET_NODE, n};
		return 2;
	}
	case AU_CK_SLOW_SYNC:
		f = add_fault(g, kind, AU_FAULT_DISK, at);
		f->disk_kind = AU_DISK_SLOW_SYNC;
		f->slow_extra = time_in(g, 10 * AU_NS_PER_MS, 500 * AU_NS_PER_MS);
		f->until = end_of(g, at);
		f->target = pick_target(g, false, 0, 0);
		return 1;
	case AU_CK_DISK_CORRUPT:
		f = add_fault(g, kind, AU_FAULT_DISK, at);
		f->disk_kind = AU_DISK_CORRUPT;
		f->target = pick_target(g, false, 0, 0);
		return 1;
	case AU_CK_DISK_FULL:
	case AU_CK_WRITE_ERROR:
	case AU_CK_SYNC_ERROR:
		/* Storage that cannot persist for a while (env.h): a disk with
		 * no room, writes that fail, or syncs that fail — every
		 * operation, or a share of them (in thousandths). */
		f = add_fault(g, kind, AU_FAULT_DISK, at);
		f->disk_kind = kind == AU_CK_DISK_FULL	  ? AU_DISK_FULL
			       : kind == AU_CK_WRITE_ERROR ? AU_DISK_WRITE_ERROR
							   : AU_DISK_SYNC_ERROR;
		if (kind != AU_CK_DISK_FULL)
			f->rate = chance(g, 50) ? 1.0 : (double)(50 + below(g, 900)) / 1000.0;
		f->until = end_of(g, at);
		f->target = pick_target(g, false, 0, 0);
		return 1;
	case AU_CK_TRANSFER_LEADER:
		f = add_fault(g, kind, AU_FAULT_TRANSFER, at);
		f->target = (struct au_target){AU_TARGET_NODE, any_node(g)};
		return 1;
	case AU_CK_ADD_VOTER:
		f = add_fault(g, kind, AU_FAULT_ADD_VOTER, at);
		f->target = (struct au_target){AU_TARGET_NODE, any_node(g)};
		return 1;
	case AU_CK_REMOVE_VOTER: {
		au_node_id n = any_node(g);
		f = add_fault(g, kind, AU_FAULT_REMOVE_VOTER, at);
		f->target = (struct au_target){AU_TARGET_NODE, n};
		/* Usually the node comes back later (if add_voter is on too). */
		if (room >= 2 && (enabled & (1u << AU_CK_ADD_VOTER)) && chance(g, 70)) {
			f = add_fault(g, AU_CK_ADD_VOTER, AU_FAULT_ADD_VOTER, end_of(g, at));
			f->target = (struct au_target){AU_TARGET_NODE, n};
			return 2;
		}
		return 1;
	}
	case AU_CK_ELECTION_CHURN:
		return gen_churn(g, at, room, enabled);
	case AU_CK_LEAVE: {
		au_node_id n = any_node(g);
		/* A node that leaves never comes back, and the task queue gives
		 * a left node no more leases: for the execution layer it is a
		 * worker gone for good, so it counts with holder_crash's (one
		 * per plan: two gone, after an outage, leave too few workers
		 * to clear the backlog in the quiet period). */
		if (g->lease_layer && g->down_for_good++ > 0)
			return 0;
		f = add_fault(g, kind, AU_FAULT_LEAVE, at);
		f->target = (struct au_target){AU_TARGET_NODE, n};
		return 1;
	}
	case AU_CK_DRAIN:
		f = add_fault(g, kind, AU_FAULT_DRAIN, at);
		f->target = (struct au_target){AU_TARGET_NODE, any_node(g)};
		f->until = end_of(g, at);
		return 1;
	case AU_CK_HOLDER_PAUSE:
	case AU_CK_HOLDER_CRASH:
	case AU_CK_HOLDER_SKEW:
	case AU_CK_LOCK_PAUSE:
		return gen_exec(g, kind, at, room);
	case AU_CK_CONFIG_RACE:
		return gen_config_race(g, at, room);
	case AU_CK_SPLIT_VOTE:
		return gen_split_vote(g, at, room);
	case AU_CK_FIGURE8:
		return gen_figure8(g, at, room);
	case AU_CK_COUNT_:
		break;
	}
	return 0;
}

static gint fault_order(gconstpointer pa, gconstpointer pb)
{
	const struct au_fault *a = pa, *b = pb;
	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return a->file_order < b->file_order ? -1 : a->file_order > b->file_order;
}

struct au_chaos_plan *au_chaos_plan_new(const struct au_scenario *sc, uint64_t seed)
{
	const struct au_chaos_config *c = sc->chaos;
	struct gen g = {.sc = sc};
	au_pcg32_stream(&g.rng, seed, AU_STREAM_CHAOS, 0);
	g.raft = runs_service(sc, "raft");
	g.unrestricted = c->mode == AU_CHAOS_UNRESTRICTED;
	g.servers = sc->cluster.nodes;
	g.faults = g_array_new(FALSE, TRUE, sizeof(struct au_fault));
	g.kinds = g_array_new(FALSE, FALSE, sizeof(uint8_t));
	g.chained = g_array_new(FALSE, FALSE, sizeof(uint8_t));
	g.correlated_pm = (uint32_t)(c->correlated * 1000.0 + 0.5);
	g.busy = g_new0(GArray *, (gsize)g.servers + 1);
	for (uint32_t n = 0; n <= g.servers; n++)
		g.busy[n] = g_array_new(FALSE, FALSE, sizeof(struct span));
	mark_scenario_faults(&g);
	g.hop = sc->latency.kind == AU_DIST_UNIFORM ? sc->latency.p2 : sc->latency.p1;
	if (g.hop < AU_NS_PER_MS)
		g.hop = AU_NS_PER_MS;
	if (g.hop > 50 * AU_NS_PER_MS)
		g.hop = 50 * AU_NS_PER_MS;
	g.sync_hi = sc->sync_latency.kind == AU_DIST_UNIFORM ? sc->sync_latency.p2 : sc->sync_latency.p1;
	if (g.sync_hi > 50 * AU_NS_PER_MS)
		g.sync_hi = 50 * AU_NS_PER_MS;
	g.el_lo = 150 * AU_NS_PER_MS;
	g.el_hi = 300 * AU_NS_PER_MS;
	g.hb = 50 * AU_NS_PER_MS;
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		if (strcmp(sc->cluster.services[i]->name, "raft") == 0 && sc->cluster.service_config[i]) {
			const struct au_raft_config *rc = sc->cluster.service_config[i];
			g.el_lo = rc->election_lo_ns;
			g.el_hi = rc->election_hi_ns;
			g.hb = rc->heartbeat_ns;
		}
	const struct au_orch_config *oc = orch_config(sc);
	g.lease_layer = oc != NULL;
	g.lease = oc ? oc->lease_ns : 5 * AU_NS_PER_S;
	g.lock_ttl = oc && oc->lock_ttl_ns > 0 ? oc->lock_ttl_ns : 2 * AU_NS_PER_S;

	struct au_chaos_plan *plan = g_new0(struct au_chaos_plan, 1);
	plan->seed = seed;
	uint32_t allowed, max_faults;
	if (g.unrestricted) {
		allowed = au_chaos_supported_kinds(sc);
		plan->enabled = allowed;
		max_faults = AU_CHAOS_UNRESTRICTED_FAULTS;
		g.lo = 0;
		g.hi = sc->duration;
		g.len_lo = AU_NS_PER_MS;
		g.len_hi = sc->duration;
		g.rate_hi = 1000;
		plan->drop_liveness = sc->liveness && sc->liveness[0];
	} else {
		allowed = c->kinds & au_chaos_supported_kinds(sc);
		/* Swarm: each allowed kind is in with probability 1/2; never none. */
		for (int k = 0; k < AU_CK_COUNT_; k++)
			if ((allowed & (1u << k)) && chance(&g, 50))
				plan->enabled |= 1u << k;
		if (plan->enabled == 0 && allowed) {
			uint32_t count = (uint32_t)__builtin_popcount(allowed), pick = below(&g, count);
			for (int k = 0; k < AU_CK_COUNT_; k++)
				if ((allowed & (1u << k)) && pick-- == 0)
					plan->enabled = 1u << k;
		}
		max_faults = c->max_faults;
		g.lo = c->start;
		g.hi = sc->duration - c->quiet_period;
		g.len_lo = c->fault_lo_ns;
		g.len_hi = c->fault_hi_ns;
		g.rate_hi = (uint32_t)(c->max_rate * 1000.0 + 0.5);
		if (g.rate_hi < 1)
			g.rate_hi = 1;
	}
	uint32_t enabled_list[AU_CK_COUNT_], n_enabled = 0;
	for (int k = 0; k < AU_CK_COUNT_; k++)
		if (plan->enabled & (1u << k))
			enabled_list[n_enabled++] = (uint32_t)k;
	/* Room for at least one fault: at < hi - 1 ms.  The plan is charged
	 * against max_faults one per fault group, except that a Raft order
	 * incident is charged one whatever its groups: it is one scripted
	 * story (at most one plays at a time), and charged by its groups the
	 * 17 of figure8 would never fit a budget sized for uniform faults.
	 * AU_CHAOS_MAX_FAULTS bounds the groups themselves. */
	uint32_t used = 0;
	if (n_enabled && g.hi - g.lo > AU_NS_PER_MS) {
		uint32_t target = 1 + below(&g, max_faults);
		/* Each attempt either places an incident or gives up a slot, so
		 * the loop ends after at most 2 * target attempts. */
		for (uint32_t attempts = 0; used < target && attempts < 2 * target; attempts++) {
			uint32_t hard = AU_CHAOS_MAX_FAULTS - g.faults->len;
			if (hard == 0)
				break;
			enum au_chaos_kind kind = enabled_list[below(&g, n_enabled)];
			au_time at = time_in(&g, g.lo, g.hi - AU_NS_PER_MS);
			bool order = au_chaos_kind_is_order(kind);
			uint32_t room = order ? hard : MIN(target - used, hard), groups = 0;
			/* A node fault starts a correlated chain with [chaos]
			 * correlated's chance; one that does not fit is an
			 * ordinary incident instead. */
			if (g.correlated_pm && (CHAIN_KINDS & (1u << kind)) && below(&g, 1000) < g.correlated_pm)
				groups = gen_chain(&g, kind, at, room);
			if (!groups)
				groups = gen_incident(&g, kind, at, room, plan->enabled);
			used += order ? (groups > 0) : groups;
		}
	}
	plan->charged = used;
	plan->chains = g.chains;
	for (guint i = 0; i < g.faults->len; i++)
		g_array_index(g.faults, struct au_fault, i).file_order = i;
	/* Sort faults and their kinds together by (at, generation order). */
	uint32_t n = g.faults->len;
	uint8_t *kind_by_order = g_memdup2(g.kinds->data, n ? n : 1);
	uint8_t *chained_by_order = g_memdup2(g.chained->data, n ? n : 1);
	g_array_sort(g.faults, fault_order);
	plan->n_faults = n;
	plan->kinds = g_new(uint8_t, n ? n : 1);
	plan->chained = g_new0(bool, n ? n : 1);
	for (uint32_t i = 0; i < n; i++) {
		struct au_fault *f = &g_array_index(g.faults, struct au_fault, i);
		plan->kinds[i] = kind_by_order[f->file_order];
		plan->chained[i] = chained_by_order[f->file_order] != 0;
		f->file_order = i;
		f->name = g_strdup_printf("chaos-%02u-%s%s", i + 1, kind_names[plan->kinds[i]],
					  plan->chained[i] ? "-then-crash" : "");
	}
	g_free(kind_by_order);
	g_free(chained_by_order);
	plan->faults = (struct au_fault *)g_array_free(g.faults, FALSE);
	g_array_free(g.kinds, TRUE);
	g_array_free(g.chained, TRUE);
	for (uint32_t i = 0; i <= g.servers; i++)
		g_array_free(g.busy[i], TRUE);
	g_free(g.busy);
	return plan;
}

void au_chaos_plan_free(struct au_chaos_plan *plan)
{
	if (!plan)
		return;
	for (uint32_t i = 0; i < plan->n_faults; i++) {
		g_free(plan->faults[i].name);
		g_free(plan->faults[i].members);
	}
	g_free(plan->faults);
	g_free(plan->kinds);
	g_free(plan->chained);
	g_free(plan);
}

/* ---- writing faults as [fault.*] groups -------------------------------- */

static const char *const action_names[AU_FAULT_ACTIONS_] = {
	[AU_FAULT_CRASH] = "crash",
	[AU_FAULT_RESTART] = "restart",
	[AU_FAULT_PARTITION] = "partition",
	[AU_FAULT_HEAL] = "heal",
	[AU_FAULT_CLOG] = "clog",
	[AU_FAULT_LOSS] = "loss",
	[AU_FAULT_PAUSE] = "pause",
	[AU_FAULT_RESUME] = "resume",
	[AU_FAULT_SKEW] = "skew",
	[AU_FAULT_DISK] = "disk_fault",
	[AU_FAULT_CORRUPT] = "corrupt",
	[AU_FAULT_TRANSFER] = "transfer_leader",
	[AU_FAULT_ADD_VOTER] = "add_voter",
	[AU_FAULT_REMOVE_VOTER] = "remove_voter",
	[AU_FAULT_LEAVE] = "leave",
	[AU_FAULT_DRAIN] = "drain",
	[AU_FAULT_DUPLICATE] = "duplicate",
};

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
	g_string_append_printf(s, "action = %s\n", action_names[f->action]);
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
