/* execctl.c — drain, resume and submit on the nodes; queue status, JSON
 * and metrics (see execctl.h). */
#include "execctl.h"

#include <math.h>
#include <string.h>

#include "one.h"
#include "orchestrator/orchestrator.h"
#include "raft/raft.h"
#include "rqml.h"
#include "taskq.h"
#include "ctlproto.h"
#include "jobctl.h"
#include "jobfile.h"

#define PENDING_MAX 64u        /* requests waiting for a ReadIndex at once */
#define PROPOSED_MAX 1024u     /* remembered proposals (forgotten all at once beyond) */
#define REPROPOSE_US 1000000   /* propose the same thing again after this long */

/* A request waiting for the leader's ReadIndex round. */
struct pending {
	struct au_execctl *x;
	au_node_id client;
	int type;
	struct au_ctl_admin_req admin;
	struct au_ctl_submit_req submit;
	struct au_ctl_job_req job;
	struct au_jobctl_req jobs; /* jobctl.h: job list/show/cancel, dead list/requeue */
};

/* When something was last proposed, so that a client asking again every
 * 100 ms does not fill the log with copies while the first one commits. */
struct proposed {
	uint64_t term;
	int64_t at_us;
};

struct au_execctl {
	struct au_node *n;
	GPtrArray *pending;   /* struct pending* */
	GHashTable *proposed; /* uint64 key -> struct proposed */
};

struct au_execctl *au_execctl_new(struct au_node *n)
{
	struct au_execctl *x = g_new0(struct au_execctl, 1);
	x->n = n;
	x->pending = g_ptr_array_new_with_free_func(g_free);
	x->proposed = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	return x;
}

void au_execctl_free(struct au_execctl *x)
{
	if (!x)
		return;
	g_ptr_array_free(x->pending, TRUE);
	g_hash_table_destroy(x->proposed);
	g_free(x);
}

/* ---- requests ------------------------------------------------------------------ */

static void reply_admin(struct au_execctl *x, au_node_id to, const struct au_ctl_admin_resp *a)
{
	uint8_t buf[64];
	size_t len = au_ctl_encode_admin_resp(a, buf, sizeof(buf));
	if (len)
		au_node_control_send(x->n, to, buf, len);
}

static void reply_submit(struct au_execctl *x, au_node_id to, const struct au_ctl_submit_resp *a)
{
	uint8_t buf[64];
	size_t len = au_ctl_encode_submit_resp(a, buf, sizeof(buf));
	if (len)
		au_node_control_send(x->n, to, buf, len);
}

/* Whether `key` was proposed in this term less than REPROPOSE_US ago; if
 * not, remember that it is being proposed now. */
static bool recently_proposed(struct au_execctl *x, uint64_t key, uint64_t term)
{
	int64_t now = g_get_monotonic_time();
	struct proposed *p = g_hash_table_lookup(x->proposed, &key);
	if (p && p->term == term && now - p->at_us < REPROPOSE_US)
		return true;
	if (!p) {
		if (g_hash_table_size(x->proposed) >= PROPOSED_MAX)
			g_hash_table_remove_all(x->proposed);
		p = g_new(struct proposed, 1);
		g_hash_table_insert(x->proposed, g_memdup2(&key, sizeof(key)), p);
	}
	p->term = term;
	p->at_us = now;
	return false;
}

static void reply_job(struct au_execctl *x, au_node_id to, const struct au_ctl_job_resp *a)
{
	uint8_t buf[128];
	size_t len = au_ctl_encode_job_resp(a, buf, sizeof(buf));
	if (len)
		au_node_control_send(x->n, to, buf, len);
}

static void read_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len);
static void serve(struct au_execctl *x, struct pending *r, bool confirmed);

/* Ask Raft to confirm our leadership and applied state, then serve `r`
 * again.  Answers PENDING at once when that cannot start. */
static bool confirm(struct au_execctl *x, struct au_raft *raft, const struct pending *r)
{
	if (x->pending->len >= PENDING_MAX)
		return false;
	struct pending *p = g_memdup2(r, sizeof(*r));
	g_ptr_array_add(x->pending, p);
	if (au_raft_read_index(raft, read_done, p) != 0) {
		g_ptr_array_remove_fast(x->pending, p);
		return false;
	}
	return true;
}

