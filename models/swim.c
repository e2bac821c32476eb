/* swim.c — SWIM membership with Lifeguard suspicion, as a sans-I/O model
 * (see swim.h for what it implements and the public API).
 *
 * Memory.  A node's view of the n-node cluster is two dense arrays indexed
 * by member id: the incarnation (4 bytes) and the state (1 byte: alive,
 * suspect, dead, left or unknown, plus a "reaped" bit).  Everything else is
 * kept only for the few members that need it: a sorted side table of the
 * members under suspicion (start time, confirmations, timer), a FIFO of
 * dead and left members waiting to be reaped, and the queue of updates
 * still to be gossiped.  So a view costs 5 bytes per member (measured in
 * bench swim), and 10,000 nodes with 10,000-member views fit in ~500 MB.
 *
 * Probe order.  Randomized round robin (SWIM §4.3) without a per-member
 * list: each round draws a fresh key for a 4-round Feistel permutation of
 * the id space (cycle-walking down to 0..n-1), and the node probes
 * perm(0), perm(1), ... skipping itself and members that are dead, left or
 * unknown.  Members that join mid-round are probed in their place in the
 * permutation, and every member is probed once per round.
 *
 * Probe cycle.  Each probe_interval: settle the previous probe (no ack by
 * now: suspect the target), then ping the next target.  No ack within
 * probe_timeout: ask indirect_probes random alive members to ping it for
 * us (ping-req); their forwarded acks count until the interval ends.
 *
 * Updates (alive, suspect, dead; "left" is a dead update sent by the member
 * about itself) follow memberlist's rules: alive needs a higher incarnation
 * than what is known (a dead member comes back only with a newer one),
 * suspect and dead need at least the known one, a member accused of being
 * suspect or dead refutes by gossiping alive with a higher incarnation.
 * Every accepted update is queued for gossip; the queue keeps one update
 * per member (a newer one replaces the older), sends the least transmitted
 * first, and retires an update after retransmit_mult * ceil(log10(n+1))
 * transmissions.  Updates ride on every ping, ack and ping-req (up to
 * 1,400 bytes per message, memberlist's UDP budget) and on gossip messages
 * sent every gossip_interval to gossip_nodes members while the queue is
 * not empty.
 *
 * Suspicion (Lifeguard, memberlist's suspicion.go): a member suspected at
 * incarnation i gets a timer of max (or min when fewer than
 * k = suspicion_mult - 2 confirmations are possible); each suspect message
 * for it from a new member is an independent confirmation, and the timeout
 * becomes max - (max - min) * log(c + 1) / log(k + 1), never below min,
 * counted from the start.  When it fires the member is declared dead.
 *
 * Push-pull: every push_pull_interval (times ceil(log2 n - 5) + 1 once
 * n > 32, as memberlist scales it) a node sends its whole view to a random
 * alive member, which answers with its own; both merge (a remote "dead" is
 * taken as a suspicion, a remote "left" as left).  Joining is a push-pull
 * with a seed.  With `seeds = all` a node's first boot starts from the
 * whole initial cluster, alive at incarnation 0 (a statically configured
 * cluster); a restart (the node finds its state file) starts from itself
 * only and joins through a random other node.  With a seed list a node
 * starts from itself and joins through the seeds, retrying until one
 * answers.  The incarnation is kept in the file "swim" so a restarted node
 * comes back with a higher one.
 *
 * Messages: first byte the type, varint fields, the piggybacked updates,
 * and a CRC-32C seal.  Malformed or corrupted messages are counted, traced
 * and dropped before they change anything.
 *
 * Files: this one holds the membership state and its rules (the view,
 * reaping, the gossip queue, suspicions, the incarnation record, the
 * update rules); swim_protocol.c sends, receives and times (probing,
 * gossip, push-pull, joining, leaving); swim_model.c is the model's
 * lifecycle, the public API and the configuration keys; swim_internal.h
 * is what they share.
 */
#include "swim.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include <glib.h>

#include "swim_internal.h"
#include "trace_kinds.h"
#include "wire.h"

static void reap_push(struct au_swim *sw, au_node_id m, uint32_t inc);

/* The list of members held dead (reconnect picks from it).  Few members
 * are dead at a time; removal is a linear search. */
static void dead_add(struct au_swim *sw, au_node_id m)
{
	if (sw->n_dead_any == sw->dead_cap) {
		sw->dead_cap = sw->dead_cap ? sw->dead_cap * 2 : 8;
		sw->dead_ids = g_renew(au_node_id, sw->dead_ids, sw->dead_cap);
	}
	sw->dead_ids[sw->n_dead_any++] = m;
}

