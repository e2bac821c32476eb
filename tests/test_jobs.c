/* test_jobs.c — the task queue's jobs (taskq.h, "Jobs"): cancel, failure
 * with a reason, dead-letter reasons, requeue, the jobs' snapshot section
 * and encoding; the job_lifecycle check on forged traces; and the
 * scenarios that exercise them (aureon-cancel-failover,
 * mutant-cancel-ignored) with determinism and the -O0 build. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "orchestrator/orchestrator.h"
#include "taskq.h"
#include "trace_kinds.h"
#include "sim/check/check.h"
#include "sim/check/check_jobs.h"
#include "sim/engine/sim.h"
#include "scenario_runs.h"
#include "taskq_fix.h"
#include "tests.h"

/* ---- the queue, driven by hand ---------------------------------------------------- */

static void enq(struct qfix *f, uint64_t id, uint64_t job, uint32_t retries)
{
	struct au_task_spec s = {.id = id, .job = job, .max_retries = retries, .rounds = 1};
	ck_assert_int_eq(au_taskq_add_enqueue(&f->b, &s), 0);
}

/* Lease up to `want` tasks to node 1; tokens by task id in tok[id]. */
static uint32_t lease(struct qfix *f, uint32_t want, uint64_t tok[32])
{
	au_taskq_add_lease(&f->b, 1, 1, 0, want, 1000);
	qfix_commit(f);
	uint32_t n = 0;
	for (guint i = 0; i < f->events->len; i++) {
		const struct au_taskq_event *e = &g_array_index(f->events, struct au_taskq_event, i);
		if (e->type != AU_TASKQ_EV_GRANTED)
			continue;
		for (uint64_t id = 1; id < 32; id++) {
			const struct au_task *t = au_taskq_get(f->q, id);
			if (t && t->state == AU_TASK_LEASED && t->token == e->token)
				tok[id] = e->token;
		}
		n++;
	}
	return n;
}

static bool saw(const struct qfix *f, enum au_taskq_event_type type, uint32_t reason)
{
	for (guint i = 0; i < f->events->len; i++) {
		const struct au_taskq_event *e = &g_array_index(f->events, struct au_taskq_event, i);
		if (e->type == type && e->reason == reason)
			return true;
	}
	return false;
}

static struct au_taskq_job job(const struct qfix *f, uint64_t id)
{
	struct au_taskq_job j;
	ck_assert_msg(au_taskq_job(f->q, id, &j), "job %llu unknown", (unsigned long long)id);
	return j;
}

static const struct au_task *task(const struct qfix *f, uint64_t id)
{
	const struct au_task *t = au_taskq_get(f->q, id);
	ck_assert_ptr_nonnull(t);
	return t;
}

/* The ids au_taskq_each_dead lists (up to 8). */
struct dead_ctx {
	uint64_t ids[8];
	int n;
};

static bool collect_dead(void *ctx, const struct au_task *t)
{
	struct dead_ctx *d = ctx;
	d->ids[d->n++] = t->id;
	return d->n < 8;
}

