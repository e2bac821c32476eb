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
 */
#include "swim.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "trace_kinds.h"
#include "wire.h"

/* ---- constants ----------------------------------------------------------- */

enum { MSG_PING = 1, MSG_ACK, MSG_PING_REQ, MSG_GOSSIP, MSG_PUSH_PULL, MSG_TYPES_ };
enum { TIMER_PROBE = 1, TIMER_PROBE_TIMEOUT, TIMER_GOSSIP, TIMER_PUSH_PULL, TIMER_SUSPECT,
       TIMER_JOIN, TIMER_STATS, TIMER_LEAVE, TIMER_RECONNECT };

/* A view entry is one uint32: incarnation << 4 | state code.  The codes
 * of alive..left equal enum au_swim_state (and are what push-pull sends);
 * ST_NONE is a member never heard of; ST_REAPED marks a dead or left
 * member forgotten by the protocol (treated as unknown) whose last state
 * the API still reports.  Alive at incarnation 0 is the entry 0, so a
 * zeroed view is a cluster where everyone is alive. */
enum { ST_ALIVE = 0, ST_SUSPECT = 1, ST_DEAD = 2, ST_LEFT = 3, ST_NONE = 4 };
#define ST_MASK 0x7u
#define ST_REAPED 0x8u
#define INC_MAX 0x0fffffffu /* 28 bits: refutations saturate here */

/* Update kinds on the wire ("left" = dead sent by the member itself). */
enum { U_ALIVE = 1, U_SUSPECT = 2, U_DEAD = 3 };

/* How a view change came about (/membership `via`). */
enum { VIA_SELF = 0, VIA_GOSSIP = 1, VIA_PUSH_PULL = 2 };

/* Push-pull flags. */
#define PP_REPLY 1u
#define PP_JOIN 2u

#define PACKET_BUDGET 1400u     /* bytes per message with piggybacked updates */
#define UPDATES_MAX 255u        /* updates per message (count is one byte) */
#define UPDATE_BYTES_MAX 16u    /* kind + three varint32 */
#define PP_CHUNK_BYTES 60000u   /* push-pull state per message */
#define QUEUE_MAX 1024u         /* queued updates per node; beyond, the most sent goes */
#define FWD_SLOTS 64u           /* ping-reqs being relayed at once */
#define FWD_BIT 0x80000000u     /* seq of a relayed ping */
#define RECONNECT_BIT 0x40000000u /* seq of a ping to a dead member */
#define SEQ_MASK 0x3fffffffu
#define CONFIRM_MAX 32u         /* suspicion_mult <= 32, so k + 1 <= 31 confirmers */
#define LEAVE_WAIT_PROBES 5     /* a leaving node keeps gossiping this many probe intervals at most */
#define STATE_MAGIC 0x5357494du /* "SWIM" */

/* ---- state --------------------------------------------------------------- */

struct bcast {
	au_node_id member;
	uint32_t inc;
	au_node_id from;
	uint8_t kind;
	uint8_t transmits;
};

struct suspicion {
	au_node_id member;
	uint32_t inc;
	uint32_t k, confirmations;
	uint32_t gen;           /* matches the timer's arg */
	au_time start_ns, min_ns, max_ns;
	uint64_t timer;
	au_node_id from[CONFIRM_MAX]; /* the accuser and each confirmer, once */
	uint32_t n_from;
};

struct reap_entry {
	au_node_id member;
	uint32_t inc;
	au_time since_ns;
};

struct fwd_slot {
	au_node_id requester; /* 0: free */
	uint32_t orig_seq, my_seq;
	au_time expires_ns;
};

struct observer {
	au_swim_observer fn;
	void *ctx;
};

#define QUEUE_INLINE 12u /* queued updates kept next to the hot fields */

struct au_swim {
	/* Hot: what nearly every event touches, in the first two cache lines
	 * (the engine prefetches the first ahead of the event; the hardware
	 * usually brings its pair).  Then the first queued updates, which
	 * every received update is compared with. */
	_Alignas(64) const struct au_env *env;
	const struct au_swim_config *cfg;
	uint32_t *view;        /* [n+1]: incarnation << 4 | state code */
	struct bcast *queue;   /* inline_queue until it outgrows it */
	uint32_t n;            /* member ids 1..n */
	uint32_t queue_len;
	bool leaving, quiet, gossip_armed, joined;
	uint32_t msgs_out, msgs_in;
	uint64_t bytes_out, bytes_in;
	struct {
		au_node_id target;
		uint32_t seq;
		bool active, acked, indirect;
		uint64_t timer;
	} probe;
	uint32_t count[5];     /* members per internal state, reaped ones excluded */
	au_time reap_due_ns;   /* when the oldest dead/left member is reaped; INT64_MAX: none */
	struct bcast inline_queue[QUEUE_INLINE];

	uint32_t queue_cap;
	uint32_t seq;          /* last probe sequence number */

	/* probing */
	uint32_t perm_half;    /* Feistel half width in bits */
	uint32_t perm_key[4];
	uint32_t rr_pos;       /* next index of the current round */
	struct fwd_slot fwd[FWD_SLOTS];
	uint32_t fwd_counter;

	/* dissemination */
	au_time gossip_phase_ns;

	/* suspicion side table, sorted by member */
	struct suspicion *sus;
	uint32_t n_sus, cap_sus;
	uint32_t sus_gen;

	/* dead and left members waiting to be reaped, oldest first */
	struct reap_entry *reap;
	uint32_t reap_head, reap_len, reap_cap;

	/* joining and leaving */
	uint32_t join_attempts;
	uint64_t leave_timer;
	au_time leave_start_ns;

	struct observer obs[AU_SWIM_MAX_OBSERVERS];
	uint32_t n_obs;

	/* counters */
	uint64_t probes, probe_fails, refutes, bad, queue_drops, fwd_drops, push_pulls;
	uint64_t reconnects, declared_dead;
	uint64_t disk_errors; /* failed writes or syncs of the incarnation record */
	uint32_t n_dead_any; /* members held dead, forgotten ones included */
	au_node_id *dead_ids; /* those members, in no particular order */
	uint32_t dead_cap;
	struct {
		au_node_id target;
		uint32_t seq;
	} reconnect;
};

_Static_assert(offsetof(struct au_swim, inline_queue) <= 128, "hot fields fit two cache lines");

