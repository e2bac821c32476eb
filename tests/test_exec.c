/* test_exec.c — the execution layer: the task queue machine's semantics
 * (priority then FIFO, capabilities, affinity, fencing tokens, retries and
 * dead letters, expiry, drain, node death and reboot, checkpoints,
 * snapshots, malformed commands), the lock machine, and whole scenarios
 * with their checkers and determinism. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "../models/taskq.h"
#include "tests.h"

/* ---- the queue machine, driven by hand ---------------------------------------- */

struct qfix {
	struct au_taskq *q;
	uint64_t index;
	struct au_taskq_batch b;
	GArray *events; /* struct au_taskq_event (task pointers not kept) */
};

static void record_ev(void *ctx, const struct au_taskq_event *ev)
{
	struct qfix *f = ctx;
	struct au_taskq_event e = *ev;
	e.task = NULL;
	g_array_append_val(f->events, e);
}

static void qfix_init(struct qfix *f)
{
	f->q = au_taskq_new(NULL);
	f->index = 0;
	au_taskq_batch_init(&f->b);
	f->events = g_array_new(FALSE, FALSE, sizeof(struct au_taskq_event));
	ck_assert_int_eq(au_taskq_observe(f->q, record_ev, f), 0);
}

static void qfix_free(struct qfix *f)
{
	au_taskq_free(f->q);
	au_taskq_batch_free(&f->b);
	g_array_free(f->events, TRUE);
}

/* Apply the batch built so far as the next log entry. */
static void commit(struct qfix *f)
{
	g_array_set_size(f->events, 0);
	int n = au_taskq_apply(f->q, ++f->index, f->b.buf, f->b.len);
	ck_assert_int_eq(n, (int)f->b.ops);
	au_taskq_batch_reset(&f->b);
}

static void enq(struct qfix *f, uint64_t id, int32_t prio, uint32_t topic, uint32_t caps,
		uint32_t retries)
{
	uint8_t payload[3] = {1, 2, 3};
	struct au_task_spec s = {.id = id, .topic = topic, .priority = prio, .caps = caps,
				 .max_retries = retries, .rounds = 1, .payload = payload,
				 .payload_len = 3};
	ck_assert_int_eq(au_taskq_add_enqueue(&f->b, &s), 0);
}

/* Lease up to `want` tasks to `node`; returns how many were granted and
 * their tokens in grant order. */
static uint32_t lease(struct qfix *f, au_node_id node, uint32_t caps, uint32_t want,
		      uint64_t *tokens)
{
	au_taskq_add_lease(&f->b, node, 1, caps, want, 1000);
	commit(f);
	uint32_t n = 0;
	for (guint i = 0; i < f->events->len; i++) {
		struct au_taskq_event *e = &g_array_index(f->events, struct au_taskq_event, i);
		if (e->type != AU_TASKQ_EV_GRANTED)
			continue;
		ck_assert_uint_eq(e->node, node);
		tokens[n++] = e->token;
	}
	return n;
}

struct find_token {
	uint64_t token, id;
};

static bool find_token_cb(void *ctx, const struct au_task *t)
{
	struct find_token *x = ctx;
	if (t->token != x->token)
		return true;
	x->id = t->id;
	return false;
}

/* The task a current lease token belongs to (0: none). */
static uint64_t task_of_token(struct qfix *f, uint64_t token)
{
	struct find_token fd = {token, 0};
	au_taskq_each_lease(f->q, find_token_cb, &fd);
	return fd.id;
}

START_TEST(priority_then_fifo)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 10, 0, 0, 0, 3);
	enq(&f, 11, 5, 0, 0, 3);
	enq(&f, 12, 0, 0, 0, 3);
	enq(&f, 13, 5, 0, 0, 3);
	enq(&f, 10, 9, 0, 0, 3); /* a duplicate id: ignored */
	commit(&f);
	uint64_t counts[4];
	au_taskq_counts(f.q, counts);
	ck_assert_uint_eq(counts[AU_TASK_QUEUED], 4);
	uint64_t tok[8];
	ck_assert_uint_eq(lease(&f, 1, 0, 8, tok), 4);
	uint64_t want[] = {11, 13, 10, 12};
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(task_of_token(&f, tok[i]), want[i]);
	/* tokens increase along the log and within an entry */
	for (int i = 1; i < 4; i++)
		ck_assert_uint_gt(tok[i], tok[i - 1]);
	ck_assert_uint_eq(au_taskq_node_leases(f.q, 1), 4);
	qfix_free(&f);
}
END_TEST