static void dead_remove(struct au_swim *sw, au_node_id m)
{
	for (uint32_t i = 0; i < sw->n_dead_any; i++)
		if (sw->dead_ids[i] == m) {
			sw->dead_ids[i] = sw->dead_ids[--sw->n_dead_any];
			return;
		}
	assert(!"dead member missing from the dead list");
}

/* Change member m to state `st` at incarnation `inc`: the /membership
 * row, counts, and the observers (only when the public state changes).
 * The row is recorded before the view changes, so a checker reading the
 * view while it sees the row finds the state the row replaces. */
static void view_set(struct au_swim *sw, au_node_id m, uint8_t st, uint32_t inc, uint8_t via)
{
	assert(m >= 1 && m <= sw->n && st <= ST_LEFT && inc <= INC_MAX);
	uint8_t old = st_of(sw, m);
	if (old == st) {
		set_entry(sw, m, st, inc);
		return;
	}
	enum au_swim_state ps = public_state(st);
	bool visible = ps != public_state(old); /* not a reaped member reported again */
	if (visible) {
		struct au_swim_membership_row row = {m, (uint8_t)ps, inc, via};
		sw->env->ops->record(sw->env->ctx, 0, &row);
	}
	set_entry(sw, m, st, inc);
	if ((old & ST_MASK) == ST_DEAD)
		dead_remove(sw, m);
	if (st == ST_DEAD)
		dead_add(sw, m);
	if (!(old & ST_REAPED))
		sw->count[old & ST_MASK]--;
	sw->count[st]++;
	if (st == ST_DEAD || st == ST_LEFT)
		reap_push(sw, m, inc);
	if (!visible)
		return;
	for (uint32_t i = 0; i < sw->n_obs; i++)
		sw->obs[i].fn(sw->obs[i].ctx, m, ps, inc);
}

/* ---- reaping ----------------------------------------------------------------- */

static void reap_push(struct au_swim *sw, au_node_id m, uint32_t inc)
{
	if (sw->reap_len == sw->reap_cap) {
		uint32_t cap = sw->reap_cap ? sw->reap_cap * 2 : 16;
		struct reap_entry *r = g_new(struct reap_entry, cap);
		for (uint32_t i = 0; i < sw->reap_len; i++)
			r[i] = sw->reap[(sw->reap_head + i) % sw->reap_cap];
		g_free(sw->reap);
		sw->reap = r;
		sw->reap_head = 0;
		sw->reap_cap = cap;
	}
	struct reap_entry *e = &sw->reap[(sw->reap_head + sw->reap_len) % sw->reap_cap];
	e->member = m;
	e->inc = inc;
	e->since_ns = au_now(sw->env);
	if (sw->reap_len++ == 0)
		sw->reap_due_ns = e->since_ns + sw->cfg->gossip_to_dead_ns;
}

/* Forget dead and left members older than gossip_to_dead (memberlist's
 * GossipToTheDeadTime): they are no longer gossiped to, and come back only
 * as new members. */
void swim_reap(struct au_swim *sw)
{
	au_time now = au_now(sw->env);
	if (now < sw->reap_due_ns)
		return; /* nothing due: the queue itself stays cold */
	sw->reap_due_ns = INT64_MAX;
	while (sw->reap_len) {
		struct reap_entry *e = &sw->reap[sw->reap_head];
		if (now - e->since_ns < sw->cfg->gossip_to_dead_ns) {
			sw->reap_due_ns = e->since_ns + sw->cfg->gossip_to_dead_ns;
			break;
		}
		uint8_t s = st_of(sw, e->member);
		if ((s == ST_DEAD || s == ST_LEFT) && inc_of(sw, e->member) == e->inc &&
		    e->member != sw->env->self) {
			sw->count[s]--;
			set_entry(sw, e->member, (uint8_t)(s | ST_REAPED), e->inc);
		}
		sw->reap_head = (sw->reap_head + 1) % sw->reap_cap;
		sw->reap_len--;
	}
}

/* ---- the gossip queue ----------------------------------------------------------- */

uint32_t au_swim_retransmit_limit(const struct au_swim_config *cfg, uint32_t n)
{
	double scale = ceil(log10((double)n + 1.0));
	uint32_t limit = cfg->retransmit_mult * (uint32_t)scale;
	return limit ? limit : 1;
}

static uint32_t retransmit_limit(const struct au_swim *sw)
{
	return au_swim_retransmit_limit(sw->cfg, known_members(sw));
}

