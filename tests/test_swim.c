/* test_swim.c — SWIM: the protocol's rules driven by hand through a fake
 * env (probe, ping-req, suspicion and its shrinking timeout, refutation,
 * incarnations, leave, malformed messages), the swim scenarios end to end
 * with their checkers, and determinism (run twice, other seed, -O0). */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pcg32.h"
#include "swim.h"
#include "trace_kinds.h"
#include "wire.h"
#include "sim/check/check_swim.h"
#include "sim/check/check.h"
#include "sim/engine/sim.h"
#include "scenario_runs.h"
#include "tests.h"

/* ---- a fake env: the test plays the network and the clock ---------------- */

#define F_MAX_SENT 256
#define F_MAX_TIMERS 512

struct f_msg {
	au_node_id to;
	size_t len;
	uint8_t buf[2048];
};

struct f_timer {
	uint64_t id;
	au_time at;
	uint32_t kind;
	uint64_t arg;
	bool live;
};

struct fenv {
	struct au_env env;
	au_time now;
	struct au_pcg32 rng;
	struct f_msg sent[F_MAX_SENT];
	uint32_t n_sent;
	struct f_timer timers[F_MAX_TIMERS];
	uint32_t n_timers;
	uint64_t next_timer;
	uint8_t file[64];
	int64_t file_len; /* -1: no file */
	uint32_t traces[400];
	bool silent;        /* nobody answers pings */
	uint32_t answered;  /* sent messages already looked at for pings */
	uint32_t rows;
	struct { uint32_t member; uint8_t state; uint32_t inc; uint8_t via; } last_row;
};

static au_time f_now(void *ctx) { return ((struct fenv *)ctx)->now; }

static int f_send(void *ctx, au_node_id to, const void *msg, size_t len)
{
	struct fenv *f = ctx;
	ck_assert_uint_lt(f->n_sent, F_MAX_SENT);
	ck_assert_uint_le(len, sizeof(f->sent[0].buf));
	f->sent[f->n_sent].to = to;
	f->sent[f->n_sent].len = len;
	memcpy(f->sent[f->n_sent].buf, msg, len);
	f->n_sent++;
	return 0;
}

static uint64_t f_timer_set(void *ctx, au_time delay, uint32_t kind, uint64_t arg)
{
	struct fenv *f = ctx;
	ck_assert_uint_lt(f->n_timers, F_MAX_TIMERS);
	struct f_timer *t = &f->timers[f->n_timers++];
	t->id = ++f->next_timer;
	t->at = f->now + delay;
	t->kind = kind;
	t->arg = arg;
	t->live = true;
	return t->id;
}

static void f_timer_cancel(void *ctx, uint64_t id)
{
	struct fenv *f = ctx;
	for (uint32_t i = 0; i < f->n_timers; i++)
		if (f->timers[i].id == id)
			f->timers[i].live = false;
}

static uint32_t f_random(void *ctx) { return au_pcg32_next(&((struct fenv *)ctx)->rng); }

static int f_write(void *ctx, const char *file, uint64_t off, const void *buf, size_t len)
{
	struct fenv *f = ctx;
	ck_assert_str_eq(file, "swim");
	ck_assert_uint_le(off + len, sizeof(f->file));
	memcpy(f->file + off, buf, len);
	if ((int64_t)(off + len) > f->file_len)
		f->file_len = (int64_t)(off + len);
	return 0;
}

static int64_t f_read(void *ctx, const char *file, uint64_t off, void *buf, size_t len)
{
	struct fenv *f = ctx;
	(void)file;
	if (f->file_len < 0)
		return -AU_ENOENT;
	if ((int64_t)off >= f->file_len)
		return 0;
	size_t n = (size_t)(f->file_len - (int64_t)off) < len ? (size_t)(f->file_len - (int64_t)off) : len;
	memcpy(buf, f->file + off, n);
	return (int64_t)n;
}

static int64_t f_size(void *ctx, const char *file)
{
	(void)file;
	struct fenv *f = ctx;
	return f->file_len < 0 ? -AU_ENOENT : f->file_len;
}
static int f_truncate(void *ctx, const char *file, uint64_t len)
{
	(void)ctx; (void)file; (void)len;
	return 0;
}
static void f_sync(void *ctx, const char *file, uint64_t token) { (void)ctx; (void)file; (void)token; }

static void f_trace(void *ctx, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	struct fenv *f = ctx;
	(void)a; (void)b; (void)c;
	if (kind < 400)
		f->traces[kind]++;
}

static void f_record(void *ctx, uint32_t table, const void *row)
{
	struct fenv *f = ctx;
	if (table != 0)
		return;
	f->rows++;
	/* struct membership_row: member u32, state u8, incarnation u32, via u8 */
	const uint8_t *p = row;
	memcpy(&f->last_row.member, p, 4);
	f->last_row.state = p[4];
	memcpy(&f->last_row.inc, p + 8, 4);
	f->last_row.via = p[12];
}

static void *f_local(void *ctx, const char *name) { (void)ctx; (void)name; return NULL; }

static const struct au_env_ops f_ops = {
	f_now, f_send, f_timer_set, f_timer_cancel, f_random, f_write, f_read, f_size,
	f_truncate, f_sync, f_trace, f_record, f_local,
	NULL, NULL, /* msg_counts, shared_input: optional */
};

static struct au_swim_config f_config(void)
{
	struct au_swim_config c = {0};
	c.probe_interval_ns = AU_NS_PER_S;
	c.probe_timeout_ns = 500 * AU_NS_PER_MS;
	c.indirect_probes = 3;
	c.suspicion_mult = 4;
	c.suspicion_max_timeout_mult = 6;
	c.gossip_interval_ns = 200 * AU_NS_PER_MS;
	c.gossip_nodes = 3;
	c.retransmit_mult = 4;
	c.push_pull_interval_ns = 30 * AU_NS_PER_S;
	c.seeds.all = 1;
	c.gossip_to_dead_ns = 30 * AU_NS_PER_S;
	c.suspicion = 1;
	c.stats_interval_ns = 0;
	return c;
}

static struct au_swim_config g_cfg;

/* Boot node `self` of an n-node cluster (seeds = all: everyone alive). */
static struct au_swim *f_boot(struct fenv *f, au_node_id self, uint32_t n)
{
	memset(f, 0, sizeof(*f));
	f->file_len = -1;
	f->env.ops = &f_ops;
	f->env.ctx = f;
	f->env.self = self;
	f->env.nodes = n;
	au_pcg32_seed(&f->rng, 42, self);
	g_cfg = f_config();
	return au_swim_model.init(&f->env, &g_cfg);
}

/* Answer every ping sent since last time with an ack from its target,
 * unless the network is silent. */
