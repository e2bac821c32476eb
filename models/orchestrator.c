/* orchestrator.c — the per-node orchestrator, service "aureon" (see
 * orchestrator.h for what it is and how supervisors use it).
 *
 * Two roles in one model, both on every node:
 *
 *  worker     pulls leases from the leader while it has room (running <
 *             max_concurrency, waiting <= local_queue), runs each task round
 *             by round on its worker pool (a round's duration comes from the
 *             executor's cost model), writes a checkpoint to its disk at
 *             every round boundary and sends it to the log once synced,
 *             renews its leases, and acks the result with the fencing token
 *             once the result is on its disk.  A task it is given again
 *             resumes from the newest checkpoint it can trust: its own disk
 *             (same task id, newer round) or the log.
 *
 *  front end  on the Raft leader only: turns every node's requests into
 *             queue and lock operations, many per log entry (group commit:
 *             a command is submitted while fewer than batch_inflight are in
 *             flight, the rest wait and coalesce), answers the workers as
 *             the operations apply, expires leases and locks on its own
 *             clock, reclaims the leases of nodes SWIM declares dead, and
 *             runs the [workload] task generator.
 *
 * Why clocks cannot break safety: see taskq.h.  The worker also keeps its
 * own, shorter view of each lease (the leader's remaining time, scaled by
 * 3/4, from when the grant or renewal arrived) and gives a task up when it
 * runs out; that saves work, the fencing tokens are what make it safe.
 *
 * Durable files (env storage): orch.boot (incarnation, two slots),
 * ck.<task>.<round parity> (the task's checkpoints and result on this node:
 * writing round r never touches round r-1's file), lk.val (lock client's
 * pending write).  All are sealed with CRC-32C; a torn one is ignored.
 *
 * Storage errors (env.h): the incarnation must be durable before the
 * worker pulls, so a failed write or sync of orch.boot is written again
 * every retry interval until it succeeds.  A checkpoint or result that
 * cannot be written or synced is never reported: the task is released
 * (M_RELEASE: back to the queue, no retry counted — the task did not
 * fail, this disk did) and the worker backs off pulling as after a failed
 * round.  A lock client whose value cannot be made durable does not send
 * it: it unlocks and thinks again.
 *
 * Finding the leader: a worker asks its own Raft, but also follows hints
 * (any non-leader answers a request with the leader it knows), so a node
 * whose Raft does not know the leader still reaches it.  SWIM verdicts of
 * every node are reported to the leader, which acts on the newest by
 * SWIM's incarnation rules.
 */
#include "orchestrator.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "hashes.h"
#include "lock.h"
#include "raft.h"
#include "swim.h"
#include "trace_kinds.h"
#include "wire.h"

enum { M_PULL = 1, M_RENEW, M_ACK, M_NACK, M_RELEASE, M_CKPT, M_GRANT, M_RESOLVED, M_LOCK,
       M_UNLOCK, M_WRITE, M_LOCK_RESP, M_HINT, M_MEMBER, M_TYPES_ };
enum { R_ACKED, R_ACK_STALE, R_CKPT_OK, R_CKPT_STALE, R_RENEWED, R_LOST };
enum { L_BUSY, L_GRANTED, L_LOST };
enum { T_BOOT = 1, T_CKPT, T_LOCKVAL };
enum { TM_PULL = 1, TM_RENEW, TM_ROUND, TM_SCAN, TM_KICK, TM_METRICS, TM_WORKLOAD, TM_LOCK,
       TM_BOOT_RETRY };
enum { J_QUEUED, J_RUNNING, J_SYNCING, J_ACKING };
enum { LC_IDLE, LC_ASKING, LC_HOLDING, LC_SYNCING };

#define MAX_EXECUTORS 8u
#define FINISHED_RING 256u
#define CKPT_MAGIC 0x434b5054u /* "CKPT" */
#define BOOT_MAGIC 0x424f4f54u /* "BOOT" */
#define MSG_BUF (64u + AU_TASKQ_PAYLOAD_MAX + AU_TASKQ_CKPT_MAX)
#define TOKEN(kind, seq) (((uint64_t)(kind) << 56) | ((seq) & ((UINT64_C(1) << 56) - 1)))

/* A lease this node holds. */
struct job {
	uint64_t seq;          /* local id: sync tokens and timers refer to it */
	uint64_t id, token;
	uint32_t kind, topic, rounds, caps, max_retries;
	int32_t priority;
	uint8_t *payload;
	uint32_t payload_len;
	uint32_t log_round;    /* checkpoint round the grant carried */
	uint8_t *log_ckpt;
	uint32_t log_ckpt_len;
	int phase;
	uint32_t round;        /* rounds done */
	uint8_t state[AU_TASKQ_CKPT_MAX];
	size_t state_len;
	bool fail;             /* this attempt fails (task_fail) */
	uint64_t timer;
	au_time belief_until;  /* local clock: the lease is surely still ours until then */
	au_time last_send;     /* ack resend pacing */
};

/* A node's pending lease request at the leader. */
struct parked {
	uint32_t inc, caps, want;
	bool inflight;   /* a LEASE op for it is in a command not yet applied */
	uint64_t gen;    /* queue generation when it was last served short */
};

struct au_orch {
	const struct au_env *env;
	const struct au_orch_config *cfg;
	struct au_raft *raft;
	struct au_swim *swim;
	struct au_taskq *q;
	struct au_locks *locks;
	struct au_orch_executor exec[MAX_EXECUTORS];
	uint32_t n_exec;
	/* worker */
	uint32_t inc;
	bool booted;          /* incarnation durable: may take leases */
	GPtrArray *jobs;      /* struct job*, in arrival order */
	uint32_t running;
	uint64_t job_seq;
	au_time pull_sent;
	bool pull_outstanding;
	/* Executor failures in a row (an RQML replica behind on the log, say):
	 * the worker stops pulling until pull_hold_until, doubling each time,
	 * so a worker that cannot run the work does not take it from others
	 * again and again (an idle one would always pull first). */
	uint32_t fail_streak;
	uint64_t disk_errors;  /* storage operations that failed (see the top) */
	au_time pull_hold_until;
	/* SWIM verdicts, this node's own and those other nodes reported:
	 * per member the newest (incarnation, dead) by SWIM's precedence
	 * (dead at i overrides alive at i; alive at i+1 overrides dead at i).
	 * The front end acts on these, so a leader whose own SWIM is behind
	 * (or has left) still learns of deaths from the others. */
	uint32_t *verdict_inc; /* [nodes+1] */
	uint8_t *verdict_dead; /* [nodes+1]: 1 dead or left */
	bool *verdict_fresh;   /* [nodes+1]: own verdict not yet reported */
	uint32_t *dead_inc;    /* [nodes+1] leader: incarnation the node was dead at;
				  only an alive verdict newer than it revives it */
	au_node_id reported_to; /* leader our verdicts were last sent to */
	au_node_id guess;     /* where the leader is, as the last answer said */
	au_time guess_until;  /* ... trusted until then (refreshed by answers) */
	/* Leases this node is done with: a grant for one of them again is a
	 * resend (ours was lost); `answer` is what to send back (0: nothing,
	 * it was acked; M_RELEASE or M_NACK: we handed it back, and that
	 * message may have been lost too). */
	struct {
		uint64_t token, id;
		uint8_t answer;
	} finished[FINISHED_RING];
	uint32_t finished_at;
	/* front end (leader) */
	bool leading;
	uint64_t lead_term;
	au_time lead_start;
	struct au_taskq_batch qb, lb; /* open commands */
	GPtrArray *sealed;    /* GByteArray*: full commands waiting; first byte = machine */
	uint32_t inflight;
	struct parked *parked; /* [nodes+1] */
	uint64_t qgen;        /* bumps when tasks become available */
	GHashTable *expiring; /* token -> au_time proposed (lookups and pruning only) */
	/* When this leader considers each lease / lock over, on its own clock:
	 * set when a grant or renewal applies while it leads; absent for
	 * those it inherited (then lead_start + the lease).  Lookups, removal
	 * and clearing only. */
	GHashTable *deadlines;      /* lease token -> au_time */
	GHashTable *lock_deadlines; /* lock key -> au_time */
	GHashTable *grant_sent;     /* lease token -> au_time the grant was (re)sent */
	au_time *node_op_at;  /* [nodes+1]: when a node mark was last proposed */
	bool kick_armed;
	uint64_t wl_next;     /* next workload task id to enqueue */
	uint64_t wl_floor;    /* workload tasks 1..wl_floor were in the queue when this node took over */
	au_time wl_elapsed;   /* forward progress of this node's clock since it took over */
	au_time wl_last_now;  /* the clock when wl_elapsed was last advanced */
	/* lock client */
	int lc_state;
	uint64_t lc_key, lc_token, lc_writes;
	au_time lc_belief, lc_release_at, lc_sent;
	uint64_t lc_timer;    /* the lock client's one timer */
	int64_t lc_value;
	/* counters */
	uint64_t grants, started, finished_n, acked, stale, lost, abandoned, released, bad;
	uint64_t resumed_disk, resumed_log, lock_writes_ok, lock_writes_rejected, locks_held;
	uint64_t msgs_in, msgs_out; /* this service only (when the env has no totals) */
};

