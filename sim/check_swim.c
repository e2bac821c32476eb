/* check_swim.c — the SWIM checkers (see check_swim.h).
 *
 * All three keep the ground truth from the engine's events: which nodes
 * are up (NODE_BOOT, NODE_RESTART, NODE_CRASH), which left (SWIM_LEAVE;
 * undone by a restart), and whether the network is disturbed (an active
 * partition, link fault or pause).  They learn what nodes believe from
 * the /membership rows, and read a node's view directly (swim.h) when
 * they need a snapshot; a row is recorded before the view changes, so a
 * read during a row sees the state the row replaces.
 *
 * completeness: one watch per crash.  Every member that is live when the
 * crash happens, or boots while the member is still down, must declare it
 * dead or left (or never learn of it) within B of max(crash, its own boot,
 * the end of the last network disturbance).  Checked once that time has
 * passed and the network is calm; a member that restarts before its
 * deadline excuses everyone still pending.
 *
 * accuracy: a dead row about a member that is up, has not left, and runs
 * at an incarnation no newer than the row's is a false positive (a dead
 * row about an older incarnation concerns a previous life); suspect rows
 * likewise count as false suspicions.  Reported, never a violation.
 *
 * convergence: a running count of (observer, member) pairs where a live
 * observer's view disagrees with the truth (alive or suspect for live
 * members; dead, left or unknown for the others), kept exact by deltas:
 * each row changes one pair, a crash, restart or leave changes one
 * member's column (n reads) and one observer's row.  At the faults' end +
 * T the count must be zero.
 */
#include "check_swim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum cs_kind { CS_COMPLETE, CS_ACCURACY, CS_CONVERGE };

struct watch {
	au_node_id member;
	au_time crash_ns;
	au_time *declared; /* [n+1]: -1 pending, -2 not required, else when */
	uint32_t pending;
	au_time next_check;
};

struct cswim {
	enum cs_kind kind;
	uint32_t n;          /* servers n1..nN */
	uint32_t svc;        /* swim's service index */
	const struct au_swim_config *cfg;
	au_time bound_ns;

	/* truth */
	uint8_t *up, *left, *paused; /* [n+1] */
	au_time *boot_ns;            /* [n+1] */
	uint32_t partitions, link_faults, n_paused;
	au_time calm_since;
	bool ever_disturbed;

	/* completeness */
	GPtrArray *watches;
	uint64_t crashes_watched, declarations;
	au_time latency_max, latency_sum;

	/* accuracy */
	uint64_t false_dead, false_dead_disturbed, false_suspect;

	/* convergence */
	int64_t mismatch;
	uint8_t *counted;   /* [n+1] observer's pairs are in `mismatch` */
	uint8_t *pending;   /* [n+1] observer to add once its state exists */
	uint32_t n_counted;
	bool any_pending;
	au_time heal_ns, within_ns, agree_since;
	bool checked, agreed_at_deadline;
};

/* ---- helpers ---------------------------------------------------------------- */

au_time au_check_swim_bound(const struct au_swim_config *cfg, uint32_t n)
{
	au_time p = cfg->probe_interval_ns;
	double d;
	if (n <= 2) {
		d = 1;
	} else {
		double per = -(double)(n - 1) * log1p(-1.0 / (double)(n - 1));
		d = ceil(log(1e9) / per);
		double rr = 2.0 * (double)n - 3.0;
		if (rr < d)
			d = rr;
	}
	au_time detect = (au_time)(d + 1.0) * p;
	au_time suspicion = 0;
	if (cfg->suspicion) {
		uint32_t k = cfg->suspicion_mult >= 2 ? cfg->suspicion_mult - 2 : 0;
		suspicion = (n < 2 || n - 2 < k || k < 1) ? au_swim_suspicion_min(cfg, n)
							   : au_swim_suspicion_max(cfg, n);
	}
	au_time round = cfg->gossip_nodes > 0 ? cfg->gossip_interval_ns : p;
	au_time spread = (au_time)(2.0 * ceil(log2((double)n + 1.0)) + 10.0) * round;
	return detect + suspicion + spread;
}

