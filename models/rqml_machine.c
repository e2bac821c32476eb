/* rqml_machine.c — RQML's replicated state machine (Raft machine
 * AU_RQML_MACHINE; see rqml.c for the design): jobs by id, their rounds,
 * residuals and pending shard outputs; applying START, DATA and CLOSE
 * commands identically on every replica; snapshots, the state digest and
 * the description replicas are compared by.
 */
#include "rqml.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "blob.h"
#include "digest.h"
#include "models_internal.h"
#include "one.h"
#include "raft/raft.h"
#include "rqml_internal.h"
#include "taskq.h"
#include "trace_kinds.h"
#include "wire.h"

#define SNAP_MAGIC 0x52514d4cu /* "RQML" */

/* ---- the replicated state ------------------------------------------------------- */

/* A pending output of `len` doubles, its data in the same allocation
 * (uninitialised: the caller fills all of it). */
static struct pending *pending_new(uint32_t len)
{
	struct pending *e = au_xmalloc(sizeof(*e) + (size_t)len * sizeof(double));
	memset(e, 0, sizeof(*e));
	e->len = len;
	e->data = (double *)(e + 1);
	return e;
}

static void pending_free(gpointer p)
{
	free(p); /* the data with it (pending_new) */
}

/* Drop what a job holds while it runs (finished, failed, cancelled or
 * freed): its round vectors, pending outputs and generated input. */
static void release_job(struct rjob *j)
{
	free(j->state);
	j->state = NULL;
	free(j->spare);
	j->spare = NULL;
	g_ptr_array_set_size(j->pending, 0);
	if (j->owns_kp)
		au_kernel_free(&j->own_kp);
	j->owns_kp = false;
	j->kp = NULL;
	j->built = false;
}

void rqml_rjob_free(gpointer p)
{
	struct rjob *j = p;
	release_job(j);
	free(j->residuals);
	g_array_free(j->workers, TRUE);
	g_ptr_array_free(j->pending, TRUE);
	free(j->done_seen_ns);
	free(j->attempt);
	free(j->enqueued_ns);
	free(j);
}

static guint job_find(const struct rqml *q, uint64_t job, bool *found)
{
	guint lo = 0, hi = q->jobs->len;
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		if (((struct rjob *)g_ptr_array_index(q->jobs, mid))->spec.job < job)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < q->jobs->len &&
		 ((struct rjob *)g_ptr_array_index(q->jobs, lo))->spec.job == job;
	return lo;
}

struct rjob *rqml_job_get(const struct rqml *q, uint64_t job)
{
	bool found;
	guint at = job_find(q, job, &found);
	return found ? g_ptr_array_index(q->jobs, at) : NULL;
}