static void kick(struct au_orch *o);
static void fe_members(struct au_orch *o, struct au_rbuf *rb);
static void pump(struct au_orch *o);
static void try_pull(struct au_orch *o);

/* ---- helpers --------------------------------------------------------------------------- */

static void send_to(struct au_orch *o, au_node_id to, struct au_wbuf *w)
{
	au_wbuf_seal(w);
	if (w->overflow || !to)
		return;
	o->msgs_out++;
	au_send(o->env, to, w->p, w->len);
}

/* Where to send requests for the leader's front end: ourselves if our
 * Raft leads; else where a recent answer came from or pointed to (a
 * non-leader answers a request with a hint); else our Raft's hint; else
 * anyone, at random — so a worker whose own Raft does not know the leader
 * (just restarted, or no longer a voter) still finds it. */
/* au_orch_leader_guess, or a node at random when there is no guess. */
static au_node_id leader_of(const struct au_orch *o)
{
	if (!o->raft)
		return 0;
	au_node_id guess = au_orch_leader_guess(o);
	return guess ? guess : 1 + au_random_below(o->env, o->env->nodes);
}

/* An answer from the front end at `from` (or a hint naming `leader`). */
static void heard_leader(struct au_orch *o, au_node_id leader)
{
	if (leader == 0 || leader > o->env->nodes)
		return;
	o->guess = leader;
	o->guess_until = au_now(o->env) + 4 * o->cfg->retry_ns;
}

static struct job *job_by_token(struct au_orch *o, uint64_t id, uint64_t token)
{
	for (guint i = 0; i < o->jobs->len; i++) {
		struct job *j = g_ptr_array_index(o->jobs, i);
		if (j->id == id && j->token == token)
			return j;
	}
	return NULL;
}

static struct job *job_by_seq(struct au_orch *o, uint64_t seq)
{
	for (guint i = 0; i < o->jobs->len; i++) {
		struct job *j = g_ptr_array_index(o->jobs, i);
		if (j->seq == seq)
			return j;
	}
	return NULL;
}

/* The finished-ring entry of `token`, or -1. */
static int finished_token(const struct au_orch *o, uint64_t token)
{
	for (uint32_t i = 0; i < FINISHED_RING; i++)
		if (o->finished[i].token == token && token)
			return (int)i;
	return -1;
}

/* Checkpoints of a task go to two files by round parity, so writing round
 * r never damages the synced round r-1: a crash mid-write leaves one. */
static void ckpt_name(char *buf, size_t len, uint64_t id, uint32_t round)
{
	snprintf(buf, len, "ck.%" PRIu64 ".%u", id, round & 1u);
}

static const struct au_orch_executor *executor(const struct au_orch *o, uint32_t kind)
{
	for (uint32_t i = 0; i < o->n_exec; i++)
		if (o->exec[i].kind == kind)
			return &o->exec[i];
	return NULL;
}

/* ---- the synthetic executor (kind 0) ------------------------------------------------- */

static uint64_t synth_step(uint64_t state, uint64_t id, uint32_t round)
{
	return au_hash_mix64(state ^ au_hash_mix64(id * UINT64_C(0x9e3779b97f4a7c15) + round));
}

uint64_t au_orch_synthetic_result(uint64_t id, uint32_t rounds)
{
	uint64_t s = id;
	for (uint32_t r = 0; r < rounds; r++)
		s = synth_step(s, id, r);
	return s;
}

static au_time synth_cost(void *ctx, const struct au_task *t, uint32_t round, double gflops)
{
	struct au_orch *o = ctx;
	(void)round;
	/* task_cost is a whole task on a 10-GFLOPS node; a round is its share. */
	au_time whole = au_dist_draw_env(&o->cfg->task_cost, o->env);
	double speed = gflops > 0 ? 10.0 / gflops : 1.0;
	return (au_time)((double)whole * speed / (double)(t->rounds ? t->rounds : 1));
}

static int synth_round(void *ctx, const struct au_task *t, uint32_t round, const uint8_t *in,
		       size_t in_len, uint8_t *out, size_t *out_len, size_t out_max)
{
	(void)ctx;
	if (out_max < 8 || (round > 0 && in_len != 8))
		return -AU_EINVAL;
	uint64_t s = t->id;
	if (round > 0) {
		s = 0;
		for (int i = 0; i < 8; i++)
			s |= (uint64_t)in[i] << (8 * i);
	}
	s = synth_step(s, t->id, round);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(s >> (8 * i));
	*out_len = 8;
	return 0;
}

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
	GByteArray *cmd = g_byte_array_sized_new((guint)b->len + 1);
	g_byte_array_append(cmd, &machine, 1);
	g_byte_array_append(cmd, b->buf, (guint)b->len);
	g_ptr_array_add(o->sealed, cmd);
	au_taskq_batch_reset(b);
}

/* Make room for an operation of about `bytes` in batch `b`. */
static struct au_taskq_batch *room(struct au_orch *o, bool locks, size_t bytes)
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
		g_byte_array_free(cmd, TRUE);
		if (o->sealed->len == 0) {
			seal(o, &o->qb, AU_TASKQ_MACHINE);
			seal(o, &o->lb, AU_LOCK_MACHINE);
		}
	}
}

static void drop_pending(struct au_orch *o)
{
	for (guint i = 0; i < o->sealed->len; i++)
		g_byte_array_free(g_ptr_array_index(o->sealed, i), TRUE);
	g_ptr_array_set_size(o->sealed, 0);
	au_taskq_batch_reset(&o->qb);
	au_taskq_batch_reset(&o->lb);
}

/* Are we the leader's front end?  Called at every entry point: Raft has no
 * callback for leadership changes, and a stale front end must stop. */
