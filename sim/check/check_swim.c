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
 * row about an older incarnation concerns a previous life, or an
 * accusation the member has already refuted); suspect rows likewise count
 * as false suspicions.  Those a node concluded itself (via = self: its
 * suspicion ran out) are declarations.  A declaration is excused if it
 * falls in a fault window (a partition, link fault, pause or drifting
 * clock anywhere, a clock jump, or the member's own crash until its
 * restart) or within the grace G after one (au_check_swim_grace); the
 * others are false deaths, counted once per (member, incarnation), and
 * more than [check] swim_false_deaths_max of them (auto:
 * au_check_swim_false_deaths_auto) is a violation naming the member, the
 * declarer and the time.  docs/swim.md says why.
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

#ifndef M_SQRT2
#define M_SQRT2 1.41421356237309504880
#endif

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
	uint8_t *drifting;           /* [n+1] the node's clock runs at a wrong rate */
	uint32_t n_drifting;
	au_time acc_calm_since;      /* end of the last fault window (any node) */
	bool acc_ever_disturbed;
	au_time *life_since;         /* [n+1] last restart; INT64_MIN: first boot */
	uint32_t *counted_inc;       /* [n+1] incarnation + 1 of the last counted false death */
	au_time grace_ns;
	int64_t deaths_max;          /* the bound in force */
	bool deaths_auto;
	uint64_t false_deaths;         /* outside the windows, per (member, incarnation) */

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

/* The longest a suspicion can run in an n-member cluster (0 without
 * suspicion): the max timeout, or the min when no confirmation can come
 * (the model's k = suspicion_mult - 2 is 0, or n - 2 < k). */
static au_time suspicion_longest(const struct au_swim_config *cfg, uint32_t n)
{
	if (!cfg->suspicion)
		return 0;
	uint32_t k = cfg->suspicion_mult >= 2 ? cfg->suspicion_mult - 2 : 0;
	return (n < 2 || n - 2 < k || k < 1) ? au_swim_suspicion_min(cfg, n)
					     : au_swim_suspicion_max(cfg, n);
}

/* R gossip rounds (probe periods without gossip): 2 ceil(log2(n+1)) + 10,
 * generous for an epidemic that takes about log n rounds. */
static au_time spread_time(const struct au_swim_config *cfg, uint32_t n)
{
	au_time round = cfg->gossip_nodes > 0 ? cfg->gossip_interval_ns : cfg->probe_interval_ns;
	return (au_time)(2.0 * ceil(log2((double)n + 1.0)) + 10.0) * round;
}

/* How long an accusation can sit with members that hold the accused dead
 * (they no longer probe or gossip about it) before it meets a member that
 * holds it alive: every reconnect_interval each of them pings a member it
 * holds dead and exchanges views if it answers; without reconnect, the
 * push-pull period (scaled above 32 members as the model does). */
static au_time meet_time(const struct au_swim_config *cfg, uint32_t n)
{
	if (cfg->reconnect_interval_ns > 0)
		return cfg->reconnect_interval_ns;
	if (cfg->push_pull_interval_ns <= 0 || n <= 32)
		return cfg->push_pull_interval_ns > 0 ? cfg->push_pull_interval_ns : 0;
	return (au_time)(ceil(log2((double)n) - log2(32.0)) + 1.0) * cfg->push_pull_interval_ns;
}

au_time au_check_swim_grace(const struct au_swim_config *cfg, uint32_t n)
{
	return cfg->probe_interval_ns + suspicion_longest(cfg, n) + spread_time(cfg, n) +
	       meet_time(cfg, n);
}

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
	return detect + suspicion_longest(cfg, n) + spread_time(cfg, n);
}

/* P(one hop takes longer than x ns): the scenario's latency, plus the
 * serialisation of the largest datagram when bandwidth is limited. */
static double hop_late(const struct au_scenario *sc, au_time x)
{
	const struct au_dist *d = &sc->latency;
	double t = (double)x;
	if (sc->bandwidth_bps > 0)
		t -= 65536.0 * 8.0 * 1e9 / (double)sc->bandwidth_bps;
	if (t < 0)
		return 1.0;
	switch (d->kind) {
	case AU_DIST_CONST:
		return (double)d->p1 > t ? 1.0 : 0.0;
	case AU_DIST_UNIFORM:
		if (t >= (double)d->p2)
			return 0.0;
		if (t < (double)d->p1)
			return 1.0;
		return ((double)d->p2 - floor(t)) / ((double)d->p2 - (double)d->p1 + 1.0);
	case AU_DIST_NORMAL: /* truncated at 0, t >= 0 */
		return d->p2 > 0 ? 0.5 * erfc((t - (double)d->p1) / ((double)d->p2 * M_SQRT2))
				 : ((double)d->p1 > t ? 1.0 : 0.0);
	case AU_DIST_LOGNORMAL:
		if (t <= 0)
			return 1.0;
		return d->sigma > 0 ? 0.5 * erfc((log(t) - d->mu) / (d->sigma * M_SQRT2))
				    : (exp(d->mu) > t ? 1.0 : 0.0);
	case AU_DIST_EXPONENTIAL:
		if (t <= (double)d->shift)
			return 1.0;
		return d->p1 > 0 ? exp(-(t - (double)d->shift) / (double)d->p1) : 0.0;
	}
	return 1.0;
}