START_TEST(capabilities_filter)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 1, 0, 0, 0x2, 3); /* needs capability bit 1 */
	enq(&f, 2, 0, 0, 0, 3);
	commit(&f);
	uint64_t tok[4];
	ck_assert_uint_eq(lease(&f, 1, 0x1, 4, tok), 1);
	ck_assert_uint_eq(task_of_token(&f, tok[0]), 2);
	ck_assert_uint_eq(lease(&f, 2, 0x1, 4, tok), 0);
	ck_assert_uint_eq(lease(&f, 3, 0x3, 4, tok), 1);
	ck_assert_uint_eq(task_of_token(&f, tok[0]), 1);
	qfix_free(&f);
}
END_TEST

START_TEST(ack_needs_current_token)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 7, 0, 0, 0, 3);
	commit(&f);
	uint64_t tok[2];
	ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 1);
	uint64_t first = tok[0];
	/* expire, re-lease to n2: n1's token is stale now */
	au_taskq_add_expire(&f.b, 7, first);
	commit(&f);
	ck_assert_uint_eq(au_taskq_get(f.q, 7)->retries, 1);
	ck_assert_uint_eq(lease(&f, 2, 0, 1, tok), 1);
	uint8_t r1[1] = {1}, r2[1] = {2};
	au_taskq_add_ack(&f.b, 1, 7, first, r1, 1);
	commit(&f);
	ck_assert_int_eq(g_array_index(f.events, struct au_taskq_event, 0).type,
			 AU_TASKQ_EV_ACK_STALE);
	ck_assert_uint_eq(au_taskq_get(f.q, 7)->state, AU_TASK_LEASED);
	au_taskq_add_ack(&f.b, 2, 7, tok[0], r2, 1);
	au_taskq_add_ack(&f.b, 2, 7, tok[0], r1, 1); /* duplicate: no effect */
	commit(&f);
	const struct au_task *t = au_taskq_get(f.q, 7);
	ck_assert_uint_eq(t->state, AU_TASK_DONE);
	ck_assert_uint_eq(t->result_len, 1);
	ck_assert_uint_eq(t->result[0], 2);
	ck_assert_uint_eq(t->done_node, 2);
	ck_assert_int_gt(au_taskq_affinity(f.q, 2, 0), 0);
	ck_assert_int_lt(au_taskq_affinity(f.q, 1, 0), 0);
	qfix_free(&f);
}
END_TEST

START_TEST(retries_then_dead_letter)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 3, 0, 0, 0, 2);
	commit(&f);
	uint64_t tok[1];
	for (int attempt = 0; attempt < 3; attempt++) {
		ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 1);
		au_taskq_add_nack(&f.b, 1, 3, tok[0], true);
		commit(&f);
	}
	const struct au_task *t = au_taskq_get(f.q, 3);
	ck_assert_uint_eq(t->state, AU_TASK_DEAD);
	ck_assert_uint_eq(t->retries, 3);
	ck_assert_uint_eq(t->attempts, 3);
	ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 0);
	/* a nack without requeue dead-letters at once */
	enq(&f, 4, 0, 0, 0, 5);
	commit(&f);
	ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 1);
	au_taskq_add_nack(&f.b, 1, 4, tok[0], false);
	commit(&f);
	ck_assert_uint_eq(au_taskq_get(f.q, 4)->state, AU_TASK_DEAD);
	/* a release is no failure */
	enq(&f, 5, 0, 0, 0, 0);
	commit(&f);
	ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 1);
	au_taskq_add_release(&f.b, 1, 5, tok[0]);
	commit(&f);
	ck_assert_uint_eq(au_taskq_get(f.q, 5)->state, AU_TASK_QUEUED);
	ck_assert_uint_eq(au_taskq_get(f.q, 5)->retries, 0);
	qfix_free(&f);
}
END_TEST