static int64_t f64_bits(double v)
{
	int64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

/* Something the supervisor acts on happened here (on the leader): look at
 * the jobs now rather than at the next tick. */
static void kick(struct rqml *q)
{
	if (q->env && !q->kick_armed && rqml_is_leader(q)) {
		q->kick_armed = true;
		au_timer_set(q->env, 0, TM_KICK, 0);
	}
}

/* A new job from its spec; NULL if the spec does not build.  A finished
 * job (restored from a snapshot) needs no generated input: `build` false. */
static struct rjob *rjob_new(struct rqml *q, const struct au_rqml_job_spec *spec, bool build)
{
	struct rjob *j = au_xcalloc(1, sizeof(*j));
	j->spec = *spec;
	j->workers = g_array_new(FALSE, FALSE, sizeof(au_node_id));
	j->pending = g_ptr_array_new_with_free_func(pending_free);
	if (spec->policy.max_rounds < 1 || spec->policy.max_rounds > AU_RQML_MAX_ROUNDS ||
	    au_kernel_check(&spec->params, NULL, 0) != 0 ||
	    au_kernel_max_shard_out(&spec->params) > AU_RQML_DATA_MAX ||
	    (build && !(j->kp = au_kernel_acquire(q->env, &spec->params, &j->own_kp,
						   &j->owns_kp)))) {
		rqml_rjob_free(j);
		return NULL;
	}
	j->built = build;
	j->residuals = au_xcalloc(spec->policy.max_rounds, sizeof(double));
	uint32_t S = spec->params.shards;
	j->done_seen_ns = au_xcalloc(S, sizeof(au_time));
	j->attempt = au_xcalloc(S, sizeof(uint32_t));
	j->enqueued_ns = au_xcalloc(S, sizeof(au_time));
	return j;
}

/* ---- the state digest (raft.h, struct au_raft_machine.digest) ---------------------------
 * Per job: a core hash of what a snapshot keeps of it but its pending
 * outputs (spec, rounds, verdict, residuals, workers, digest, the state
 * vector while it runs), and one hash per pending output (its position
 * included: the list is in arrival order).  Both are computed lazily, when
 * the digest is read (every digest_every entries): applying only marks
 * what changed, so a round that opens and closes between two reads costs
 * no hashing of its outputs and one of its state vector. */

static uint64_t job_core_hash(const struct rjob *j)
{
	uint8_t spec[128];
	struct au_wbuf w;
	au_wbuf_init(&w, spec, sizeof(spec));
	rqml_put_spec(&w, &j->spec);
	uint64_t h = au_digest_bytes(UINT64_C(0x52514d4c), spec, w.len);
	h = au_digest_add(h, (uint64_t)j->round << 8 | j->verdict);
	h = au_digest_f64s(h, j->residuals, j->round);
	for (guint k = 0; k < j->workers->len; k++)
		h = au_digest_add(h, g_array_index(j->workers, au_node_id, k));
	h = au_digest_add(h, j->workers->len);
	h = au_digest_bytes(h, j->digest, 32);
	if (j->verdict == AU_KERNEL_FAILED) /* only then: other jobs hash as they always did */
		h = au_digest_add(au_digest_add(h, (uint64_t)j->fail_shard << 32 | j->fail_attempts),
				  j->fail_error);
	if (j->state)
		h = au_digest_f64s(h, j->state, j->kp->state_len);
	return au_digest_add(h, j->state != NULL);
}

static uint64_t pending_hash(const struct pending *e, uint32_t pos)
{
	uint64_t h = au_digest_add(UINT64_C(0x9e4d), (uint64_t)pos << 32 | e->shard);
	h = au_digest_add(h, e->token);
	h = au_digest_add(h, e->node);
	return au_digest_f64s(h, e->data, e->len);
}

/* Job j's share of the digest, computing what changed since the last read. */
static uint64_t job_share(struct rjob *j)
{
	if (j->core_stale) {
		j->core_hash = job_core_hash(j);
		j->core_stale = false;
	}
	uint64_t sum = j->core_hash;
	for (guint i = 0; i < j->pending->len; i++) {
		struct pending *e = g_ptr_array_index(j->pending, i);
		if (!e->hashed) {
			e->hash = pending_hash(e, i);
			e->hashed = true;
		}
		sum += e->hash;
	}
	return sum;
}

/* ---- command encoding -------------------------------------------------------------- */

void rqml_put_spec(struct au_wbuf *w, const struct au_rqml_job_spec *s)
{
	au_put_u64(w, s->job);
	au_put_u64(w, s->parent);
	au_put_u8(w, s->depth);
	au_put_u8(w, (uint8_t)s->params.kind);
	au_put_u64(w, s->params.seed);
	au_put_u32(w, s->params.size);
	au_put_u32(w, s->params.edges);
	au_put_u32(w, s->params.k);
	au_put_u32(w, s->params.dims);
	au_put_u32(w, s->params.shards);
	au_put_f64(w, s->params.damping);
	au_put_u8(w, s->policy.kind);
	au_put_u32(w, s->policy.stall_rounds);
	au_put_f64(w, s->policy.tolerance);
	au_put_u32(w, s->policy.max_rounds);
}

static void get_spec(struct au_rbuf *r, struct au_rqml_job_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->job = au_get_u64(r);
	s->parent = au_get_u64(r);
	s->depth = au_get_u8(r);
	s->params.kind = (enum au_kernel_kind)au_get_u8(r);
	s->params.seed = au_get_u64(r);
	s->params.size = au_get_u32(r);
	s->params.edges = au_get_u32(r);
	s->params.k = au_get_u32(r);
	s->params.dims = au_get_u32(r);
	s->params.shards = au_get_u32(r);
	s->params.damping = au_get_f64(r);
	s->policy.kind = au_get_u8(r);
	s->policy.stall_rounds = au_get_u32(r);
	s->policy.tolerance = au_get_f64(r);
	s->policy.max_rounds = au_get_u32(r);
}

/* ---- applying commands ------------------------------------------------------------- */

static uint8_t apply_start(struct rqml *q, struct au_rbuf *rb)
{
	struct au_rqml_job_spec spec;
	get_spec(rb, &spec);
	if (rb->short_read || rb->pos != rb->len || spec.job == 0 || spec.job >= (UINT64_C(1) << 23))
		return ST_REJECTED;
	bool found;
	guint at = job_find(q, spec.job, &found);
	if (found)
		return ST_IGNORED; /* a supervisor started it again: idempotent */
	struct rjob *j = rjob_new(q, &spec, true);
	if (!j) {
		rqml_trace(q, AU_TR_RQML_BAD_JOB, (int64_t)spec.job, spec.params.kind, 0);
		return ST_REJECTED;
	}
	j->state = au_xcalloc(j->kp->state_len, sizeof(double));
	au_kernel_init_state(j->kp, j->state);
	g_ptr_array_insert(q->jobs, (gint)at, j);
	j->core_stale = true;
	rqml_trace(q, AU_TR_RQML_JOB, (int64_t)spec.job, spec.params.kind | spec.depth << 8,
		   (int64_t)spec.parent);
	return ST_APPLIED;
}

static uint8_t apply_data(struct rqml *q, struct au_rbuf *rb)
{
	uint64_t jid = au_get_u64(rb);
	uint32_t round = au_get_u32(rb), shard = au_get_u32(rb);
	uint64_t token = au_get_u64(rb);
	au_node_id node = au_get_u32(rb);
	uint32_t len = au_get_u32(rb);
	if (rb->short_read || len > AU_RQML_DATA_MAX || rb->len - rb->pos != (size_t)len * 8)
		return ST_REJECTED;
	struct rjob *j = rqml_job_get(q, jid);
	int64_t where = (int64_t)round << 16 | shard;
	if (!j || !j->state || round != j->round + 1 || shard >= j->spec.params.shards ||
	    len != au_kernel_shard_out_len(j->kp, shard)) {
		q->stale_data++;
		rqml_trace(q, AU_TR_RQML_STALE, (int64_t)jid, where, (int64_t)token);
		return ST_IGNORED;
	}
	uint32_t same_shard = 0;
	for (guint i = 0; i < j->pending->len; i++) {
		const struct pending *e = g_ptr_array_index(j->pending, i);
		if (e->shard == shard && e->token == token) {
			q->dup_data++; /* a resend of what is already here */
			return ST_IGNORED;
		}
		same_shard += e->shard == shard;
	}
	if (same_shard >= PENDING_MAX_PER_SHARD) {
		q->stale_data++;
		rqml_trace(q, AU_TR_RQML_STALE, (int64_t)jid, where, (int64_t)token);
		return ST_IGNORED;
	}
	struct pending *e = pending_new(len);
	e->shard = shard;
	e->token = token;
	e->node = node;
	rqml_get_f64s(rb, e->data, len); /* all of it: the length was checked above */
	g_ptr_array_add(j->pending, e); /* hashed when the digest is read */
	rqml_trace(q, AU_TR_RQML_DATA, (int64_t)jid, where, (int64_t)token);
	return ST_APPLIED;
}

const struct pending *rqml_pending_find(const struct rjob *j, uint32_t shard, uint64_t token)
{
	for (guint i = 0; i < j->pending->len; i++) {
		const struct pending *e = g_ptr_array_index(j->pending, i);
		if (e->shard == shard && e->token == token)
			return e;
	}
	return NULL;
}

static void add_worker(struct rjob *j, au_node_id n)
{
	guint i = 0;
	while (i < j->workers->len && g_array_index(j->workers, au_node_id, i) < n)
		i++;
	if (i < j->workers->len && g_array_index(j->workers, au_node_id, i) == n)
		return;
	if (j->workers->len < AU_ONE_MAX_WORKERS)
		g_array_insert_val(j->workers, i, n);
}

static void finish_job(struct rqml *q, struct rjob *j, enum au_kernel_verdict v)
{
	j->verdict = (uint8_t)v;
	au_kernel_digest(j->state, j->kp->state_len, j->digest);
	rqml_trace(q, AU_TR_RQML_DONE, (int64_t)j->spec.job, (int64_t)j->round | (int64_t)v << 32,
		   au_kernel_digest_prefix(j->digest));
	if (rqml_is_leader(q)) {
		struct au_rqml_row row = {(int64_t)j->spec.job, 0, j->round,
					  j->residuals[j->round - 1], 0, AU_RQML_ROW_DONE};
		rqml_record_row(q, &row);
	}
	/* The result's bytes go to the blob store (kept if this node is one of
	 * the digest's holders; docs/one.md, "Results"), its digest to ONE;
	 * the vectors and the generated input go. */
	if (q->env)
		au_blob_store_f64(q->env->ops->local_service(q->env->ctx, "blob"), j->digest, j->state,
				  j->kp->state_len);
	release_job(j);
}

static uint8_t apply_close(struct rqml *q, struct au_rbuf *rb)
{
	uint64_t jid = au_get_u64(rb);
	uint32_t round = au_get_u32(rb), n = au_get_u32(rb);
	struct rjob *j = rqml_job_get(q, jid);
	if (rb->short_read || !j || n != j->spec.params.shards || rb->len - rb->pos != (size_t)n * 8)
		return ST_REJECTED;
	if (!j->state || round != j->round + 1)
		return ST_IGNORED; /* closed already (a retried proposal) */
	uint32_t S = n;
	/* One allocation for the four lists (was four zeroed ones): the
	 * tokens, then per listed output its shard, data and entry. */
	size_t M = (size_t)S * PENDING_MAX_PER_SHARD;
	uint64_t *tokens = au_xmalloc(S * sizeof(uint64_t) + M * (sizeof(double *) +
								  sizeof(struct pending *) +
								  sizeof(uint32_t)));
	for (uint32_t s = 0; s < S; s++)
		tokens[s] = au_get_u64(rb);
	/* The outputs to aggregate: exactly the accepted one of each shard. */
	const double **outs = (const double **)(void *)(tokens + S);
	const struct pending **used = (const struct pending **)(void *)(outs + M);
	uint32_t *shard_of = (uint32_t *)(void *)(used + M);
	uint32_t m = 0;
	uint8_t status = ST_APPLIED;
#ifdef AU_BUG_RQML_DUP_SHARD
	/* Planted bug: aggregate every output received for the round, in
	 * shard order — after a lease expiry both the old holder's and the
	 * new holder's output of a shard are there, and both go in. */
	for (uint32_t s = 0; s < S; s++)
		for (guint i = 0; i < j->pending->len; i++) {
			const struct pending *e = g_ptr_array_index(j->pending, i);
			if (e->shard == s) {
				shard_of[m] = s;
				outs[m] = e->data;
				used[m++] = e;
			}
		}
	for (uint32_t s = 0; s < S && status == ST_APPLIED; s++)
		if (!rqml_pending_find(j, s, tokens[s])) {
			rqml_trace(q, AU_TR_RQML_CLOSE_REJECT, (int64_t)jid, round, s);
			status = ST_REJECTED;
		}
#else
	for (uint32_t s = 0; s < S; s++) {
		const struct pending *e = rqml_pending_find(j, s, tokens[s]);
		if (!e) {
			/* The supervisor proposes only what its replica holds, and
			 * every replica holds the same: a bad proposal. */
			rqml_trace(q, AU_TR_RQML_CLOSE_REJECT, (int64_t)jid, round, s);
			status = ST_REJECTED;
			break;
		}
		shard_of[m] = s;
		outs[m] = e->data;
		used[m++] = e;
	}
#endif
	if (status == ST_APPLIED) {
		j->core_stale = true;
		for (uint32_t i = 0; i < m; i++) {
			rqml_trace(q, AU_TR_RQML_SHARD_USED, (int64_t)jid, (int64_t)round << 16 | shard_of[i],
				   (int64_t)used[i]->token);
			add_worker(j, used[i]->node);
		}
		/* Into the vector of the round before (or a new one): aggregation
		 * writes every value of `next` (kernels.h), so none need zeroing,
		 * and the two vectors of a job swap roles each round instead of
		 * being allocated, faulted in and freed. */
		double *next = j->spare ? j->spare : au_xmalloc(j->kp->state_len * sizeof(double));
		double res = au_kernel_aggregate_list(j->kp, j->state, shard_of, outs, m, next);
		j->spare = j->state;
		j->state = next;
		j->residuals[j->round] = res;
		j->round++;
		g_ptr_array_set_size(j->pending, 0);
		rqml_trace(q, AU_TR_RQML_ROUND, (int64_t)jid, j->round, f64_bits(res));
		if (rqml_is_leader(q)) {
			struct au_rqml_row row = {(int64_t)jid, 0, j->round, res, 0, AU_RQML_ROW_ROUND};
			rqml_record_row(q, &row);
		}
		enum au_kernel_verdict v = au_rqml_decide(&j->spec.policy, j->residuals, j->round);
		if (v != AU_KERNEL_CONTINUE)
			finish_job(q, j, v);
	} else {
		q->rejected_closes++;
	}
	free(tokens); /* and the lists after it */
	return status;
}

/* End a running job without a result (failed or cancelled): every replica
 * drops its vectors and pending outputs; the digest stays zero. */
static void end_job(struct rqml *q, struct rjob *j, enum au_kernel_verdict v)
{
	assert(j->state && rqml_verdict_ended((uint8_t)v));
	j->verdict = (uint8_t)v;
	j->core_stale = true;
	memset(j->digest, 0, sizeof(j->digest));
	rqml_trace(q, AU_TR_RQML_DONE, (int64_t)j->spec.job, (int64_t)j->round | (int64_t)v << 32, 0);
	if (rqml_is_leader(q)) {
		struct au_rqml_row row = {(int64_t)j->spec.job, 0, j->round,
					  j->round ? j->residuals[j->round - 1] : NAN, 0,
					  AU_RQML_ROW_DONE};
		rqml_record_row(q, &row);
	}
	release_job(j);
}

/* FAIL: the supervisor saw shard `shard` of round `round` use its last
 * attempt.  Ignored unless that round is still open (a close may have
 * overtaken it). */
static uint8_t apply_fail(struct rqml *q, struct au_rbuf *rb)
{
	uint64_t jid = au_get_u64(rb);
	uint32_t round = au_get_u32(rb), shard = au_get_u32(rb), attempts = au_get_u32(rb);
	uint8_t error = au_get_u8(rb);
	struct rjob *j = rqml_job_get(q, jid);
	if (rb->short_read || rb->pos != rb->len || !j || shard >= j->spec.params.shards ||
	    attempts < 1 || attempts > AU_RQML_ATTEMPTS_MAX)
		return ST_REJECTED;
	if (!j->state || round != j->round + 1)
		return ST_IGNORED;
	j->fail_shard = shard;
	j->fail_attempts = attempts;
	j->fail_error = error;
	rqml_trace(q, AU_TR_RQML_FAIL, (int64_t)jid, (int64_t)round << 16 | shard,
		   (int64_t)attempts << 8 | error);
	end_job(q, j, AU_KERNEL_FAILED);
	return ST_APPLIED;
}

/* CANCEL: an operator ends a running job; an ended one is left as it is. */
static uint8_t apply_cancel(struct rqml *q, struct au_rbuf *rb)
{
	uint64_t jid = au_get_u64(rb);
	struct rjob *j = rqml_job_get(q, jid);
	if (rb->short_read || rb->pos != rb->len || jid == 0)
		return ST_REJECTED;
	if (!j || !j->state)
		return ST_IGNORED;
	rqml_trace(q, AU_TR_RQML_CANCEL, (int64_t)jid, j->round, 0);
	end_job(q, j, AU_KERNEL_CANCELLED);
	return ST_APPLIED;
}

static uint8_t rqml_apply_cmd(struct rqml *q, uint64_t index, const uint8_t *cmd, size_t len)
{
	if (index > q->applied_index)
		q->applied_index = index;
	struct au_rbuf rb;
	au_rbuf_init(&rb, cmd, len);
	uint8_t op = au_get_u8(&rb);
	switch (op) {
	case OP_START:
		return apply_start(q, &rb);
	case OP_DATA:
		return apply_data(q, &rb);
	case OP_CLOSE:
		return apply_close(q, &rb);
	case OP_FAIL:
		return apply_fail(q, &rb);
	case OP_CANCEL:
		return apply_cancel(q, &rb);
	}
	return ST_REJECTED;
}

static void machine_apply(void *sm, uint64_t index, const uint8_t *cmd, size_t len,
			  uint8_t *result, size_t *rlen)
{
	result[0] = rqml_apply_cmd(sm, index, cmd, len);
	*rlen = 1;
	if (result[0] == ST_APPLIED)
		kick(sm);
}

/* Task queue effects the supervisor waits for. */
void rqml_on_queue_event(void *ctx, const struct au_taskq_event *ev)
{
	if (ev->type == AU_TASKQ_EV_ACKED || ev->type == AU_TASKQ_EV_DEAD_LETTER ||
	    ev->type == AU_TASKQ_EV_ENQUEUED)
		kick(ctx);
}

/* Snapshot: counters, then every job with its state, residuals, workers,
 * digest and pending outputs. */
static size_t machine_snapshot(void *sm, uint8_t **out)
{
	struct rqml *q = sm;
	size_t n = 64;
	for (guint i = 0; i < q->jobs->len; i++) {
		const struct rjob *j = g_ptr_array_index(q->jobs, i);
		n += 144 + 8 * (size_t)j->round + 4 * (size_t)j->workers->len + 32 +
		     (j->state ? 8 * (size_t)j->kp->state_len : 0);
		for (guint k = 0; k < j->pending->len; k++)
			n += 32 + 8 * (size_t)((struct pending *)g_ptr_array_index(j->pending, k))->len;
	}
	uint8_t *buf = au_xcalloc(n, 1);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, n);
	au_put_u32(&w, SNAP_MAGIC);
	au_put_u64(&w, q->applied_index);
	au_put_u64(&w, q->stale_data);
	au_put_u64(&w, q->rejected_closes);
	au_put_u64(&w, q->dup_data);
	au_put_u32(&w, q->jobs->len);
	for (guint i = 0; i < q->jobs->len; i++) {
		const struct rjob *j = g_ptr_array_index(q->jobs, i);
		rqml_put_spec(&w, &j->spec);
		au_put_u32(&w, j->round);
		au_put_u8(&w, j->verdict);
		rqml_put_f64s(&w, j->residuals, j->round);
		au_put_u32(&w, j->workers->len);
		for (guint k = 0; k < j->workers->len; k++)
			au_put_u32(&w, g_array_index(j->workers, au_node_id, k));
		au_put_bytes(&w, j->digest, 32);
		if (j->verdict == AU_KERNEL_FAILED) { /* only then: older snapshots stay valid */
			au_put_u32(&w, j->fail_shard);
			au_put_u32(&w, j->fail_attempts);
			au_put_u8(&w, j->fail_error);
		}
		au_put_u8(&w, j->state != NULL);
		if (j->state)
			rqml_put_f64s(&w, j->state, j->kp->state_len);
		au_put_u32(&w, j->pending->len);
		for (guint k = 0; k < j->pending->len; k++) {
			const struct pending *e = g_ptr_array_index(j->pending, k);
			au_put_u32(&w, e->shard);
			au_put_u64(&w, e->token);
			au_put_u32(&w, e->node);
			au_put_u32(&w, e->len);
			rqml_put_f64s(&w, e->data, e->len);
		}
	}
	assert(!w.overflow);
	*out = buf;
	return w.len;
}

