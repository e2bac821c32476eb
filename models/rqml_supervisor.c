/* rqml_supervisor.c — RQML's supervisor, on the Raft leader only (see
 * rqml.c for the design): it starts the configured jobs, enqueues every
 * round's shard tasks and replaces the failed ones, fails a job whose
 * shard has used its last attempt, closes a round once every shard's
 * accepted output is in the log, records finished jobs (failed and
 * cancelled ones too) in ONE and starts their fan-out children.  What it remembers is leader
 * memory only: a new leader rebuilds it from the log and the queue.
 */
#include "rqml.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "models_internal.h"
#include "one.h"
#include "orchestrator/orchestrator.h"
#include "raft/raft.h"
#include "rqml_internal.h"
#include "taskq.h"
#include "trace_kinds.h"
#include "wire.h"

/* ---- the supervisor (leader only) ---------------------------------------------------- */

static void proposal_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len)
{
	(void)ctx, (void)ok, (void)index, (void)result, (void)len;
}

/* Submit a command for this machine; false if not leader. */
bool rqml_propose(struct rqml *q, const uint8_t *cmd, size_t len, uint8_t machine,
		  uint64_t client, uint64_t seq)
{
	if (!rqml_is_leader(q))
		return false;
	q->proposals++;
	return au_raft_submit(q->raft, machine, client, seq, cmd, len, proposal_done, NULL) == 0;
}

void rqml_propose_start(struct rqml *q, const struct au_rqml_job_spec *spec)
{
	au_time now = au_now(q->env);
	au_time *sent = g_hash_table_lookup(q->start_sent, &spec->job);
	if (sent && now - *sent < q->cfg->enqueue_retry_ns)
		return; /* proposed recently: wait for it to apply */
	if (!sent) {
		sent = g_new(au_time, 1);
		g_hash_table_insert(q->start_sent, g_memdup2(&spec->job, sizeof(spec->job)), sent);
	}
	*sent = now;
	uint8_t buf[128];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, OP_START);
	rqml_put_spec(&w, spec);
	assert(!w.overflow);
	rqml_propose(q, buf, w.len, AU_RQML_MACHINE, 0, 0);
}

static void propose_close(struct rqml *q, struct rjob *j, const uint64_t *tokens)
{
	uint32_t S = j->spec.params.shards;
	size_t cap = 32 + 8 * (size_t)S;
	uint8_t *buf = au_xcalloc(cap, 1);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, OP_CLOSE);
	au_put_u64(&w, j->spec.job);
	au_put_u32(&w, j->round + 1);
	au_put_u32(&w, S);
	for (uint32_t s = 0; s < S; s++)
		au_put_u64(&w, tokens[s]);
	if (rqml_propose(q, buf, w.len, AU_RQML_MACHINE, 0, 0)) {
		j->close_inflight_round = j->round + 1;
		j->close_sent_ns = au_now(q->env);
	}
	free(buf);
}

static void propose_one(struct rqml *q, struct rjob *j)
{
	struct au_one_record r;
	memset(&r, 0, sizeof(r));
	r.job = j->spec.job;
	r.parent = j->spec.parent;
	r.kind = (uint8_t)j->spec.params.kind;
	r.verdict = j->verdict;
	memcpy(r.digest, j->digest, 32);
	au_rqml_reason(j->verdict, j->round, j->fail_shard, j->fail_attempts, j->fail_error, r.reason,
		       sizeof(r.reason));
#ifdef AU_BUG_RQML_FAIL_SILENT
	/* Planted bug: a failed job's record says it converged, without a
	 * reason — a reader of ONE takes a job that never finished for a
	 * result. */
	if (r.verdict == AU_KERNEL_FAILED) {
		r.verdict = AU_KERNEL_CONVERGED;
		r.reason[0] = '\0';
	}
#endif
	r.rounds = j->round;
	r.n_residuals = j->round < AU_ONE_MAX_RESIDUALS ? j->round : AU_ONE_MAX_RESIDUALS;
	r.residuals = j->residuals + (j->round - r.n_residuals);
	r.n_workers = j->workers->len;
	r.workers = (uint32_t *)(void *)j->workers->data;
	size_t cap = au_one_put_size(&r);
	uint8_t *buf = au_xcalloc(cap, 1);
	size_t n = au_one_encode_put(&r, buf, cap);
	/* One session per job: a retry (here or on a new leader) is applied
	 * at most once by Raft, and ONE refuses a second record anyway. */
	if (n && rqml_propose(q, buf, n, AU_ONE_MACHINE, ONE_CLIENT_BASE + j->spec.job, 1)) {
		j->one_inflight = true;
		j->one_sent_ns = au_now(q->env);
	}
	free(buf);
}

