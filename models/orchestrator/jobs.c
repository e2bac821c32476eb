/* jobs.c — the job workload on the leader's front end ([workload]
 * job_cancel, dead_requeue): cancels of a share of the workload's jobs
 * once one of their tasks is done, and one requeue of every dead letter
 * that was not cancelled.  Both are decided from the replicated queue
 * alone (a pure function of its state and the job id), so any leader that
 * takes over proposes the same; proposals are idempotent in the queue and
 * paced by a lease per id, so a lost one is proposed again.
 */
#include <glib.h>

#include "hashes.h"
#include "orchestrator_internal.h"

struct job_walk {
	struct au_orch *o;
	au_time now;
	uint32_t proposed;
};

/* Whether `key` in `table` was proposed less than a lease ago; if not,
 * note it as proposed now. */
static bool paced(struct au_orch *o, GHashTable *table, uint64_t key, au_time now)
{
	au_time *at = g_hash_table_lookup(table, &key);
	if (at && !orch_waited(now, *at, o->cfg->lease_ns))
		return true;
	if (!at) {
		at = g_new(au_time, 1);
		g_hash_table_insert(table, g_memdup2(&key, sizeof(key)), at);
	}
	*at = now;
	return false;
}

/* Whether the workload cancels job `job`: job_cancel percent of them, by
 * a hash of the id. */
static bool cancel_chosen(const struct au_orch *o, uint64_t job)
{
	return au_hash_mix64(job ^ UINT64_C(0x63616e63656c)) % 100 < o->cfg->job_cancel;
}

static bool cancel_one(void *ctx, const struct au_taskq_job *j)
{
	struct job_walk *w = ctx;
	bool open = j->state == AU_JOB_QUEUED || j->state == AU_JOB_RUNNING;
	if (open && j->done >= 1 && cancel_chosen(w->o, j->id) &&
	    !paced(w->o, w->o->cancel_sent, j->id, w->now)) {
		au_orch_cancel(w->o, j->id);
		w->proposed++;
	}
	return w->proposed < 64;
}

static bool requeue_one(void *ctx, const struct au_task *t)
{
	struct job_walk *w = ctx;
	if (t->requeues == 0 &&
	    (t->dead_reason == AU_DEAD_ATTEMPTS || t->dead_reason == AU_DEAD_MALFORMED) &&
	    !paced(w->o, w->o->requeue_sent, t->id, w->now)) {
		au_orch_requeue(w->o, t->id);
		w->proposed++;
	}
	return w->proposed < 64;
}

void orch_job_workload(struct au_orch *o, au_time now)
{
	if (!o->leading)
		return;
	struct job_walk w = {o, now, 0};
	if (o->cfg->job_cancel)
		au_taskq_each_job(o->q, 0, cancel_one, &w);
	w.proposed = 0;
	if (o->cfg->dead_requeue)
		au_taskq_each_dead(o->q, 0, requeue_one, &w);
}