static void check_leadership(struct au_orch *o)
{
	bool lead = o->raft && au_raft_is_leader(o->raft);
	if (lead && (!o->leading || o->lead_term != au_raft_term(o->raft))) {
		o->leading = true;
		o->lead_term = au_raft_term(o->raft);
		o->lead_start = au_now(o->env);
		drop_pending(o);
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
		drop_pending(o);
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
	send_to(o, to, &w);
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
	send_to(o, t->node, &w);
	g_free(buf);
}

static void on_queue_event(void *ctx, const struct au_taskq_event *ev)
{
	struct au_orch *o = ctx;
	switch (ev->type) {
	case AU_TASKQ_EV_ENQUEUED:
	case AU_TASKQ_EV_EXPIRED:
	case AU_TASKQ_EV_NACKED:
	case AU_TASKQ_EV_RELEASED:
	case AU_TASKQ_EV_NODE:
		o->qgen++; /* tasks may have become available */
		break;
	default:
		break;
	}
	if (!o->raft || !au_raft_is_leader(o->raft))
		return;
	check_leadership(o);
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
	send_to(o, (au_node_id)(owner >> 32), &w);
}

static void on_lock_event(void *ctx, const struct au_lock_event *ev)
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
static bool fold_verdict(struct au_orch *o, au_node_id member, bool dead, uint32_t inc)
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
	struct au_taskq_batch *b = room(o, false, 32);
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

/* Has `d` passed since `since` on this node's clock?  A clock that jumped
 * back (now < since) counts as yes: otherwise a node whose clock went back
 * by a minute would not resend a lost ack, pull or grant for that minute
 * (the task stays leased, renewed and never acked: chaos-aureon seed 153,
 * scenarios/regressions/ack-resend-clock-back.ini). */
static bool waited(au_time now, au_time since, au_time d)
{
	return now - since >= d || now < since;
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
	if (!waited(r->now, at, o->cfg->retry_ns))
		return true;
	note_deadline(o, o->grant_sent, t->token, 0);
	send_grant(o, t);
	return true;
}

static void fe_recv(struct au_orch *o, au_node_id from, uint8_t type, struct au_rbuf *rb)
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
		struct au_taskq_batch *b = n ? room(o, false, 32u * n) : NULL;
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
		au_taskq_add_ack(room(o, false, 32 + len), from, id, token, rb->p + rb->pos, len);
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
		struct au_taskq_batch *b = room(o, false, 32);
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
		au_taskq_add_checkpoint(room(o, false, 40 + len), from, id, token, round,
					rb->p + rb->pos, len);
		break;
	}
	case M_LOCK: {
		uint64_t key = au_get_u64(rb), owner = au_get_u64(rb);
		if (rb->short_read || owner >> 32 != from) {
			o->bad++;
			return;
		}
		au_lock_add_lock(room(o, true, 32), key, owner, au_now(o->env) + o->cfg->lock_ttl_ns);
		break;
	}
	case M_UNLOCK: {
		uint64_t key = au_get_u64(rb), token = au_get_u64(rb);
		if (!rb->short_read)
			au_lock_add_unlock(room(o, true, 32), key, token);
		break;
	}
	case M_WRITE: {
		uint64_t key = au_get_u64(rb), owner = au_get_u64(rb), token = au_get_u64(rb);
		int64_t value = (int64_t)au_get_u64(rb);
		if (!rb->short_read && owner >> 32 == from)
			au_lock_add_write(room(o, true, 40), key, owner, token, value);
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
	au_taskq_add_expire(room(o, false, 24), t->id, t->token);
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
	au_lock_add_expire(room(s->o, true, 24), key, token);
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
		au_taskq_add_node(room(o, false, 16), n, dead ? AU_TASKQ_NODE_DEAD : AU_TASKQ_NODE_ALIVE);
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
		au_taskq_add_enqueue(room(o, false, 48 + s.payload_len), &s);
	}
}

static void leader_tick(struct au_orch *o)
{
	au_time now = au_now(o->env);
	struct scan_ctx s = {o, now, o->lead_start + o->cfg->lease_ns};
	au_taskq_each_lease(o->q, scan_lease, &s);
	struct scan_ctx ls = {o, now, o->lead_start + o->cfg->lock_ttl_ns};
	au_locks_each(o->locks, scan_lock, &ls);
	reconcile_members(o, now);
	if (o->cfg->tasks)
		run_workload(o, now);
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

static void on_kick(struct au_orch *o)
{
	/* Still armed while we work: operations added here are flushed below,
	 * not by another kick. */
	check_leadership(o);
	if (o->leading) {
		for (au_node_id n = 1; n <= o->env->nodes; n++)
			if (o->parked[n].gen != o->qgen || o->parked[n].gen == 0)
				serve(o, n, au_now(o->env));
		reconcile_members(o, au_now(o->env));
		flush(o);
	}
	o->kick_armed = false;
}

static void on_member(void *ctx, au_node_id member, enum au_swim_state state, uint32_t incarnation)
{
	struct au_orch *o = ctx;
	if (member == 0 || member > o->env->nodes || state == AU_SWIM_SUSPECT ||
	    state == AU_SWIM_UNKNOWN)
		return;
	bool dead = state == AU_SWIM_DEAD || state == AU_SWIM_LEFT;
	if (!fold_verdict(o, member, dead, incarnation))
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
static void report_verdicts(struct au_orch *o)
{
	au_node_id leader = leader_of(o);
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
	send_to(o, leader, &w);
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
		if (m == o->env->self || !fold_verdict(o, m, dead, inc))
			continue;
		au_trace(o->env, AU_TR_ORCH_MEMBER, m, dead ? AU_SWIM_DEAD : AU_SWIM_ALIVE, 1);
		o->node_op_at[m] = INT64_MIN / 2;
		kick(o);
	}
}

/* ---- the worker -------------------------------------------------------------------------- */

static uint32_t capacity(const struct au_orch *o)
{
	return o->cfg->max_concurrency + o->cfg->local_queue;
}

/* Leases still to run or running (not those only waiting for their ack to
 * be answered): what the concurrency and local-queue bounds count. */
static uint32_t active(const struct au_orch *o)
{
	uint32_t n = 0;
	for (guint i = 0; i < o->jobs->len; i++)
		n += ((const struct job *)g_ptr_array_index(o->jobs, i))->phase != J_ACKING;
	return n;
}

static void free_job(struct job *j)
{
	g_free(j->payload);
	g_free(j->log_ckpt);
	g_free(j);
}

static void remember_finished(struct au_orch *o, uint64_t id, uint64_t token, uint8_t answer)
{
	uint32_t at = o->finished_at++ % FINISHED_RING;
	o->finished[at].token = token;
	o->finished[at].id = id;
	o->finished[at].answer = answer;
}

/* Forget a job (any phase); `answer` as in the finished ring. */
static void drop_job(struct au_orch *o, struct job *j, bool finished, uint8_t answer)
{
	if (j->phase == J_RUNNING || j->phase == J_SYNCING) {
		assert(o->running > 0);
		o->running--;
	}
	au_timer_cancel(o->env, j->timer);
	if (finished)
		remember_finished(o, j->id, j->token, answer);
	g_ptr_array_remove(o->jobs, j);
	free_job(j);
	pump(o);
	try_pull(o);
}

static void send_simple(struct au_orch *o, uint8_t type, uint64_t id, uint64_t token, int flag);

static void abandon(struct au_orch *o, struct job *j, int why)
{
	au_trace(o->env, AU_TR_ORCH_ABANDON, (int64_t)j->id, (int64_t)j->token, why);
	/* Our view of the lease ran out: if the queue still thinks it ours
	 * (renewals were lost), hand it back now rather than at its expiry;
	 * if it went to someone else already, the token no longer matches and
	 * this changes nothing. */
	if (why == 1)
		send_simple(o, M_NACK, j->id, j->token, 1);
	o->abandoned++;
	drop_job(o, j, true, M_NACK);
}

static void send_simple(struct au_orch *o, uint8_t type, uint64_t id, uint64_t token, int flag)
{
	uint8_t buf[64];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, type);
	au_put_u64(&w, id);
	au_put_u64(&w, token);
	if (flag >= 0)
		au_put_u8(&w, (uint8_t)flag);
	send_to(o, leader_of(o), &w);
}

static void send_ack(struct au_orch *o, struct job *j)
{
	uint8_t buf[64 + AU_TASKQ_RESULT_MAX];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, M_ACK);
	au_put_u64(&w, j->id);
	au_put_u64(&w, j->token);
	size_t n = j->state_len < AU_TASKQ_RESULT_MAX ? j->state_len : AU_TASKQ_RESULT_MAX;
	au_put_u32(&w, (uint32_t)n);
	au_put_bytes(&w, j->state, n);
	j->last_send = au_now(o->env);
	send_to(o, leader_of(o), &w);
}

static void send_ckpt(struct au_orch *o, struct job *j)
{
	uint8_t buf[64 + AU_TASKQ_CKPT_MAX];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, M_CKPT);
	au_put_u64(&w, j->id);
	au_put_u64(&w, j->token);
	au_put_u32(&w, j->round);
	au_put_u32(&w, (uint32_t)j->state_len);
	au_put_bytes(&w, j->state, j->state_len);
	send_to(o, leader_of(o), &w);
}

/* The task as the executor sees it. */
static void job_task(const struct job *j, struct au_task *t)
{
	memset(t, 0, sizeof(*t));
	t->id = j->id;
	t->kind = j->kind;
	t->topic = j->topic;
	t->caps = j->caps;
	t->rounds = j->rounds;
	t->priority = j->priority;
	t->max_retries = j->max_retries;
	t->token = j->token;
	t->payload = j->payload;
	t->payload_len = j->payload_len;
	t->ckpt_round = j->log_round;
}

static void schedule_round(struct au_orch *o, struct job *j)
{
	const struct au_orch_executor *x = executor(o, j->kind);
	struct au_task t;
	job_task(j, &t);
	au_time d = x->cost(x->ctx, &t, j->round, o->env->cpu_gflops);
	j->timer = au_timer_set(o->env, d > 0 ? d : 0, TM_ROUND, j->seq);
}