static void f_answer_pings(struct fenv *f, struct au_swim *sw)
{
	uint32_t end = f->n_sent;
	for (; f->answered < end; f->answered++) {
		const struct f_msg *m = &f->sent[f->answered];
		if (f->silent || m->buf[0] != 1 /* PING */)
			continue;
		struct au_rbuf r;
		ck_assert(au_rbuf_unseal(&r, m->buf, m->len));
		(void)au_get_u8(&r);
		uint64_t seq = 0;
		unsigned shift = 0;
		uint8_t b;
		do {
			b = au_get_u8(&r);
			seq |= (uint64_t)(b & 0x7f) << shift;
			shift += 7;
		} while (b & 0x80);
		uint8_t buf[32];
		struct au_wbuf w;
		au_wbuf_init(&w, buf, sizeof(buf));
		au_put_u8(&w, 2 /* ACK */);
		for (uint64_t v = seq; ; v >>= 7) {
			au_put_u8(&w, (uint8_t)(v >= 0x80 ? (v & 0x7f) | 0x80 : v));
			if (v < 0x80)
				break;
		}
		au_put_u8(&w, 0);
		au_wbuf_seal(&w);
		au_swim_model.recv(sw, m->to, buf, w.len);
	}
}

/* Fire every live timer due at or before `t`, in time order, answering
 * pings after each. */
static void f_advance(struct fenv *f, struct au_swim *sw, au_time t)
{
	f_answer_pings(f, sw);
	for (;;) {
		struct f_timer *next = NULL;
		for (uint32_t i = 0; i < f->n_timers; i++)
			if (f->timers[i].live && f->timers[i].at <= t &&
			    (!next || f->timers[i].at < next->at ||
			     (f->timers[i].at == next->at && f->timers[i].id < next->id)))
				next = &f->timers[i];
		if (!next)
			break;
		next->live = false;
		if (next->at > f->now)
			f->now = next->at;
		au_swim_model.timer(sw, next->kind, next->arg);
		f_answer_pings(f, sw);
	}
	f->now = t;
}

/* ---- building messages as a peer would ------------------------------------ */

static void w_varint(struct au_wbuf *w, uint64_t v)
{
	while (v >= 0x80) {
		au_put_u8(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	au_put_u8(w, (uint8_t)v);
}

enum { T_PING = 1, T_ACK, T_PING_REQ, T_GOSSIP, T_PUSH_PULL };
enum { K_ALIVE = 1, K_SUSPECT, K_DEAD };

struct upd {
	uint8_t kind;
	uint32_t member, inc, from;
};

static size_t make_gossip(uint8_t *buf, size_t cap, const struct upd *u, uint32_t n)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, T_GOSSIP);
	au_put_u8(&w, (uint8_t)n);
	for (uint32_t i = 0; i < n; i++) {
		au_put_u8(&w, u[i].kind);
		w_varint(&w, u[i].member);
		w_varint(&w, u[i].inc);
		if (u[i].kind != K_ALIVE)
			w_varint(&w, u[i].from);
	}
	au_wbuf_seal(&w);
	return w.len;
}

static void deliver_update(struct au_swim *sw, au_node_id from, uint8_t kind, uint32_t member,
			   uint32_t inc, uint32_t accuser)
{
	uint8_t buf[64];
	struct upd u = {kind, member, inc, accuser};
	size_t len = make_gossip(buf, sizeof(buf), &u, 1);
	au_swim_model.recv(sw, from, buf, len);
}

/* Parse the updates piggybacked on a sent message (any type but
 * push-pull); returns how many, into u[]. */
static uint32_t sent_updates(const struct f_msg *m, struct upd *u, uint32_t max)
{
	struct au_rbuf r;
	ck_assert(au_rbuf_unseal(&r, m->buf, m->len));
	uint8_t type = au_get_u8(&r);
	ck_assert(type != T_PUSH_PULL);
	int fields = type == T_PING || type == T_PING_REQ ? 2 : type == T_ACK ? 1 : 0;
	for (int i = 0; i < fields; i++)
		while (au_get_u8(&r) & 0x80)
			;
	uint32_t n = au_get_u8(&r);
	for (uint32_t i = 0; i < n && i < max; i++) {
		u[i].kind = au_get_u8(&r);
		uint64_t v[3] = {0, 0, 0};
		int nv = u[i].kind == K_ALIVE ? 2 : 3;
		for (int k = 0; k < nv; k++) {
			unsigned shift = 0;
			uint8_t b;
			do {
				b = au_get_u8(&r);
				v[k] |= (uint64_t)(b & 0x7f) << shift;
				shift += 7;
			} while (b & 0x80);
		}
		u[i].member = (uint32_t)v[0];
		u[i].inc = (uint32_t)v[1];
		u[i].from = nv == 3 ? (uint32_t)v[2] : u[i].member;
	}
	ck_assert(!r.short_read);
	return n;
}

/* Did any message sent since index `since` carry this update? */
static bool gossiped(struct fenv *f, uint32_t since, uint8_t kind, uint32_t member, uint32_t inc)
{
	for (uint32_t i = since; i < f->n_sent; i++) {
		if (f->sent[i].buf[0] == T_PUSH_PULL)
			continue;
		struct upd u[255];
		uint32_t n = sent_updates(&f->sent[i], u, 255);
		for (uint32_t j = 0; j < n; j++)
			if (u[j].kind == kind && u[j].member == member && u[j].inc == inc)
				return true;
	}
	return false;
}

/* ---- observers ---------------------------------------------------------------- */

struct obs_log {
	int calls;
	au_node_id member;
	enum au_swim_state state;
	uint32_t inc;
};

static void on_change(void *ctx, au_node_id member, enum au_swim_state state, uint32_t inc)
{
	struct obs_log *o = ctx;
	o->calls++;
	o->member = member;
	o->state = state;
	o->inc = inc;
}

/* ---- the rules ------------------------------------------------------------------ */

static struct fenv F;

START_TEST(boot_view_all)
{
	struct au_swim *sw = f_boot(&F, 3, 10);
	ck_assert_uint_eq(au_swim_alive_count(sw), 10);
	for (au_node_id m = 1; m <= 10; m++)
		ck_assert_int_eq(au_swim_member_state(sw, m), AU_SWIM_ALIVE);
	ck_assert_int_eq(au_swim_member_state(sw, 0), AU_SWIM_UNKNOWN);
	ck_assert_int_eq(au_swim_member_state(sw, 11), AU_SWIM_UNKNOWN);
	ck_assert_uint_eq(F.rows, 0); /* the starting view is not a change */
	/* the incarnation file was written */
	ck_assert_int_eq(F.file_len, 12);
	au_swim_model.destroy(sw);
}
END_TEST