START_TEST(cancel_stops_a_job)
{
	struct qfix f;
	qfix_init(&f);
	for (uint64_t id = 1; id <= 4; id++)
		enq(&f, id, 5, 3);
	enq(&f, 9, 0, 3); /* no job */
	qfix_commit(&f);
	ck_assert_uint_eq(job(&f, 5).state, AU_JOB_QUEUED);
	ck_assert_uint_eq(job(&f, 5).tasks, 4);
	ck_assert(!au_taskq_job(f.q, 9, &(struct au_taskq_job){0}));
	uint64_t tok[32] = {0};
	ck_assert_uint_eq(lease(&f, 3, tok), 3); /* tasks 1, 2, 3 */
	ck_assert_uint_eq(job(&f, 5).state, AU_JOB_RUNNING);
	au_taskq_add_ack(&f.b, 1, 1, tok[1], NULL, 0);
	qfix_commit(&f);
	ck_assert_uint_eq(job(&f, 5).done, 1);

	au_taskq_add_cancel(&f.b, 5);
	qfix_commit(&f);
	struct au_taskq_job j = job(&f, 5);
	ck_assert_uint_eq(j.state, AU_JOB_CANCELLED);
	ck_assert_uint_eq(j.cancel_index, f.index);
	ck_assert(saw(&f, AU_TASKQ_EV_JOB, AU_JOB_CANCELLED));
	/* Queued task 4 is a dead letter at once; leased 2 and 3 still run. */
	ck_assert_uint_eq(task(&f, 4)->state, AU_TASK_DEAD);
	ck_assert_uint_eq(task(&f, 4)->dead_reason, AU_DEAD_CANCELLED);
	ck_assert_uint_eq(task(&f, 2)->state, AU_TASK_LEASED);
	/* Renewal of 2: lost, and 2 is dead (cancelled). */
	au_taskq_add_renew(&f.b, 1, 2, tok[2], 2000);
	qfix_commit(&f);
	ck_assert(saw(&f, AU_TASKQ_EV_RENEW_LOST, 0));
	ck_assert_uint_eq(task(&f, 2)->state, AU_TASK_DEAD);
	ck_assert_uint_eq(task(&f, 2)->dead_reason, AU_DEAD_CANCELLED);
	/* The ack of 3 is refused with reason 2. */
	au_taskq_add_ack(&f.b, 1, 3, tok[3], NULL, 0);
	qfix_commit(&f);
	ck_assert(saw(&f, AU_TASKQ_EV_ACK_STALE, 2));
	ck_assert(!saw(&f, AU_TASKQ_EV_ACKED, 0));
	ck_assert_uint_eq(task(&f, 3)->state, AU_TASK_DEAD);
	j = job(&f, 5);
	ck_assert_uint_eq(j.state, AU_JOB_CANCELLED);
	ck_assert_uint_eq(j.done, 1);
	ck_assert_uint_eq(j.dead, 3);
	/* Nothing of it is leased again; a late task of it is dead on arrival. */
	enq(&f, 7, 5, 3);
	qfix_commit(&f);
	ck_assert_uint_eq(task(&f, 7)->state, AU_TASK_DEAD);
	ck_assert_uint_eq(lease(&f, 8, tok), 1);
	ck_assert_uint_eq(task(&f, 9)->state, AU_TASK_LEASED);
	/* Requeueing its dead letters is refused. */
	au_taskq_add_requeue(&f.b, 4);
	qfix_commit(&f);
	ck_assert_uint_eq(task(&f, 4)->state, AU_TASK_DEAD);
	/* Cancelling again, or an unknown job, changes nothing. */
	uint64_t d = au_taskq_digest(f.q);
	au_taskq_add_cancel(&f.b, 5);
	au_taskq_add_cancel(&f.b, 77);
	qfix_commit(&f);
	ck_assert(!saw(&f, AU_TASKQ_EV_JOB, AU_JOB_CANCELLED));
	ck_assert(!au_taskq_job(f.q, 77, &j));
	ck_assert_uint_ne(d, 0);
	qfix_free(&f);
}
END_TEST

START_TEST(done_job_cannot_be_cancelled)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 1, 3, 0);
	enq(&f, 2, 3, 0);
	qfix_commit(&f);
	uint64_t tok[32] = {0};
	ck_assert_uint_eq(lease(&f, 2, tok), 2);
	au_taskq_add_ack(&f.b, 1, 1, tok[1], NULL, 0);
	qfix_commit(&f);
	ck_assert_uint_eq(job(&f, 3).state, AU_JOB_RUNNING);
	au_taskq_add_ack(&f.b, 1, 2, tok[2], NULL, 0);
	qfix_commit(&f);
	ck_assert_uint_eq(job(&f, 3).state, AU_JOB_DONE);
	ck_assert(saw(&f, AU_TASKQ_EV_JOB, AU_JOB_DONE));
	au_taskq_add_cancel(&f.b, 3);
	qfix_commit(&f);
	ck_assert_uint_eq(job(&f, 3).state, AU_JOB_DONE);
	qfix_free(&f);
}
END_TEST