/* A checkpoint on this node's disk newer than what the log gave us? */
static bool read_disk_ckpt(struct au_orch *o, struct job *j)
{
	bool found = false;
	for (uint32_t slot = 0; slot < 2; slot++) {
		char name[48];
		ckpt_name(name, sizeof(name), j->id, slot);
		uint8_t buf[32 + AU_TASKQ_CKPT_MAX];
		int64_t n = o->env->ops->storage_read(o->env->ctx, name, 0, buf, sizeof(buf));
		struct au_rbuf rb;
		if (n <= 0 || !au_rbuf_unseal(&rb, buf, (size_t)n))
			continue;
		uint32_t magic = au_get_u32(&rb);
		uint64_t id = au_get_u64(&rb);
		uint32_t round = au_get_u32(&rb), len = au_get_u32(&rb);
		if (rb.short_read || magic != CKPT_MAGIC || id != j->id || len > AU_TASKQ_CKPT_MAX ||
		    len != rb.len - rb.pos || round <= j->round || round >= j->rounds ||
		    (round & 1u) != slot)
			continue;
		j->round = round;
		memcpy(j->state, rb.p + rb.pos, len);
		j->state_len = len;
		found = true;
	}
	return found;
}

static void start_job(struct au_orch *o, struct job *j)
{
	const struct au_orch_executor *x = executor(o, j->kind);
	if (!x) {
		/* Nobody here runs this kind: hand it back for someone who does. */
		send_simple(o, M_RELEASE, j->id, j->token, -1);
		o->released++;
		drop_job(o, j, true, M_RELEASE);
		return;
	}
	j->phase = J_RUNNING;
	o->running++;
	o->started++;
	/* Resume from the newest durable checkpoint: the log's, or our own
	 * disk's if it is newer (the round synced here but its log write was
	 * lost, e.g. because we crashed). */
	j->round = 0;
	j->state_len = 0;
	int source = 0;
	if (j->log_round > 0 && j->log_round < j->rounds && j->log_ckpt_len <= AU_TASKQ_CKPT_MAX) {
		j->round = j->log_round;
		memcpy(j->state, j->log_ckpt, j->log_ckpt_len);
		j->state_len = j->log_ckpt_len;
		source = 2;
	}
	if (read_disk_ckpt(o, j))
		source = 1;
	if (source) {
		au_trace(o->env, AU_TR_ORCH_RESUME, (int64_t)j->id, j->round, source);
		if (source == 1)
			o->resumed_disk++;
		else
			o->resumed_log++;
	}
	au_trace(o->env, AU_TR_ORCH_START, (int64_t)j->id, (int64_t)j->token, j->round);
	j->fail = o->cfg->task_fail && au_random_below(o->env, 100) < o->cfg->task_fail;
	schedule_round(o, j);
}

/* Start waiting jobs while the pool has free workers. */
static void pump(struct au_orch *o)
{
	for (guint i = 0; i < o->jobs->len && o->running < o->cfg->max_concurrency; i++) {
		struct job *j = g_ptr_array_index(o->jobs, i);
		if (j->phase != J_QUEUED)
			continue;
		start_job(o, j);
		i = (guint)-1; /* start_job may have dropped a job: rescan */
	}
}

/* A failure that is this worker's, not the task's (its executor failed,
 * its disk failed): stop pulling for a while, longer at each failure in a
 * row (doubling from a quarter of the retry interval, capped at 8 of them). */
static void hold_pulls(struct au_orch *o)
{
	if (o->fail_streak < 16)
		o->fail_streak++;
	au_time hold = (o->cfg->retry_ns / 4) << (o->fail_streak - 1);
	if (hold > 8 * o->cfg->retry_ns)
		hold = 8 * o->cfg->retry_ns;
	o->pull_hold_until = au_now(o->env) + hold;
}

/* A checkpoint or result could not be made durable: never report it;
 * hand the task back uncounted and hold off pulling. */
static void storage_give_back(struct au_orch *o, struct job *j, enum au_storage_op op, int err)
{
	o->disk_errors++;
	au_trace_storage(o->env, op, err, AU_STORAGE_GAVE_BACK);
	au_trace(o->env, AU_TR_ORCH_ABANDON, (int64_t)j->id, (int64_t)j->token, 3);
	hold_pulls(o);
	send_simple(o, M_RELEASE, j->id, j->token, -1);
	o->released++;
	drop_job(o, j, true, M_RELEASE);
}

/* Write the job's state (a checkpoint, or the result after the last round)
 * to disk and sync it; on a failed write the task is given back (and `j`
 * is freed). */
static void write_state(struct au_orch *o, struct job *j)
{
	char name[48];
	ckpt_name(name, sizeof(name), j->id, j->round);
	uint8_t buf[32 + AU_TASKQ_CKPT_MAX];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u32(&w, CKPT_MAGIC);
	au_put_u64(&w, j->id);
	au_put_u32(&w, j->round);
	au_put_u32(&w, (uint32_t)j->state_len);
	au_put_bytes(&w, j->state, j->state_len);
	au_wbuf_seal(&w);
	j->phase = J_SYNCING;
	int rc = o->env->ops->storage_truncate(o->env->ctx, name, 0);
	if (rc < 0) {
		storage_give_back(o, j, AU_STORAGE_TRUNCATE, rc);
		return;
	}
	rc = o->env->ops->storage_write(o->env->ctx, name, 0, buf, w.len);
	if (rc < 0) {
		storage_give_back(o, j, AU_STORAGE_WRITE, rc);
		return;
	}
	o->env->ops->storage_sync(o->env->ctx, name, TOKEN(T_CKPT, j->seq));
}

static void round_done(struct au_orch *o, struct job *j)
{
	j->timer = 0;
	if (au_now(o->env) > j->belief_until) {
		/* Our view of the lease ran out (no renewal got through): the
		 * queue may have given the task to someone else. */
		abandon(o, j, 1);
		return;
	}
	if (j->fail) {
		au_trace(o->env, AU_TR_ORCH_ABANDON, (int64_t)j->id, (int64_t)j->token, 2);
		send_simple(o, M_NACK, j->id, j->token, 1);
		drop_job(o, j, true, M_NACK);
		return;
	}
	const struct au_orch_executor *x = executor(o, j->kind);
	struct au_task t;
	job_task(j, &t);
	uint8_t out[AU_TASKQ_CKPT_MAX];
	size_t out_len = 0;
	int rc = x->run_round(x->ctx, &t, j->round, j->state, j->state_len, out, &out_len,
			      sizeof(out));
	if (rc < 0 || out_len > AU_TASKQ_CKPT_MAX) {
		au_trace(o->env, AU_TR_ORCH_ABANDON, (int64_t)j->id, (int64_t)j->token, 2);
		hold_pulls(o);
		send_simple(o, M_NACK, j->id, j->token, 1);
		drop_job(o, j, true, M_NACK);
		return;
	}
	o->fail_streak = 0;
	memcpy(j->state, out, out_len);
	j->state_len = out_len;
	j->round++;
	write_state(o, j);
}

static void state_synced(struct au_orch *o, struct job *j)
{
	if (j->phase != J_SYNCING)
		return;
	if (j->round < j->rounds) {
		au_trace(o->env, AU_TR_ORCH_ROUND, (int64_t)j->id, (int64_t)j->token, j->round);
		send_ckpt(o, j);
		j->phase = J_RUNNING;
		schedule_round(o, j);
		return;
	}
	/* The result is on our disk: ack it with the fencing token. */
	au_trace(o->env, AU_TR_ORCH_FINISH, (int64_t)j->id, (int64_t)j->token,
		 (int64_t)au_hash_fnv1a(j->state, j->state_len));
	o->finished_n++;
	j->phase = J_ACKING;
	assert(o->running > 0);
	o->running--;
	send_ack(o, j);
	pump(o);
	try_pull(o);
}