START_TEST(drain_death_and_reboot)
{
	struct qfix f;
	qfix_init(&f);
	for (uint64_t id = 1; id <= 6; id++)
		enq(&f, id, 0, 0, 0, 5);
	commit(&f);
	uint64_t tok[8];
	ck_assert_uint_eq(lease(&f, 1, 0, 2, tok), 2);
	au_taskq_add_node(&f.b, 1, AU_TASKQ_NODE_DRAIN);
	commit(&f);
	ck_assert(au_taskq_node_draining(f.q, 1));
	ck_assert_uint_eq(lease(&f, 1, 0, 2, tok), 0);
	ck_assert_uint_eq(au_taskq_node_leases(f.q, 1), 2); /* running ones stay */
	au_taskq_add_node(&f.b, 1, AU_TASKQ_NODE_RESUME);
	commit(&f);
	/* death reclaims at once */
	ck_assert_uint_eq(lease(&f, 2, 0, 2, tok), 2);
	au_taskq_add_node(&f.b, 2, AU_TASKQ_NODE_DEAD);
	commit(&f);
	ck_assert_uint_eq(au_taskq_node_leases(f.q, 2), 0);
	ck_assert_uint_eq(lease(&f, 2, 0, 2, tok), 0); /* no leases to the dead */
	au_taskq_add_node(&f.b, 2, AU_TASKQ_NODE_ALIVE);
	commit(&f);
	ck_assert_uint_eq(lease(&f, 2, 0, 1, tok), 1);
	/* a newer incarnation of n1 revokes what the old one held */
	ck_assert_uint_eq(au_taskq_node_leases(f.q, 1), 2);
	au_taskq_add_lease(&f.b, 1, 2, 0, 1, 1000);
	commit(&f);
	ck_assert_uint_eq(au_taskq_node_leases(f.q, 1), 1);
	ck_assert_uint_eq(au_taskq_node_inc(f.q, 1), 2);
	/* and the old incarnation gets nothing any more */
	au_taskq_add_lease(&f.b, 1, 1, 0, 1, 1000);
	commit(&f);
	ck_assert_uint_eq(au_taskq_node_leases(f.q, 1), 1);
	qfix_free(&f);
}
END_TEST

START_TEST(renew_and_checkpoint)
{
	struct qfix f;
	qfix_init(&f);
	struct au_task_spec s = {.id = 9, .max_retries = 3, .rounds = 5};
	au_taskq_add_enqueue(&f.b, &s);
	commit(&f);
	uint64_t tok[1];
	ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 1);
	au_taskq_add_renew(&f.b, 1, 9, tok[0], 5000);
	commit(&f);
	ck_assert_int_eq(au_taskq_get(f.q, 9)->deadline_ns, 5000);
	au_taskq_add_renew(&f.b, 2, 9, tok[0], 9000); /* not n2's lease */
	commit(&f);
	ck_assert_int_eq(g_array_index(f.events, struct au_taskq_event, 0).type,
			 AU_TASKQ_EV_RENEW_LOST);
	uint8_t st[2] = {4, 2};
	au_taskq_add_checkpoint(&f.b, 1, 9, tok[0], 2, st, 2);
	au_taskq_add_checkpoint(&f.b, 1, 9, tok[0], 1, st, 1); /* older: rejected */
	au_taskq_add_checkpoint(&f.b, 1, 9, tok[0] + 1, 3, st, 1); /* wrong token */
	commit(&f);
	const struct au_task *t = au_taskq_get(f.q, 9);
	ck_assert_uint_eq(t->ckpt_round, 2);
	ck_assert_uint_eq(t->ckpt_len, 2);
	/* survives an expiry: the next holder resumes from it */
	au_taskq_add_expire(&f.b, 9, tok[0]);
	commit(&f);
	ck_assert_uint_eq(au_taskq_get(f.q, 9)->ckpt_round, 2);
	qfix_free(&f);
}
END_TEST

START_TEST(affinity_prefers_good_topics)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 1, 0, 1, 0, 9);
	enq(&f, 2, 0, 2, 0, 9);
	commit(&f);
	/* n1 succeeds on topic 2 */
	uint64_t tok[2];
	ck_assert_uint_eq(lease(&f, 1, 0, 2, tok), 2);
	au_taskq_add_ack(&f.b, 1, 2, tok[1], NULL, 0);
	au_taskq_add_release(&f.b, 1, 1, tok[0]);
	commit(&f);
	ck_assert_uint_eq(au_taskq_get(f.q, 2)->state, AU_TASK_DONE);
	enq(&f, 3, 0, 1, 0, 9);
	enq(&f, 4, 0, 2, 0, 9); /* younger than 3, but topic 2 */
	commit(&f);
	ck_assert_uint_eq(lease(&f, 1, 0, 1, tok), 1);
	ck_assert_uint_eq(task_of_token(&f, tok[0]), 4);
	/* without affinity (n2), the oldest head: task 1 */
	ck_assert_uint_eq(lease(&f, 2, 0, 1, tok), 1);
	ck_assert_uint_eq(task_of_token(&f, tok[0]), 1);
	qfix_free(&f);
}
END_TEST