/* Rows of /swim_load (/membership rows are struct au_swim_membership_row). */
struct load_row {
	int64_t msgs_out, msgs_in, bytes_out, bytes_in;
	uint32_t alive, suspect, dead, left, queue;
};

static inline uint8_t st_of(const struct au_swim *sw, au_node_id m) { return sw->view[m] & 0xfu; }
static inline uint32_t inc_of(const struct au_swim *sw, au_node_id m) { return sw->view[m] >> 4; }
static inline void set_entry(struct au_swim *sw, au_node_id m, uint8_t st, uint32_t inc)
{
	sw->view[m] = inc << 4 | st;
}

static uint32_t self_inc(const struct au_swim *sw) { return inc_of(sw, sw->env->self); }

/* ---- varints ------------------------------------------------------------- */

static void put_varint(struct au_wbuf *w, uint64_t v)
{
	while (v >= 0x80) {
		au_put_u8(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	au_put_u8(w, (uint8_t)v);
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* LEB128 of at most `max_bytes` (5: 32 bits, the last byte <= 0x0f); an
 * overlong or truncated one sets short_read.  Reads the buffer directly:
 * decoding is on the path of every message. */
static uint64_t get_varint(struct au_rbuf *r, unsigned max_bytes)
{
	uint64_t v = 0;
	if (r->short_read)
		return 0;
	for (unsigned i = 0; i < max_bytes && r->pos < r->len; i++) {
		uint8_t b = r->p[r->pos++];
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (i == 4 && max_bytes == 5 && b > 0x0f)
				break; /* more than 32 bits */
			return v;
		}
	}
	r->short_read = true;
	return 0;
}

static uint32_t get_varint32(struct au_rbuf *r) { return (uint32_t)get_varint(r, 5); }

/* ---- view ------------------------------------------------------------------ */

static enum au_swim_state public_state(uint8_t st)
{
	switch (st & ST_MASK) {
	case ST_ALIVE:
		return AU_SWIM_ALIVE;
	case ST_SUSPECT:
		return AU_SWIM_SUSPECT;
	case ST_DEAD:
		return AU_SWIM_DEAD;
	case ST_LEFT:
		return AU_SWIM_LEFT;
	default:
		return AU_SWIM_UNKNOWN;
	}
}

/* The protocol's view: reaped members are unknown. */
static uint8_t proto_state(const struct au_swim *sw, au_node_id m)
{
	uint8_t s = st_of(sw, m);
	return (s & ST_REAPED) ? ST_NONE : (s & ST_MASK);
}

static uint32_t known_members(const struct au_swim *sw)
{
	return sw->count[ST_ALIVE] + sw->count[ST_SUSPECT] + sw->count[ST_DEAD] +
	       sw->count[ST_LEFT];
}

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
static void reap(struct au_swim *sw)
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

static void arm_gossip(struct au_swim *sw);

/* Queue an update about `member`, replacing any older one about it. */
static void enqueue(struct au_swim *sw, uint8_t kind, au_node_id member, uint32_t inc,
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
	arm_gossip(sw);
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
static void put_piggyback(struct au_swim *sw, struct au_wbuf *w, size_t budget)
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

static struct suspicion *sus_find(struct au_swim *sw, au_node_id m, uint32_t *pos)
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
	struct suspicion *s = sus_find(sw, m, &pos);
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
	assert(!sus_find(sw, m, &pos));
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

static void persist_inc(struct au_swim *sw)
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
	enqueue(sw, U_ALIVE, me, inc, me);
	persist_inc(sw);
}

static void on_alive(struct au_swim *sw, au_node_id m, uint32_t inc, uint8_t via)
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
	enqueue(sw, U_ALIVE, m, inc, m);
}

static void on_dead(struct au_swim *sw, au_node_id m, uint32_t inc, au_node_id from, uint8_t via);

static void on_suspect(struct au_swim *sw, au_node_id m, uint32_t inc, au_node_id from,
		       uint8_t via)
{
	au_node_id me = sw->env->self;
	uint8_t cur = proto_state(sw, m);
	if (cur == ST_NONE || inc < inc_of(sw, m))
		return;
	struct suspicion *s = sus_find(sw, m, NULL);
	if (s) {
		if (sus_confirm(sw, s, from))
			enqueue(sw, U_SUSPECT, m, inc, from);
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
		on_dead(sw, m, inc, from, via);
		return;
	}
	enqueue(sw, U_SUSPECT, m, inc, from);
	view_set(sw, m, ST_SUSPECT, inc, via);
	sus_start(sw, m, inc, from);
}

static void on_dead(struct au_swim *sw, au_node_id m, uint32_t inc, au_node_id from, uint8_t via)
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
	enqueue(sw, U_DEAD, m, inc, from);
	view_set(sw, m, from == m ? ST_LEFT : ST_DEAD, inc, via);
}

static void apply_update(struct au_swim *sw, const struct bcast *u, uint8_t via)
{
	switch (u->kind) {
	case U_ALIVE:
		on_alive(sw, u->member, u->inc, via);
		break;
	case U_SUSPECT:
		on_suspect(sw, u->member, u->inc, u->from, via);
		break;
	case U_DEAD:
		on_dead(sw, u->member, u->inc, u->from, via);
		break;
	}
}

/* ---- sending -------------------------------------------------------------------- */

static void send_raw(struct au_swim *sw, au_node_id to, const uint8_t *buf, size_t len)
{
	sw->msgs_out++;
	sw->bytes_out += len;
	(void)au_send(sw->env, to, buf, len);
}

/* Send a message whose fixed part is already in `w`: piggyback updates,
 * seal, send. */
static void finish_and_send(struct au_swim *sw, au_node_id to, struct au_wbuf *w)
{
	size_t room = PACKET_BUDGET - w->len - 4;
	put_piggyback(sw, w, room);
	au_wbuf_seal(w);
	assert(!w->overflow);
	send_raw(sw, to, w->p, w->len);
}

static void send_ping(struct au_swim *sw, au_node_id to, uint32_t seq)
{
	uint8_t buf[PACKET_BUDGET];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, MSG_PING);
	put_varint(&w, seq);
	put_varint(&w, to);
	finish_and_send(sw, to, &w);
}

static void send_ack(struct au_swim *sw, au_node_id to, uint32_t seq)
{
	uint8_t buf[PACKET_BUDGET];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, MSG_ACK);
	put_varint(&w, seq);
	finish_and_send(sw, to, &w);
}

