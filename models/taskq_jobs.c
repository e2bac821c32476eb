/* taskq_jobs.c — the jobs of the task queue (taskq.h, "Jobs"): a job's
 * lifecycle (queued, running, done, failed with a reason, cancelled), the
 * cancel and requeue operations, and the jobs' part of snapshots, digests
 * and descriptions.
 *
 * A job exists from the first enqueue of a task naming it; it keeps its
 * tasks in a tree by id and counts them per state (taskq.c's set_state
 * keeps the counts current), so its state follows from the counts and
 * two sticky facts: it was cancelled, or it failed (until a requeue
 * reopens it).  Like the rest of the queue, nothing iterates a hash table.
 */
#include <assert.h>
#include <string.h>

#include <glib.h>

#include "digest.h"
#include "models_internal.h"
#include "taskq_internal.h"
#include "trace_kinds.h"
#include "wire.h"

#define JOBS_MAGIC 0x4a4f4258u /* "JOBX": the snapshot's jobs section */

static const char *const job_state_names[] = {"queued", "running", "done", "failed", "cancelled"};
static const char *const dead_reason_names[] = {"attempts_exhausted", "malformed", "cancelled",
						 "job_failed"};
static const char *const error_names[] = {"none", "timeout", "node_dead", "reboot", "failed",
					  "permanent"};

const char *au_taskq_job_state_name(uint32_t state)
{
	return state < G_N_ELEMENTS(job_state_names) ? job_state_names[state] : "?";
}

const char *au_taskq_dead_reason_name(uint32_t reason)
{
	return reason < G_N_ELEMENTS(dead_reason_names) ? dead_reason_names[reason] : "?";
}

const char *au_taskq_error_name(uint32_t error)
{
	return error < G_N_ELEMENTS(error_names) ? error_names[error] : "?";
}

void taskq_free_job(gpointer p)
{
	struct jobinfo *ji = p;
	g_tree_destroy(ji->members);
	g_free(ji);
}

static struct jobinfo *job_find(const struct au_taskq *q, uint64_t job)
{
	return job ? g_tree_lookup(q->jobs, &job) : NULL;
}

struct jobinfo *taskq_job_of(const struct au_taskq *q, const struct au_task *t)
{
	struct jobinfo *ji = ((const struct task_priv *)t)->ji;
	return ji ? ji : job_find(q, t->job);
}

static uint32_t *count_slot(struct jobinfo *ji, uint8_t state)
{
	switch (state) {
	case AU_TASK_QUEUED: return &ji->j.queued;
	case AU_TASK_LEASED: return &ji->j.leased;
	case AU_TASK_DONE: return &ji->j.done;
	default: return &ji->j.dead;
	}
}

void taskq_job_count(struct jobinfo *ji, uint8_t from, uint8_t to)
{
	uint32_t *f = count_slot(ji, from);
	assert(*f > 0);
	(*f)--;
	(*count_slot(ji, to))++;
}

void taskq_job_add_task(struct au_taskq *q, struct au_task *t, bool trace)
{
	assert(t->job != 0);
	struct jobinfo *ji = taskq_job_of(q, t);
	if (!ji) {
		ji = g_new0(struct jobinfo, 1);
		ji->j.id = t->job;
		ji->members = au_u64_tree(NULL);
		g_tree_insert(q->jobs, &ji->j.id, ji);
	}
	g_tree_insert(ji->members, &t->id, t);
	((struct task_priv *)t)->ji = ji;
	ji->j.tasks++;
	(*count_slot(ji, t->state))++;
	if (t->attempts || t->state == AU_TASK_DONE)
		ji->started = true;
	if (trace)
		taskq_effect(q, AU_TR_TASKQ_JOB_TASK, (int64_t)t->id, (int64_t)t->job, 0);
}

bool taskq_job_stopped(const struct au_taskq *q, const struct au_task *t)
{
	const struct jobinfo *ji = taskq_job_of(q, t);
	return ji && (ji->j.state == AU_JOB_CANCELLED || ji->j.state == AU_JOB_FAILED);
}

enum au_taskq_dead_reason taskq_job_stop_reason(const struct au_taskq *q, const struct au_task *t)
{
	const struct jobinfo *ji = taskq_job_of(q, t);
	assert(ji);
	return ji->j.state == AU_JOB_CANCELLED ? AU_DEAD_CANCELLED : AU_DEAD_JOB_FAILED;
}