/* Queue an update about `member`, replacing any older one about it. */
void swim_enqueue(struct au_swim *sw, uint8_t kind, au_node_id member, uint32_t inc,
		  au_node_id from)
{
	for (uint32_t i = 0; i < sw->queue_len; i++) {
		if (sw->queue[i].member != member)
			continue;
		memmove(&sw->queue[i], &sw->queue[i + 1], (sw->queue_len - i - 1) * sizeof(struct bcast));
		sw->queue_len--;
		break;
	}
	if (sw->queue_len == QUEUE_MAX) {
		/* Full: drop the most transmitted (the oldest among equals). */
		uint32_t worst = 0;
		for (uint32_t i = 1; i < sw->queue_len; i++)
			if (sw->queue[i].transmits > sw->queue[worst].transmits)
				worst = i;
		memmove(&sw->queue[worst], &sw->queue[worst + 1],
			(sw->queue_len - worst - 1) * sizeof(struct bcast));
		sw->queue_len--;
		sw->queue_drops++;
	}
	if (sw->queue_len == sw->queue_cap) {
		uint32_t cap = sw->queue_cap * 2;
		if (sw->queue == sw->inline_queue) {
			sw->queue = g_new(struct bcast, cap);
			memcpy(sw->queue, sw->inline_queue, sizeof(sw->inline_queue));
		} else {
			sw->queue = g_renew(struct bcast, sw->queue, cap);
		}
		sw->queue_cap = cap;
	}
	/* Newest last: the selection walks from the end. */
	sw->queue[sw->queue_len++] = (struct bcast){member, inc, from, kind, 0};
	swim_arm_gossip(sw);
}

static size_t update_len(const struct bcast *b)
{
	size_t n = 1 + varint_len(b->member) + varint_len(b->inc);
	if (b->kind != U_ALIVE)
		n += varint_len(b->from);
	return n;
}

static void put_update(struct au_wbuf *w, const struct bcast *b)
{
	au_put_u8(w, b->kind);
	put_varint(w, b->member);
	put_varint(w, b->inc);
	if (b->kind != U_ALIVE)
		put_varint(w, b->from);
}

/* Append as many queued updates as fit in `budget` bytes (count byte
 * first), least transmitted first and newest first among equals; each
 * counts as one transmission, and updates that reached the limit retire. */
void swim_put_piggyback(struct au_swim *sw, struct au_wbuf *w, size_t budget)
{
	size_t count_at = w->len;
	au_put_u8(w, 0);
	if (sw->queue_len == 0 || budget <= 1)
		return;
	size_t used = 1;
	uint32_t taken = 0;
	uint16_t chosen[UPDATES_MAX];
	uint32_t max_tx = 0;
	size_t total = 1;
	for (uint32_t i = 0; i < sw->queue_len; i++) {
		if (sw->queue[i].transmits > max_tx)
			max_tx = sw->queue[i].transmits;
		total += update_len(&sw->queue[i]);
	}
	if (total <= budget && sw->queue_len <= UPDATES_MAX) {
		/* Everything fits (the usual case): no need to rank. */
		for (uint32_t j = sw->queue_len; j-- > 0;) {
			put_update(w, &sw->queue[j]);
			chosen[taken++] = (uint16_t)j;
		}
		max_tx = 0;
		used = budget; /* skip the ranked selection below */
	}
	for (uint32_t level = 0; level <= max_tx && taken < UPDATES_MAX && used < budget; level++) {
		for (uint32_t j = sw->queue_len; j-- > 0 && taken < UPDATES_MAX;) {
			const struct bcast *b = &sw->queue[j];
			if (b->transmits != level)
				continue;
			size_t len = update_len(b);
			if (used + len > budget)
				continue;
			put_update(w, b);
			used += len;
			chosen[taken++] = (uint16_t)j;
		}
		if (used + 2 > budget)
			break;
	}
	if (w->overflow || taken == 0)
		return;
	w->p[count_at] = (uint8_t)taken;
	/* Count the transmissions only now, so no update goes twice in one
	 * message; retire those that reached the limit. */
	uint32_t limit = retransmit_limit(sw);
	for (uint32_t i = 0; i < taken; i++)
		sw->queue[chosen[i]].transmits++;
	uint32_t out = 0;
	for (uint32_t i = 0; i < sw->queue_len; i++)
		if (sw->queue[i].transmits < limit)
			sw->queue[out++] = sw->queue[i];
	sw->queue_len = out;
}

/* ---- suspicion table ----------------------------------------------------------- */

struct suspicion *swim_sus_find(struct au_swim *sw, au_node_id m, uint32_t *pos)
{
	uint32_t lo = 0, hi = sw->n_sus;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (sw->sus[mid].member < m)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return lo < sw->n_sus && sw->sus[lo].member == m ? &sw->sus[lo] : NULL;
}