static void send_ping_req(struct au_swim *sw, au_node_id relay, uint32_t seq, au_node_id target)
{
	uint8_t buf[PACKET_BUDGET];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, MSG_PING_REQ);
	put_varint(&w, seq);
	put_varint(&w, target);
	finish_and_send(sw, relay, &w);
}

/* ---- choosing members ----------------------------------------------------------- */

enum { PICK_ALIVE, PICK_GOSSIP };

static bool pick_ok(const struct au_swim *sw, au_node_id m, int kind, au_node_id exclude)
{
	if (m == sw->env->self || m == exclude)
		return false;
	uint8_t s = proto_state(sw, m);
	if (kind == PICK_ALIVE)
		return s == ST_ALIVE;
	/* Gossip also reaches suspects and the recently dead, so they can
	 * refute (memberlist's gossip-to-the-dead). */
	return s == ST_ALIVE || s == ST_SUSPECT || s == ST_DEAD;
}

/* Up to k distinct random members passing the filter, into out[]; returns
 * how many.  Dense views draw at random (3n tries, as memberlist's
 * kRandomNodes); sparse ones draw from a scanned list. */
static uint32_t pick_random(struct au_swim *sw, uint32_t k, int kind, au_node_id exclude,
			    au_node_id *out)
{
	uint32_t got = 0;
	uint32_t cand = sw->count[ST_ALIVE] + (kind == PICK_GOSSIP ? sw->count[ST_SUSPECT] + sw->count[ST_DEAD] : 0);
	if (k == 0 || sw->n < 2)
		return 0;
	if ((uint64_t)cand * 8 >= sw->n) {
		/* Draw candidates four at a time and prefetch their entries, so
		 * the random reads of a big view overlap. */
		for (uint32_t tries = 0; tries < 3 * sw->n && got < k; tries += 4) {
			au_node_id c[4];
			for (int i = 0; i < 4; i++) {
				c[i] = 1 + au_random_below(sw->env, sw->n);
				__builtin_prefetch(&sw->view[c[i]]);
			}
			for (int i = 0; i < 4 && got < k; i++) {
				if (!pick_ok(sw, c[i], kind, exclude))
					continue;
				bool dup = false;
				for (uint32_t j = 0; j < got; j++)
					dup = dup || out[j] == c[i];
				if (!dup)
					out[got++] = c[i];
			}
		}
		return got;
	}
	au_node_id *list = g_new(au_node_id, cand + 1);
	uint32_t len = 0;
	for (au_node_id m = 1; m <= sw->n && len <= cand; m++)
		if (pick_ok(sw, m, kind, exclude))
			list[len++] = m;
	for (uint32_t i = 0; i < len && got < k; i++) {
		uint32_t j = i + au_random_below(sw->env, len - i);
		au_node_id t = list[i];
		list[i] = list[j];
		list[j] = t;
		out[got++] = list[i];
	}
	g_free(list);
	return got;
}

/* ---- probe order: a Feistel permutation per round ------------------------------------ */

static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

static void new_round(struct au_swim *sw)
{
	for (int i = 0; i < 4; i++)
		sw->perm_key[i] = au_random(sw->env);
	sw->rr_pos = 0;
}

/* The i-th member index (0..n-1) of this round's order. */
static uint32_t perm(const struct au_swim *sw, uint32_t i)
{
	uint32_t h = sw->perm_half, mask = (1u << h) - 1u;
	uint32_t x = i;
	do {
		uint32_t l = x >> h, r = x & mask;
		for (int round = 0; round < 4; round++) {
			uint32_t f = mix32(r ^ sw->perm_key[round]) & mask;
			uint32_t nl = r;
			r = l ^ f;
			l = nl;
		}
		x = (l << h) | r;
	} while (x >= sw->n); /* cycle-walk back into 0..n-1 */
	return x;
}

/* The next member to probe, or 0 if there is none. */
static au_node_id next_target(struct au_swim *sw)
{
	for (uint32_t tries = 0; tries <= sw->n; tries++) {
		if (sw->rr_pos >= sw->n)
			new_round(sw);
		au_node_id m = 1 + perm(sw, sw->rr_pos++);
		uint8_t s = proto_state(sw, m);
		if (m != sw->env->self && (s == ST_ALIVE || s == ST_SUSPECT))
			return m;
	}
	return 0;
}

/* ---- probing ------------------------------------------------------------------------ */

static void probe_failed(struct au_swim *sw)
{
	au_node_id t = sw->probe.target;
	sw->probe_fails++;
	au_trace(sw->env, AU_TR_SWIM_PROBE_FAIL, t, inc_of(sw, t), sw->probe.indirect);
	uint8_t s = proto_state(sw, t);
	if (s != ST_ALIVE && s != ST_SUSPECT)
		return;
	/* Our own accusation: suspect at the incarnation we know. */
	on_suspect(sw, t, inc_of(sw, t), sw->env->self, VIA_SELF);
}

static void probe_tick(struct au_swim *sw)
{
	(void)au_timer_set(sw->env, sw->cfg->probe_interval_ns, TIMER_PROBE, 0);
	if (sw->probe.active) {
		sw->probe.active = false;
		au_timer_cancel(sw->env, sw->probe.timer);
		if (!sw->probe.acked)
			probe_failed(sw);
	}
	reap(sw);
	if (sw->leaving)
		return;
	au_node_id t = next_target(sw);
	if (!t)
		return;
	sw->seq = (sw->seq + 1) & SEQ_MASK;
	if (sw->seq == 0)
		sw->seq = 1;
	sw->probe.target = t;
	sw->probe.seq = sw->seq;
	sw->probe.active = true;
	sw->probe.acked = false;
	sw->probe.indirect = false;
	sw->probes++;
	sw->probe.timer = au_timer_set(sw->env, sw->cfg->probe_timeout_ns, TIMER_PROBE_TIMEOUT, sw->seq);
	send_ping(sw, t, sw->seq);
}

static void probe_timeout(struct au_swim *sw, uint32_t seq)
{
	if (!sw->probe.active || sw->probe.acked || sw->probe.seq != seq)
		return;
	sw->probe.timer = 0;
	au_node_id relays[16];
	uint32_t k = sw->cfg->indirect_probes < 16 ? sw->cfg->indirect_probes : 16;
	uint32_t got = pick_random(sw, k, PICK_ALIVE, sw->probe.target, relays);
	sw->probe.indirect = got > 0;
	for (uint32_t i = 0; i < got; i++)
		send_ping_req(sw, relays[i], seq, sw->probe.target);
}