START_TEST(probe_ack_no_suspicion)
{
	/* Everyone answers: a minute of probing suspects nobody, and every
	 * member is probed once per round (randomized round robin). */
	struct au_swim *sw = f_boot(&F, 1, 5);
	f_advance(&F, sw, 60 * AU_NS_PER_S);
	uint32_t pings[6] = {0};
	for (uint32_t i = 0; i < F.n_sent; i++)
		if (F.sent[i].buf[0] == T_PING)
			pings[F.sent[i].to]++;
	ck_assert_uint_eq(pings[1], 0);
	for (au_node_id m = 2; m <= 5; m++) {
		ck_assert_int_eq(au_swim_member_state(sw, m), AU_SWIM_ALIVE);
		ck_assert_uint_ge(pings[m], 14); /* 60 probes over 4 members, one per round */
		ck_assert_uint_le(pings[m], 16);
	}
	ck_assert_uint_eq(F.traces[AU_TR_SWIM_PROBE_FAIL], 0);
	ck_assert_uint_eq(F.rows, 0);
	au_swim_model.destroy(sw);
}
END_TEST

/* When the first probe tick is due. */
static au_time first_tick(const struct fenv *f)
{
	au_time t = INT64_MAX;
	for (uint32_t i = 0; i < f->n_timers; i++)
		if (f->timers[i].live && f->timers[i].kind == 1 /* TIMER_PROBE */ && f->timers[i].at < t)
			t = f->timers[i].at;
	return t;
}

START_TEST(failed_probe_pingreq_then_suspect_then_dead)
{
	struct au_swim *sw = f_boot(&F, 1, 8);
	struct obs_log o = {0};
	au_swim_observe(sw, on_change, &o);
	F.silent = true;
	au_time sent_at = first_tick(&F);
	f_advance(&F, sw, sent_at);
	ck_assert_uint_eq(F.n_sent, 1);
	au_node_id target = F.sent[0].to;
	/* no ack: after probe_timeout, ping-reqs to 3 other members */
	f_advance(&F, sw, sent_at + 500 * AU_NS_PER_MS);
	int reqs = 0;
	for (uint32_t i = 1; i < F.n_sent; i++)
		if (F.sent[i].buf[0] == T_PING_REQ) {
			reqs++;
			ck_assert_uint_ne(F.sent[i].to, target);
			ck_assert_uint_ne(F.sent[i].to, 1);
		}
	ck_assert_int_eq(reqs, 3);
	ck_assert_int_eq(au_swim_member_state(sw, target), AU_SWIM_ALIVE);
	/* end of the interval: suspect */
	f_advance(&F, sw, sent_at + AU_NS_PER_S);
	ck_assert_int_eq(au_swim_member_state(sw, target), AU_SWIM_SUSPECT);
	ck_assert_uint_eq(F.traces[AU_TR_SWIM_PROBE_FAIL], 1);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_uint_eq(o.member, target);
	ck_assert_int_eq(o.state, AU_SWIM_SUSPECT);
	/* n = 8 known: min = 4 * max(1, log10 8) * 1s = 4s, max = 24s; k = 2
	 * confirmations expected, none come: dead after 24 s */
	au_time suspected_at = F.now;
	f_advance(&F, sw, suspected_at + 24 * AU_NS_PER_S - AU_NS_PER_MS);
	/* the target is not probed as dead, but other probes fail too (nobody
	 * answers): look only at the target */
	ck_assert_int_eq(au_swim_member_state(sw, target), AU_SWIM_SUSPECT);
	f_advance(&F, sw, suspected_at + 24 * AU_NS_PER_S);
	ck_assert_int_eq(au_swim_member_state(sw, target), AU_SWIM_DEAD);
	au_swim_model.destroy(sw);
}
END_TEST

START_TEST(confirmations_shrink_the_timeout)
{
	/* n = 100: min = 4 * 2 * 1s = 8s, max = 48s, k = 2.  One confirmation:
	 * 48 - 40 * log(2)/log(3) = 22.76s -> 22.762s (whole ms); two: 8s. */
	struct au_swim *sw = f_boot(&F, 1, 100);
	deliver_update(sw, 2, K_SUSPECT, 50, 0, 2);
	ck_assert_int_eq(au_swim_member_state(sw, 50), AU_SWIM_SUSPECT);
	au_time start = F.now;
	/* the same accuser again is no confirmation */
	deliver_update(sw, 3, K_SUSPECT, 50, 0, 2);
	deliver_update(sw, 4, K_SUSPECT, 50, 0, 4);
	double one = 48.0 - 40.0 * log(2.0) / log(3.0);
	au_time t1 = (au_time)floor(one * 1000.0) * AU_NS_PER_MS;
	f_advance(&F, sw, start + t1 - 1);
	ck_assert_int_eq(au_swim_member_state(sw, 50), AU_SWIM_SUSPECT);
	f_advance(&F, sw, start + t1);
	ck_assert_int_eq(au_swim_member_state(sw, 50), AU_SWIM_DEAD);

	/* two confirmations reach the minimum at once: dead at start + 8s */
	deliver_update(sw, 2, K_SUSPECT, 60, 0, 2);
	start = F.now;
	f_advance(&F, sw, start + 3 * AU_NS_PER_S);
	deliver_update(sw, 5, K_SUSPECT, 60, 0, 5);
	deliver_update(sw, 6, K_SUSPECT, 60, 0, 6);
	f_advance(&F, sw, start + 8 * AU_NS_PER_S - 1);
	ck_assert_int_eq(au_swim_member_state(sw, 60), AU_SWIM_SUSPECT);
	f_advance(&F, sw, start + 8 * AU_NS_PER_S);
	ck_assert_int_eq(au_swim_member_state(sw, 60), AU_SWIM_DEAD);
	ck_assert_uint_eq(F.traces[AU_TR_SWIM_SUSPECT_EXPIRED], 2);
	au_swim_model.destroy(sw);
}
END_TEST

START_TEST(refutes_suspicion_of_itself)
{
	struct au_swim *sw = f_boot(&F, 4, 10);
	uint32_t before = F.n_sent;
	deliver_update(sw, 2, K_SUSPECT, 4, 0, 2);
	ck_assert_int_eq(au_swim_member_state(sw, 4), AU_SWIM_ALIVE);
	ck_assert_uint_eq(au_swim_member_incarnation(sw, 4), 1);
	ck_assert_uint_eq(F.traces[AU_TR_SWIM_REFUTE], 1);
	/* the refutation goes out on the next messages (gossip round) */
	f_advance(&F, sw, F.now + AU_NS_PER_S);
	ck_assert(gossiped(&F, before, K_ALIVE, 4, 1));
	/* a dead claim at an older incarnation is ignored; at the current one
	 * it is refuted again */
	deliver_update(sw, 3, K_DEAD, 4, 0, 3);
	ck_assert_uint_eq(au_swim_member_incarnation(sw, 4), 1);
	deliver_update(sw, 3, K_DEAD, 4, 1, 3);
	ck_assert_uint_eq(au_swim_member_incarnation(sw, 4), 2);
	ck_assert_int_eq(au_swim_member_state(sw, 4), AU_SWIM_ALIVE);
	/* the incarnation is durable: the file holds 2 */
	struct au_rbuf r;
	ck_assert(au_rbuf_unseal(&r, F.file, 12));
	(void)au_get_u32(&r);
	ck_assert_uint_eq(au_get_u32(&r), 2);
	au_swim_model.destroy(sw);
}
END_TEST