START_TEST(snapshot_roundtrip)
{
	struct qfix f;
	qfix_init(&f);
	for (uint64_t id = 1; id <= 20; id++)
		enq(&f, id, (int32_t)(id % 3), (uint32_t)(id % 4), 0, 2);
	commit(&f);
	uint64_t tok[8];
	lease(&f, 1, 0, 5, tok);
	au_taskq_add_ack(&f.b, 1, task_of_token(&f, tok[0]), tok[0], (const uint8_t *)"ok", 2);
	au_taskq_add_node(&f.b, 3, AU_TASKQ_NODE_DRAIN);
	commit(&f);
	uint8_t *a = NULL, *b = NULL;
	size_t na = au_taskq_snapshot(f.q, &a);
	struct au_taskq *r = au_taskq_new(NULL);
	ck_assert(au_taskq_restore(r, a, na));
	size_t nb = au_taskq_snapshot(r, &b);
	ck_assert_uint_eq(na, nb);
	ck_assert(memcmp(a, b, na) == 0);
	ck_assert_uint_eq(au_taskq_chain(r), au_taskq_chain(f.q));
	ck_assert(au_taskq_node_draining(r, 3));
	/* the restored replica behaves identically from here */
	struct au_taskq_batch cmd;
	au_taskq_batch_init(&cmd);
	au_taskq_add_lease(&cmd, 2, 1, 0, 4, 77);
	ck_assert_int_eq(au_taskq_apply(f.q, 100, cmd.buf, cmd.len), 1);
	ck_assert_int_eq(au_taskq_apply(r, 100, cmd.buf, cmd.len), 1);
	ck_assert_uint_eq(au_taskq_chain(r), au_taskq_chain(f.q));
	/* corrupt snapshots are refused and change nothing */
	for (size_t cut = 0; cut < na; cut += na / 7 + 1)
		ck_assert(!au_taskq_restore(r, a, cut));
	ck_assert_uint_eq(au_taskq_chain(r), au_taskq_chain(f.q));
	au_taskq_batch_free(&cmd);
	free(a);
	free(b);
	au_taskq_free(r);
	qfix_free(&f);
}
END_TEST

START_TEST(malformed_commands_change_nothing)
{
	struct qfix f;
	qfix_init(&f);
	enq(&f, 1, 0, 0, 0, 2);
	au_taskq_add_lease(&f.b, 1, 1, 0, 1, 10);
	uint64_t chain = au_taskq_chain(f.q);
	/* every truncation and a few bit flips of a valid command */
	for (size_t cut = 0; cut < f.b.len; cut++)
		ck_assert_int_lt(au_taskq_apply(f.q, 1, f.b.buf, cut), 0);
	uint8_t *copy = g_memdup2(f.b.buf, f.b.len);
	copy[4] = 99; /* unknown operation code */
	ck_assert_int_lt(au_taskq_apply(f.q, 1, copy, f.b.len), 0);
	g_free(copy);
	ck_assert_uint_eq(au_taskq_chain(f.q), chain);
	uint64_t counts[4];
	au_taskq_counts(f.q, counts);
	ck_assert_uint_eq(counts[0] + counts[1] + counts[2] + counts[3], 0);
	commit(&f);
	au_taskq_counts(f.q, counts);
	ck_assert_uint_eq(counts[AU_TASK_LEASED], 1);
	qfix_free(&f);
}
END_TEST

Suite *exec_suite(void)
{
	Suite *s = suite_create("exec");
	TCase *tc = tcase_create("taskq");
	tcase_add_test(tc, priority_then_fifo);
	tcase_add_test(tc, capabilities_filter);
	tcase_add_test(tc, ack_needs_current_token);
	tcase_add_test(tc, retries_then_dead_letter);
	tcase_add_test(tc, drain_death_and_reboot);
	tcase_add_test(tc, renew_and_checkpoint);
	tcase_add_test(tc, affinity_prefers_good_topics);
	tcase_add_test(tc, snapshot_roundtrip);
	tcase_add_test(tc, malformed_commands_change_nothing);
	suite_add_tcase(s, tc);
	return s;
}