static void sus_remove(struct au_swim *sw, au_node_id m)
{
	uint32_t pos;
	struct suspicion *s = swim_sus_find(sw, m, &pos);
	if (!s)
		return;
	au_timer_cancel(sw->env, s->timer);
	memmove(&sw->sus[pos], &sw->sus[pos + 1], (sw->n_sus - pos - 1) * sizeof(*s));
	sw->n_sus--;
}

/* memberlist's suspicionTimeout: mult * max(1, log10(max(1, n))) * interval,
 * the scale kept to a thousandth as there. */
au_time au_swim_suspicion_min(const struct au_swim_config *cfg, uint32_t n)
{
	double scale = fmax(1.0, log10(fmax(1.0, (double)n)));
	int64_t milli = (int64_t)(scale * 1000.0);
	return (au_time)cfg->suspicion_mult * milli * cfg->probe_interval_ns / 1000;
}

au_time au_swim_suspicion_max(const struct au_swim_config *cfg, uint32_t n)
{
	return (au_time)cfg->suspicion_max_timeout_mult * au_swim_suspicion_min(cfg, n);
}

/* Time from the start of the suspicion until it expires, given c
 * confirmations out of the k expected. */
static au_time suspicion_timeout(const struct suspicion *s)
{
	if (s->k < 1)
		return s->min_ns;
	double frac = log((double)s->confirmations + 1.0) / log((double)s->k + 1.0);
	double raw = (double)s->max_ns - frac * (double)(s->max_ns - s->min_ns);
	au_time t = (au_time)floor(raw / 1e6) * AU_NS_PER_MS; /* whole ms, as memberlist */
	return t < s->min_ns ? s->min_ns : t;
}

static void sus_arm(struct au_swim *sw, struct suspicion *s)
{
	if (s->timer)
		au_timer_cancel(sw->env, s->timer);
#ifdef AU_BUG_SWIM_NO_SUSPICION_TIMEOUT
	/* Planted bug: suspicions never expire; only a dead message heard
	 * from elsewhere (there is none) would end them. */
	s->timer = 0;
	return;
#endif
	au_time left = s->start_ns + suspicion_timeout(s) - au_now(sw->env);
	if (left < 0)
		left = 0;
	s->timer = au_timer_set(sw->env, left, TIMER_SUSPECT, (uint64_t)s->gen << 32 | s->member);
}

static void sus_start(struct au_swim *sw, au_node_id m, uint32_t inc, au_node_id from)
{
	uint32_t pos;
	assert(!swim_sus_find(sw, m, &pos));
	if (sw->n_sus == sw->cap_sus) {
		sw->cap_sus = sw->cap_sus ? sw->cap_sus * 2 : 4;
		sw->sus = g_renew(struct suspicion, sw->sus, sw->cap_sus);
	}
	memmove(&sw->sus[pos + 1], &sw->sus[pos], (sw->n_sus - pos) * sizeof(struct suspicion));
	sw->n_sus++;
	struct suspicion *s = &sw->sus[pos];
	memset(s, 0, sizeof(*s));
	uint32_t n = known_members(sw);
	s->member = m;
	s->inc = inc;
	s->k = sw->cfg->suspicion_mult >= 2 ? sw->cfg->suspicion_mult - 2 : 0;
	if (n < 2 || n - 2 < s->k)
		s->k = 0; /* not enough members to expect k confirmations */
	s->min_ns = au_swim_suspicion_min(sw->cfg, n);
	s->max_ns = au_swim_suspicion_max(sw->cfg, n);
	s->start_ns = au_now(sw->env);
	s->gen = ++sw->sus_gen;
	s->from[s->n_from++] = from;
	sus_arm(sw, s);
}

/* A suspect message about a member already under suspicion: true if it is
 * a new independent confirmation (then it is gossiped on). */
static bool sus_confirm(struct au_swim *sw, struct suspicion *s, au_node_id from)
{
	if (s->confirmations >= s->k)
		return false;
	for (uint32_t i = 0; i < s->n_from; i++)
		if (s->from[i] == from)
			return false;
	if (s->n_from < CONFIRM_MAX)
		s->from[s->n_from++] = from;
	s->confirmations++;
	sus_arm(sw, s);
	return true;
}

/* ---- durable incarnation --------------------------------------------------------- */