static void set_job_state(struct au_taskq *q, struct jobinfo *ji, enum au_taskq_job_state s)
{
	if (ji->j.state == s)
		return;
	ji->j.state = (uint8_t)s;
	int64_t why = s == AU_JOB_FAILED ? (int64_t)ji->j.fail_reason << 8 | ji->j.fail_error : 0;
	taskq_effect(q, AU_TR_TASKQ_JOB, (int64_t)ji->j.id, s, why);
	struct au_taskq_event ev = {.type = AU_TASKQ_EV_JOB, .index = q->index, .job = ji->j.id,
				    .reason = s};
	taskq_notify(q, &ev);
}

/* Dead-letter every queued task of a job that just stopped, in id order. */
static void stop_queued(struct au_taskq *q, struct jobinfo *ji, enum au_taskq_dead_reason reason)
{
	GPtrArray *victims = g_ptr_array_new();
	for (GTreeNode *it = g_tree_node_first(ji->members); it; it = g_tree_node_next(it)) {
		struct au_task *t = g_tree_node_value(it);
		if (t->state == AU_TASK_QUEUED)
			g_ptr_array_add(victims, t);
	}
	for (guint i = 0; i < victims->len; i++)
		taskq_dead_letter(q, g_ptr_array_index(victims, i), reason);
	g_ptr_array_free(victims, TRUE);
}

void taskq_job_update(struct au_taskq *q, struct au_task *t)
{
	struct jobinfo *ji = taskq_job_of(q, t);
	if (!ji || ji->j.state == AU_JOB_CANCELLED || ji->j.state == AU_JOB_FAILED)
		return;
	if (t->state == AU_TASK_LEASED)
		ji->started = true;
	if (t->state == AU_TASK_DEAD &&
	    (t->dead_reason == AU_DEAD_ATTEMPTS || t->dead_reason == AU_DEAD_MALFORMED)) {
		/* The job fails with this task's reason and last error, and
		 * what of it has not run yet never will. */
		ji->j.fail_task = t->id;
		ji->j.fail_reason = t->dead_reason;
		ji->j.fail_error = t->last_error;
		set_job_state(q, ji, AU_JOB_FAILED);
		stop_queued(q, ji, AU_DEAD_JOB_FAILED);
		return;
	}
	enum au_taskq_job_state s = ji->j.done == ji->j.tasks ? AU_JOB_DONE
				    : ji->started ? AU_JOB_RUNNING : AU_JOB_QUEUED;
	set_job_state(q, ji, s);
}

void taskq_do_cancel(struct au_taskq *q, uint64_t job)
{
	struct jobinfo *ji = job_find(q, job);
	int64_t outcome = !ji ? 0 : ji->j.state == AU_JOB_DONE ? 2
			  : ji->j.state == AU_JOB_CANCELLED ? 3 : 1;
	taskq_effect(q, AU_TR_TASKQ_CANCEL, (int64_t)job, outcome, 0);
	if (outcome != 1)
		return;
	ji->j.cancel_index = q->index;
	set_job_state(q, ji, AU_JOB_CANCELLED);
	/* Leased tasks end when their lease next shows up (taskq.c: revoke). */
	stop_queued(q, ji, AU_DEAD_CANCELLED);
}

/* Put dead letter t back in the queue, retries and attempts reset. */
static void requeue_one(struct au_taskq *q, struct au_task *t, int64_t outcome)
{
	taskq_touch(q, t);
	t->retries = 0;
	t->attempts = 0;
	t->dead_reason = 0;
	t->requeues++;
	taskq_set_state(q, t, AU_TASK_QUEUED);
	taskq_queue_insert(q, t);
	taskq_effect(q, AU_TR_TASKQ_REQUEUE, (int64_t)t->id, (int64_t)t->job, outcome);
	struct au_taskq_event ev = {.type = AU_TASKQ_EV_REQUEUED, .index = q->index, .task = t};
	taskq_notify(q, &ev);
}

