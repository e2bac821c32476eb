/* plan.c — fault plans from a seed (see chaos.h); the draws are gen.c's,
 * the Raft orders of events orders.c's, the text that carries a plan
 * render.c's.
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
#include "plan_internal.h"

#include <string.h>

#include "chaos_internal.h"
#include "orchestrator/orchestrator.h"
#include "raft/raft.h"

/* ---- the generator ---------------------------------------------------- */

/* A lasting fault's length: half the time short (up to 10x the lower
 * bound), else anywhere up to the upper bound — most trouble is brief, some
 * is long. */
static au_time length(struct gen *g)
{
	au_time hi = g->len_hi;
	if (au_gen_chance(g, 50) && g->len_lo * 10 < hi)
		hi = g->len_lo * 10;
	au_time t = au_gen_time_in(g, g->len_lo, hi);
	return t > 0 ? t : AU_NS_PER_MS;
}

static double rate(struct gen *g)
{
	uint32_t lo = g->rate_hi >= 50 ? 50 : 1;
	return (double)(lo + au_gen_below(g, g->rate_hi - lo + 1)) / 1000.0;
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
			au_gen_mark_busy(g, n, f->at, f->restart_after >= 0 ? f->at + f->restart_after : INT64_MAX);
			break;
		case AU_FAULT_PAUSE:
			au_gen_mark_busy(g, n, f->at, f->until >= 0 ? f->until : INT64_MAX);
			break;
		case AU_FAULT_RESTART:
		case AU_FAULT_RESUME:
			au_gen_mark_busy(g, n, f->at, f->at);
			break;
		default:
			break;
		}
	}
}

/* A target for a node fault: the leader, a random node (both resolved when
 * the fault fires) or an explicit one.  For crash and pause an explicit
 * node must be free over [from, to]; if it is not, `random` is used. */
static struct au_target pick_target(struct gen *g, bool exclusive, au_time from, au_time to)
{
	struct au_target t = {AU_TARGET_RANDOM, 0};
	uint32_t r = au_gen_below(g, 10);
	if (r < 3 && g->raft) {
		t.kind = AU_TARGET_LEADER;
	} else if (r >= 6) {
		au_node_id n = au_gen_any_node(g);
		if (!exclusive || !au_gen_busy_at(g, n, from, to)) {
			t.kind = AU_TARGET_NODE;
			t.node = n;
			if (exclusive)
				au_gen_mark_busy(g, n, from, to);
		}
	}
	return t;
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
	if (link_ok && g->servers >= 2 && au_gen_chance(g, 40)) {
		f->has_link = true;
		f->link_a = au_gen_any_node(g);
		f->link_b = 1 + (f->link_a - 1 + 1 + au_gen_below(g, g->servers - 1)) % g->servers;
		return;
	}
	f->target = pick_target(g, false, 0, 0);
}

