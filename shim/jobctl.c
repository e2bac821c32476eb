/* jobctl.c — the jobs and dead letters requests: their encoding and what
 * the leader answers from its replica of the task queue (see jobctl.h). */
#include "jobctl.h"

#include <string.h>

#include "ctlproto.h"
#include "orchestrator/orchestrator.h"
#include "taskq.h"
#include "wire.h"

/* ---- encoding ------------------------------------------------------------------ */

size_t au_jobctl_encode_req(const struct au_jobctl_req *q, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_CTL_JOBS_REQ);
	au_put_u64(&w, q->nonce);
	au_put_u8(&w, q->op);
	au_put_u64(&w, q->id);
	au_put_u64(&w, q->from);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_jobctl_decode_req(const uint8_t *buf, size_t len, struct au_jobctl_req *q)
{
	struct au_rbuf r;
	if (!au_rbuf_unseal(&r, buf, len))
		return false;
	uint8_t type = au_get_u8(&r);
	q->nonce = au_get_u64(&r);
	q->op = au_get_u8(&r);
	q->id = au_get_u64(&r);
	q->from = au_get_u64(&r);
	bool needs_id = q->op == AU_JOBCTL_SHOW || q->op == AU_JOBCTL_CANCEL ||
			q->op == AU_JOBCTL_REQUEUE;
	return !r.short_read && r.pos == r.len && type == AU_CTL_JOBS_REQ &&
	       q->op >= AU_JOBCTL_LIST && q->op <= AU_JOBCTL_REQUEUE && (!needs_id || q->id != 0);
}

size_t au_jobctl_encode_resp(const struct au_jobctl_resp *a, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_CTL_JOBS_RESP);
	au_put_u64(&w, a->nonce);
	au_put_u8(&w, a->answer);
	au_put_u32(&w, a->leader);
	au_put_u8(&w, a->result);
	au_put_u64(&w, a->next);
	uint32_t n = a->n_rows < AU_JOBCTL_ROWS ? a->n_rows : AU_JOBCTL_ROWS;
	au_put_u32(&w, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct au_jobctl_row *r = &a->rows[i];
		au_put_u8(&w, r->kind);
		au_put_u64(&w, r->id);
		au_put_u8(&w, r->state);
		au_put_u8(&w, r->reason);
		au_put_u8(&w, r->error);
		au_put_u64(&w, r->ref);
		au_put_u32(&w, r->a);
		au_put_u32(&w, r->b);
		au_put_u32(&w, r->c);
		au_put_u32(&w, r->d);
		au_put_u32(&w, r->e);
	}
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_jobctl_decode_resp(const uint8_t *buf, size_t len, struct au_jobctl_resp *a)
{
	struct au_rbuf r;
	if (!au_rbuf_unseal(&r, buf, len))
		return false;
	uint8_t type = au_get_u8(&r);
	a->nonce = au_get_u64(&r);
	a->answer = au_get_u8(&r);
	a->leader = au_get_u32(&r);
	a->result = au_get_u8(&r);
	a->next = au_get_u64(&r);
	a->n_rows = au_get_u32(&r);
	if (r.short_read || type != AU_CTL_JOBS_RESP || a->answer >= AU_CTL_ANSWERS_ ||
	    a->result > AU_JOBCTL_CANCELLED || a->n_rows > AU_JOBCTL_ROWS)
		return false;
	for (uint32_t i = 0; i < a->n_rows; i++) {
		struct au_jobctl_row *x = &a->rows[i];
		x->kind = au_get_u8(&r);
		x->id = au_get_u64(&r);
		x->state = au_get_u8(&r);
		x->reason = au_get_u8(&r);
		x->error = au_get_u8(&r);
		x->ref = au_get_u64(&r);
		x->a = au_get_u32(&r);
		x->b = au_get_u32(&r);
		x->c = au_get_u32(&r);
		x->d = au_get_u32(&r);
		x->e = au_get_u32(&r);
		if (x->kind != AU_JOBCTL_ROW_JOB && x->kind != AU_JOBCTL_ROW_TASK)
			return false;
	}
	return !r.short_read && r.pos == r.len;
}

