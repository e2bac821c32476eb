/* frontend.c — the orchestrator's front end, active on the Raft leader
 * only (orchestrator_internal.h has the design): it turns every node's
 * requests into queue and lock operations, many per log entry (group
 * commit), answers the workers as the operations apply, expires leases and
 * locks on its own clock, reclaims the leases of nodes SWIM declares dead,
 * and runs the [workload] task generator.
 */
#include <assert.h>
#include <string.h>

#include <glib.h>

#include "hashes.h"
#include "orchestrator_internal.h"
#include "raft/raft.h"
#include "trace_kinds.h"

static void kick(struct au_orch *o);
static void fe_members(struct au_orch *o, struct au_rbuf *rb);

/* ---- the front end: batching commands ------------------------------------------------- */

static void submit_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len)
{
	struct au_orch *o = ctx;
	(void)ok;
	(void)index;
	(void)result;
	(void)len;
	assert(o->inflight > 0);
	o->inflight--;
	kick(o); /* room for the next command */
}

/* Move a full open batch to the sealed list. */
static void seal(struct au_orch *o, struct au_taskq_batch *b, uint8_t machine)
{
	if (!b->ops)
		return;
	GByteArray *cmd = o->spare_cmd ? o->spare_cmd : g_byte_array_sized_new((guint)b->len + 1);
	o->spare_cmd = NULL;
	g_byte_array_append(cmd, &machine, 1);
	g_byte_array_append(cmd, b->buf, (guint)b->len);
	g_ptr_array_add(o->sealed, cmd);
	au_taskq_batch_reset(b);
}

/* Make room for an operation of about `bytes` in batch `b`. */
struct au_taskq_batch *orch_room(struct au_orch *o, bool locks, size_t bytes)
{
	struct au_taskq_batch *b = locks ? &o->lb : &o->qb;
	if (b->len + bytes + 16 > AU_TASKQ_BATCH_MAX ||
	    (o->cfg->batch_ops && b->ops >= o->cfg->batch_ops))
		seal(o, b, locks ? AU_LOCK_MACHINE : AU_TASKQ_MACHINE);
	kick(o);
	return b;
}

/* Submit sealed commands, then the open ones, while Raft has room. */
static void flush(struct au_orch *o)
{
	if (!o->leading)
		return;
	if (o->sealed->len == 0) {
		seal(o, &o->qb, AU_TASKQ_MACHINE);
		seal(o, &o->lb, AU_LOCK_MACHINE);
	}
	while (o->inflight < o->cfg->batch_inflight && o->sealed->len > 0) {
		GByteArray *cmd = g_ptr_array_index(o->sealed, 0);
		int rc = au_raft_submit(o->raft, cmd->data[0], 0, 0, cmd->data + 1, cmd->len - 1,
					submit_done, o);
		if (rc != 0)
			return; /* not leader any more: the next check drops everything */
		o->inflight++;
		g_ptr_array_remove_index(o->sealed, 0);
		if (!o->spare_cmd) {
			g_byte_array_set_size(cmd, 0); /* Raft copied it: the next seal reuses it */
			o->spare_cmd = cmd;
		} else {
			g_byte_array_free(cmd, TRUE);
		}
		if (o->sealed->len == 0) {
			seal(o, &o->qb, AU_TASKQ_MACHINE);
			seal(o, &o->lb, AU_LOCK_MACHINE);
		}
	}
}

void orch_drop_pending(struct au_orch *o)
{
	for (guint i = 0; i < o->sealed->len; i++)
		g_byte_array_free(g_ptr_array_index(o->sealed, i), TRUE);
	g_ptr_array_set_size(o->sealed, 0);
	au_taskq_batch_reset(&o->qb);
	au_taskq_batch_reset(&o->lb);
}

/* Are we the leader's front end?  Called at every entry point: Raft has no
 * callback for leadership changes, and a stale front end must stop. */