static const struct au_swim *view(const struct cswim *cs, struct au_sim *sim, au_node_id o)
{
	if (o < 1 || o > cs->n || !sim->node[o].up)
		return NULL;
	return sim->node[o].svc[cs->svc].state;
}

static bool truth_alive(const struct cswim *cs, au_node_id m) { return cs->up[m] && !cs->left[m]; }

static bool agrees(enum au_swim_state s, bool alive)
{
	return alive ? (s == AU_SWIM_ALIVE || s == AU_SWIM_SUSPECT)
		     : (s == AU_SWIM_DEAD || s == AU_SWIM_LEFT || s == AU_SWIM_UNKNOWN);
}

static bool disturbed(const struct cswim *cs)
{
	return cs->partitions || cs->link_faults || cs->n_paused;
}

static const char *state_name(enum au_swim_state s)
{
	static const char *const names[] = {"alive", "suspect", "dead", "left", "unknown"};
	return (unsigned)s < 5 ? names[s] : "?";
}

static struct cswim *create(struct au_sim *sim, enum cs_kind kind)
{
	struct cswim *cs = g_new0(struct cswim, 1);
	cs->kind = kind;
	cs->n = sim->servers;
	for (uint32_t i = 0; i < sim->sc->n_services; i++)
		if (sim->sc->services[i] == &au_swim_model)
			cs->svc = i;
	cs->cfg = sim->sc->service_config[cs->svc];
	cs->bound_ns = au_check_swim_bound(cs->cfg, cs->n);
	cs->up = g_new0(uint8_t, (gsize)cs->n + 1);
	cs->left = g_new0(uint8_t, (gsize)cs->n + 1);
	cs->paused = g_new0(uint8_t, (gsize)cs->n + 1);
	cs->boot_ns = g_new0(au_time, (gsize)cs->n + 1);
	cs->watches = g_ptr_array_new();
	if (kind == CS_CONVERGE) {
		cs->counted = g_new0(uint8_t, (gsize)cs->n + 1);
		cs->pending = g_new0(uint8_t, (gsize)cs->n + 1);
		cs->heal_ns = au_scenario_faults_over(sim->sc);
		for (char **l = sim->sc->liveness; l && *l; l++)
			if (g_str_has_prefix(*l, "membership_converged:"))
				au_parse_duration(*l + strlen("membership_converged:"), &cs->within_ns);
	}
	return cs;
}

void *au_cswim_complete_create(struct au_sim *sim) { return create(sim, CS_COMPLETE); }
void *au_cswim_accuracy_create(struct au_sim *sim) { return create(sim, CS_ACCURACY); }
void *au_cswim_converge_create(struct au_sim *sim) { return create(sim, CS_CONVERGE); }

void au_cswim_destroy(void *st)
{
	struct cswim *cs = st;
	for (guint i = 0; i < cs->watches->len; i++) {
		struct watch *w = g_ptr_array_index(cs->watches, i);
		g_free(w->declared);
		g_free(w);
	}
	g_ptr_array_free(cs->watches, TRUE);
	g_free(cs->up);
	g_free(cs->left);
	g_free(cs->paused);
	g_free(cs->boot_ns);
	g_free(cs->counted);
	g_free(cs->pending);
	g_free(cs);
}

/* ---- convergence: the mismatch count ------------------------------------------- */

static void converge_note_count(struct cswim *cs, struct au_sim *sim, int64_t before)
{
	if (before != 0 && cs->mismatch == 0)
		cs->agree_since = sim->now;
}

/* Add (sign +1) or remove (-1) observer o's pairs. */
static void obs_pairs(struct cswim *cs, struct au_sim *sim, au_node_id o, int sign)
{
	const struct au_swim *v = view(cs, sim, o);
	if (!v)
		return;
	int64_t before = cs->mismatch, d = 0;
	for (au_node_id m = 1; m <= cs->n; m++)
		if (m != o && !agrees(au_swim_member_state(v, m), truth_alive(cs, m)))
			d++;
	cs->mismatch += sign * d;
	if (sign > 0 && !cs->counted[o])
		cs->n_counted++;
	else if (sign < 0 && cs->counted[o])
		cs->n_counted--;
	cs->counted[o] = sign > 0;
	converge_note_count(cs, sim, before);
}

/* Member m's truth changes from `was` to its current value: every counted
 * observer's pair (o, m) is re-evaluated. */