START_TEST(failure_reason_and_requeue)
{
	struct qfix f;
	qfix_init(&f);
	for (uint64_t id = 1; id <= 4; id++)
		enq(&f, id, 8, 0); /* no retry: the first failure is the last */
	qfix_commit(&f);
	uint64_t tok[32] = {0};
	ck_assert_uint_eq(lease(&f, 2, tok), 2); /* 1 and 2 */
	au_taskq_add_expire(&f.b, 1, tok[1]);
	qfix_commit(&f);
	struct au_taskq_job j = job(&f, 8);
	ck_assert_uint_eq(j.state, AU_JOB_FAILED);
	ck_assert_uint_eq(j.fail_task, 1);
	ck_assert_uint_eq(j.fail_reason, AU_DEAD_ATTEMPTS);
	ck_assert_uint_eq(j.fail_error, AU_TASKQ_ERR_TIMEOUT);
	ck_assert_str_eq(au_taskq_error_name(j.fail_error), "timeout");
	ck_assert_uint_eq(task(&f, 1)->dead_reason, AU_DEAD_ATTEMPTS);
	ck_assert_uint_eq(task(&f, 1)->last_error, AU_TASKQ_ERR_TIMEOUT);
	/* The queued rest died with it; leased 2's ack is refused. */
	ck_assert_uint_eq(task(&f, 3)->dead_reason, AU_DEAD_JOB_FAILED);
	ck_assert_uint_eq(task(&f, 4)->dead_reason, AU_DEAD_JOB_FAILED);
	au_taskq_add_ack(&f.b, 1, 2, tok[2], NULL, 0);
	qfix_commit(&f);
	ck_assert(saw(&f, AU_TASKQ_EV_ACK_STALE, 2));
	ck_assert_uint_eq(task(&f, 2)->dead_reason, AU_DEAD_JOB_FAILED);
	ck_assert_uint_eq(job(&f, 8).dead, 4);
	/* Requeue of a task that is not dead: refused. */
	enq(&f, 20, 0, 0);
	qfix_commit(&f);
	au_taskq_add_requeue(&f.b, 20);
	qfix_commit(&f);
	ck_assert(!saw(&f, AU_TASKQ_EV_REQUEUED, 0));
	/* Requeue 1: the job reopens, all four run again, attempts reset. */
	au_taskq_add_requeue(&f.b, 1);
	qfix_commit(&f);
	j = job(&f, 8);
	ck_assert_uint_eq(j.state, AU_JOB_RUNNING);
	ck_assert_uint_eq(j.queued, 4);
	ck_assert_uint_eq(j.fail_task, 0);
	ck_assert_uint_eq(task(&f, 1)->retries, 0);
	ck_assert_uint_eq(task(&f, 1)->attempts, 0);
	ck_assert_uint_eq(task(&f, 1)->requeues, 1);
	struct dead_ctx dl = {0};
	au_taskq_each_dead(f.q, 0, collect_dead, &dl);
	ck_assert_int_eq(dl.n, 0); /* the requeued tasks left the dead letters */
	memset(tok, 0, sizeof(uint64_t) * 32);
	ck_assert_uint_eq(lease(&f, 8, tok), 5);
	for (uint64_t id = 1; id <= 4; id++) {
		au_taskq_add_ack(&f.b, 1, id, tok[id], NULL, 0);
		qfix_commit(&f);
	}
	ck_assert_uint_eq(job(&f, 8).state, AU_JOB_DONE);
	qfix_free(&f);
}
END_TEST

START_TEST(malformed_task_fails_its_job)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 1, 2, 5);
	enq(&f, 2, 2, 5);
	qfix_commit(&f);
	uint64_t tok[32] = {0};
	ck_assert_uint_eq(lease(&f, 1, tok), 1);
	au_taskq_add_nack(&f.b, 1, 1, tok[1], false); /* for good */
	qfix_commit(&f);
	struct au_taskq_job j = job(&f, 2);
	ck_assert_uint_eq(j.state, AU_JOB_FAILED);
	ck_assert_uint_eq(j.fail_reason, AU_DEAD_MALFORMED);
	ck_assert_uint_eq(j.fail_error, AU_TASKQ_ERR_PERMANENT);
	ck_assert_str_eq(au_taskq_dead_reason_name(j.fail_reason), "malformed");
	ck_assert_uint_eq(task(&f, 2)->dead_reason, AU_DEAD_JOB_FAILED);
	qfix_free(&f);
}
END_TEST

static bool count_job(void *ctx, const struct au_taskq_job *j)
{
	(void)j;
	(*(int *)ctx)++;
	return true;
}