static void read_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len)
{
	struct pending *p = ctx;
	struct au_execctl *x = p->x;
	(void)index;
	(void)result;
	(void)len;
	struct pending r = *p;
	g_ptr_array_remove_fast(x->pending, p); /* frees p */
	/* Not ok: leadership was lost meanwhile; serving again says so. */
	serve(x, &r, ok);
}

static void serve_admin(struct au_execctl *x, struct pending *r, void *orch, struct au_raft *raft,
			bool confirmed)
{
	const struct au_ctl_admin_req *q = &r->admin;
	struct au_ctl_admin_resp a = {.nonce = q->nonce, .answer = AU_CTL_PENDING};
	struct au_taskq *tq = au_orch_queue(orch);
	a.draining = au_taskq_node_draining(tq, q->target);
	a.leases = au_taskq_node_leases(tq, q->target);
	bool want = q->op == AU_CTL_DRAIN;
	if (a.draining != want) {
		uint64_t key = (uint64_t)q->op << 32 | q->target;
		if (!recently_proposed(x, key, au_raft_term(raft)))
			au_orch_model.admin(orch, want ? "drain" : "resume", q->target);
	} else if (confirmed) {
		a.answer = AU_CTL_DONE;
	} else if (confirm(x, raft, r)) {
		return; /* answered when the read completes */
	}
	reply_admin(x, r->client, &a);
}

static void serve_submit(struct au_execctl *x, struct pending *r, void *orch, struct au_raft *raft,
			 bool confirmed)
{
	const struct au_ctl_submit_req *q = &r->submit;
	struct au_ctl_submit_resp a = {.nonce = q->nonce, .answer = AU_CTL_PENDING};
	struct au_taskq *tq = au_orch_queue(orch);
	for (uint32_t i = 0; i < q->count; i++) {
		const struct au_task *t = au_taskq_get(tq, q->first_id + i);
		if (!t)
			continue;
		a.present++;
		a.queued += t->state == AU_TASK_QUEUED;
		a.leased += t->state == AU_TASK_LEASED;
		a.done += t->state == AU_TASK_DONE;
		a.dead += t->state == AU_TASK_DEAD;
	}
	if (a.present < q->count && !q->query_only) {
		uint64_t key = q->first_id ^ (uint64_t)q->count << 44 ^ UINT64_C(0x5b) << 56;
		if (!recently_proposed(x, key, au_raft_term(raft))) {
			struct au_task_spec s = {
				.kind = q->kind, .topic = q->topic, .priority = q->priority, .caps = q->caps,
				.max_retries = q->max_retries, .rounds = q->rounds,
				.payload = q->payload, .payload_len = q->payload_len,
				/* The tasks of a submitted job file are that job's
				 * (taskq.h "Jobs": job list/show/cancel). */
				.job = au_jobfile_job_of(q->first_id),
			};
			for (uint32_t i = 0; i < q->count; i++) {
				s.id = q->first_id + i;
				if (!au_taskq_get(tq, s.id) && au_orch_enqueue(orch, &s) != 0)
					break; /* not the leader after all: the client asks again */
			}
		}
	} else if (confirmed) {
		a.answer = AU_CTL_DONE;
	} else if (confirm(x, raft, r)) {
		return;
	}
	reply_submit(x, r->client, &a);
}

/* The model's job spec from a request. */
static void job_spec(const struct au_ctl_job_req *q, struct au_rqml_job_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->job = q->job;
	s->params.kind = (enum au_kernel_kind)q->kind;
	s->params.seed = q->seed;
	s->params.size = q->size;
	s->params.edges = q->edges;
	s->params.k = q->k;
	s->params.dims = q->dims;
	s->params.shards = q->shards;
	s->params.damping = q->damping;
	s->policy.kind = q->policy;
	s->policy.stall_rounds = q->stall_rounds;
	s->policy.tolerance = q->tolerance;
	s->policy.max_rounds = q->max_rounds;
}