/* ---- gossip ----------------------------------------------------------------------- */

static void arm_gossip(struct au_swim *sw)
{
	if (sw->gossip_armed || sw->quiet || sw->cfg->gossip_nodes == 0)
		return;
	/* Keep the node's own phase so rounds stay gossip_interval apart. */
	au_time iv = sw->cfg->gossip_interval_ns;
	au_time since = au_now(sw->env) - sw->gossip_phase_ns;
	au_time delay = iv - ((since % iv) + iv) % iv;
	(void)au_timer_set(sw->env, delay, TIMER_GOSSIP, 0);
	sw->gossip_armed = true;
}

static void gossip_round(struct au_swim *sw)
{
	sw->gossip_armed = false;
	if (sw->queue_len == 0)
		return; /* nothing to say: memberlist sends nothing either */
	au_node_id to[16];
	uint32_t k = sw->cfg->gossip_nodes < 16 ? sw->cfg->gossip_nodes : 16;
	uint32_t got = pick_random(sw, k, PICK_GOSSIP, 0, to);
	for (uint32_t i = 0; i < got && sw->queue_len; i++) {
		uint8_t buf[PACKET_BUDGET];
		struct au_wbuf w;
		au_wbuf_init(&w, buf, sizeof(buf));
		au_put_u8(&w, MSG_GOSSIP);
		finish_and_send(sw, to[i], &w);
	}
	if (sw->queue_len)
		arm_gossip(sw);
}

/* ---- push-pull -------------------------------------------------------------------- */

/* Send this node's whole view (reaped and unknown members left out) in as
 * many messages as it takes. */
static void send_state(struct au_swim *sw, au_node_id to, uint8_t flags)
{
	uint8_t *buf = g_malloc(PP_CHUNK_BYTES + 64);
	au_node_id m = 1;
	bool sent_one = false;
	while (m <= sw->n || !sent_one) {
		struct au_wbuf w;
		au_wbuf_init(&w, buf, PP_CHUNK_BYTES + 64);
		au_put_u8(&w, MSG_PUSH_PULL);
		au_put_u8(&w, flags);
		size_t count_at = w.len;
		au_put_u32(&w, 0); /* entries, patched below */
		uint32_t count = 0;
		au_node_id prev = 0;
		for (; m <= sw->n && w.len < PP_CHUNK_BYTES; m++) {
			uint8_t s = proto_state(sw, m);
			if (s == ST_NONE)
				continue;
			put_varint(&w, m - prev);
			put_varint(&w, (uint64_t)inc_of(sw, m) << 2 | s); /* s: 0..3 */
			prev = m;
			count++;
		}
		w.p[count_at] = (uint8_t)count;
		w.p[count_at + 1] = (uint8_t)(count >> 8);
		w.p[count_at + 2] = (uint8_t)(count >> 16);
		w.p[count_at + 3] = (uint8_t)(count >> 24);
		au_wbuf_seal(&w);
		assert(!w.overflow);
		send_raw(sw, to, w.p, w.len);
		sent_one = true;
	}
	g_free(buf);
}

static au_time push_pull_period(const struct au_swim *sw)
{
	uint32_t n = known_members(sw);
	au_time iv = sw->cfg->push_pull_interval_ns;
	if (n <= 32)
		return iv;
	double mult = ceil(log2((double)n) - log2(32.0)) + 1.0;
	return (au_time)mult * iv;
}

static void push_pull_tick(struct au_swim *sw)
{
	(void)au_timer_set(sw->env, push_pull_period(sw), TIMER_PUSH_PULL, 0);
	if (sw->leaving)
		return;
	au_node_id peer;
	if (pick_random(sw, 1, PICK_ALIVE, 0, &peer) == 1) {
		sw->push_pulls++;
		send_state(sw, peer, 0);
	}
}

/* Serf's reconnect: every reconnect_interval ping one random member held
 * dead (forgotten or not); if it answers, push-pull with it.  Without
 * this, two sides of a healed partition that declared each other dead
 * never talk again (memberlist alone only probes and gossips to members
 * it believes alive, and to the dead only for gossip_to_dead). */
static void reconnect_tick(struct au_swim *sw)
{
	(void)au_timer_set(sw->env, sw->cfg->reconnect_interval_ns, TIMER_RECONNECT, 0);
	if (sw->leaving || sw->n < 2)
		return;
	if (sw->n_dead_any == 0)
		return;
	au_node_id pick = sw->dead_ids[au_random_below(sw->env, sw->n_dead_any)];
	sw->seq = (sw->seq + 1) & SEQ_MASK;
	if (sw->seq == 0)
		sw->seq = 1;
	sw->reconnect.target = pick;
	sw->reconnect.seq = RECONNECT_BIT | sw->seq;
	send_ping(sw, pick, sw->reconnect.seq);
}

/* ---- joining ------------------------------------------------------------------------ */

static void join_try(struct au_swim *sw)
{
	if (sw->joined || sw->leaving)
		return;
	const struct au_node_list *seeds = &sw->cfg->seeds;
	au_node_id me = sw->env->self, seed = 0;
	if (seeds->all) {
		if (sw->n >= 2) {
			seed = 1 + au_random_below(sw->env, sw->n - 1);
			if (seed >= me)
				seed++;
		}
	} else {
		for (uint32_t i = 0; i < seeds->n && !seed; i++) {
			au_node_id s = seeds->id[(sw->join_attempts + i) % seeds->n];
			if (s != me)
				seed = s;
		}
	}
	sw->join_attempts++;
	if (!seed) {
		sw->joined = true; /* the only seed is ourselves: a cluster of one to start */
		return;
	}
	send_state(sw, seed, PP_JOIN);
	(void)au_timer_set(sw->env, 2 * sw->cfg->probe_interval_ns, TIMER_JOIN, 0);
}

/* ---- receiving ---------------------------------------------------------------------- */

static bool valid_member(const struct au_swim *sw, uint64_t m)
{
	return m >= 1 && m <= sw->n;
}