void orch_check_leadership(struct au_orch *o)
{
	bool lead = o->raft && au_raft_is_leader(o->raft);
	if (lead && (!o->leading || o->lead_term != au_raft_term(o->raft))) {
		o->leading = true;
		o->lead_term = au_raft_term(o->raft);
		o->lead_start = au_now(o->env);
		orch_drop_pending(o);
		for (uint32_t n = 0; n <= o->env->nodes; n++) {
			o->parked[n] = (struct parked){0};
			o->node_op_at[n] = INT64_MIN / 2;
			/* Dead in the queue: revive only on a newer verdict than
			 * what we hold now (a restarted SWIM thinks all alive). */
			if (n > 0 && au_taskq_node_dead(o->q, n))
				o->dead_inc[n] = o->verdict_inc[n];
		}
		g_hash_table_remove_all(o->expiring);
		g_hash_table_remove_all(o->deadlines);
		g_hash_table_remove_all(o->lock_deadlines);
		g_hash_table_remove_all(o->grant_sent);
		o->wl_next = 1;
		o->wl_floor = 0;
		while (o->wl_floor < o->cfg->tasks && au_taskq_get(o->q, o->wl_floor + 1))
			o->wl_floor++;
		o->wl_elapsed = 0;
		o->wl_last_now = o->lead_start;
		au_trace(o->env, AU_TR_ORCH_LEAD, (int64_t)o->lead_term, 0, 0);
		kick(o);
	} else if (!lead && o->leading) {
		o->leading = false;
		orch_drop_pending(o);
	}
}

/* ---- the front end: answering as operations apply -------------------------------------- */

static void send_resolved(struct au_orch *o, au_node_id to, uint64_t id, uint64_t token, uint8_t what,
			  au_time remaining)
{
	uint8_t buf[64];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, M_RESOLVED);
	au_put_u64(&w, id);
	au_put_u64(&w, token);
	au_put_u8(&w, what);
	au_put_u64(&w, (uint64_t)(remaining > 0 ? remaining : 0));
	orch_send_to(o, to, &w);
}

/* Record that this leader holds `key` (a lease token or lock key) valid
 * until `ttl` from now on its own clock. */
static void note_deadline(struct au_orch *o, GHashTable *table, uint64_t key, au_time ttl)
{
	au_time *d = g_hash_table_lookup(table, &key);
	if (!d) {
		uint64_t *k = g_new(uint64_t, 1);
		*k = key;
		d = g_new(au_time, 1);
		g_hash_table_insert(table, k, d);
	}
	*d = au_now(o->env) + ttl;
}

static void send_grant(struct au_orch *o, const struct au_task *t)
{
	uint8_t *buf = g_malloc(MSG_BUF);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, MSG_BUF);
	au_put_u8(&w, M_GRANT);
	au_put_u64(&w, t->id);
	au_put_u64(&w, t->token);
	au_put_u64(&w, t->lease_id);
	au_put_u32(&w, t->kind);
	au_put_u32(&w, t->topic);
	au_put_u32(&w, t->rounds);
	au_put_u32(&w, t->caps);
	au_put_u32(&w, t->max_retries);
	au_put_u32(&w, (uint32_t)t->priority);
	au_put_u64(&w, (uint64_t)o->cfg->lease_ns); /* from now, on our clock */
	au_put_u32(&w, t->ckpt_round);
	au_put_u32(&w, t->payload_len);
	au_put_bytes(&w, t->payload, t->payload_len);
	au_put_u32(&w, t->ckpt_len);
	au_put_bytes(&w, t->ckpt, t->ckpt_len);
	orch_send_to(o, t->node, &w);
	g_free(buf);
}