static void member_flip(struct cswim *cs, struct au_sim *sim, au_node_id m, bool was)
{
	bool now_alive = truth_alive(cs, m);
	if (now_alive == was || cs->n_counted == 0)
		return;
	int64_t before = cs->mismatch;
	for (au_node_id o = 1; o <= cs->n; o++) {
		if (!cs->counted[o] || o == m)
			continue;
		enum au_swim_state s = au_swim_member_state(view(cs, sim, o), m);
		cs->mismatch += (int64_t)!agrees(s, now_alive) - (int64_t)!agrees(s, was);
	}
	converge_note_count(cs, sim, before);
}

/* Observers that booted since the last look and now have state. */
static void add_pending(struct cswim *cs, struct au_sim *sim)
{
	if (!cs->any_pending)
		return;
	cs->any_pending = false;
	for (au_node_id o = 1; o <= cs->n; o++) {
		if (!cs->pending[o])
			continue;
		if (!view(cs, sim, o)) {
			cs->any_pending = true; /* still booting */
			continue;
		}
		cs->pending[o] = 0;
		if (!cs->left[o])
			obs_pairs(cs, sim, o, +1);
	}
}

/* The first look at or after the faults' end + T. */
static void converge_check(struct cswim *cs, struct au_sim *sim)
{
	if (cs->checked || sim->now < cs->heal_ns + cs->within_ns)
		return;
	cs->checked = true;
	add_pending(cs, sim);
	if (cs->mismatch == 0) {
		cs->agreed_at_deadline = true;
		return;
	}
	/* Find one disagreement to name. */
	for (au_node_id o = 1; o <= cs->n; o++) {
		if (!cs->counted[o])
			continue;
		const struct au_swim *v = view(cs, sim, o);
		for (au_node_id m = 1; m <= cs->n; m++) {
			enum au_swim_state s = au_swim_member_state(v, m);
			if (m == o || agrees(s, truth_alive(cs, m)))
				continue;
			au_sim_violate(sim, "membership_converged", o,
				       "%" G_GINT64_FORMAT " views disagree %" G_GINT64_FORMAT
				       " ns after the faults ended (at %" G_GINT64_FORMAT
				       " ns), e.g. n%u sees n%u %s but it is %s",
				       cs->mismatch, cs->within_ns, cs->heal_ns, o, m, state_name(s),
				       cs->up[m] ? (cs->left[m] ? "gone (left)" : "alive") : "down");
			return;
		}
	}
	au_sim_violate(sim, "membership_converged", 0, "internal: count %" G_GINT64_FORMAT
		       " without a disagreement", cs->mismatch);
}

/* ---- completeness: watches --------------------------------------------------- */

static struct watch *watch_of(struct cswim *cs, au_node_id m)
{
	for (guint i = 0; i < cs->watches->len; i++) {
		struct watch *w = g_ptr_array_index(cs->watches, i);
		if (w->member == m)
			return w;
	}
	return NULL;
}

static au_time obligation_start(const struct cswim *cs, const struct watch *w, au_node_id o)
{
	au_time s = w->crash_ns;
	if (cs->boot_ns[o] > s)
		s = cs->boot_ns[o];
	if (cs->calm_since > s)
		s = cs->calm_since;
	return s;
}

static void watch_free(struct cswim *cs, guint i)
{
	struct watch *w = g_ptr_array_index(cs->watches, i);
	g_ptr_array_remove_index(cs->watches, i);
	g_free(w->declared);
	g_free(w);
}

static void watch_declared(struct cswim *cs, struct watch *w, au_node_id o, au_time t)
{
	if (w->declared[o] != -1)
		return;
	w->declared[o] = t;
	w->pending--;
	au_time lat = t - obligation_start(cs, w, o);
	if (lat < 0)
		lat = 0;
	cs->declarations++;
	cs->latency_sum += lat;
	if (lat > cs->latency_max)
		cs->latency_max = lat;
}

/* Every pending observer whose deadline has passed must have declared by
 * now (or never have learned of the member). */