/* Decode the piggybacked updates at r into u[]; false if malformed. */
static bool get_updates(struct au_swim *sw, struct au_rbuf *r, struct bcast *u, uint32_t *n)
{
	uint32_t count = au_get_u8(r);
	for (uint32_t i = 0; i < count && !r->short_read; i++) {
		u[i].kind = au_get_u8(r);
		u[i].member = get_varint32(r);
		u[i].inc = get_varint32(r);
		u[i].from = u[i].kind == U_ALIVE ? u[i].member : get_varint32(r);
		if (u[i].kind < U_ALIVE || u[i].kind > U_DEAD || !valid_member(sw, u[i].member) ||
		    !valid_member(sw, u[i].from) || u[i].inc > INC_MAX)
			return false;
	}
	*n = count;
	return !r->short_read && r->pos == r->len;
}

static void handle_ack(struct au_swim *sw, au_node_id from, uint32_t seq)
{
	if (seq & FWD_BIT) {
		struct fwd_slot *f = &sw->fwd[seq % FWD_SLOTS];
		if (f->requester && f->my_seq == seq && au_now(sw->env) <= f->expires_ns) {
			au_node_id req = f->requester;
			uint32_t orig = f->orig_seq;
			f->requester = 0;
			send_ack(sw, req, orig);
		}
		return;
	}
	if (seq & RECONNECT_BIT) {
		/* A member we hold dead answers: exchange views, which makes
		 * whichever side is wrong about the other find out. */
		if (sw->reconnect.target == from && sw->reconnect.seq == seq && !sw->leaving) {
			sw->reconnect.target = 0;
			sw->reconnects++;
			send_state(sw, from, 0);
		}
		return;
	}
	if (sw->probe.active && sw->probe.seq == seq && !sw->probe.acked) {
		sw->probe.acked = true;
		au_timer_cancel(sw->env, sw->probe.timer);
		sw->probe.timer = 0;
	}
}

static void handle_ping_req(struct au_swim *sw, au_node_id from, uint32_t seq, au_node_id target)
{
	au_time now = au_now(sw->env);
	struct fwd_slot *slot = NULL;
	uint32_t idx = 0;
	for (uint32_t i = 0; i < FWD_SLOTS && !slot; i++) {
		uint32_t j = (sw->fwd_counter + i) % FWD_SLOTS;
		if (!sw->fwd[j].requester || sw->fwd[j].expires_ns < now) {
			slot = &sw->fwd[j];
			idx = j;
		}
	}
	if (!slot || target == sw->env->self) {
		sw->fwd_drops++;
		return;
	}
	sw->fwd_counter++;
	slot->requester = from;
	slot->orig_seq = seq;
	slot->my_seq = FWD_BIT | ((sw->fwd_counter << 6) & 0x7fffffc0u) | idx;
	slot->expires_ns = now + sw->cfg->probe_timeout_ns;
	send_ping(sw, target, slot->my_seq);
}

/* A push-pull message: validated whole, then merged. */
static void handle_push_pull(struct au_swim *sw, au_node_id from, struct au_rbuf *r)
{
	uint8_t flags = au_get_u8(r);
	uint32_t count = au_get_u32(r);
	size_t start = r->pos;
	uint64_t id = 0;
	for (uint32_t i = 0; i < count && !r->short_read; i++) {
		uint64_t gap = get_varint(r, 5); /* ids strictly increase */
		id += gap;
		uint64_t v = get_varint(r, 5);
		if (gap == 0 || !valid_member(sw, id) || (v >> 2) > INC_MAX) {
			r->short_read = true;
			break;
		}
	}
	if (r->short_read || r->pos != r->len || (flags & ~(PP_REPLY | PP_JOIN))) {
		sw->bad++;
		au_trace(sw->env, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)r->len, 2);
		return;
	}
	r->pos = start;
	id = 0;
	au_node_id me = sw->env->self;
	for (uint32_t i = 0; i < count; i++) {
		id += get_varint(r, 5);
		uint64_t v = get_varint(r, 5);
		au_node_id m = (au_node_id)id;
		uint32_t inc = (uint32_t)(v >> 2);
		switch (v & 3u) {
		case ST_ALIVE:
			on_alive(sw, m, inc, VIA_PUSH_PULL);
			break;
		case ST_LEFT:
			on_dead(sw, m, inc, m, VIA_PUSH_PULL);
			break;
		case ST_DEAD: /* a remote "dead" is only a suspicion here */
		case ST_SUSPECT:
			on_suspect(sw, m, inc, me, VIA_PUSH_PULL);
			break;
		}
	}
	/* A request is answered with our view after the merge (memberlist
	 * answers first): a refutation the merge caused then travels back
	 * at once, which is what heals a partition quickly. */
	if (!(flags & PP_REPLY))
		send_state(sw, from, PP_REPLY | (flags & PP_JOIN));
	if ((flags & PP_REPLY) && (flags & PP_JOIN) && !sw->joined) {
		sw->joined = true;
		au_trace(sw->env, AU_TR_SWIM_JOINED, from, count, known_members(sw));
	}
}

static void swim_recv(void *state, au_node_id from, const void *msg, size_t len)
{
	struct au_swim *sw = state;
	if (sw->quiet)
		return;
	sw->msgs_in++;
	sw->bytes_in += len;
	struct au_rbuf r;
	uint8_t type = len ? *(const uint8_t *)msg : 0;
	if (!au_rbuf_unseal(&r, msg, len) || type < MSG_PING || type >= MSG_TYPES_ ||
	    !valid_member(sw, from)) {
		sw->bad++;
		au_trace(sw->env, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 0);
		return;
	}
	(void)au_get_u8(&r);
	if (type == MSG_PUSH_PULL) {
		handle_push_pull(sw, from, &r);
		return;
	}
	uint32_t seq = 0;
	uint64_t target = 0;
	if (type == MSG_PING || type == MSG_ACK || type == MSG_PING_REQ)
		seq = get_varint32(&r);
	if (type == MSG_PING || type == MSG_PING_REQ)
		target = get_varint32(&r);
	struct bcast u[UPDATES_MAX];
	uint32_t nu = 0;
	if (r.short_read || !get_updates(sw, &r, u, &nu) ||
	    ((type == MSG_PING || type == MSG_PING_REQ) && !valid_member(sw, target))) {
		sw->bad++;
		au_trace(sw->env, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 1);
		return;
	}
	switch (type) {
	case MSG_PING:
		/* A ping meant for another node (a stale id) is ignored. */
		if (target == sw->env->self)
			send_ack(sw, from, seq);
		break;
	case MSG_ACK:
		handle_ack(sw, from, seq);
		break;
	case MSG_PING_REQ:
		if (!sw->leaving)
			handle_ping_req(sw, from, seq, (au_node_id)target);
		break;
	default:
		break;
	}
	/* Most updates arrive many times over.  One identical to the queued
	 * update about its member was applied already (the queue holds the
	 * last update accepted about each member it lists), so applying it
	 * again would change nothing: skip it without touching the view,
	 * whose random reads are most of what an update costs at 10,000
	 * members.  Prefetch the entries of the others. */
	bool fresh[UPDATES_MAX];
	for (uint32_t i = 0; i < nu; i++) {
		fresh[i] = true;
		for (uint32_t j = 0; j < sw->queue_len; j++) {
			const struct bcast *q = &sw->queue[j];
			if (q->member == u[i].member && q->kind == u[i].kind && q->inc == u[i].inc &&
			    q->from == u[i].from) {
				fresh[i] = false;
				break;
			}
		}
		if (fresh[i])
			__builtin_prefetch(&sw->view[u[i].member]);
	}
	for (uint32_t i = 0; i < nu; i++)
		if (fresh[i])
			apply_update(sw, &u[i], VIA_GOSSIP);
}