static void on_grant(struct au_orch *o, struct au_rbuf *rb)
{
	struct job tmp = {0};
	tmp.id = au_get_u64(rb);
	tmp.token = au_get_u64(rb);
	uint64_t lease_id = au_get_u64(rb);
	tmp.kind = au_get_u32(rb);
	tmp.topic = au_get_u32(rb);
	tmp.rounds = au_get_u32(rb);
	tmp.caps = au_get_u32(rb);
	tmp.max_retries = au_get_u32(rb);
	tmp.priority = (int32_t)au_get_u32(rb);
	au_time remaining = (au_time)au_get_u64(rb);
	tmp.log_round = au_get_u32(rb);
	uint32_t plen = au_get_u32(rb);
	(void)lease_id;
	if (rb->short_read || plen > AU_TASKQ_PAYLOAD_MAX || plen > rb->len - rb->pos ||
	    tmp.rounds == 0 || remaining < 0) {
		o->bad++;
		return;
	}
	const uint8_t *payload = rb->p + rb->pos;
	rb->pos += plen;
	uint32_t clen = au_get_u32(rb);
	if (rb->short_read || clen > AU_TASKQ_CKPT_MAX || clen != rb->len - rb->pos) {
		o->bad++;
		return;
	}
	if (job_by_token(o, tmp.id, tmp.token))
		return; /* a duplicate grant */
	int done = finished_token(o, tmp.token);
	if (done >= 0) {
		/* Sent again: the queue still thinks we hold it.  If we handed
		 * it back, that message was lost: hand it back again. */
		if (o->finished[done].answer)
			send_simple(o, o->finished[done].answer, tmp.id, tmp.token,
				    o->finished[done].answer == M_NACK ? 1 : -1);
		return;
	}
	if (!o->booted || active(o) >= capacity(o)) {
		/* More than we asked for (a lost grant was resent, or pulls
		 * crossed): hand it back, no retry counted. */
		send_simple(o, M_RELEASE, tmp.id, tmp.token, -1);
		o->released++;
		remember_finished(o, tmp.id, tmp.token, M_RELEASE);
		return;
	}
	struct job *j = g_new0(struct job, 1);
	*j = tmp;
	j->seq = ++o->job_seq;
	j->payload = plen ? g_memdup2(payload, plen) : NULL;
	j->payload_len = plen;
	j->log_ckpt = clen ? g_memdup2(rb->p + rb->pos, clen) : NULL;
	j->log_ckpt_len = clen;
	j->phase = J_QUEUED;
	j->belief_until = au_now(o->env) + remaining / 4 * 3;
	g_ptr_array_add(o->jobs, j);
	o->grants++;
	o->pull_outstanding = false;
	pump(o);
}

static void on_resolved(struct au_orch *o, struct au_rbuf *rb)
{
	uint64_t id = au_get_u64(rb), token = au_get_u64(rb);
	uint8_t what = au_get_u8(rb);
	au_time remaining = (au_time)au_get_u64(rb);
	if (rb->short_read || remaining < 0) {
		o->bad++;
		return;
	}
	struct job *j = job_by_token(o, id, token);
	if (!j)
		return;
	switch (what) {
	case R_ACKED:
	case R_ACK_STALE:
		if (j->phase != J_ACKING)
			return;
		if (what == R_ACKED)
			o->acked++;
		else
			o->stale++;
		for (uint32_t slot = 0; slot < 2; slot++) {
			char name[48];
			ckpt_name(name, sizeof(name), j->id, slot);
			/* Clean-up only: a checkpoint left behind names a task
			 * that is done, and is never resumed from. */
			int rc = o->env->ops->storage_truncate(o->env->ctx, name, 0);
			if (rc < 0) {
				o->disk_errors++;
				au_trace_storage(o->env, AU_STORAGE_TRUNCATE, rc, AU_STORAGE_IGNORED);
			}
		}
		drop_job(o, j, true, 0);
		break;
	case R_RENEWED: {
		au_time until = au_now(o->env) + remaining / 4 * 3;
		if (until > j->belief_until)
			j->belief_until = until;
		break;
	}
	case R_LOST:
		o->lost++;
		abandon(o, j, 0);
		break;
	default:
		break;
	}
}

static void try_pull(struct au_orch *o)
{
	if (!o->booted || !o->raft)
		return;
	uint32_t held = active(o);
	au_node_id leader = leader_of(o);
	au_time now = au_now(o->env);
	/* One pull outstanding at a time: the next goes when grants arrive
	 * (long poll), or after retry/4 if it seems lost. */
	if (held >= capacity(o) || !leader || (o->fail_streak && now < o->pull_hold_until) ||
	    (o->pull_outstanding && !waited(now, o->pull_sent, o->cfg->retry_ns / 4)))
		return;
	o->pull_outstanding = true;
	uint8_t buf[64];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, M_PULL);
	au_put_u32(&w, o->inc);
	au_put_u32(&w, o->env->caps);
	au_put_u32(&w, capacity(o) - held);
	au_put_u64(&w, (uint64_t)now);
	o->pull_sent = now;
	send_to(o, leader, &w);
}

static void renew_all(struct au_orch *o)
{
	au_time now = au_now(o->env);
	/* Local expiry: give up jobs our view of the lease says are gone. */
	for (guint i = 0; i < o->jobs->len; i++) {
		struct job *j = g_ptr_array_index(o->jobs, i);
		if (now > j->belief_until && j->phase != J_SYNCING) {
			abandon(o, j, 1);
			i = (guint)-1;
		}
	}
	if (!o->booted)
		return;
	/* Sent even with nothing to renew: the leader answers it by sending
	 * again any grant it made to us that we do not list (it was lost). */
	uint8_t buf[64 + 16 * 256];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, M_RENEW);
	au_put_u32(&w, o->inc);
	au_put_u64(&w, (uint64_t)now);
	uint16_t n = (uint16_t)(o->jobs->len < 256 ? o->jobs->len : 256);
	au_put_u16(&w, n);
	for (uint16_t i = 0; i < n; i++) {
		struct job *j = g_ptr_array_index(o->jobs, i);
		au_put_u64(&w, j->id);
		au_put_u64(&w, j->token);
	}
	send_to(o, leader_of(o), &w);
	/* Acks still unanswered go again. */
	for (guint i = 0; i < o->jobs->len; i++) {
		struct job *j = g_ptr_array_index(o->jobs, i);
		if (j->phase == J_ACKING && waited(now, j->last_send, o->cfg->retry_ns))
			send_ack(o, j);
	}
}

/* ---- the lock client ------------------------------------------------------------------------- */

static uint64_t lock_owner(const struct au_orch *o)
{
	return AU_LOCK_OWNER(o->env->self, o->inc);
}

static void lc_send(struct au_orch *o, uint8_t type, int64_t value)
{
	uint8_t buf[64];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, type);
	au_put_u64(&w, o->lc_key);
	if (type == M_LOCK) {
		au_put_u64(&w, lock_owner(o));
	} else if (type == M_UNLOCK) {
		au_put_u64(&w, o->lc_token);
	} else {
		au_put_u64(&w, lock_owner(o));
		au_put_u64(&w, o->lc_token);
		au_put_u64(&w, (uint64_t)value);
	}
	o->lc_sent = au_now(o->env);
	send_to(o, leader_of(o), &w);
}

/* (Re)arm the lock client's timer: it never has more than one. */
static void lc_arm(struct au_orch *o, au_time delay)
{
	au_timer_cancel(o->env, o->lc_timer);
	o->lc_timer = au_timer_set(o->env, delay > 0 ? delay : 1, TM_LOCK, 0);
}

static void lc_think(struct au_orch *o)
{
	o->lc_state = LC_IDLE;
	double u = 1.0 - (double)au_random(o->env) / 4294967296.0;
	au_time think = (au_time)(-log(u) * (double)o->cfg->lock_think_ns);
	lc_arm(o, think);
}

/* The value could not be made durable: it is not sent; the lock goes back. */
static void lc_storage_failed(struct au_orch *o, enum au_storage_op op, int err)
{
	o->disk_errors++;
	au_trace_storage(o->env, op, err, AU_STORAGE_GAVE_BACK);
	lc_send(o, M_UNLOCK, 0);
	lc_think(o);
}

/* A lock client's write: checked against its view of the lease, put on
 * its disk, and sent once synced — a pause between the check and the
 * send is exactly what fencing tokens are for. */