void swim_persist_inc(struct au_swim *sw)
{
	uint8_t rec[12];
	struct au_wbuf w;
	au_wbuf_init(&w, rec, sizeof(rec));
	au_put_u32(&w, STATE_MAGIC);
	au_put_u32(&w, self_inc(sw));
	au_wbuf_seal(&w);
	const struct au_env *env = sw->env;
	int rc = env->ops->storage_write(env->ctx, "swim", 0, rec, w.len);
	if (rc == 0) {
		env->ops->storage_sync(env->ctx, "swim", 0);
	} else {
		/* Advisory (see swim_persisted): counted, traced, not retried. */
		sw->disk_errors++;
		au_trace_storage(env, AU_STORAGE_WRITE, rc, AU_STORAGE_IGNORED);
	}
}

/* ---- the update rules (memberlist's aliveNode, suspectNode, deadNode) ------- */

static void refute(struct au_swim *sw, uint32_t accused, int what, au_node_id from)
{
#ifdef AU_BUG_SWIM_NO_REFUTE
	/* Planted bug: an accused member stays silent. */
	(void)sw; (void)accused; (void)what; (void)from;
	return;
#endif
	au_node_id me = sw->env->self;
	uint32_t inc = (accused > self_inc(sw) ? accused : self_inc(sw)) + 1;
	if (inc > INC_MAX)
		inc = INC_MAX; /* 2^28 refutations: cannot go higher */
	set_entry(sw, me, st_of(sw, me), inc);
	sw->refutes++;
	au_trace(sw->env, AU_TR_SWIM_REFUTE, inc, accused, what * 1000000 + (int64_t)from);
	swim_enqueue(sw, U_ALIVE, me, inc, me);
	swim_persist_inc(sw);
}

void swim_on_alive(struct au_swim *sw, au_node_id m, uint32_t inc, uint8_t via)
{
	au_node_id me = sw->env->self;
	if (m == me) {
		/* Someone spreads a newer incarnation of us (from before a
		 * restart): take a newer one still. */
		if (inc > self_inc(sw) && !sw->leaving)
			refute(sw, inc, 3, 0);
		return;
	}
	uint8_t cur = proto_state(sw, m);
	if (cur != ST_NONE && inc <= inc_of(sw, m))
		return;
	sus_remove(sw, m);
	view_set(sw, m, ST_ALIVE, inc, via);
	swim_enqueue(sw, U_ALIVE, m, inc, m);
}

void swim_on_suspect(struct au_swim *sw, au_node_id m, uint32_t inc, au_node_id from,
		     uint8_t via)
{
	au_node_id me = sw->env->self;
	uint8_t cur = proto_state(sw, m);
	if (cur == ST_NONE || inc < inc_of(sw, m))
		return;
	struct suspicion *s = swim_sus_find(sw, m, NULL);
	if (s) {
		if (sus_confirm(sw, s, from))
			swim_enqueue(sw, U_SUSPECT, m, inc, from);
		return;
	}
	if (cur != ST_ALIVE)
		return;
	if (m == me) {
		if (!sw->leaving)
			refute(sw, inc, 1, from);
		return;
	}
	if (!sw->cfg->suspicion) {
		/* Plain SWIM without the suspicion mechanism: the member is
		 * declared dead at once. */
		if (via == VIA_SELF)
			sw->declared_dead++; /* our own failed probe, not a merged view */
		swim_on_dead(sw, m, inc, from, via);
		return;
	}
	swim_enqueue(sw, U_SUSPECT, m, inc, from);
	view_set(sw, m, ST_SUSPECT, inc, via);
	sus_start(sw, m, inc, from);
}

void swim_on_dead(struct au_swim *sw, au_node_id m, uint32_t inc, au_node_id from, uint8_t via)
{
	au_node_id me = sw->env->self;
	uint8_t cur = proto_state(sw, m);
	if (cur == ST_NONE || inc < inc_of(sw, m) || cur == ST_DEAD || cur == ST_LEFT)
		return;
	if (m == me) {
		if (!sw->leaving) {
			refute(sw, inc, 2, from);
			return;
		}
		/* Our own leave. */
	}
	sus_remove(sw, m);
	swim_enqueue(sw, U_DEAD, m, inc, from);
	view_set(sw, m, from == m ? ST_LEFT : ST_DEAD, inc, via);
}

void swim_apply_update(struct au_swim *sw, const struct bcast *u, uint8_t via)
{
	switch (u->kind) {
	case U_ALIVE:
		swim_on_alive(sw, u->member, u->inc, via);
		break;
	case U_SUSPECT:
		swim_on_suspect(sw, u->member, u->inc, u->from, via);
		break;
	case U_DEAD:
		swim_on_dead(sw, u->member, u->inc, u->from, via);
		break;
	}
}
