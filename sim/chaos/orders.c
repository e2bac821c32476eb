/* orders.c — the Raft orders of events: config_race (two leaders'
 * membership changes race, Ongaro 2015), split_vote (two candidates of one
 * term, one voter asked by both) and figure8 (an old term's entry on a
 * majority, then overwritten: the Raft paper's Figure 8).  Each plays
 * several faults in a set order with explicit roles.
 */
#include "plan_internal.h"

#include <string.h>

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
			n = au_gen_any_node(g);
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
struct au_fault *au_gen_add_cut(struct gen *g, enum au_chaos_kind kind, au_time at,
				au_time until, const au_node_id *a, uint32_t n_a,
				const au_node_id *b, uint32_t n_b, bool oneway)
{
	struct au_fault *f = au_gen_add_fault(g, kind, AU_FAULT_PARTITION, at);
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
uint32_t au_gen_config_race(struct gen *g, au_time at, uint32_t room)
{
	if (!g->raft || g->servers < 5 || room < 10)
		return 0;
	au_node_id r[4];
	pick_distinct(g, r, 4);
	au_node_id x = r[0], a = r[1], d = r[2], c = r[3];
	au_time t_transfer = at + au_gen_time_in(g, g->el_hi, 4 * g->el_hi);
	au_time t1 = t_transfer + au_gen_time_in(g, 2 * g->el_hi, 5 * g->el_hi);
	au_time hold = au_gen_time_in(g, g->el_hi + g->el_lo / 2, 3 * g->el_hi);
	au_time deaf = t1 + hold + au_gen_time_in(g, g->hop, 3 * g->hop);
	au_time t_remove = deaf + au_gen_time_in(g, g->el_lo / 4, g->el_hi);
	au_time t_remove2 = t_remove + au_gen_time_in(g, g->el_hi, 2 * g->el_hi);
	au_time t2 = t_remove2 + au_gen_time_in(g, g->el_hi, 4 * g->el_hi);
	au_time t3 = t2 + au_gen_time_in(g, 4 * g->el_hi, 15 * g->el_hi);
	if (t3 > g->hi || at < g->orders_until)
		return 0;
	g->orders_until = t3;
	struct au_fault *f = au_gen_add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_REMOVE_VOTER, at);
	f->target = (struct au_target){AU_TARGET_NODE, x};
	f = au_gen_add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_TRANSFER, t_transfer);
	f->target = (struct au_target){AU_TARGET_NODE, a};
	au_gen_add_cut(g, AU_CK_CONFIG_RACE, t1, t2, &a, 1, NULL, 0, false);
	f = au_gen_add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_ADD_VOTER, t1 + au_gen_time_in(g, AU_NS_PER_MS, 3 * AU_NS_PER_MS));
	f->target = (struct au_target){AU_TARGET_NODE, x};
	/* Shortly before, A's messages to C and everything of D are held (A's
	 * to them are dropped once A is cut off): the last entries reach only
	 * the fifth server B, so B alone can win the next election. */
	au_time lead = t1 - au_gen_time_in(g, g->el_lo / 4, g->el_lo / 2);
	f = au_gen_add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_CLOG, lead);
	f->has_link = true;
	f->link_a = a;
	f->link_b = c;
	f->until = t1 + AU_NS_PER_MS; /* extra stays -1: held until then */
	f = au_gen_add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_CLOG, lead);
	f->target = (struct au_target){AU_TARGET_NODE, d};
	f->until = t1 + hold;
	/* group 1 (everybody else) cannot send to group 2 (D) */
	au_gen_add_cut(g, AU_CK_CONFIG_RACE, deaf, t2, NULL, 0, &d, 1, true);
	f = au_gen_add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_REMOVE_VOTER, t_remove);
	f->target = (struct au_target){AU_TARGET_NODE, d};
	f = au_gen_add_fault(g, AU_CK_CONFIG_RACE, AU_FAULT_REMOVE_VOTER, t_remove2);
	f->target = (struct au_target){AU_TARGET_NODE, d};
	au_node_id side[3] = {a, x, d};
	au_gen_add_cut(g, AU_CK_CONFIG_RACE, t2, t3, side, 3, NULL, 0, false);
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
uint32_t au_gen_split_vote(struct gen *g, au_time at, uint32_t room)
{
	if (!g->raft || g->servers < 5 || room < 6)
		return 0;
	au_node_id r[5];
	pick_distinct(g, r, 5);
	au_node_id l = r[0], x = r[1], y = r[2], w = r[3], v = r[4];
	au_time d = au_gen_time_in(g, 3 * g->hop / 2, 3 * g->hop);
	au_time t1 = at + au_gen_time_in(g, 2 * g->el_hi, 5 * g->el_hi);
	au_time lag = t1 - au_gen_time_in(g, g->hop, g->el_lo / 2);
	au_time tau = t1 + au_gen_time_in(g, g->hop, 3 * g->hop);
	au_time tau_y = tau + au_gen_time_in(g, 0, g->hop / 2);
	au_time end = tau + au_gen_time_in(g, 3 * g->el_hi, 8 * g->el_hi);
	if (end > g->hi || at < g->orders_until)
		return 0;
	g->orders_until = end;
	struct au_fault *f = au_gen_add_fault(g, AU_CK_SPLIT_VOTE, AU_FAULT_TRANSFER, at);
	f->target = (struct au_target){AU_TARGET_NODE, l};
	au_gen_add_cut(g, AU_CK_SPLIT_VOTE, lag, end, &l, 1, &v, 1, true);
	au_node_id yw[2] = {y, w};
	au_gen_add_cut(g, AU_CK_SPLIT_VOTE, t1, end, &x, 1, yw, 2, true);
	f = au_gen_add_fault(g, AU_CK_SPLIT_VOTE, AU_FAULT_CLOG, t1);
	f->has_link = true;
	f->link_a = y;
	f->link_b = v;
	f->extra = d;
	f->until = end;
	f = au_gen_add_fault(g, AU_CK_SPLIT_VOTE, AU_FAULT_TRANSFER, tau);
	f->target = (struct au_target){AU_TARGET_NODE, x};
	f = au_gen_add_fault(g, AU_CK_SPLIT_VOTE, AU_FAULT_TRANSFER, tau_y);
	f->target = (struct au_target){AU_TARGET_NODE, y};
	/* Half the time V also crashes around the moment it votes for X and
	 * is back before Y's request: a vote answered before it was durable
	 * is forgotten, and V votes again. */
	if (room >= 7 && au_gen_chance(g, 50)) {
		au_time crash = tau + au_gen_time_in(g, g->hop, 2 * g->hop + 2 * g->sync_hi);
		au_time back = au_gen_time_in(g, AU_NS_PER_MS, g->hop);
		if (!au_gen_busy_at(g, v, crash, crash + back)) {
			au_gen_mark_busy(g, v, crash, crash + back);
			f = au_gen_add_fault(g, AU_CK_SPLIT_VOTE, AU_FAULT_CRASH, crash);
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
uint32_t au_gen_figure8(struct gen *g, au_time at, uint32_t room)
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
	au_time s = au_gen_time_in(g, (s_lo + s_hi) / 2, s_hi);
	au_time t1 = at + au_gen_time_in(g, 2 * g->el_hi, 4 * g->el_hi);
	au_time lead = t1 - au_gen_time_in(g, g->el_lo, 2 * g->el_lo);
	au_time release = t1 + au_gen_time_in(g, g->el_hi + g->el_lo / 2, 3 * g->el_hi);
	au_time deaf = release + au_gen_time_in(g, g->hop, 3 * g->hop);
	au_time t2 = deaf + au_gen_time_in(g, 2 * g->el_hi, 4 * g->el_hi);
	au_time first_try = t2 + s + au_gen_time_in(g, 0, s);
	au_time t_end = first_try + TRIES * s + au_gen_time_in(g, 0, g->el_lo);
	au_time t_last = t_end + au_gen_time_in(g, 4 * g->el_hi, 10 * g->el_hi);
	if (t_last > g->hi || at < g->orders_until)
		return 0;
	g->orders_until = t_last;
	struct au_fault *x = au_gen_add_fault(g, AU_CK_FIGURE8, AU_FAULT_TRANSFER, at);
	x->target = (struct au_target){AU_TARGET_NODE, a};
	x = au_gen_add_fault(g, AU_CK_FIGURE8, AU_FAULT_CLOG, lead);
	x->has_link = true;
	x->link_a = a;
	x->link_b = e;
	x->until = t1 + AU_NS_PER_MS; /* held, then dropped by the cut */
	x = au_gen_add_fault(g, AU_CK_FIGURE8, AU_FAULT_CLOG, lead);
	x->target = (struct au_target){AU_TARGET_NODE, c};
	x->until = release;
	au_node_id af[2] = {a, f}, afc[3] = {a, f, c}, be[2] = {b, e}, fc[2] = {f, c};
	au_gen_add_cut(g, AU_CK_FIGURE8, t1, t2, af, 2, NULL, 0, false);
	au_gen_add_cut(g, AU_CK_FIGURE8, t1, t2, &a, 1, &f, 1, false);
	au_gen_add_cut(g, AU_CK_FIGURE8, deaf, t2, NULL, 0, &c, 1, true);
	au_gen_add_cut(g, AU_CK_FIGURE8, t2, t_end, afc, 3, be, 2, false);
	/* Clocks 3x slow on A, F and C: A's election timer outlasts its slow
	 * vote sync, and F and C do not stand (a pre-candidate refuses votes)
	 * while A's requests wait for that sync. */
	au_node_id slow[3] = {a, f, c};
	for (int i = 0; i < 3; i++) {
		x = au_gen_add_fault(g, AU_CK_FIGURE8, AU_FAULT_SKEW, t2 - g->el_hi);
		x->target = (struct au_target){AU_TARGET_NODE, slow[i]};
		x->drift_ppm = -666667;
		x->until = t_end;
	}
	x = au_gen_add_fault(g, AU_CK_FIGURE8, AU_FAULT_DISK, t2);
	x->disk_kind = AU_DISK_SLOW_SYNC;
	x->slow_extra = s;
	x->until = t_end;
	x->target = (struct au_target){AU_TARGET_NODE, a};
	/* A crash of whoever leads, every s: the first one after A wins lands
	 * in its first s, and all come back together after the switch. */
	au_time r_after = au_gen_time_in(g, g->hop, g->el_lo / 2);
	for (uint32_t i = 0; i < TRIES; i++) {
		au_time when = first_try + i * s;
		x = au_gen_add_fault(g, AU_CK_FIGURE8, AU_FAULT_CRASH, when);
		x->target.kind = AU_TARGET_LEADER;
		x->restart_after = t_end - when + r_after;
	}
	au_gen_add_cut(g, AU_CK_FIGURE8, t_end, t_last, fc, 2, NULL, 0, false);
	return 12 + TRIES;
}