START_TEST(incarnation_rules)
{
	struct au_swim *sw = f_boot(&F, 1, 10);
	struct obs_log o = {0};
	au_swim_observe(sw, on_change, &o);
	deliver_update(sw, 2, K_SUSPECT, 5, 0, 2);
	ck_assert_int_eq(au_swim_member_state(sw, 5), AU_SWIM_SUSPECT);
	/* alive at the same incarnation does not clear a suspicion */
	deliver_update(sw, 2, K_ALIVE, 5, 0, 5);
	ck_assert_int_eq(au_swim_member_state(sw, 5), AU_SWIM_SUSPECT);
	/* a refutation (alive, higher incarnation) does */
	deliver_update(sw, 5, K_ALIVE, 5, 1, 5);
	ck_assert_int_eq(au_swim_member_state(sw, 5), AU_SWIM_ALIVE);
	ck_assert_uint_eq(au_swim_member_incarnation(sw, 5), 1);
	ck_assert_int_eq(o.calls, 2);
	/* its old suspicion timer is gone: nothing happens at max (everyone
	 * answers pings here) */
	f_advance(&F, sw, F.now + 60 * AU_NS_PER_S);
	ck_assert_int_eq(au_swim_member_state(sw, 5), AU_SWIM_ALIVE);
	ck_assert_int_eq(o.calls, 2);
	/* a suspicion at an older incarnation is ignored */
	struct au_swim *sw2 = f_boot(&F, 1, 10);
	deliver_update(sw2, 2, K_ALIVE, 6, 3, 6);
	deliver_update(sw2, 2, K_SUSPECT, 6, 2, 2);
	ck_assert_int_eq(au_swim_member_state(sw2, 6), AU_SWIM_ALIVE);
	/* dead at the same incarnation wins over alive */
	deliver_update(sw2, 2, K_DEAD, 6, 3, 2);
	ck_assert_int_eq(au_swim_member_state(sw2, 6), AU_SWIM_DEAD);
	/* and only a newer alive brings it back */
	deliver_update(sw2, 6, K_ALIVE, 6, 3, 6);
	ck_assert_int_eq(au_swim_member_state(sw2, 6), AU_SWIM_DEAD);
	deliver_update(sw2, 6, K_ALIVE, 6, 4, 6);
	ck_assert_int_eq(au_swim_member_state(sw2, 6), AU_SWIM_ALIVE);
	/* a dead update sent by the member itself is a leave */
	deliver_update(sw2, 7, K_DEAD, 7, 0, 7);
	ck_assert_int_eq(au_swim_member_state(sw2, 7), AU_SWIM_LEFT);
	ck_assert_uint_eq(au_swim_alive_count(sw2), 9); /* 7 left */
	au_swim_model.destroy(sw2);
	au_swim_model.destroy(sw);
}
END_TEST

START_TEST(malformed_messages_change_nothing)
{
	struct au_swim *sw = f_boot(&F, 1, 10);
	uint8_t buf[64];
	struct upd u = {K_DEAD, 5, 0, 2};
	size_t len = make_gossip(buf, sizeof(buf), &u, 1);
	const size_t good_len = len;
	/* every single bit flip is caught by the CRC */
	for (size_t bit = 0; bit < len * 8; bit++) {
		uint8_t c[64];
		memcpy(c, buf, len);
		c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		au_swim_model.recv(sw, 2, c, len);
	}
	/* every truncation too */
	for (size_t l = 0; l < len; l++)
		au_swim_model.recv(sw, 2, buf, l);
	ck_assert_int_eq(au_swim_member_state(sw, 5), AU_SWIM_ALIVE);
	/* well sealed but nonsense: member 0, member 11, unknown kind, junk after */
	struct upd bad[] = {{K_DEAD, 0, 0, 2}, {K_DEAD, 11, 0, 2}, {9, 5, 0, 2}, {K_DEAD, 5, 0, 12}};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		len = make_gossip(buf, sizeof(buf), &bad[i], 1);
		au_swim_model.recv(sw, 2, buf, len);
	}
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, T_GOSSIP);
	au_put_u8(&w, 0);
	au_put_u8(&w, 0x77);
	au_wbuf_seal(&w);
	au_swim_model.recv(sw, 2, buf, w.len);
	/* an overlong varint */
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, T_ACK);
	for (int i = 0; i < 6; i++)
		au_put_u8(&w, 0xff);
	au_put_u8(&w, 0x01);
	au_put_u8(&w, 0);
	au_wbuf_seal(&w);
	au_swim_model.recv(sw, 2, buf, w.len);
	ck_assert_uint_eq(F.traces[AU_TR_MODEL_BAD_MESSAGE], good_len * 9 + G_N_ELEMENTS(bad) + 2);
	for (au_node_id m = 1; m <= 10; m++)
		ck_assert_int_eq(au_swim_member_state(sw, m), AU_SWIM_ALIVE);
	au_swim_model.destroy(sw);
}
END_TEST

/* A random message of roughly the right shape: fields drawn from small
 * ranges that straddle the valid ones (member 0 and beyond n, unknown
 * kinds, big incarnations), sometimes cut short or with bytes added. */
static size_t random_message(struct au_pcg32 *rng, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap - 4);
	uint8_t type = (uint8_t)(1 + au_pcg32_below(rng, 5));
	au_put_u8(&w, type);
	if (type == T_PUSH_PULL) {
		au_put_u8(&w, (uint8_t)au_pcg32_below(rng, 5));
		uint32_t count = au_pcg32_below(rng, 12);
		au_put_u32(&w, count);
		for (uint32_t i = 0; i < count; i++) {
			w_varint(&w, au_pcg32_below(rng, 12));
			w_varint(&w, (uint64_t)au_pcg32_below(rng, 6) << 2 | au_pcg32_below(rng, 4));
		}
	} else {
		if (type != T_GOSSIP)
			w_varint(&w, au_pcg32_below(rng, 4) ? au_pcg32_below(rng, 50) : au_pcg32_next(rng));
		if (type == T_PING || type == T_PING_REQ)
			w_varint(&w, au_pcg32_below(rng, 60));
		uint32_t count = au_pcg32_below(rng, 6);
		au_put_u8(&w, (uint8_t)count);
		for (uint32_t i = 0; i < count; i++) {
			uint8_t kind = (uint8_t)au_pcg32_below(rng, 5);
			au_put_u8(&w, kind);
			w_varint(&w, au_pcg32_below(rng, 56));
			w_varint(&w, au_pcg32_below(rng, 8) ? au_pcg32_below(rng, 6) : au_pcg32_next(rng));
			if (kind != K_ALIVE)
				w_varint(&w, au_pcg32_below(rng, 56));
		}
	}
	size_t len = w.len;
	uint32_t shape = au_pcg32_below(rng, 8);
	if (shape == 0 && len > 1)
		len -= 1 + au_pcg32_below(rng, (uint32_t)len - 1); /* cut */
	else if (shape == 1)
		for (uint32_t j = au_pcg32_below(rng, 3) + 1; j > 0 && len < cap - 4; j--)
			buf[len++] = (uint8_t)au_pcg32_next(rng); /* junk after */
	au_wbuf_init(&w, buf, cap);
	w.len = len;
	au_wbuf_seal(&w);
	return w.len;
}