START_TEST(listing_and_snapshot)
{
	struct qfix f;
	qfix_init(&f);
	for (uint64_t id = 1; id <= 3; id++)
		enq(&f, id, 4, 0);
	enq(&f, 10, 6, 0);
	qfix_commit(&f);
	uint64_t tok[32] = {0};
	ck_assert_uint_eq(lease(&f, 1, tok), 1);
	au_taskq_add_cancel(&f.b, 4);
	qfix_commit(&f);
	struct dead_ctx d = {0};
	au_taskq_each_dead(f.q, 0, collect_dead, &d);
	ck_assert_int_eq(d.n, 2); /* 2 and 3; 1 is still leased */
	ck_assert_uint_eq(d.ids[0], 2);
	ck_assert_uint_eq(d.ids[1], 3);
	d.n = 0;
	au_taskq_each_dead(f.q, 3, collect_dead, &d);
	ck_assert_int_eq(d.n, 1);
	int jobs = 0;
	au_taskq_each_job(f.q, 0, count_job, &jobs);
	ck_assert_int_eq(jobs, 2);
	jobs = 0;
	au_taskq_each_job(f.q, 5, count_job, &jobs);
	ck_assert_int_eq(jobs, 1);

	/* A snapshot keeps jobs, reasons and counts; the copy digests alike
	 * and goes on alike (the leased task's ack is refused there too). */
	uint8_t *snap = NULL;
	size_t len = au_taskq_snapshot(f.q, &snap);
	struct au_taskq *r = au_taskq_new(NULL);
	ck_assert(au_taskq_restore(r, snap, len));
	ck_assert_uint_eq(au_taskq_digest(r), au_taskq_digest(f.q));
	d.n = 0; /* the copy lists the same dead letters */
	au_taskq_each_dead(r, 0, collect_dead, &d);
	ck_assert_int_eq(d.n, 2);
	ck_assert_uint_eq(d.ids[0], 2);
	ck_assert_uint_eq(d.ids[1], 3);
	g_autofree char *da = au_taskq_describe(f.q);
	g_autofree char *db = au_taskq_describe(r);
	ck_assert_str_eq(da, db);
	ck_assert_msg(strstr(da, "job 4: state=cancelled"), "%s", da);
	struct au_taskq_job j;
	ck_assert(au_taskq_job(r, 4, &j));
	ck_assert_uint_eq(j.leased, 1);
	ck_assert_uint_eq(j.dead, 2);
	au_taskq_add_ack(&f.b, 1, 1, tok[1], NULL, 0);
	au_taskq_apply(r, f.index + 1, f.b.buf, f.b.len);
	qfix_commit(&f);
	ck_assert_uint_eq(au_taskq_digest(r), au_taskq_digest(f.q));
	ck_assert_uint_eq(au_taskq_get(r, 1)->dead_reason, AU_DEAD_CANCELLED);
	/* A damaged jobs section is refused whole. */
	snap[len - 1] ^= 0xff;
	snap[len - 30] ^= 0x5a;
	uint64_t before = au_taskq_digest(r);
	ck_assert(!au_taskq_restore(r, snap, len - 3));
	ck_assert_uint_eq(au_taskq_digest(r), before);
	d.n = 0; /* and a refused restore leaves them: 1 joined, 2 and 3 stay */
	au_taskq_each_dead(r, 0, collect_dead, &d);
	ck_assert_int_eq(d.n, 3);
	free(snap);
	au_taskq_free(r);
	qfix_free(&f);
}
END_TEST

/* A job-less queue's commands and snapshots are byte for byte what they
 * were before jobs: existing logs, snapshots and trace hashes stand. */
START_TEST(jobless_encoding_unchanged)
{
	struct au_taskq_batch a, b;
	au_taskq_batch_init(&a);
	au_taskq_batch_init(&b);
	struct au_task_spec s = {.id = 5, .rounds = 1};
	ck_assert_int_eq(au_taskq_add_enqueue(&a, &s), 0);
	s.job = 9;
	ck_assert_int_eq(au_taskq_add_enqueue(&b, &s), 0);
	ck_assert_uint_eq(au_taskq_batch_len(&b), au_taskq_batch_len(&a) + 8);
	ck_assert_int_eq(au_taskq_add_cancel(&a, 0), -AU_EINVAL);
	ck_assert_int_eq(au_taskq_add_requeue(&a, 0), -AU_EINVAL);
	/* An explicit job 0 after the payload is malformed. */
	uint8_t body[64] = {0};
	body[0] = 5;             /* id */
	body[24] = 1;            /* rounds */
	struct au_taskq_batch c;
	au_taskq_batch_init(&c);
	ck_assert_int_eq(au_taskq_batch_append(&c, 1 /* enqueue */, body, 32 + 8), 0);
	struct au_taskq *q = au_taskq_new(NULL);
	ck_assert_int_eq(au_taskq_apply(q, 1, c.buf, c.len), -AU_ECORRUPT);
	/* A snapshot of a job-less queue has no jobs section. */
	struct qfix f;
	qfix_init(&f);
	enq(&f, 1, 0, 3);
	qfix_commit(&f);
	uint64_t tok[32] = {0};
	lease(&f, 1, tok);
	au_taskq_add_nack(&f.b, 1, 1, tok[1], true); /* a failed attempt, retried */
	qfix_commit(&f);
	uint8_t *snap = NULL;
	size_t len = au_taskq_snapshot(f.q, &snap);
	ck_assert_msg(!memmem(snap, len, "XBOJ", 4), "jobs section in a job-less snapshot");
	free(snap);
	qfix_free(&f);
	au_taskq_free(q);
	au_taskq_batch_free(&a);
	au_taskq_batch_free(&b);
	au_taskq_batch_free(&c);
}
END_TEST