static void lc_write(struct au_orch *o)
{
	if (au_now(o->env) > o->lc_belief) {
		lc_think(o); /* we may have lost it: do not write */
		return;
	}
	o->lc_value = (int64_t)au_hash_mix64((uint64_t)o->env->self << 40 ^ o->lc_writes++);
	uint8_t buf[32];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u64(&w, o->lc_key);
	au_put_u64(&w, o->lc_token);
	au_put_u64(&w, (uint64_t)o->lc_value);
	au_wbuf_seal(&w);
	int rc = o->env->ops->storage_write(o->env->ctx, "lk.val", 0, buf, w.len);
	if (rc < 0) {
		lc_storage_failed(o, AU_STORAGE_WRITE, rc);
		return;
	}
	o->env->ops->storage_sync(o->env->ctx, "lk.val", TOKEN(T_LOCKVAL, 0));
	o->lc_state = LC_SYNCING;
}

static void lc_timer(struct au_orch *o)
{
	au_time now = au_now(o->env);
	switch (o->lc_state) {
	case LC_IDLE:
		if (!o->booted || !leader_of(o)) {
			lc_arm(o, o->cfg->retry_ns);
			return;
		}
		o->lc_key = au_random_below(o->env, o->cfg->lock_keys);
		o->lc_state = LC_ASKING;
		lc_send(o, M_LOCK, 0);
		lc_arm(o, o->cfg->retry_ns);
		break;
	case LC_ASKING:
		if (waited(now, o->lc_sent, o->cfg->retry_ns))
			lc_send(o, M_LOCK, 0);
		lc_arm(o, o->cfg->retry_ns);
		break;
	case LC_HOLDING:
		if (now >= o->lc_release_at || now > o->lc_belief) {
			lc_send(o, M_UNLOCK, 0);
			lc_think(o);
			return;
		}
		lc_write(o);
		break;
	case LC_SYNCING:
		break;
	}
}

static void lc_synced(struct au_orch *o)
{
	if (o->lc_state != LC_SYNCING)
		return;
	au_trace(o->env, AU_TR_ORCH_LOCK_WRITE, (int64_t)o->lc_key, (int64_t)o->lc_token, 0);
	lc_send(o, M_WRITE, o->lc_value);
	o->lc_state = LC_HOLDING;
	/* Renew by asking again while holding; write again halfway. */
	lc_send(o, M_LOCK, 0);
	lc_arm(o, o->cfg->lock_hold_ns / 2);
}

static void on_lock_resp(struct au_orch *o, struct au_rbuf *rb)
{
	uint64_t key = au_get_u64(rb), token = au_get_u64(rb), owner = au_get_u64(rb);
	uint8_t what = au_get_u8(rb);
	au_time remaining = (au_time)au_get_u64(rb);
	if (rb->short_read || remaining < 0) {
		o->bad++;
		return;
	}
	if (owner != lock_owner(o) || key != o->lc_key)
		return;
	au_time now = au_now(o->env);
	if (what == L_GRANTED && o->lc_state == LC_ASKING) {
		o->lc_token = token;
		o->lc_belief = now + remaining / 4 * 3;
		o->lc_release_at = now + o->cfg->lock_hold_ns;
		o->locks_held++;
		au_trace(o->env, AU_TR_ORCH_LOCK_HELD, (int64_t)key, (int64_t)token, 0);
		lc_write(o);
	} else if (what == L_GRANTED && token == o->lc_token &&
		   (o->lc_state == LC_HOLDING || o->lc_state == LC_SYNCING)) {
		au_time until = now + remaining / 4 * 3;
		if (until > o->lc_belief)
			o->lc_belief = until;
	} else if (what == L_BUSY && o->lc_state == LC_ASKING) {
		lc_think(o);
	} else if (what == L_LOST && token == o->lc_token && o->lc_state == LC_HOLDING) {
		lc_think(o);
	}
}

/* ---- the model -------------------------------------------------------------------------------- */

/* The incarnation: one more than the newest durable one.  Two 16-byte
 * slots written alternately, so a torn write never loses both. */
static uint32_t read_boot_slot(struct au_orch *o, uint64_t off)
{
	uint8_t buf[12];
	struct au_rbuf rb;
	int64_t n = o->env->ops->storage_read(o->env->ctx, "orch.boot", off, buf, sizeof(buf));
	if (n != (int64_t)sizeof(buf) || !au_rbuf_unseal(&rb, buf, sizeof(buf)) ||
	    au_get_u32(&rb) != BOOT_MAGIC)
		return 0;
	uint32_t inc = au_get_u32(&rb);
	return rb.short_read ? 0 : inc;
}

/* Write this incarnation into its slot and sync it; a failed write is
 * tried again after a retry interval (the worker pulls nothing before the
 * incarnation is durable). */
static void write_boot(struct au_orch *o)
{
	uint8_t buf[12];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u32(&w, BOOT_MAGIC);
	au_put_u32(&w, o->inc);
	au_wbuf_seal(&w);
	assert(w.len == sizeof(buf));
	int rc = o->env->ops->storage_write(o->env->ctx, "orch.boot", (o->inc & 1) * 16, buf, w.len);
	if (rc < 0) {
		o->disk_errors++;
		au_trace_storage(o->env, AU_STORAGE_WRITE, rc, AU_STORAGE_RETRY);
		(void)au_timer_set(o->env, o->cfg->retry_ns, TM_BOOT_RETRY, 0);
		return;
	}
	o->env->ops->storage_sync(o->env->ctx, "orch.boot", TOKEN(T_BOOT, 0));
}

static void boot_record(struct au_orch *o)
{
	uint32_t a = read_boot_slot(o, 0), b = read_boot_slot(o, 16);
	o->inc = (a > b ? a : b) + 1;
	write_boot(o);
	au_trace(o->env, AU_TR_ORCH_BOOT, o->inc, 0, 0);
}

static void *orch_init(const struct au_env *env, const void *config)
{
	struct au_orch *o = g_new0(struct au_orch, 1);
	o->env = env;
	o->cfg = config;
	o->jobs = g_ptr_array_new();
	o->sealed = g_ptr_array_new();
	o->parked = g_new0(struct parked, (gsize)env->nodes + 1);
	o->node_op_at = g_new0(au_time, (gsize)env->nodes + 1);
	o->verdict_inc = g_new0(uint32_t, (gsize)env->nodes + 1);
	o->verdict_dead = g_new0(uint8_t, (gsize)env->nodes + 1);
	o->verdict_fresh = g_new0(bool, (gsize)env->nodes + 1);
	o->dead_inc = g_new0(uint32_t, (gsize)env->nodes + 1);
	o->expiring = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	o->deadlines = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	o->lock_deadlines = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	o->grant_sent = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	au_taskq_batch_init(&o->qb);
	au_taskq_batch_init(&o->lb);
	o->pull_sent = INT64_MIN / 2;
	o->q = au_taskq_new(env);
	o->locks = au_locks_new(env);
	au_taskq_observe(o->q, on_queue_event, o);
	au_locks_observe(o->locks, on_lock_event, o);
	struct au_orch_executor synth = {0, o, synth_cost, synth_round};
	au_orch_register_executor(o, &synth);
	o->raft = env->ops->local_service(env->ctx, "raft");
	if (o->raft) {
		au_taskq_attach(o->q, o->raft);
		au_locks_attach(o->locks, o->raft);
	}
	o->swim = env->ops->local_service(env->ctx, "swim");
	if (o->swim) {
		for (au_node_id m = 1; m <= env->nodes; m++) {
			enum au_swim_state st = au_swim_member_state(o->swim, m);
			fold_verdict(o, m, st == AU_SWIM_DEAD || st == AU_SWIM_LEFT,
				     au_swim_member_incarnation(o->swim, m));
		}
		au_swim_observe(o->swim, on_member, o);
	}
	boot_record(o);
	au_timer_set(env, o->cfg->renew_ns, TM_RENEW, 0);
	au_timer_set(env, au_random_between(env, 0, o->cfg->retry_ns), TM_PULL, 0);
	au_timer_set(env, o->cfg->expiry_scan_ns, TM_SCAN, 0);
	if (env->metrics_period_ns > 0)
		au_timer_set(env, env->metrics_period_ns, TM_METRICS, 0);
	bool lock_client = o->cfg->lock_clients.all;
	for (uint32_t i = 0; i < o->cfg->lock_clients.n; i++)
		lock_client = lock_client || o->cfg->lock_clients.id[i] == env->self;
	if (o->cfg->lock_keys && lock_client)
		lc_arm(o, au_random_between(env, 0, o->cfg->lock_think_ns));
	return o;
}