void orch_on_queue_event(void *ctx, const struct au_taskq_event *ev)
{
	struct au_orch *o = ctx;
	switch (ev->type) {
	case AU_TASKQ_EV_ENQUEUED:
	case AU_TASKQ_EV_EXPIRED:
	case AU_TASKQ_EV_NACKED:
	case AU_TASKQ_EV_RELEASED:
	case AU_TASKQ_EV_NODE:
	case AU_TASKQ_EV_REQUEUED:
		o->qgen++; /* tasks may have become available */
		break;
	default:
		break;
	}
	if (!o->raft || !au_raft_is_leader(o->raft))
		return;
	orch_check_leadership(o);
	switch (ev->type) {
	case AU_TASKQ_EV_GRANTED:
		note_deadline(o, o->deadlines, ev->token, o->cfg->lease_ns);
		note_deadline(o, o->grant_sent, ev->token, 0);
		send_grant(o, ev->task);
		break;
	case AU_TASKQ_EV_LEASE_DONE: {
		struct parked *p = ev->node <= o->env->nodes ? &o->parked[ev->node] : NULL;
		if (!p)
			break;
		p->inflight = false;
		p->want = p->want > ev->granted ? p->want - ev->granted : 0;
		p->gen = o->qgen;
		break;
	}
	case AU_TASKQ_EV_RENEWED:
		note_deadline(o, o->deadlines, ev->token, o->cfg->lease_ns);
		send_resolved(o, ev->node, ev->task->id, ev->token, R_RENEWED, o->cfg->lease_ns);
		break;
	case AU_TASKQ_EV_RENEW_LOST:
		send_resolved(o, ev->node, ev->task ? ev->task->id : 0, ev->token, R_LOST, 0);
		break;
	case AU_TASKQ_EV_ACKED:
		g_hash_table_remove(o->deadlines, &ev->token);
		g_hash_table_remove(o->grant_sent, &ev->token);
		send_resolved(o, ev->node, ev->task->id, ev->token, R_ACKED, 0);
		break;
	case AU_TASKQ_EV_NACKED:
	case AU_TASKQ_EV_RELEASED:
		g_hash_table_remove(o->deadlines, &ev->token);
		g_hash_table_remove(o->grant_sent, &ev->token);
		break;
	case AU_TASKQ_EV_ACK_STALE:
		send_resolved(o, ev->node, ev->task ? ev->task->id : 0, ev->token, R_ACK_STALE, 0);
		break;
	case AU_TASKQ_EV_CHECKPOINT:
		send_resolved(o, ev->node, ev->task->id, ev->token, R_CKPT_OK, 0);
		break;
	case AU_TASKQ_EV_CKPT_STALE:
		send_resolved(o, ev->node, ev->task ? ev->task->id : 0, ev->token, R_CKPT_STALE, 0);
		break;
	case AU_TASKQ_EV_EXPIRED:
		/* Tell the holder, so it stops wasting work (it may be gone). */
		send_resolved(o, ev->node, ev->task->id, ev->token, R_LOST, 0);
		g_hash_table_remove(o->expiring, &ev->token);
		g_hash_table_remove(o->deadlines, &ev->token);
		g_hash_table_remove(o->grant_sent, &ev->token);
		break;
	default:
		break;
	}
	kick(o);
}

static void send_lock_resp(struct au_orch *o, uint64_t owner, uint64_t key, uint64_t token,
			   uint8_t what, au_time remaining)
{
	uint8_t buf[64];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, M_LOCK_RESP);
	au_put_u64(&w, key);
	au_put_u64(&w, token);
	au_put_u64(&w, owner);
	au_put_u8(&w, what);
	au_put_u64(&w, (uint64_t)(remaining > 0 ? remaining : 0));
	orch_send_to(o, (au_node_id)(owner >> 32), &w);
}

void orch_on_lock_event(void *ctx, const struct au_lock_event *ev)
{
	struct au_orch *o = ctx;
	if (!o->raft || !au_raft_is_leader(o->raft))
		return;
	switch (ev->type) {
	case AU_LOCK_EV_GRANTED: /* also a renewal by the holder */
		note_deadline(o, o->lock_deadlines, ev->key, o->cfg->lock_ttl_ns);
		send_lock_resp(o, ev->owner, ev->key, ev->token, L_GRANTED, o->cfg->lock_ttl_ns);
		break;
	case AU_LOCK_EV_BUSY:
		send_lock_resp(o, ev->owner, ev->key, 0, L_BUSY, 0);
		break;
	case AU_LOCK_EV_RELEASED:
		g_hash_table_remove(o->lock_deadlines, &ev->key);
		if (ev->reason == 1)
			send_lock_resp(o, ev->owner, ev->key, ev->token, L_LOST, 0);
		break;
	case AU_LOCK_EV_WRITE:
		break;
	}
}

/* ---- the front end: requests from workers ------------------------------------------------ */

static bool member_dead(const struct au_orch *o, au_node_id n)
{
	if (n == 0 || n > o->env->nodes || n == o->env->self)
		return false;
	return o->verdict_dead[n];
}

/* Fold a SWIM verdict in; true if it changed what we believe. */
bool orch_fold_verdict(struct au_orch *o, au_node_id member, bool dead, uint32_t inc)
{
	if (member == 0 || member > o->env->nodes)
		return false;
	uint32_t cur = o->verdict_inc[member];
	bool cur_dead = o->verdict_dead[member];
	bool newer = inc > cur || (inc == cur && dead && !cur_dead);
	if (!newer)
		return false;
	o->verdict_inc[member] = inc;
	o->verdict_dead[member] = dead;
	return dead != cur_dead;
}