/* ---- job_lifecycle on forged traces ---------------------------------------------------- */

struct jrec {
	int at_ms;
	uint16_t kind;
	int64_t a, b, c;
};

/* The violation detail ("" if none) after the records (all from n1),
 * then, if `finish`, the run's end. */
static char *jl_forged(const struct jrec *ev, size_t n, bool finish)
{
	struct au_scenario *sc = au_test_load_text(
		"<test>", "[run]\nduration = 10s\n[cluster]\nnodes = 3\nservices = raft,aureon\n"
			  "[raft]\nelection_timeout = 100s..101s\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	for (size_t i = 0; i < n && !au_sim_violation(sim); i++) {
		au_sim_run(sim, (au_time)ev[i].at_ms * AU_NS_PER_MS);
		if (!au_sim_violation(sim))
			au_trace(au_sim_env(sim, 1, 1), ev[i].kind, ev[i].a, ev[i].b, ev[i].c);
	}
	if (finish && !au_sim_violation(sim)) {
		au_sim_run(sim, sc->duration);
		au_sim_finish(sim);
	}
	const struct au_violation *v = au_sim_violation(sim);
	char *detail = g_strdup(v ? v->detail : "");
	if (v)
		ck_assert_msg(strcmp(v->check, "job_lifecycle") == 0, "%s: %s", v->check, v->detail);
	au_sim_free(sim);
	au_scenario_free(sc);
	return detail;
}