/* Whether two specs describe the same computation (parent and depth are
 * the model's, not the submitter's). */
static bool same_job(const struct au_rqml_job_spec *a, const struct au_rqml_job_spec *b)
{
	const struct au_kernel_params *p = &a->params, *q = &b->params;
	return p->kind == q->kind && p->seed == q->seed && p->size == q->size && p->edges == q->edges &&
	       p->k == q->k && p->dims == q->dims && p->shards == q->shards && p->damping == q->damping &&
	       a->policy.kind == b->policy.kind && a->policy.stall_rounds == b->policy.stall_rounds &&
	       a->policy.tolerance == b->policy.tolerance && a->policy.max_rounds == b->policy.max_rounds;
}

static void serve_job(struct au_execctl *x, struct pending *r, struct au_rqml *rq, struct au_one *one,
		      struct au_raft *raft, bool confirmed)
{
	const struct au_ctl_job_req *q = &r->job;
	struct au_ctl_job_resp a = {.nonce = q->nonce, .answer = AU_CTL_PENDING, .residual = NAN};
	struct au_rqml_job_spec want;
	job_spec(q, &want);
	struct au_rqml_job_info info;
	if (au_rqml_job_info(rq, q->job, &info)) {
		if (!same_job(&info.spec, &want) || info.spec.parent != 0) {
			a.answer = AU_CTL_CONFLICT;
			reply_job(x, r->client, &a);
			return;
		}
		a.known = 1;
		a.finished = info.finished;
		a.verdict = info.verdict;
		a.rounds = info.rounds;
		a.residual = info.residual;
		memcpy(a.digest, info.digest, sizeof(a.digest));
		const struct au_one_record *rec = one ? au_one_get(one, q->job) : NULL;
		a.one_index = rec ? rec->index : 0;
	}
	if (!a.known && !q->query_only) {
		au_rqml_submit(rq, &want); /* it throttles proposals of the same job itself */
	} else if (confirmed) {
		a.answer = AU_CTL_DONE;
	} else if (confirm(x, raft, r)) {
		return;
	}
	reply_job(x, r->client, &a);
}

static void reply_jobs(struct au_execctl *x, au_node_id to, const struct au_jobctl_resp *a)
{
	uint8_t *buf = g_malloc(AU_JOBCTL_RESP_MAX);
	size_t len = au_jobctl_encode_resp(a, buf, AU_JOBCTL_RESP_MAX);
	if (len)
		au_node_control_send(x->n, to, buf, len);
	g_free(buf);
}

/* Jobs and dead letters (jobctl.h): read, or propose a cancel / requeue
 * until the replica shows it, then confirm. */
static void serve_jobs(struct au_execctl *x, struct pending *r, void *orch, struct au_raft *raft,
		       bool confirmed)
{
	const struct au_jobctl_req *q = &r->jobs;
	struct au_jobctl_resp *a = g_new0(struct au_jobctl_resp, 1);
	a->nonce = q->nonce;
	a->answer = AU_CTL_PENDING;
	if (!au_jobctl_serve(orch, q, a)) {
		uint64_t key = q->id ^ (uint64_t)q->op << 60 ^ UINT64_C(0x6a) << 52;
		if (!recently_proposed(x, key, au_raft_term(raft)))
			au_jobctl_propose(orch, q);
	} else if (confirmed) {
		a->answer = AU_CTL_DONE;
	} else if (confirm(x, raft, r)) {
		g_free(a);
		return; /* answered when the read completes */
	}
	reply_jobs(x, r->client, a);
	g_free(a);
}