void taskq_do_requeue(struct au_taskq *q, uint64_t id)
{
	struct au_task *t = taskq_find(q, id);
	struct jobinfo *ji = t ? taskq_job_of(q, t) : NULL;
	if (!t || t->state != AU_TASK_DEAD || (ji && ji->j.state == AU_JOB_CANCELLED)) {
		taskq_effect(q, AU_TR_TASKQ_REQUEUE, (int64_t)id, t ? (int64_t)t->job : 0,
			     t && t->state == AU_TASK_DEAD ? 3 : 0);
		return;
	}
	if (!ji || ji->j.state != AU_JOB_FAILED) {
		requeue_one(q, t, 1);
		if (ji)
			taskq_job_update(q, t);
		return;
	}
	/* Reopen the failed job: this task, and every task of it that died
	 * only because the job failed, run again. */
	ji->j.fail_task = 0;
	ji->j.fail_reason = 0;
	ji->j.fail_error = 0;
	ji->started = true;
	set_job_state(q, ji, AU_JOB_RUNNING);
	requeue_one(q, t, 2);
	GPtrArray *more = g_ptr_array_new();
	for (GTreeNode *it = g_tree_node_first(ji->members); it; it = g_tree_node_next(it)) {
		struct au_task *m = g_tree_node_value(it);
		if (m->state == AU_TASK_DEAD && m->dead_reason == AU_DEAD_JOB_FAILED)
			g_ptr_array_add(more, m);
	}
	for (guint i = 0; i < more->len; i++)
		requeue_one(q, g_ptr_array_index(more, i), 2);
	g_ptr_array_free(more, TRUE);
}

/* ---- reading ------------------------------------------------------------------------ */

bool au_taskq_job(const struct au_taskq *q, uint64_t job, struct au_taskq_job *out)
{
	const struct jobinfo *ji = job_find(q, job);
	if (ji)
		*out = ji->j;
	return ji != NULL;
}

void au_taskq_each_job(const struct au_taskq *q, uint64_t from,
		       bool (*fn)(void *ctx, const struct au_taskq_job *j), void *ctx)
{
	GTreeNode *it = g_tree_lower_bound(q->jobs, &from);
	for (; it; it = g_tree_node_next(it)) {
		const struct jobinfo *ji = g_tree_node_value(it);
		if (!fn(ctx, &ji->j))
			return;
	}
}

void au_taskq_each_job_task(const struct au_taskq *q, uint64_t job, uint64_t from,
			    bool (*fn)(void *ctx, const struct au_task *t), void *ctx)
{
	const struct jobinfo *ji = job_find(q, job);
	GTreeNode *it = ji ? g_tree_lower_bound(ji->members, &from) : NULL;
	for (; it; it = g_tree_node_next(it))
		if (!fn(ctx, g_tree_node_value(it)))
			return;
}

void au_taskq_each_dead(const struct au_taskq *q, uint64_t from,
			bool (*fn)(void *ctx, const struct au_task *t), void *ctx)
{
	for (GTreeNode *it = g_tree_lower_bound(q->dead, &from); it; it = g_tree_node_next(it))
		if (!fn(ctx, g_tree_node_value(it)))
			return;
}

/* ---- snapshots, digest, description ------------------------------------------------------ */

void taskq_jobs_put_ext(struct taskq_sbuf *ext, const struct au_task *t)
{
	uint8_t *w = taskq_sbuf_room(ext, 22);
	w = taskq_le(w, t->id, 8);
	w = taskq_le(w, t->job, 8);
	w = taskq_le(w, t->dead_reason, 1);
	w = taskq_le(w, t->last_error, 1);
	taskq_le(w, t->requeues, 4);
}

/* The jobs section: written only when some task has a job, a reason, an
 * error or a requeue, so a queue without them keeps its old snapshot
 * bytes.  Tasks' extension fields (id order), then the jobs (id order). */
void taskq_jobs_snapshot(struct au_taskq *q, struct taskq_sbuf *out, const struct taskq_sbuf *ext,
			 uint32_t n_ext)
{
	if (n_ext == 0 && g_tree_nnodes(q->jobs) == 0)
		return;
	uint8_t *w = taskq_sbuf_room(out, 8 + ext->len + 4);
	w = taskq_le(w, JOBS_MAGIC, 4);
	w = taskq_le(w, n_ext, 4);
	if (ext->len)
		memcpy(w, ext->p, ext->len);
	taskq_le(w + ext->len, (uint64_t)g_tree_nnodes(q->jobs), 4);
	for (GTreeNode *it = g_tree_node_first(q->jobs); it; it = g_tree_node_next(it)) {
		const struct jobinfo *ji = g_tree_node_value(it);
		w = taskq_sbuf_room(out, 28);
		w = taskq_le(w, ji->j.id, 8);
		w = taskq_le(w, ji->j.state, 1);
		w = taskq_le(w, ji->started, 1);
		w = taskq_le(w, ji->j.fail_reason, 1);
		w = taskq_le(w, ji->j.fail_error, 1);
		w = taskq_le(w, ji->j.fail_task, 8);
		taskq_le(w, ji->j.cancel_index, 8);
	}
}