static bool restore_job(struct rqml *q, struct au_rbuf *rb)
{
	struct au_rqml_job_spec spec;
	get_spec(rb, &spec);
	if (rb->short_read)
		return false;
	struct rjob *j = rjob_new(q, &spec, false);
	if (!j)
		return false;
	j->round = au_get_u32(rb);
	j->verdict = au_get_u8(rb);
	if (j->round > spec.policy.max_rounds || j->verdict >= AU_KERNEL_VERDICTS) {
		rqml_rjob_free(j);
		return false;
	}
	rqml_get_f64s(rb, j->residuals, j->round);
	uint32_t nw = au_get_u32(rb);
	for (uint32_t k = 0; k < nw && k < AU_ONE_MAX_WORKERS && !rb->short_read; k++)
		add_worker(j, au_get_u32(rb));
	au_get_bytes(rb, j->digest, 32);
	if (j->verdict == AU_KERNEL_FAILED) {
		j->fail_shard = au_get_u32(rb);
		j->fail_attempts = au_get_u32(rb);
		j->fail_error = au_get_u8(rb);
	}
	if (au_get_u8(rb)) {
		/* Still running: it needs its generated input again. */
		j->kp = au_kernel_acquire(q->env, &spec.params, &j->own_kp, &j->owns_kp);
		if (!j->kp) {
			rqml_rjob_free(j);
			return false;
		}
		j->built = true;
		j->state = au_xcalloc(j->kp->state_len, sizeof(double));
		rqml_get_f64s(rb, j->state, j->kp->state_len);
	}
	uint32_t np = au_get_u32(rb);
	for (uint32_t k = 0; k < np && !rb->short_read; k++) {
		uint32_t shard = au_get_u32(rb);
		uint64_t token = au_get_u64(rb);
		au_node_id node = au_get_u32(rb);
		uint32_t len = au_get_u32(rb);
		if (rb->short_read || len > AU_RQML_DATA_MAX || shard >= spec.params.shards) {
			rqml_rjob_free(j);
			return false;
		}
		struct pending *e = pending_new(len);
		e->shard = shard;
		e->token = token;
		e->node = node;
		rqml_get_f64s(rb, e->data, len); /* zeros past a short read */
		g_ptr_array_add(j->pending, e);
	}
	const struct rjob *last = q->jobs->len ? g_ptr_array_index(q->jobs, q->jobs->len - 1) : NULL;
	if (rb->short_read || (last && last->spec.job >= spec.job) ||
	    (!j->state && j->verdict == AU_KERNEL_CONTINUE) ||
	    (j->state && j->verdict != AU_KERNEL_CONTINUE)) {
		rqml_rjob_free(j);
		return false;
	}
	g_ptr_array_add(q->jobs, j);
	j->core_stale = true;
	rqml_trace(q, AU_TR_RQML_RESTORE, (int64_t)spec.job, j->round, j->verdict);
	return true;
}