/* Propose ending job j (FAIL of shard s of `round` after `attempts`
 * attempts, or CANCEL if `cancel`); again only after enqueue_retry if it
 * seems lost. */
static void propose_end(struct rqml *q, struct rjob *j, bool cancel, uint32_t round, uint32_t s,
			uint32_t attempts, uint8_t error)
{
	au_time now = au_now(q->env);
	if (j->end_inflight && now - j->end_sent_ns < q->cfg->enqueue_retry_ns)
		return;
	if (cancel) {
		if (au_rqml_cancel((struct au_rqml *)q, j->spec.job) != 0)
			return;
	} else {
		uint8_t buf[32];
		struct au_wbuf w;
		au_wbuf_init(&w, buf, sizeof(buf));
		au_put_u8(&w, OP_FAIL);
		au_put_u64(&w, j->spec.job);
		au_put_u32(&w, round);
		au_put_u32(&w, s);
		au_put_u32(&w, attempts);
		au_put_u8(&w, error);
		assert(!w.overflow);
		if (!rqml_propose(q, buf, w.len, AU_RQML_MACHINE, 0, 0))
			return;
	}
	j->end_inflight = true;
	j->end_sent_ns = now;
}

/* The supervisor's view of round `round` of job j: reset when it moves on. */
static void sup_round(struct rjob *j, uint32_t round)
{
	if (j->sup_round == round)
		return;
	j->sup_round = round;
	uint32_t S = j->spec.params.shards;
	memset(j->attempt, 0, S * sizeof(uint32_t));
	memset(j->enqueued_ns, 0, S * sizeof(au_time));
	memset(j->done_seen_ns, 0, S * sizeof(au_time));
}

static void enqueue_shard(struct rqml *q, struct rjob *j, uint32_t round, uint32_t s)
{
	uint8_t payload[32];
	struct au_wbuf w;
	au_wbuf_init(&w, payload, sizeof(payload));
	au_put_u64(&w, j->spec.job);
	au_put_u32(&w, round);
	au_put_u32(&w, s);
	struct au_task_spec t = {
		.id = au_rqml_task_id(j->spec.job, round, s, j->attempt[s]),
		.kind = AU_RQML_TASK_KIND,
		/* A topic per (job, shard): affinity keeps a shard on the node
		 * that computed it last, and spreads a job's shards. */
		.topic = (uint32_t)(j->spec.job << 10 | s),
		.priority = 0,
		.caps = 0,
		.max_retries = q->cfg->task_retries,
		.rounds = 1,
		.payload = payload,
		.payload_len = (uint32_t)w.len,
	};
	if (au_orch_enqueue(q->orch, &t) == 0)
		j->enqueued_ns[s] = au_now(q->env);
}

/* Drive one running job: enqueue its shard tasks, replace the ones that
 * failed, and close the round once every shard's accepted output is in. */