static void orch_recv(void *state, au_node_id from, const void *msg, size_t len)
{
	struct au_orch *o = state;
	struct au_rbuf rb;
	o->msgs_in++;
	if (!au_rbuf_unseal(&rb, msg, len)) {
		o->bad++;
		au_trace(o->env, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 0);
		return;
	}
	uint8_t type = au_get_u8(&rb);
	check_leadership(o);
	switch (type) {
	case M_GRANT:
		heard_leader(o, from);
		on_grant(o, &rb);
		break;
	case M_RESOLVED:
		heard_leader(o, from);
		on_resolved(o, &rb);
		break;
	case M_LOCK_RESP:
		heard_leader(o, from);
		on_lock_resp(o, &rb);
		break;
	case M_HINT: {
		au_node_id leader = au_get_u32(&rb);
		if (rb.short_read)
			o->bad++;
		else if (leader != o->env->self)
			heard_leader(o, leader);
		break;
	}
	default:
		if (type >= M_TYPES_) {
			o->bad++;
			return;
		}
		if (!o->leading) {
			/* Not the leader: say who is, if we know. */
			au_node_id hint = o->raft ? au_raft_leader_hint(o->raft) : 0;
			if (hint && hint != o->env->self && hint != from) {
				uint8_t buf[16];
				struct au_wbuf w;
				au_wbuf_init(&w, buf, sizeof(buf));
				au_put_u8(&w, M_HINT);
				au_put_u32(&w, hint);
				send_to(o, from, &w);
			}
			return;
		}
		fe_recv(o, from, type, &rb);
	}
}

static void write_metrics(struct au_orch *o)
{
	struct au_orch_metrics_row row = {0};
	for (guint i = 0; i < o->jobs->len; i++) {
		const struct job *j = g_ptr_array_index(o->jobs, i);
		row.queue_depth += j->phase == J_QUEUED;
	}
	row.active_tasks = o->running;
	row.leases = o->jobs->len;
	uint64_t in = o->msgs_in, out = o->msgs_out;
	if (o->env->ops->msg_counts)
		o->env->ops->msg_counts(o->env->ctx, &in, &out);
	row.msgs_in = (int64_t)in;
	row.msgs_out = (int64_t)out;
	uint64_t counts[4];
	au_taskq_counts(o->q, counts);
	row.global_queued = (int64_t)counts[AU_TASK_QUEUED];
	row.done = (int64_t)counts[AU_TASK_DONE];
	row.dead = (int64_t)counts[AU_TASK_DEAD];
	row.leader = o->raft && au_raft_is_leader(o->raft);
	o->env->ops->record(o->env->ctx, 0, &row);
}

static void orch_timer(void *state, uint32_t kind, uint64_t arg)
{
	struct au_orch *o = state;
	check_leadership(o);
	switch (kind) {
	case TM_PULL:
		try_pull(o);
		au_timer_set(o->env, o->cfg->retry_ns, TM_PULL, 0);
		break;
	case TM_RENEW:
		renew_all(o);
		report_verdicts(o);
		au_timer_set(o->env, o->cfg->renew_ns, TM_RENEW, 0);
		break;
	case TM_ROUND: {
		struct job *j = job_by_seq(o, arg);
		if (j && j->phase == J_RUNNING)
			round_done(o, j);
		break;
	}
	case TM_SCAN:
		if (o->leading)
			leader_tick(o);
		au_timer_set(o->env, o->cfg->expiry_scan_ns, TM_SCAN, 0);
		break;
	case TM_KICK:
		on_kick(o);
		break;
	case TM_METRICS:
		write_metrics(o);
		au_timer_set(o->env, o->env->metrics_period_ns, TM_METRICS, 0);
		break;
	case TM_LOCK:
		lc_timer(o);
		break;
	case TM_BOOT_RETRY:
		if (!o->booted)
			write_boot(o);
		break;
	}
}

static void orch_persisted(void *state, uint64_t token, int status)
{
	struct au_orch *o = state;
	uint64_t kind = token >> 56, seq = token & ((UINT64_C(1) << 56) - 1);
	check_leadership(o);
	if (status < 0) {
		if (kind == T_BOOT && !o->booted) {
			o->disk_errors++;
			au_trace_storage(o->env, AU_STORAGE_SYNC, status, AU_STORAGE_RETRY);
			(void)au_timer_set(o->env, o->cfg->retry_ns, TM_BOOT_RETRY, 0);
		} else if (kind == T_CKPT) {
			struct job *j = job_by_seq(o, seq);
			if (j && j->phase == J_SYNCING)
				storage_give_back(o, j, AU_STORAGE_SYNC, status);
		} else if (kind == T_LOCKVAL && o->lc_state == LC_SYNCING) {
			lc_storage_failed(o, AU_STORAGE_SYNC, status);
		}
		return;
	}
	if (kind == T_BOOT) {
		o->booted = true;
		try_pull(o);
	} else if (kind == T_CKPT) {
		struct job *j = job_by_seq(o, seq);
		if (j)
			state_synced(o, j);
	} else if (kind == T_LOCKVAL) {
		lc_synced(o);
	}
}

static void orch_destroy(void *state)
{
	struct au_orch *o = state;
	for (guint i = 0; i < o->jobs->len; i++)
		free_job(g_ptr_array_index(o->jobs, i));
	g_ptr_array_free(o->jobs, TRUE);
	drop_pending(o);
	g_ptr_array_free(o->sealed, TRUE);
	au_taskq_batch_free(&o->qb);
	au_taskq_batch_free(&o->lb);
	g_hash_table_destroy(o->expiring);
	g_hash_table_destroy(o->deadlines);
	g_hash_table_destroy(o->lock_deadlines);
	g_hash_table_destroy(o->grant_sent);
	g_free(o->parked);
	g_free(o->node_op_at);
	g_free(o->verdict_inc);
	g_free(o->verdict_dead);
	g_free(o->verdict_fresh);
	g_free(o->dead_inc);
	au_taskq_free(o->q);
	au_locks_free(o->locks);
	g_free(o);
}

static void orch_summary(void *state, char *buf, size_t len)
{
	struct au_orch *o = state;
	uint64_t c[4];
	au_taskq_counts(o->q, c);
	snprintf(buf, len,
		 "inc=%u held=%u ran=%" PRIu64 " finished=%" PRIu64 " acked=%" PRIu64
		 " stale=%" PRIu64 " lost=%" PRIu64 " abandoned=%" PRIu64 " resumed=%" PRIu64
		 "+%" PRIu64 " | queue: queued=%" PRIu64 " leased=%" PRIu64 " done=%" PRIu64
		 " dead=%" PRIu64 " | locks held=%" PRIu64 " bad=%" PRIu64,
		 o->inc, o->jobs->len, o->started, o->finished_n, o->acked, o->stale, o->lost,
		 o->abandoned, o->resumed_disk, o->resumed_log, c[0], c[1], c[2], c[3], o->locks_held, o->bad);
	size_t used = strlen(buf);
	if (o->disk_errors && used < len)
		snprintf(buf + used, len - used, " disk_errors=%" PRIu64 "%s", o->disk_errors,
			 o->booted ? "" : " (incarnation not durable: not pulling)");
}

/* Operator commands (faults drain / its end): only the leader proposes. */
static int orch_admin(void *state, const char *action, au_node_id target)
{
	struct au_orch *o = state;
	check_leadership(o);
	bool drain = strcmp(action, "drain") == 0, resume = strcmp(action, "resume") == 0;
	if ((!drain && !resume) || !o->leading || target == 0 || target > o->env->nodes)
		return -AU_EINVAL;
	au_taskq_add_node(room(o, false, 16), target,
			  drain ? AU_TASKQ_NODE_DRAIN : AU_TASKQ_NODE_RESUME);
	return 0;
}

/* ---- the public API ------------------------------------------------------------------------------ */

int au_orch_register_executor(struct au_orch *o, const struct au_orch_executor *x)
{
	for (uint32_t i = 0; i < o->n_exec; i++)
		if (o->exec[i].kind == x->kind) {
			o->exec[i] = *x;
			return 0;
		}
	if (o->n_exec == MAX_EXECUTORS)
		return -AU_ENOMEM;
	o->exec[o->n_exec++] = *x;
	return 0;
}

struct au_taskq *au_orch_queue(struct au_orch *o)
{
	return o->q;
}

au_node_id au_orch_leader_guess(const struct au_orch *o)
{
	if (!o->raft)
		return 0;
	if (au_raft_is_leader(o->raft))
		return o->env->self;
	if (o->guess && au_now(o->env) < o->guess_until)
		return o->guess;
	return au_raft_leader_hint(o->raft);
}