/* ---- the leader's side ------------------------------------------------------------- */

static void job_row(struct au_jobctl_row *r, const struct au_taskq_job *j)
{
	*r = (struct au_jobctl_row){.kind = AU_JOBCTL_ROW_JOB, .id = j->id, .state = j->state,
				    .reason = j->fail_reason, .error = j->fail_error,
				    .ref = j->fail_task, .a = j->tasks, .b = j->queued,
				    .c = j->leased, .d = j->done, .e = j->dead};
}

static void task_row(struct au_jobctl_row *r, const struct au_task *t)
{
	*r = (struct au_jobctl_row){.kind = AU_JOBCTL_ROW_TASK, .id = t->id, .state = t->state,
				    .reason = t->dead_reason, .error = t->last_error,
				    .ref = t->job, .a = t->retries, .b = t->attempts,
				    .c = t->requeues, .d = t->state == AU_TASK_LEASED ? t->node : 0,
				    .e = t->max_retries};
}

/* Fill rows page by page: stop with `next` set when the page is full. */
static bool add_job(void *ctx, const struct au_taskq_job *j)
{
	struct au_jobctl_resp *a = ctx;
	if (a->n_rows == AU_JOBCTL_ROWS) {
		a->next = j->id;
		return false;
	}
	job_row(&a->rows[a->n_rows++], j);
	return true;
}

static bool add_task(void *ctx, const struct au_task *t)
{
	struct au_jobctl_resp *a = ctx;
	if (a->n_rows == AU_JOBCTL_ROWS) {
		a->next = t->id;
		return false;
	}
	task_row(&a->rows[a->n_rows++], t);
	return true;
}

bool au_jobctl_serve(void *orch, const struct au_jobctl_req *q, struct au_jobctl_resp *a)
{
	const struct au_taskq *tq = au_orch_queue(orch);
	struct au_taskq_job j;
	a->n_rows = 0;
	a->next = 0;
	a->result = AU_JOBCTL_OK;
	switch ((enum au_jobctl_op)q->op) {
	case AU_JOBCTL_LIST:
		au_taskq_each_job(tq, q->from, add_job, a);
		return true;
	case AU_JOBCTL_DEAD:
		au_taskq_each_dead(tq, q->from, add_task, a);
		return true;
	case AU_JOBCTL_SHOW:
		if (!au_taskq_job(tq, q->id, &j)) {
			a->result = AU_JOBCTL_UNKNOWN;
			return true;
		}
		job_row(&a->rows[a->n_rows++], &j);
		au_taskq_each_job_task(tq, q->id, q->from, add_task, a);
		return true;
	case AU_JOBCTL_CANCEL:
		if (!au_taskq_job(tq, q->id, &j)) {
			a->result = AU_JOBCTL_UNKNOWN;
			return true;
		}
		job_row(&a->rows[a->n_rows++], &j);
		if (j.state == AU_JOB_DONE)
			a->result = AU_JOBCTL_JOB_DONE;
		return j.state == AU_JOB_DONE || j.state == AU_JOB_CANCELLED;
	case AU_JOBCTL_REQUEUE: {
		const struct au_task *t = au_taskq_get(tq, q->id);
		if (!t) {
			a->result = AU_JOBCTL_UNKNOWN;
			return true;
		}
		task_row(&a->rows[a->n_rows++], t);
		bool cancelled = t->job && au_taskq_job(tq, t->job, &j) && j.state == AU_JOB_CANCELLED;
		if (t->state == AU_TASK_DEAD && cancelled) {
			a->result = AU_JOBCTL_CANCELLED;
			return true;
		}
		if (t->state == AU_TASK_DEAD)
			return false; /* not yet requeued */
		/* Not dead: requeued (by this request or another), or never dead. */
		if (t->requeues == 0)
			a->result = AU_JOBCTL_NOT_DEAD;
		return true;
	}
	}
	return true;
}

void au_jobctl_propose(void *orch, const struct au_jobctl_req *q)
{
	if (q->op == AU_JOBCTL_CANCEL)
		au_orch_cancel(orch, q->id);
	else if (q->op == AU_JOBCTL_REQUEUE)
		au_orch_requeue(orch, q->id);
}
