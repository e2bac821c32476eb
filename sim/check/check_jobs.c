/* check_jobs.c — job_lifecycle: the task queue's jobs (models/taskq.h,
 * "Jobs") keep their lifecycle, judged from the queue's traces in log
 * order (like check_exec.c, it follows the first replica to apply each
 * command: TASKQ_ENTRY opens a command, the records up to the next one
 * are its effects).
 *
 *   - once a job's cancel applied (TASKQ_JOB ... cancelled), the job never
 *     changes state again (in particular it is never done), and no task of
 *     it is leased, acked or requeued afterwards;
 *   - a failed job has a reason (the dead reason and last error of the task
 *     that failed it), and no task of it is leased or acked while it stays
 *     failed (a requeue that reopens it ends that);
 *   - a job is done only when every task of it was acked;
 *   - a dead letter's reason agrees with its job: cancelled only in a
 *     cancelled job, job_failed only in a failed one;
 *   - every requeued dead letter is leased again (or dead-lettered again,
 *     as when its job is cancelled meanwhile) before the run ends.
 */
#include "check_jobs.h"

#include <stdio.h>

#include "taskq.h"
#include "trace_kinds.h"

struct jview {
	uint8_t state;        /* enum au_taskq_job_state */
	uint32_t tasks, done;
	uint64_t cancel_index; /* log index of the cancel, 0: none */
};

struct job_check {
	uint64_t max_index, index;
	gboolean *accept;     /* [nodes+1]: this node's current command is the first */
	uint32_t nodes;
	GHashTable *task_job; /* task id -> job id (boxed): tasks of jobs only */
	GHashTable *jobs;     /* job id -> struct jview */
	GHashTable *requeued; /* task id -> log index of the requeue: not leased again yet */
	uint64_t cancels, fails, requeues, refused_acks;
};

void *au_check_jobs_create(struct au_sim *sim)
{
	struct job_check *x = g_new0(struct job_check, 1);
	x->nodes = sim->nodes;
	x->accept = g_new0(gboolean, sim->nodes + 1);
	x->task_job = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	x->jobs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	x->requeued = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	return x;
}

static struct jview *job_of_task(struct job_check *x, int64_t task, uint64_t *job)
{
	const uint64_t *j = g_hash_table_lookup(x->task_job, &task);
	*job = j ? *j : 0;
	return j ? g_hash_table_lookup(x->jobs, j) : NULL;
}

static void put_u64(GHashTable *t, int64_t key, uint64_t v)
{
	g_hash_table_replace(t, g_memdup2(&key, sizeof(key)), g_memdup2(&v, sizeof(v)));
}

static void job_record(struct job_check *x, struct au_sim *sim, au_node_id node, int64_t job,
		       int64_t state, int64_t why)
{
	struct jview *j = g_hash_table_lookup(x->jobs, &job);
	if (!j)
		return;
	if (j->state == AU_JOB_CANCELLED) {
		au_sim_violate(sim, "job_lifecycle", node, "job %" G_GINT64_FORMAT " became %s at "
				"entry %" G_GUINT64_FORMAT " after its cancel applied (entry %"
				G_GUINT64_FORMAT ")", job, au_taskq_job_state_name((uint32_t)state),
			       x->index, j->cancel_index);
		return;
	}
	if (state == AU_JOB_DONE && j->done != j->tasks) {
		au_sim_violate(sim, "job_lifecycle", node, "job %" G_GINT64_FORMAT " done with %u of "
				"its %u tasks acked", job, j->done, j->tasks);
		return;
	}
	if (state == AU_JOB_FAILED) {
		x->fails++;
		uint32_t reason = (uint32_t)(why >> 8), error = (uint32_t)(why & 0xff);
		bool has_reason = (reason == AU_DEAD_ATTEMPTS && error != AU_TASKQ_ERR_NONE) ||
				  reason == AU_DEAD_MALFORMED;
		if (!has_reason) {
			au_sim_violate(sim, "job_lifecycle", node, "job %" G_GINT64_FORMAT " failed "
					"without a reason (%s, last error %s)", job,
				       au_taskq_dead_reason_name(reason), au_taskq_error_name(error));
			return;
		}
	}
	if (state == AU_JOB_CANCELLED) {
		j->cancel_index = x->index;
		x->cancels++;
	}
	j->state = (uint8_t)state;
}