/* Deadline of a lease granted or renewed now.  `worker_now` is the
 * requesting worker's clock, carried for diagnostics only. */
static au_time lease_deadline(const struct au_orch *o, au_time worker_now)
{
#ifdef AU_BUG_EXPIRY_WORKER_CLOCK
	/* Planted bug: the deadline is set on the worker's clock, and the
	 * leader then compares it with its own. */
	return worker_now + o->cfg->lease_ns;
#else
	(void)worker_now;
	return au_now(o->env) + o->cfg->lease_ns;
#endif
}

/* Propose a lease request for a parked node if it can be served. */
static void serve(struct au_orch *o, au_node_id n, au_time worker_now)
{
	struct parked *p = &o->parked[n];
	uint64_t counts[4];
	au_taskq_counts(o->q, counts);
	/* A node back with a new incarnation is served even when nothing is
	 * queued: its request is what revokes the old incarnation's leases. */
	bool reborn = p->inc > au_taskq_node_inc(o->q, n);
	if (p->inflight || p->want == 0 ||
	    (!reborn && (member_dead(o, n) || au_taskq_node_dead(o->q, n) ||
			 counts[AU_TASK_QUEUED] == 0 || au_taskq_node_draining(o->q, n))))
		return;
	struct au_taskq_batch *b = orch_room(o, false, 32);
	au_taskq_add_lease(b, n, p->inc, p->caps, p->want, lease_deadline(o, worker_now));
	p->inflight = true;
}

static void fe_pull(struct au_orch *o, au_node_id from, struct au_rbuf *rb)
{
	uint32_t inc = au_get_u32(rb), caps = au_get_u32(rb), want = au_get_u32(rb);
	au_time worker_now = (au_time)au_get_u64(rb);
	if (rb->short_read || from > o->env->nodes || want > 4096) {
		o->bad++;
		return;
	}
	struct parked *p = &o->parked[from];
	bool fresh = inc != p->inc || caps != p->caps || want > p->want;
	p->inc = inc;
	p->caps = caps;
	p->want = want;
	/* Served short since the queue last changed: wait for news, unless the
	 * worker asks for more than before. */
	if (!fresh && p->gen == o->qgen && p->gen != 0)
		return;
	serve(o, from, worker_now);
}

struct resend {
	struct au_orch *o;
	au_node_id node;
	uint32_t inc;
	uint64_t tokens[256]; /* what the worker listed */
	uint16_t n;
	au_time now;
};

static bool resend_grant(void *ctx, const struct au_task *t)
{
	struct resend *r = ctx;
	struct au_orch *o = r->o;
	if (t->node_inc != r->inc)
		return true; /* an older incarnation's: revoked at its next pull */
	for (uint16_t i = 0; i < r->n; i++)
		if (r->tokens[i] == t->token)
			return true;
	/* Give a grant in flight time to arrive before sending it again. */
	const au_time *sent = g_hash_table_lookup(o->grant_sent, &t->token);
	au_time at = sent ? *sent : o->lead_start;
	if (!orch_waited(r->now, at, o->cfg->retry_ns))
		return true;
	note_deadline(o, o->grant_sent, t->token, 0);
	send_grant(o, t);
	return true;
}