#define JL_EXPECT(recs, finish, needle)                                                          \
	do {                                                                                     \
		char *d_ = jl_forged(recs, G_N_ELEMENTS(recs), finish);                          \
		if (*(needle))                                                                   \
			ck_assert_msg(strstr(d_, needle), "%s: want '%s', got '%s'", #recs, needle, d_); \
		else                                                                             \
			ck_assert_msg(!*d_, "%s: want no violation, got '%s'", #recs, d_);        \
		g_free(d_);                                                                      \
	} while (0)

START_TEST(job_lifecycle_judges)
{
	int64_t dig = (int64_t)au_hash_fnv1a_u64(au_orch_synthetic_result(7, 1));
	/* A task of a cancelled job acked. */
	const struct jrec acked[] = {{100, AU_TR_TASKQ_ENTRY, 1000, 0, 2},
				     {100, AU_TR_TASKQ_ENQUEUE, 7, 0, 1},
				     {100, AU_TR_TASKQ_JOB_TASK, 7, 3, 0},
				     {200, AU_TR_TASKQ_ENTRY, 1001, 0, 1},
				     {200, AU_TR_TASKQ_GRANT, 7, 100, 2},
				     {300, AU_TR_TASKQ_ENTRY, 1002, 0, 1},
				     {300, AU_TR_TASKQ_CANCEL, 3, 1, 0},
				     {300, AU_TR_TASKQ_JOB, 3, AU_JOB_CANCELLED, 0},
				     {400, AU_TR_TASKQ_ENTRY, 1003, 0, 1},
				     {400, AU_TR_TASKQ_ACK, 7, 100, dig}};
	JL_EXPECT(acked, false, "task 7 of job 3 acked as completed at entry 1003 after the job was "
				"cancelled (cancel at entry 1002)");
	/* ... the same with the ack refused is fine. */
	struct jrec refused[G_N_ELEMENTS(acked) + 1];
	memcpy(refused, acked, sizeof(acked));
	refused[9] = (struct jrec){400, AU_TR_TASKQ_REVOKE, 7, 100, 2};
	refused[10] = (struct jrec){400, AU_TR_TASKQ_DEAD_LETTER, 7, 0, AU_DEAD_CANCELLED};
	JL_EXPECT(refused, true, "");
	/* A cancelled job becoming done. */
	const struct jrec done[] = {{100, AU_TR_TASKQ_ENTRY, 1000, 0, 2},
				    {100, AU_TR_TASKQ_JOB_TASK, 7, 3, 0},
				    {100, AU_TR_TASKQ_JOB, 3, AU_JOB_CANCELLED, 0},
				    {200, AU_TR_TASKQ_ENTRY, 1001, 0, 1},
				    {200, AU_TR_TASKQ_JOB, 3, AU_JOB_DONE, 0}};
	JL_EXPECT(done, false, "job 3 became done at entry 1001 after its cancel applied");
	/* A failure without a reason. */
	const struct jrec noreason[] = {{100, AU_TR_TASKQ_ENTRY, 1000, 0, 2},
					{100, AU_TR_TASKQ_JOB_TASK, 7, 3, 0},
					{100, AU_TR_TASKQ_JOB, 3, AU_JOB_FAILED, 0}};
	JL_EXPECT(noreason, false, "job 3 failed without a reason");
	/* Done before every task was acked. */
	const struct jrec early[] = {{100, AU_TR_TASKQ_ENTRY, 1000, 0, 2},
				     {100, AU_TR_TASKQ_JOB_TASK, 7, 3, 0},
				     {100, AU_TR_TASKQ_JOB, 3, AU_JOB_DONE, 0}};
	JL_EXPECT(early, false, "job 3 done with 0 of its 1 tasks acked");
	/* A requeued dead letter that never runs again (no_task_lost would
	 * judge the same run first: the checker's end judgement, directly). */
	struct au_scenario *sc = au_test_load_text(
		"<test>", "[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft,aureon\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	void *st = au_check_jobs_create(sim);
	au_check_jobs_event(st, sim, 2, AU_TR_TASKQ_ENTRY, 1000, 0, 1);
	au_check_jobs_event(st, sim, 2, AU_TR_TASKQ_REQUEUE, 7, 0, 1);
	au_check_jobs_event(st, sim, 2, AU_TR_TASKQ_REQUEUE, 5, 0, 0); /* refused: not counted */
	ck_assert_ptr_null(au_sim_violation(sim));
	au_check_jobs_end(st, sim);
	ck_assert_ptr_nonnull(au_sim_violation(sim));
	ck_assert_msg(strstr(au_sim_violation(sim)->detail, "1 requeued dead letters never ran "
			     "again, e.g. task 7 (requeued at entry 1000)"), "%s",
		      au_sim_violation(sim)->detail);
	au_check_jobs_destroy(st);
	au_sim_free(sim);
	/* ... and a grant after the requeue is what it waits for. */
	sim = au_sim_new(sc, 1);
	st = au_check_jobs_create(sim);
	au_check_jobs_event(st, sim, 2, AU_TR_TASKQ_ENTRY, 1000, 0, 1);
	au_check_jobs_event(st, sim, 2, AU_TR_TASKQ_REQUEUE, 7, 0, 1);
	au_check_jobs_event(st, sim, 2, AU_TR_TASKQ_ENTRY, 1001, 0, 1);
	au_check_jobs_event(st, sim, 2, AU_TR_TASKQ_GRANT, 7, 99, 1);
	au_check_jobs_end(st, sim);
	ck_assert_ptr_null(au_sim_violation(sim));
	au_check_jobs_destroy(st);
	au_sim_free(sim);
	au_scenario_free(sc);
	/* A cancelled dead letter in a job that is not cancelled. */
	const struct jrec wrong[] = {{100, AU_TR_TASKQ_ENTRY, 1000, 0, 2},
				     {100, AU_TR_TASKQ_JOB_TASK, 7, 3, 0},
				     {100, AU_TR_TASKQ_DEAD_LETTER, 7, 0, AU_DEAD_CANCELLED}};
	JL_EXPECT(wrong, false, "dead-lettered as cancelled while its job 3 is queued");
	/* Records of a replica re-applying an index already judged are not
	 * the log's: ignored. */
	const struct jrec replay[] = {{100, AU_TR_TASKQ_ENTRY, 1000, 0, 2},
				      {100, AU_TR_TASKQ_JOB_TASK, 7, 3, 0},
				      {100, AU_TR_TASKQ_JOB, 3, AU_JOB_CANCELLED, 0},
				      {200, AU_TR_TASKQ_ENTRY, 1000, 0, 2},
				      {200, AU_TR_TASKQ_JOB, 3, AU_JOB_DONE, 0}};
	JL_EXPECT(replay, true, "");
}
END_TEST

/* ---- scenarios ---------------------------------------------------------------------- */

static const char *const job_scenarios[] = {
	"scenarios/aureon-cancel-failover.ini",
	"scenarios/mutant-cancel-ignored.ini",
};

START_TEST(scenario_passes)
{
	au_test_scenario_passes(job_scenarios[_i / 100], (uint64_t)(_i % 100));
}
END_TEST

/* The cancel-during-failover scenario exercises every path: cancels,
 * failures with reasons, requeues and refused acks, on every seed tried. */
/* job_lifecycle's place among a finished run's checks, and its verdict
 * (fails the test when the check is not on). */
static size_t job_lifecycle_of(struct au_sim *sim, const char **result)
{
	const char *names[32], *results[32];
	size_t n = au_check_results(sim, names, results, 32);
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], "job_lifecycle") == 0) {
			*result = results[i];
			return i;
		}
	ck_abort_msg("job_lifecycle is not on in this run");
	return 0;
}

