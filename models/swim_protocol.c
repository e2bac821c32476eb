/* swim_protocol.c — SWIM on the wire and in time (see swim.c for the
 * design): sending with piggybacked updates, choosing members, the probe
 * order and cycle, gossip rounds, push-pull and reconnects, joining,
 * receiving, leaving, and the timers that drive them.
 */
#include "swim.h"

#include <assert.h>
#include <math.h>

#include <glib.h>

#include "swim_internal.h"
#include "trace_kinds.h"
#include "wire.h"

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
	swim_put_piggyback(sw, w, room);
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

void swim_new_round(struct au_swim *sw)
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
			swim_new_round(sw);
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
	swim_on_suspect(sw, t, inc_of(sw, t), sw->env->self, VIA_SELF);
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
	swim_reap(sw);
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

void swim_arm_gossip(struct au_swim *sw)
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
		swim_arm_gossip(sw);
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

au_time swim_push_pull_period(const struct au_swim *sw)
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
	(void)au_timer_set(sw->env, swim_push_pull_period(sw), TIMER_PUSH_PULL, 0);
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

void swim_join_try(struct au_swim *sw)
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
			swim_on_alive(sw, m, inc, VIA_PUSH_PULL);
			break;
		case ST_LEFT:
			swim_on_dead(sw, m, inc, m, VIA_PUSH_PULL);
			break;
		case ST_DEAD: /* a remote "dead" is only a suspicion here */
		case ST_SUSPECT:
			swim_on_suspect(sw, m, inc, me, VIA_PUSH_PULL);
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

void swim_recv(void *state, au_node_id from, const void *msg, size_t len)
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
			swim_apply_update(sw, &u[i], VIA_GOSSIP);
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
	swim_on_dead(sw, me, self_inc(sw), me, VIA_SELF);
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

void swim_timer(void *state, uint32_t kind, uint64_t arg)
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
		struct suspicion *s = swim_sus_find(sw, m, NULL);
		if (!s || s->gen != (uint32_t)(arg >> 32))
			break;
		uint32_t inc = s->inc, conf = s->confirmations;
		au_trace(sw->env, AU_TR_SWIM_SUSPECT_EXPIRED, m, inc, conf);
		sw->declared_dead++;
		swim_on_dead(sw, m, inc, sw->env->self, VIA_SELF);
		break;
	}
	case TIMER_JOIN:
		swim_join_try(sw);
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