static void queue_record(struct job_check *x, struct au_sim *sim, au_node_id node, uint16_t kind,
			 int64_t a, int64_t b, int64_t c)
{
	uint64_t job = 0;
	struct jview *j = kind == AU_TR_TASKQ_JOB || kind == AU_TR_TASKQ_JOB_TASK
				  ? NULL : job_of_task(x, a, &job);
	switch (kind) {
	case AU_TR_TASKQ_JOB_TASK: {
		if (g_hash_table_contains(x->task_job, &a))
			break;
		put_u64(x->task_job, a, (uint64_t)b);
		struct jview *v = g_hash_table_lookup(x->jobs, &b);
		if (!v) {
			v = g_new0(struct jview, 1);
			g_hash_table_insert(x->jobs, g_memdup2(&b, sizeof(b)), v);
		}
		v->tasks++;
		break;
	}
	case AU_TR_TASKQ_JOB:
		job_record(x, sim, node, a, b, c);
		break;
	case AU_TR_TASKQ_GRANT:
		g_hash_table_remove(x->requeued, &a);
		if (j && (j->state == AU_JOB_CANCELLED || j->state == AU_JOB_FAILED))
			au_sim_violate(sim, "job_lifecycle", node, "task %" G_GINT64_FORMAT " of %s job %"
					G_GUINT64_FORMAT " leased at entry %" G_GUINT64_FORMAT, a,
				       au_taskq_job_state_name(j->state), job, x->index);
		break;
	case AU_TR_TASKQ_ACK:
		if (!j)
			break;
		if (j->state == AU_JOB_CANCELLED || j->state == AU_JOB_FAILED) {
			au_sim_violate(sim, "job_lifecycle", node, "task %" G_GINT64_FORMAT " of job %"
					G_GUINT64_FORMAT " acked as completed at entry %" G_GUINT64_FORMAT
					" after the job %s (cancel at entry %" G_GUINT64_FORMAT ")", a, job,
				       x->index, j->state == AU_JOB_CANCELLED ? "was cancelled" : "failed",
				       j->cancel_index);
			return;
		}
		j->done++;
		break;
	case AU_TR_TASKQ_REVOKE:
		x->refused_acks += c == 2;
		break;
	case AU_TR_TASKQ_DEAD_LETTER:
		g_hash_table_remove(x->requeued, &a);
		if ((c == AU_DEAD_CANCELLED && (!j || j->state != AU_JOB_CANCELLED)) ||
		    (c == AU_DEAD_JOB_FAILED && (!j || j->state != AU_JOB_FAILED))) {
			au_sim_violate(sim, "job_lifecycle", node, "task %" G_GINT64_FORMAT " dead-lettered "
					"as %s while its job %" G_GUINT64_FORMAT " is %s", a,
				       au_taskq_dead_reason_name((uint32_t)c), job,
				       j ? au_taskq_job_state_name(j->state) : "unknown");
		}
		break;
	case AU_TR_TASKQ_REQUEUE:
		if (c != 1 && c != 2)
			break;
		if (j && j->state == AU_JOB_CANCELLED) {
			au_sim_violate(sim, "job_lifecycle", node, "task %" G_GINT64_FORMAT " of cancelled "
					"job %" G_GUINT64_FORMAT " requeued", a, job);
			return;
		}
		x->requeues++;
		put_u64(x->requeued, a, x->index);
		break;
	default:
		break;
	}
}

const struct au_check_kinds au_check_jobs_kinds[] = {
	{AU_TR_TASKQ_ENTRY, AU_TR_LOCK_ENTRY - 1}, /* the range below */
	AU_CHECK_KINDS_END,
};

void au_check_jobs_event(void *st, struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
			 int64_t b, int64_t c)
{
	struct job_check *x = st;
	if (kind < AU_TR_TASKQ_ENTRY || kind >= AU_TR_LOCK_ENTRY || node > x->nodes)
		return;
	if (kind == AU_TR_TASKQ_ENTRY) {
		x->accept[node] = (uint64_t)a > x->max_index;
		if (x->accept[node]) {
			x->max_index = (uint64_t)a;
			x->index = (uint64_t)a;
		}
		return;
	}
	if (x->accept[node])
		queue_record(x, sim, node, kind, a, b, c);
}

void au_check_jobs_end(void *st, struct au_sim *sim)
{
	struct job_check *x = st;
	/* The smallest id: the same whatever the table's order. */
	uint64_t n = 0, first = 0, at = 0;
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, x->requeued);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		uint64_t id = *(uint64_t *)k;
		if (!n || id < first) {
			first = id;
			at = *(uint64_t *)v;
		}
		n++;
	}
	if (!n && g_hash_table_size(x->jobs) == 0 && x->requeues == 0) {
		/* No job in the run: a pass would claim what was never judged. */
		au_check_no_verdict(sim, AU_VERDICT_NOT_RUN, "no job was submitted and no dead letter requeued in this run: nothing to judge");
		return;
	}
	if (n)
		au_sim_violate(sim, "job_lifecycle", 0, "%" G_GUINT64_FORMAT " requeued dead letters "
				"never ran again, e.g. task %" G_GUINT64_FORMAT " (requeued at entry %"
				G_GUINT64_FORMAT ")", n, first, at);
}

void au_check_jobs_note(void *st, struct au_sim *sim, char *buf, size_t len)
{
	struct job_check *x = st;
	(void)sim;
	snprintf(buf, len, "%u jobs, %" G_GUINT64_FORMAT " cancelled, %" G_GUINT64_FORMAT
		 " failures, %" G_GUINT64_FORMAT " requeues, %" G_GUINT64_FORMAT " acks refused",
		 g_hash_table_size(x->jobs), x->cancels, x->fails, x->requeues, x->refused_acks);
}

void au_check_jobs_destroy(void *st)
{
	struct job_check *x = st;
	g_free(x->accept);
	g_hash_table_destroy(x->task_job);
	g_hash_table_destroy(x->jobs);
	g_hash_table_destroy(x->requeued);
	g_free(x);
}