void orch_fe_recv(struct au_orch *o, au_node_id from, uint8_t type, struct au_rbuf *rb)
{
	if (from == 0 || from > o->env->nodes)
		return;
	switch (type) {
	case M_PULL:
		fe_pull(o, from, rb);
		break;
	case M_MEMBER:
		fe_members(o, rb);
		break;
	case M_RENEW: {
		uint32_t inc = au_get_u32(rb);
		au_time worker_now = (au_time)au_get_u64(rb);
		uint16_t n = au_get_u16(rb);
		(void)inc;
		if (rb->short_read || n > 256 || (size_t)n * 16 > rb->len - rb->pos) {
			o->bad++;
			return;
		}
		struct resend rs = {o, from, inc, {0}, n, au_now(o->env)};
		struct au_taskq_batch *b = n ? orch_room(o, false, 32u * n) : NULL;
		for (uint16_t i = 0; i < n; i++) {
			uint64_t id = au_get_u64(rb), token = au_get_u64(rb);
			rs.tokens[i] = token;
			au_taskq_add_renew(b, from, id, token, lease_deadline(o, worker_now));
		}
		/* Leases the queue says it holds but it does not list: their
		 * grant was lost.  Send it again. */
		au_taskq_each_node_lease(o->q, from, resend_grant, &rs);
		break;
	}
	case M_ACK: {
		uint64_t id = au_get_u64(rb), token = au_get_u64(rb);
		uint32_t len = au_get_u32(rb);
		if (rb->short_read || len > AU_TASKQ_RESULT_MAX || len > rb->len - rb->pos) {
			o->bad++;
			return;
		}
		au_taskq_add_ack(orch_room(o, false, 32 + len), from, id, token, rb->p + rb->pos, len);
		break;
	}
	case M_NACK:
	case M_RELEASE: {
		uint64_t id = au_get_u64(rb), token = au_get_u64(rb);
		uint8_t requeue = type == M_NACK ? au_get_u8(rb) : 0;
		if (rb->short_read) {
			o->bad++;
			return;
		}
		struct au_taskq_batch *b = orch_room(o, false, 32);
		if (type == M_NACK)
			au_taskq_add_nack(b, from, id, token, requeue != 0);
		else
			au_taskq_add_release(b, from, id, token);
		break;
	}
	case M_CKPT: {
		uint64_t id = au_get_u64(rb), token = au_get_u64(rb);
		uint32_t round = au_get_u32(rb), len = au_get_u32(rb);
		if (rb->short_read || len > AU_TASKQ_CKPT_MAX || len > rb->len - rb->pos) {
			o->bad++;
			return;
		}
		au_taskq_add_checkpoint(orch_room(o, false, 40 + len), from, id, token, round,
					rb->p + rb->pos, len);
		break;
	}
	case M_LOCK: {
		uint64_t key = au_get_u64(rb), owner = au_get_u64(rb);
		if (rb->short_read || owner >> 32 != from) {
			o->bad++;
			return;
		}
		au_lock_add_lock(orch_room(o, true, 32), key, owner, au_now(o->env) + o->cfg->lock_ttl_ns);
		break;
	}
	case M_UNLOCK: {
		uint64_t key = au_get_u64(rb), token = au_get_u64(rb);
		if (!rb->short_read)
			au_lock_add_unlock(orch_room(o, true, 32), key, token);
		break;
	}
	case M_WRITE: {
		uint64_t key = au_get_u64(rb), owner = au_get_u64(rb), token = au_get_u64(rb);
		int64_t value = (int64_t)au_get_u64(rb);
		if (!rb->short_read && owner >> 32 == from)
			au_lock_add_write(orch_room(o, true, 40), key, owner, token, value);
		break;
	}
	default:
		o->bad++;
		break;
	}
}

/* ---- the front end: time, deaths, the workload ------------------------------------------- */

struct scan_ctx {
	struct au_orch *o;
	au_time now, floor;
};

static bool scan_lease(void *ctx, const struct au_task *t)
{
	struct scan_ctx *s = ctx;
	struct au_orch *o = s->o;
#ifdef AU_BUG_EXPIRY_WORKER_CLOCK
	/* Planted bug: judge the deadline written into the log, which came
	 * from the worker's clock. */
	au_time deadline = t->deadline_ns > s->floor ? t->deadline_ns : s->floor;
#else
	/* Only durations on our own clock count: when we granted or renewed
	 * it, or, for a lease we inherited, when we took over (deadlines
	 * written by another leader's clock may be anything on ours). */
	const au_time *mine = g_hash_table_lookup(o->deadlines, &t->token);
	au_time deadline = mine ? *mine : s->floor;
#endif
	if (s->now < deadline)
		return true;
	au_time *at = g_hash_table_lookup(o->expiring, &t->token);
	if (at && s->now - *at < o->cfg->lease_ns / 2)
		return true; /* proposed recently; waiting for it to apply */
	if (!at) {
		at = g_new(au_time, 1);
		uint64_t *key = g_new(uint64_t, 1);
		*key = t->token;
		g_hash_table_insert(o->expiring, key, at);
	}
	*at = s->now;
	au_trace(o->env, AU_TR_ORCH_EXPIRE, (int64_t)t->id, (int64_t)t->token, deadline);
	au_taskq_add_expire(orch_room(o, false, 24), t->id, t->token);
	return true;
}

static void scan_lock(void *ctx, uint64_t key, uint64_t owner, uint64_t token, au_time deadline_ns)
{
	struct scan_ctx *s = ctx;
	(void)owner;
	(void)deadline_ns; /* written by whichever leader's clock: not ours */
	const au_time *mine = g_hash_table_lookup(s->o->lock_deadlines, &key);
	au_time deadline = mine ? *mine : s->floor;
	if (s->now < deadline)
		return;
	au_trace(s->o->env, AU_TR_ORCH_LOCK_EXPIRE, (int64_t)key, (int64_t)token, deadline);
	au_lock_add_expire(orch_room(s->o, true, 24), key, token);
}

