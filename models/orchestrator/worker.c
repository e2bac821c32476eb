/* worker.c — the orchestrator's worker, on every node
 * (orchestrator_internal.h has the design): it pulls leases from the
 * leader while it has room, runs each task round by round on its worker
 * pool, writes a checkpoint at every round boundary and sends it to the
 * log once synced, renews its leases, and acks the result with the fencing
 * token once the result is on its disk.  Also the built-in synthetic
 * executor (kind 0).
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include <glib.h>

#include "hashes.h"
#include "orchestrator_internal.h"
#include "trace_kinds.h"

static void pump(struct au_orch *o);

/* ---- jobs: the leases this node holds --------------------------------------------------- */

static struct job *job_by_token(struct au_orch *o, uint64_t id, uint64_t token)
{
	for (guint i = 0; i < o->jobs->len; i++) {
		struct job *j = g_ptr_array_index(o->jobs, i);
		if (j->id == id && j->token == token)
			return j;
	}
	return NULL;
}

struct job *orch_job_by_seq(struct au_orch *o, uint64_t seq)
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
	/* "ck.%" PRIu64 ".%u" written by hand: snprintf here was ~0.5 % of a
	 * chaos run (every grant, round and restart names one). */
	assert(len >= sizeof("ck.18446744073709551615.1"));
	(void)len;
	char digits[20];
	int n = 0;
	do {
		digits[n++] = (char)('0' + id % 10);
		id /= 10;
	} while (id);
	char *w = buf;
	*w++ = 'c';
	*w++ = 'k';
	*w++ = '.';
	while (n)
		*w++ = digits[--n];
	*w++ = '.';
	*w++ = (char)('0' + (round & 1u));
	*w = '\0';
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

/* Register the synthetic executor as kind 0 (at init; a model may replace it). */
void orch_register_synthetic(struct au_orch *o)
{
	struct au_orch_executor synth = {0, o, synth_cost, synth_round};
	au_orch_register_executor(o, &synth);
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

void orch_free_job(struct job *j)
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
	orch_free_job(j);
	pump(o);
	orch_try_pull(o);
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
	orch_send_to(o, orch_leader_of(o), &w);
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
	orch_send_to(o, orch_leader_of(o), &w);
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
	orch_send_to(o, orch_leader_of(o), &w);
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
void orch_storage_give_back(struct au_orch *o, struct job *j, enum au_storage_op op, int err)
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
		orch_storage_give_back(o, j, AU_STORAGE_TRUNCATE, rc);
		return;
	}
	rc = o->env->ops->storage_write(o->env->ctx, name, 0, buf, w.len);
	if (rc < 0) {
		orch_storage_give_back(o, j, AU_STORAGE_WRITE, rc);
		return;
	}
	o->env->ops->storage_sync(o->env->ctx, name, TOKEN(T_CKPT, j->seq));
}

void orch_round_done(struct au_orch *o, struct job *j)
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

void orch_state_synced(struct au_orch *o, struct job *j)
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
	orch_try_pull(o);
}

void orch_on_grant(struct au_orch *o, struct au_rbuf *rb)
{
	/* The grant's fields, read into a small header rather than a whole
	 * struct job: that one carries a 4 KiB state buffer, which zeroing
	 * on the stack and copying into the new job cost more than the rest
	 * of the grant. */
	struct {
		uint64_t id, token;
		uint32_t kind, topic, rounds, caps, max_retries, log_round;
		int32_t priority;
	} tmp;
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
	struct job *j = g_malloc(sizeof(*j));
	memset(j, 0, offsetof(struct job, state)); /* state: only state_len bytes are read */
	j->id = tmp.id;
	j->token = tmp.token;
	j->kind = tmp.kind;
	j->topic = tmp.topic;
	j->rounds = tmp.rounds;
	j->caps = tmp.caps;
	j->max_retries = tmp.max_retries;
	j->priority = tmp.priority;
	j->log_round = tmp.log_round;
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

void orch_on_resolved(struct au_orch *o, struct au_rbuf *rb)
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

void orch_try_pull(struct au_orch *o)
{
	if (!o->booted || !o->raft)
		return;
	uint32_t held = active(o);
	au_node_id leader = orch_leader_of(o);
	au_time now = au_now(o->env);
	/* One pull outstanding at a time: the next goes when grants arrive
	 * (long poll), or after retry/4 if it seems lost. */
	if (held >= capacity(o) || !leader || (o->fail_streak && now < o->pull_hold_until) ||
	    (o->pull_outstanding && !orch_waited(now, o->pull_sent, o->cfg->retry_ns / 4)))
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
	orch_send_to(o, leader, &w);
}

void orch_renew_all(struct au_orch *o)
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
	orch_send_to(o, orch_leader_of(o), &w);
	/* Acks still unanswered go again. */
	for (guint i = 0; i < o->jobs->len; i++) {
		struct job *j = g_ptr_array_index(o->jobs, i);
		if (j->phase == J_ACKING && orch_waited(now, j->last_send, o->cfg->retry_ns))
			send_ack(o, j);
	}
}