START_TEST(random_sealed_messages_never_crash)
{
	/* Random messages behind a valid CRC, so they reach the decoders and
	 * the update rules, from random senders: the model must not crash (run
	 * under make asan / valgrind too), must reject the malformed ones and
	 * act on the others, and must never lose itself. */
	struct au_swim *sw = f_boot(&F, 1, 50);
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, 7, (uint64_t)_i);
	for (int k = 0; k < 3000; k++) {
		uint8_t buf[600];
		size_t len = random_message(&rng, buf, sizeof(buf));
		au_swim_model.recv(sw, 1 + au_pcg32_below(&rng, 60), buf, len);
		if (k % 100 == 0)
			f_advance(&F, sw, F.now + 300 * AU_NS_PER_MS);
		F.n_sent = 0; /* the fake network keeps a window only */
		F.answered = 0;
	}
	for (au_node_id m = 1; m <= 50; m++)
		ck_assert_int_le(au_swim_member_state(sw, m), AU_SWIM_UNKNOWN);
	ck_assert_int_eq(au_swim_member_state(sw, 1), AU_SWIM_ALIVE);
	/* some reached the rules, many did not */
	ck_assert_uint_lt(F.traces[AU_TR_MODEL_BAD_MESSAGE], 2500);
	ck_assert_uint_gt(F.traces[AU_TR_MODEL_BAD_MESSAGE], 500);
	ck_assert_uint_gt(F.rows, 10);
	au_swim_model.destroy(sw);
}
END_TEST

START_TEST(leave_is_gossiped_then_quiet)
{
	struct au_swim *sw = f_boot(&F, 2, 10);
	uint32_t before = F.n_sent;
	au_swim_leave(sw);
	ck_assert_int_eq(au_swim_member_state(sw, 2), AU_SWIM_LEFT);
	f_advance(&F, sw, F.now + 10 * AU_NS_PER_S);
	ck_assert(gossiped(&F, before, K_DEAD, 2, 0));
	ck_assert_uint_eq(F.traces[AU_TR_SWIM_QUIET], 1);
	/* quiet: pings go unanswered */
	uint32_t n = F.n_sent;
	uint8_t buf[32];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, T_PING);
	w_varint(&w, 7);
	w_varint(&w, 2);
	au_put_u8(&w, 0);
	au_wbuf_seal(&w);
	au_swim_model.recv(sw, 3, buf, w.len);
	f_advance(&F, sw, F.now + 10 * AU_NS_PER_S);
	ck_assert_uint_eq(F.n_sent, n);
	au_swim_model.destroy(sw);
}
END_TEST

START_TEST(restart_joins_with_newer_incarnation)
{
	struct au_swim *sw = f_boot(&F, 3, 10);
	deliver_update(sw, 2, K_SUSPECT, 3, 4, 2); /* refute: incarnation 5 */
	ck_assert_uint_eq(au_swim_member_incarnation(sw, 3), 5);
	au_swim_model.destroy(sw);
	/* boot again over the same file: not the first boot, so it knows only
	 * itself, comes back at 6 and asks a seed for the view */
	uint8_t file[64];
	int64_t flen = F.file_len;
	memcpy(file, F.file, sizeof(file));
	memset(&F, 0, sizeof(F));
	F.env.ops = &f_ops;
	F.env.ctx = &F;
	F.env.self = 3;
	F.env.nodes = 10;
	F.file_len = flen;
	memcpy(F.file, file, sizeof(file));
	au_pcg32_seed(&F.rng, 42, 99);
	sw = au_swim_model.init(&F.env, &g_cfg);
	ck_assert_uint_eq(au_swim_member_incarnation(sw, 3), 6);
	ck_assert_uint_eq(au_swim_alive_count(sw), 1);
	ck_assert_int_eq(au_swim_member_state(sw, 1), AU_SWIM_UNKNOWN);
	ck_assert_uint_eq(F.n_sent, 1);
	ck_assert_uint_eq(F.sent[0].buf[0], T_PUSH_PULL);
	ck_assert_uint_ne(F.sent[0].to, 3);
	au_swim_model.destroy(sw);
}
END_TEST

/* ---- scenarios end to end --------------------------------------------------------- */

static const char *const swim_scenarios[] = {
	"scenarios/swim-basic.ini",       "scenarios/swim-crash-detect.ini",
	"scenarios/swim-lossy.ini",       "scenarios/swim-partition-heal.ini",
};

static const struct au_swim *swim_of(struct au_sim *sim, au_node_id n)
{
	const struct au_env *e = au_sim_env(sim, n, 0);
	return e ? e->ops->local_service(e->ctx, "swim") : NULL;
}