START_TEST(cancel_failover_exercised)
{
	struct au_scenario *sc = au_test_load(job_scenarios[0]);
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct au_sim *sim = au_sim_new(sc, seed);
		ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
		ck_assert_int_eq(au_sim_finish(sim), 0);
		const char *result;
		size_t i = job_lifecycle_of(sim, &result);
		ck_assert_str_eq(result, "pass");
		char note[256];
		ck_assert(au_check_note(sim, i, note, sizeof(note)));
		unsigned jobs = 0;
		unsigned long long cancels = 0, fails = 0, requeues = 0, refused = 0;
		ck_assert_msg(sscanf(note, "%u jobs, %llu cancelled, %llu failures, %llu requeues, "
				     "%llu acks refused", &jobs, &cancels, &fails, &requeues, &refused) == 5,
			      "%s", note);
		ck_assert_msg(jobs == 80 && cancels >= 10 && fails >= 5 && requeues >= 5 && refused >= 5,
			      "seed %llu: %s", (unsigned long long)seed, note);
		au_sim_free(sim);
	}
	au_scenario_free(sc);
}
END_TEST

START_TEST(deterministic)
{
	const char *path = job_scenarios[_i];
	struct au_scenario *sc = au_test_load(path);
	char a[65], b[65], c[65];
	au_test_run_passes(sc, 5, path, NULL, a, NULL);
	au_test_run_passes(sc, 5, path, NULL, b, NULL);
	au_test_run_passes(sc, 6, path, NULL, c, NULL);
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
	au_scenario_free(sc);
}
END_TEST

START_TEST(same_hash_at_O0)
{
	au_test_same_hash_at_O0(job_scenarios, G_N_ELEMENTS(job_scenarios), 1, true);
}
END_TEST