bool taskq_jobs_restore(struct au_taskq *s, struct au_rbuf *rb)
{
	if (rb->pos == rb->len)
		return true; /* no section */
	if (au_get_u32(rb) != JOBS_MAGIC)
		return false;
	uint32_t n_ext = au_get_u32(rb);
	for (uint32_t i = 0; i < n_ext && !rb->short_read; i++) {
		uint64_t id = au_get_u64(rb), job = au_get_u64(rb);
		uint8_t reason = au_get_u8(rb), err = au_get_u8(rb);
		uint32_t requeues = au_get_u32(rb);
		struct au_task *t = taskq_find(s, id);
		if (rb->short_read || !t || reason >= G_N_ELEMENTS(dead_reason_names) ||
		    err >= G_N_ELEMENTS(error_names))
			return false;
		t->job = job;
		t->dead_reason = reason;
		t->last_error = err;
		t->requeues = requeues;
		/* Its digest share covers these fields too. */
		struct task_priv *p = (struct task_priv *)t;
		s->task_sum -= p->share;
		p->share = taskq_task_hash(p);
		s->task_sum += p->share;
		if (job)
			taskq_job_add_task(s, t, false);
	}
	uint32_t n_jobs = au_get_u32(rb);
	if (rb->short_read || n_jobs != (uint32_t)g_tree_nnodes(s->jobs))
		return false;
	for (uint32_t i = 0; i < n_jobs && !rb->short_read; i++) {
		uint64_t id = au_get_u64(rb);
		uint8_t state = au_get_u8(rb), started = au_get_u8(rb);
		uint8_t fr = au_get_u8(rb), fe = au_get_u8(rb);
		uint64_t fail_task = au_get_u64(rb), cancel_index = au_get_u64(rb);
		struct jobinfo *ji = job_find(s, id);
		if (rb->short_read || !ji || state >= G_N_ELEMENTS(job_state_names))
			return false;
		ji->j.state = state;
		ji->started = started != 0;
		ji->j.fail_reason = fr;
		ji->j.fail_error = fe;
		ji->j.fail_task = fail_task;
		ji->j.cancel_index = cancel_index;
	}
	return !rb->short_read;
}

uint64_t taskq_jobs_digest(const struct au_taskq *q)
{
	uint64_t h = 0;
	for (GTreeNode *it = g_tree_node_first(q->jobs); it; it = g_tree_node_next(it)) {
		const struct jobinfo *ji = g_tree_node_value(it);
		h = au_digest_add(h, ji->j.id);
		h = au_digest_add(h, (uint64_t)ji->j.state << 32 | (uint64_t)ji->started << 24 |
					     (uint64_t)ji->j.fail_reason << 8 | ji->j.fail_error);
		h = au_digest_add(h, ji->j.fail_task);
		h = au_digest_add(h, ji->j.cancel_index);
	}
	return h;
}

void taskq_jobs_describe(const struct au_taskq *q, GString *out)
{
	for (GTreeNode *it = g_tree_node_first(q->jobs); it; it = g_tree_node_next(it)) {
		const struct jobinfo *ji = g_tree_node_value(it);
		const struct au_taskq_job *j = &ji->j;
		g_string_append_printf(out, "job %llu: state=%s started=%d tasks=%u queued=%u "
				       "leased=%u done=%u dead=%u fail_task=%llu fail=%s/%s "
				       "cancel_index=%llu\n", (unsigned long long)j->id,
				       au_taskq_job_state_name(j->state), ji->started, j->tasks,
				       j->queued, j->leased, j->done, j->dead,
				       (unsigned long long)j->fail_task,
				       au_taskq_dead_reason_name(j->fail_reason),
				       au_taskq_error_name(j->fail_error),
				       (unsigned long long)j->cancel_index);
	}
}