static void watch_evaluate(struct cswim *cs, struct au_sim *sim, struct watch *w)
{
	au_time next = INT64_MAX;
	for (au_node_id o = 1; o <= cs->n && !sim->violated; o++) {
		if (w->declared[o] != -1)
			continue;
		au_time deadline = obligation_start(cs, w, o) + cs->bound_ns;
		if (deadline > sim->now) {
			if (deadline < next)
				next = deadline;
			continue;
		}
		const struct au_swim *v = view(cs, sim, o);
		enum au_swim_state s = au_swim_member_state(v, w->member);
		if (!v || s == AU_SWIM_DEAD || s == AU_SWIM_LEFT || s == AU_SWIM_UNKNOWN) {
			w->declared[o] = -2; /* gone, or never heard of it */
			w->pending--;
			continue;
		}
		au_sim_violate(sim, "swim_completeness", o,
			       "n%u still sees n%u %s at t=%" G_GINT64_FORMAT " ns: it crashed at %"
			       G_GINT64_FORMAT " ns and the bound is %" G_GINT64_FORMAT " ns",
			       o, w->member, state_name(s), sim->now, w->crash_ns, cs->bound_ns);
	}
	w->next_check = next;
}

static void complete_poll(struct cswim *cs, struct au_sim *sim)
{
	if (disturbed(cs))
		return;
	for (guint i = 0; i < cs->watches->len && !sim->violated;) {
		struct watch *w = g_ptr_array_index(cs->watches, i);
		if (w->next_check <= sim->now)
			watch_evaluate(cs, sim, w);
		if (w->pending == 0 && !sim->violated)
			watch_free(cs, i);
		else
			i++;
	}
}

static void complete_crash(struct cswim *cs, struct au_sim *sim, au_node_id x)
{
	/* x no longer observes anything. */
	for (guint i = 0; i < cs->watches->len; i++) {
		struct watch *w = g_ptr_array_index(cs->watches, i);
		if (w->declared[x] == -1) {
			w->declared[x] = -2;
			w->pending--;
		}
	}
	struct watch *w = g_new0(struct watch, 1);
	w->member = x;
	w->crash_ns = sim->now;
	w->declared = g_new(au_time, (gsize)cs->n + 1);
	for (au_node_id o = 0; o <= cs->n; o++) {
		w->declared[o] = -2;
		if (o == 0 || o == x || cs->left[o])
			continue;
		const struct au_swim *v = view(cs, sim, o);
		if (!v)
			continue;
		enum au_swim_state s = au_swim_member_state(v, x);
		w->declared[o] = -1;
		w->pending++;
		if (s == AU_SWIM_DEAD || s == AU_SWIM_LEFT)
			watch_declared(cs, w, o, sim->now);
	}
	w->next_check = sim->now + cs->bound_ns;
	cs->crashes_watched++;
	g_ptr_array_add(cs->watches, w);
}

static void complete_boot(struct cswim *cs, struct au_sim *sim, au_node_id o)
{
	/* The member itself is back: whoever has not declared it is excused. */
	struct watch *mine = watch_of(cs, o);
	if (mine) {
		if (!disturbed(cs))
			watch_evaluate(cs, sim, mine); /* deadlines already passed still count */
		guint i;
		for (i = 0; i < cs->watches->len; i++)
			if (g_ptr_array_index(cs->watches, i) == mine)
				break;
		watch_free(cs, i);
	}
	/* A new observer must learn of every member that is still down. */
	for (guint i = 0; i < cs->watches->len; i++) {
		struct watch *w = g_ptr_array_index(cs->watches, i);
		if (w->declared[o] == -1)
			w->pending--;
		w->declared[o] = -1;
		w->pending++;
		au_time d = obligation_start(cs, w, o) + cs->bound_ns;
		if (d < w->next_check)
			w->next_check = d;
	}
}

/* ---- the callbacks ------------------------------------------------------------- */

static void set_calm(struct cswim *cs, struct au_sim *sim, bool was_disturbed)
{
	if (disturbed(cs))
		cs->ever_disturbed = true;
	if (was_disturbed && !disturbed(cs)) {
		cs->calm_since = sim->now;
		/* Deadlines move with the calm: re-evaluate them. */
		for (guint i = 0; i < cs->watches->len; i++) {
			struct watch *w = g_ptr_array_index(cs->watches, i);
			w->next_check = sim->now;
		}
	}
}