/* Node marks from SWIM's verdicts: dead (reclaim its leases now), or
 * alive again on a verdict newer than the one it died at.  (A node that
 * restarts is also revived by its own first pull: see taskq.c.) */
static void reconcile_members(struct au_orch *o, au_time now)
{
	for (au_node_id n = 1; n <= o->env->nodes; n++) {
		if (n == o->env->self)
			continue;
		bool dead = member_dead(o, n), q_dead = au_taskq_node_dead(o->q, n);
		bool revive = !dead && q_dead && o->verdict_inc[n] > o->dead_inc[n];
		if ((!(dead && !q_dead) && !revive) || now - o->node_op_at[n] < o->cfg->expiry_scan_ns * 5)
			continue;
		o->node_op_at[n] = now;
		if (dead)
			o->dead_inc[n] = o->verdict_inc[n];
		au_taskq_add_node(orch_room(o, false, 16), n, dead ? AU_TASKQ_NODE_DEAD : AU_TASKQ_NODE_ALIVE);
	}
}

/* The workload's task `id`: a pure function of id and the config, so any
 * leader (re)submits exactly the same task. */
static void workload_spec(const struct au_orch *o, uint64_t id, struct au_task_spec *s,
			  uint8_t *payload)
{
	const struct au_orch_config *c = o->cfg;
	uint64_t h = au_hash_mix64(id ^ UINT64_C(0x7461736b));
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->kind = 0;
	s->topic = (uint32_t)(h % c->task_topics);
	s->priority = (int32_t)((h >> 16) % c->task_priorities);
	s->max_retries = c->task_retries;
	s->rounds = c->task_rounds;
	s->job = c->task_job_size ? (id - 1) / c->task_job_size + 1 : 0;
	for (uint32_t b = 0; b < AU_MAX_CAPS; b++) {
		uint64_t hb = au_hash_mix64(h + b + 1);
		if (c->task_caps[b] && hb % 100 < c->task_caps[b])
			s->caps |= UINT32_C(1) << b;
	}
	for (uint32_t i = 0; i < c->task_payload; i++)
		payload[i] = (uint8_t)(au_hash_mix64(h + i) >> 24);
	s->payload = payload;
	s->payload_len = c->task_payload;
}

static void run_workload(struct au_orch *o, au_time now)
{
	const struct au_orch_config *c = o->cfg;
	uint8_t payload[AU_TASKQ_PAYLOAD_MAX];
	/* Task i is due at (i-1)/rate on the leader's clock; 0: all at once.
	 * A leader whose clock is behind would hold arrivals back by its
	 * offset (past the run's end, for a skew of seconds), so arrivals
	 * never go slower than twice the rate from where the queue was when
	 * this node took over, measured by its clock's forward progress only:
	 * such a leader cannot tell how late the arrivals it inherited are,
	 * and at the plain rate a backlog left by an outage never caught up
	 * (chaos-aureon seed 250: the last tasks arrived at 29.6 s of 30). */
	uint64_t due = c->tasks;
	if (c->task_rate) {
		au_time period = AU_NS_PER_S / c->task_rate;
		if (now > o->wl_last_now)
			o->wl_elapsed += now - o->wl_last_now;
		o->wl_last_now = now;
		uint64_t by_clock = now > 0 ? (uint64_t)(now / period) + 1 : 1;
		uint64_t by_rate = o->wl_floor + (uint64_t)(2 * o->wl_elapsed / period);
		due = by_clock > by_rate ? by_clock : by_rate;
	}
	if (due > c->tasks)
		due = c->tasks;
	/* Add while fewer than 16 full commands wait for Raft: the pending
	 * commands stay bounded, and enqueueing keeps pace with commits. */
	while (o->wl_next <= due && o->sealed->len < 16) {
		uint64_t id = o->wl_next++;
		if (au_taskq_get(o->q, id))
			continue;
		struct au_task_spec s;
		workload_spec(o, id, &s, payload);
		au_taskq_add_enqueue(orch_room(o, false, 48 + s.payload_len), &s);
	}
}