/* ---- leaving ------------------------------------------------------------------------ */

static bool leave_sent(const struct au_swim *sw)
{
	for (uint32_t i = 0; i < sw->queue_len; i++)
		if (sw->queue[i].member == sw->env->self)
			return false;
	return true;
}

void au_swim_leave(struct au_swim *sw)
{
	if (sw->leaving)
		return;
	sw->leaving = true;
	sw->leave_start_ns = au_now(sw->env);
	au_node_id me = sw->env->self;
	au_trace(sw->env, AU_TR_SWIM_LEAVE, self_inc(sw), 0, 0);
	on_dead(sw, me, self_inc(sw), me, VIA_SELF);
	if (sw->probe.active) {
		sw->probe.active = false;
		au_timer_cancel(sw->env, sw->probe.timer);
	}
	sw->leave_timer = au_timer_set(sw->env, sw->cfg->gossip_interval_ns, TIMER_LEAVE, 0);
}

/* A leaving node goes quiet once its leave has been sent as often as
 * any update is, or after LEAVE_WAIT_PROBES probe intervals. */
static void leave_check(struct au_swim *sw)
{
	au_time waited = au_now(sw->env) - sw->leave_start_ns;
	if (!leave_sent(sw) && waited < LEAVE_WAIT_PROBES * sw->cfg->probe_interval_ns) {
		sw->leave_timer = au_timer_set(sw->env, sw->cfg->gossip_interval_ns, TIMER_LEAVE, 0);
		return;
	}
	sw->quiet = true;
	au_trace(sw->env, AU_TR_SWIM_QUIET, self_inc(sw), 0, 0);
}

/* ---- timers ------------------------------------------------------------------------- */

static void record_load(struct au_swim *sw)
{
	struct load_row row = {
		(int64_t)sw->msgs_out, (int64_t)sw->msgs_in, (int64_t)sw->bytes_out,
		(int64_t)sw->bytes_in, sw->count[ST_ALIVE], sw->count[ST_SUSPECT],
		sw->count[ST_DEAD], sw->count[ST_LEFT], sw->queue_len,
	};
	sw->env->ops->record(sw->env->ctx, 1, &row);
}