void au_cswim_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		    int64_t b, int64_t c)
{
	struct cswim *cs = st;
	(void)a;
	(void)b;
	(void)c;
	bool was_disturbed = disturbed(cs);
	bool server = node >= 1 && node <= cs->n;
	switch (kind) {
	case AU_TR_NODE_BOOT:
	case AU_TR_NODE_RESTART:
		if (!server)
			break;
		{
			bool was = truth_alive(cs, node);
			cs->up[node] = 1;
			cs->left[node] = 0;
			cs->boot_ns[node] = sim->now;
			if (cs->kind == CS_CONVERGE) {
				member_flip(cs, sim, node, was);
				cs->pending[node] = 1;
				cs->any_pending = true;
			} else if (cs->kind == CS_COMPLETE) {
				complete_boot(cs, sim, node);
			}
		}
		return; /* the node's state is being built: look later */
	case AU_TR_SWIM_BOOT:
		return;
	case AU_TR_NODE_CRASH:
		if (!server)
			break;
		if (cs->paused[node]) {
			cs->paused[node] = 0;
			cs->n_paused--;
		}
		if (cs->kind == CS_CONVERGE) {
			add_pending(cs, sim);
			if (cs->counted[node])
				obs_pairs(cs, sim, node, -1);
			cs->pending[node] = 0;
			bool was = truth_alive(cs, node);
			cs->up[node] = 0;
			member_flip(cs, sim, node, was);
		} else {
			if (cs->kind == CS_COMPLETE && !cs->left[node])
				complete_crash(cs, sim, node);
			cs->up[node] = 0;
		}
		break;
	case AU_TR_SWIM_LEAVE:
		if (!server)
			break;
		if (cs->kind == CS_CONVERGE) {
			add_pending(cs, sim);
			if (cs->counted[node])
				obs_pairs(cs, sim, node, -1);
			bool was = truth_alive(cs, node);
			cs->left[node] = 1;
			member_flip(cs, sim, node, was);
		} else {
			cs->left[node] = 1;
			if (cs->kind == CS_COMPLETE)
				for (guint i = 0; i < cs->watches->len; i++) {
					struct watch *w = g_ptr_array_index(cs->watches, i);
					if (w->declared[node] == -1) {
						w->declared[node] = -2;
						w->pending--;
					}
				}
		}
		break;
	case AU_TR_PARTITION_START:
		cs->partitions++;
		break;
	case AU_TR_PARTITION_END:
		if (cs->partitions)
			cs->partitions--;
		break;
	case AU_TR_LINK_FAULT_START:
		cs->link_faults++;
		break;
	case AU_TR_LINK_FAULT_END:
		if (cs->link_faults)
			cs->link_faults--;
		break;
	case AU_TR_NODE_PAUSE:
		if (server && !cs->paused[node]) {
			cs->paused[node] = 1;
			cs->n_paused++;
		}
		break;
	case AU_TR_NODE_RESUME:
		if (server && cs->paused[node]) {
			cs->paused[node] = 0;
			cs->n_paused--;
		}
		break;
	default:
		break;
	}
	set_calm(cs, sim, was_disturbed);
	if (cs->kind == CS_COMPLETE) {
		complete_poll(cs, sim);
	} else if (cs->kind == CS_CONVERGE) {
		add_pending(cs, sim);
		converge_check(cs, sim);
	}
}