START_TEST(basic_scenario_story)
{
	struct au_scenario *sc = au_test_load("scenarios/swim-basic.ini");
	struct au_sim *sim = au_sim_new(sc, 1);
	/* n7 crashes at 20s: by 40s every live member has it dead */
	ck_assert_int_eq(au_sim_run(sim, 40 * AU_NS_PER_S), 0);
	for (au_node_id n = 1; n <= 16; n++) {
		if (n == 7)
			continue;
		ck_assert_int_eq(au_swim_member_state(swim_of(sim, n), 7), AU_SWIM_DEAD);
		ck_assert_uint_eq(au_swim_alive_count(swim_of(sim, n)), 15);
	}
	/* it restarts at 45s and rejoins; n3 leaves at 60s */
	ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	for (au_node_id n = 1; n <= 16; n++) {
		if (n == 3)
			continue;
		const struct au_swim *sw = swim_of(sim, n);
		ck_assert_int_eq(au_swim_member_state(sw, 7), AU_SWIM_ALIVE);
		ck_assert_int_eq(au_swim_member_state(sw, 3), AU_SWIM_LEFT);
		ck_assert_uint_eq(au_swim_alive_count(sw), 15);
	}
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* _i = scenario * 100 + seed */
START_TEST(scenario_passes)
{
	au_test_scenario_passes(swim_scenarios[_i / 100], (uint64_t)(_i % 100));
}
END_TEST

START_TEST(deterministic)
{
	char a[65], b[65], c[65];
	au_test_run_hash(swim_scenarios[_i], 5, a);
	au_test_run_hash(swim_scenarios[_i], 5, b);
	au_test_run_hash(swim_scenarios[_i], 6, c);
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
}
END_TEST

START_TEST(same_hash_at_O0)
{
	au_test_same_hash_at_O0(swim_scenarios, G_N_ELEMENTS(swim_scenarios), 1, false);
}
END_TEST

/* ---- checkers, memory, bench ------------------------------------------------------ */

START_TEST(convergence_check_fires_without_reconnect)
{
	/* Without reconnect pings the two halves of a healed partition never
	 * talk again: membership_converged must say so. */
	struct au_scenario *sc = au_test_load_text("test.ini", 
		"[run]\nduration = 150s\n[cluster]\nnodes = 12\nservices = swim\n"
		"[swim]\nreconnect_interval = 0s\n"
		"[fault.split]\nat = 20s\naction = partition\ngroups = n1,n2,n3,n4,n5,n6 | rest\n"
		"until = 60s\n[check]\nliveness = membership_converged:60s\n");
	struct au_sim *sim = au_sim_new(sc, 3);
	int rc = au_sim_run(sim, sc->duration);
	if (rc == 0)
		rc = au_sim_finish(sim);
	const struct au_violation *v = au_sim_violation(sim);
	ck_assert_int_eq(rc, 1);
	ck_assert_str_eq(v->check, "membership_converged");
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(accuracy_counts_partition_victims)
{
	/* 6 | 6 for 40 s: every member declares the 6 on the other side dead:
	 * 72 false positives, all during the network fault, so none counts
	 * against swim_false_deaths_max (auto: 0, no loss). */
	struct au_scenario *sc = au_test_load_text("test.ini", 
		"[run]\nduration = 120s\n[cluster]\nnodes = 12\nservices = swim\n"
		"[fault.split]\nat = 20s\naction = partition\ngroups = n1,n2,n3,n4,n5,n6 | rest\n"
		"until = 60s\n[check]\nliveness = membership_converged:50s\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	const char *names[8], *results[8];
	size_t n = au_check_results(sim, names, results, 8);
	bool seen = false;
	for (size_t i = 0; i < n; i++) {
		char note[256];
		if (strcmp(names[i], "swim_accuracy") != 0)
			continue;
		ck_assert(au_check_note(sim, i, note, sizeof(note)));
		ck_assert_msg(strstr(note, "false positives: 72 live members declared dead (72 during"),
			      "%s", note);
		ck_assert_msg(strstr(note, "false deaths outside fault windows: 0 (bound 0 auto, grace "
					   "60.50 s)"), "%s", note);
		ck_assert_str_eq(results[i], "pass");
		seen = true;
	}
	ck_assert(seen);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* Plain SWIM (no suspicion: a failed probe is a death) on 8 nodes with
 * 20 % loss, n1-n4 cut off from n5-n8 for the first 20 s; reconnect every
 * second. */
static const char lossy_plain[] =
	"[run]\nduration = 60s\n[cluster]\nnodes = 8\nservices = swim\n"
	"[network]\nlatency = uniform(1ms,5ms)\nloss = 0.2\n"
	"[swim]\nsuspicion = false\nreconnect_interval = 1s\n"
	"[fault.split]\nat = 0s\naction = partition\ngroups = n1,n2,n3,n4 | rest\nuntil = 20s\n";

struct acc_run {
	int rc;
	struct au_violation v;
	char hash[65];
	char note[512];
};

static void acc_run(const char *text, uint64_t seed, struct acc_run *out)
{
	struct au_scenario *sc = au_test_load_text("test.ini", text);
	struct au_sim *sim = au_sim_new(sc, seed);
	out->rc = au_sim_run(sim, sc->duration);
	if (out->rc == 0)
		out->rc = au_sim_finish(sim);
	const struct au_violation *v = au_sim_violation(sim);
	memset(&out->v, 0, sizeof(out->v));
	if (v)
		out->v = *v;
	au_sim_trace_hash(sim, out->hash);
	const char *names[16], *results[16];
	size_t n = au_check_results(sim, names, results, 16);
	out->note[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], "swim_accuracy") == 0)
			au_check_note(sim, i, out->note, sizeof(out->note));
	au_sim_free(sim);
	au_scenario_free(sc);
}

/* _i = seed.  With a bound of 0 the first false death after the partition
 * and its grace (1 s period + no suspicion + 18 gossip rounds of 200 ms +
 * 1 s reconnect = 5.6 s) fails the run, naming declarer, member and time;
 * the deaths during the partition and its grace do not count. */
START_TEST(accuracy_fails_past_the_bound)
{
	g_autofree char *text = g_strconcat(lossy_plain, "[check]\nswim_false_deaths_max = 0\n", NULL);
	struct acc_run r;
	acc_run(text, (uint64_t)_i, &r);
	ck_assert_msg(r.rc == 1, "seed %d: %s", _i, r.note);
	ck_assert_str_eq(r.v.check, "swim_accuracy");
	ck_assert_msg(r.v.t_ns >= 25600 * AU_NS_PER_MS, "seed %d: at %lld: %s", _i,
		      (long long)r.v.t_ns, r.v.detail);
	g_autofree char *decl = g_strdup_printf("n%u declared n", r.v.node);
	ck_assert_msg(g_str_has_prefix(r.v.detail, decl), "seed %d: %s", _i, r.v.detail);
	g_autofree char *when = g_strdup_printf("dead at incarnation ");
	ck_assert_msg(strstr(r.v.detail, when), "%s", r.v.detail);
	g_autofree char *at = g_strdup_printf("at t=%lld ns", (long long)r.v.t_ns);
	ck_assert_msg(strstr(r.v.detail, at), "%s", r.v.detail);
	ck_assert_msg(strstr(r.v.detail, "last fault window over at 20000000000 ns (grace "
					 "5600000000 ns); 1 false deaths outside windows > "
					 "swim_false_deaths_max = 0"), "%s", r.v.detail);
	ck_assert_ptr_null(strstr(r.v.detail, "(auto)"));
}
END_TEST

/* _i = seed.  The same world under the derived bound passes: every false
 * death outside the windows needs a failed probe, and the bound covers
 * the failures 8 nodes x 61 probes can have (Chernoff, 1e-9). */
START_TEST(accuracy_auto_bound_holds_under_loss)
{
	struct acc_run r;
	acc_run(lossy_plain, (uint64_t)_i, &r);
	ck_assert_msg(r.rc == 0, "seed %d: %s: %s", _i, r.v.check, r.v.detail);
	ck_assert_msg(strstr(r.note, "(bound 81 auto, grace 5.60 s)"), "%s", r.note);
	/* and false deaths did happen outside the window: the bound is not
	 * vacuous here */
	ck_assert_msg(!strstr(r.note, "outside fault windows: 0 "), "%s", r.note);
}
END_TEST

START_TEST(accuracy_is_deterministic)
{
	g_autofree char *text = g_strconcat(lossy_plain, "[check]\nswim_false_deaths_max = 0\n", NULL);
	struct acc_run a, b, c;
	acc_run(text, 3, &a);
	acc_run(text, 3, &b);
	acc_run(text, 4, &c);
	ck_assert_int_eq(a.rc, 1);
	ck_assert_str_eq(a.v.detail, b.v.detail);
	ck_assert_int_eq(a.v.t_ns, b.v.t_ns);
	ck_assert_str_eq(a.hash, b.hash);
	ck_assert_str_ne(a.hash, c.hash);
}
END_TEST

/* A member paused for 10 s is declared dead by everyone: excused, as the
 * deaths in the pause's grace are; the run passes with a bound of 0. */
START_TEST(accuracy_excuses_a_pause)
{
	static const char text[] =
		"[run]\nduration = 60s\n[cluster]\nnodes = 6\nservices = swim\n"
		"[fault.nap]\nat = 10s\naction = pause\ntarget = n3\nuntil = 30s\n"
		"[check]\nswim_false_deaths_max = 0\n";
	struct acc_run r;
	acc_run(text, 1, &r);
	ck_assert_msg(r.rc == 0, "%s: %s", r.v.check, r.v.detail);
	ck_assert_msg(strstr(r.note, "false positives: 5 live members declared dead (5 during"), "%s",
		      r.note);
	ck_assert_msg(strstr(r.note, "false deaths outside fault windows: 0 (bound 0, grace"), "%s",
		      r.note);
}
END_TEST

START_TEST(accuracy_bound_formulas)
{
	/* chaos-aureon's [swim]: grace = 500 ms + max suspicion (2 * 4 *
	 * max(1, log10 5) * 500 ms = 4 s) + (2 ceil(log2 6) + 10) * 200 ms +
	 * reconnect 1 s */
	struct au_swim_config c = f_config();
	c.probe_interval_ns = 500 * AU_NS_PER_MS;
	c.probe_timeout_ns = 200 * AU_NS_PER_MS;
	c.suspicion_max_timeout_mult = 2;
	c.reconnect_interval_ns = AU_NS_PER_S;
	c.push_pull_interval_ns = 5 * AU_NS_PER_S;
	ck_assert_int_eq(au_check_swim_grace(&c, 5), 8700 * AU_NS_PER_MS);
	c.suspicion = 0;
	ck_assert_int_eq(au_check_swim_grace(&c, 5), 4700 * AU_NS_PER_MS);
	/* without reconnect, the push-pull period: 5 s, x (ceil(log2 64 - 5) + 1)
	 * = 2 at 64 members */
	c.reconnect_interval_ns = 0;
	ck_assert_int_eq(au_check_swim_grace(&c, 5), 8700 * AU_NS_PER_MS);
	ck_assert_int_eq(au_check_swim_grace(&c, 64) - au_check_swim_grace(&c, 32),
			 5 * AU_NS_PER_S + 2 * 200 * AU_NS_PER_MS);

	/* swim-lossy: 5 % loss, hops within 10 ms: direct 1 - 0.95^2, each
	 * of 3 relays 1 - 0.95^4 */
	struct au_scenario *sc = au_test_load("scenarios/swim-lossy.ini");
	const struct au_swim_config *lc = NULL;
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		if (sc->cluster.services[i] == &au_swim_model)
			lc = sc->cluster.service_config[i];
	double want = (1 - pow(0.95, 2)) * pow(1 - pow(0.95, 4), 3);
	ck_assert_double_eq_tol(au_check_swim_probe_fail(sc, lc, 32), want, 1e-12);
	/* lambda = 32 * 201 probes * 6.2e-4 = 4.0: more than 22 has p <= 1e-9 */
	ck_assert_int_eq(au_check_swim_false_deaths_auto(sc, lc, 32), 22);
	/* two members: no relay, the direct path alone */
	ck_assert_double_eq_tol(au_check_swim_probe_fail(sc, lc, 2), 1 - pow(0.95, 2), 1e-12);
	/* no loss, latency far inside the deadlines: no probe can fail */
	sc->loss = 0;
	ck_assert(au_check_swim_probe_fail(sc, lc, 32) == 0.0);
	ck_assert_int_eq(au_check_swim_false_deaths_auto(sc, lc, 32), 0);
	/* a latency that can exceed half a probe interval: probes can fail */
	ck_assert(au_parse_dist("lognormal(100ms,200ms)", &sc->latency, &(const char *){NULL}));
	ck_assert(au_check_swim_probe_fail(sc, lc, 32) > 0.0);
	ck_assert_int_gt(au_check_swim_false_deaths_auto(sc, lc, 32), 0);
	/* everything lost: every one of the 32 * 201 probes may fail */
	sc->loss = 1.0;
	ck_assert(au_check_swim_probe_fail(sc, lc, 32) == 1.0);
	int64_t all = au_check_swim_false_deaths_auto(sc, lc, 32);
	ck_assert_msg(all >= 32 * 201 && all < 32 * 201 + 1000, "%lld", (long long)all);
	au_scenario_free(sc);
}
END_TEST

START_TEST(accuracy_key_errors)
{
	static const struct {
		const char *value, *want;
	} bad[] = {
		{"-1", "[check] swim_false_deaths_max: '-1' is not auto or a count"},
		{"many", "[check] swim_false_deaths_max: 'many' is not auto or a count"},
		{"2000000000", "[check] swim_false_deaths_max: '2000000000'"},
		{"1.5", "[check] swim_false_deaths_max: '1.5'"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *text = g_strdup_printf(
			"[run]\nduration = 10s\n[cluster]\nnodes = 4\nservices = swim\n"
			"[check]\nswim_false_deaths_max = %s\n", bad[i].value);
		char *err = NULL;
		struct au_scenario *sc = au_scenario_load_text("acc.ini", text, &err);
		ck_assert_msg(!sc, "%s accepted", bad[i].value);
		ck_assert_msg(g_str_has_prefix(err, "acc.ini: ") && strstr(err, bad[i].want), "%s", err);
		g_free(err);
	}
	struct au_scenario *sc = au_test_load_text("test.ini", "[run]\nduration = 10s\n[cluster]\nnodes = 4\n"
					   "services = swim\n[check]\nswim_false_deaths_max = auto\n");
	ck_assert_int_eq(sc->swim_false_deaths_max, -1);
	au_scenario_free(sc);
	sc = au_test_load_text("test.ini", "[run]\nduration = 10s\n[cluster]\nnodes = 4\nservices = swim\n"
		       "[check]\nswim_false_deaths_max = 7\n");
	ck_assert_int_eq(sc->swim_false_deaths_max, 7);
	au_scenario_free(sc);
	/* on the command line: exit 2, the message names file, group and key */
	g_autofree char *dir = g_dir_make_tmp("acc-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "bad.ini", NULL);
	ck_assert(g_file_set_contents(path,
				      "[run]\nduration = 10s\n[cluster]\nnodes = 4\nservices = swim\n"
				      "[check]\nswim_false_deaths_max = lots\n", -1, NULL));
	g_autofree char *cmd = g_strdup_printf("%s/aureon-sim run %s 2>&1", au_test_bin(), path);
	char *out = NULL;
	ck_assert_int_eq(au_test_run(cmd, &out), 2);
	ck_assert_msg(strstr(out, "bad.ini: [check] swim_false_deaths_max: 'lots'"), "%s", out);
	g_free(out);
	g_unlink(path);
	g_rmdir(dir);
}
END_TEST

START_TEST(completeness_bound_formula)
{
	struct au_swim_config c = f_config();
	/* n = 16: D = ceil(ln 1e9 / (15 * -ln(14/15))) = 21 periods (round
	 * robin cap 29), +1; max suspicion 6 * 4 * log10(16) s = 28.896 s;
	 * spread (2 * ceil(log2 17) + 10) * 200 ms = 4 s. */
	au_time b = au_check_swim_bound(&c, 16);
	ck_assert_int_eq(b, 22 * AU_NS_PER_S + 28896 * AU_NS_PER_MS + 4 * AU_NS_PER_S);
	/* n = 3: one confirmation impossible (n - 2 < k): min suspicion only */
	au_time b3 = au_check_swim_bound(&c, 3);
	ck_assert_int_eq(b3, 4 * AU_NS_PER_S + 4 * AU_NS_PER_S + (2 * 2 + 10) * 200 * AU_NS_PER_MS);
	ck_assert_int_eq(au_swim_suspicion_min(&c, 100), 8 * AU_NS_PER_S);
	ck_assert_int_eq(au_swim_suspicion_max(&c, 100), 48 * AU_NS_PER_S);
	ck_assert_uint_eq(au_swim_retransmit_limit(&c, 10000), 20);
	ck_assert_uint_eq(au_swim_retransmit_limit(&c, 9), 4);
}
END_TEST

START_TEST(view_memory_per_entry)
{
	/* 2,000 nodes, each with a 2,000-member view: well under 16 bytes per
	 * (node, member) entry; the view itself is 4. */
	struct au_scenario *sc = au_test_load_text("test.ini", 
		"[run]\nduration = 5s\n[cluster]\nnodes = 2000\nservices = swim\n"
		"[trace]\nmessages = none\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
	size_t bytes = 0;
	for (au_node_id n = 1; n <= 2000; n++)
		bytes += au_swim_memory(swim_of(sim, n));
	double per = (double)bytes / (2000.0 * 2000.0);
	ck_assert_msg(per >= 4.0 && per < 6.0, "%.3f bytes per entry", per);
	au_sim_finish(sim);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(bench_smoke)
{
	g_autofree char *cmd = g_strdup_printf(
		"%s/aureon-sim bench swim --sizes 16,32 --trials 6 --fp-nodes 16 --fp-time 30s --json",
		au_test_bin());
	char *out = NULL;
	ck_assert_int_eq(au_test_run(cmd, &out), 0);
	ck_assert_msg(strstr(out, "\"theory_periods\": 1.5820"), "%s", out);
	/* every crash detected and disseminated to everyone */
	const char *p = strstr(out, "\"periods_mean\": ");
	ck_assert_ptr_nonnull(p);
	double periods = g_ascii_strtod(p + strlen("\"periods_mean\": "), NULL);
	ck_assert_msg(periods >= 1.0 && periods < 4.0, "%s", out);
	ck_assert_ptr_null(strstr(out, "\"incomplete\": 1"));
	ck_assert_ptr_nonnull(strstr(out, "\"loss\": 0.10, \"suspicion\": false"));
	g_free(out);
	/* usage errors exit 2 */
	g_autofree char *bad = g_strdup_printf("%s/aureon-sim bench swim --sizes 2 2>/dev/null",
					       au_test_bin());
	ck_assert_int_eq(au_test_run(bad, NULL), 2);
}
END_TEST

START_TEST(scale_scenarios_pass)
{
	/* The scale scenarios end to end (swim-10k: about a minute of CPU). */
	static const char *const paths[] = {"scenarios/swim-1000.ini", "scenarios/swim-10k.ini"};
	struct au_scenario *sc = au_test_load(paths[_i]);
	struct au_sim *sim = au_sim_new(sc, sc->seed);
	int rc = au_sim_run(sim, sc->duration);
	if (rc == 0)
		rc = au_sim_finish(sim);
	const struct au_violation *v = au_sim_violation(sim);
	ck_assert_msg(rc == 0, "%s: %s", v ? v->check : "?", v ? v->detail : "");
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

Suite *swim_suite(void)
{
	Suite *s = suite_create("swim");
	TCase *rules = tcase_create("rules");
	tcase_add_test(rules, boot_view_all);
	tcase_add_test(rules, probe_ack_no_suspicion);
	tcase_add_test(rules, failed_probe_pingreq_then_suspect_then_dead);
	tcase_add_test(rules, confirmations_shrink_the_timeout);
	tcase_add_test(rules, refutes_suspicion_of_itself);
	tcase_add_test(rules, incarnation_rules);
	tcase_add_test(rules, malformed_messages_change_nothing);
	tcase_add_loop_test(rules, random_sealed_messages_never_crash, 0, 4);
	tcase_add_test(rules, leave_is_gossiped_then_quiet);
	tcase_add_test(rules, restart_joins_with_newer_incarnation);
	suite_add_tcase(s, rules);

	TCase *sc = tcase_create("scenarios");
	tcase_set_timeout(sc, 120);
	tcase_add_test(sc, basic_scenario_story);
	for (int k = 0; k < (int)G_N_ELEMENTS(swim_scenarios); k++)
		tcase_add_loop_test(sc, scenario_passes, k * 100 + 1, k * 100 + 6);
	tcase_add_loop_test(sc, deterministic, 0, (int)G_N_ELEMENTS(swim_scenarios));
	tcase_add_test(sc, same_hash_at_O0);
	tcase_add_test(sc, convergence_check_fires_without_reconnect);
	tcase_add_test(sc, accuracy_counts_partition_victims);
	tcase_add_loop_test(sc, accuracy_fails_past_the_bound, 1, 4);
	tcase_add_loop_test(sc, accuracy_auto_bound_holds_under_loss, 1, 4);
	tcase_add_test(sc, accuracy_is_deterministic);
	tcase_add_test(sc, accuracy_excuses_a_pause);
	tcase_add_test(sc, accuracy_bound_formulas);
	tcase_add_test(sc, accuracy_key_errors);
	tcase_add_test(sc, completeness_bound_formula);
	tcase_add_test(sc, view_memory_per_entry);
	tcase_add_test(sc, bench_smoke);
	suite_add_tcase(s, sc);

	TCase *slow = tcase_create("slow");
	tcase_set_tags(slow, "slow");
	tcase_set_timeout(slow, 900);
	for (int k = 0; k < (int)G_N_ELEMENTS(swim_scenarios); k++)
		tcase_add_loop_test(slow, scenario_passes, k * 100 + 6, k * 100 + 40);
	tcase_add_loop_test(slow, scale_scenarios_pass, 0, 2);
	suite_add_tcase(s, slow);
	return s;
}