/* Serve a request: refuse, redirect, propose, confirm or answer. */
static void serve(struct au_execctl *x, struct pending *r, bool confirmed)
{
	struct au_node *n = x->n;
	void *orch = au_node_service_state(n, "aureon");
	struct au_raft *raft = au_node_service_state(n, "raft");
	struct au_rqml *rq = au_node_service_state(n, "rqml");
	uint8_t answer = 0;
	au_node_id hint = 0;
	struct au_rqml_job_spec spec;
	if (!orch || !raft || (r->type == AU_CTL_JOB_REQ && !rq))
		answer = AU_CTL_NO_SERVICE;
	else if (r->type == AU_CTL_JOB_REQ && (job_spec(&r->job, &spec), au_rqml_check_submit(&spec, NULL, 0) != 0))
		answer = AU_CTL_REFUSED;
	else if (r->type == AU_CTL_ADMIN_REQ &&
		 (r->admin.target < 1 || r->admin.target > au_node_cluster(n)->nodes))
		answer = AU_CTL_REFUSED;
	else if (!au_raft_is_leader(raft)) {
		answer = AU_CTL_NOT_LEADER;
		hint = au_raft_leader_hint(raft);
	} else if (r->type == AU_CTL_ADMIN_REQ) {
		serve_admin(x, r, orch, raft, confirmed);
		return;
	} else if (r->type == AU_CTL_JOB_REQ) {
		serve_job(x, r, rq, au_node_service_state(n, "one"), raft, confirmed);
		return;
	} else if (r->type == AU_CTL_JOBS_REQ) {
		serve_jobs(x, r, orch, raft, confirmed);
		return;
	} else {
		serve_submit(x, r, orch, raft, confirmed);
		return;
	}
	if (r->type == AU_CTL_JOB_REQ) {
		struct au_ctl_job_resp a = {.nonce = r->job.nonce, .answer = answer, .leader = hint,
					    .residual = NAN};
		reply_job(x, r->client, &a);
	} else if (r->type == AU_CTL_ADMIN_REQ) {
		struct au_ctl_admin_resp a = {.nonce = r->admin.nonce, .answer = answer, .leader = hint};
		reply_admin(x, r->client, &a);
	} else if (r->type == AU_CTL_JOBS_REQ) {
		struct au_jobctl_resp *a = g_new0(struct au_jobctl_resp, 1);
		a->nonce = r->jobs.nonce;
		a->answer = answer;
		a->leader = hint;
		reply_jobs(x, r->client, a);
		g_free(a);
	} else {
		struct au_ctl_submit_resp a = {.nonce = r->submit.nonce, .answer = answer, .leader = hint};
		reply_submit(x, r->client, &a);
	}
}

void au_execctl_recv(struct au_execctl *x, au_node_id from, const uint8_t *msg, size_t len)
{
	struct pending r;
	memset(&r, 0, sizeof(r));
	r.x = x;
	r.client = from;
	r.type = au_ctl_type(msg, len);
	if (r.type == AU_CTL_ADMIN_REQ && au_ctl_decode_admin_req(msg, len, &r.admin))
		serve(x, &r, false);
	else if (r.type == AU_CTL_SUBMIT_REQ && au_ctl_decode_submit_req(msg, len, &r.submit))
		serve(x, &r, false);
	else if (r.type == AU_CTL_JOB_REQ && au_ctl_decode_job_req(msg, len, &r.job))
		serve(x, &r, false);
	else if (r.type == AU_CTL_JOBS_REQ && au_jobctl_decode_req(msg, len, &r.jobs))
		serve(x, &r, false);
}

/* ---- status ------------------------------------------------------------------------ */

void au_execctl_status(struct au_node *n, struct au_node_status *st)
{
	void *orch = au_node_service_state(n, "aureon");
	st->has_queue = orch != NULL;
	st->queue_depth = UINT64_MAX;
	if (!orch)
		return;
	struct au_taskq *q = au_orch_queue(orch);
	uint64_t c[4];
	au_taskq_counts(q, c);
	st->queue_depth = c[AU_TASK_QUEUED];
	st->q_leased = c[AU_TASK_LEASED];
	st->q_done = c[AU_TASK_DONE];
	st->q_dead = c[AU_TASK_DEAD];
	au_node_id self = au_node_id_of(n);
	st->leases = au_taskq_node_leases(q, self);
	st->draining = au_taskq_node_draining(q, self);
	struct au_orch_stats os;
	au_orch_stats(orch, &os);
	st->running = os.running;
	st->waiting = os.waiting;
}

/* ---- JSON ------------------------------------------------------------------------------ */

static const char *state_name(uint8_t s)
{
	static const char *const names[] = {"queued", "leased", "done", "dead"};
	return s < 4 ? names[s] : "unknown";
}