static void machine_restore(void *sm, const uint8_t *data, size_t len)
{
	struct rqml *q = sm;
	g_ptr_array_set_size(q->jobs, 0);
	struct au_rbuf rb;
	au_rbuf_init(&rb, data, len);
	bool ok = au_get_u32(&rb) == SNAP_MAGIC;
	q->applied_index = au_get_u64(&rb);
	q->stale_data = au_get_u64(&rb);
	q->rejected_closes = au_get_u64(&rb);
	q->dup_data = au_get_u64(&rb);
	uint32_t n = au_get_u32(&rb);
	for (uint32_t i = 0; ok && i < n; i++)
		ok = restore_job(q, &rb);
	if (!ok || rb.short_read || rb.pos != rb.len) {
		g_ptr_array_set_size(q->jobs, 0);
		rqml_trace(q, AU_TR_RQML_BAD_SNAPSHOT, (int64_t)len, 0, 0);
	}
}

/* O(jobs) plus the hashing of what changed since the last read; jobs are
 * few. */
static uint64_t machine_digest(void *sm)
{
	const struct rqml *q = sm;
	uint64_t sum = 0;
	for (guint i = 0; i < q->jobs->len; i++)
		sum += job_share(g_ptr_array_index(q->jobs, i));
	uint64_t h = au_digest_add(sum, q->jobs->len);
	h = au_digest_add(h, q->applied_index);
	h = au_digest_add(h, q->stale_data);
	h = au_digest_add(h, q->rejected_closes);
	return au_digest_add(h, q->dup_data);
}