static void gen_partition(struct gen *g, au_time at, bool oneway)
{
	struct au_fault *f = au_gen_add_fault(g, oneway ? AU_CK_PARTITION_ONEWAY : AU_CK_PARTITION,
				       AU_FAULT_PARTITION, at);
	f->until = end_of(g, at);
	f->oneway = oneway;
	uint32_t n = g->servers;
	if ((g->raft && au_gen_chance(g, 35)) || n < 2) {
		/* The leader against everybody else (in either direction). */
		f->n_groups = 2;
		f->n_members = 2;
		f->members = g_new0(struct au_group_member, 2);
		bool leader_first = !oneway || au_gen_chance(g, 50);
		f->members[0].who.kind = leader_first ? AU_TARGET_LEADER : AU_TARGET_REST;
		f->members[0].group = 1;
		f->members[1].who.kind = leader_first ? AU_TARGET_REST : AU_TARGET_LEADER;
		f->members[1].group = 2;
		if (!g->raft) { /* no leader: one node against the rest */
			f->members[leader_first ? 0 : 1].who.kind = AU_TARGET_NODE;
			f->members[leader_first ? 0 : 1].who.node = au_gen_any_node(g);
		}
		return;
	}
	/* A random split: shuffle the nodes, cut into 2 (or 3) groups. */
	au_node_id *order = g_new(au_node_id, n);
	for (uint32_t i = 0; i < n; i++)
		order[i] = i + 1;
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = au_gen_below(g, i + 1);
		au_node_id t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	uint32_t groups = (!oneway && n >= 3 && au_gen_chance(g, 20)) ? 3 : 2;
	uint32_t cut1 = 1 + au_gen_below(g, n - groups + 1);
	uint32_t cut2 = groups == 3 ? cut1 + 1 + au_gen_below(g, n - cut1 - 1) : n;
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
			  room >= 3 && au_gen_chance(g, 50);
	struct au_fault *f;
	au_time t = at;
	if (membership) {
		bool add = (enabled & (1u << AU_CK_ADD_VOTER)) &&
			   (!(enabled & (1u << AU_CK_REMOVE_VOTER)) || au_gen_chance(g, 50));
		f = au_gen_add_fault(g, AU_CK_ELECTION_CHURN, add ? AU_FAULT_ADD_VOTER : AU_FAULT_REMOVE_VOTER, t);
		f->target = (struct au_target){AU_TARGET_NODE, au_gen_any_node(g)};
		used++;
		t += au_gen_time_in(g, AU_NS_PER_MS, 5 * AU_NS_PER_MS);
	}
	if (t + g->el_lo >= g->hi)
		return used;
	f = au_gen_add_fault(g, AU_CK_ELECTION_CHURN, AU_FAULT_CRASH, t);
	f->target.kind = AU_TARGET_LEADER;
	f->restart_after = au_gen_time_in(g, AU_NS_PER_MS, 2 * g->el_hi);
	if (t + f->restart_after > g->hi)
		f->restart_after = g->hi - t;
	used++;
	uint32_t follow = 1 + au_gen_below(g, 3);
	for (uint32_t i = 0; i < follow && used < room; i++) {
		au_time when = t + au_gen_time_in(g, g->el_lo / 2, 2 * g->el_hi);
		if (when + 2 * AU_NS_PER_MS > g->hi)
			break;
		if (membership) {
			/* Another change, as the next leader is likely to have won. */
			bool add = (enabled & (1u << AU_CK_ADD_VOTER)) &&
				   (!(enabled & (1u << AU_CK_REMOVE_VOTER)) || au_gen_chance(g, 50));
			f = au_gen_add_fault(g, AU_CK_ELECTION_CHURN, add ? AU_FAULT_ADD_VOTER : AU_FAULT_REMOVE_VOTER,
				      when);
			f->target = (struct au_target){AU_TARGET_NODE, au_gen_any_node(g)};
		} else {
			/* A voter down for a moment, mid-election. */
			f = au_gen_add_fault(g, AU_CK_ELECTION_CHURN, AU_FAULT_CRASH, when);
			f->target.kind = au_gen_chance(g, 25) ? AU_TARGET_LEADER : AU_TARGET_RANDOM;
			f->restart_after = au_gen_time_in(g, AU_NS_PER_MS, g->el_lo);
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
	return au_gen_time_in(g, lo, hi > lo ? hi : lo);
}

/* The execution layer's kinds: faults aimed, when they fire, at the nodes
 * that hold something the queue or the lock service must take back (see
 * docs/chaos.md).  Lengths are scaled by the scenario's lease and
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
		au_time len = au_gen_chance(g, 70) ? span_in(g, ttl + ttl / 20, ttl + ttl / 2)
					    : span_in(g, ttl / 4, ttl);
		if (at + len > g->hi)
			at = g->hi - len;
		if (at < g->lo || len < AU_NS_PER_MS)
			return 0;
		f = au_gen_add_fault(g, kind, AU_FAULT_PAUSE, at);
		f->until = at + len;
		f->target.kind = kind == AU_CK_LOCK_PAUSE ? AU_TARGET_LOCK_HOLDER : AU_TARGET_LEASE_HOLDER;
		return 1;
	}
	case AU_CK_HOLDER_CRASH: {
		f = au_gen_add_fault(g, kind, AU_FAULT_CRASH, at);
		f->target.kind = AU_TARGET_LEASE_HOLDER;
		uint32_t r = au_gen_below(g, 10);
		/* One node down for good per plan at most: more could take a
		 * majority of the servers with them, and no leader could follow. */
		if (r >= 7 && g->down_for_good > 0)
			r = 4 + au_gen_below(g, 3);
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
			f->at = au_gen_time_in(g, lo, hi);
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
		au_time jump = au_gen_chance(g, 75) ? span_in(g, lease, 2 * g->sc->duration)
					     : -span_in(g, lease, 3 * lease);
		if (room >= 2 && g->raft && au_gen_chance(g, 60)) {
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
			au_node_id n = au_gen_any_node(g);
			f = au_gen_add_fault(g, kind, AU_FAULT_SKEW, at);
			f->target = (struct au_target){AU_TARGET_NODE, n};
			f->skew = jump;
			f = au_gen_add_fault(g, kind, AU_FAULT_PARTITION, cut);
			f->until = cut + len;
			f->n_groups = 2;
			f->n_members = 2;
			f->members = g_new0(struct au_group_member, 2);
			f->members[0] = (struct au_group_member){{AU_TARGET_NODE, n}, 1};
			f->members[1] = (struct au_group_member){{AU_TARGET_LEADER, 0}, 2};
			return 2;
		}
		f = au_gen_add_fault(g, kind, AU_FAULT_SKEW, at);
		f->target.kind = AU_TARGET_LEASE_HOLDER;
		f->skew = jump;
		if (au_gen_chance(g, 30)) {
			f->until = end_of(g, at);
			f->drift_ppm = 1 + au_gen_below(g, 100000);
		}
		return 1;
	}
	default:
		return 0;
	}
}