START_TEST(bad_workload_keys)
{
	static const char *const bad[][2] = {
		{"job_cancel = 101", "job_cancel"},
		{"dead_requeue = 2", "dead_requeue"},
		{"task_job_size = -1", "task_job_size"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *text = g_strdup_printf(
			"[run]\nduration = 1s\n[cluster]\nnodes = 3\nservices = raft,aureon\n"
			"[workload]\ntasks = 10\n%s\n", bad[i][0]);
		char *err = NULL;
		struct au_scenario *sc = au_scenario_load_text("<test>", text, &err);
		ck_assert_msg(!sc, "%s accepted", bad[i][0]);
		ck_assert_msg(err && strstr(err, "[workload]") && strstr(err, bad[i][1]), "%s: %s",
			      bad[i][0], err ? err : "(no message)");
		g_free(err);
	}
}
END_TEST

/* Regression (found by test_shim_e2e.c on real processes): a worker sent
 * its renewals to where the last answer came from for 4 retry intervals
 * even after its own Raft had learned of a new leader, so when the leader
 * died, tasks running fine on the other nodes lost their leases (lease
 * 2 s) and were nacked as failed; without retries their jobs failed.
 * Here the leader crashes for good with tasks of 3 s running everywhere:
 * no survivor gives up a lease, and only the dead leader's leases expire. */
START_TEST(failover_keeps_survivors_leases)
{
	struct au_scenario *sc = au_test_load_text(
		"failover-renew.ini",
		"[run]\nduration = 8s\n[cluster]\nnodes = 3\nservices = raft,aureon\n"
		"[network]\nlatency = uniform(1ms,5ms)\n"
		"[aureon]\nlease = 2s\nrenew = 300ms\nmax_concurrency = 2\nlocal_queue = 0\n"
		"[workload]\ntasks = 6\ntask_retries = 0\ntask_cost = const(3s)\ntask_rounds = 6\n"
		"[fault.kill]\nat = 1500ms\naction = crash\ntarget = leader\n"
		"[check]\ninvariants = raft_safety, no_task_lost, exactly_once\n");
	char *buf = NULL;
	size_t len = 0;
	FILE *dump = open_memstream(&buf, &len);
	au_test_run_passes(sc, 1, "failover-renew", dump, NULL, NULL);
	fclose(dump);
	int abandoned = 0, expired = 0, acked = 0;
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		const char *a = strstr(l, " ORCH_ABANDON ");
		if (a && g_str_has_suffix(l, " 1"))
			abandoned++;
		expired += strstr(l, " TASKQ_EXPIRE ") != NULL;
		acked += strstr(l, " TASKQ_ACK ") != NULL;
	}
	free(buf);
	au_scenario_free(sc);
	ck_assert_msg(abandoned == 0, "%d leases given up by surviving workers", abandoned);
	ck_assert_msg(expired > 0 && acked > 0, "not exercised: %d expired, %d acked", expired, acked);
}
END_TEST

/* A run with the execution layer but no job: job_lifecycle judged nothing,
 * so it says "not run" with why, never a pass. */
START_TEST(job_lifecycle_without_jobs_is_not_run)
{
	struct au_scenario *sc = au_test_load_text(
		"<test>", "[run]\nduration = 3s\n[cluster]\nnodes = 3\nservices = raft,aureon\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, sc->duration);
	au_sim_finish(sim);
	const char *result;
	size_t i = job_lifecycle_of(sim, &result);
	ck_assert_str_eq(result, AU_VERDICT_NOT_RUN);
	char why[256];
	ck_assert(au_check_reason(sim, i, why, sizeof(why)));
	ck_assert_msg(strstr(why, "no job was submitted"), "%s", why);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

Suite *jobs_suite(void)
{
	Suite *s = suite_create("jobs");
	TCase *tc = tcase_create("queue");
	tcase_add_test(tc, cancel_stops_a_job);
	tcase_add_test(tc, done_job_cannot_be_cancelled);
	tcase_add_test(tc, failure_reason_and_requeue);
	tcase_add_test(tc, malformed_task_fails_its_job);
	tcase_add_test(tc, listing_and_snapshot);
	tcase_add_test(tc, jobless_encoding_unchanged);
	tcase_add_test(tc, job_lifecycle_judges);
	tcase_add_test(tc, job_lifecycle_without_jobs_is_not_run);
	tcase_add_test(tc, bad_workload_keys);
	suite_add_tcase(s, tc);

	TCase *sc = tcase_create("scenarios");
	tcase_set_timeout(sc, 300);
	for (size_t i = 0; i < G_N_ELEMENTS(job_scenarios); i++)
		tcase_add_loop_test(sc, scenario_passes, (int)(i * 100 + 1), (int)(i * 100 + 3));
	tcase_add_test(sc, cancel_failover_exercised);
	tcase_add_test(sc, failover_keeps_survivors_leases);
	tcase_add_loop_test(sc, deterministic, 0, (int)G_N_ELEMENTS(job_scenarios));
	tcase_add_test(sc, same_hash_at_O0);
	suite_add_tcase(s, sc);

	TCase *slow = tcase_create("scenarios-30-seeds");
	tcase_set_tags(slow, "slow");
	tcase_set_timeout(slow, 3600);
	for (size_t i = 0; i < G_N_ELEMENTS(job_scenarios); i++)
		tcase_add_loop_test(slow, scenario_passes, (int)(i * 100 + 4), (int)(i * 100 + 31));
	suite_add_tcase(s, slow);
	return s;
}