static void worker_json(const struct au_orch_stats *os, GString *o)
{
	g_string_append_printf(o,
			       "{\"incarnation\": %u, \"held\": %u, \"waiting\": %u, \"running\": %u, "
			       "\"started\": %" G_GUINT64_FORMAT ", \"finished\": %" G_GUINT64_FORMAT
			       ", \"acked\": %" G_GUINT64_FORMAT ", \"stale\": %" G_GUINT64_FORMAT
			       ", \"lost\": %" G_GUINT64_FORMAT ", \"abandoned\": %" G_GUINT64_FORMAT
			       ", \"released\": %" G_GUINT64_FORMAT ", \"resumed_from_disk\": %" G_GUINT64_FORMAT
			       ", \"resumed_from_log\": %" G_GUINT64_FORMAT "}",
			       os->incarnation, os->held, os->waiting, os->running, os->started, os->finished,
			       os->acked, os->stale, os->lost, os->abandoned, os->released, os->resumed_disk,
			       os->resumed_log);
}

void au_execctl_queue_json(struct au_node *n, void *orch, GString *o)
{
	struct au_taskq *q = au_orch_queue(orch);
	uint64_t c[4];
	au_taskq_counts(q, c);
	struct au_orch_stats os;
	au_orch_stats(orch, &os);
	g_string_append_printf(o,
			       "{\"applied_index\": %" G_GUINT64_FORMAT ", \"chain\": \"%016" G_GINT64_MODIFIER
			       "x\", \"front_end\": %s, \"tasks\": {\"queued\": %" G_GUINT64_FORMAT
			       ", \"leased\": %" G_GUINT64_FORMAT ", \"done\": %" G_GUINT64_FORMAT
			       ", \"dead\": %" G_GUINT64_FORMAT "}, \"nodes\": [",
			       au_taskq_applied_index(q), au_taskq_chain(q), os.front_end ? "true" : "false",
			       c[AU_TASK_QUEUED], c[AU_TASK_LEASED], c[AU_TASK_DONE], c[AU_TASK_DEAD]);
	uint32_t nodes = au_node_cluster(n)->nodes;
	for (au_node_id v = 1; v <= nodes; v++)
		g_string_append_printf(o,
				       "%s{\"node\": \"n%u\", \"leases\": %u, \"draining\": %s, \"dead\": %s, "
				       "\"incarnation\": %u}",
				       v > 1 ? ", " : "", v, au_taskq_node_leases(q, v),
				       au_taskq_node_draining(q, v) ? "true" : "false",
				       au_taskq_node_dead(q, v) ? "true" : "false", au_taskq_node_inc(q, v));
	g_string_append(o, "], \"worker\": ");
	worker_json(&os, o);
	g_string_append(o, "}");
}

struct ckpt_walk {
	GString *o;
	uint32_t listed, total;
	bool queued_pass; /* second pass: queued tasks that kept a checkpoint */
};

static bool ckpt_entry(void *ctx, const struct au_task *t)
{
	struct ckpt_walk *w = ctx;
	if (w->queued_pass && !(t->state == AU_TASK_QUEUED && t->ckpt_round > 0))
		return true;
	w->total++;
	if (w->listed >= AU_EXECCTL_CKPT_LIST_MAX)
		return true;
	g_string_append_printf(w->o,
			       "%s{\"id\": %" G_GUINT64_FORMAT ", \"state\": \"%s\", \"holder\": ", w->listed ? ", " : "",
			       t->id, state_name(t->state));
	if (t->state == AU_TASK_LEASED)
		g_string_append_printf(w->o, "\"n%u\", \"token\": %" G_GUINT64_FORMAT, t->node, t->token);
	else
		g_string_append(w->o, "null, \"token\": null");
	g_string_append_printf(w->o,
			       ", \"round\": %u, \"rounds\": %u, \"checkpoint_bytes\": %u, \"attempts\": %u, "
			       "\"retries\": %u}",
			       t->ckpt_round, t->rounds, t->ckpt_len, t->attempts, t->retries);
	w->listed++;
	return true;
}