static void supervise_job(struct rqml *q, struct rjob *j)
{
	const struct au_taskq *tq = au_orch_queue(q->orch);
	uint32_t S = j->spec.params.shards, round = j->round + 1;
	au_time now = au_now(q->env);
	sup_round(j, round);
	if (j->close_inflight_round == round && now - j->close_sent_ns < q->cfg->enqueue_retry_ns)
		return; /* wait for it to apply; propose again if it seems lost */
	uint64_t cancel_job;
	uint32_t cancel_rounds;
	if (au_rqml_parse_cancel(q->cfg->cancel, &cancel_job, &cancel_rounds) &&
	    cancel_job == j->spec.job && j->round >= cancel_rounds) {
		propose_end(q, j, true, 0, 0, 0, 0); /* the scripted operator's cancel */
		return;
	}
	/* A shard may use this many attempts (task ids) per round; the task id
	 * has room for SUP_ATTEMPT_MAX. */
	uint32_t limit = q->cfg->shard_attempts;
	if (limit < 1 || limit > SUP_ATTEMPT_MAX)
		limit = SUP_ATTEMPT_MAX;
	uint64_t tokens[AU_KERNEL_MAX_SHARDS]; /* S <= AU_KERNEL_MAX_SHARDS (au_kernel_check) */
	memset(tokens, 0, S * sizeof(uint64_t));
	bool ready = true;
	for (uint32_t s = 0; s < S; s++) {
		/* The current attempt is the newest one the queue knows. */
		while (j->attempt[s] + 1 < SUP_ATTEMPT_MAX &&
		       au_taskq_get(tq, au_rqml_task_id(j->spec.job, round, s, j->attempt[s] + 1)))
			j->attempt[s]++;
		const struct au_task *t =
			au_taskq_get(tq, au_rqml_task_id(j->spec.job, round, s, j->attempt[s]));
		if (!t) {
			if (!j->enqueued_ns[s] || now - j->enqueued_ns[s] >= q->cfg->enqueue_retry_ns)
				enqueue_shard(q, j, round, s);
			ready = false;
			continue;
		}
		bool replace = t->state == AU_TASK_DEAD;
		if (t->state == AU_TASK_DONE && !rqml_pending_find(j, s, t->done_token)) {
			/* Accepted, but its output has not reached the log. */
			if (!j->done_seen_ns[s])
				j->done_seen_ns[s] = now;
			else if (now - j->done_seen_ns[s] >= q->cfg->data_wait_ns)
				replace = true;
		}
		if (replace && j->attempt[s] + 1 >= limit) {
			/* That was the shard's last attempt: the job fails, with the
			 * error of that attempt as its reason. */
			uint8_t err = t->state == AU_TASK_DEAD ? t->last_error : AU_RQML_ERR_OUTPUT_LOST;
			propose_end(q, j, false, round, s, j->attempt[s] + 1, err);
			return;
		}
		if (replace) {
			j->attempt[s]++;
			j->done_seen_ns[s] = 0;
			rqml_trace(q, AU_TR_RQML_RETRY, (int64_t)j->spec.job, (int64_t)round << 16 | s,
				   j->attempt[s]);
			enqueue_shard(q, j, round, s);
		}
		if (t->state != AU_TASK_DONE || replace || !rqml_pending_find(j, s, t->done_token)) {
			ready = false;
			continue;
		}
		tokens[s] = t->done_token;
	}
	if (ready)
		propose_close(q, j, tokens);
}

/* Forget the supervisor's memory (not leading, or a new term). */
static void sup_forget(struct rqml *q)
{
	for (guint i = 0; i < q->jobs->len; i++) {
		struct rjob *j = g_ptr_array_index(q->jobs, i);
		j->close_inflight_round = 0;
		j->one_inflight = false;
		j->end_inflight = false;
		j->sup_round = 0;
	}
	g_hash_table_remove_all(q->start_sent);
}

void rqml_supervise(struct rqml *q)
{
	uint64_t term = q->raft ? au_raft_term(q->raft) : 0;
	if (!rqml_is_leader(q) || term != q->sup_term) {
		sup_forget(q);
		q->sup_term = rqml_is_leader(q) ? term : 0;
	}
	if (!rqml_is_leader(q) || !au_orch_is_leader(q->orch))
		return;
	/* The configured jobs: start whatever the log does not have yet. */
	uint32_t top = au_rqml_top_jobs(q->cfg);
	for (uint64_t id = 1; id <= top; id++) {
		struct au_rqml_job_spec spec;
		if (!rqml_job_get(q, id) && au_rqml_top_spec(q->cfg, id, &spec))
			rqml_propose_start(q, &spec);
	}
	for (guint i = 0; i < q->jobs->len; i++) {
		struct rjob *j = g_ptr_array_index(q->jobs, i);
		if (j->state) {
			supervise_job(q, j);
			continue;
		}
#ifdef AU_BUG_RQML_RECORD_CONVERGED_ONLY
		/* Planted bug: only converged jobs get their ONE record; a job
		 * ended by max_rounds or the stall policy is silently left out. */
		if (j->verdict != AU_KERNEL_CONVERGED)
			continue;
#endif
		if (!au_one_get(q->one, j->spec.job) &&
		    (!j->one_inflight || au_now(q->env) - j->one_sent_ns >= q->cfg->enqueue_retry_ns))
			propose_one(q, j);
		if (j->verdict == AU_KERNEL_CONVERGED && !j->children_started) {
			enum au_kernel_kind kinds[AU_RQML_MAX_FANOUT];
			uint32_t n = au_rqml_children(q->cfg, j->spec.params.kind, kinds, AU_RQML_MAX_FANOUT);
			bool all = true;
			for (uint32_t k = 0; k < n; k++) {
				struct au_rqml_job_spec child;
				if (!au_rqml_child_spec(q->cfg, &j->spec, j->digest, k + 1, kinds[k], &child))
					continue;
				if (!rqml_job_get(q, child.job)) {
					all = false;
					rqml_propose_start(q, &child);
				}
			}
			j->children_started = all;
		}
	}
}