bool au_orch_is_leader(const struct au_orch *o)
{
	return o->raft && au_raft_is_leader(o->raft);
}

void au_orch_stats(const struct au_orch *o, struct au_orch_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->incarnation = o->inc;
	st->held = o->jobs->len;
	for (guint i = 0; i < o->jobs->len; i++) {
		const struct job *j = g_ptr_array_index(o->jobs, i);
		st->waiting += j->phase == J_QUEUED;
	}
	st->running = o->running;
	st->started = o->started;
	st->finished = o->finished_n;
	st->acked = o->acked;
	st->stale = o->stale;
	st->lost = o->lost;
	st->abandoned = o->abandoned;
	st->released = o->released;
	st->resumed_disk = o->resumed_disk;
	st->resumed_log = o->resumed_log;
	st->locks_held = o->locks_held;
	st->front_end = o->leading;
}

int au_orch_enqueue(struct au_orch *o, const struct au_task_spec *spec)
{
	check_leadership(o);
	if (!o->leading)
		return -AU_EINVAL;
	return au_taskq_add_enqueue(room(o, false, 48 + spec->payload_len), spec);
}

/* ---- configuration and tables -------------------------------------------------------------------- */

static const struct au_config_key orch_keys[] = {
	{"max_concurrency", AU_CFG_UINT, offsetof(struct au_orch_config, max_concurrency), "4", 1,
	 1024, "tasks running at once on a node", NULL},
	{"local_queue", AU_CFG_UINT, offsetof(struct au_orch_config, local_queue), "4", 0, 1024,
	 "leased tasks waiting for a worker, at most", NULL},
	{"lease", AU_CFG_DURATION, offsetof(struct au_orch_config, lease_ns), "5s",
	 10 * AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "visibility timeout of a lease", NULL},
	{"renew", AU_CFG_DURATION, offsetof(struct au_orch_config, renew_ns), "1s", AU_NS_PER_MS,
	 UINT64_C(600) * AU_NS_PER_S, "how often a worker renews its leases", NULL},
	{"retry", AU_CFG_DURATION, offsetof(struct au_orch_config, retry_ns), "500ms", AU_NS_PER_MS,
	 UINT64_C(60) * AU_NS_PER_S, "resend an unanswered pull or ack after this", NULL},
	{"batch_inflight", AU_CFG_UINT, offsetof(struct au_orch_config, batch_inflight), "2", 1, 64,
	 "queue commands in flight in Raft at once (the leader's group commit)", NULL},
	{"batch_ops", AU_CFG_UINT, offsetof(struct au_orch_config, batch_ops), "0", 0, 1000000,
	 "operations per queue command at most (0: as many as fit; 1: no batching)", NULL},
	{"expiry_scan", AU_CFG_DURATION, offsetof(struct au_orch_config, expiry_scan_ns), "100ms",
	 AU_NS_PER_MS, UINT64_C(60) * AU_NS_PER_S, "how often the leader checks lease deadlines", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const struct au_config_key workload_keys[] = {
	{"tasks", AU_CFG_UINT, offsetof(struct au_orch_config, tasks), "0", 0, 10000000,
	 "tasks the workload enqueues (ids 1..N)", NULL},
	{"task_rate", AU_CFG_RATE, offsetof(struct au_orch_config, task_rate), "0/s", 0, 10000000,
	 "tasks enqueued per second (0/s: all at the start)", NULL},
	{"task_topics", AU_CFG_UINT, offsetof(struct au_orch_config, task_topics), "4", 1, 1000000,
	 "topics tasks are spread over", NULL},
	{"task_priorities", AU_CFG_UINT, offsetof(struct au_orch_config, task_priorities), "1", 1,
	 1000, "priority levels 0..K-1", NULL},
	{"task_rounds", AU_CFG_UINT, offsetof(struct au_orch_config, task_rounds), "1", 1, 100000,
	 "rounds per task, checkpointed at each boundary", NULL},
	{"task_retries", AU_CFG_UINT, offsetof(struct au_orch_config, task_retries), "5", 0, 1000,
	 "failed attempts a task survives before the dead letters", NULL},
	{"task_payload", AU_CFG_UINT, offsetof(struct au_orch_config, task_payload), "64", 0,
	 AU_TASKQ_PAYLOAD_MAX, "payload bytes per task", NULL},
	{"task_fail", AU_CFG_UINT, offsetof(struct au_orch_config, task_fail), "0", 0, 100,
	 "percent of attempts that fail (nack and retry)", NULL},
	{"task_cost", AU_CFG_DIST, offsetof(struct au_orch_config, task_cost),
	 "lognormal(50ms,20ms)", 0, 0, "duration of one task on a 10-GFLOPS node", NULL},
	{"task_caps", AU_CFG_CAPS, offsetof(struct au_orch_config, task_caps), "none", 0, 0,
	 "percent of tasks needing each capability, e.g. gpu:10", NULL},
	{"lock_keys", AU_CFG_UINT, offsetof(struct au_orch_config, lock_keys), "0", 0, 1000000,
	 "keys the lock clients contend for (0: no lock clients)", NULL},
	{"lock_clients", AU_CFG_NODE_LIST, offsetof(struct au_orch_config, lock_clients), "all", 0, 0,
	 "nodes that run a lock client (all, or n1,n3,...)", NULL},
	{"lock_ttl", AU_CFG_DURATION, offsetof(struct au_orch_config, lock_ttl_ns), "2s",
	 10 * AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "lock lease", NULL},
	{"lock_hold", AU_CFG_DURATION, offsetof(struct au_orch_config, lock_hold_ns), "500ms",
	 AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "how long a client holds a lock", NULL},
	{"lock_think", AU_CFG_DURATION, offsetof(struct au_orch_config, lock_think_ns), "1s",
	 AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "mean pause between a client's locks", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const struct au_table_col metrics_cols[] = {
	{"queue_depth", AU_COL_U32, offsetof(struct au_orch_metrics_row, queue_depth), NULL, 0},
	{"active_tasks", AU_COL_U32, offsetof(struct au_orch_metrics_row, active_tasks), NULL, 0},
	{"leases", AU_COL_U32, offsetof(struct au_orch_metrics_row, leases), NULL, 0},
	{"msgs_in", AU_COL_I64, offsetof(struct au_orch_metrics_row, msgs_in), NULL, 0},
	{"msgs_out", AU_COL_I64, offsetof(struct au_orch_metrics_row, msgs_out), NULL, 0},
	{"global_queued", AU_COL_I64, offsetof(struct au_orch_metrics_row, global_queued), NULL, 0},
	{"done", AU_COL_I64, offsetof(struct au_orch_metrics_row, done), NULL, 0},
	{"dead", AU_COL_I64, offsetof(struct au_orch_metrics_row, dead), NULL, 0},
	{"leader", AU_COL_ENUM8, offsetof(struct au_orch_metrics_row, leader),
	 (const char *const[]){"no", "yes"}, 2},
};

static const struct au_table_desc orch_tables[] = {
	{"metrics", "one row per node every [trace] metrics_period: local queue depth, running "
		    "tasks, leases held, messages so far, and the replicated queue's counts as this "
		    "node's replica sees them",
	 metrics_cols, 9, sizeof(struct au_orch_metrics_row)},
};

static const char *const orch_message_names[] = {
	NULL, "PULL", "RENEW", "ACK", "NACK", "RELEASE", "CKPT", "GRANT", "RESOLVED",
	"LOCK", "UNLOCK", "WRITE", "LOCK_RESP", "HINT", "MEMBER"};

static const char *const orch_needs[] = {"raft", NULL};

const struct au_model au_orch_model = {
	.name = "aureon",
	.config_group = "aureon",
	.config_keys = orch_keys,
	.config_size = sizeof(struct au_orch_config),
	.extra_group = "workload",
	.extra_keys = workload_keys,
	.init = orch_init,
	.recv = orch_recv,
	.timer = orch_timer,
	.persisted = orch_persisted,
	.destroy = orch_destroy,
	.summary = orch_summary,
	.tables = orch_tables,
	.n_tables = 1,
	.message_names = orch_message_names,
	.n_message_names = M_TYPES_,
	.admin = orch_admin,
	.needs = orch_needs,
};