/* ---- correlated faults: one node hit again soon after ------------------- */

/* A skew kind's clock trouble: a jump (±1 ms..1 s) and/or a drift (up to
 * 10 % fast or slow). */
static void draw_skew(struct gen *g, au_time *skew, int64_t *drift_ppm)
{
	bool jump = au_gen_chance(g, 60), drift = !jump || au_gen_chance(g, 50);
	*skew = 0;
	*drift_ppm = 0;
	if (jump) {
		*skew = au_gen_time_in(g, AU_NS_PER_MS, AU_NS_PER_S);
		if (au_gen_chance(g, 50))
			*skew = -*skew;
	}
	if (drift) {
		*drift_ppm = 1 + au_gen_below(g, 100000);
		if (au_gen_chance(g, 50))
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
	return au_gen_chance(g, 50) ? au_gen_time_in(g, 10 * AU_NS_PER_MS, AU_NS_PER_S) : length(g);
}

/* Add a crash of `n` at `at`, back after `restart`, as a follow-up of
 * `kind`'s chain. */
static void add_chained_crash(struct gen *g, enum au_chaos_kind kind, au_node_id n, au_time at,
			      au_time restart)
{
	struct au_fault *f = au_gen_add_fault(g, kind, AU_FAULT_CRASH, at);
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
	au_node_id n = au_gen_any_node(g);
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
		au_time len = au_gen_chance(g, 70) ? span_in(g, ttl + ttl / 20, ttl + ttl / 2)
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
		skew = au_gen_chance(g, 75) ? span_in(g, g->lease, 2 * g->sc->duration)
				     : -span_in(g, g->lease, 3 * g->lease);
		hit_hi = at + g->lease;
		break;
	case AU_CK_PARTITION:
	case AU_CK_PARTITION_ONEWAY:
		act = AU_FAULT_PARTITION;
		until = end_of(g, at);
		node_first = kind == AU_CK_PARTITION || au_gen_chance(g, 50);
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
	au_time c1 = au_gen_time_in(g, hit_lo, hit_hi);
	au_time r1 = chain_restart(g);
	if (c1 + r1 > g->hi)
		r1 = g->hi - c1;
	if (r1 < AU_NS_PER_MS)
		return 0;
	au_time c2 = -1, r2 = -1;
	if (room >= 3 && au_gen_chance(g, 30)) {
		c2 = c1 + r1 + au_gen_time_in(g, AU_NS_PER_MS, AU_NS_PER_S);
		r2 = chain_restart(g);
		if (c2 + r2 > g->hi)
			r2 = g->hi - c2;
		if (r2 < AU_NS_PER_MS)
			c2 = -1;
	}
	au_time end = c2 >= 0 ? c2 + r2 : c1 + r1;
	if (until > end)
		end = until;
	if (au_gen_busy_at(g, n, at, end))
		return 0;
	/* A leave is a worker gone for good for the task layer: one per plan
	 * (see gen_incident). */
	if (act == AU_FAULT_LEAVE && g->lease_layer && g->down_for_good > 0)
		return 0;
	if (act == AU_FAULT_LEAVE && g->lease_layer)
		g->down_for_good++;
	au_gen_mark_busy(g, n, at, end);
	struct au_fault *f;
	if (act == AU_FAULT_PARTITION) {
		au_node_id one[1] = {n};
		f = node_first ? au_gen_add_cut(g, kind, at, until, one, 1, NULL, 0, kind == AU_CK_PARTITION_ONEWAY)
			       : au_gen_add_cut(g, kind, at, until, NULL, 0, one, 1, true);
	} else {
		f = au_gen_add_fault(g, kind, act, at);
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
		f = au_gen_add_fault(g, kind, AU_FAULT_CRASH, at);
		f->restart_after = restart;
		f->target = pick_target(g, true, at, at + restart);
		return 1;
	}
	case AU_CK_PARTITION:
	case AU_CK_PARTITION_ONEWAY:
		gen_partition(g, at, kind == AU_CK_PARTITION_ONEWAY);
		return 1;
	case AU_CK_CLOG:
		f = au_gen_add_fault(g, kind, AU_FAULT_CLOG, at);
		f->until = end_of(g, at);
		node_or_link(g, f, true);
		if (au_gen_chance(g, 60)) /* else: held until the clog ends */
			f->extra = au_gen_time_in(g, 5 * AU_NS_PER_MS, AU_NS_PER_S);
		return 1;
	case AU_CK_LOSS:
	case AU_CK_DUPLICATE:
	case AU_CK_CORRUPT:
		f = au_gen_add_fault(g, kind,
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
		f = au_gen_add_fault(g, kind, AU_FAULT_PAUSE, at);
		f->until = until;
		f->target = pick_target(g, true, at, until);
		return 1;
	}
	case AU_CK_SKEW: {
		f = au_gen_add_fault(g, kind, AU_FAULT_SKEW, at);
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
		au_time crash_at = au_gen_time_in(g, at + AU_NS_PER_MS, until);
		au_time restart = au_gen_time_in(g, 10 * AU_NS_PER_MS, AU_NS_PER_S);
		if (crash_at + restart > g->hi)
			restart = g->hi - crash_at > AU_NS_PER_MS ? g->hi - crash_at : AU_NS_PER_MS;
		au_node_id n = au_gen_any_node(g);
		if (au_gen_busy_at(g, n, crash_at, crash_at + restart) || crash_at + restart > g->hi)
			return 0;
		au_gen_mark_busy(g, n, crash_at, crash_at + restart);
		f = au_gen_add_fault(g, kind, AU_FAULT_DISK, at);
		f->disk_kind = AU_DISK_SLOW_SYNC;
		f->slow_extra = au_gen_time_in(g, 20 * AU_NS_PER_MS, 300 * AU_NS_PER_MS);
		f->until = until;
		f->target = (struct au_target){AU_TARGET_NODE, n};
		f = au_gen_add_fault(g, kind, AU_FAULT_CRASH, crash_at);
		f->restart_after = restart;
		f->target = (struct au_target){AU_TARGET_NODE, n};
		return 2;
	}
	case AU_CK_READ_ERROR: {
		/* Reads only matter at boot: a crash whose restart finds the
		 * disk unreadable for a while (Raft must wait, not boot empty). */
		if (room < 2)
			return 0;
		au_time restart = au_gen_time_in(g, 10 * AU_NS_PER_MS, AU_NS_PER_S);
		if (at + restart >= g->hi)
			return 0;
		au_node_id n = au_gen_any_node(g);
		au_time until = end_of(g, at + restart);
		if (au_gen_busy_at(g, n, at, at + restart))
			return 0;
		au_gen_mark_busy(g, n, at, at + restart);
		f = au_gen_add_fault(g, kind, AU_FAULT_CRASH, at);
		f->restart_after = restart;
		f->target = (struct au_target){AU_TARGET_NODE, n};
		f = au_gen_add_fault(g, kind, AU_FAULT_DISK, at + restart / 2);
		f->disk_kind = AU_DISK_READ_ERROR;
		f->until = until;
		f->target = (struct au_target){AU_TARGET_NODE, n};
		return 2;
	}
	case AU_CK_SLOW_SYNC:
		f = au_gen_add_fault(g, kind, AU_FAULT_DISK, at);
		f->disk_kind = AU_DISK_SLOW_SYNC;
		f->slow_extra = au_gen_time_in(g, 10 * AU_NS_PER_MS, 500 * AU_NS_PER_MS);
		f->until = end_of(g, at);
		f->target = pick_target(g, false, 0, 0);
		return 1;
	case AU_CK_DISK_CORRUPT:
		f = au_gen_add_fault(g, kind, AU_FAULT_DISK, at);
		f->disk_kind = AU_DISK_CORRUPT;
		f->target = pick_target(g, false, 0, 0);
		return 1;
	case AU_CK_DISK_FULL:
	case AU_CK_WRITE_ERROR:
	case AU_CK_SYNC_ERROR:
		/* Storage that cannot persist for a while (env.h): a disk with
		 * no room, writes that fail, or syncs that fail — every
		 * operation, or a share of them (in thousandths). */
		f = au_gen_add_fault(g, kind, AU_FAULT_DISK, at);
		f->disk_kind = kind == AU_CK_DISK_FULL	  ? AU_DISK_FULL
			       : kind == AU_CK_WRITE_ERROR ? AU_DISK_WRITE_ERROR
							   : AU_DISK_SYNC_ERROR;
		if (kind != AU_CK_DISK_FULL)
			f->rate = au_gen_chance(g, 50) ? 1.0 : (double)(50 + au_gen_below(g, 900)) / 1000.0;
		f->until = end_of(g, at);
		f->target = pick_target(g, false, 0, 0);
		return 1;
	case AU_CK_TRANSFER_LEADER:
		f = au_gen_add_fault(g, kind, AU_FAULT_TRANSFER, at);
		f->target = (struct au_target){AU_TARGET_NODE, au_gen_any_node(g)};
		return 1;
	case AU_CK_ADD_VOTER:
		f = au_gen_add_fault(g, kind, AU_FAULT_ADD_VOTER, at);
		f->target = (struct au_target){AU_TARGET_NODE, au_gen_any_node(g)};
		return 1;
	case AU_CK_REMOVE_VOTER: {
		au_node_id n = au_gen_any_node(g);
		f = au_gen_add_fault(g, kind, AU_FAULT_REMOVE_VOTER, at);
		f->target = (struct au_target){AU_TARGET_NODE, n};
		/* Usually the node comes back later (if add_voter is on too). */
		if (room >= 2 && (enabled & (1u << AU_CK_ADD_VOTER)) && au_gen_chance(g, 70)) {
			f = au_gen_add_fault(g, AU_CK_ADD_VOTER, AU_FAULT_ADD_VOTER, end_of(g, at));
			f->target = (struct au_target){AU_TARGET_NODE, n};
			return 2;
		}
		return 1;
	}
	case AU_CK_ELECTION_CHURN:
		return gen_churn(g, at, room, enabled);
	case AU_CK_LEAVE: {
		au_node_id n = au_gen_any_node(g);
		/* A node that leaves never comes back, and the task queue gives
		 * a left node no more leases: for the execution layer it is a
		 * worker gone for good, so it counts with holder_crash's (one
		 * per plan: two gone, after an outage, leave too few workers
		 * to clear the backlog in the quiet period). */
		if (g->lease_layer && g->down_for_good++ > 0)
			return 0;
		f = au_gen_add_fault(g, kind, AU_FAULT_LEAVE, at);
		f->target = (struct au_target){AU_TARGET_NODE, n};
		return 1;
	}
	case AU_CK_DRAIN:
		f = au_gen_add_fault(g, kind, AU_FAULT_DRAIN, at);
		f->target = (struct au_target){AU_TARGET_NODE, au_gen_any_node(g)};
		f->until = end_of(g, at);
		return 1;
	case AU_CK_HOLDER_PAUSE:
	case AU_CK_HOLDER_CRASH:
	case AU_CK_HOLDER_SKEW:
	case AU_CK_LOCK_PAUSE:
		return gen_exec(g, kind, at, room);
	case AU_CK_CONFIG_RACE:
		return au_gen_config_race(g, at, room);
	case AU_CK_SPLIT_VOTE:
		return au_gen_split_vote(g, at, room);
	case AU_CK_FIGURE8:
		return au_gen_figure8(g, at, room);
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
	g.raft = au_cluster_spec_runs(&sc->cluster, "raft");
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
	const struct au_orch_config *oc = au_chaos_orch_config(sc);
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
			if ((allowed & (1u << k)) && au_gen_chance(&g, 50))
				plan->enabled |= 1u << k;
		if (plan->enabled == 0 && allowed) {
			uint32_t count = (uint32_t)__builtin_popcount(allowed), pick = au_gen_below(&g, count);
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
		uint32_t target = 1 + au_gen_below(&g, max_faults);
		/* Each attempt either places an incident or gives up a slot, so
		 * the loop ends after at most 2 * target attempts. */
		for (uint32_t attempts = 0; used < target && attempts < 2 * target; attempts++) {
			uint32_t hard = AU_CHAOS_MAX_FAULTS - g.faults->len;
			if (hard == 0)
				break;
			enum au_chaos_kind kind = enabled_list[au_gen_below(&g, n_enabled)];
			au_time at = au_gen_time_in(&g, g.lo, g.hi - AU_NS_PER_MS);
			bool order = au_chaos_kind_is_order(kind);
			uint32_t room = order ? hard : MIN(target - used, hard), groups = 0;
			/* A node fault starts a correlated chain with [chaos]
			 * correlated's chance; one that does not fit is an
			 * ordinary incident instead. */
			if (g.correlated_pm && (CHAIN_KINDS & (1u << kind)) && au_gen_below(&g, 1000) < g.correlated_pm)
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
		f->name = g_strdup_printf("chaos-%02u-%s%s", i + 1, au_chaos_kind_name((enum au_chaos_kind)plan->kinds[i]),
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