void au_execctl_checkpoint_json(struct au_node *n, void *orch, GString *o)
{
	(void)n;
	struct au_taskq *q = au_orch_queue(orch);
	struct au_orch_stats os;
	au_orch_stats(orch, &os);
	g_string_append_printf(o, "{\"applied_index\": %" G_GUINT64_FORMAT ", \"tasks\": [",
			       au_taskq_applied_index(q));
	struct ckpt_walk w = {o, 0, 0, false};
	au_taskq_each_lease(q, ckpt_entry, &w);
	w.queued_pass = true;
	au_taskq_each(q, ckpt_entry, &w);
	g_string_append_printf(o,
			       "], \"listed\": %u, \"unfinished_with_state\": %u, \"resumed_from_disk\": %" G_GUINT64_FORMAT
			       ", \"resumed_from_log\": %" G_GUINT64_FORMAT "}",
			       w.listed, w.total, os.resumed_disk, os.resumed_log);
}

/* ---- /metrics ----------------------------------------------------------------------------- */

static void head(GString *o, const char *name, const char *type, const char *help)
{
	g_string_append_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void au_execctl_metrics(struct au_node *n, GString *o)
{
	void *orch = au_node_service_state(n, "aureon");
	if (!orch)
		return;
	struct au_taskq *q = au_orch_queue(orch);
	uint64_t c[4];
	au_taskq_counts(q, c);
	head(o, "aureon_queue_tasks", "gauge",
	     "Tasks in the replicated task queue by state, as this node's replica has applied it.");
	for (uint8_t s = 0; s < 4; s++)
		g_string_append_printf(o, "aureon_queue_tasks{state=\"%s\"} %" G_GUINT64_FORMAT "\n", state_name(s), c[s]);
	au_node_id self = au_node_id_of(n);
	head(o, "aureon_queue_applied_index", "gauge", "Raft log index the task queue replica has applied.");
	g_string_append_printf(o, "aureon_queue_applied_index %" G_GUINT64_FORMAT "\n", au_taskq_applied_index(q));
	head(o, "aureon_queue_node_leases", "gauge", "Leases this node holds, per the replica.");
	g_string_append_printf(o, "aureon_queue_node_leases %u\n", au_taskq_node_leases(q, self));
	head(o, "aureon_queue_node_draining", "gauge", "1 if this node is drained (takes no new leases).");
	g_string_append_printf(o, "aureon_queue_node_draining %d\n", au_taskq_node_draining(q, self) ? 1 : 0);
	struct au_orch_stats os;
	au_orch_stats(orch, &os);
	head(o, "aureon_worker_tasks", "gauge", "Tasks this node's worker holds, by phase.");
	g_string_append_printf(o, "aureon_worker_tasks{phase=\"running\"} %u\n", os.running);
	g_string_append_printf(o, "aureon_worker_tasks{phase=\"waiting\"} %u\n", os.waiting);
	uint32_t busy = os.running + os.waiting;
	g_string_append_printf(o, "aureon_worker_tasks{phase=\"finishing\"} %u\n",
			       os.held > busy ? os.held - busy : 0);
	head(o, "aureon_worker_events_total", "counter", "What this node's worker did with the tasks it leased.");
	const struct {
		const char *name;
		uint64_t v;
	} ev[] = {{"started", os.started},       {"finished", os.finished},   {"acked", os.acked},
		  {"stale", os.stale},           {"lost", os.lost},           {"abandoned", os.abandoned},
		  {"released", os.released},     {"resumed_from_disk", os.resumed_disk},
		  {"resumed_from_log", os.resumed_log}};
	for (size_t i = 0; i < G_N_ELEMENTS(ev); i++)
		g_string_append_printf(o, "aureon_worker_events_total{event=\"%s\"} %" G_GUINT64_FORMAT "\n",
				       ev[i].name, ev[i].v);
	head(o, "aureon_orchestrator_front_end", "gauge",
	     "1 if this node runs the task queue's front end (it is the Raft leader).");
	g_string_append_printf(o, "aureon_orchestrator_front_end %d\n", os.front_end ? 1 : 0);
}