void orch_leader_tick(struct au_orch *o)
{
	au_time now = au_now(o->env);
	struct scan_ctx s = {o, now, o->lead_start + o->cfg->lease_ns};
	au_taskq_each_lease(o->q, scan_lease, &s);
	struct scan_ctx ls = {o, now, o->lead_start + o->cfg->lock_ttl_ns};
	au_locks_each(o->locks, scan_lock, &ls);
	reconcile_members(o, now);
	if (o->cfg->tasks)
		run_workload(o, now);
	if (o->cfg->job_cancel || o->cfg->dead_requeue)
		orch_job_workload(o, now);
	/* Forget expiries for leases that ended. */
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, o->expiring);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (now - *(au_time *)v > 4 * o->cfg->lease_ns)
			g_hash_table_iter_remove(&it);
}

/* Work to do soon, in one go: serve parked pulls, reconcile, flush. */
static void kick(struct au_orch *o)
{
	if (!o->kick_armed) {
		o->kick_armed = true;
		au_timer_set(o->env, 0, TM_KICK, 0);
	}
}

void orch_on_kick(struct au_orch *o)
{
	/* Still armed while we work: operations added here are flushed below,
	 * not by another kick. */
	orch_check_leadership(o);
	if (o->leading) {
		for (au_node_id n = 1; n <= o->env->nodes; n++)
			if (o->parked[n].gen != o->qgen || o->parked[n].gen == 0)
				serve(o, n, au_now(o->env));
		reconcile_members(o, au_now(o->env));
		flush(o);
	}
	o->kick_armed = false;
}

void orch_on_member(void *ctx, au_node_id member, enum au_swim_state state, uint32_t incarnation)
{
	struct au_orch *o = ctx;
	if (member == 0 || member > o->env->nodes || state == AU_SWIM_SUSPECT ||
	    state == AU_SWIM_UNKNOWN)
		return;
	bool dead = state == AU_SWIM_DEAD || state == AU_SWIM_LEFT;
	if (!orch_fold_verdict(o, member, dead, incarnation))
		return;
	o->verdict_fresh[member] = true; /* reported to the leader at the next tick */
	/* Observers must not send: note it and act from a timer. */
	if (o->raft && au_raft_is_leader(o->raft)) {
		au_trace(o->env, AU_TR_ORCH_MEMBER, member, state, 0);
		o->node_op_at[member] = INT64_MIN / 2;
		kick(o);
	}
}

/* Workers tell the leader what their SWIM concluded (leader side: fold
 * them in like its own). */
void orch_report_verdicts(struct au_orch *o)
{
	au_node_id leader = orch_leader_of(o);
	if (!leader || leader == o->env->self)
		return;
	if (leader != o->reported_to) {
		/* A new leader knows nothing of what we told the old one. */
		for (au_node_id m = 1; m <= o->env->nodes; m++)
			o->verdict_fresh[m] = o->verdict_fresh[m] || o->verdict_inc[m] || o->verdict_dead[m];
		o->reported_to = leader;
	}
	uint8_t buf[16 + 9 * 256];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, M_MEMBER);
	size_t count_at = w.len;
	au_put_u16(&w, 0);
	uint16_t n = 0;
	for (au_node_id m = 1; m <= o->env->nodes && n < 256; m++) {
		if (!o->verdict_fresh[m])
			continue;
		au_put_u32(&w, m);
		au_put_u32(&w, o->verdict_inc[m]);
		au_put_u8(&w, o->verdict_dead[m]);
		o->verdict_fresh[m] = false;
		n++;
	}
	if (!n)
		return;
	buf[count_at] = (uint8_t)n;
	buf[count_at + 1] = (uint8_t)(n >> 8);
	orch_send_to(o, leader, &w);
}

static void fe_members(struct au_orch *o, struct au_rbuf *rb)
{
	uint16_t n = au_get_u16(rb);
	if (rb->short_read || (size_t)n * 9 > rb->len - rb->pos) {
		o->bad++;
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		au_node_id m = au_get_u32(rb);
		uint32_t inc = au_get_u32(rb);
		bool dead = au_get_u8(rb) != 0;
		if (m == o->env->self || !orch_fold_verdict(o, m, dead, inc))
			continue;
		au_trace(o->env, AU_TR_ORCH_MEMBER, m, dead ? AU_SWIM_DEAD : AU_SWIM_ALIVE, 1);
		o->node_op_at[m] = INT64_MIN / 2;
		kick(o);
	}
}