/* One line per job (vectors as hashes) and per pending output. */
static char *machine_describe(void *sm)
{
	const struct rqml *q = sm;
	GString *s = g_string_new(NULL);
	g_string_append_printf(s, "rqml: jobs=%u applied=%llu stale_data=%llu rejected_closes=%llu "
			       "dup_data=%llu\n", q->jobs->len, (unsigned long long)q->applied_index,
			       (unsigned long long)q->stale_data, (unsigned long long)q->rejected_closes,
			       (unsigned long long)q->dup_data);
	for (guint i = 0; i < q->jobs->len; i++) {
		const struct rjob *j = g_ptr_array_index(q->jobs, i);
		g_string_append_printf(s, "job %llu: kind=%u parent=%llu rounds=%u verdict=%s "
				       "residuals=%016llx workers=", (unsigned long long)j->spec.job,
				       (unsigned)j->spec.params.kind, (unsigned long long)j->spec.parent,
				       j->round, au_kernel_verdict_name(j->verdict),
				       (unsigned long long)au_digest_f64s(0, j->residuals, j->round));
		for (guint k = 0; k < j->workers->len; k++)
			g_string_append_printf(s, "%sn%u", k ? "," : "",
					       g_array_index(j->workers, au_node_id, k));
		g_string_append(s, " digest=");
		for (int k = 0; k < 8; k++)
			g_string_append_printf(s, "%02x", j->digest[k]);
		if (rqml_verdict_ended(j->verdict)) {
			char why[AU_RQML_REASON_LEN];
			g_string_append_printf(s, " reason=\"%s\"",
					       au_rqml_reason(j->verdict, j->round, j->fail_shard,
							      j->fail_attempts, j->fail_error, why,
							      sizeof(why)));
		}
		g_string_append_printf(s, " state=%016llx pending=%u\n",
				       (unsigned long long)(j->state ? au_digest_f64s(0, j->state,
										       j->kp->state_len)
								     : 0),
				       j->pending->len);
		for (guint k = 0; k < j->pending->len; k++) {
			const struct pending *e = g_ptr_array_index(j->pending, k);
			g_string_append_printf(s, "job %llu pending %u: shard=%u token=%llu node=n%u "
					       "data=%016llx\n", (unsigned long long)j->spec.job, k,
					       e->shard, (unsigned long long)e->token, e->node,
					       (unsigned long long)au_digest_f64s(0, e->data, e->len));
		}
	}
	return g_string_free(s, FALSE);
}

/* Register the state machine with the local Raft (at init). */
void rqml_machine_attach(struct rqml *q)
{
	struct au_raft_machine m = {.sm = q, .apply = machine_apply, .snapshot = machine_snapshot,
				    .restore = machine_restore, .name = "rqml",
				    .digest = machine_digest, .describe = machine_describe};
	au_raft_register_machine(q->raft, AU_RQML_MACHINE, &m);
}