static void swim_timer(void *state, uint32_t kind, uint64_t arg)
{
	struct au_swim *sw = state;
	if (sw->quiet)
		return;
	switch (kind) {
	case TIMER_PROBE:
		probe_tick(sw);
		break;
	case TIMER_PROBE_TIMEOUT:
		probe_timeout(sw, (uint32_t)arg);
		break;
	case TIMER_GOSSIP:
		gossip_round(sw);
		break;
	case TIMER_PUSH_PULL:
		push_pull_tick(sw);
		break;
	case TIMER_SUSPECT: {
		au_node_id m = (au_node_id)(arg & 0xffffffffu);
		struct suspicion *s = sus_find(sw, m, NULL);
		if (!s || s->gen != (uint32_t)(arg >> 32))
			break;
		uint32_t inc = s->inc, conf = s->confirmations;
		au_trace(sw->env, AU_TR_SWIM_SUSPECT_EXPIRED, m, inc, conf);
		sw->declared_dead++;
		on_dead(sw, m, inc, sw->env->self, VIA_SELF);
		break;
	}
	case TIMER_JOIN:
		join_try(sw);
		break;
	case TIMER_STATS:
		(void)au_timer_set(sw->env, sw->cfg->stats_interval_ns, TIMER_STATS, 0);
		record_load(sw);
		break;
	case TIMER_LEAVE:
		leave_check(sw);
		break;
	case TIMER_RECONNECT:
		reconnect_tick(sw);
		break;
	default:
		break;
	}
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static void *swim_init(const struct au_env *env, const void *config)
{
	size_t bytes = (sizeof(struct au_swim) + 63) & ~(size_t)63;
	struct au_swim *sw = aligned_alloc(64, bytes);
	if (!sw)
		abort();
	memset(sw, 0, bytes);
	const struct au_swim_config *cfg = config;
	sw->queue = sw->inline_queue;
	sw->queue_cap = QUEUE_INLINE;
	sw->reap_due_ns = INT64_MAX;
	sw->env = env;
	sw->cfg = cfg;
	sw->n = env->nodes;
	sw->view = g_new0(uint32_t, (gsize)sw->n + 1); /* all alive at 0 */
	sw->view[0] = ST_NONE; /* there is no member 0 */
	uint32_t bits = 0;
	while (bits < 32 && (UINT64_C(1) << bits) < sw->n)
		bits++;
	sw->perm_half = (bits + 1) / 2;
	new_round(sw);

	/* A restart finds the incarnation of its previous life. */
	uint8_t rec[12];
	int64_t got = env->ops->storage_read(env->ctx, "swim", 0, rec, sizeof(rec));
	struct au_rbuf r;
	bool restart = false;
	uint32_t inc = 0;
	if (got == (int64_t)sizeof(rec) && au_rbuf_unseal(&r, rec, sizeof(rec)) &&
	    au_get_u32(&r) == STATE_MAGIC) {
		restart = true;
		inc = au_get_u32(&r) + 1;
	} else if (got >= 0) {
		restart = true; /* a torn record: we did live before */
	}
	au_node_id me = env->self;
	int mode;
	if (inc > INC_MAX)
		inc = INC_MAX;
	if (cfg->seeds.all && !restart) {
		/* The zeroed view already says: everyone alive at 0. */
		sw->count[ST_ALIVE] = sw->n;
		sw->joined = true;
		mode = 0;
	} else {
		for (au_node_id m = 1; m <= sw->n; m++)
			set_entry(sw, m, ST_NONE, 0);
		set_entry(sw, me, ST_ALIVE, 0);
		sw->count[ST_ALIVE] = 1;
		mode = 1;
	}
	set_entry(sw, me, ST_ALIVE, inc);
	persist_inc(sw);
	au_trace(env, AU_TR_SWIM_BOOT, inc, mode, known_members(sw));

	sw->gossip_phase_ns = au_random_between(env, 0, cfg->gossip_interval_ns - 1);
	(void)au_timer_set(env, au_random_between(env, 0, cfg->probe_interval_ns - 1), TIMER_PROBE, 0);
	if (cfg->push_pull_interval_ns > 0)
		(void)au_timer_set(env, au_random_between(env, 0, push_pull_period(sw) - 1),
				   TIMER_PUSH_PULL, 0);
	if (cfg->stats_interval_ns > 0)
		(void)au_timer_set(env, cfg->stats_interval_ns, TIMER_STATS, 0);
	if (cfg->reconnect_interval_ns > 0)
		(void)au_timer_set(env, au_random_between(env, 1, cfg->reconnect_interval_ns),
				   TIMER_RECONNECT, 0);
	if (!sw->joined) {
		/* Tell whoever hears first that we are here, then join. */
		enqueue(sw, U_ALIVE, me, inc, me);
		join_try(sw);
	}
	return sw;
}

/* The incarnation record is advisory: nothing waits for it.  A restarted
 * node that finds an older incarnation than it last used (the write or
 * its sync failed, or a crash beat the sync) may come back at an
 * incarnation others already hold it dead at; it hears that it is
 * suspected or dead and refutes with a higher one, as memberlist does
 * without any disk at all.  So a failed write or sync is counted and
 * traced, and nothing else changes. */
static void swim_persisted(void *state, uint64_t token, int status)
{
	struct au_swim *sw = state;
	(void)token;
	if (status < 0) {
		sw->disk_errors++;
		au_trace_storage(sw->env, AU_STORAGE_SYNC, status, AU_STORAGE_IGNORED);
	}
}

static void swim_destroy(void *state)
{
	struct au_swim *sw = state;
	g_free(sw->view);
	if (sw->queue != sw->inline_queue)
		g_free(sw->queue);
	g_free(sw->sus);
	g_free(sw->reap);
	g_free(sw->dead_ids);
	free(sw);
}

static void swim_summary(void *state, char *buf, size_t len)
{
	struct au_swim *sw = state;
	snprintf(buf, len,
		 "inc=%u alive=%u suspect=%u dead=%u left=%u probes=%llu failed=%llu refutes=%llu "
		 "out=%llu in=%llu bytes_out=%llu queue=%u drops=%llu bad=%llu%s",
		 self_inc(sw), sw->count[ST_ALIVE], sw->count[ST_SUSPECT], sw->count[ST_DEAD],
		 sw->count[ST_LEFT], (unsigned long long)sw->probes,
		 (unsigned long long)sw->probe_fails, (unsigned long long)sw->refutes,
		 (unsigned long long)sw->msgs_out, (unsigned long long)sw->msgs_in,
		 (unsigned long long)sw->bytes_out, sw->queue_len,
		 (unsigned long long)sw->queue_drops, (unsigned long long)sw->bad,
		 sw->quiet ? " (left)" : "");
	size_t used = strlen(buf);
	if (sw->disk_errors && used < len)
		snprintf(buf + used, len - used, " disk_errors=%llu",
			 (unsigned long long)sw->disk_errors);
}

static int swim_admin(void *state, const char *action, au_node_id target)
{
	struct au_swim *sw = state;
	(void)target;
	if (strcmp(action, "leave") != 0)
		return -AU_EINVAL;
	au_swim_leave(sw);
	return 0;
}

/* Keys that depend on each other. */
static bool swim_validate(const void *config, uint32_t nodes, char *err, size_t errlen)
{
	const struct au_swim_config *c = config;
	(void)nodes;
	if (c->probe_timeout_ns >= c->probe_interval_ns) {
		snprintf(err, errlen, "probe_timeout: must be shorter than probe_interval (the ping-req "
				      "round needs the rest of the interval)");
		return false;
	}
	if (c->gossip_interval_ns > c->probe_interval_ns * 1000) {
		snprintf(err, errlen, "gossip_interval: more than 1000 probe intervals");
		return false;
	}
	return true;
}

/* ---- public API ------------------------------------------------------------------------ */

void au_swim_observe(struct au_swim *sw, au_swim_observer fn, void *ctx)
{
	if (!sw || !fn || sw->n_obs >= AU_SWIM_MAX_OBSERVERS)
		return;
	sw->obs[sw->n_obs++] = (struct observer){fn, ctx};
}

enum au_swim_state au_swim_member_state(const struct au_swim *sw, au_node_id member)
{
	if (!sw || member < 1 || member > sw->n)
		return AU_SWIM_UNKNOWN;
	return public_state(st_of(sw, member));
}

uint32_t au_swim_member_incarnation(const struct au_swim *sw, au_node_id member)
{
	if (!sw || member < 1 || member > sw->n)
		return 0;
	return inc_of(sw, member);
}

void au_swim_get_counters(const struct au_swim *sw, struct au_swim_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (!sw)
		return;
	out->msgs_out = sw->msgs_out;
	out->msgs_in = sw->msgs_in;
	out->bytes_out = sw->bytes_out;
	out->bytes_in = sw->bytes_in;
	out->probes = sw->probes;
	out->probe_fails = sw->probe_fails;
	out->refutes = sw->refutes;
	out->declared_dead = sw->declared_dead;
	out->queue_drops = sw->queue_drops;
	out->bad = sw->bad;
}

size_t au_swim_memory(const struct au_swim *sw)
{
	if (!sw)
		return 0;
	return sizeof(*sw) + ((size_t)sw->n + 1) * sizeof(uint32_t) +
	       (sw->queue != sw->inline_queue ? (size_t)sw->queue_cap * sizeof(struct bcast) : 0) +
	       (size_t)sw->cap_sus * sizeof(struct suspicion) +
	       (size_t)sw->reap_cap * sizeof(struct reap_entry) +
	       (size_t)sw->dead_cap * sizeof(au_node_id);
}

uint32_t au_swim_alive_count(const struct au_swim *sw)
{
	return sw ? sw->count[ST_ALIVE] : 0;
}

/* ---- the model ------------------------------------------------------------------------- */

static const struct au_config_key swim_keys[] = {
	{"probe_interval", AU_CFG_DURATION, offsetof(struct au_swim_config, probe_interval_ns), "1s",
	 AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "one probe per interval", NULL},
	{"probe_timeout", AU_CFG_DURATION, offsetof(struct au_swim_config, probe_timeout_ns), "500ms",
	 AU_NS_PER_US, UINT64_C(3600) * AU_NS_PER_S,
	 "no ack to the direct ping within this: ask indirect_probes members", NULL},
	{"indirect_probes", AU_CFG_UINT, offsetof(struct au_swim_config, indirect_probes), "3", 0, 16,
	 "members asked to ping a silent target for us (ping-req)", NULL},
	{"suspicion_mult", AU_CFG_UINT, offsetof(struct au_swim_config, suspicion_mult), "4", 1, 32,
	 "min suspicion timeout = mult * max(1, log10 n) * probe_interval", NULL},
	{"suspicion_max_timeout_mult", AU_CFG_UINT,
	 offsetof(struct au_swim_config, suspicion_max_timeout_mult), "6", 1, 100,
	 "max suspicion timeout = this * min", NULL},
	{"gossip_interval", AU_CFG_DURATION, offsetof(struct au_swim_config, gossip_interval_ns),
	 "200ms", AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "period of gossip rounds", NULL},
	{"gossip_nodes", AU_CFG_UINT, offsetof(struct au_swim_config, gossip_nodes), "3", 0, 16,
	 "members gossiped to per round (0: piggyback only)", NULL},
	{"retransmit_mult", AU_CFG_UINT, offsetof(struct au_swim_config, retransmit_mult), "4", 1, 32,
	 "each update is sent mult * ceil(log10(n+1)) times", NULL},
	{"push_pull_interval", AU_CFG_DURATION, offsetof(struct au_swim_config, push_pull_interval_ns),
	 "30s", 0, UINT64_C(86400) * AU_NS_PER_S,
	 "full-state exchange period (scaled up for n > 32; 0: never)", NULL},
	{"seeds", AU_CFG_NODE_LIST, offsetof(struct au_swim_config, seeds), "all", 0, 0,
	 "nodes to join through: all (first boot starts from the whole cluster) or n1,n2,...", NULL},
	{"gossip_to_dead", AU_CFG_DURATION, offsetof(struct au_swim_config, gossip_to_dead_ns), "30s",
	 0, UINT64_C(86400) * AU_NS_PER_S,
	 "dead and left members are still gossiped to for this long, then forgotten", NULL},
	{"suspicion", AU_CFG_BOOL, offsetof(struct au_swim_config, suspicion), "true", 0, 1,
	 "false: a failed probe declares the member dead at once (SWIM without suspicion)", NULL},
	{"reconnect_interval", AU_CFG_DURATION, offsetof(struct au_swim_config, reconnect_interval_ns),
	 "30s", 0, UINT64_C(86400) * AU_NS_PER_S,
	 "ping one member held dead this often, push-pull if it answers (Serf; 0: never)", NULL},
	{"stats_interval", AU_CFG_DURATION, offsetof(struct au_swim_config, stats_interval_ns), "10s",
	 0, UINT64_C(3600) * AU_NS_PER_S, "period of /swim_load rows (0: none)", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const char *const state_names[] = {"alive", "suspect", "dead", "left", "unknown"};
static const char *const via_names[] = {"self", "gossip", "push_pull"};

static const struct au_table_col membership_cols[] = {
	{"member", AU_COL_U32, offsetof(struct au_swim_membership_row, member), NULL, 0},
	{"state", AU_COL_ENUM8, offsetof(struct au_swim_membership_row, state), state_names, 5},
	{"incarnation", AU_COL_U32, offsetof(struct au_swim_membership_row, incarnation), NULL, 0},
	{"via", AU_COL_ENUM8, offsetof(struct au_swim_membership_row, via), via_names, 3},
};

static const struct au_table_col load_cols[] = {
	{"msgs_out", AU_COL_I64, offsetof(struct load_row, msgs_out), NULL, 0},
	{"msgs_in", AU_COL_I64, offsetof(struct load_row, msgs_in), NULL, 0},
	{"bytes_out", AU_COL_I64, offsetof(struct load_row, bytes_out), NULL, 0},
	{"bytes_in", AU_COL_I64, offsetof(struct load_row, bytes_in), NULL, 0},
	{"alive", AU_COL_U32, offsetof(struct load_row, alive), NULL, 0},
	{"suspect", AU_COL_U32, offsetof(struct load_row, suspect), NULL, 0},
	{"dead", AU_COL_U32, offsetof(struct load_row, dead), NULL, 0},
	{"left", AU_COL_U32, offsetof(struct load_row, left), NULL, 0},
	{"queue", AU_COL_U32, offsetof(struct load_row, queue), NULL, 0},
};

static const struct au_table_desc swim_tables[] = {
	{"membership",
	 "one row each time a node's view of a member changes state: member, new state, "
	 "incarnation, and whether the node concluded it itself, heard it in gossip or in a "
	 "push-pull",
	 membership_cols, 4, sizeof(struct au_swim_membership_row)},
	{"swim_load",
	 "every stats_interval per node: messages and bytes sent and received so far, the "
	 "view's alive/suspect/dead/left counts (reaped members excluded) and the gossip queue",
	 load_cols, 9, sizeof(struct load_row)},
};

static const char *const swim_message_names[] = {NULL, "PING", "ACK", "PING_REQ", "GOSSIP",
						 "PUSH_PULL"};

const struct au_model au_swim_model = {
	.name = "swim",
	.config_group = "swim",
	.config_keys = swim_keys,
	.config_size = sizeof(struct au_swim_config),
	.init = swim_init,
	.recv = swim_recv,
	.timer = swim_timer,
	.persisted = swim_persisted,
	.destroy = swim_destroy,
	.summary = swim_summary,
	.tables = swim_tables,
	.n_tables = 2,
	.message_names = swim_message_names,
	.n_message_names = MSG_TYPES_,
	.admin = swim_admin,
	.validate = swim_validate,
};