double au_check_swim_probe_fail(const struct au_scenario *sc, const struct au_swim_config *cfg,
				uint32_t n)
{
	au_time p = cfg->probe_interval_ns, to = cfg->probe_timeout_ns;
	/* One message lost or later than x. */
#define MISS(x) (sc->loss + (1.0 - sc->loss) * hop_late(sc, (x)))
	/* Direct: the ping and its ack, answered any time before the next
	 * tick (P(a + b > P) <= P(a > P/2 or b > P/2)). */
	double direct = 1.0 - pow(1.0 - MISS(p / 2), 2);
	/* Indirect, per relay: ping-req, ping, ack, forwarded ack between the
	 * timeout and the next tick, the middle two within the relay's
	 * timeout. */
	au_time h = (p - to) / 4 < to / 2 ? (p - to) / 4 : to / 2;
	double relay = 1.0 - pow(1.0 - MISS(h), 4);
#undef MISS
	uint32_t k = cfg->indirect_probes;
	if (n < 2 || k > n - 2)
		k = n >= 2 ? n - 2 : 0;
	double f = direct * pow(relay, (double)k);
	return f > 1.0 ? 1.0 : f;
}

int64_t au_check_swim_false_deaths_auto(const struct au_scenario *sc,
					const struct au_swim_config *cfg, uint32_t n)
{
	/* Every node starts at most one probe per period (one more for its
	 * random first tick); each false death needs one of them to fail. */
	double probes = (double)n * (floor((double)sc->duration / (double)cfg->probe_interval_ns) + 1.0);
	double lambda = probes * au_check_swim_probe_fail(sc, cfg, n);
	if (lambda <= 0)
		return 0;
	/* Chernoff: P(N >= m) <= e^-lambda (e lambda / m)^m for m > lambda,
	 * falling with m; the least m with that <= 1e-9 (a doubling search,
	 * then bisection), and the bound is m - 1. */
	double lo = floor(lambda) + 1.0, hi;
#define TAIL_OK(m) (-lambda + (m) * (1.0 + log(lambda) - log(m)) <= log(1e-9))
	for (double step = 1.0;; step *= 2.0) {
		hi = lo + step;
		if (TAIL_OK(hi))
			break;
	}
	while (hi - lo > 1.0) { /* TAIL_OK(hi), and lo is the last known to fail or the start */
		double mid = floor((lo + hi) / 2.0);
		if (TAIL_OK(mid))
			hi = mid;
		else
			lo = mid;
	}
	if (TAIL_OK(lo))
		hi = lo;
#undef TAIL_OK
	return hi - 1.0 < (double)INT64_MAX / 2 ? (int64_t)hi - 1 : INT64_MAX / 2;
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

/* Accuracy's fault windows add clocks running at a wrong rate. */
static bool acc_disturbed(const struct cswim *cs)
{
	return disturbed(cs) || cs->n_drifting;
}

/* A false dead row about m now is excused: a fault window is open, or one
 * (or m's own crash) ended less than the grace ago. */
static bool acc_excused(const struct cswim *cs, const struct au_sim *sim, au_node_id m)
{
	if (acc_disturbed(cs))
		return true;
	if (cs->acc_ever_disturbed && sim->now - cs->acc_calm_since < cs->grace_ns)
		return true;
	return cs->life_since[m] != INT64_MIN && sim->now - cs->life_since[m] < cs->grace_ns;
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
	for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++)
		if (sim->sc->cluster.services[i] == &au_swim_model)
			cs->svc = i;
	cs->cfg = sim->sc->cluster.service_config[cs->svc];
	cs->bound_ns = au_check_swim_bound(cs->cfg, cs->n);
	cs->up = g_new0(uint8_t, (gsize)cs->n + 1);
	cs->left = g_new0(uint8_t, (gsize)cs->n + 1);
	cs->paused = g_new0(uint8_t, (gsize)cs->n + 1);
	cs->boot_ns = g_new0(au_time, (gsize)cs->n + 1);
	cs->watches = g_ptr_array_new();
	if (kind == CS_ACCURACY) {
		cs->drifting = g_new0(uint8_t, (gsize)cs->n + 1);
		cs->life_since = g_new(au_time, (gsize)cs->n + 1);
		for (au_node_id m = 0; m <= cs->n; m++)
			cs->life_since[m] = INT64_MIN;
		cs->counted_inc = g_new0(uint32_t, (gsize)cs->n + 1);
		cs->grace_ns = au_check_swim_grace(cs->cfg, cs->n);
		cs->deaths_auto = sim->sc->swim_false_deaths_max < 0;
		cs->deaths_max = cs->deaths_auto
					 ? au_check_swim_false_deaths_auto(sim->sc, cs->cfg, cs->n)
					 : sim->sc->swim_false_deaths_max;
	}
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
	g_free(cs->drifting);
	g_free(cs->life_since);
	g_free(cs->counted_inc);
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

/* swim_accuracy reads only these (its state changes nowhere else);
 * completeness and convergence poll their deadlines on every record. */
const struct au_check_kinds au_cswim_accuracy_kinds[] = {
	{AU_TR_NODE_BOOT, AU_TR_CLOCK_SKEW}, /* boot .. resume, clock skew */
	{AU_TR_PARTITION_START, AU_TR_PARTITION_END},
	{AU_TR_LINK_FAULT_START, AU_TR_LINK_FAULT_END},
	AU_CHECK_KIND(AU_TR_SWIM_LEAVE),
	AU_CHECK_KINDS_END,
};

void au_cswim_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
		    int64_t b, int64_t c)
{
	struct cswim *cs = st;
	(void)c;
	bool was_disturbed = disturbed(cs), acc_was = acc_disturbed(cs);
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
			if (cs->kind == CS_ACCURACY && kind == AU_TR_NODE_RESTART)
				cs->life_since[node] = sim->now;
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
	case AU_TR_CLOCK_SKEW: /* a = jump, b = drift (ppm); (0, 0): back to normal */
		if (!server || cs->kind != CS_ACCURACY)
			break;
		if (cs->drifting[node] != (b != 0)) {
			cs->drifting[node] = b != 0;
			cs->n_drifting += b != 0 ? 1 : (uint32_t)-1;
		}
		if (a != 0) { /* a jump is a window of no length */
			cs->acc_ever_disturbed = true;
			cs->acc_calm_since = sim->now;
		}
		break;
	default:
		break;
	}
	if (cs->kind == CS_ACCURACY) {
		if (acc_disturbed(cs))
			cs->acc_ever_disturbed = true;
		else if (acc_was)
			cs->acc_calm_since = sim->now;
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
			break;
		}
		cs->false_dead++;
		bool excused = acc_excused(cs, sim, m);
		if (excused)
			cs->false_dead_disturbed++;
		if (row->via != 0)
			break; /* heard from others: the declaration was theirs */
		if (excused)
			break;
		if (cs->counted_inc[m] == row->incarnation + 1)
			break; /* this accusation is counted already */
		cs->counted_inc[m] = row->incarnation + 1;
		cs->false_deaths++;
		if ((int64_t)cs->false_deaths <= cs->deaths_max)
			break;
		au_time last = cs->acc_ever_disturbed ? cs->acc_calm_since : INT64_MIN;
		if (cs->life_since[m] != INT64_MIN && cs->life_since[m] > last)
			last = cs->life_since[m];
		/* (violation details hold 255 characters) */
		char since[96];
		if (last == INT64_MIN)
			snprintf(since, sizeof(since), "no fault window yet");
		else
			snprintf(since, sizeof(since), "last fault window over at %" G_GINT64_FORMAT " ns",
				 last);
		au_sim_violate(sim, "swim_accuracy", node,
			       "n%u declared n%u dead at incarnation %u at t=%" G_GINT64_FORMAT
			       " ns; n%u is up at that incarnation, %s (grace %" G_GINT64_FORMAT
			       " ns); %" G_GUINT64_FORMAT " false deaths outside windows > "
			       "swim_false_deaths_max = %" G_GINT64_FORMAT "%s",
			       node, m, row->incarnation, sim->now, m, since, cs->grace_ns,
			       cs->false_deaths, cs->deaths_max, cs->deaths_auto ? " (auto)" : "");
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
			au_check_no_verdict(sim, AU_VERDICT_NOT_RUN,
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
			 " during or within the grace after fault windows), %" G_GUINT64_FORMAT
			 " false suspicions; false deaths outside fault windows: %" G_GUINT64_FORMAT
			 " (bound %" G_GINT64_FORMAT "%s, grace %.2f s)",
			 cs->false_dead, cs->false_dead_disturbed, cs->false_suspect, cs->false_deaths,
			 cs->deaths_max, cs->deaths_auto ? " auto" : "", (double)cs->grace_ns / 1e9);
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