void au_cswim_row(void *st, struct au_sim *sim, au_node_id node, uint32_t service,
		  uint32_t table, const void *rowp)
{
	struct cswim *cs = st;
	if (service != cs->svc || table != 0 || node < 1 || node > cs->n)
		return;
	const struct au_swim_membership_row *row = rowp;
	au_node_id m = row->member;
	if (m < 1 || m > cs->n)
		return;
	enum au_swim_state ns = (enum au_swim_state)row->state;
	switch (cs->kind) {
	case CS_COMPLETE: {
		if (ns == AU_SWIM_DEAD || ns == AU_SWIM_LEFT) {
			struct watch *w = watch_of(cs, m);
			if (w)
				watch_declared(cs, w, node, sim->now);
		} else if (ns == AU_SWIM_ALIVE) {
			/* Back to alive for a member still down: pending again. */
			struct watch *w = watch_of(cs, m);
			if (w && w->declared[node] >= 0) {
				w->declared[node] = -1;
				w->pending++;
			}
		}
		complete_poll(cs, sim);
		break;
	}
	case CS_ACCURACY: {
		if (!truth_alive(cs, m) || (ns != AU_SWIM_DEAD && ns != AU_SWIM_SUSPECT))
			break;
		const struct au_swim *v = view(cs, sim, m);
		if (!v || row->incarnation < au_swim_member_incarnation(v, m))
			break; /* about an earlier life or incarnation */
		if (ns == AU_SWIM_SUSPECT) {
			cs->false_suspect++;
		} else {
			cs->false_dead++;
			if (disturbed(cs) || (cs->ever_disturbed && sim->now - cs->calm_since < cs->bound_ns))
				cs->false_dead_disturbed++;
		}
		break;
	}
	case CS_CONVERGE: {
		add_pending(cs, sim);
		converge_check(cs, sim); /* the view still holds the state before this row */
		if (!cs->counted[node])
			break;
		enum au_swim_state old = au_swim_member_state(view(cs, sim, node), m);
		bool alive = truth_alive(cs, m);
		int64_t before = cs->mismatch;
		cs->mismatch += (int64_t)!agrees(ns, alive) - (int64_t)!agrees(old, alive);
		converge_note_count(cs, sim, before);
		break;
	}
	}
}

void au_cswim_end(void *st, struct au_sim *sim)
{
	struct cswim *cs = st;
	if (cs->kind == CS_COMPLETE) {
		if (!disturbed(cs))
			for (guint i = 0; i < cs->watches->len && !sim->violated; i++)
				watch_evaluate(cs, sim, g_ptr_array_index(cs->watches, i));
	} else if (cs->kind == CS_CONVERGE) {
		add_pending(cs, sim);
		if (sim->now >= cs->heal_ns + cs->within_ns) {
			converge_check(cs, sim);
		} else {
			char now[32], deadline[32];
			au_check_format_time(sim->now, now, sizeof(now));
			au_check_format_time(cs->heal_ns + cs->within_ns, deadline, sizeof(deadline));
			au_sim_no_verdict(sim, AU_VERDICT_NOT_RUN,
					  "the run ended at t=%s, before its deadline t=%s", now, deadline);
		}
	}
}

void au_cswim_note(void *st, struct au_sim *sim, char *buf, size_t len)
{
	struct cswim *cs = st;
	(void)sim;
	switch (cs->kind) {
	case CS_COMPLETE:
		snprintf(buf, len,
			 "%" G_GUINT64_FORMAT " crashes watched, %" G_GUINT64_FORMAT
			 " declarations, latency mean %.2f s max %.2f s, bound %.2f s",
			 cs->crashes_watched, cs->declarations,
			 cs->declarations ? (double)cs->latency_sum / (double)cs->declarations / 1e9 : 0.0,
			 (double)cs->latency_max / 1e9, (double)cs->bound_ns / 1e9);
		break;
	case CS_ACCURACY:
		snprintf(buf, len,
			 "false positives: %" G_GUINT64_FORMAT " live members declared dead (%" G_GUINT64_FORMAT
			 " during or within the bound after network faults), %" G_GUINT64_FORMAT
			 " false suspicions",
			 cs->false_dead, cs->false_dead_disturbed, cs->false_suspect);
		break;
	case CS_CONVERGE:
		if (!cs->checked)
			snprintf(buf, len, "not checked yet (deadline %.2f s)",
				 (double)(cs->heal_ns + cs->within_ns) / 1e9);
		else if (!cs->agreed_at_deadline)
			snprintf(buf, len, "%" G_GINT64_FORMAT " (observer, member) pairs disagree at the "
				 "deadline %.2f s", cs->mismatch, (double)(cs->heal_ns + cs->within_ns) / 1e9);
		else
			snprintf(buf, len, "views agree since %.2f s (faults over at %.2f s, deadline %.2f s)",
				 (double)cs->agree_since / 1e9, (double)cs->heal_ns / 1e9,
				 (double)(cs->heal_ns + cs->within_ns) / 1e9);
		break;
	}
}
